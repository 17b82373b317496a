#!/usr/bin/env bash
# Start the REAL OpenStack Glance API 33.0.0 (from PyPI, in $GLANCE_HOME/venv,
# made by ./setup.sh) under uWSGI, bound to 127.0.0.1 only.
#
# Usage: ./start.sh [PORT] [WORKERS]
#   PORT     default 9292
#   WORKERS  uWSGI worker processes, default 1
# Environment:
#   GLANCE_HOME=DIR      everything writable (venv, state); default
#                        ${XDG_CACHE_HOME:-$HOME/.cache}/real-glance.  This
#                        folder itself may be read-only.
#   GLANCE_RUN=NAME      state dir under $GLANCE_HOME (default run): config,
#                        logs, pid, SQLite file, images/, staging/
#   GLANCE_DB_URL=URL    [database] connection.  Default: SQLite in the state
#                        dir (wiped with it).  Given a URL (e.g.
#                        postgresql+psycopg2://postgres@127.0.0.1:5432/glance),
#                        the database must exist; every start runs
#                        `glance-manage db_sync` on it (idempotent: brings the
#                        schema to Glance 33's head) and never wipes it.
#   GLANCE_STORE_DIR=DIR filesystem store directory (filesystem_store_datadir).
#                        Default: images/ in the state dir (wiped with it).
#                        Given a directory, it is created if missing and never
#                        wiped; it must lie outside the state dir.
#   GLANCE_KEEP_DATA=1   keep the previous state dir (SQLite database and
#                        images/) instead of wiping it
#   GLANCE_AUTH=headers  (default) a STAND-IN for keystonemiddleware, no
#                        Keystone needed: glance_peer_auth.py trusts the
#                        request headers X-Tenant-Id (or X-Project-Id),
#                        X-User-Id, X-Roles, else an X-Auth-Token
#                        "USER:PROJECT[:ROLE,ROLE]", else peer-user /
#                        peer-project / admin,member,reader.  It validates
#                        nothing.  Glance's own context middleware and default
#                        (secure-RBAC) policies then decide.
#   GLANCE_AUTH=noauth   upstream's no-auth flavor (unauthenticated-context):
#                        every request is an admin context with no project
#                        (owner=null); identity headers are ignored.  The new
#                        RBAC defaults refuse that context (403 on everything),
#                        so this mode sets enforce_new_defaults/enforce_scope
#                        = false.
#   GLANCE_AUTH=keystone upstream's keystone flavor: keystonemiddleware's
#                        auth_token validates X-Auth-Token against
#                        $KEYSTONE_URL with the service user glance/glance on
#                        project service (domain Default), as
#                        ../../real-keystone/start.sh creates it.
#   KEYSTONE_URL=URL     default http://127.0.0.1:5000
#   GLANCE_CACHE=1       image cache + cache management API, as devstack
#   GLANCE_METADEFS=0    skip `glance-manage db_load_metadefs`
#   GLANCE_DEBUG=1       debug logging in $GLANCE_RUN/glance-api.log
#   GLANCE_HARAKIRI=S    uWSGI kills a worker busy on one request for S seconds
#   GLANCE_MAX_RSS_MB=M  uWSGI kills a worker whose RSS passes M MiB
#
# Serving: Glance >= 32 has no standalone server (glance-api only prints an
# error); it runs under uWSGI in HTTP mode with devstack's settings
# (processes=WORKERS, one thread each, Connection: close).  The uWSGI master
# pid is in $GLANCE_RUN/glance.pid; ./stop.sh stops it.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
GLANCE_HOME="${GLANCE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/glance-rs/real-glance}"  # writable: venv and state (this folder may be read-only)
mkdir -p "$GLANCE_HOME"
GLANCE_HOME="$(cd "$GLANCE_HOME" && pwd)"
PORT="${1:-9292}"
WORKERS="${2:-${GLANCE_WORKERS:-1}}"
AUTH="${GLANCE_AUTH:-headers}"
CACHE="${GLANCE_CACHE:-0}"
RUN_REL="${GLANCE_RUN:-run}"
VENV="$GLANCE_HOME/venv"
RUN="$GLANCE_HOME/$RUN_REL"
ETC="$RUN/etc"
URL="http://127.0.0.1:$PORT"
KEYSTONE_URL="${KEYSTONE_URL:-http://127.0.0.1:5000}"

