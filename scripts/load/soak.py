#!/usr/bin/env python3
"""The soak: a long run of mixed load on one glance-api, watched by a real Prometheus.

Called by `scripts/loadtest.sh --soak`. Starts one direct-postgres glance-api (release build,
default workers and pool; PostgreSQL from GLANCE_TEST_DATABASE_URL or a throwaway cluster) and
the Debian `prometheus` scraping its /metrics every `--scrape` seconds, seeds 40 images, then
for `--minutes` drives at once, at a steady paced rate (scripts/load/paced.lua):

- GET image (wrk, 8 connections, 4 ms between one connection's requests),
- list 20 (wrk, 4 connections, 8 ms),
- create+patch+delete (wrk, 2 connections, 10 ms; Glance keeps deleted rows, so the images
  table grows all run long, as it does in a cloud between `db purge` runs),
- 64 MiB uploads and downloads in a loop (create, PUT, GET with the data's MD5 checked
  against what was sent, DELETE).

Every `--scrape` seconds it also reads PostgreSQL's statistics: the database's server processes
and its oldest open transaction (pg_stat_activity), the images table's rows, dead row versions
and autovacuum runs, and the entries each scan of each of its indexes, and each sequential scan,
read (how far a list walks).
At the end it reads from Prometheus, over the whole run: RSS, open file descriptors, the pool's
connections, req/s and p50/p99 per operation; and judges flatness: after `--warmup` minutes,
the median of the last `--window` minutes against the median of the first `--window` minutes
after warm-up, for RSS, open files and database connections, must be within 10 %; and every
request must have succeeded (wrk: no socket error, no non-2xx; transfers: no failure, no
checksum mismatch; the server: no 5xx). Writes the JSON (`--json`) and draws it
(scripts/load/soak_chart.py, `--svg`). Exit status 1 if not flat or any error.

    scripts/loadtest.sh --soak [--minutes 30] [--warmup 5] [--window 5] [--scrape 5]
        [--upload-mib 64] [--json docs/soak.json] [--svg docs/soak.svg]
"""
import argparse
import datetime
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.client import HTTPConnection

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import (LOAD_DIR, ROOT, Proc, database_url, free_port, http, postgres, seed,  # noqa: E402
                 start_postgres_api, wait_healthy)

# name, wrk script, path (after the base URL), connections, pause between one connection's
# requests (ms).
WORKLOADS = [
    ("get image", "get.lua", "/v2/images/{id}", 8, 4),
    ("list 20", "get.lua", "/v2/images?limit=20", 4, 8),
    ("create+patch+delete", "create_patch_delete.lua", "/v2/images", 2, 10),
]
# (method, route label of glance_http_requests_total) -> the operation's name in the report.
OPERATIONS = {
    ("GET", "/v2/images/{image_id}"): "get image",
    ("GET", "/v2/images"): "list",
    ("POST", "/v2/images"): "create",
    ("PATCH", "/v2/images/{image_id}"): "patch",
    ("DELETE", "/v2/images/{image_id}"): "delete",
    ("PUT", "/v2/images/{image_id}/file"): "upload",
    ("GET", "/v2/images/{image_id}/file"): "download",
}
FLAT = 0.10


