#!/usr/bin/env bash
# Drop-in test (issue 13), against the REAL Glance 33.0.0 (PyPI venv from tests/glance/setup.sh,
# cached under ~/.cache/glance-rs/real-glance), on PostgreSQL and on SQLite:
#   1. take over: real Glance makes its database (`glance-manage db_sync`) and writes images
#      (data, properties, tags, a member) into its filesystem store; `glance-api db-sync`
#      adopts the database (Glance's tables and alembic revision untouched, refused when the
#      revision is not Glance 33's), and glance-api serves every image with the same JSON and
#      bytes as Glance did;
#   2. hand back: glance-api writes (create, upload, tag, member, delete); real Glance, started
#      again on the same database and store (its db_sync says "up to date"), serves all of it
#      identically, and the image glance-api deleted is gone, file included;
#   2b. mixed fleet: that Glance node and a glance-api node behind one haproxy address, written
#      to concurrently (tests/glance/mixed_fleet.py), every image then identical through both;
#   3. a database made by `glance-api db-sync` is a Glance database: `glance-manage db_sync`
#      does nothing, `glance-manage db check` passes (SQLite; Glance's check refuses
#      PostgreSQL outright), and real Glance serves it.
# docs/migrate-from-glance.md walks through the same commands.
# PostgreSQL: GLANCE_TEST_DATABASE_URL (a fresh database per step is made on that server), else
# a throwaway cluster. GLANCE_TAKEOVER_BACKENDS="postgres sqlite" picks backends.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/tests/glance"
lib="$root/tests/lib"
cd "$root"
export GLANCE_HOME="${GLANCE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/glance-rs/real-glance}"
"$here/setup.sh" >/dev/null
venv="$GLANCE_HOME/venv"
cargo build --all-features --bin glance-api --quiet
bin="$root/target/debug/glance-api"
work="$(mktemp -d "${TMPDIR:-/tmp}/glance-takeover.XXXXXX")"
export GLANCE_RUN="takeover-$$"
ours_pid=""
pg_dir=""
databases=()

