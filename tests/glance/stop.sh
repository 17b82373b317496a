#!/usr/bin/env bash
# Stop the Glance started by start.sh, by the PID in
# $GLANCE_HOME/run/glance.pid (or $GLANCE_HOME/$GLANCE_RUN/glance.pid).
# Usage: ./stop.sh
set -uo pipefail
GLANCE_HOME="${GLANCE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/glance-rs/real-glance}"
RUN="$GLANCE_HOME/${GLANCE_RUN:-run}"
PIDFILE="$RUN/glance.pid"
# shellcheck source=../lib/service.sh
. "$(dirname "$0")/../lib/service.sh"
stop_by_pidfile "$PIDFILE"
