#!/usr/bin/env bash
# The client compatibility suite (tests/clients/run.sh) against glance-api in static-tokens
# mode, once per data-access mode this source tree has:
#   direct-sqlite   always (temp database and store)
#   direct-postgres when src/data_access/postgres exists: GLANCE_TEST_DATABASE_URL, else a
#                   throwaway cluster from scripts/pg-throwaway.sh; schema by `glance-api db-sync`
#   registry-proxy  when src/registry_server exists: glance-api in front of a real glance-registry
# In each mode the suite runs twice: with static tokens, then (tests/clients/keystone_check.py)
# with passwords through a real Keystone, glance-api in keystone mode on the port Keystone's
# catalog names. Keystone starts once (tests/keystone/lib.sh), or is the one scripts/test.sh
# started (GLANCE_TEST_KEYSTONE_URL). GLANCE_CLIENT_KEYSTONE=0 leaves the Keystone runs out.
# Builds the debug binaries (with every feature, as scripts/test.sh tests them) and stops
# everything it started on exit. GLANCE_CLIENT_MODES="direct-sqlite …" picks modes.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

cargo build --all-features --bins --quiet
bin="$root/target/debug"
work="$(mktemp -d "${TMPDIR:-/tmp}/glance-clients-run.XXXXXX")"
pids=()
pg_dir=""
pg_db=""

source tests/keystone/lib.sh
with_keystone=${GLANCE_CLIENT_KEYSTONE:-1}

