#!/usr/bin/env bash
# Profile-guided release build of glance-api and glance-registry (and the load test's
# baselines, so a comparison stays fair): build them instrumented, run them under a training
# load on a throwaway PostgreSQL (GET image, lists, create+patch+delete, uploads and downloads,
# direct-postgres, direct-sqlite and registry-proxy), merge the profiles, and build again with
# them. About 20 minutes on 2 cores; the binaries land in target/pgo/release.
#   scripts/build-pgo.sh [--train-seconds N]
# Compare with the plain release build, side by side in one run (both built from this tree):
#   GLANCE_LOAD_BIN=target/pgo/release GLANCE_LOAD_BEFORE_BIN=target/release \
#     scripts/loadtest.sh --side-by-side-only --rounds 7 --duration 5
# Needs rustup's llvm-tools component (installed here if missing) for llvm-profdata, whose LLVM
# must be rustc's.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
train_seconds=6
while [ $# -gt 0 ]; do
  case "$1" in
    --train-seconds) train_seconds=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
scripts/ensure-deps.sh wrk=wrk

host=$(rustc -vV | sed -n 's/^host: //p')
profdata="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"
if [ ! -x "$profdata" ]; then
  rustup component add llvm-tools-preview
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  scripts/pg-throwaway.sh stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

targets=(--bin glance-api --bin glance-registry --example baseline --example forward_baseline)
# A fixed path: RUSTFLAGS name it, and cargo rebuilds everything when RUSTFLAGS change.
profiles="$root/target/pgo-gen/profiles"
echo "== instrumented build (target/pgo-gen)"
RUSTFLAGS="-Cprofile-generate=$profiles" CARGO_TARGET_DIR="$root/target/pgo-gen" \
  cargo build --release --all-features "${targets[@]}"
gen="$root/target/pgo-gen/release"

echo "== training load"
# Only this run's profiles (the build's own build scripts wrote some too).
rm -rf "$profiles"
mkdir -p "$profiles"
admin_url=$(scripts/pg-throwaway.sh start "$work/pg")
base_url=${admin_url%/postgres}
psql -q "$admin_url" -c "CREATE DATABASE train" >/dev/null
db="$base_url/train"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export RUST_LOG=warn
GLANCE__DATA_ACCESS__MODE=direct-postgres GLANCE__DATABASE__URL="$db" "$gen/glance-api" db-sync >/dev/null
start() {  # start NAME PORT ENV... -- COMMAND...
  local name=$1 port=$2; shift 2
  local env=()
  while [ "$1" != -- ]; do env+=("$1"); shift; done
  shift
  env "${env[@]}" "$@" > "$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
    sleep 0.1
  done
  echo "$name did not start; its log:" >&2
  cat "$work/$name.log" >&2
  return 1
}
direct=$(free_port); registry=$(free_port); proxy=$(free_port); sqlite=$(free_port)
bare=$(free_port); forward=$(free_port)
start direct "$direct" GLANCE__SERVER__BIND=127.0.0.1:$direct GLANCE__DATA_ACCESS__MODE=direct-postgres \
  GLANCE__DATABASE__URL="$db" GLANCE__STORE__PATH="$work/images" -- "$gen/glance-api"
start registry "$registry" GLANCE__SERVER__BIND=127.0.0.1:$registry GLANCE__DATA_ACCESS__MODE=direct-postgres \
  GLANCE__DATABASE__URL="$db" GLANCE__REGISTRY__TOKEN=train -- "$gen/glance-registry"
start proxy "$proxy" GLANCE__SERVER__BIND=127.0.0.1:$proxy GLANCE__DATA_ACCESS__MODE=registry-proxy \
  GLANCE__REGISTRY__URL=http://127.0.0.1:$registry GLANCE__REGISTRY__TOKEN=train \
  GLANCE__STORE__PATH="$work/images" -- "$gen/glance-api"
start sqlite "$sqlite" GLANCE__SERVER__BIND=127.0.0.1:$sqlite GLANCE__DATA_ACCESS__MODE=direct-sqlite \
  GLANCE__DATABASE__URL="sqlite://$work/train.db" GLANCE__STORE__PATH="$work/sqlite-images" -- "$gen/glance-api"
start bare "$bare" X=1 -- "$gen/examples/baseline" "127.0.0.1:$bare" "$db" full
start forward "$forward" X=1 -- "$gen/examples/forward_baseline" "127.0.0.1:$forward" "127.0.0.1:$bare"

dd if=/dev/urandom of="$work/data" bs=1M count=8 status=none
for node in "$direct" "$proxy" "$sqlite"; do
  for i in $(seq 20); do
    id=$(curl -sf -X POST "http://127.0.0.1:$node/v2/images" -H 'Content-Type: application/json' \
      -d "{\"name\": \"train-$i\", \"disk_format\": \"raw\", \"container_format\": \"bare\", \"tags\": [\"t$i\"], \"hw_disk_bus\": \"virtio\"}" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
    curl -sf -X PATCH "http://127.0.0.1:$node/v2/images/$id" \
      -H 'Content-Type: application/openstack-images-v2.1-json-patch' \
      -d '[{"op": "add", "path": "/os_distro", "value": "cirros"}]' >/dev/null
    if [ "$i" -le 3 ]; then
      curl -sf -X PUT "http://127.0.0.1:$node/v2/images/$id/file" \
        -H 'Content-Type: application/octet-stream' --data-binary @"$work/data" >/dev/null
      curl -sf "http://127.0.0.1:$node/v2/images/$id/file" -o /dev/null
    fi
    if [ "$i" -gt 15 ]; then
      curl -sf -X DELETE "http://127.0.0.1:$node/v2/images/$id" >/dev/null
    fi
  done
done
id=$(curl -sf "http://127.0.0.1:$direct/v2/images?limit=1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["images"][0]["id"])')
sqlite_id=$(curl -sf "http://127.0.0.1:$sqlite/v2/images?limit=1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["images"][0]["id"])')
drive() {
  local rate
  rate=$(wrk -t1 -c32 -d"${train_seconds}s" "$1" | awk '/^Requests\/sec:/ {print $2}')
  echo "  $rate req/s  $1"
}
for node in "$direct" "$proxy" "$bare" "$forward"; do
  drive "http://127.0.0.1:$node/v2/images/$id"
done
drive "http://127.0.0.1:$sqlite/v2/images/$sqlite_id"
for node in "$direct" "$proxy" "$sqlite"; do
  drive "http://127.0.0.1:$node/v2/images?limit=20"
  drive "http://127.0.0.1:$node/v2/images?limit=5&sort=name:asc&tag=t3"
done
# The profiles are written when the processes exit.
for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
pids=()
"$profdata" merge -o "$work/merged.profdata" "$profiles"
# Named by its digest: cargo rebuilds when RUSTFLAGS change, not when a file they name does.
mkdir -p target/pgo
profile="$root/target/pgo/merged-$(sha256sum "$work/merged.profdata" | cut -c1-16).profdata"
cp "$work/merged.profdata" "$profile"

echo "== optimized build (target/pgo)"
RUSTFLAGS="-Cprofile-use=$profile" CARGO_TARGET_DIR="$root/target/pgo" \
  cargo build --release --all-features "${targets[@]}"
echo "profile-guided binaries: target/pgo/release/glance-api, target/pgo/release/glance-registry"
