#!/usr/bin/env bash
# Stop the Glance started by start.sh, by the PID in
# $GLANCE_HOME/run/glance.pid (or $GLANCE_HOME/$GLANCE_RUN/glance.pid).
# Usage: ./stop.sh
set -uo pipefail
GLANCE_HOME="${GLANCE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/glance-rs/real-glance}"
RUN="$GLANCE_HOME/${GLANCE_RUN:-run}"
PIDFILE="$RUN/glance.pid"
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