cleanup() {
    keystone_down
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n "$pg_db" ]]; then
        psql -q -d "$GLANCE_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $pg_db" >/dev/null || true
    fi
    if [[ -n "$pg_dir" ]]; then
        scripts/pg-throwaway.sh stop "$pg_dir" || true
        rm -rf "$pg_dir"
    fi
    rm -rf "$work"
}
trap cleanup EXIT
if [[ "$with_keystone" == 1 ]]; then
    keystone_up
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The port of the loopback HTTP server the web-download checks fetch from (import_checks.py
# starts it); every glance-api here allows it in import_filtering.allowed_ports.
export GLANCE_TEST_SOURCE_PORT=$(free_port)

# Random tokens for two member projects, in a static-tokens file.
token_a="a-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
token_b="b-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
token_admin="admin-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
tokens_file="$work/tokens.toml"
cat > "$tokens_file" <<EOF
[[token]]
token = "$token_a"
user = "clients-user-a"
project = "clients-project-a"
roles = ["member", "reader"]

[[token]]
token = "$token_b"
user = "clients-user-b"
project = "clients-project-b"
roles = ["member", "reader"]

[[token]]
token = "$token_admin"
user = "clients-admin"
project = "clients-admin-project"
roles = ["admin", "member", "reader"]
EOF
chmod 600 "$tokens_file"

# wait_healthy URL PID LOG: until /healthcheck answers, or fail with the log.
wait_healthy() {
    for _ in $(seq 1 300); do
        if ! kill -0 "$2" 2>/dev/null; then
            echo "the server exited early; its log:" >&2
            cat "$3" >&2
            return 1
        fi
        if curl -fsS -o /dev/null "$1/healthcheck" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "$1 did not become healthy; log:" >&2
    cat "$3" >&2
    return 1
}

# start_api DIR ENV... : glance-api in static-tokens mode (ENV may say otherwise) on a free
# port (or $API_PORT); sets $api_url and $api_pid. A port probed free may be taken before
# glance-api binds it: then it is started again on another (not $API_PORT, which the
# Keystone catalog names).
start_api() {
    local attempt
    for attempt in 1 2 3; do
        start_api_once "$@" && return 0
        [[ -z "${API_PORT:-}" && $attempt != 3 ]] && grep -q "cannot bind" "$1/api.log" || return 1
        echo "glance-api: its port was taken before it bound it; again on another" >&2
    done
}

start_api_once() {
    local dir=$1; shift
    local port=${API_PORT:-$(free_port)}
    mkdir -p "$dir"
    env -u GLANCE_CONFIG RUST_LOG=warn \
        GLANCE__SERVER__BIND="127.0.0.1:$port" \
        GLANCE__STORE__PATH="$dir/images" \
        GLANCE__IMPORT__STAGING_PATH="$dir/staging" \
        GLANCE__IMPORT_FILTERING__ALLOWED_PORTS="80,443,$GLANCE_TEST_SOURCE_PORT" \
        GLANCE__AUTH__MODE=static-tokens \
        GLANCE__AUTH__TOKENS_FILE="$tokens_file" \
        "$@" "$bin/glance-api" >"$dir/api.log" 2>&1 &
    api_pid=$!
    pids+=($api_pid)
    api_url="http://127.0.0.1:$port"
    wait_healthy "$api_url" "$api_pid" "$dir/api.log"
}

summary=()
run_suite() {
    local mode=$1
    echo
    echo "######## client suite: data_access.mode=$mode ($api_url)"
    local started=$SECONDS
    tests/clients/run.sh "$api_url" "$token_a" "$token_b" | tee "$work/$mode.out"
    summary+=("$mode: $(tail -n 1 "$work/$mode.out") in $((SECONDS - started)) s")
}

# The S3 server scripts/test.sh started (tests/s3/lib.sh), as a store named NAME: the
# GLANCE__STORES__NAME__* settings.
s3_store_env() { # NAME
    echo "GLANCE__STORES__$1__KIND=s3" "GLANCE__STORES__$1__ENDPOINT=$GLANCE_TEST_S3_ENDPOINT" \
        "GLANCE__STORES__$1__REGION=$GLANCE_TEST_S3_REGION" "GLANCE__STORES__$1__BUCKET=$GLANCE_TEST_S3_BUCKET" \
        "GLANCE__STORES__$1__ACCESS_KEY=$GLANCE_TEST_S3_ACCESS_KEY" \
        "GLANCE__STORES__$1__SECRET_KEY=$GLANCE_TEST_S3_SECRET_KEY"
}

# run_copy_suite MODE DIR ENV... : the same mode's glance-api with two stores, `fast` (default,
# a folder) and `cheap` (a folder, or S3 when scripts/test.sh started one), and
# tests/clients/copy_check.py with the admin token (copy-image is for admins), then that
# glance-api stopped.
run_copy_suite() {
    local mode=$1 dir=$2; shift 2
    local cheap=(GLANCE__STORES__CHEAP__KIND=file GLANCE__STORES__CHEAP__PATH="$dir/cheap")
    local kind=file
    if [[ -n "${GLANCE_TEST_S3_ENDPOINT:-}" ]]; then
        read -r -a cheap <<<"$(s3_store_env CHEAP)"
        kind=s3
    fi
    start_api "$dir" "$@" \
        GLANCE__STORE__DEFAULT_BACKEND=fast \
        GLANCE__STORES__FAST__KIND=file GLANCE__STORES__FAST__PATH="$dir/fast" "${cheap[@]}"
    echo
    echo "######## clients with two stores (file and $kind) and copy-image: data_access.mode=$mode ($api_url)"
    local started=$SECONDS
    local venv="${GLANCE_CLIENTS_VENV:-$root/target/clients-venv}"
    "$venv/bin/python" tests/clients/copy_check.py "$api_url" "$token_admin" | tee "$work/$mode-copy.out"
    summary+=("$mode (two stores): $(tail -n 1 "$work/$mode-copy.out") in $((SECONDS - started)) s")
    kill "$api_pid" && wait "$api_pid" 2>/dev/null || true
}

# run_keystone_suite MODE DIR ENV... : the same mode's glance-api in keystone mode on the
# catalog's image port, the clients with passwords, then that glance-api stopped (the next
# mode takes the port).
keystone_cache_time=3
run_keystone_suite() {
    [[ "$with_keystone" == 1 ]] || return 0
    local mode=$1 dir=$2; shift 2
    API_PORT=$GLANCE_TEST_KEYSTONE_IMAGE_PORT start_api "$dir" "$@" \
        GLANCE__AUTH__MODE=keystone \
        GLANCE__KEYSTONE_AUTHTOKEN__AUTH_URL="$GLANCE_TEST_KEYSTONE_URL/v3" \
        GLANCE__KEYSTONE_AUTHTOKEN__USERNAME=glance \
        GLANCE__KEYSTONE_AUTHTOKEN__PASSWORD=glance \
        GLANCE__KEYSTONE_AUTHTOKEN__PROJECT_NAME=service \
        GLANCE__KEYSTONE_AUTHTOKEN__TOKEN_CACHE_TIME=$keystone_cache_time
    echo
    echo "######## client suite through Keystone: data_access.mode=$mode ($api_url)"
    local started=$SECONDS
    tests/clients/run.sh --keystone "$GLANCE_TEST_KEYSTONE_DIR/clouds.yaml" \
        "$GLANCE_TEST_KEYSTONE_URL/v3" "$keystone_cache_time" | tee "$work/$mode-keystone.out"
    summary+=("$mode (keystone): $(tail -n 1 "$work/$mode-keystone.out") in $((SECONDS - started)) s")
    kill "$api_pid" && wait "$api_pid" 2>/dev/null || true
}

mode_direct_sqlite() {
    local dir="$work/sqlite"
    start_api "$dir" GLANCE__DATA_ACCESS__MODE=direct-sqlite \
        GLANCE__DATABASE__URL="sqlite:///$dir/glance.db"
    run_suite direct-sqlite
    run_copy_suite direct-sqlite "$work/sqlite-copy" GLANCE__DATA_ACCESS__MODE=direct-sqlite \
        GLANCE__DATABASE__URL="sqlite:///$work/sqlite-copy/glance.db"
    if [[ -n "${GLANCE_TEST_S3_ENDPOINT:-}" ]]; then
        # The whole suite again with image data on S3 (the server scripts/test.sh started).
        local s3_env
        read -r -a s3_env <<<"$(s3_store_env OBJECTS)"
        start_api "$work/sqlite-s3" GLANCE__DATA_ACCESS__MODE=direct-sqlite \
            GLANCE__DATABASE__URL="sqlite:///$work/sqlite-s3/glance.db" \
            GLANCE__STORE__DEFAULT_BACKEND=objects "${s3_env[@]}"
        run_suite "direct-sqlite, S3 store"
        kill "$api_pid" && wait "$api_pid" 2>/dev/null || true
    fi
    run_keystone_suite direct-sqlite "$work/sqlite-keystone" GLANCE__DATA_ACCESS__MODE=direct-sqlite \
        GLANCE__DATABASE__URL="sqlite:///$work/sqlite-keystone/glance.db"
}

mode_direct_postgres() {
    local url=${GLANCE_TEST_DATABASE_URL:-}
    if [[ -z "$url" ]]; then
        # Outside $work: as root the cluster runs as `postgres`, which must reach its folder.
        pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/glance-clients-pg.XXXXXX")"
        url=$(scripts/pg-throwaway.sh start "$pg_dir")
    fi
    # A database of its own, so the suite never sees (or leaves) other rows.
    local db="glance_clients_$$"
    psql -q -d "$url" -c "CREATE DATABASE $db" >/dev/null
    # dropped on exit (after glance-api stops) when the server is not a throwaway one
    if [[ -n "${GLANCE_TEST_DATABASE_URL:-}" ]]; then pg_db=$db; fi
    url="${url%/*}/$db"
    local dir="$work/postgres"
    mkdir -p "$dir"
    GLANCE__DATA_ACCESS__MODE=direct-postgres GLANCE__DATABASE__URL="$url" \
        env -u GLANCE_CONFIG "$bin/glance-api" db-sync >"$dir/db-sync.log" 2>&1 \
        || { cat "$dir/db-sync.log" >&2; return 1; }
    start_api "$dir" GLANCE__DATA_ACCESS__MODE=direct-postgres GLANCE__DATABASE__URL="$url"
    run_suite direct-postgres
    run_copy_suite direct-postgres "$dir/copy" GLANCE__DATA_ACCESS__MODE=direct-postgres \
        GLANCE__DATABASE__URL="$url"
    run_keystone_suite direct-postgres "$dir/keystone" GLANCE__DATA_ACCESS__MODE=direct-postgres \
        GLANCE__DATABASE__URL="$url"
}

mode_registry_proxy() {
    local dir="$work/registry"
    local port; port=$(free_port)
    local secret; secret=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    mkdir -p "$dir"
    env -u GLANCE_CONFIG RUST_LOG=warn \
        GLANCE__SERVER__BIND="127.0.0.1:$port" \
        GLANCE__DATA_ACCESS__MODE=direct-sqlite \
        GLANCE__DATABASE__URL="sqlite:///$dir/glance.db" \
        GLANCE__REGISTRY__TOKEN="$secret" \
        "$bin/glance-registry" >"$dir/registry.log" 2>&1 &
    pids+=($!)
    wait_healthy "http://127.0.0.1:$port" "$!" "$dir/registry.log"
    start_api "$dir" GLANCE__DATA_ACCESS__MODE=registry-proxy \
        GLANCE__REGISTRY__URL="http://127.0.0.1:$port" GLANCE__REGISTRY__TOKEN="$secret"
    run_suite registry-proxy
    run_copy_suite registry-proxy "$dir/copy" GLANCE__DATA_ACCESS__MODE=registry-proxy \
        GLANCE__REGISTRY__URL="http://127.0.0.1:$port" GLANCE__REGISTRY__TOKEN="$secret"
    run_keystone_suite registry-proxy "$dir/keystone" GLANCE__DATA_ACCESS__MODE=registry-proxy \
        GLANCE__REGISTRY__URL="http://127.0.0.1:$port" GLANCE__REGISTRY__TOKEN="$secret"
}

modes=${GLANCE_CLIENT_MODES:-}
if [[ -z "$modes" ]]; then
    modes="direct-sqlite"
    [[ -d src/data_access/postgres ]] && modes+=" direct-postgres"
    [[ -d src/registry_server ]] && modes+=" registry-proxy"
fi
for mode in $modes; do
    "mode_${mode//-/_}"
done

echo
echo "######## client suite summary"
printf '%s\n' "${summary[@]}"
