#!/usr/bin/env bash
# Stop the Keystone started by start.sh, by the PID in
# $KEYSTONE_HOME/run/keystone.pid (or $KEYSTONE_HOME/$KEYSTONE_RUN/keystone.pid).
# Usage: ./stop.sh
set -uo pipefail
KEYSTONE_HOME="${KEYSTONE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/glance-rs/keystone}"
RUN="${KEYSTONE_RUN_DIR:-$KEYSTONE_HOME/${KEYSTONE_RUN:-run}}"
PIDFILE="$RUN/keystone.pid"
if [ ! -f "$PIDFILE" ]; then
    echo "no $PIDFILE: not running?"
    exit 0
fi
PID="$(cat "$PIDFILE")"
if ! kill -0 "$PID" 2>/dev/null; then
    echo "pid $PID not running"
    rm -f "$PIDFILE"
    exit 0
fi
kill -TERM "$PID"
for _ in $(seq 1 60); do
    kill -0 "$PID" 2>/dev/null || { rm -f "$PIDFILE"; echo "stopped pid $PID"; exit 0; }
    sleep 0.5
done
echo "pid $PID still alive after 30 s, sending SIGKILL" >&2
kill -KILL "$PID" 2>/dev/null
rm -f "$PIDFILE"
