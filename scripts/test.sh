#!/usr/bin/env bash
# Every test: unit tests; the data-access conformance suite on SQLite, on PostgreSQL (a throwaway
# cluster unless GLANCE_TEST_DATABASE_URL is set) and through a real glance-registry; the API
# tests, the Gherkin features and the hostile-input suite in every mode (GLANCE_TEST_MODE):
# direct-sqlite, direct-postgres, and through the registry over SQLite (registry-proxy) and over
# PostgreSQL (registry-proxy-postgres); an unknown GLANCE_TEST_MODE fails the tests.
# The first run includes the registry's transparency test (one scenario, direct node = proxy
# node, on SQLite and PostgreSQL) and the rolling-upgrade test of docs/upgrade.md. Then real OpenStack clients against the running
# binary in every mode (tests/clients/run-all.sh; needs PyPI once for its venv), with static
# tokens and through a real Keystone (started once, first; tests/keystone/lib.sh). Once: the
# image-inspection corpus against Glance's own inspector (tests/inspect/corpus.sh), and the
# drop-in test with a real Glance 33 (tests/glance/takeover.sh; PyPI once for its venv).
# The S3 store (a real Garage, tests/s3/lib.sh) in the first run; then, once and on
# direct-sqlite only, the API tests with S3 as the default store (GLANCE_TEST_STORE=s3), and
# the fault test of three API nodes on a three-node Garage (tests/deployment/fault.sh).
# Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh

# One real Keystone for the whole run (tests/keystone/: venv cached under
# ~/.cache/glance-rs/keystone, state in a temp dir, a free loopback port): the keystone auth
# tests of every mode and the client suite use it (GLANCE_TEST_KEYSTONE_URL).
source tests/keystone/lib.sh
# One real S3 server (Garage, tests/s3/lib.sh: built once with cargo install into
# ~/.cache/glance-rs/garage, about 500 s on 2 cores the first time; one node on free loopback
# ports, state in a temp dir): the S3 store tests and the API tests on S3 use it
# (GLANCE_TEST_S3_*).
source tests/s3/lib.sh
trap 'keystone_down; s3_down' EXIT
keystone_up
s3_up

# Each name filter must match at least one test: a renamed or moved test must not drop out of
# a mode unnoticed (cargo test runs zero tests for a filter that matches none, and passes).
require_tests() { # TARGET FILTER...
  local target=$1 filter found
  shift
  for filter in "$@"; do
    found=$(cargo test -q --all-features --test "$target" -- --list "$filter" 2>/dev/null |
      grep -c ': test$' || true)
    if [ "$found" -eq 0 ]; then
      echo "scripts/test.sh: no test in $target matches '$filter'" >&2
      exit 1
    fi
  done
}

echo "== all tests (API and features on direct-sqlite)"
env -u GLANCE_TEST_MODE cargo test --all-features "$@"

echo "== API tests with image data on S3 (a real Garage; once, on direct-sqlite)"
# Every API test with S3 as the default store; api::stores with file + S3 (its second store is
# the S3 one in this run).
GLANCE_TEST_STORE=s3 cargo test --all-features --test integration "$@" api::

echo "== deployment with faults: 3 glance-api nodes and a 3-node Garage behind haproxy, nodes killed under load"
# Once (direct-postgres is its mode): docs/deployment.md §4, from config/*.example.* files.
tests/deployment/fault.sh

echo "== image inspection corpus: qemu-img, genisoimage, sgdisk, sfdisk images vs Glance's inspector"
# Once per run (no data-access mode involved); the oslo.utils venv is cached under
# ~/.cache/glance-rs/.
cargo build -q --all-features --bin glance-api
tests/inspect/corpus.sh target/debug/glance-api

# The same API tests, hostile inputs and features on PostgreSQL, and through a real
# glance-registry over SQLite and over PostgreSQL.
hostile=(hostile::hostile_inputs hostile::corrupt_chunked)
require_tests integration api:: "${hostile[@]}"
for mode in direct-postgres registry-proxy registry-proxy-postgres; do
  echo "== API tests and features with GLANCE_TEST_MODE=$mode"
  GLANCE_TEST_MODE=$mode cargo test --all-features --test integration "$@" api::
  # The hostile-input suite (thousands of malformed requests) against this mode too.
  GLANCE_TEST_MODE=$mode cargo test --all-features --test integration "$@" -- "${hostile[@]}"
  GLANCE_TEST_MODE=$mode cargo test --all-features --test bdd "$@"
done

echo "== real clients (python-glanceclient, openstacksdk, openstack CLI)"
tests/clients/run-all.sh

# Once per run (not per mode): the Glance 33 venv is cached under ~/.cache/glance-rs/.
echo "== drop-in: real Glance 33 and glance-api on one database and store (PostgreSQL, SQLite)"
tests/glance/takeover.sh

# Last, alone: it stops and restarts the shared Keystone (cached tokens through the outage,
# 503 for new ones, recovery; then really expired tokens with and without X-Service-Token).
echo "== Keystone restarted under a running glance-api; expired tokens and X-Service-Token"
require_tests integration keystone_restart
cargo test --all-features --test integration "$@" -- --ignored keystone_restart
