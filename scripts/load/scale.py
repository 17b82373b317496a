#!/usr/bin/env python3
"""The scale profile: how the cost of each read grows with the catalogue.

Called by `scripts/loadtest.sh --scale` after the release build. Seeds one database per size
(scripts/load/seed.py: 1,000 projects, 4 visibilities, 5 properties and 2 tags per image, a
member row per 10 images), starts one glance-api per size at once (trusted-auth), and drives
every case at every size in turn with wrk, as an admin and as a non-admin member, `--rounds`
times; prints medians and each size's ratio to the smallest size, and writes them as JSON.

    scripts/loadtest.sh --scale [--sizes 1000,100000,1000000] [--backend postgres|sqlite]
        [--duration 5] [--rounds 3] [--connections 32] [--reuse] [--json FILE]

PostgreSQL: databases `scale_<size>` on GLANCE_TEST_DATABASE_URL's server (else a throwaway
cluster); `--reuse` keeps an already seeded database of the right size (db-sync still runs, so
a newer schema's indexes are added). SQLite: files under `--data-dir`.
"""
import argparse
import datetime
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import BIN, LOAD_DIR, ROOT, Proc, database_url, free_port, http, psql, wait_healthy  # noqa: E402

CASES = [
    ("GET image", "/v2/images/{marker}"),
    ("list 20", "/v2/images?limit=20"),
    ("sort=name:asc", "/v2/images?limit=20&sort=name:asc"),
    ("tag filter (2 %)", "/v2/images?limit=20&tag=t07"),
    ("property filter (10 %)", "/v2/images?limit=20&os_distro=fedora"),
    ("shared, member_status=all", "/v2/images?limit=20&visibility=shared&member_status=all"),
    ("marker 90 % deep", "/v2/images?limit=20&marker={marker}"),
]
CALLERS = [("admin", "admin-project", "admin,member,reader"), ("member", "project-probe", "member,reader")]


def size_label(size):
    return f"{size // 1000000}m" if size % 1000000 == 0 else f"{size // 1000}k" if size % 1000 == 0 else str(size)


def pg_count(url):
    try:
        out = subprocess.run(["psql", "-tAq", url, "-c", "SELECT count(*) FROM images"],
                             capture_output=True, text=True, check=True).stdout.strip()
        return int(out)
    except (subprocess.CalledProcessError, ValueError):
        return None


def db_sync(mode, url, workdir):
    subprocess.run([os.path.join(BIN, "glance-api"), "db-sync"], check=True, cwd=workdir, capture_output=True,
                   env=dict(os.environ, GLANCE__DATA_ACCESS__MODE=mode, GLANCE__DATABASE__URL=url))


def prepare(args, size, pg_admin_url, workdir):
    """Database URL of a seeded database of `size` images, and the data-access mode."""
    label = size_label(size)
    if args.backend == "postgres":
        url = database_url(pg_admin_url, f"scale_{label}")
        if not (args.reuse and pg_count(url) == size):
            print(f"== seeding {size} images into {url}", flush=True)
            psql(pg_admin_url, f"DROP DATABASE IF EXISTS scale_{label}")
            psql(pg_admin_url, f"CREATE DATABASE scale_{label}")
            db_sync("direct-postgres", url, workdir)
            subprocess.run([sys.executable, os.path.join(LOAD_DIR, "seed.py"), url, str(size)], check=True,
                           stdout=subprocess.DEVNULL)
        db_sync("direct-postgres", url, workdir)
        return url, "direct-postgres"
    path = os.path.join(args.data_dir, f"scale_{label}.db")
    url = "sqlite:///" + path
    count = None
    if args.reuse and os.path.exists(path):
        with sqlite3.connect(path) as conn:
            count = conn.execute("SELECT count(*) FROM images").fetchone()[0]
    if count != size:
        print(f"== seeding {size} images into {path}", flush=True)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        db_sync("direct-sqlite", url, workdir)
        subprocess.run([sys.executable, os.path.join(LOAD_DIR, "seed.py"), url, str(size)], check=True,
                       stdout=subprocess.DEVNULL)
    db_sync("direct-sqlite", url, workdir)
    return url, "direct-sqlite"


def caller_headers(caller):
    _, project, roles = caller
    return {"X-Identity-Status": "Confirmed", "X-User-Id": "load-user", "X-Project-Id": project, "X-Roles": roles}


