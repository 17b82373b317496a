#!/usr/bin/env python3
"""Instructions per GET image, counted by valgrind's callgrind: exact and repeatable on a
noisy machine, unlike req/s. Called by `scripts/loadtest.sh --instructions` after the release
build.

Runs, each under `valgrind --tool=callgrind`, on one PostgreSQL database: a direct-postgres
glance-api, a registry-proxy glance-api with its glance-registry, the bare baseline
(examples/baseline.rs) in both shapes (ten columns, and the service's own statement), and the bare forwarding pair (examples/forward_baseline.rs in front of
that baseline: one keep-alive HTTP hop and no Glance logic, the registry hop's floor). Each
serves WARMUP sequential keep-alive GETs of one image, then its
counters are zeroed (`callgrind_control -z`), it serves COUNT more, and its counters are dumped
(`callgrind_control -d`); the dump's total over COUNT is the figure. The registry is counted
over the proxy node's requests, the baseline over the pair's. Standard library only.
"""
import argparse
import contextlib
import glob
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (scripts/load/run.py: Proc, free_port, seed, psql, wait_healthy)


def callgrind(name, args, env, workdir):
    out = os.path.join(workdir, f"{name}.callgrind")
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no"] + args
    proc = run.Proc(name, cmd, env, workdir)
    proc.out = out
    return proc