if [ ! -x "$VENV/bin/uwsgi" ] || [ ! -x "$VENV/bin/glance-manage" ]; then
    echo "missing $VENV: run ./setup.sh first" >&2
    exit 1
fi
if [ -f "$RUN/glance.pid" ] && kill -0 "$(cat "$RUN/glance.pid")" 2>/dev/null; then
    echo "already running: pid $(cat "$RUN/glance.pid") (./stop.sh first)" >&2
    exit 1
fi
if curl -s -o /dev/null -m 2 "$URL/"; then
    echo "something already answers on $URL (not ours: no live pid in $RUN_REL/)" >&2
    exit 1
fi

POLICY_NEW_DEFAULTS=true
case "$AUTH" in
    headers)  FLAVOR="peerheaders" ;;
    keystone) FLAVOR="keystone" ;;
    noauth)   FLAVOR=""; POLICY_NEW_DEFAULTS=false ;;
    *) echo "GLANCE_AUTH must be headers, noauth or keystone" >&2; exit 2 ;;
esac
CACHE_CONF=""
if [ "$CACHE" = 1 ]; then
    FLAVOR="${FLAVOR:+$FLAVOR+}cachemanagement"
    CACHE_CONF="image_cache_dir = $RUN/cache/"
fi

# database: a given URL is never wiped; the default SQLite file lives (and is
# wiped) with the state dir
if [ -n "${GLANCE_DB_URL:-}" ]; then
    DB_URL="$GLANCE_DB_URL"
    DB_GIVEN=1
else
    DB_URL="sqlite:///$RUN/glance.sqlite"
    DB_GIVEN=0
fi
# image store: a given directory (relative to the caller's directory) is
# never wiped
if [ -n "${GLANCE_STORE_DIR:-}" ]; then
    STORE="$(realpath -m "$GLANCE_STORE_DIR")"
    case "$STORE/" in
        "$RUN/"*) echo "GLANCE_STORE_DIR must lie outside the state dir $RUN" >&2; exit 2 ;;
    esac
else
    STORE="$RUN/images"
fi

if [ "${GLANCE_KEEP_DATA:-0}" != 1 ]; then
    rm -rf "$RUN"
fi
mkdir -p "$ETC" "$STORE" "$RUN/staging" "$RUN/locks" "$RUN/tasks_work" "$RUN/cache"
rm -f "$RUN/glance-api.log" "$RUN/uwsgi.log" "$RUN/db_sync.log"

DEBUG=false
[ "${GLANCE_DEBUG:-0}" = 1 ] && DEBUG=true

cat > "$ETC/glance-api.conf" <<EOF
[DEFAULT]
debug = $DEBUG
log_file = $RUN/glance-api.log
use_stderr = false
# Glance builds self links / the versions document from this
public_endpoint = $URL
worker_self_reference_url = $URL
node_staging_uri = file://$RUN/staging
enabled_import_methods = [glance-direct,web-download,copy-image]
bind_host = 127.0.0.1
bind_port = $PORT
workers = $WORKERS
$CACHE_CONF

[database]
connection = $DB_URL

[glance_store]
# the legacy single-store options, as devstack sets them by default
stores = file,http
default_store = file
filesystem_store_datadir = $STORE/

[oslo_concurrency]
lock_path = $RUN/locks

[oslo_policy]
enforce_new_defaults = $POLICY_NEW_DEFAULTS
enforce_scope = $POLICY_NEW_DEFAULTS

