#!/usr/bin/env bash
# Start the REAL OpenStack Keystone (identity, from PyPI, in ./.venv-keystone)
# under uWSGI, bound to 127.0.0.1 only, with Fernet tokens and an SQLite
# database, and create the users/projects an image service is tested with.
#
# Usage: ./start.sh [PORT] [WORKERS]
#   PORT     default 5000 (auth URL http://127.0.0.1:PORT/v3)
#   WORKERS  uWSGI worker processes, default 1
# Environment:
#   KEYSTONE_RUN=DIR       state dir under $KEYSTONE_HOME (default run)
#   KEYSTONE_KEEP_DATA=1   keep the previous database and keys in $KEYSTONE_RUN
#                          (tokens issued before the restart stay valid)
#   KEYSTONE_DEBUG=1       debug logging in $KEYSTONE_RUN/keystone.log
#   KEYSTONE_CACHE=auto    (default) Keystone's cross-request cache on with 1
#                          worker, off with more.  devstack uses memcached;
#                          there is none here, so "on" is the in-process
#                          dogpile.cache.memory backend, which is only correct
#                          with 1 worker (with more, a token revoked through one
#                          worker would stay valid in the others' caches).
#                          "Off" is Keystone's default (null backend, request-
#                          local memoization only).  See KEYSTONE.md for times.
#   KEYSTONE_CACHE=0|1     force it off / on
#   IMAGE_PORT=9292        port of the image endpoints put in the catalog
#   KEYSTONE_TOKEN_EXPIRATION=S  token lifetime in seconds (default 3600, Keystone's)
#
# What exists afterwards (domain Default everywhere, region RegionOne):
#   admin/admin       role admin on project admin (keystone-manage bootstrap;
#                     also roles reader, member, manager, service; implied
#                     roles admin -> manager -> member -> reader)
#   glance/glance     roles admin + service on project service (the service
#                     user an image service validates tokens with)
#   demo/demo         roles member + reader on project demo
#   alt_demo/alt_demo role member on project alt_demo
#   reader/reader     role reader only on project demo (added for glance-rs)
#   catalog: identity "keystone" at http://127.0.0.1:PORT/v3 and
#            image "glance" at http://127.0.0.1:IMAGE_PORT (public, internal,
#            admin)
# $KEYSTONE_RUN/clouds.yaml has clouds ks-admin, ks-glance, ks-demo, ks-alt-demo.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
KEYSTONE_HOME="${KEYSTONE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/glance-rs/keystone}"  # writable: venv and state (this folder may be read-only)
mkdir -p "$KEYSTONE_HOME"
PORT="${1:-5000}"
WORKERS="${2:-${KEYSTONE_WORKERS:-1}}"
IMAGE_PORT="${IMAGE_PORT:-9292}"
RUN_REL="${KEYSTONE_RUN:-run}"
VENV="$KEYSTONE_HOME/venv"
RUN="${KEYSTONE_RUN_DIR:-$KEYSTONE_HOME/$RUN_REL}"  # KEYSTONE_RUN_DIR: an absolute state dir (a temp dir in tests)
ETC="$RUN/etc"
URL="http://127.0.0.1:$PORT"
T0=$(date +%s.%N)

if [ ! -x "$VENV/bin/uwsgi" ] || [ ! -x "$VENV/bin/keystone-manage" ]; then
    echo "missing $VENV: run ./setup.sh first" >&2
    exit 1
fi
if [ -f "$RUN/keystone.pid" ] && kill -0 "$(cat "$RUN/keystone.pid")" 2>/dev/null; then
    echo "already running: pid $(cat "$RUN/keystone.pid") (./stop.sh first)" >&2
    exit 1
fi
if curl -s -o /dev/null -m 2 "$URL/"; then
    echo "something already answers on $URL (not ours: no live pid in $RUN_REL/)" >&2
    exit 1
fi

if [ "${KEYSTONE_KEEP_DATA:-0}" != 1 ]; then
    rm -rf "$RUN"
fi
mkdir -p "$ETC" "$RUN/locks"
rm -f "$RUN/keystone.log" "$RUN/uwsgi.log" "$RUN/manage.log"

DEBUG=false
[ "${KEYSTONE_DEBUG:-0}" = 1 ] && DEBUG=true
CACHE="${KEYSTONE_CACHE:-auto}"
case "$CACHE" in auto|0|1) ;; *) echo "KEYSTONE_CACHE must be auto, 0 or 1" >&2; exit 2 ;; esac
if [ "$CACHE" = auto ]; then
    if [ "$WORKERS" = 1 ]; then CACHE=1; else CACHE=0; fi
fi
if [ "$CACHE" = 1 ]; then
    [ "$WORKERS" = 1 ] || echo "warning: KEYSTONE_CACHE=1 with $WORKERS workers: revocations are not seen by the other workers' caches" >&2
    CACHE_CONF="# devstack: enabled = true with memcached; here an in-process memory