def gets(base, path, count):
    """`count` sequential GETs on one keep-alive connection; every one must answer 200."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    for _ in range(count):
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {base}{path} answered {response.status}")
    conn.close()


def control(flag, proc):
    subprocess.run(["callgrind_control", flag, str(proc.proc.pid)], check=True, capture_output=True)


def total(proc, before):
    """Instructions in the dump `callgrind_control -d` wrote after `before` (a set of files)."""
    deadline = time.time() + 60
    while time.time() < deadline:
        new = sorted(set(glob.glob(proc.out + "*")) - before, key=os.path.getmtime)
        for path in reversed(new):
            with open(path) as f:
                for line in f:
                    if line.startswith(("totals:", "summary:")):
                        return int(line.split()[1])
        time.sleep(0.5)
    raise RuntimeError(f"{proc.name}: no callgrind dump")


def count(targets, warmup, n):
    """targets: (label, base, path, [procs counted]). Returns label -> {proc name: instr/request}."""
    figures = {}
    for label, base, path, procs in targets:
        gets(base, path, warmup)
        for p in procs:
            control("-z", p)
        gets(base, path, n)
        befores = {p.name: set(glob.glob(p.out + "*")) for p in procs}
        for p in procs:
            control("-d", p)
        figures[label] = {p.name: total(p, befores[p.name]) / n for p in procs}
    return figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--instructions", action="store_true")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="set in glance-api's and glance-registry's environment (repeatable)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the callgrind dumps (for callgrind_annotate) and print where")
    args = parser.parse_args()
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        sys.exit("valgrind is needed: apt-get install valgrind")
    extra = dict(item.split("=", 1) for item in args.env)
    workdir = tempfile.mkdtemp(prefix="glance-callgrind-")
    procs = []
    with contextlib.ExitStack() as cleanup:
        if args.keep:
            print(f"callgrind dumps kept in {workdir}", file=sys.stderr)
        else:
            cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        db_url = run.fresh_database(cleanup.enter_context(run.postgres(workdir)), "bench_callgrind", workdir)
        cleanup.callback(lambda: [p.stop() for p in reversed(procs)])
        api = os.path.join(run.BIN, "glance-api")
        store = os.path.join(workdir, "images")
        ports = [run.free_port() for _ in range(6)]
        registry = f"http://127.0.0.1:{ports[0]}"
        direct = f"http://127.0.0.1:{ports[1]}"
        proxy = f"http://127.0.0.1:{ports[2]}"
        baseline = f"http://127.0.0.1:{ports[3]}"
        reg = callgrind("glance-registry", [os.path.join(run.BIN, "glance-registry")], {
            "GLANCE__SERVER__BIND": f"127.0.0.1:{ports[0]}", "GLANCE__DATA_ACCESS__MODE": "direct-postgres",
            "GLANCE__DATABASE__URL": db_url, "GLANCE__REGISTRY__TOKEN": run.TOKEN, **extra}, workdir)
        procs.append(reg)
        run.wait_healthy(registry, timeout=180)
        api_direct = callgrind("glance-api direct-postgres", [api], {
            "GLANCE__SERVER__BIND": f"127.0.0.1:{ports[1]}", "GLANCE__DATA_ACCESS__MODE": "direct-postgres",
            "GLANCE__DATABASE__URL": db_url, "GLANCE__STORE__PATH": store, **extra}, workdir)
        api_proxy = callgrind("glance-api registry-proxy", [api], {
            "GLANCE__SERVER__BIND": f"127.0.0.1:{ports[2]}", "GLANCE__DATA_ACCESS__MODE": "registry-proxy",
            "GLANCE__REGISTRY__URL": registry, "GLANCE__REGISTRY__TOKEN": run.TOKEN,
            "GLANCE__STORE__PATH": store, **extra}, workdir)
        bare = callgrind("bare baseline", [os.path.join(run.BIN, "examples", "baseline"),
                                           f"127.0.0.1:{ports[3]}", db_url], {}, workdir)
        forward = callgrind("forwarder", [os.path.join(run.BIN, "examples", "forward_baseline"),
                                          f"127.0.0.1:{ports[4]}", f"127.0.0.1:{ports[3]}"], {}, workdir)
        pair = f"http://127.0.0.1:{ports[4]}"
        full = callgrind("bare baseline (full row)", [os.path.join(run.BIN, "examples", "baseline"),
                                                      f"127.0.0.1:{ports[5]}", db_url, "full"], {}, workdir)
        full_base = f"http://127.0.0.1:{ports[5]}"
        procs += [api_direct, api_proxy, bare, forward, full]
        run.wait_healthy(direct, timeout=180)
        run.wait_healthy(proxy, timeout=180)
        ids = run.seed(direct)
        path = f"/v2/images/{ids[len(ids) // 2]}"
        # The baseline and the forwarder have no health check: wait until each answers the GET.
        for base in (baseline, pair, full_base):
            deadline = time.time() + 180
            while True:
                try:
                    gets(base, path, 1)
                    break
                except (OSError, RuntimeError, http.client.HTTPException):
                    if time.time() > deadline:
                        raise
                    time.sleep(0.5)
        figures = count([
            ("direct-postgres", direct, path, [api_direct]),
            ("registry-proxy over postgres", proxy, path, [api_proxy, reg]),
            ("bare baseline", baseline, path, [bare]),
            ("bare baseline (full row)", full_base, path, [full]),
            ("bare forwarding pair", pair, path, [forward, bare]),
        ], args.warmup, args.count)
    bare_total = figures["bare baseline"]["bare baseline"]
    print(f"instructions per GET image (callgrind, {args.count} requests after {args.warmup} warm-up, "
          "one keep-alive connection, PostgreSQL)")
    for label, by_proc in figures.items():
        for name, per in by_proc.items():
            print(f"  {label:30s} {name:28s} {per / 1000:8.1f}k")
    direct_total = figures["direct-postgres"]["glance-api direct-postgres"]
    proxy_total = sum(figures["registry-proxy over postgres"].values())
    print(f"  direct-postgres / bare baseline: x{direct_total / bare_total:.2f} instructions")
    full_total = figures["bare baseline (full row)"]["bare baseline (full row)"]
    print(f"  direct-postgres / bare baseline (full row): x{direct_total / full_total:.2f} instructions")
    print(f"  registry-proxy (api + registry) / direct-postgres: x{proxy_total / direct_total:.2f} instructions")
    pair_total = sum(figures["bare forwarding pair"].values())
    print(f"  bare forwarding pair (forwarder + baseline) / bare baseline: x{pair_total / bare_total:.2f} instructions"
          " (the hop's floor)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"count": args.count, "warmup": args.warmup, "figures": figures}, f, indent=2)


if __name__ == "__main__":
    main()
