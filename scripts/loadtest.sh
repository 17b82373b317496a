#!/usr/bin/env bash
# The load test: builds glance-api/glance-registry (all features) and the baselines in release
# mode, then starts each mode in turn — direct-sqlite, direct-postgres, registry-proxy over
# SQLite, registry-proxy over PostgreSQL — drives the same workload with wrk against each, and
# writes docs/performance.md and docs/performance.svg.
#   scripts/loadtest.sh [--duration SECONDS] [--connections N] [--upload-mib N] [--out docs]
# PostgreSQL: GLANCE_TEST_DATABASE_URL if set, else a throwaway cluster (scripts/pg-throwaway.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
cargo build --release --all-features --bins --example baseline --example hash_baseline
exec python3 scripts/load/run.py "$@"
