#!/usr/bin/env bash
# Create $KEYSTONE_HOME/venv with the REAL Keystone 30.0.0 (PyPI), uWSGI and the
# clients (python-openstackclient, openstacksdk), pinned by
# constraints.txt (the set that was installed and tested).
# Separate from ./.venv (Glance) so the two services' dependencies never mix.
# Needs: python3 (3.11 tested) with headers, gcc (uWSGI is built from source
# unless pip's cache already has the wheel).
# Usage: ./setup.sh        (PYTHON=/path/to/python3 to choose)
# Idempotent: a second run finds everything installed and takes ~3 s.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
KEYSTONE_HOME="${KEYSTONE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/glance-rs/keystone}"  # writable: venv and state (this folder may be read-only)
mkdir -p "$KEYSTONE_HOME"
V="$KEYSTONE_HOME/venv"
# shellcheck source=../lib/service.sh
. "$HERE/../lib/service.sh"
venv_install "$V" "$HERE/constraints.txt" \
    keystone==30.0.0 uWSGI==2.0.31 python-openstackclient==10.5.0 openstacksdk==4.22.0
echo "ready: keystone $("$V/bin/python" -c 'from importlib.metadata import version; print(version("keystone"))'), uWSGI $("$V/bin/uwsgi" --version), openstack CLI $("$V/bin/openstack" --version 2>&1 | awk '{print $2}')"