# cache, correct with 1 uWSGI worker only (KEYSTONE_CACHE, start.sh)
enabled = true
backend = dogpile.cache.memory"
else
    CACHE_CONF="# Keystone's own default: enabled = true (Keystone overrides oslo.cache's
# false) with the null backend, i.e. request-local memoization only, no
# cross-request cache.  Do NOT write enabled = false: that turns the
# request-local cache off too and makes a validation ~6x slower (73 -> 440 ms
# measured in-process).  No cross-request cache here because, with more than
# 1 worker, a per-process one would let a worker keep accepting a token
# revoked through another (and there is no memcached).
backend = dogpile.cache.null"
fi

cat > "$ETC/keystone.conf" <<EOF
[DEFAULT]
debug = $DEBUG
log_file = $RUN/keystone.log
use_stderr = false
# base of the links in the version documents (GET / and GET /v3)
public_endpoint = $URL

[database]
connection = sqlite:///$RUN/keystone.sqlite

[identity]
# bcrypt cost 4 as devstack sets it (the default, 12, makes every password
# authentication cost ~0.3 s of CPU here)
password_hash_rounds = 4

[token]
provider = fernet
# seconds a token lives (Keystone's default 3600; KEYSTONE_TOKEN_EXPIRATION for tests)
expiration = ${KEYSTONE_TOKEN_EXPIRATION:-3600}

[fernet_tokens]
key_repository = $RUN/fernet-keys/

[fernet_receipts]
# the default is the same directory as the token keys (/etc/keystone/fernet-keys/)
key_repository = $RUN/fernet-keys/

[credential]
key_repository = $RUN/credential-keys/

[oslo_concurrency]
lock_path = $RUN/locks

[cache]
$CACHE_CONF
EOF

cat > "$ETC/keystone-uwsgi.ini" <<EOF
[uwsgi]
# as devstack's keystone uwsgi config, but serving HTTP itself (no Apache)
module = keystone.wsgi.api:application
home = $VENV
env = OS_KEYSTONE_CONFIG_DIR=$ETC
http-socket = 127.0.0.1:$PORT
processes = $WORKERS
master = true
die-on-term = true
exit-on-reload = false
worker-reload-mercy = 30
enable-threads = true
thunder-lock = true
hook-master-start = unix_signal:15 gracefully_kill_them_all
buffer-size = 65535
add-header = Connection: close
lazy-apps = true
http-keepalive = false
socket-timeout = 30
need-app = true
no-orphans = true
pidfile = $RUN/keystone.pid
logto = $RUN/uwsgi.log
# one access-log line per request in uwsgi.log (shows the image service's
# GET /v3/auth/tokens calls)
log-date = true
procname-prefix = keystone-peer-
EOF

KM=("$VENV/bin/keystone-manage" --config-file "$ETC/keystone.conf")
manage() {
    "${KM[@]}" "$@" >>"$RUN/manage.log" 2>&1 || {
        echo "keystone-manage $1 failed; tail of $RUN_REL/manage.log and keystone.log:" >&2
        tail -20 "$RUN/manage.log" >&2; tail -20 "$RUN/keystone.log" >&2 2>/dev/null; exit 1; }
}
# each keystone-manage run costs ~2 s of Python start-up; with
# KEYSTONE_KEEP_DATA=1 the steps that would be no-ops are skipped
[ -f "$RUN/keystone.sqlite" ] || manage db_sync
# as root, fernet_setup/credential_setup insist on --keystone-user/-group
[ -f "$RUN/fernet-keys/0" ] || manage fernet_setup --keystone-user root --keystone-group root
[ -f "$RUN/credential-keys/0" ] || manage credential_setup --keystone-user root --keystone-group root
# bootstrap is idempotent and updates the identity endpoints if PORT changed
manage bootstrap \
    --bootstrap-username admin --bootstrap-password admin \
    --bootstrap-project-name admin --bootstrap-role-name admin \
    --bootstrap-service-name keystone \
    --bootstrap-region-id RegionOne \
    --bootstrap-admin-url "$URL/v3" \
    --bootstrap-internal-url "$URL/v3" \
    --bootstrap-public-url "$URL/v3"
T_MANAGE=$(date +%s.%N)

rm -f "$RUN/keystone.pid"
# uwsgi writes the master pid to $RUN/keystone.pid itself
nohup "$VENV/bin/uwsgi" --ini "$ETC/keystone-uwsgi.ini" >/dev/null 2>&1 &
LAUNCHED=$!

