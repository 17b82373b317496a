#!/usr/bin/env bash
# Upload throughput with content inspection against without it, side by side in one run, and
# the peak RSS of glance-api meanwhile. Glance inspects only bare images, so the same data is
# uploaded as container_format=bare (inspected) and =ovf (not inspected), alternating rounds;
# medians of each. Sizes 64 MiB and 1 GiB (random data, disk_format=raw).
#   cargo build --release && scripts/measure-inspection.sh [ROUNDS_64M] [ROUNDS_1G]
set -euo pipefail
D=${MEASURE_DIR:-/tmp/glance-inspect-measure}
BIN=${GLANCE_API_BIN:-$(dirname "$0")/../target/release/glance-api}
R64=${1:-7}
R1G=${2:-3}
PORT=19392
rm -rf "$D/db" "$D/images"; mkdir -p "$D/db"
export GLANCE__DATABASE__URL=sqlite:///$D/db/glance.db GLANCE__STORE__PATH=$D/images
export GLANCE__SERVER__BIND=127.0.0.1:$PORT RUST_LOG=warn
[ -f "$D/64m.bin" ] || head -c 67108864 /dev/urandom >"$D/64m.bin"
[ -f "$D/1g.bin" ] || head -c 1073741824 /dev/urandom >"$D/1g.bin"
"$BIN" & PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
API=http://127.0.0.1:$PORT
for _ in $(seq 50); do curl -sf $API/healthcheck >/dev/null && break; sleep 0.1; done

# Seconds to upload FILE as a new raw image in CONTAINER; the image is deleted afterwards.
upload() { # FILE CONTAINER
  local id t
  id=$(curl -sf -X POST $API/v2/images -H 'Content-Type: application/json' \
    -d "{\"disk_format\": \"raw\", \"container_format\": \"$2\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -T "$1" \
    -H 'Content-Type: application/octet-stream' "$API/v2/images/$id/file")
  [ "${t%% *}" = 204 ] || { echo "upload failed: $t" >&2; exit 1; }
  curl -sf -X DELETE "$API/v2/images/$id" >/dev/null
  echo "${t#* }"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

for spec in "64m.bin $R64 64" "1g.bin $R1G 1024"; do
  set -- $spec
  : >"$D/on" && : >"$D/off"
  for round in $(seq "$2"); do
    # Alternate which goes first, so drift on a shared machine hits both sides alike.
    if [ $((round % 2)) = 1 ]; then
      upload "$D/$1" bare >>"$D/on"; upload "$D/$1" ovf >>"$D/off"
    else
      upload "$D/$1" ovf >>"$D/off"; upload "$D/$1" bare >>"$D/on"
    fi
  done
  on=$(median <"$D/on"); off=$(median <"$D/off")
  awk -v mib="$3" -v on="$on" -v off="$off" -v n="$2" 'BEGIN {
    printf "%5d MiB x %d rounds: inspected %.0f MiB/s (median %.3fs), not inspected %.0f MiB/s (median %.3fs), ratio %.3f\n",
      mib, n, mib / on, on, mib / off, off, off / on }'
done
echo "peak RSS of glance-api over the run: $(grep VmHWM /proc/$PID/status | awk '{printf "%.1f MiB", $2/1024}')"
