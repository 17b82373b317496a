#!/usr/bin/env python3
"""Uploads and downloads through glance-api to a real S3 server (Garage), against the bare
baseline (examples/s3_baseline.rs: the same bytes to the same Garage with the same crate, part
size and parts in flight), side by side; and glance-api's peak RSS during a 1 GiB upload.
Called by `scripts/loadtest.sh --s3` after the release build, with one Garage node started by
tests/s3/lib.sh (GLANCE_TEST_S3_* variables).

The glance-api nodes run direct-postgres on one database (GLANCE_TEST_DATABASE_URL, else a
throwaway cluster) with the S3 store as default store. Each round uploads SIZE MiB with curl
(`PUT /v2/images/{id}/file`), downloads it back, then runs the baseline once; medians over
ROUNDS. Then GET image (wrk, one seeded image) through each of three nodes in turn. The RSS is
read (VmHWM) from a fresh glance-api after one 1 GiB upload streamed from a pipe. Standard
library only.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (scripts/load/run.py: Proc, free_port, http, transfer, wait_healthy)


def s3_env():
    names = ["ENDPOINT", "REGION", "BUCKET", "ACCESS_KEY", "SECRET_KEY"]
    missing = [n for n in names if not os.environ.get(f"GLANCE_TEST_S3_{n}")]
    if missing:
        sys.exit("GLANCE_TEST_S3_* are not set: run scripts/loadtest.sh --s3 (it starts Garage)")
    return {n: os.environ[f"GLANCE_TEST_S3_{n}"] for n in names}


def start_api(workdir, name, s3, part_mib, db_url):
    port = run.free_port()
    api = run.Proc(name, [os.path.join(run.BIN, "glance-api")], {
        "GLANCE__SERVER__BIND": f"127.0.0.1:{port}",
        "GLANCE__DATA_ACCESS__MODE": "direct-postgres",
        "GLANCE__DATABASE__URL": db_url,
        "GLANCE__IMPORT__STAGING_PATH": os.path.join(workdir, f"{name}-staging"),
        "GLANCE__STORE__DEFAULT_BACKEND": "objects",
        "GLANCE__STORES__OBJECTS__KIND": "s3",
        "GLANCE__STORES__OBJECTS__ENDPOINT": s3["ENDPOINT"],
        "GLANCE__STORES__OBJECTS__REGION": s3["REGION"],
        "GLANCE__STORES__OBJECTS__BUCKET": s3["BUCKET"],
        "GLANCE__STORES__OBJECTS__ACCESS_KEY": s3["ACCESS_KEY"],
        "GLANCE__STORES__OBJECTS__SECRET_KEY": s3["SECRET_KEY"],
        "GLANCE__STORES__OBJECTS__LARGE_OBJECT_CHUNK_SIZE": str(part_mib),
    }, workdir)
    base = f"http://127.0.0.1:{port}"
    run.wait_healthy(base, timeout=120)
    return api, base


def baseline(size_mib, part_mib):
    out = subprocess.run([os.path.join(run.BIN, "examples", "s3_baseline"), str(size_mib), str(part_mib)],
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def peak_rss_during_upload(workdir, s3, part_mib, gib_mib, db_url):
    """VmHWM of a fresh glance-api after one upload of `gib_mib` MiB from a pipe."""
    api, base = start_api(workdir, "glance-api-rss", s3, part_mib, db_url)
    try:
        status, body = run.http("POST", base + "/v2/images", json.dumps(
            {"name": "rss", "disk_format": "raw", "container_format": "bare"}).encode(),
            {"Content-Type": "application/json"})
        assert status == 201, body
        image_id = json.loads(body)["id"]
        source = subprocess.Popen(["head", "-c", f"{gib_mib}M", "/dev/urandom"], stdout=subprocess.PIPE)
        out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", "-",
                              "-H", "Content-Type: application/octet-stream",
                              f"{base}/v2/images/{image_id}/file"],
                             stdin=source.stdout, capture_output=True, text=True, check=True).stdout
        source.wait()
        assert out == "204", out
        peak = api.peak_rss_mib()
        run.http("DELETE", f"{base}/v2/images/{image_id}")
        return peak
    finally:
        api.stop()


def measure(workdir, s3, db_url, args):
    """Transfers against the baseline, alternating; then GET image through three nodes."""
    data = os.path.join(workdir, "data.bin")
    with open(data, "wb") as f:
        for _ in range(args.size_mib):
            f.write(os.urandom(1 << 20))
    nodes = []
    try:
        nodes.append(start_api(workdir, "glance-api-1", s3, args.part_mib, db_url))
        base = nodes[0][1]
        ups, downs, puts, gets = [], [], [], []
        for _ in range(args.rounds):
            up, down = run.transfer(base, data, args.size_mib << 20, 1)
            put, get = baseline(args.size_mib, args.part_mib)
            ups.append(up)
            downs.append(down)
            puts.append(put)
            gets.append(get)
        for n in (2, 3):
            nodes.append(start_api(workdir, f"glance-api-{n}", s3, args.part_mib, db_url))
        ids = run.seed(base, count=20)
        per_node = []
        for name, (_, node_base) in zip(("node 1", "node 2", "node 3"), nodes):
            result = run.wrk(f"{node_base}/v2/images/{ids[len(ids) // 2]}", "get.lua", args.get_seconds, 32)
            per_node.append((f"GET image through {name}", result["rps"], result["errors"] + result["non2xx"]))
        return ups, downs, puts, gets, per_node
    finally:
        for api, _ in nodes:
            api.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--s3", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--part-mib", type=int, default=10, help="large_object_chunk_size (Glance's default 10)")
    parser.add_argument("--rss-mib", type=int, default=1024, help="the upload the RSS is read after")
    parser.add_argument("--get-seconds", type=int, default=5, help="wrk run per API node")
    args = parser.parse_args()
    s3 = s3_env()
    workdir = tempfile.mkdtemp(prefix="glance-s3-load-")
    try:
        with run.postgres(workdir) as pg_url:
            db_url = run.fresh_database(pg_url, "bench_s3", workdir)
            ups, downs, puts, gets, per_node = measure(workdir, s3, db_url, args)
            rss = peak_rss_during_upload(workdir, s3, args.part_mib, args.rss_mib, db_url)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    def line(label, runs):
        return f"  {label:34s} median {statistics.median(runs):7.1f} MiB/s  ({', '.join(f'{r:.0f}' for r in runs)})"

    print(f"S3 store (one Garage node on loopback), {args.size_mib} MiB objects in {args.part_mib} MiB parts, "
          f"{args.rounds} alternating rounds")
    print(line("upload through glance-api", ups))
    print(line("bare multipart PUT (baseline)", puts))
    print(line("download through glance-api", downs))
    print(line("bare ranged GET (baseline)", gets))
    print(f"  upload / bare PUT: x{statistics.median(ups) / statistics.median(puts):.2f}   "
          f"download / bare GET: x{statistics.median(downs) / statistics.median(gets):.2f}")
    print(f"  glance-api peak RSS after a {args.rss_mib} MiB upload to S3: {rss:.1f} MiB")
    print(f"GET image through each of three API nodes on one database and S3 (wrk -t1 -c32, "
          f"{args.get_seconds} s each)")
    for name, rps, failed in per_node:
        print(f"  {name:34s} {rps:9.0f} req/s, {failed} errors or non-2xx")


if __name__ == "__main__":
    main()