up=0
for _ in $(seq 1 120); do
    # up = GET /v3 answers 200 AND every (lazy-apps) worker has loaded the app
    ready=$(grep -c "WSGI app 0 (mountpoint='') ready" "$RUN/uwsgi.log" 2>/dev/null || true)
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$URL/v3" || true)
    if [ "${ready:-0}" -ge "$WORKERS" ] && [ "$code" = 200 ]; then
        up=1; break
    fi
    if ! kill -0 "$LAUNCHED" 2>/dev/null; then
        echo "uwsgi exited; tail of $RUN_REL/uwsgi.log:" >&2
        tail -30 "$RUN/uwsgi.log" >&2 || true
        exit 1
    fi
    sleep 0.5
done
if [ "$up" != 1 ]; then
    echo "keystone did not answer GET $URL/v3 within 60 s; see $RUN_REL/uwsgi.log and keystone.log" >&2
    exit 1
fi
T_UP=$(date +%s.%N)

# Users, projects, roles and the image service: one Python process with
# keystoneclient (a keystone dependency), get-or-create so KEYSTONE_KEEP_DATA=1
# restarts are fine. The openstack CLI would take ~1.5 s per call.
"$VENV/bin/python" - "$URL/v3" "http://127.0.0.1:$IMAGE_PORT" <<'EOF' >>"$RUN/manage.log" 2>&1 || {
import sys
from keystoneauth1.identity import v3
from keystoneauth1 import session
from keystoneclient.v3 import client

auth_url, image_url = sys.argv[1], sys.argv[2]
ks = client.Client(session=session.Session(auth=v3.Password(
    auth_url=auth_url, username="admin", password="admin",
    project_name="admin", user_domain_id="default",
    project_domain_id="default")), interface="public")
DOM = "default"
roles = {r.name: r for r in ks.roles.list()}


def project(name, desc):
    found = ks.projects.list(domain=DOM, name=name)
    return found[0] if found else ks.projects.create(name, DOM, description=desc)


def user(name, password, proj):
    found = ks.users.list(domain=DOM, name=name)
    if found:
        # left as it is: setting the password again would revoke all of the
        # user's tokens (KEYSTONE_KEEP_DATA=1 restarts keep them valid)
        return found[0]
    return ks.users.create(name, domain=DOM, password=password,
                           default_project=proj)


def grant(role, u, proj):
    ks.roles.grant(roles[role], user=u, project=proj)  # idempotent (PUT)


service = project("service", "service users")
glance = user("glance", "glance", service)
grant("admin", glance, service)
grant("service", glance, service)

demo = project("demo", "demo project")
du = user("demo", "demo", demo)
grant("member", du, demo)
grant("reader", du, demo)

alt = project("alt_demo", "alt_demo project")
au = user("alt_demo", "alt_demo", alt)
grant("member", au, alt)

# glance-rs: a reader-only user on demo (secure-RBAC: may read, never write)
ru = user("reader", "reader", demo)
grant("reader", ru, demo)

svcs = [s for s in ks.services.list(type="image") if s.name == "glance"]
svc = svcs[0] if svcs else ks.services.create("glance", type="image",
                                              description="Image Service")
have = {e.interface: e for e in ks.endpoints.list(service=svc)}
for iface in ("public", "internal", "admin"):
    e = have.get(iface)
    if e is None:
        ks.endpoints.create(svc, image_url, interface=iface, region="RegionOne")
    elif e.url != image_url or e.region != "RegionOne":
        ks.endpoints.update(e, url=image_url, region="RegionOne")
print("created/checked: projects service, demo, alt_demo; users glance, demo, "
      "alt_demo; image service glance at", image_url)
EOF
    echo "creating users/projects/endpoints failed; tail of $RUN_REL/manage.log:" >&2
    tail -20 "$RUN/manage.log" >&2
    exit 1
}

cat > "$RUN/clouds.yaml" <<EOF
# OS_CLIENT_CONFIG_FILE=$RUN_REL/clouds.yaml openstack --os-cloud ks-demo token issue
clouds:
EOF
for c in admin:admin:admin glance:glance:service demo:demo:demo alt-demo:alt_demo:alt_demo reader:reader:demo; do
    IFS=: read -r cloud user proj <<<"$c"
    cat >> "$RUN/clouds.yaml" <<EOF
  ks-$cloud:
    auth:
      auth_url: $URL/v3
      username: $user
      password: $user
      project_name: $proj
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
EOF
done

T_END=$(date +%s.%N)
timing=$(awk -v a="$T0" -v b="$T_MANAGE" -v c="$T_UP" -v d="$T_END" \
    'BEGIN { printf "keystone-manage %.1f s, uwsgi to GET /v3 200 %.1f s, users %.1f s, total %.1f s", b-a, c-b, d-c, d-a }')
echo "keystone up on $URL/v3 (pid $(cat "$RUN/keystone.pid" 2>/dev/null || echo $LAUNCHED), workers=$WORKERS, cache=$CACHE, image endpoint http://127.0.0.1:$IMAGE_PORT, state in $RUN_REL/; $timing)"
