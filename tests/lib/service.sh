# Shell helpers shared by the scripts that install and run real OpenStack services for the
# tests (tests/keystone/, tests/glance/). Source it; it defines functions only.

# venv_has_pins PYTHON REQ...: true when the venv's PYTHON has every `name==version` REQ.
venv_has_pins() {
    local python="$1"
    shift
    "$python" - "$@" 2>/dev/null <<'PY'
import sys
from importlib.metadata import version
for req in sys.argv[1:]:
    name, ver = req.split("==")
    if version(name) != ver:
        sys.exit(1)
PY
}

# venv_install VENV CONSTRAINTS REQ...: make VENV (with $PYTHON or python3) and install the
# pinned REQs under CONSTRAINTS, unless they are there already (then it takes about a second).
# Fails (non-zero) when the venv or an install fails.
venv_install() {
    local venv="$1" constraints="$2"
    shift 2
    [ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv" || return 1
    venv_has_pins "$venv/bin/python" "$@" && return 0
    "$venv/bin/pip" install -q --upgrade pip || return 1
    "$venv/bin/pip" install -q -c "$constraints" "$@" || return 1
}

# stop_by_pidfile PIDFILE: SIGTERM the process PIDFILE names, SIGKILL after 30 s; remove the
# file. Nothing running is not an error.
stop_by_pidfile() {
    local pidfile="$1" pid
    if [ ! -f "$pidfile" ]; then
        echo "no $pidfile: not running?"
        return 0
    fi
    pid="$(cat "$pidfile")"
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "pid $pid not running"
        rm -f "$pidfile"
        return 0
    fi
    kill -TERM "$pid"
    for _ in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; echo "stopped pid $pid"; return 0; }
        sleep 0.5
    done
    echo "pid $pid still alive after 30 s, sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null
    rm -f "$pidfile"
}
