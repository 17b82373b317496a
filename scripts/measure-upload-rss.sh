#!/usr/bin/env bash
# Peak RSS (VmHWM) of a release glance-api while it receives and serves a 1 GiB image.
#   cargo build --release && scripts/measure-upload-rss.sh
set -euo pipefail
D=${MEASURE_DIR:-/tmp/glance-rss}
BIN=${GLANCE_API_BIN:-$(dirname "$0")/../target/release/glance-api}
rm -rf "$D/db" "$D/images"; mkdir -p "$D/db"
export GLANCE__DATABASE__URL=sqlite:///$D/db/glance.db GLANCE__STORE__PATH=$D/images
export GLANCE__SERVER__BIND=127.0.0.1:19292 RUST_LOG=warn
[ -f "$D/data.bin" ] || head -c 1073741824 /dev/urandom > "$D/data.bin"
"$BIN" & PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf http://127.0.0.1:19292/healthcheck >/dev/null && break; sleep 0.1; done
ID=$(curl -sf -X POST http://127.0.0.1:19292/v2/images -H 'Content-Type: application/json' \
  -d '{"name": "big", "disk_format": "raw", "container_format": "bare"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "idle: $(grep VmHWM /proc/$PID/status)"
curl -s -o /dev/null -w 'upload %{http_code} %{time_total}s\n' -T "$D/data.bin" -H 'Content-Type: application/octet-stream' "http://127.0.0.1:19292/v2/images/$ID/file"
echo "after upload: $(grep VmHWM /proc/$PID/status)"
curl -s -o "$D/out.bin" -w 'download %{http_code} %{size_download} bytes %{time_total}s\n' "http://127.0.0.1:19292/v2/images/$ID/file"
echo "after download: $(grep VmHWM /proc/$PID/status)"
cmp "$D/data.bin" "$D/out.bin" && echo "download byte-identical"
echo "md5 of the data: $(md5sum "$D/data.bin" | cut -c1-32)"
curl -s "http://127.0.0.1:19292/v2/images/$ID" | python3 -c 'import json,sys; i=json.load(sys.stdin); print("image:", i["status"], i["size"], i["checksum"])'
rm -f "$D/out.bin"
