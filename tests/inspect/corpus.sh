#!/usr/bin/env bash
# The image-inspection corpus check (issue 14): build images with real tools (qemu-img in every
# format and sub-format it writes, genisoimage, sgdisk, sfdisk) and check that glance-api's
# inspector (`glance-api inspect`) reaches the same verdict and virtual size as Glance's own
# (oslo.utils' format_inspector driven as glance/location.py drives it) for every image under
# every disk_format. Differences fail unless tests/inspect/checker.py lists them as documented
# in docs/compatibility.md.
# Usage: tests/inspect/corpus.sh [path/to/glance-api]   (default: target/debug/glance-api)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="$(realpath "${1:-$ROOT/target/debug/glance-api}")"
OSLO_UTILS_VERSION=10.2.0 # the version Glance 33 is tested with (shared/real-glance constraints)
CRYPTOGRAPHY_VERSION=50.0.2 # its LUKS support needs it (same constraints)
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/glance-rs/oslo-utils-$OSLO_UTILS_VERSION"

if ! "$VENV/bin/python" -c "import oslo_utils.imageutils.format_inspector" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "oslo.utils==$OSLO_UTILS_VERSION" "cryptography==$CRYPTOGRAPHY_VERSION"
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
q() { qemu-img "$@" >/dev/null; }

head -c 3M /dev/urandom >random.raw
q create -f raw base.raw 8M
q create -f qcow2 -o compat=0.10 qcow2-v2.qcow2 64M
q create -f qcow2 -o compat=1.1 qcow2-v3.qcow2 64M
q create -f qcow2 -o compat=1.1,extended_l2=on qcow2-extended-l2.qcow2 64M
q convert -c -O qcow2 random.raw qcow2-compressed.qcow2
q create -f qcow2 -o data_file=qcow2-data.bin qcow2-data-file.qcow2 16M
q create -f qcow2 -b base.raw -F raw qcow2-backing.qcow2
for sub in monolithicSparse streamOptimized monolithicFlat twoGbMaxExtentSparse; do
  q create -f vmdk -o subformat=$sub vmdk-$sub.vmdk 32M
done
q convert -O vmdk -o subformat=streamOptimized random.raw vmdk-stream-data.vmdk
q create -f vpc vpc.vhd 32M
q create -f vpc -o subformat=fixed vpc-fixed.vhd 8M
q create -f vhdx vhdx.vhdx 32M
q create -f vdi vdi.vdi 32M
q create -f qed qed.qed 32M
q create -f luks --object secret,id=s0,data=secret -o key-secret=s0,iter-time=10 luks.luks 8M
mkdir -p iso-root && echo hello >iso-root/hello.txt
genisoimage -quiet -o iso.iso iso-root
# A bootable-as-disk ISO: a partition table in front of the volume descriptors.
cp iso.iso iso-mbr.iso && echo 'start=1, type=ee' | sfdisk -q iso-mbr.iso >/dev/null 2>&1
cp base.raw gpt.raw && sgdisk -n 1:2048:0 gpt.raw >/dev/null 2>&1
cp base.raw mbr.raw && echo 'start=2048, type=83' | sfdisk -q mbr.raw >/dev/null
rm -rf iso-root base.raw qcow2-data.bin vmdk-monolithicFlat-flat.vmdk vmdk-twoGbMaxExtentSparse-s001.vmdk

"$BIN" inspect ./* >ours.jsonl
"$VENV/bin/python" "$HERE/checker.py" ours.jsonl ./*