def start_wrk(url, script, connections, delay_ms, seconds):
    env = dict(os.environ, LOAD_DIR=LOAD_DIR, LOAD_SCRIPT=script, LOAD_DELAY_MS=str(delay_ms))
    return subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
                             "-s", os.path.join(LOAD_DIR, "paced.lua"), url],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wrk_result(proc):
    out, err = proc.communicate()
    line = next((line for line in out.splitlines() if line.startswith("WRK_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{out}\n{err}")
    return json.loads(line[len("WRK_JSON "):])


class Transfers(threading.Thread):
    """Upload and download `size` bytes in a loop until stopped; checks every download's
    bytes against what was uploaded."""

    def __init__(self, base, size):
        super().__init__(daemon=True)
        self.address = urllib.parse.urlsplit(base).netloc
        self.data = random.Random(17).randbytes(size)
        self.md5 = hashlib.md5(self.data).hexdigest()
        self.stop_event = threading.Event()
        self.cycles, self.failures, self.seconds = 0, [], []

    def request(self, method, path, body=None, headers=None):
        conn = HTTPConnection(self.address, timeout=300)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            digest, size = hashlib.md5(), 0
            while chunk := resp.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
            return resp.status, digest.hexdigest(), size, resp
        finally:
            conn.close()

    def cycle(self):
        conn = HTTPConnection(self.address, timeout=60)
        conn.request("POST", "/v2/images", json.dumps({"name": "soak", "disk_format": "raw",
                                                       "container_format": "bare"}),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        if resp.status != 201:
            raise RuntimeError(f"create answered {resp.status}: {body[:200]!r}")
        path = "/v2/images/" + json.loads(body)["id"]
        status, _, _, _ = self.request("PUT", path + "/file", self.data, {"Content-Type": "application/octet-stream"})
        if status != 204:
            raise RuntimeError(f"upload answered {status}")
        status, md5, size, _ = self.request("GET", path + "/file")
        if status != 200 or md5 != self.md5 or size != len(self.data):
            raise RuntimeError(f"download answered {status}, {size} bytes, md5 {md5} (sent {self.md5})")
        status, _, _, _ = self.request("DELETE", path)
        if status != 204:
            raise RuntimeError(f"delete answered {status}")

    def run(self):
        while not self.stop_event.is_set():
            started = time.time()
            try:
                self.cycle()
                self.cycles += 1
                self.seconds.append(time.time() - started)
            except Exception as err:  # noqa: BLE001 -- any failure of a cycle is counted, the loop goes on
                self.failures.append(f"{time.strftime('%H:%M:%S')} {err}")
                time.sleep(1)


class Sampler(threading.Thread):
    """Every `every` seconds, from PostgreSQL's statistics on one database: its server
    processes and the age of the oldest open transaction (pg_stat_activity; one held open keeps
    vacuum from removing anything newer), the images table's rows (Glance keeps deleted ones), dead row
    versions and autovacuum runs, and per index of the images table (and for its sequential
    scans) the scans and the entries they read, so a list that walks further as the run goes
    on shows which index it walks."""

    SQL = (
        "SELECT json_build_object("
        "'backends', (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()),"
        "'oldest_xact_s', (SELECT GREATEST(0, COALESCE(max(extract(epoch FROM now() - xact_start)), 0)) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()),"
        "'rows', t.n_live_tup, 'dead', t.n_dead_tup, 'vacuums', t.autovacuum_count,"
        "'seq', json_build_array(t.seq_scan, t.seq_tup_read),"
        "'indexes', (SELECT json_object_agg(indexrelname, json_build_array(idx_scan, idx_tup_read))"
        " FROM pg_stat_user_indexes WHERE relname = 'images'))"
        " FROM pg_stat_user_tables t WHERE t.relname = 'images'"
    )
    # a key of SQL's answer -> the series it is recorded as
    SERIES = {"backends": "db_backends", "oldest_xact_s": "oldest_transaction_s", "rows": "images_rows",
              "dead": "images_dead_rows", "vacuums": "images_vacuums"}

    def __init__(self, admin_url, database, every):
        super().__init__(daemon=True)
        self.url = database_url(admin_url, database)
        self.every = every
        self.stop_event = threading.Event()
        self.samples = {name: [] for name in self.SERIES.values()}
        self.index_reads = {}  # index -> [[t, entries read per scan since the last sample]]
        self.last = None

    def run(self):
        while not self.stop_event.wait(self.every):
            out = subprocess.run(["psql", "-Atq", self.url, "-c", self.SQL], capture_output=True, text=True)
            try:
                d = json.loads(out.stdout)
            except ValueError:
                continue
            t = time.time()
            for key, name in self.SERIES.items():
                self.samples[name].append([t, d[key]])
            indexes = dict(d.get("indexes") or {}, **{"(sequential scan)": d["seq"]})
            if self.last:
                for name, (scans, read) in indexes.items():
                    scans0, read0 = self.last.get(name, (0, 0))
                    if scans > scans0:
                        self.index_reads.setdefault(name, []).append([t, (read - read0) / (scans - scans0)])
            self.last = indexes


def start_prometheus(workdir, target, scrape_s):
    port = free_port()
    config = os.path.join(workdir, "prometheus.yml")
    with open(config, "w") as f:
        f.write(f"global:\n  scrape_interval: {scrape_s}s\n  evaluation_interval: {scrape_s}s\n"
                f"scrape_configs:\n  - job_name: glance-api\n    static_configs:\n"
                f"      - targets: ['{target}']\n")
    proc = Proc("prometheus", ["prometheus", f"--config.file={config}",
                               f"--storage.tsdb.path={os.path.join(workdir, 'tsdb')}",
                               f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"], {}, workdir)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if http("GET", base + "/-/ready", timeout=2)[0] == 200:
                return proc, base
        except OSError:
            pass
        time.sleep(0.2)
    proc.stop()
    raise RuntimeError("prometheus did not become ready (see its log in " + workdir + ")")


def query_range(prom, query, start, end, step):
    """{label text: [[t, value], ...]} for a PromQL range query."""
    params = urllib.parse.urlencode({"query": query, "start": start, "end": end, "step": step})
    with urllib.request.urlopen(f"{prom}/api/v1/query_range?{params}", timeout=60) as resp:
        answer = json.load(resp)
    if answer.get("status") != "success":
        raise RuntimeError(f"prometheus: {answer}")
    series = {}
    for s in answer["data"]["result"]:
        m = s["metric"]
        name = OPERATIONS.get((m.get("method"), m.get("route")), None) if "route" in m else "value"
        if name is None:
            continue
        series[name] = [[float(t), float(v)] for t, v in s["values"] if v not in ("NaN", "+Inf", "-Inf")]
    return series


def flatness(samples, start, warmup_s, window_s, end):
    """Median of the first window after warm-up, of the last window, their ratio, and the
    spread (max / min) after warm-up."""
    after = [(t, v) for t, v in samples if t >= start + warmup_s]
    first = [v for t, v in after if t < start + warmup_s + window_s]
    last = [v for t, v in after if t >= end - window_s]
    if not first or not last:
        return None
    values = [v for _, v in after]
    f, la = statistics.median(first), statistics.median(last)
    return {"first_median": f, "last_median": la, "ratio": la / f if f else None,
            "min": min(values), "max": max(values), "spread": max(values) / min(values) if min(values) else None}


def collect(prom, start, end, step):
    step_s = f"{step}s"
    q = {
        "rss_bytes": 'process_resident_memory_bytes{job="glance-api"}',
        "open_fds": 'process_open_fds{job="glance-api"}',
        "max_fds": 'process_max_fds{job="glance-api"}',
        "pool_connections": 'sum(glance_pool_connections{job="glance-api"})',
        "pool_in_use": 'sum(glance_pool_connections{job="glance-api",state="in_use"})',
    }
    series = {name: query_range(prom, query, start, end, step_s).get("value", []) for name, query in q.items()}
    series["rps"] = query_range(prom, "sum by (method, route) (rate(glance_http_requests_total[1m]))",
                                start, end, step_s)
    for name, quantile in (("p50_seconds", "0.5"), ("p99_seconds", "0.99")):
        series[name] = query_range(
            prom, f"histogram_quantile({quantile}, sum by (le, method, route) "
            "(rate(glance_http_request_duration_seconds_bucket[1m])))", start, end, step_s)
    with urllib.request.urlopen(f"{prom}/api/v1/query?" + urllib.parse.urlencode(
            {"query": 'sum by (status) (glance_http_requests_total{job="glance-api"})', "time": end}),
            timeout=60) as resp:
        by_status = {r["metric"].get("status", "?"): float(r["value"][1]) for r in json.load(resp)["data"]["result"]}
    return series, by_status


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--soak", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=5, help="minutes not judged at the start")
    parser.add_argument("--window", type=float, default=5, help="minutes compared at each end")
    parser.add_argument("--scrape", type=int, default=5, help="Prometheus scrape interval, seconds")
    parser.add_argument("--upload-mib", type=int, default=64)
    parser.add_argument("--json", default=os.path.join(ROOT, "docs", "soak.json"))
    parser.add_argument("--svg", default=os.path.join(ROOT, "docs", "soak.svg"))
    args = parser.parse_args()
    seconds = int(args.minutes * 60)
    if args.warmup + 2 * args.window > args.minutes:
        sys.exit("--minutes must cover --warmup and two --window")
    workdir = tempfile.mkdtemp(prefix="glance-soak-")
    with postgres(workdir) as admin_url:
        api, bind = start_postgres_api(admin_url, "glance_soak", workdir)
        procs = [api]
        try:
            base = "http://" + bind
            wait_healthy(base)
            prometheus, prom = start_prometheus(workdir, bind, args.scrape)
            procs.append(prometheus)
            target = seed(base)[0]
            print(f"soak: {args.minutes:g} min of mixed load on {base} (workdir {workdir}), "
                  f"Prometheus {prom} every {args.scrape} s", flush=True)
            sampler = Sampler(admin_url, "glance_soak", args.scrape)
            transfers = Transfers(base, args.upload_mib << 20)
            start = time.time()
            wrks = [(name, start_wrk(base + path.format(id=target), script, conns, delay, seconds))
                    for name, script, path, conns, delay in WORKLOADS]
            sampler.start()
            transfers.start()
            wrk_results = {name: wrk_result(proc) for name, proc in wrks}
            transfers.stop_event.set()
            transfers.join()
            sampler.stop_event.set()
            end = time.time()
            time.sleep(args.scrape + 1)  # the last scrape
            series, by_status = collect(prom, start, end, args.scrape)
            peak_rss = api.peak_rss_mib()
        finally:
            for p in reversed(procs):
                p.stop()
    series.update(sampler.samples)
    series["index_reads_per_scan"] = sampler.index_reads
    warmup_s, window_s = args.warmup * 60, args.window * 60
    flat = {name: flatness(series[name], start, warmup_s, window_s, end)
            for name in ("rss_bytes", "open_fds", "pool_connections", "db_backends")}
    server_5xx = sum(v for status, v in by_status.items() if status.startswith("5"))
    errors = {name: r["errors"] + r["non2xx"] for name, r in wrk_results.items()}
    errors["transfers"] = len(transfers.failures) + (transfers.cycles == 0)  # none done: a failure too
    errors["server 5xx"] = int(server_5xx)
    results = {
        "date": datetime.datetime.fromtimestamp(start, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "start": start, "end": end, "minutes": args.minutes, "warmup_minutes": args.warmup,
        "window_minutes": args.window, "scrape_s": args.scrape, "upload_mib": args.upload_mib,
        "workloads": [{"name": n, "connections": c, "delay_ms": d} for n, _, _, c, d in WORKLOADS],
        "wrk": wrk_results, "transfers": {"cycles": transfers.cycles, "failures": transfers.failures,
                                          "median_s": statistics.median(transfers.seconds) if transfers.seconds else None},
        "requests_by_status": by_status, "errors": errors, "peak_rss_mib": peak_rss,
        "flatness": flat, "series": series,
    }
    print(f"{'workload':22s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'errors':>7s} {'non-2xx':>7s}")
    for name, r in wrk_results.items():
        print(f"{name:22s} {r['rps']:8.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['errors']:7d} {r['non2xx']:7d}")
    t = results["transfers"]
    print(f"transfers of {args.upload_mib} MiB: {t['cycles']} upload+download cycles"
          f" (median {t['median_s'] or 0:.2f} s), {len(t['failures'])} failed")
    for failure in t["failures"][:10]:
        print("   " + failure)
    print(f"server answers by status: {json.dumps(by_status)}; peak RSS {peak_rss} MiB")
    ok = not any(errors.values())
    print(f"after {args.warmup:g} min of warm-up, median of the last {args.window:g} min ÷ the first {args.window:g} min:")
    for name, f in flat.items():
        if f is None:
            print(f"   {name:18s} no samples")
            ok = False
            continue
        good = f["ratio"] is not None and abs(f["ratio"] - 1) <= FLAT
        ok = ok and good
        print(f"   {name:18s} {f['first_median']:12.1f} -> {f['last_median']:12.1f}  x{f['ratio'] or 0:.3f}"
              f"  (min {f['min']:.0f}, max {f['max']:.0f})  {'flat' if good else 'NOT FLAT'}")
    print("latency per operation, server side (recorded, not judged): median of the first and last windows, ms")
    latency = {}
    for op in sorted(series["p50_seconds"]):
        row = {q: flatness(series[f"{q}_seconds"].get(op, []), start, warmup_s, window_s, end) for q in ("p50", "p99")}
        latency[op] = row
        shown = "  ".join(f"{q} {f['first_median'] * 1000:8.2f} -> {f['last_median'] * 1000:8.2f}"
                          for q, f in row.items() if f)
        print(f"   {op:18s} {shown}")
    results["latency_windows"] = latency
    print("the images table and its indexes (recorded, not judged): median of the first and last windows")
    for name in ("images_rows", "images_dead_rows", "images_vacuums", "oldest_transaction_s"):
        f = flatness(series[name], start, warmup_s, window_s, end)
        if f:
            print(f"   {name:34s} {f['first_median']:12.0f} -> {f['last_median']:12.0f}  (max {f['max']:.0f})")
    for name, samples in sorted(series["index_reads_per_scan"].items()):
        f = flatness(samples, start, warmup_s, window_s, end)
        if f:
            print(f"   entries read per scan of {name:40s} {f['first_median']:9.1f} -> {f['last_median']:9.1f}")
    results["flat_and_clean"] = ok
    print("soak: " + ("flat, 0 errors" if ok else "FAILED (see above)"))
    with open(args.json, "w") as f:
        json.dump(results, f, indent=1)
    subprocess.run([sys.executable, os.path.join(LOAD_DIR, "soak_chart.py"), args.json, args.svg], check=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
