# Sourced by scripts/test.sh (and by hand): one real S3 server, Garage, for the S3 store tests.
#   s3_install  cargo install garage (GARAGE_VERSION, pinned) into ~/.cache/glance-rs/garage,
#               unless that binary already reports the version (the first build takes about
#               500 s on 2 cores; afterwards well under a second).
#   s3_up       unless GLANCE_TEST_S3_ENDPOINT already names a running one: install, then
#               start one Garage node on free loopback ports with its state in a temp dir,
#               lay it out, create a key and the bucket, and export
#                 GLANCE_TEST_S3_ENDPOINT    http://127.0.0.1:PORT (path-style, region garage)
#                 GLANCE_TEST_S3_REGION      garage
#                 GLANCE_TEST_S3_BUCKET      images
#                 GLANCE_TEST_S3_ACCESS_KEY, GLANCE_TEST_S3_SECRET_KEY
#                 GLANCE_TEST_S3_DIR         its state dir (garage.toml, garage.log)
#   s3_down     stop the node s3_up started (nothing if it started none)
#   s3_garage ARGS…  the garage CLI against that node
s3_lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GARAGE_VERSION="${GARAGE_VERSION:-2.5.0}"
GARAGE_ROOT="${GARAGE_ROOT:-$HOME/.cache/glance-rs/garage}"
GARAGE_BIN="$GARAGE_ROOT/bin/garage"
s3_started_dir=""

s3_install() {
    if [ -x "$GARAGE_BIN" ] && "$GARAGE_BIN" --version 2>/dev/null | grep -qE "(cargo:|v)${GARAGE_VERSION//./\\.}( |$)"; then
        return 0
    fi
    mkdir -p "$GARAGE_ROOT"
    echo "building garage $GARAGE_VERSION (cargo install; about 500 s on 2 cores the first time); log in $GARAGE_ROOT/build.log"
    local t0=$SECONDS
    if ! CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" cargo install garage --locked \
            --version "$GARAGE_VERSION" --root "$GARAGE_ROOT" >"$GARAGE_ROOT/build.log" 2>&1; then
        echo "cargo install garage $GARAGE_VERSION failed; last lines of $GARAGE_ROOT/build.log:" >&2
        tail -n 40 "$GARAGE_ROOT/build.log" >&2
        return 1
    fi
    echo "garage $GARAGE_VERSION built in $((SECONDS - t0)) s" | tee "$GARAGE_ROOT/build-time.txt"
}

s3_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

s3_garage() {
    "$GARAGE_BIN" -c "$s3_started_dir/garage.toml" "$@"
}

# s3_wait CMD…: retry CMD for up to 30 s.
s3_wait() {
    local i
    for i in $(seq 1 300); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

s3_up() {
    if [[ -n "${GLANCE_TEST_S3_ENDPOINT:-}" ]]; then
        return 0
    fi
    s3_install || return 1
    # Garage binds its three ports by number, probed free just before: if one was taken
    # meanwhile, it exits, and it is started again on other ports.
    local attempt
    for attempt in 1 2 3; do
        s3_port_taken=0
        s3_start && return 0
        [[ "$s3_port_taken" == 1 ]] || return 1
        echo "garage: a port was taken before it bound it; again on other ports" >&2
    done
    return 1
}

# s3_start: one Garage node on ports probed free; sets s3_port_taken=1 when it could not bind.
s3_start() {
    s3_started_dir="$(mktemp -d "${TMPDIR:-/tmp}/glance-garage.XXXXXX")"
    local d="$s3_started_dir" s3_port rpc_port admin_port admin_token
    s3_port=$(s3_free_port)
    rpc_port=$(s3_free_port)
    admin_port=$(s3_free_port)
    admin_token="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
    mkdir -p "$d/meta" "$d/data"
    (umask 077; cat > "$d/garage.toml" <<TOML
metadata_dir = "$d/meta"
data_dir = "$d/data"
db_engine = "lmdb"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"

[s3_api]
api_bind_addr = "127.0.0.1:$s3_port"
s3_region = "garage"

[admin]
api_bind_addr = "127.0.0.1:$admin_port"
admin_token = "$admin_token"
TOML
)
    # setsid: its own session; the shell writes its pid, then execs garage (same pid).
    RUST_LOG="${RUST_LOG:-garage=warn}" NO_COLOR=1 setsid bash -c 'echo $$ > "$1/garage.pid"; exec "$0" -c "$1/garage.toml" server' \
        "$GARAGE_BIN" "$d" </dev/null >>"$d/garage.log" 2>&1 &
    if ! s3_wait curl -s -o /dev/null -m 1 "http://127.0.0.1:$admin_port/health"; then
        echo "garage did not answer; last lines of $d/garage.log:" >&2
        tail -n 20 "$d/garage.log" >&2
        grep -qis "address already in use" "$d/garage.log" && s3_port_taken=1
        s3_down
        return 1
    fi
    local node
    node=$(s3_garage node id -q 2>/dev/null) || { s3_down; return 1; }
    s3_garage layout assign -z dc1 -c 1G "${node%@*}" >/dev/null &&
        s3_garage layout apply --version 1 >/dev/null || { s3_down; return 1; }
    if ! s3_wait bash -c "curl -s -m 2 -H 'Authorization: Bearer $admin_token' \
            http://127.0.0.1:$admin_port/v2/GetClusterHealth | grep -Eq '\"status\": *\"healthy\"'"; then
        echo "garage not healthy after 30 s" >&2
        s3_down
        return 1
    fi
    s3_garage key create glance-tests >/dev/null &&
        s3_garage bucket create images >/dev/null &&
        s3_garage bucket allow --read --write --owner images --key glance-tests >/dev/null &&
        s3_garage key allow --create-bucket glance-tests >/dev/null ||
        { s3_down; return 1; }
    export GLANCE_TEST_S3_ENDPOINT="http://127.0.0.1:$s3_port"
    export GLANCE_TEST_S3_REGION=garage
    export GLANCE_TEST_S3_BUCKET=images
    GLANCE_TEST_S3_ACCESS_KEY=$(s3_garage key info glance-tests --key-id)
    GLANCE_TEST_S3_SECRET_KEY=$(s3_garage key info glance-tests --secret-key)
    export GLANCE_TEST_S3_ACCESS_KEY GLANCE_TEST_S3_SECRET_KEY
    export GLANCE_TEST_S3_DIR="$d"
    echo "garage up: S3 at $GLANCE_TEST_S3_ENDPOINT, bucket images, state in $d"
}

s3_down() {
    if [[ -n "$s3_started_dir" ]]; then
        # shellcheck source=../lib/service.sh
        . "$s3_lib_dir/../lib/service.sh"
        stop_by_pidfile "$s3_started_dir/garage.pid" || true
        rm -rf "$s3_started_dir"
        s3_started_dir=""
        unset GLANCE_TEST_S3_ENDPOINT GLANCE_TEST_S3_REGION GLANCE_TEST_S3_BUCKET \
            GLANCE_TEST_S3_ACCESS_KEY GLANCE_TEST_S3_SECRET_KEY GLANCE_TEST_S3_DIR
    fi
}
