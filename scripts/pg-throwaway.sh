#!/usr/bin/env bash
# A throwaway PostgreSQL cluster in a temp dir on a free loopback port, for the load test.
#   scripts/pg-throwaway.sh start DIR   -> prints the connection URL
#   scripts/pg-throwaway.sh stop DIR
# PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user.
# PG_THROWAWAY_OPTIONS adds server options, e.g. to see the plans of slow statements:
#   PG_THROWAWAY_OPTIONS="-c shared_preload_libraries=auto_explain -c auto_explain.log_min_duration=5ms"
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:?directory}

bin=$(dirname "$(command -v initdb 2>/dev/null || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n1)")
if [ ! -x "$bin/initdb" ]; then
  echo "PostgreSQL server binaries not found: install the Debian package postgresql" >&2
  exit 1
fi
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$cmd" in
  start)
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
      chown postgres "$dir"
      # The postgres user must be able to reach the folder (mktemp makes parents 0700).
      chmod a+x "$(dirname "$dir")"
    fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust >/dev/null
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c synchronous_commit=off ${PG_THROWAWAY_OPTIONS:-}" start >/dev/null
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
    ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
