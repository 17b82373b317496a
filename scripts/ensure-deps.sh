#!/usr/bin/env bash
# Installs what the tests need and a fresh Debian machine may lack: python3, python3-venv and
# curl (the client suite's venv, the real Keystone, the fixtures' record scripts), PostgreSQL's
# server binaries (the tests start a throwaway cluster with initdb/pg_ctl unless
# GLANCE_TEST_DATABASE_URL is set), Prometheus (promtool and the end-to-end metrics test), what
# the real Keystone's and Glance's venvs build with (uWSGI from source), and qemu-utils,
# genisoimage, gdisk and fdisk (the image inspection corpus), make and file (Garage's build), procps (kill). Nothing only the load test needs: scripts/loadtest.sh asks for wrk itself,
# as an extra COMMAND=PACKAGE argument (installed when COMMAND is missing).
# Safe to run again: installs only what is missing.
set -euo pipefail

missing=()
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v curl >/dev/null 2>&1 || missing+=(curl)
for extra in "$@"; do
  command -v "${extra%%=*}" >/dev/null 2>&1 || missing+=("${extra#*=}")
done
# The real Keystone of tests/keystone/ and the real Glance of tests/glance/ (uWSGI is built
# from source by pip).
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
# Garage (tests/s3/lib.sh, cargo install): libsodium-sys runs libsodium's configure, which
# needs make and file (a debootstrap minbase bookworm has neither).
command -v make >/dev/null 2>&1 || missing+=(make)
command -v file >/dev/null 2>&1 || missing+=(file)
# The kill binary (procps; bash's builtin is not one): tests signal servers with it.
type -P kill >/dev/null 2>&1 || missing+=(procps)
command -v python3 >/dev/null 2>&1 && python3 -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || missing+=(python3-dev)
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)  # also without python3
# Image inspection tests: qemu-img builds the corpus, genisoimage and sfdisk/sgdisk the ISO
# and partitioned images.
command -v qemu-img >/dev/null 2>&1 || missing+=(qemu-utils)
# The drop-in test's mixed fleet: real Glance and glance-api behind one haproxy address.
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
command -v genisoimage >/dev/null 2>&1 || missing+=(genisoimage)
command -v sgdisk >/dev/null 2>&1 || missing+=(gdisk)
command -v sfdisk >/dev/null 2>&1 || missing+=(fdisk)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "missing Debian packages: ${missing[*]} — install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends keeps prometheus from pulling in its node exporter and friends.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
