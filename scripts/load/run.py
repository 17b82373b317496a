#!/usr/bin/env python3
"""Drive the same wrk workload against every data-access mode and write the report.

Called by scripts/loadtest.sh after the release build. Standard library only.
"""
import argparse
import contextlib
import datetime
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import imports  # scripts/load/imports.py (this folder is on sys.path as the script's own)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# GLANCE_LOAD_BIN: another build folder (e.g. target/debug for a quick look; figures are not comparable)
BIN = os.environ.get("GLANCE_LOAD_BIN") or os.path.join(ROOT, "target", "release")
# GLANCE_LOAD_BEFORE_BIN: an earlier build's folder (glance-api, glance-registry); the side-by-side
# run then also drives its direct-postgres and registry-proxy nodes, to measure a change in one run
BEFORE_BIN = os.environ.get("GLANCE_LOAD_BEFORE_BIN")
LOAD_DIR = os.path.join(ROOT, "scripts", "load")
TOKEN = "loadtest-registry-token"
MODES = [
    ("direct-sqlite", "direct-sqlite", None),
    ("direct-postgres", "direct-postgres", None),
    ("registry-proxy over sqlite", "registry-proxy", "direct-sqlite"),
    ("registry-proxy over postgres", "registry-proxy", "direct-postgres"),
]
OPS = ["get image", "list 20", "create+patch+delete"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=60):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def wait_healthy(base, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            status, _ = http("GET", base + "/healthcheck", timeout=2)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{base} did not become healthy")


class Proc:
    def __init__(self, name, args, env, workdir):
        self.name = name
        self.log = open(os.path.join(workdir, name + ".log"), "w")
        full_env = {**os.environ, "RUST_LOG": "warn", **env}  # env may set RUST_LOG itself
        self.proc = subprocess.Popen(args, env=full_env, cwd=workdir, stdout=self.log, stderr=subprocess.STDOUT)

    def peak_rss_mib(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def wrk(url, script, duration, connections):
    env = dict(os.environ, LOAD_DIR=LOAD_DIR)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", os.path.join(LOAD_DIR, script), url],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    match = re.search(r"WRK_JSON (\{.*\})", out)
    if not match:
        raise RuntimeError("wrk printed no summary:\n" + out)
    return json.loads(match.group(1))


def psql(url, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True, capture_output=True)


@contextlib.contextmanager
def postgres(workdir):
    """An admin URL: GLANCE_TEST_DATABASE_URL, or a throwaway cluster under workdir, stopped
    on exit."""
    url = os.environ.get("GLANCE_TEST_DATABASE_URL")
    if url:
        yield url
        return
    pg_dir = os.path.join(workdir, "pg")
    script = os.path.join(ROOT, "scripts", "pg-throwaway.sh")
    url = subprocess.run([script, "start", pg_dir], capture_output=True, text=True, check=True).stdout.strip()
    try:
        yield url
    finally:
        subprocess.run([script, "stop", pg_dir])


def database_url(admin_url, name):
    """The URL of database `name` on the server of `admin_url`."""
    return admin_url.rsplit("/", 1)[0] + "/" + name


def fresh_database(admin_url, name, workdir):
    """Drop and re-create database `name`, give it the schema (`glance-api db-sync`); its URL."""
    psql(admin_url, f"DROP DATABASE IF EXISTS {name}")
    psql(admin_url, f"CREATE DATABASE {name}")
    db_url = database_url(admin_url, name)
    subprocess.run([os.path.join(BIN, "glance-api"), "db-sync"], check=True, cwd=workdir, capture_output=True,
                   env=dict(os.environ, GLANCE__DATA_ACCESS__MODE="direct-postgres", GLANCE__DATABASE__URL=db_url))
    return db_url


def start_postgres_api(admin_url, database, workdir):
    """A fresh database `database` and a direct-postgres glance-api (release build, default
    workers and pool) serving it, started but not yet healthy; returns (Proc, bind address)."""
    db_url = fresh_database(admin_url, database, workdir)
    bind = f"127.0.0.1:{free_port()}"
    api = Proc("glance-api", [os.path.join(BIN, "glance-api")], {
        "GLANCE__SERVER__BIND": bind, "GLANCE__DATA_ACCESS__MODE": "direct-postgres",
        "GLANCE__DATABASE__URL": db_url, "GLANCE__STORE__PATH": os.path.join(workdir, "images")}, workdir)
    return api, bind


def scrape(base):
    _, body = http("GET", base + "/metrics")
    return body.decode()


def mean_by_operation(metrics_text, metric="glance_data_access_duration_seconds"):
    """operation -> (sum, count) from a Prometheus text scrape."""
    sums, counts = {}, {}
    for line in metrics_text.splitlines():
        m = re.match(metric + r"_(sum|count)\{([^}]*)\} ([0-9.e+-]+)", line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        op = labels.get("operation", labels.get("command", "?"))
        target = sums if m.group(1) == "sum" else counts
        target[op] = target.get(op, 0.0) + float(m.group(3))
    return {op: sums[op] / counts[op] for op in sums if counts.get(op)}


def seed(base, count=40):
    ids = []
    for i in range(count):
        status, body = http("POST", base + "/v2/images", json.dumps(
            {"name": f"seed-{i:02d}", "disk_format": "raw", "container_format": "bare",
             "os_distro": "debian", "tags": ["bench"]}).encode(), {"Content-Type": "application/json"})
        assert status == 201, body
        image_id = json.loads(body)["id"]
        status, body = http("PUT", f"{base}/v2/images/{image_id}/file", b"x" * 1024,
                            {"Content-Type": "application/octet-stream"})
        assert status == 204, body
        ids.append(image_id)
    return ids


def create_raw_image(base, name="big"):
    status, body = http("POST", base + "/v2/images", json.dumps(
        {"name": name, "disk_format": "raw", "container_format": "bare"}).encode(),
        {"Content-Type": "application/json"})
    assert status == 201, body
    return json.loads(body)["id"]


def curl_upload(base, image_id, data_file):
    """Seconds curl took to upload `data_file` as the image's data."""
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "-T", data_file,
                          "-H", "Content-Type: application/octet-stream", f"{base}/v2/images/{image_id}/file"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "204", out
    return float(out[1])


def curl_download(base, image_id, size):
    """Seconds curl took to download the image's `size` bytes."""
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total} %{size_download}",
                          f"{base}/v2/images/{image_id}/file"], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "200" and int(out[2]) == size, out
    return float(out[1])


def transfer(base, data_file, size, rounds):
    """Median MiB/s of uploads and downloads of `size` bytes with curl."""
    ups, downs = [], []
    for _ in range(rounds):
        image_id = create_raw_image(base)
        ups.append(size / 2**20 / curl_upload(base, image_id, data_file))
        downs.append(size / 2**20 / curl_download(base, image_id, size))
        http("DELETE", f"{base}/v2/images/{image_id}")
    return statistics.median(ups), statistics.median(downs)


def run_mode(label, mode, backend, args, workdir, pg_admin_url, results):
    """Everything measured on one mode; with --imports-only, the import row alone."""
    print(f"== {label}", flush=True)
    mode_dir = os.path.join(workdir, re.sub(r"\W+", "-", label))
    os.makedirs(mode_dir)
    db_backend = backend or mode
    if db_backend == "direct-postgres":
        dbname = "bench_" + re.sub(r"\W+", "_", label)
        psql(pg_admin_url, f"DROP DATABASE IF EXISTS {dbname}")
        psql(pg_admin_url, f"CREATE DATABASE {dbname}")
        db_url = database_url(pg_admin_url, dbname)
        subprocess.run([os.path.join(BIN, "glance-api"), "db-sync"], check=True, cwd=mode_dir,
                       env=dict(os.environ, GLANCE__DATA_ACCESS__MODE="direct-postgres", GLANCE__DATABASE__URL=db_url))
    else:
        db_url = "sqlite:///" + os.path.join(mode_dir, "glance.db")
    procs = []
    try:
        api_env = {"GLANCE__SERVER__BIND": f"127.0.0.1:{free_port()}", "GLANCE__STORE__PATH": os.path.join(mode_dir, "images"),
                   "GLANCE__IMPORT__STAGING_PATH": os.path.join(mode_dir, "staging"),
                   "GLANCE__DATA_ACCESS__MODE": mode}
        registry_base = None
        if mode == "registry-proxy":
            port = free_port()
            registry_base = f"http://127.0.0.1:{port}"
            procs.append(Proc("registry", [os.path.join(BIN, "glance-registry")], {
                "GLANCE__SERVER__BIND": f"127.0.0.1:{port}", "GLANCE__DATA_ACCESS__MODE": db_backend,
                "GLANCE__DATABASE__URL": db_url, "GLANCE__REGISTRY__TOKEN": TOKEN}, mode_dir))
            wait_healthy(registry_base)
            api_env.update({"GLANCE__REGISTRY__URL": registry_base, "GLANCE__REGISTRY__TOKEN": TOKEN})
        else:
            api_env["GLANCE__DATABASE__URL"] = db_url
        api = Proc("api", [os.path.join(BIN, "glance-api")], api_env, mode_dir)
        procs.append(api)
        base = "http://" + api_env["GLANCE__SERVER__BIND"]
        wait_healthy(base)
        data_file = os.path.join(workdir, "upload.bin")
        if args.imports_only:
            entry = {"imports": imports.measure(http, base, data_file, args.upload_mib * 2**20, args.rounds)}
            results["modes"][label] = entry
            print("   " + imports.summary(entry["imports"]), flush=True)
            return
        ids = seed(base)
        target = ids[len(ids) // 2]
        entry = {"ops": {}}
        entry["ops"]["get image"] = wrk(f"{base}/v2/images/{target}", "get.lua", args.duration, args.connections)
        entry["ops"]["list 20"] = wrk(f"{base}/v2/images?limit=20", "get.lua", args.duration, args.connections)
        entry["ops"]["create+patch+delete"] = wrk(base, "create_patch_delete.lua", args.duration, args.connections)
        if mode == "direct-postgres":
            port = free_port()
            baseline = Proc("baseline", [os.path.join(BIN, "examples", "baseline"), f"127.0.0.1:{port}", db_url], {}, mode_dir)
            procs.append(baseline)
            time.sleep(1)
            results["baseline"] = wrk(f"http://127.0.0.1:{port}/v2/images/{target}", "get.lua", args.duration, args.connections)
        up, down = transfer(base, data_file, args.upload_mib * 2**20, args.rounds)
        entry["upload_mib_s"], entry["download_mib_s"] = up, down
        entry["imports"] = imports.measure(http, base, data_file, args.upload_mib * 2**20, args.rounds)
        entry["api_peak_rss_mib"] = api.peak_rss_mib()
        entry["data_access_mean_s"] = mean_by_operation(scrape(base))
        if registry_base:
            entry["registry_db_mean_s"] = mean_by_operation(scrape(registry_base))
            entry["registry_hop_mean_s"] = mean_by_operation(scrape(base), "glance_registry_hop_duration_seconds")
        results["modes"][label] = entry
        for op in OPS:
            r = entry["ops"][op]
            print(f"   {op:22s} {r['rps']:9.1f} req/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  errors {r['errors']} non2xx {r['non2xx']}", flush=True)
        print(f"   upload {up:.0f} MiB/s, download {down:.0f} MiB/s, peak RSS {entry['api_peak_rss_mib']} MiB", flush=True)
        print("   " + imports.summary(entry["imports"]), flush=True)
    finally:
        for p in reversed(procs):
            p.stop()


# The last one is direct-postgres at the default log level (RUST_LOG=info: one access-log line
# per request); every other server runs at RUST_LOG=warn.
ACCESS_LOGGED = "direct-postgres, access log on"
SIDE_BY_SIDE = ["direct-postgres", "registry-proxy over postgres", "bare baseline", "bare baseline (full row)",
                "bare forwarding pair", ACCESS_LOGGED]
BEFORE = {"direct-postgres": "direct-postgres, before", "registry-proxy over postgres": "registry-proxy, before"}
if BEFORE_BIN:
    SIDE_BY_SIDE += list(BEFORE.values())
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """User and system CPU seconds used so far by these processes (`/proc/PID/stat`)."""
    user = system = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a PostgreSQL backend that has gone since it was listed
        user += int(fields[11]) / CLOCK_TICKS
        system += int(fields[12]) / CLOCK_TICKS
    return user, system


def postgres_pids():
    """Every PostgreSQL server process on the machine (the load test's cluster, and any other
    idle one): their CPU during a run is the database's share of it."""
    out = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def wrk_with_cpu(url, connections, duration, server_pids):
    """wrk's figures, plus the CPU microseconds per request its run cost the servers (user and
    system) and PostgreSQL."""
    pg = postgres_pids()
    (su0, ss0), (pu0, ps0) = cpu_seconds(server_pids), cpu_seconds(pg)
    result = wrk(url, "get.lua", duration, connections)
    (su1, ss1), (pu1, ps1) = cpu_seconds(server_pids), cpu_seconds(pg)
    requests = max(result["requests"], 1)
    per = lambda seconds: seconds / requests * 1e6
    result["cpu_us"] = {"server user": per(su1 - su0), "server system": per(ss1 - ss0),
                        "postgres": per(pu1 - pu0 + ps1 - ps0)}
    return result


def side_by_side(args, workdir, pg_admin_url, results):
    """The two GET goals, measured as fairly as two cores allow: a direct-postgres node, a
    registry-proxy node with its registry, the bare baseline and the bare forwarding pair (a
    bare actix-web process forwarding to that baseline over keep-alive HTTP: the registry hop
    at its floor) all run at once on one database, and GET image is driven at each in turn,
    `rounds` times; medians are reported."""
    print("== side by side: GET image, alternating runs", flush=True)
    mode_dir = os.path.join(workdir, "side-by-side")
    os.makedirs(mode_dir)
    psql(pg_admin_url, "DROP DATABASE IF EXISTS bench_side_by_side")
    psql(pg_admin_url, "CREATE DATABASE bench_side_by_side")
    db_url = database_url(pg_admin_url, "bench_side_by_side")
    subprocess.run([os.path.join(BIN, "glance-api"), "db-sync"], check=True, cwd=mode_dir, capture_output=True,
                   env=dict(os.environ, GLANCE__DATA_ACCESS__MODE="direct-postgres", GLANCE__DATABASE__URL=db_url))
    store = os.path.join(mode_dir, "images")
    procs = []
    try:
        registry_port, direct_port, proxy_port = free_port(), free_port(), free_port()
        baseline_port, forward_port, full_port = free_port(), free_port(), free_port()
        logged_port = free_port()
        registry_base = f"http://127.0.0.1:{registry_port}"
        procs.append(Proc("registry", [os.path.join(BIN, "glance-registry")], {
            "GLANCE__SERVER__BIND": f"127.0.0.1:{registry_port}", "GLANCE__DATA_ACCESS__MODE": "direct-postgres",
            "GLANCE__DATABASE__URL": db_url, "GLANCE__REGISTRY__TOKEN": TOKEN}, mode_dir))
        wait_healthy(registry_base)
        direct = f"http://127.0.0.1:{direct_port}"
        procs.append(Proc("api-direct", [os.path.join(BIN, "glance-api")], {
            "GLANCE__SERVER__BIND": f"127.0.0.1:{direct_port}", "GLANCE__DATA_ACCESS__MODE": "direct-postgres",
            "GLANCE__DATABASE__URL": db_url, "GLANCE__STORE__PATH": store}, mode_dir))
        logged = f"http://127.0.0.1:{logged_port}"
        procs.append(Proc("api-direct-logged", [os.path.join(BIN, "glance-api")], {
            "GLANCE__SERVER__BIND": f"127.0.0.1:{logged_port}", "GLANCE__DATA_ACCESS__MODE": "direct-postgres",
            "GLANCE__DATABASE__URL": db_url, "GLANCE__STORE__PATH": store, "RUST_LOG": "info"}, mode_dir))
        proxy = f"http://127.0.0.1:{proxy_port}"
        procs.append(Proc("api-proxy", [os.path.join(BIN, "glance-api")], {
            "GLANCE__SERVER__BIND": f"127.0.0.1:{proxy_port}", "GLANCE__DATA_ACCESS__MODE": "registry-proxy",
            "GLANCE__REGISTRY__URL": registry_base, "GLANCE__REGISTRY__TOKEN": TOKEN, "GLANCE__STORE__PATH": store},
            mode_dir))
        procs.append(Proc("baseline", [os.path.join(BIN, "examples", "baseline"), f"127.0.0.1:{baseline_port}", db_url],
                          {}, mode_dir))
        procs.append(Proc("forward-baseline", [os.path.join(BIN, "examples", "forward_baseline"),
                                               f"127.0.0.1:{forward_port}", f"127.0.0.1:{baseline_port}"], {}, mode_dir))
        procs.append(Proc("baseline-full", [os.path.join(BIN, "examples", "baseline"), f"127.0.0.1:{full_port}",
                                            db_url, "full"], {}, mode_dir))
        before = {}
        if BEFORE_BIN:
            before_registry_port, before_direct_port, before_proxy_port = free_port(), free_port(), free_port()
            procs.append(Proc("registry-before", [os.path.join(BEFORE_BIN, "glance-registry")], {
                "GLANCE__SERVER__BIND": f"127.0.0.1:{before_registry_port}",
                "GLANCE__DATA_ACCESS__MODE": "direct-postgres", "GLANCE__DATABASE__URL": db_url,
                "GLANCE__REGISTRY__TOKEN": TOKEN}, mode_dir))
            wait_healthy(f"http://127.0.0.1:{before_registry_port}")
            procs.append(Proc("api-direct-before", [os.path.join(BEFORE_BIN, "glance-api")], {
                "GLANCE__SERVER__BIND": f"127.0.0.1:{before_direct_port}", "GLANCE__DATA_ACCESS__MODE": "direct-postgres",
                "GLANCE__DATABASE__URL": db_url, "GLANCE__STORE__PATH": store}, mode_dir))
            procs.append(Proc("api-proxy-before", [os.path.join(BEFORE_BIN, "glance-api")], {
                "GLANCE__SERVER__BIND": f"127.0.0.1:{before_proxy_port}", "GLANCE__DATA_ACCESS__MODE": "registry-proxy",
                "GLANCE__REGISTRY__URL": f"http://127.0.0.1:{before_registry_port}",
                "GLANCE__REGISTRY__TOKEN": TOKEN, "GLANCE__STORE__PATH": store}, mode_dir))
            before = {"direct": f"http://127.0.0.1:{before_direct_port}", "proxy": f"http://127.0.0.1:{before_proxy_port}"}
            for base in before.values():
                wait_healthy(base)
        wait_healthy(direct)
        wait_healthy(logged)
        wait_healthy(proxy)
        time.sleep(1)  # the baseline and the forwarding pair have no health check
        ids = seed(direct)
        target = ids[len(ids) // 2]
        urls = {"direct-postgres": f"{direct}/v2/images/{target}",
                "registry-proxy over postgres": f"{proxy}/v2/images/{target}",
                "bare baseline": f"http://127.0.0.1:{baseline_port}/v2/images/{target}",
                "bare baseline (full row)": f"http://127.0.0.1:{full_port}/v2/images/{target}",
                "bare forwarding pair": f"http://127.0.0.1:{forward_port}/v2/images/{target}",
                ACCESS_LOGGED: f"{logged}/v2/images/{target}"}
        pid = {p.name: p.proc.pid for p in procs}
        serving = {"direct-postgres": [pid["api-direct"]], "registry-proxy over postgres": [pid["api-proxy"], pid["registry"]],
                   "bare baseline": [pid["baseline"]], "bare baseline (full row)": [pid["baseline-full"]],
                   "bare forwarding pair": [pid["forward-baseline"], pid["baseline"]],
                   ACCESS_LOGGED: [pid["api-direct-logged"]]}
        if BEFORE_BIN:
            urls[BEFORE["direct-postgres"]] = f"{before['direct']}/v2/images/{target}"
            urls[BEFORE["registry-proxy over postgres"]] = f"{before['proxy']}/v2/images/{target}"
            serving[BEFORE["direct-postgres"]] = [pid["api-direct-before"]]
            serving[BEFORE["registry-proxy over postgres"]] = [pid["api-proxy-before"], pid["registry-before"]]
        runs = {name: [] for name in SIDE_BY_SIDE}
        cpu = {name: [] for name in SIDE_BY_SIDE}
        for _ in range(args.rounds):
            for name in SIDE_BY_SIDE:
                result = wrk_with_cpu(urls[name], args.connections, args.duration, serving[name])
                runs[name].append(result["rps"])
                cpu[name].append(result["cpu_us"])
        results["side_by_side"] = {
            name: {"runs": runs[name], "median": statistics.median(runs[name]),
                   "cpu_us_per_request": {part: statistics.median(r[part] for r in cpu[name]) for part in cpu[name][0]}}
            for name in SIDE_BY_SIDE}
        for name in SIDE_BY_SIDE:
            shown = ", ".join(f"{x:.0f}" for x in runs[name])
            parts = results["side_by_side"][name]["cpu_us_per_request"]
            print(f"   {name:30s} median {statistics.median(runs[name]):9.1f} req/s  ({shown}); CPU us/request: "
                  + ", ".join(f"{part} {us:.1f}" for part, us in parts.items()), flush=True)
        median = {name: results["side_by_side"][name]["median"] for name in SIDE_BY_SIDE}
        print(f"   registry-proxy / direct-postgres = x{median['registry-proxy over postgres'] / median['direct-postgres']:.2f}; "
              f"bare forwarding pair / bare baseline = x{median['bare forwarding pair'] / median['bare baseline']:.2f}; "
              f"direct-postgres / bare baseline (full row) = x{median['direct-postgres'] / median['bare baseline (full row)']:.2f}; "
              f"access log on / off = x{median[ACCESS_LOGGED] / median['direct-postgres']:.2f}",
              flush=True)
        if BEFORE_BIN:
            print("   this build / the earlier one (" + BEFORE_BIN + "): "
                  + "; ".join(f"{now} x{median[now] / median[then]:.2f}" for now, then in BEFORE.items())
                  + "; registry-proxy / direct-postgres before = x"
                  + f"{median[BEFORE['registry-proxy over postgres']] / median[BEFORE['direct-postgres']]:.2f}",
                  flush=True)
    finally:
        for p in reversed(procs):
            p.stop()


def issue_token(auth_url, user, project):
    """A password-issued, project-scoped Keystone token (as the clients get one)."""
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"name": "Default"}, "password": user}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}
    request = urllib.request.Request(auth_url + "/v3/auth/tokens?nocatalog", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.headers["X-Subject-Token"]


KEYSTONE_SIDE_BY_SIDE = ["noauth", "keystone (warm cache)"]


def keystone_side_by_side(args, workdir, keystone_url, results):
    """GET image with Keystone tokens (warm cache) beside noauth: two direct-sqlite nodes on
    one database, driven in turn `rounds` times; medians reported. The keystone node's cache
    is warmed by one request first, so this measures the hot path, not Keystone."""
    print("== side by side: GET image, noauth vs keystone (warm cache)", flush=True)
    mode_dir = os.path.join(workdir, "keystone-side-by-side")
    os.makedirs(mode_dir)
    db_url = "sqlite:///" + os.path.join(mode_dir, "glance.db")
    store = os.path.join(mode_dir, "images")
    procs = []
    try:
        noauth_port, keystone_port = free_port(), free_port()
        noauth = f"http://127.0.0.1:{noauth_port}"
        procs.append(Proc("api-noauth", [os.path.join(BIN, "glance-api")], {
            "GLANCE__SERVER__BIND": f"127.0.0.1:{noauth_port}", "GLANCE__DATA_ACCESS__MODE": "direct-sqlite",
            "GLANCE__DATABASE__URL": db_url, "GLANCE__STORE__PATH": store}, mode_dir))
        wait_healthy(noauth)
        keystone = f"http://127.0.0.1:{keystone_port}"
        procs.append(Proc("api-keystone", [os.path.join(BIN, "glance-api")], {
            "GLANCE__SERVER__BIND": f"127.0.0.1:{keystone_port}", "GLANCE__DATA_ACCESS__MODE": "direct-sqlite",
            "GLANCE__DATABASE__URL": db_url, "GLANCE__STORE__PATH": store, "GLANCE__AUTH__MODE": "keystone",
            "GLANCE__KEYSTONE_AUTHTOKEN__AUTH_URL": keystone_url + "/v3",
            "GLANCE__KEYSTONE_AUTHTOKEN__USERNAME": "glance", "GLANCE__KEYSTONE_AUTHTOKEN__PASSWORD": "glance",
            "GLANCE__KEYSTONE_AUTHTOKEN__PROJECT_NAME": "service"}, mode_dir))
        wait_healthy(keystone)
        ids = seed(noauth)  # noauth images have no owner: visible to the demo token too
        target = ids[len(ids) // 2]
        token = issue_token(keystone_url, "demo", "demo")
        status, body = http("GET", f"{keystone}/v2/images/{target}", headers={"X-Auth-Token": token})
        assert status == 200, (status, body)  # warms the cache: the one Keystone call
        urls = {"noauth": f"{noauth}/v2/images/{target}", "keystone (warm cache)": f"{keystone}/v2/images/{target}"}
        runs = {name: [] for name in KEYSTONE_SIDE_BY_SIDE}
        for _ in range(args.rounds):
            for name in KEYSTONE_SIDE_BY_SIDE:
                os.environ["GLANCE_LOAD_TOKEN"] = token if name != "noauth" else ""
                runs[name].append(wrk(urls[name], "get.lua", args.duration, args.connections)["rps"])
        os.environ.pop("GLANCE_LOAD_TOKEN", None)
        validations = sum(float(m.group(1)) for m in re.finditer(
            r'^glance_keystone_validations_total\{[^}]*\} (\S+)$', scrape(keystone), re.M))
        results["keystone_side_by_side"] = {name: {"runs": runs[name], "median": statistics.median(runs[name])}
                                            for name in KEYSTONE_SIDE_BY_SIDE}
        results["keystone_side_by_side"]["validations"] = validations
        for name in KEYSTONE_SIDE_BY_SIDE:
            shown = ", ".join(f"{x:.0f}" for x in runs[name])
            print(f"   {name:30s} median {statistics.median(runs[name]):9.1f} req/s  ({shown})", flush=True)
        ratio = statistics.median(runs["keystone (warm cache)"]) / statistics.median(runs["noauth"])
        print(f"   keystone / noauth = x{ratio:.2f}; Keystone validations during the runs: {validations:.0f}",
              flush=True)
    finally:
        for p in reversed(procs):
            p.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--keystone-only", action="store_true",
                        help="only the noauth vs keystone GET image comparison (no report written)")
    parser.add_argument("--imports-only", action="store_true",
                        help="only the glance-direct import row, every mode (no report written)")
    parser.add_argument("--side-by-side-only", action="store_true",
                        help="only the side-by-side GET image comparison (no report written)")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--upload-mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(ROOT, "docs"))
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="glance-load-")
    with open(os.path.join(workdir, "upload.bin"), "wb") as f:
        block = bytes(i % 251 for i in range(2**20))
        for _ in range(args.upload_mib):
            f.write(block)
    results = {"modes": {}, "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "cores": os.cpu_count(), "duration_s": args.duration, "connections": args.connections,
               "upload_mib": args.upload_mib}
    keystone_url = os.environ.get("GLANCE_TEST_KEYSTONE_URL")
    if args.keystone_only:
        # Direct-sqlite nodes only: no PostgreSQL to start (or to leave running).
        keystone_side_by_side(args, workdir, keystone_url, results)
        shutil.rmtree(workdir, ignore_errors=True)
        return
    with postgres(workdir) as pg_url:
        if args.imports_only or args.side_by_side_only:
            try:
                if args.side_by_side_only:
                    side_by_side(args, workdir, pg_url, results)
                else:
                    for label, mode, backend in MODES:
                        run_mode(label, mode, backend, args, workdir, pg_url, results)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            return
        if keystone_url:
            keystone_side_by_side(args, workdir, keystone_url, results)
        for label, mode, backend in MODES:
            run_mode(label, mode, backend, args, workdir, pg_url, results)
        side_by_side(args, workdir, pg_url, results)
        hashed = subprocess.run([os.path.join(BIN, "examples", "hash_baseline"), str(args.upload_mib)],
                                capture_output=True, text=True, check=True).stdout.strip()
        results["hash_baseline_mib_s"] = float(hashed)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "performance.json"), "w") as f:
        json.dump(results, f, indent=2)
    sys.path.insert(0, LOAD_DIR)
    import report  # noqa: E402
    report.write(results, args.out)
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"report: {os.path.join(args.out, 'performance.md')}")


if __name__ == "__main__":
    main()
