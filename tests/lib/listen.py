#!/usr/bin/env python3
"""Start COMMAND on listening sockets bound here first, so no other process can take a port
between the pick and the bind (probing a port free and releasing it leaves that gap).

    tests/lib/listen.py PORTFILE N COMMAND [ARG...]

Binds N TCP sockets on 127.0.0.1 to ports the kernel picks, hands them to COMMAND as file
descriptors 3, 4, ... with LISTEN_FDS=N and LISTEN_PID (systemd's socket activation, which glance-api and
glance-registry accept; haproxy takes them as `bind fd@3`), writes the ports to PORTFILE one
per line (complete when it appears: written to a temporary name, then renamed), and execs
COMMAND in this process (same pid). Standard library only.
"""
import os
import socket
import sys


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    portfile, count, command = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    sockets = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        s.listen(1024)
        sockets.append(s)
    for i, s in enumerate(sockets):
        target = 3 + i
        if s.fileno() != target:
            os.dup2(s.fileno(), target, inheritable=True)
        else:
            os.set_inheritable(target, True)
    ports = [str(s.getsockname()[1]) for s in sockets]
    with open(portfile + ".tmp", "w") as f:
        f.write("\n".join(ports) + "\n")
    os.rename(portfile + ".tmp", portfile)
    # exec keeps this pid, so LISTEN_PID names COMMAND's process as systemd's does.
    env = dict(os.environ, LISTEN_FDS=str(count), LISTEN_PID=str(os.getpid()))
    env.pop("LISTEN_FDNAMES", None)
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main()
