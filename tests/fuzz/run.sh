#!/usr/bin/env bash
# Run the inspector's fuzz targets (issue 14), each for SECONDS (default 600), one after the
# other, from seed corpora of real images (seed.sh) kept and grown under
# ~/.cache/glance-rs/fuzz-corpus/TARGET. Installs the nightly toolchain and cargo-fuzz when
# missing. A finding stops the run: libFuzzer prints the panic and writes the input under
# tests/fuzz/artifacts/TARGET/ (replay: cargo +nightly fuzz run --fuzz-dir tests/fuzz TARGET FILE).
# Usage: tests/fuzz/run.sh [SECONDS] [TARGET...]   (default: every target)
# Prints one line per target: executions, corpus size, seconds.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SECONDS_EACH=${1:-600}
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(qcow2 qed vhd vhdx vmdk vdi iso gpt luks)
fi
"$ROOT/scripts/ensure-deps.sh" # qemu-img, genisoimage, sgdisk, sfdisk for the seeds
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
CORPUS="${XDG_CACHE_HOME:-$HOME/.cache}/glance-rs/fuzz-corpus"
"$HERE/seed.sh" "$CORPUS"
LOGS="$(mktemp -d)"
cd "$ROOT"
cargo +nightly fuzz build --fuzz-dir tests/fuzz
for target in "${TARGETS[@]}"; do
  # -max_len: every seed is cut to 1 MiB; -rss_limit_mb: the inspector holds ~1.3 MB at most,
  # so 512 MB means a leak or an unbounded table; -timeout: one input may not take 10 s.
  if ! cargo +nightly fuzz run --fuzz-dir tests/fuzz "$target" "$CORPUS/$target" -- \
    -max_total_time="$SECONDS_EACH" -max_len=1048576 -rss_limit_mb=512 -timeout=10 \
    -print_final_stats=1 >"$LOGS/$target.log" 2>&1; then
    tail -n 60 "$LOGS/$target.log"
    echo "fuzz: $target FOUND A PROBLEM (log above; input under tests/fuzz/artifacts/$target/)" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$LOGS/$target.log" | grep -o '[0-9]*$' || echo '?')
  echo "fuzz: $target: $runs executions in ${SECONDS_EACH}s, $(ls "$CORPUS/$target" | wc -l) inputs in its corpus, no finding"
done
