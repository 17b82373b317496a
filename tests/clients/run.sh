#!/usr/bin/env bash
# Real OpenStack clients against a running glance-api:
#   tests/clients/run.sh BASE_URL TOKEN_A TOKEN_B
# TOKEN_A and TOKEN_B: member tokens of two different projects (static-tokens mode).
#   tests/clients/run.sh --keystone CLOUDS_YAML AUTH_URL TOKEN_CACHE_TIME
# the same clients with passwords, through a real Keystone's catalog (keystone_check.py).
# The clients live in a virtual environment made once under target/clients-venv
# (python-glanceclient, openstacksdk, python-openstackclient from PyPI, versions pinned as
# validated against real Glance; pip resolves the rest).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${GLANCE_CLIENTS_VENV:-$root/target/clients-venv}"
pins="python-glanceclient==4.13.0 openstacksdk==4.22.0 python-openstackclient==10.5.0"

script=check.py
if [[ "${1:-}" == --keystone ]]; then
    script=keystone_check.py
    shift
fi
if [[ $# -ne 3 ]]; then
    echo "usage: $0 BASE_URL TOKEN_A TOKEN_B | $0 --keystone CLOUDS_YAML AUTH_URL CACHE_TIME" >&2
    exit 2
fi

# The stamp names the pins, so changing them rebuilds the venv.
if [[ "$(cat "$venv/.pins" 2>/dev/null)" != "$pins" ]]; then
    echo "== making the clients venv in $venv ($pins)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check $pins
    echo "$pins" > "$venv/.pins"
fi

exec "$venv/bin/python" "$here/$script" "$@"