[paste_deploy]
flavor = $FLAVOR

[task]
work_dir = $RUN/tasks_work

[wsgi]
python_interpreter = $VENV/bin/python
EOF

if [ "$AUTH" = keystone ]; then
    cat >> "$ETC/glance-api.conf" <<EOF

[keystone_authtoken]
# keystonemiddleware's auth_token (paste filter "authtoken"); no memcached,
# so validated tokens are cached in-process (per worker)
www_authenticate_uri = $KEYSTONE_URL
auth_url = $KEYSTONE_URL
auth_type = password
username = glance
password = glance
project_name = service
user_domain_name = Default
project_domain_name = Default
EOF
    curl -s -o /dev/null -m 2 "$KEYSTONE_URL/v3" ||
        echo "warning: no Keystone answers on $KEYSTONE_URL/v3 yet; requests will get 401/503 until it does" >&2
fi

# The upstream paste pipelines, plus one extra pipeline for GLANCE_AUTH=headers.
cp "$VENV/etc/glance/glance-api-paste.ini" "$ETC/glance-api-paste.ini"
# schema-image.json (extra image properties such as kernel_id, os_distro) is
# in the sdist's etc/ but not in the wheel; setup.sh puts it in the venv.
# Distros and devstack install it next to glance-api.conf, so do the same.
if [ -f "$VENV/etc/glance/schema-image.json" ]; then
    cp "$VENV/etc/glance/schema-image.json" "$ETC/schema-image.json"
else
    echo "warning: no schema-image.json in the venv (run ./setup.sh)" >&2
fi
# the stand-in filter is imported from $ETC (uWSGI pythonpath), so that this
# folder may stay read-only
cp "$HERE/glance_peer_auth.py" "$ETC/glance_peer_auth.py"
sed -i "s#^disable_by_file_path = .*#disable_by_file_path = $RUN/healthcheck_disable#" \
    "$ETC/glance-api-paste.ini"
cat >> "$ETC/glance-api-paste.ini" <<'EOF'

# --- added by start.sh (GLANCE_AUTH=headers) ---
[composite:glance-api-peerheaders]
paste.composite_factory = glance.api:root_app_factory
/: api
/healthcheck: healthcheck

[composite:glance-api-peerheaders+cachemanagement]
paste.composite_factory = glance.api:root_app_factory
/: api
/healthcheck: healthcheck

[filter:peerauth]
paste.filter_factory = glance_peer_auth:filter_factory
default_project_id = peer-project
default_user_id = peer-user
default_roles = admin,member,reader
EOF
# add "peerheaders = ..." to the [composite:api] pipelines (upstream's
# keystone pipelines with peerauth in place of authtoken)
sed -i 's#^keystone = cors http_proxy_to_wsgi versionnegotiation osprofiler authtoken context rootapp#&\npeerheaders = cors http_proxy_to_wsgi versionnegotiation osprofiler peerauth context rootapp\npeerheaders+cachemanagement = cors http_proxy_to_wsgi versionnegotiation osprofiler peerauth context cache cachemanage rootapp#' \
    "$ETC/glance-api-paste.ini"
grep -q '^peerheaders = ' "$ETC/glance-api-paste.ini" || {
    echo "could not add the peerheaders pipeline to the paste ini" >&2; exit 1; }