cleanup() {
    "$here/stop.sh" >/dev/null 2>&1 || true
    if [[ -f "$work/haproxy.pid" ]]; then kill "$(cat "$work/haproxy.pid")" 2>/dev/null || true; fi
    if [[ -n "$ours_pid" ]]; then kill "$ours_pid" 2>/dev/null || true; wait "$ours_pid" 2>/dev/null || true; fi
    for db in "${databases[@]}"; do
        psql -q -d "$admin_url" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
    done
    if [[ -n "$pg_dir" ]]; then scripts/pg-throwaway.sh stop "$pg_dir" || true; rm -rf "$pg_dir"; fi
    rm -rf "$work" "${GLANCE_HOME:?}/$GLANCE_RUN"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# One identity both services understand: Glance's header stand-in reads X-Project-Id, our
# trusted-auth mode reads keystonemiddleware's headers.
owner_headers=(-H 'X-Identity-Status: Confirmed' -H 'X-Project-Id: p-owner' -H 'X-User-Id: u-owner' -H 'X-Roles: admin,member,reader')
member_headers=(-H 'X-Identity-Status: Confirmed' -H 'X-Project-Id: p-member' -H 'X-User-Id: u-member' -H 'X-Roles: member,reader')
call() { curl -sS -f "${owner_headers[@]}" "$@"; }

start_glance() { # URL STORE PORT
    GLANCE_DB_URL="$1" GLANCE_STORE_DIR="$2" GLANCE_METADEFS="${GLANCE_METADEFS:-0}" \
        "$here/start.sh" "$3" >/dev/null
}
stop_glance() { "$here/stop.sh" >/dev/null; }

# Our node serves on a socket bound before it starts (tests/lib/listen.py hands it over as
# systemd does), so no port is probed free and then taken by someone else; sets oport.
start_ours() { # MODE URL STORE
    rm -f "$work/ours.port"
    GLANCE__DATA_ACCESS__MODE="$1" GLANCE__DATABASE__URL="$2" GLANCE__STORE__PATH="$3" \
    GLANCE__IMPORT__STAGING_PATH="$work/staging" \
    GLANCE__AUTH__MODE=trusted-auth RUST_LOG=warn \
        "$lib/listen.py" "$work/ours.port" 1 "$bin" >"$work/ours.log" 2>&1 &
    ours_pid=$!
    for _ in $(seq 1 100); do
        if [[ -s "$work/ours.port" ]]; then
            oport=$(cat "$work/ours.port")
            curl -s -o /dev/null "http://127.0.0.1:$oport/versions" && return 0
        fi
        kill -0 "$ours_pid" 2>/dev/null || { cat "$work/ours.log" >&2; fail "glance-api exited"; }
        sleep 0.1
    done
    fail "glance-api did not answer on ${oport:-its handed-over socket}"
}
stop_ours() { kill "$ours_pid"; wait "$ours_pid" 2>/dev/null || true; ours_pid=""; }

db_sync_ours() { # MODE URL
    GLANCE__DATA_ACCESS__MODE="$1" GLANCE__DATABASE__URL="$2" "$bin" db-sync >>"$work/db-sync.log" 2>&1
}
glance_manage() { # URL ARGS...
    local url="$1"; shift
    printf '[DEFAULT]\nlog_file = %s/glance-manage.log\nuse_stderr = false\n[database]\nconnection = %s\n' \
        "$work" "$url" >"$work/manage.conf"
    "$venv/bin/glance-manage" --config-file "$work/manage.conf" "$@" 2>/dev/null
}

# The rolling replacement mid-way: the running Glance node (GPORT) and glance-api node (OPORT),
# on one database and store, behind one haproxy address with round robin; concurrent writers
# through it, then every image checked through each node (tests/glance/mixed_fleet.py). Both
# nodes must have taken at least a quarter of the requests.
mixed_fleet() { # STORE GPORT OPORT WRITERS IMAGES_PER_WRITER
    local hport sport shares
    cat >"$work/haproxy.cfg" <<EOF
global
    maxconn 512
defaults
    mode http
    option http-server-close
    timeout connect 5s
    timeout client 120s
    timeout server 120s
frontend fleet
    bind fd@3
    default_backend nodes
backend nodes
    balance roundrobin
    server glance 127.0.0.1:$2
    server ours 127.0.0.1:$3
listen stats
    bind fd@4
    stats enable
    stats uri /stats
EOF
    # Its two addresses are bound first and handed over (fd@3, fd@4), as for our node.
    rm -f "$work/haproxy.ports"
    "$lib/listen.py" "$work/haproxy.ports" 2 haproxy -f "$work/haproxy.cfg" -D -p "$work/haproxy.pid"
    { read -r hport; read -r sport; } <"$work/haproxy.ports"
    FLEET_STORE_DIR="$1" python3 "$here/mixed_fleet.py" "http://127.0.0.1:$hport" \
        "http://127.0.0.1:$2" "http://127.0.0.1:$3" "$4" "$5" || fail "mixed fleet"
    # stot (field 8): requests each node served through the front (one session each).
    shares=$(curl -sS "http://127.0.0.1:$sport/stats;csv" |
        awk -F, '$1 == "nodes" && ($2 == "glance" || $2 == "ours") { print $2 "=" $8 }' | sort | tr '\n' ' ')
    kill "$(cat "$work/haproxy.pid")" 2>/dev/null || true
    rm -f "$work/haproxy.pid"
    echo "   requests through the front: $shares"
    [[ "$shares" =~ glance=([0-9]+)\ ours=([0-9]+) ]] &&
        ((BASH_REMATCH[1] * 4 >= BASH_REMATCH[1] + BASH_REMATCH[2] &&
          BASH_REMATCH[2] * 4 >= BASH_REMATCH[1] + BASH_REMATCH[2])) \
        || fail "both nodes must take writes through the front ($shares)"
}

# A varied population through the API at BASE: ids of the images made, one per line.
populate() { # BASE TAG
    local base="$1" tag="$2" id
    # data, a custom property, a null one (the schema's nullable kernel_id), tags, a member
    id=$(call -X POST "$base/v2/images" -H 'Content-Type: application/json' -d \
        "{\"name\": \"$tag-data\", \"disk_format\": \"raw\", \"container_format\": \"bare\",
          \"visibility\": \"shared\", \"os_distro\": \"debian\", \"tags\": [\"a\", \"b\"], \"min_disk\": 2,
          \"kernel_id\": null}" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    head -c 300000 /dev/urandom >"$work/$tag.bin"
    call -X PUT "$base/v2/images/$id/file" -H 'Content-Type: application/octet-stream' \
        --data-binary @"$work/$tag.bin" >/dev/null
    call -X POST "$base/v2/images/$id/members" -H 'Content-Type: application/json' \
        -d '{"member": "p-member"}' >/dev/null
    echo "$id"
    # no data, public, protected
    call -X POST "$base/v2/images" -H 'Content-Type: application/json' -d \
        "{\"name\": \"$tag-empty\", \"visibility\": \"public\", \"protected\": true}" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
    # community, hidden, then deactivated after an upload
    id=$(call -X POST "$base/v2/images" -H 'Content-Type: application/json' -d \
        "{\"name\": \"$tag-community\", \"visibility\": \"community\", \"os_hidden\": true,
          \"disk_format\": \"raw\", \"container_format\": \"bare\"}" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    call -X PUT "$base/v2/images/$id/file" -H 'Content-Type: application/octet-stream' \
        --data-binary "small $tag" >/dev/null
    call -X POST "$base/v2/images/$id/actions/deactivate" >/dev/null
    echo "$id"
    # shared with one project that accepted, one that rejected, one still pending
    id=$(call -X POST "$base/v2/images" -H 'Content-Type: application/json' -d \
        "{\"name\": \"$tag-members\", \"visibility\": \"shared\", \"ramdisk_id\": null}" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    local project status
    for project in p-member p-rejecter p-pending; do
        call -X POST "$base/v2/images/$id/members" -H 'Content-Type: application/json' \
            -d "{\"member\": \"$project\"}" >/dev/null
    done
    for status in p-member:accepted p-rejecter:rejected; do
        curl -sS -f -X PUT "$base/v2/images/$id/members/${status%%:*}" \
            -H 'X-Identity-Status: Confirmed' -H "X-Project-Id: ${status%%:*}" -H 'X-User-Id: u-m' \
            -H 'X-Roles: member,reader' -H 'Content-Type: application/json' \
            -d "{\"status\": \"${status#*:}\"}" >/dev/null
    done
    echo "$id"
    # uploaded, then deleted (its id in $work/TAG-deleted, not listed): 404 from both
    id=$(call -X POST "$base/v2/images" -H 'Content-Type: application/json' -d \
        "{\"name\": \"$tag-deleted\", \"disk_format\": \"raw\", \"container_format\": \"bare\"}" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    call -X PUT "$base/v2/images/$id/file" -H 'Content-Type: application/octet-stream' \
        --data-binary "gone $tag" >/dev/null
    call -X DELETE "$base/v2/images/$id" >/dev/null
    echo "$id" >"$work/$tag-deleted"
}

# JSON on stdin, one line with sorted keys. Tags are a set in Glance: it lists them in Python's
# set order, which changes with each process's hash seed, so they are compared sorted. Members
# Glance lists in whatever order its database returns them (no ORDER BY: creation order on
# SQLite, often by member on PostgreSQL once statuses changed; docs/compatibility.md), so they
# are compared sorted by member too.
canonical() {
    python3 -c '
import json, sys
body = json.load(sys.stdin)
for image in (body.get("images", [body]) if isinstance(body, dict) else []):
    if isinstance(image.get("tags"), list):
        image["tags"] = sorted(image["tags"])
if isinstance(body, dict) and isinstance(body.get("members"), list):
    body["members"] = sorted(body["members"], key=lambda m: m.get("member_id", ""))
print(json.dumps(body, sort_keys=True))'
}

# Everything a client sees of IDS at BASE, as one file: each image's JSON, its members, its
# bytes' sha256 and data headers (as admin: deactivated data too), and the owner's list.
snapshot() { # BASE IDS_FILE OUT
    local base="$1" out="$3" id
    : >"$out"
    while read -r id; do
        call "$base/v2/images/$id" | canonical >>"$out"
        # refused for images that are not shared (the same refusal from both)
        { call "$base/v2/images/$id/members" 2>/dev/null || echo '"refused"'; } | canonical >>"$out"
        echo "data $(call -D "$work/headers" "$base/v2/images/$id/file" | sha256sum | cut -d' ' -f1)" >>"$out"
        { grep -i -E '^(content-type|content-md5|content-length):' "$work/headers" || true; } \
            | tr -d '\r' | tr 'A-Z' 'a-z' | sort >>"$out"
    done <"$2"
    call "$base/v2/images?sort=name:asc" | canonical >>"$out"
    curl -sS -f "${member_headers[@]}" "$base/v2/images?sort=name:asc&member_status=all" \
        | python3 -c 'import json,sys; print(sorted(i["name"] for i in json.load(sys.stdin)["images"]))' >>"$out"
}

same() { # WHAT A B
    if ! diff -u "$2" "$3" >"$work/diff"; then
        cat "$work/diff" >&2
        fail "$1"
    fi
}

revision() { # BACKEND URL
    if [[ "$1" == postgres ]]; then
        psql -At -d "$2" -c "SELECT version_num FROM alembic_version"
    else
        python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT version_num FROM alembic_version").fetchone()[0])' "$2"
    fi
}

run_backend() {
    local backend="$1" glance_url ours_url ours_check_url mode fresh_glance fresh_ours
    local store="$work/$backend-images"
    local gport oport
    # Real Glance runs under uWSGI, which binds a port number itself: that one is probed.
    gport=$(free_port); oport=""
    echo "== $backend: real Glance makes and fills its database"
    if [[ "$backend" == postgres ]]; then
        local db="takeover_$$_glance" fresh="takeover_$$_fresh"
        databases+=("$db" "$fresh")
        psql -q -d "$admin_url" -c "CREATE DATABASE $db" -c "CREATE DATABASE $fresh"
        glance_url="postgresql+psycopg2://${admin_url#postgresql://}"; glance_url="${glance_url%/*}/$db"
        ours_url="${admin_url%/*}/$db"
        fresh_glance="${glance_url%/*}/$fresh"; fresh_ours="${admin_url%/*}/$fresh"
        ours_check_url="$ours_url"; mode=direct-postgres
    else
        glance_url="sqlite:///$work/glance.sqlite"; ours_url="$glance_url"
        ours_check_url="$work/glance.sqlite"; mode=direct-sqlite
        fresh_glance="sqlite:///$work/fresh.sqlite"; fresh_ours="$fresh_glance"
    fi
    start_glance "$glance_url" "$store" "$gport"
    populate "http://127.0.0.1:$gport" glance >"$work/glance-ids"
    snapshot "http://127.0.0.1:$gport" "$work/glance-ids" "$work/by-glance.txt"
    stop_glance
    [[ "$(revision "$backend" "$ours_check_url")" == 2024_1_contract01 ]] || fail "Glance's revision"

    echo "== $backend: glance-api db-sync adopts it (twice: idempotent) and serves it identically"
    db_sync_ours "$mode" "$ours_url" || { tail -5 "$work/db-sync.log" >&2; fail "db-sync on Glance's database"; }
    db_sync_ours "$mode" "$ours_url" || fail "second db-sync"
    grep -q "adopting the Glance database" "$work/db-sync.log" || fail "db-sync did not say it adopted"
    [[ "$(revision "$backend" "$ours_check_url")" == 2024_1_contract01 ]] || fail "revision changed by db-sync"
    start_ours "$mode" "$ours_url" "$store"
    snapshot "http://127.0.0.1:$oport" "$work/glance-ids" "$work/by-ours.txt"
    same "glance-api serves Glance's images differently" "$work/by-glance.txt" "$work/by-ours.txt"
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "${owner_headers[@]}" "http://127.0.0.1:$oport/v2/images/$(cat "$work/glance-deleted")")" == 404 ]] \
        || fail "glance-api shows an image real Glance deleted"
    [[ ! -e "$store/$(cat "$work/glance-deleted")" ]] || fail "Glance's delete left its file"

    echo "== $backend: glance-api writes; real Glance, started again, serves it identically"
    populate "http://127.0.0.1:$oport" ours >"$work/ours-ids"
    local doomed
    doomed=$(call -X POST "http://127.0.0.1:$oport/v2/images" -H 'Content-Type: application/json' \
        -d '{"name": "doomed", "disk_format": "raw", "container_format": "bare"}' \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    call -X PUT "http://127.0.0.1:$oport/v2/images/$doomed/file" -H 'Content-Type: application/octet-stream' --data-binary doomed >/dev/null
    [[ -f "$store/$doomed" ]] || fail "glance-api did not write its data to Glance's store path"
    call -X DELETE "http://127.0.0.1:$oport/v2/images/$doomed" >/dev/null
    [[ ! -e "$store/$doomed" ]] || fail "glance-api's delete left the file"
    # a Glance image deleted by glance-api: its file goes too
    local glance_doomed
    glance_doomed=$(head -n1 "$work/glance-ids")
    [[ -f "$store/$glance_doomed" ]] || fail "Glance's data is not at $store/<id>"
    call -X DELETE "http://127.0.0.1:$oport/v2/images/$glance_doomed" >/dev/null
    [[ ! -e "$store/$glance_doomed" ]] || fail "glance-api's delete of Glance's image left its file"
    cat "$work/glance-ids" "$work/ours-ids" | tail -n +2 >"$work/all-ids"
    snapshot "http://127.0.0.1:$oport" "$work/all-ids" "$work/after-ours.txt"
    stop_ours
    glance_manage "$glance_url" db_sync | grep -q "Database is up to date" || fail "Glance's db_sync after glance-api is not a no-op"
    start_glance "$glance_url" "$store" "$gport"
    snapshot "http://127.0.0.1:$gport" "$work/all-ids" "$work/after-glance.txt"
    for id in "$glance_doomed" "$doomed"; do
        [[ "$(curl -s -o /dev/null -w '%{http_code}' "${owner_headers[@]}" "http://127.0.0.1:$gport/v2/images/$id")" == 404 ]] \
            || fail "real Glance still shows image $id deleted by glance-api"
    done
    same "real Glance serves what glance-api wrote differently" "$work/after-ours.txt" "$work/after-glance.txt"

    # Glance on SQLite answers 500 ("database is locked") to concurrent writes from two
    # processes, so on SQLite one writer goes through both nodes in turn; on PostgreSQL, six.
    echo "== $backend: both at once behind one address (haproxy), writes through both"
    start_ours "$mode" "$ours_url" "$store"
    if [[ "$backend" == postgres ]]; then
        mixed_fleet "$store" "$gport" "$oport" 6 8
    else
        mixed_fleet "$store" "$gport" "$oport" 1 12
    fi
    stop_ours
    stop_glance

    echo "== $backend: a database made by glance-api db-sync is a Glance database"
    db_sync_ours "$mode" "$fresh_ours" || fail "fresh db-sync"
    glance_manage "$fresh_glance" db_sync | grep -q "Database is up to date" || fail "Glance's db_sync on our fresh database is not a no-op"
    [[ "$(glance_manage "$fresh_glance" db version)" == 2024_1_contract01 ]] || fail "glance-manage db version"
    if [[ "$backend" == sqlite ]]; then
        glance_manage "$fresh_glance" db check | grep -q "Database is up to date" || fail "glance-manage db check"
    fi
    GLANCE_METADEFS=1 start_glance "$fresh_glance" "$store" "$gport"   # loads metadefs too
    populate "http://127.0.0.1:$gport" fresh >"$work/fresh-ids"
    snapshot "http://127.0.0.1:$gport" "$work/fresh-ids" "$work/fresh-by-glance.txt"
    stop_glance
    start_ours "$mode" "$fresh_ours" "$store"
    snapshot "http://127.0.0.1:$oport" "$work/fresh-ids" "$work/fresh-by-ours.txt"
    same "glance-api serves Glance's writes to our fresh database differently" "$work/fresh-by-glance.txt" "$work/fresh-by-ours.txt"
    stop_ours
    echo "ok: $backend"
}

# A Glance database at a revision glance-api cannot adopt is refused, naming the release to
# db_sync with first, and left as it was.
refusal() {
    python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"); c.execute("INSERT INTO alembic_version VALUES (?)", ("zed_contract01",)); c.commit()' "$work/old.sqlite"
    if db_sync_ours direct-sqlite "sqlite:///$work/old.sqlite"; then fail "db-sync adopted a Zed database"; fi
    grep -q "zed_contract01.*glance-manage db_sync.*28.0.0" "$work/db-sync.log" || { tail -2 "$work/db-sync.log" >&2; fail "refusal does not name the release"; }
    [[ "$(revision sqlite "$work/old.sqlite")" == zed_contract01 ]] || fail "refused database changed"
    python3 -c 'import sqlite3,sys; n=sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM sqlite_master").fetchone()[0]; sys.exit(n != 2)' "$work/old.sqlite" \
        || fail "the refused database got tables"
    echo "ok: an old Glance revision is refused"
}
refusal

backends="${GLANCE_TAKEOVER_BACKENDS:-postgres sqlite}"
if [[ " $backends " == *" postgres "* ]]; then
    if [[ -n "${GLANCE_TEST_DATABASE_URL:-}" ]]; then
        admin_url="$GLANCE_TEST_DATABASE_URL"
    else
        pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/glance-takeover-pg.XXXXXX")"
        admin_url="$(scripts/pg-throwaway.sh start "$pg_dir")"
    fi
fi
for backend in $backends; do
    run_backend "$backend"
done
echo "takeover: all passed ($backends)"
