# Sourced by scripts/test.sh and tests/clients/run-all.sh: one real Keystone per CI run.
#   keystone_up    unless GLANCE_TEST_KEYSTONE_URL already names a running one: make the venv
#                  (setup.sh, cached under ~/.cache/glance-rs/keystone), start Keystone on a
#                  free loopback port with its state in a temp dir, and export
#                    GLANCE_TEST_KEYSTONE_URL         http://127.0.0.1:PORT (auth_url)
#                    GLANCE_TEST_KEYSTONE_DIR         its state dir (clouds.yaml is there)
#                    GLANCE_TEST_KEYSTONE_IMAGE_PORT  the port the catalog's image endpoint names
#   keystone_down  stop the Keystone keystone_up started (nothing if it started none)
keystone_lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
keystone_started_dir=""

keystone_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

keystone_up() {
    if [[ -n "${GLANCE_TEST_KEYSTONE_URL:-}" ]]; then
        return 0
    fi
    "$keystone_lib_dir/setup.sh"
    keystone_started_dir="$(mktemp -d "${TMPDIR:-/tmp}/glance-keystone.XXXXXX")"
    local port image_port attempt
    # uWSGI binds the port by number, some seconds after it was probed free (keystone-manage
    # runs first): if someone took it meanwhile, start again on another.
    for attempt in 1 2 3; do
        port=$(keystone_free_port)
        image_port=$(keystone_free_port)
        if KEYSTONE_RUN_DIR="$keystone_started_dir" IMAGE_PORT="$image_port" \
            "$keystone_lib_dir/start.sh" "$port"; then
            break
        fi
        if [[ $attempt == 3 ]] || ! grep -qs "Address already in use" "$keystone_started_dir/uwsgi.log"; then
            return 1
        fi
        echo "keystone: port $port was taken before uWSGI bound it; again on another" >&2
    done
    export GLANCE_TEST_KEYSTONE_URL="http://127.0.0.1:$port"
    export GLANCE_TEST_KEYSTONE_DIR="$keystone_started_dir"
    export GLANCE_TEST_KEYSTONE_IMAGE_PORT="$image_port"
}

keystone_down() {
    if [[ -n "$keystone_started_dir" ]]; then
        KEYSTONE_RUN_DIR="$keystone_started_dir" "$keystone_lib_dir/stop.sh" || true
        rm -rf "$keystone_started_dir"
        keystone_started_dir=""
        unset GLANCE_TEST_KEYSTONE_URL GLANCE_TEST_KEYSTONE_DIR GLANCE_TEST_KEYSTONE_IMAGE_PORT
    fi
}