cat > "$ETC/glance-uwsgi.ini" <<EOF
[uwsgi]
# as devstack's write_local_uwsgi_http_config (minus apache, plugins)
module = glance.wsgi.api:application
home = $VENV
pythonpath = $ETC
env = OS_GLANCE_CONFIG_DIR=$ETC
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
http-raw-body = true
http-chunked-input = true
http-auto-chunked = true
http-keepalive = false
socket-timeout = 30
# NOT in devstack (there Apache sits in front and re-chunks the body):
# python-glanceclient uploads in 1 MiB chunks and uWSGI's default
# chunked-input-limit is exactly 1 MiB, so chunk+CRLF is refused
# ("OSError: unable to receive chunked part", HTTP 500) without this.
chunked-input-limit = 16777216
need-app = true
no-orphans = true
pidfile = $RUN/glance.pid
logto = $RUN/uwsgi.log
disable-logging = true
procname-prefix = real-glance-
EOF
# Not in devstack either: bounds for a worker that a hostile request sends into a long or
# memory-hungry loop (tests/fixtures/real-glance-33/record-hostile.sh): uWSGI kills and
# respawns it after GLANCE_HARAKIRI seconds or past GLANCE_MAX_RSS_MB.
if [ -n "${GLANCE_HARAKIRI:-}" ]; then echo "harakiri = $GLANCE_HARAKIRI" >> "$ETC/glance-uwsgi.ini"; fi
if [ -n "${GLANCE_MAX_RSS_MB:-}" ]; then echo "evil-reload-on-rss = $GLANCE_MAX_RSS_MB" >> "$ETC/glance-uwsgi.ini"; fi

GM=("$VENV/bin/glance-manage" --config-file "$ETC/glance-api.conf")
manage() {
    "${GM[@]}" "$@" >>"$RUN/db_sync.log" 2>&1 || {
        # glance-manage logs its error to glance-api.log (log_file), not stderr
        echo "glance-manage $1 failed; see $RUN_REL/glance-api.log and db_sync.log:" >&2
        grep -h -E ' (CRITICAL|ERROR) glance ' "$RUN/glance-api.log" 2>/dev/null | head -1 | cut -c1-500 >&2
        tail -5 "$RUN/db_sync.log" >&2; exit 1; }
}
# each glance-manage run costs a few seconds of Python start-up, so the
# default SQLite file is only synced when new; a given database every time
if [ "$DB_GIVEN" = 1 ] || [ ! -f "$RUN/glance.sqlite" ]; then
    manage db_sync
    if [ "${GLANCE_METADEFS:-1}" = 1 ]; then
        # namespaces already in the database are skipped (no --merge)
        manage db_load_metadefs "$VENV/etc/glance/metadefs"
    fi
fi

rm -f "$RUN/glance.pid"
# uwsgi writes the master pid to $RUN/glance.pid itself; it runs in the
# background and logs to $RUN/uwsgi.log (Glance's own log: glance-api.log)
nohup "$VENV/bin/uwsgi" --ini "$ETC/glance-uwsgi.ini" >/dev/null 2>&1 &
LAUNCHED=$!

DB_SHOWN="$(printf '%s' "$DB_URL" | sed 's#://\([^:@/]*\):[^@]*@#://\1:***@#')"
for _ in $(seq 1 120); do
    # up = answers GET / AND every worker has loaded the app (lazy-apps:
    # each worker loads Glance itself; stopping uWSGI while one is still
    # loading can hang the graceful shutdown)
    ready=$(grep -c "WSGI app 0 (mountpoint='') ready" "$RUN/uwsgi.log" 2>/dev/null || true)
    if [ "${ready:-0}" -ge "$WORKERS" ] && curl -s -o /dev/null -m 2 "$URL/"; then
        echo "glance-api up on $URL (pid $(cat "$RUN/glance.pid" 2>/dev/null || echo $LAUNCHED), workers=$WORKERS, auth=$AUTH, cache=$CACHE, db=$DB_SHOWN, store=$STORE/, state in $RUN/)"
        exit 0
    fi
    if ! kill -0 "$LAUNCHED" 2>/dev/null; then
        echo "uwsgi exited; tail of $RUN_REL/uwsgi.log:" >&2
        tail -30 "$RUN/uwsgi.log" >&2 || true
        exit 1
    fi
    sleep 0.5
done
echo "glance-api did not answer on port $PORT within 60 s; see $RUN_REL/uwsgi.log" >&2
exit 1
