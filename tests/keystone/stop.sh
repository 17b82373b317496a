#!/usr/bin/env bash
# Stop the Keystone started by start.sh, by the PID in
# $KEYSTONE_HOME/run/keystone.pid (or $KEYSTONE_HOME/$KEYSTONE_RUN/keystone.pid).
# Usage: ./stop.sh
set -uo pipefail
KEYSTONE_HOME="${KEYSTONE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/glance-rs/keystone}"
RUN="${KEYSTONE_RUN_DIR:-$KEYSTONE_HOME/${KEYSTONE_RUN:-run}}"
PIDFILE="$RUN/keystone.pid"
# shellcheck source=../lib/service.sh
. "$(dirname "$0")/../lib/service.sh"
stop_by_pidfile "$PIDFILE"
