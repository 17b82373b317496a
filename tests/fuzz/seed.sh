#!/usr/bin/env bash
# Seed corpora for the fuzz targets: real images of each format made by the real tools (as the
# inspection corpus, tests/inspect/corpus.sh), cut to their first MiB (the fuzzers' -max_len;
# every header and table the inspector reads of these images lies within it).
# Usage: tests/fuzz/seed.sh CORPUS_DIR   (writes CORPUS_DIR/TARGET/*; keeps what is there)
set -euo pipefail
OUT="$(realpath -m "$1")"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
q() { qemu-img "$@" >/dev/null; }
seed() { # TARGET FILE...
  local target=$1 file
  shift
  mkdir -p "$OUT/$target"
  for file in "$@"; do
    head -c 1M "$file" >"$OUT/$target/seed-$(basename "$file")"
  done
}

head -c 64K /dev/urandom >random.raw
q create -f raw base.raw 4M
q create -f qcow2 -o compat=0.10 v2.qcow2 64M
q create -f qcow2 -o compat=1.1 v3.qcow2 64M
q create -f qcow2 -o compat=1.1,extended_l2=on l2.qcow2 64M
q convert -c -O qcow2 random.raw compressed.qcow2
q create -f qcow2 -o data_file=data.bin data-file.qcow2 16M
q create -f qcow2 -b base.raw -F raw backing.qcow2
seed qcow2 v2.qcow2 v3.qcow2 l2.qcow2 compressed.qcow2 data-file.qcow2 backing.qcow2
q create -f qed qed.qed 32M
seed qed qed.qed
q create -f vpc dynamic.vhd 32M
q create -f vpc -o subformat=fixed fixed.vhd 1M # its footer is its last 512 bytes
head -c 1048064 fixed.vhd >fixed-cut.vhd && tail -c 512 fixed.vhd >>fixed-cut.vhd
seed vhd dynamic.vhd fixed-cut.vhd
q create -f vhdx vhdx.vhdx 32M
seed vhdx vhdx.vhdx
for sub in monolithicSparse streamOptimized monolithicFlat twoGbMaxExtentSparse; do
  q create -f vmdk -o subformat=$sub $sub.vmdk 32M
done
q convert -O vmdk -o subformat=streamOptimized random.raw stream-data.vmdk
seed vmdk monolithicSparse.vmdk streamOptimized.vmdk monolithicFlat.vmdk \
  twoGbMaxExtentSparse.vmdk stream-data.vmdk
q create -f vdi vdi.vdi 32M
seed vdi vdi.vdi
mkdir -p iso-root && echo hello >iso-root/hello.txt
genisoimage -quiet -o iso.iso iso-root
cp iso.iso iso-mbr.iso && echo 'start=1, type=ee' | sfdisk -q iso-mbr.iso >/dev/null 2>&1
seed iso iso.iso iso-mbr.iso
cp base.raw gpt.raw && sgdisk -n 1:2048:0 gpt.raw >/dev/null 2>&1
cp base.raw mbr.raw && echo 'start=2048, type=83' | sfdisk -q mbr.raw >/dev/null
seed gpt gpt.raw mbr.raw
q create -f luks --object secret,id=s0,data=secret -o key-secret=s0,iter-time=10 luks.luks 8M
seed luks luks.luks
