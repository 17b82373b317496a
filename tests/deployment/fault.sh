#!/usr/bin/env bash
# The fault test of docs/deployment.md §4 (tests/deployment/fault.py): three glance-api nodes
# on one PostgreSQL behind haproxy, image data on a three-node Garage cluster, one Garage node
# and one API node killed under load. Installs Garage (tests/s3/lib.sh, cached) and uses
# GLANCE_TEST_DATABASE_URL's server, else a throwaway cluster; builds the debug glance-api.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
source tests/s3/lib.sh
s3_install
cargo build --all-features --bin glance-api --quiet
work="$(mktemp -d "${TMPDIR:-/tmp}/glance-fault.XXXXXX")"
pg_dir=""
admin_url="${GLANCE_TEST_DATABASE_URL:-}"
db="glance_fault_$$"
cleanup() {
    [[ -n "$admin_url" ]] && psql -q -d "$admin_url" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
    [[ -n "$pg_dir" ]] && scripts/pg-throwaway.sh stop "$pg_dir" >/dev/null 2>&1 || true
    rm -rf "$work" "${pg_dir:-/nonexistent}"
}
trap cleanup EXIT
if [[ -z "$admin_url" ]]; then
    pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/glance-fault-pg.XXXXXX")"
    admin_url=$(scripts/pg-throwaway.sh start "$pg_dir")
fi
psql -q -d "$admin_url" -c "CREATE DATABASE $db" >/dev/null
url="${admin_url%/*}/$db"
GLANCE__DATA_ACCESS__MODE=direct-postgres GLANCE__DATABASE__URL="$url" \
    target/debug/glance-api db-sync >"$work/db-sync.log" 2>&1 || { cat "$work/db-sync.log" >&2; exit 1; }
python3 tests/deployment/fault.py --api-bin target/debug/glance-api --garage-bin "$GARAGE_BIN" \
    --database-url "$url" "$@"