def wrk_as(url, caller, duration, connections):
    _, project, roles = caller
    env = dict(os.environ, LOAD_DIR=LOAD_DIR, GLANCE_LOAD_PROJECT=project, GLANCE_LOAD_ROLES=roles)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "30s", "-s",
                          os.path.join(LOAD_DIR, "as_caller.lua"), url],
                         env=env, capture_output=True, text=True, check=True).stdout
    line = next((line for line in out.splitlines() if line.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError("wrk printed no summary:\n" + out)
    return json.loads(line[len("WRK_JSON "):])


def marker_for(url, size):
    """seed.py's deep marker: the first public image from image number size/10 on."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url[len("sqlite:///"):]) as conn:
            rows = conn.execute("SELECT id FROM images WHERE visibility = 'public' AND created_at >= "
                                "(SELECT datetime(min(created_at), ?) FROM images) ORDER BY created_at LIMIT 1",
                                (f"+{size // 10} seconds",)).fetchall()
        return rows[0][0]
    sql = ("SELECT id FROM images WHERE visibility = 'public' AND created_at >= "
           f"(SELECT min(created_at) FROM images) + interval '{size // 10} seconds' ORDER BY created_at LIMIT 1")
    return subprocess.run(["psql", "-tAq", url, "-c", sql], capture_output=True, text=True, check=True).stdout.strip()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="keep seeded databases of the right size")
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "glance-scale"))
    parser.add_argument("--cases", default="", help="comma-separated case numbers (1-based) to run; default all")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    cases = [CASES[int(i) - 1] for i in args.cases.split(",")] if args.cases else CASES
    os.makedirs(args.data_dir, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="glance-scale-")
    pg_dir = None
    pg_url = os.environ.get("GLANCE_TEST_DATABASE_URL")
    if args.backend == "postgres" and not pg_url:
        pg_dir = os.path.join(args.data_dir, "pg")
        pg_url = subprocess.run([os.path.join(ROOT, "scripts", "pg-throwaway.sh"), "start", pg_dir],
                                capture_output=True, text=True, check=True).stdout.strip()
    procs = []
    try:
        bases, markers = {}, {}
        for size in sizes:
            url, mode = prepare(args, size, pg_url, workdir)
            markers[size] = marker_for(url, size)
            bind = f"127.0.0.1:{free_port()}"
            procs.append(Proc(f"api-{size_label(size)}", [os.path.join(BIN, "glance-api")], {
                "GLANCE__SERVER__BIND": bind, "GLANCE__DATA_ACCESS__MODE": mode, "GLANCE__DATABASE__URL": url,
                "GLANCE__STORE__PATH": os.path.join(workdir, "images"), "GLANCE__AUTH__MODE": "trusted-auth"},
                workdir))
            bases[size] = "http://" + bind
        for size in sizes:
            wait_healthy(bases[size])
        # Every page must answer 200 with the same number of images at every size, or the
        # ratios would compare different work.
        counts = {}
        for caller in CALLERS:
            for name, path in cases:
                for size in sizes:
                    status, body = http("GET", bases[size] + path.format(marker=markers[size]),
                                        headers=caller_headers(caller))
                    assert status == 200, (caller[0], name, size, status, body[:300])
                    doc = json.loads(body)
                    counts.setdefault((caller[0], name), {})[size] = len(doc.get("images", [doc]))
        # One short unmeasured pass: every server and database connection warm before the rounds.
        for caller in CALLERS:
            for _, path in cases:
                for size in sizes:
                    wrk_as(bases[size] + path.format(marker=markers[size]), caller, 1, args.connections)
        runs = {}
        for _ in range(args.rounds):
            for caller in CALLERS:
                for name, path in cases:
                    for size in sizes:
                        r = wrk_as(bases[size] + path.format(marker=markers[size]), caller, args.duration,
                                   args.connections)
                        runs.setdefault((caller[0], name, size), []).append(r)
        results = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                   "backend": args.backend, "sizes": sizes, "duration_s": args.duration,
                   "connections": args.connections, "rounds": args.rounds, "cases": []}
        header = f"{'caller':7s} {'case':28s}" + "".join(f"{size_label(s):>18s}" for s in sizes)
        print(header + "   (req/s median, p99 ms, ×smallest; images per page)")
        for caller in CALLERS:
            for name, _ in cases:
                row = {"caller": caller[0], "case": name, "by_size": {}}
                first = None
                cells = []
                for size in sizes:
                    rs = runs[(caller[0], name, size)]
                    rps = statistics.median(r["rps"] for r in rs)
                    failed = sum(r["errors"] + r["non2xx"] for r in rs)
                    p99 = statistics.median(r["p99_ms"] for r in rs)
                    first = first or rps
                    row["by_size"][str(size)] = {"rps": rps, "p99_ms": p99, "ratio": rps / first,
                                                 "images": counts[(caller[0], name)][size],
                                                 "runs": [r["rps"] for r in rs], "failed": failed}
                    cells.append(f"{rps:7.0f} {p99:6.1f} ×{rps / first:4.2f}" + (f" ({failed} failed)" if failed else ""))
                shown = "/".join(str(counts[(caller[0], name)][s]) for s in sizes)
                print(f"{caller[0]:7s} {name:28s}" + "".join(f"{c:>18s}" for c in cells) + f"   ({shown})",
                      flush=True)
                results["cases"].append(row)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2)
    finally:
        for p in reversed(procs):
            p.stop()
        if pg_dir:
            subprocess.run([os.path.join(ROOT, "scripts", "pg-throwaway.sh"), "stop", pg_dir])


if __name__ == "__main__":
    main()
