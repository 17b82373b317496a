#!/usr/bin/env bash
# Every test: unit tests, the data-access conformance suite on SQLite, PostgreSQL (a throwaway
# cluster unless GLANCE_TEST_DATABASE_URL is set) and through glance-registry, the API tests
# and the Gherkin features, then real OpenStack clients against the running binary
# (tests/clients/run-all.sh; needs PyPI once for its venv). Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
cargo test --all-features "$@"
tests/clients/run-all.sh
