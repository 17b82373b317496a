#!/usr/bin/env python3
"""Uploads and downloads through glance-api to a real S3 server (Garage), against the bare
baseline (examples/s3_baseline.rs: as many random bytes to the same Garage with the same crate, part
size and parts in flight), side by side; and glance-api's peak RSS during a 1 GiB upload.
Called by `scripts/loadtest.sh --s3` after the release build, with one Garage node started by
tests/s3/lib.sh (GLANCE_TEST_S3_* variables).

The glance-api nodes run direct-postgres on one database (GLANCE_TEST_DATABASE_URL, else a
throwaway cluster) with the S3 store as default store. Each round uploads SIZE MiB with curl
(`PUT /v2/images/{id}/file`), downloads it back, then runs the baseline once, each step on
fresh random bytes of the same size (Garage dedups blocks it still holds); medians over
ROUNDS. Then GET image (wrk, one seeded image) through each of three nodes in turn. The RSS is
read (VmHWM) from a fresh glance-api after one 1 GiB upload streamed from a pipe. With
GLANCE_LOAD_BEFORE_BIN (an earlier build's folder, as for the side-by-side run) each round
also uploads and downloads through that build's glance-api, for this build / that one in one
run. Standard library only.
"""
import argparse
import json
import os
import resource
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


