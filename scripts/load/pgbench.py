#!/usr/bin/env python3
"""GET image's statement alone, in PostgreSQL, against the bare baseline's one-table select:
what the service's SQL costs the database, apart from HTTP and Rust. Called by
`scripts/loadtest.sh --pgbench` after the release build.

Makes a database `bench_pgbench` (schema by `glance-api db-sync`), seeds 40 images through a
direct-postgres glance-api (as the load test does), then runs `pgbench -n -M prepared` on one
image id with two one-statement scripts, alternating, ROUNDS times each:
- the service's statement, printed by examples/image_select_sql.rs (the text the service
  prepares: columns, children JSON, no membership subplan), and
- the bare select of examples/baseline.rs.
Prints each run's tps, the medians and their ratio. Standard library only.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (scripts/load/run.py: Proc, free_port, seed, psql, wait_healthy)

BARE = ("SELECT id, name, status, size, checksum, owner, min_disk, min_ram, protected, created_at "
        "FROM images WHERE id = :id AND NOT deleted")


def pgbench(url, script, image_id, args):
    out = subprocess.run(["pgbench", "-n", "-M", "prepared", "-c", str(args.clients), "-j", "2",
                          "-T", str(args.duration), "-D", f"id={image_id}", "-f", script, url],
                         capture_output=True, text=True, check=True).stdout
    match = re.search(r"tps = ([0-9.]+)", out)
    if not match:
        raise RuntimeError("pgbench printed no tps:\n" + out)
    return float(match.group(1))


def measure(db_url, statement, workdir, args):
    """Seed through a glance-api, then the alternating pgbench runs: name -> [tps]."""
    port = run.free_port()
    api = run.Proc("glance-api", [os.path.join(run.BIN, "glance-api")], {
        "GLANCE__DATA_ACCESS__MODE": "direct-postgres", "GLANCE__DATABASE__URL": db_url,
        "GLANCE__SERVER__BIND": f"127.0.0.1:{port}", "GLANCE__STORE__PATH": os.path.join(workdir, "images")}, workdir)
    try:
        base = f"http://127.0.0.1:{port}"
        run.wait_healthy(base, timeout=180)
        ids = run.seed(base)
    finally:
        api.stop()
    image_id = ids[len(ids) // 2]
    scripts = {}
    for name, text in (("service statement", statement.replace("$1", ":id")), ("bare select", BARE)):
        path = os.path.join(workdir, name.replace(" ", "-") + ".sql")
        with open(path, "w") as f:
            f.write(text + ";\n")
        scripts[name] = path
    figures = {name: [] for name in scripts}
    for _ in range(args.rounds):
        for name, path in scripts.items():
            figures[name].append(pgbench(db_url, path, image_id, args))
    return figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pgbench", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10, help="seconds per pgbench run")
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    if not shutil.which("pgbench"):
        sys.exit("pgbench is needed: apt-get install postgresql-client")
    statement = subprocess.run([os.path.join(run.BIN, "examples", "image_select_sql")],
                               capture_output=True, text=True, check=True).stdout.strip()
    if statement.count("$1") < 1 or "$2" in statement:
        sys.exit(f"unexpected statement (one parameter $1 expected):\n{statement}")
    workdir = tempfile.mkdtemp(prefix="glance-pgbench-")
    try:
        with run.postgres(workdir) as pg_url:
            figures = measure(run.fresh_database(pg_url, "bench_pgbench", workdir), statement, workdir, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"GET image's statement in PostgreSQL alone (pgbench -M prepared -c {args.clients} -j 2, "
          f"{args.rounds} alternating runs of {args.duration} s, one image; tps)")
    medians = {}
    for name, runs in figures.items():
        medians[name] = statistics.median(runs)
        print(f"  {name:18s} median {medians[name]:8.0f}  ({', '.join(f'{r:.0f}' for r in runs)})")
    print(f"  service statement / bare select: x{medians['service statement'] / medians['bare select']:.2f}")


if __name__ == "__main__":
    main()
