#!/usr/bin/env bash
# The load test: builds glance-api/glance-registry (all features) and the baselines in release
# mode, then starts each mode in turn — direct-sqlite, direct-postgres, registry-proxy over
# SQLite, registry-proxy over PostgreSQL — drives the same workload with wrk against each, and
# writes docs/performance.md and docs/performance.svg.
# First, GET image in keystone mode (warm token cache) beside noauth, against the real Keystone
# of tests/keystone/ (started here unless GLANCE_TEST_KEYSTONE_URL names one).
#   scripts/loadtest.sh [--duration SECONDS] [--connections N] [--upload-mib N] [--out docs]
#   scripts/loadtest.sh --keystone-only [--duration SECONDS] [--rounds N]
# The side-by-side GET image runs alone (direct-postgres, registry-proxy, the bare baseline in its
# two shapes and the bare forwarding pair, examples/forward_baseline.rs in front of it: the
# registry hop at its floor), with CPU microseconds per request of servers and PostgreSQL, printed only:
#   scripts/loadtest.sh --side-by-side-only [--duration SECONDS] [--rounds N]
# glance-direct imports (scripts/load/imports.py) are a row of every mode; alone, printed only:
#   scripts/loadtest.sh --imports-only [--upload-mib N] [--rounds N]
# The scale profile (scripts/load/scale.py): 1k…1M seeded images, list/GET cost against size.
#   scripts/loadtest.sh --scale [--sizes 1000,100000,1000000] [--backend postgres|sqlite] [--reuse]
# Many clients (scripts/load/connections.py): 1k and 10k keep-alive connections, a connect-per-request storm.
#   scripts/loadtest.sh --connection-profile [--counts 1000,10000] [--storm 1000] [--rounds 3] [--backend postgres|sqlite]
# Instructions per GET image under valgrind's callgrind (scripts/load/callgrind.py): direct-postgres,
# registry-proxy (api + registry), the bare baseline in both shapes and the forwarding pair.
#   scripts/loadtest.sh --instructions [--count 1000] [--warmup 300] [--json FILE] [--env NAME=VALUE ...] [--keep]
# GET image's SQL alone under pgbench, against the bare baseline's select (scripts/load/pgbench.py).
#   scripts/loadtest.sh --pgbench [--rounds 5] [--duration 10] [--clients 8]
# Uploads and downloads through the S3 store against a bare object_store client, and peak RSS
# during a 1 GiB upload (scripts/load/s3.py), on one Garage node (tests/s3/lib.sh).
#   scripts/loadtest.sh --s3 [--rounds 5] [--size-mib 256] [--part-mib 10] [--rss-mib 1024] [--pin] [--rss-only]
# The soak (scripts/load/soak.py): mixed load for 30 minutes with Prometheus scraping /metrics;
# RSS, open files, database connections and latency over time, judged flat; docs/soak.{json,svg}.
#   scripts/loadtest.sh --soak [--minutes 30] [--warmup 5] [--window 5] [--upload-mib 64]
# Memory of a glance-api nobody scrapes under create+patch+delete (scripts/load/unscraped.py).
#   scripts/loadtest.sh --unscraped [--seconds 120] [--scrape]
# PostgreSQL: GLANCE_TEST_DATABASE_URL if set, else a throwaway cluster (scripts/pg-throwaway.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh wrk=wrk
if [ "${1:-}" = --scale ]; then
  cargo build --release --all-features --bin glance-api
  exec python3 scripts/load/scale.py "$@"
fi
if [ "${1:-}" = --unscraped ]; then
  cargo build --release --all-features --bin glance-api
  exec python3 scripts/load/unscraped.py "$@"
fi
if [ "${1:-}" = --soak ]; then
  cargo build --release --all-features --bin glance-api
  exec python3 scripts/load/soak.py "$@"
fi
if [ "${1:-}" = --connection-profile ]; then
  cargo build --release --all-features --bin glance-api
  exec python3 scripts/load/connections.py "$@"
fi
cargo build --release --all-features --bins --example baseline --example hash_baseline \
  --example image_select_sql --example s3_baseline --example forward_baseline
if [ "${1:-}" = --s3 ]; then
  source tests/s3/lib.sh
  trap s3_down EXIT
  s3_up
  python3 scripts/load/s3.py "$@"
  exit
fi
if [ "${1:-}" = --pgbench ]; then
  exec python3 scripts/load/pgbench.py "$@"
fi
if [ "${1:-}" = --instructions ]; then
  scripts/ensure-deps.sh valgrind=valgrind
  exec python3 scripts/load/callgrind.py "$@"
fi
if [ "${1:-}" = --imports-only ] || [ "${1:-}" = --side-by-side-only ]; then
  exec python3 scripts/load/run.py "$@"
fi
source tests/keystone/lib.sh
trap keystone_down EXIT
keystone_up
python3 scripts/load/run.py "$@"
