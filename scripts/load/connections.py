#!/usr/bin/env python3
"""The connections profile: many concurrent clients on one glance-api.

Called by `scripts/loadtest.sh --connection-profile`. Starts one glance-api (direct-postgres, or
direct-sqlite with `--backend sqlite`), creates 40 images, then drives GET image with wrk:
1,000 and 10,000 concurrent keep-alive connections (`--counts`), and a connect-per-request
storm (`Connection: close`, `--storm` connections, each request on a new TCP connection).
Every case runs `--rounds` times; prints the median req/s, p50 and p99, every socket error and
non-2xx answer of every round, and the server's open file descriptors and RSS at the end of
each run, and writes them as JSON (`--json`).

    scripts/loadtest.sh --connection-profile [--counts 1000,10000] [--storm 1000] [--duration 15]
        [--rounds 3] [--backend postgres|sqlite] [--json FILE]

Each connection is a file descriptor in wrk and in glance-api: both need `ulimit -n` above the
count (10,000 connections: 10,240 and more; see docs/deployment.md, "Open files"). This script
raises its soft limit to the hard one, which wrk and glance-api inherit, and stops with a
message if that is still too low. Exit status 1 if any run had a socket error or a non-2xx.
"""
import argparse
import datetime
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import BIN, LOAD_DIR, ROOT, Proc, database_url, free_port, psql, seed, wait_healthy  # noqa: E402

# Descriptors each process needs beyond one per connection (listener, database, logs, epoll).
FD_MARGIN = 200


def raise_fd_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        sys.exit(f"open-file limit too low: hard limit {hard}, {needed} needed for the largest count. "
                 "Raise it (docs/deployment.md, 'Open files'), e.g. `ulimit -Hn 65536` as root, "
                 "or LimitNOFILE= in the systemd unit, or lower --counts.")
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def server_usage(pid):
    """Open file descriptors and RSS (MiB) of the server process now."""
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))
        return fds, rss
    except (OSError, StopIteration):
        return None, None


def wrk_run(url, connections, duration, threads, close, pid):
    """One wrk run; the server's descriptors and RSS are read while its connections are open."""
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "30s",
            "-s", os.path.join(LOAD_DIR, "get.lua")]
    if close:
        args += ["-H", "Connection: close"]
    env = dict(os.environ, LOAD_DIR=LOAD_DIR)
    with subprocess.Popen(args + [url], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            proc.wait(timeout=duration * 0.6 + 1)
        except subprocess.TimeoutExpired:
            pass
        fds, rss = server_usage(pid)
        out, err = proc.communicate()
    line = next((line for line in out.splitlines() if line.startswith("WRK_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{out}\n{err}")
    result = json.loads(line[len("WRK_JSON "):])
    # wrk's own breakdown of the socket errors, for the report.
    result["socket_errors"] = next((line.strip() for line in out.splitlines() if "Socket errors" in line), "")
    result["server_fds"], result["server_rss_mib"] = fds, rss
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--connection-profile", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--counts", default="1000,10000")
    parser.add_argument("--storm", type=int, default=1000, help="connections of the connect-per-request storm; 0: none")
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    limit = raise_fd_limit(max(counts + [args.storm]) + FD_MARGIN)
    if not shutil.which("wrk"):
        sys.exit("wrk not found (scripts/ensure-deps.sh wrk=wrk)")
    workdir = tempfile.mkdtemp(prefix="glance-conns-")
    env = {"GLANCE__SERVER__BIND": f"127.0.0.1:{free_port()}", "GLANCE__STORE__PATH": os.path.join(workdir, "images")}
    pg_dir = None
    if args.backend == "postgres":
        pg_url = os.environ.get("GLANCE_TEST_DATABASE_URL")
        if not pg_url:
            pg_dir = os.path.join(workdir, "pg")
            pg_url = subprocess.run([os.path.join(ROOT, "scripts", "pg-throwaway.sh"), "start", pg_dir],
                                    capture_output=True, text=True, check=True).stdout.strip()
        psql(pg_url, "DROP DATABASE IF EXISTS glance_connections")
        psql(pg_url, "CREATE DATABASE glance_connections")
        db_url = database_url(pg_url, "glance_connections")
        env.update({"GLANCE__DATA_ACCESS__MODE": "direct-postgres", "GLANCE__DATABASE__URL": db_url})
        subprocess.run([os.path.join(BIN, "glance-api"), "db-sync"], check=True, cwd=workdir, capture_output=True,
                       env=dict(os.environ, **env))
    else:
        env.update({"GLANCE__DATA_ACCESS__MODE": "direct-sqlite",
                    "GLANCE__DATABASE__URL": "sqlite:///" + os.path.join(workdir, "glance.db")})
    api = Proc("glance-api", [os.path.join(BIN, "glance-api")], env, workdir)
    try:
        base = "http://" + env["GLANCE__SERVER__BIND"]
        wait_healthy(base)
        url = f"{base}/v2/images/{seed(base)[0]}"
        cases = [(f"{c} keep-alive", c, False) for c in counts]
        if args.storm:
            cases.append((f"{args.storm} connect-per-request", args.storm, True))
        wrk_run(url, min(counts), 2, args.threads, False, api.proc.pid)  # warm-up, not counted
        runs = {name: [] for name, _, _ in cases}
        for _ in range(args.rounds):
            for name, conns, close in cases:
                runs[name].append(wrk_run(url, conns, args.duration, args.threads, close, api.proc.pid))
        results = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                   "backend": args.backend, "duration_s": args.duration, "rounds": args.rounds,
                   "wrk_threads": args.threads, "nofile_limit": limit, "cases": []}
        print(f"GET image, {args.backend}, {args.rounds} rounds of {args.duration} s, open-file limit {limit}")
        print(f"{'case':28s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'errors':>7s} {'non-2xx':>7s}"
              f" {'fds':>6s} {'RSS MiB':>8s}")
        failed = 0
        for name, conns, close in cases:
            rs = runs[name]
            row = {"case": name, "connections": conns, "connect_per_request": close,
                   "rps": statistics.median(r["rps"] for r in rs),
                   "p50_ms": statistics.median(r["p50_ms"] for r in rs),
                   "p99_ms": statistics.median(r["p99_ms"] for r in rs),
                   "errors": sum(r["errors"] for r in rs), "non2xx": sum(r["non2xx"] for r in rs),
                   "server_fds": max((r["server_fds"] or 0) for r in rs),
                   "server_rss_mib": max((r["server_rss_mib"] or 0) for r in rs), "runs": rs}
            failed += row["errors"] + row["non2xx"]
            print(f"{name:28s} {row['rps']:8.0f} {row['p50_ms']:8.1f} {row['p99_ms']:8.1f} {row['errors']:7d}"
                  f" {row['non2xx']:7d} {row['server_fds']:6d} {row['server_rss_mib']:8.1f}", flush=True)
            for r in rs:
                if r["socket_errors"]:
                    print(f"    {r['socket_errors']}")
            results["cases"].append(row)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2)
        return 1 if failed else 0
    finally:
        api.stop()
        if pg_dir:
            subprocess.run([os.path.join(ROOT, "scripts", "pg-throwaway.sh"), "stop", pg_dir])


if __name__ == "__main__":
    sys.exit(main())
