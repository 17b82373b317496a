#!/bin/bash
# Measure glance-api's peak RSS (VmHWM) while uploading and downloading a 1 GiB image.
set -e
D=${MEASURE_DIR:-/tmp/glance-rss}
BIN=${GLANCE_API_BIN:-$(dirname "$0")/../target/release/glance-api}
rm -rf $D/db $D/images; mkdir -p $D/db
export GLANCE__DATABASE__URL=sqlite:///$D/db/glance.db GLANCE__STORE__PATH=$D/images
export GLANCE__SERVER__BIND=127.0.0.1:19292 GLANCE__SERVER__WORKERS=2 RUST_LOG=warn
[ -f $D/data.bin ] || head -c 1073741824 /dev/urandom > $D/data.bin
$BIN & PID=$!
sleep 1
ID=$(python3 -c 'import uuid; print(uuid.uuid4())')
python3 - "$D/db/glance.db" "$ID" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("INSERT INTO images (id, name, status, visibility, disk_format, container_format, created_at, updated_at) VALUES (?, 'big', 'queued', 'private', 'raw', 'bare', '2026-11-27 16:00:00.000000', '2026-11-27 16:00:00.000000')", (sys.argv[2],))
c.commit()
PY
grep VmHWM /proc/$PID/status
curl -s -o /dev/null -w 'upload %{http_code} %{time_total}s\n' -T $D/data.bin -H 'Content-Type: application/octet-stream' http://127.0.0.1:19292/v2/images/$ID/file
grep VmHWM /proc/$PID/status
curl -s -o $D/out.bin -w 'download %{http_code} %{size_download} bytes %{time_total}s\n' http://127.0.0.1:19292/v2/images/$ID/file
grep VmHWM /proc/$PID/status
cmp $D/data.bin $D/out.bin && echo "download byte-identical"
md5sum $D/data.bin | cut -c1-32; python3 -c "import sqlite3;print(sqlite3.connect('$D/db/glance.db').execute('select status,size,checksum from images').fetchall())"
kill $PID; wait $PID 2>/dev/null || true
rm -f $D/out.bin
