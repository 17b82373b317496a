#!/usr/bin/env bash
# Create $GLANCE_HOME/venv with the REAL OpenStack Glance 33.0.0 (PyPI),
# glance-store, uWSGI, keystonemiddleware (for GLANCE_AUTH=keystone) and
# psycopg2-binary (for a PostgreSQL GLANCE_DB_URL), pinned by constraints.txt
# (the set that was installed and tested).  No clients are installed: the
# openstack CLI is in the real-keystone venv (../../real-keystone/setup.sh).
# Needs: python3 (3.11 tested) with headers, gcc (uWSGI is built from source
# unless pip's cache already has the wheel).
# Usage: ./setup.sh        (PYTHON=/path/to/python3 to choose)
# Idempotent: a second run finds everything installed and takes ~1 s.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
GLANCE_HOME="${GLANCE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/glance-rs/real-glance}"  # writable: venv and state (this folder may be read-only)
mkdir -p "$GLANCE_HOME"
V="$GLANCE_HOME/venv"
SCHEMA="$V/etc/glance/schema-image.json"
# shellcheck source=../lib/service.sh
. "$HERE/../lib/service.sh"
venv_install "$V" "$HERE/constraints.txt" glance==33.0.0 glance_store==5.7.0 uWSGI==2.0.31 \
    keystonemiddleware==13.0.1 psycopg2-binary==2.9.13
if [ ! -f "$SCHEMA" ]; then
    # etc/schema-image.json (the extra image properties that distros and
    # devstack install next to glance-api.conf) is in the sdist, not the wheel.
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    "$V/bin/pip" download -q --no-deps --no-binary :all: glance==33.0.0 -d "$tmp"
    tar xzf "$tmp/glance-33.0.0.tar.gz" -C "$tmp" glance-33.0.0/etc/schema-image.json
    mkdir -p "$(dirname "$SCHEMA")"
    cp "$tmp/glance-33.0.0/etc/schema-image.json" "$SCHEMA"
fi
echo "ready: glance $("$V/bin/python" -c 'from importlib.metadata import version; print(version("glance"))'), uWSGI $("$V/bin/uwsgi" --version), venv in $V"