def start_api(workdir, name, s3, part_mib, db_url, bin_dir=None):
    port = run.free_port()
    api = run.Proc(name, [os.path.join(bin_dir or run.BIN, "glance-api")], {
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


def cpu_seconds(pid):
    """User + system CPU seconds of process `pid` so far (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Cpu:
    """CPU seconds per process over one step: glance-api, the S3 server, and the client (curl
    or the baseline, the children this script waited for)."""

    def __init__(self, api_pid, garage_pid):
        self.api_pid, self.garage_pid = api_pid, garage_pid

    def now(self):
        return {"glance-api": cpu_seconds(self.api_pid), "garage": cpu_seconds(self.garage_pid),
                "client": children_cpu_seconds()}

    @staticmethod
    def spent(before, after):
        return {k: after[k] - before[k] for k in before}


def garage_pid():
    try:
        with open(os.path.join(os.environ["GLANCE_TEST_S3_DIR"], "garage.pid")) as f:
            return int(f.read().strip())
    except (KeyError, OSError, ValueError):
        return None


def baseline(size_mib, part_mib, data):
    """MiB/s of the bare PUT and GET, and the CPU seconds of the baseline and of Garage in each."""
    env = dict(os.environ)
    if garage_pid():
        env["S3_BASELINE_WATCH_PID"] = str(garage_pid())
    out = subprocess.run([os.path.join(run.BIN, "examples", "s3_baseline"), str(size_mib), str(part_mib), data],
                         capture_output=True, text=True, check=True, env=env).stdout.split()
    put_cpu = {"glance-api": 0.0, "garage": float(out[4]), "client": float(out[2])}
    get_cpu = {"glance-api": 0.0, "garage": float(out[5]), "client": float(out[3])}
    return float(out[0]), float(out[1]), put_cpu, get_cpu


def through_api(base, data, size, cpu):
    """One upload and one download through glance-api with curl: MiB/s and CPU seconds of each."""
    image_id = run.create_raw_image(base)
    start = cpu.now()
    up = size / 2**20 / run.curl_upload(base, image_id, data)
    mid = cpu.now()
    down = size / 2**20 / run.curl_download(base, image_id, size)
    end = cpu.now()
    run.http("DELETE", f"{base}/v2/images/{image_id}")
    return up, down, Cpu.spent(start, mid), Cpu.spent(mid, end)


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

    def fresh():
        """New random bytes for the next step. Garage keeps blocks by content hash: a PUT of
        bytes it still holds (a deleted object's blocks stay until its block GC) skips the block
        writes, so sending one file in every step let whichever side came second skip them."""
        with open(data, "wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(1 << 20))
        return data
    nodes = []
    try:
        nodes.append(start_api(workdir, "glance-api-1", s3, args.part_mib, db_url))
        base = nodes[0][1]
        cpu = Cpu(nodes[0][0].proc.pid, garage_pid())
        ups, downs, puts, gets = [], [], [], []
        cpus = {"upload through glance-api": [], "bare multipart PUT": [],
                "download through glance-api": [], "bare ranged GET": []}
        before = None
        if run.BEFORE_BIN:
            # An earlier build's node beside this one, in the same rounds (GLANCE_LOAD_BEFORE_BIN).
            before_api, before_base = start_api(workdir, "glance-api-before", s3, args.part_mib, db_url,
                                                run.BEFORE_BIN)
            nodes.append((before_api, before_base))
            before = {"base": before_base, "cpu": Cpu(before_api.proc.pid, garage_pid()), "ups": [],
                      "downs": [], "up_cpu": [], "down_cpu": []}
        for _ in range(args.rounds):
            up, down, up_cpu, down_cpu = through_api(base, fresh(), args.size_mib << 20, cpu)
            put, get, put_cpu, get_cpu = baseline(args.size_mib, args.part_mib, fresh())
            ups.append(up)
            downs.append(down)
            puts.append(put)
            gets.append(get)
            for name, spent in zip(cpus, (up_cpu, put_cpu, down_cpu, get_cpu)):
                cpus[name].append(spent)
            if before:
                up, down, up_cpu, down_cpu = through_api(before["base"], fresh(), args.size_mib << 20,
                                                         before["cpu"])
                for key, value in (("ups", up), ("downs", down), ("up_cpu", up_cpu), ("down_cpu", down_cpu)):
                    before[key].append(value)
        if before:
            before_api, _ = nodes.pop()
            before_api.stop()
            cpus["upload through the earlier build"] = before["up_cpu"]
            cpus["download through the earlier build"] = before["down_cpu"]
        for n in (2, 3):
            nodes.append(start_api(workdir, f"glance-api-{n}", s3, args.part_mib, db_url))
        ids = run.seed(base, count=20)
        per_node = []
        for name, (_, node_base) in zip(("node 1", "node 2", "node 3"), nodes):
            result = run.wrk(f"{node_base}/v2/images/{ids[len(ids) // 2]}", "get.lua", args.get_seconds, 32)
            per_node.append((f"GET image through {name}", result["rps"], result["errors"] + result["non2xx"]))
        return ups, downs, puts, gets, cpus, per_node, before
    finally:
        for api, _ in nodes:
            api.stop()


def pin_to_own_cores():
    """Garage on CPU 0; this script, and so everything it starts (glance-api, curl, the
    baseline), on CPU 1: each side gets a core of its own, as on separate machines, instead of
    competing for both. Every Garage thread is pinned; threads it makes later inherit it."""
    pid = garage_pid()
    if pid is None or os.cpu_count() < 2:
        sys.exit("--pin needs the Garage pid (GLANCE_TEST_S3_DIR) and two CPUs")
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), {0})
    os.sched_setaffinity(0, {1})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--s3", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--part-mib", type=int, default=10, help="large_object_chunk_size (Glance's default 10)")
    parser.add_argument("--rss-mib", type=int, default=1024, help="the upload the RSS is read after")
    parser.add_argument("--get-seconds", type=int, default=5, help="wrk run per API node")
    parser.add_argument("--pin", action="store_true", help="Garage on CPU 0, everything else on CPU 1")
    parser.add_argument("--rss-only", action="store_true", help="only the peak RSS during one upload")
    args = parser.parse_args()
    s3 = s3_env()
    if args.pin:
        pin_to_own_cores()
    workdir = tempfile.mkdtemp(prefix="glance-s3-load-")
    try:
        with run.postgres(workdir) as pg_url:
            db_url = run.fresh_database(pg_url, "bench_s3", workdir)
            if not args.rss_only:
                ups, downs, puts, gets, cpus, per_node, before = measure(workdir, s3, db_url, args)
            rss = peak_rss_during_upload(workdir, s3, args.part_mib, args.rss_mib, db_url)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.rss_only:
        print(f"glance-api peak RSS after a {args.rss_mib} MiB upload to S3 in {args.part_mib} MiB parts: {rss:.1f} MiB")
        return

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
    if before:
        print(line("upload through the earlier build", before["ups"]))
        print(line("download through the earlier build", before["downs"]))
        print(f"  this build / the earlier one ({run.BEFORE_BIN}): upload "
              f"x{statistics.median(ups) / statistics.median(before['ups']):.2f}, download "
              f"x{statistics.median(downs) / statistics.median(before['downs']):.2f}")
    gib = args.size_mib / 1024
    print("  CPU seconds per GiB moved (user + system, median of rounds); client: curl or the baseline")
    print(f"  {'':34s} {'glance-api':>10s} {'garage':>8s} {'client':>8s} {'total':>8s}")
    for name, rounds in cpus.items():
        per = {k: statistics.median(r[k] for r in rounds) / gib for k in ("glance-api", "garage", "client")}
        print(f"  {name:34s} {per['glance-api']:10.2f} {per['garage']:8.2f} {per['client']:8.2f}"
              f" {sum(per.values()):8.2f}")
    print(f"  glance-api peak RSS after a {args.rss_mib} MiB upload to S3: {rss:.1f} MiB")
    print(f"GET image through each of three API nodes on one database and S3 (wrk -t1 -c32, "
          f"{args.get_seconds} s each)")
    for name, rps, failed in per_node:
        print(f"  {name:34s} {rps:9.0f} req/s, {failed} errors or non-2xx")


if __name__ == "__main__":
    main()
