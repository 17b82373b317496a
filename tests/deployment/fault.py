#!/usr/bin/env python3
"""The deployment that outgrows one machine, with faults (issue 15, item 4): three glance-api
nodes (direct-postgres) behind haproxy, one PostgreSQL database, and image data on a real
three-node Garage cluster (replication 3) that the nodes reach through haproxy too.

Mixed load through the API front (uploads of 1-12 MiB, some as multipart, downloads checked
against their MD5, lists, patches) while one Garage node and then one API node are SIGKILLed,
then both come back. Checked afterwards:
- every upload that was acknowledged (204) is active and serves its exact data (MD5) through
  every API node;
- no image is left `saving` once recovery has run (`store.stale_upload_seconds`);
- requests failed only while the API node was being killed (those in flight on it) and never
  because of the Garage node;
- every node serves again, new uploads included, once both have returned.

Run by tests/deployment/fault.sh (Garage from tests/s3/lib.sh, PostgreSQL, the debug build).
Standard library only.
"""
import argparse
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from garage import Cluster, free_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts", "load"))
from run import wait_healthy  # noqa: E402  (scripts/load/run.py: polls /healthcheck)
STALE_SECONDS = 8


def request(base, method, path, body=None, headers=None, timeout=120):
    """(status, body bytes); a transport failure raises OSError."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class ApiNode:
    def __init__(self, index, binary, env, workdir):
        self.index = index
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.binary = binary
        self.env = dict(os.environ, RUST_LOG="warn", GLANCE__SERVER__BIND=f"127.0.0.1:{self.port}",
                        GLANCE__IMPORT__STAGING_PATH=os.path.join(workdir, f"staging{index}"), **env)
        self.log = os.path.join(workdir, f"api{index}.log")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([self.binary], env=self.env, stdout=open(self.log, "a"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        wait_healthy(self.base)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)


def haproxy_env(cluster, nodes):
    """config/haproxy.example.cfg's addresses: the two fronts are handed over (fd 3 and 4)."""
    env = dict(os.environ, S3_FRONT="fd@3", API_FRONT="fd@4")
    for n in cluster.nodes:
        env[f"GARAGE{n.index}"] = f"127.0.0.1:{n.s3_port}"
        env[f"GARAGE{n.index}_ADMIN"] = str(n.admin_port)
    for n in nodes:
        env[f"API{n.index}"] = f"127.0.0.1:{n.port}"
    return env


class Load:
    """Writers through the front: each loop creates, uploads, patches, lists and reads back."""

    def __init__(self, front, writers):
        self.front = front
        self.writers = writers
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = {}  # image id -> md5 of the acknowledged upload
        self.errors = []  # (time, what)
        self.done = 0

    def error(self, what):
        with self.lock:
            self.errors.append((time.time(), what))

    def step(self, rng):
        status, body = request(self.front, "POST", "/v2/images", json.dumps(
            {"name": "fault", "disk_format": "raw", "container_format": "bare"}).encode(),
            {"Content-Type": "application/json"})
        if status != 201:
            return self.error(f"create {status} {body[:200]!r}")
        image_id = json.loads(body)["id"]
        data = os.urandom(rng.choice([1, 2, 3, 7, 12]) << 20)
        status, body = request(self.front, "PUT", f"/v2/images/{image_id}/file", data,
                               {"Content-Type": "application/octet-stream"})
        if status != 204:
            return self.error(f"upload {image_id} {status} {body[:200]!r}")
        with self.lock:
            self.acked[image_id] = hashlib.md5(data).hexdigest()
        status, body = request(self.front, "PATCH", f"/v2/images/{image_id}", json.dumps(
            [{"op": "replace", "path": "/name", "value": f"fault-{image_id[:8]}"}]).encode(),
            {"Content-Type": "application/openstack-images-v2.1-json-patch"})
        if status != 200:
            self.error(f"patch {image_id} {status} {body[:200]!r}")
        status, body = request(self.front, "GET", "/v2/images?limit=20")
        if status != 200:
            self.error(f"list {status} {body[:200]!r}")
        with self.lock:
            picked = rng.choice(list(self.acked.items()))
        status, body = request(self.front, "GET", f"/v2/images/{picked[0]}/file")
        if status != 200 or hashlib.md5(body).hexdigest() != picked[1]:
            self.error(f"download {picked[0]} {status} ({len(body)} bytes, md5 differs: "
                       f"{status == 200})")
        with self.lock:
            self.done += 1

    def run(self, seed):
        rng = random.Random(seed)
        while not self.stop.is_set():
            try:
                self.step(rng)
            except (OSError, http.client.HTTPException) as err:
                self.error(f"transport: {type(err).__name__}: {err}")

    def start(self):
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(self.writers)]
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=180)


def check(condition, what, detail=""):
    if not condition:
        print(f"FAIL: {what}\n{detail}", flush=True)
        sys.exit(1)
    print(f"  ok: {what}", flush=True)


def verify(nodes, acked):
    """Every acknowledged image, active with its data, through every node."""
    for image_id, md5 in sorted(acked.items()):
        for node in nodes:
            status, body = request(node.base, "GET", f"/v2/images/{image_id}")
            image = json.loads(body) if status == 200 else {}
            if image.get("status") != "active" or image.get("checksum") != md5:
                check(False, f"image {image_id} through api{node.index}", f"{status} {body[:300]!r}")
            status, body = request(node.base, "GET", f"/v2/images/{image_id}/file")
            if status != 200 or hashlib.md5(body).hexdigest() != md5:
                check(False, f"data of image {image_id} through api{node.index}", f"status {status}")
    check(True, f"{len(acked)} acknowledged images active with their exact data through each of "
                f"{len(nodes)} nodes")


def nothing_saving(base, timeout):
    deadline = time.time() + timeout
    while True:
        status, body = request(base, "GET", "/v2/images?status=saving&limit=1000")
        saving = [i["id"] for i in json.loads(body)["images"]] if status == 200 else ["?"]
        if not saving:
            return check(True, "no image left saving after recovery")
        if time.time() > deadline:
            return check(False, f"{len(saving)} images still saving", ", ".join(saving))
        time.sleep(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--api-bin", required=True)
    parser.add_argument("--garage-bin", required=True)
    parser.add_argument("--database-url", required=True, help="an empty database with the schema")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--phase", type=float, default=8.0, help="seconds between faults")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="glance-fault-")
    cluster = Cluster(os.path.join(workdir, "garage"), args.garage_bin, 3)
    nodes, haproxy = [], None
    try:
        cluster.up()
        print(f"garage: 3 nodes healthy ({', '.join(n.endpoint for n in cluster.nodes)})", flush=True)
        nodes = [ApiNode(i, args.api_bin, {}, workdir) for i in (1, 2, 3)]
        ports_file = os.path.join(workdir, "haproxy.ports")
        haproxy = subprocess.Popen([os.path.join(ROOT, "tests", "lib", "listen.py"), ports_file, "2",
                                    "haproxy", "-f", os.path.join(ROOT, "config", "haproxy.example.cfg"), "-db"],
                                   env=haproxy_env(cluster, nodes),
                                   stdout=open(os.path.join(workdir, "haproxy.log"), "w"), stderr=subprocess.STDOUT)
        while not os.path.exists(ports_file):
            time.sleep(0.05)
        s3_port, api_port = open(ports_file).read().split()
        front = f"http://127.0.0.1:{api_port}"
        # config/glance-api.s3-cluster.example.toml, with this machine's addresses and secrets.
        env = {
            "GLANCE_CONFIG": os.path.join(ROOT, "config", "glance-api.s3-cluster.example.toml"),
            "GLANCE__SERVER__PUBLIC_ENDPOINT": front,
            "GLANCE__DATABASE__URL": args.database_url,
            "GLANCE__STORE__STALE_UPLOAD_SECONDS": str(STALE_SECONDS),
            "GLANCE__STORES__OBJECTS__ENDPOINT": f"http://127.0.0.1:{s3_port}",
            "GLANCE__STORES__OBJECTS__ACCESS_KEY": cluster.key_id,
            "GLANCE__STORES__OBJECTS__SECRET_KEY": cluster.secret,
            # Uploads of 7 and 12 MiB go as multipart uploads of 5 MiB parts.
            "GLANCE__STORES__OBJECTS__LARGE_OBJECT_SIZE": "5",
            "GLANCE__STORES__OBJECTS__LARGE_OBJECT_CHUNK_SIZE": "5",
            "GLANCE__AUTH__MODE": "noauth",
            "GLANCE__METRICS__BIND": "",
        }
        for node in nodes:
            node.env.update(env)
            node.start()
        wait_healthy(front)
        print(f"3 API nodes behind {front}; S3 through haproxy on {s3_port}", flush=True)

        load = Load(front, args.writers)
        started = time.time()
        load.start()
        time.sleep(args.phase)
        victim = cluster.nodes[1]
        garage_killed = time.time()
        victim.kill()
        print(f"[{garage_killed - started:5.1f} s] SIGKILL garage node {victim.index}", flush=True)
        time.sleep(args.phase)
        api_killed = time.time()
        nodes[2].kill()
        print(f"[{api_killed - started:5.1f} s] SIGKILL api3", flush=True)
        time.sleep(args.phase)
        cluster.restart(victim)
        nodes[2].start()
        back = time.time()
        print(f"[{back - started:5.1f} s] garage node {victim.index} and api3 are back", flush=True)
        time.sleep(args.phase)
        load.finish()
        print(f"load: {load.done} full cycles, {len(load.acked)} acknowledged uploads, "
              f"{len(load.errors)} failed requests", flush=True)
        for at, what in load.errors:
            print(f"  [{at - started:5.1f} s] {what}", flush=True)

        check(load.done > 0 and len(load.acked) > 0, "the load ran")
        # In flight on api3 when it died: at most one request per writer, within the second
        # after the kill (haproxy stops sending to it at its next failed check, 300 ms).
        outside = [(at, what) for at, what in load.errors if not api_killed - 0.5 <= at <= api_killed + 2.0]
        check(not outside, "no request failed except those in flight on the killed API node",
              "\n".join(f"[{at - started:.1f} s] {what}" for at, what in outside))
        check(len(load.errors) <= args.writers,
              f"at most one failed request per writer when the API node died ({len(load.errors)})")
        verify(nodes, load.acked)
        nothing_saving(nodes[0].base, STALE_SECONDS * 4)
        # Full service: a new image through each node directly.
        for node in nodes:
            data = os.urandom(6 << 20)
            status, body = request(node.base, "POST", "/v2/images", json.dumps(
                {"name": "after", "disk_format": "raw", "container_format": "bare"}).encode(),
                {"Content-Type": "application/json"})
            image_id = json.loads(body)["id"]
            status, _ = request(node.base, "PUT", f"/v2/images/{image_id}/file", data,
                                {"Content-Type": "application/octet-stream"})
            check(status == 204, f"api{node.index} takes uploads again")
        print("fault test: passed", flush=True)
    finally:
        if haproxy:
            haproxy.terminate()
        for node in nodes:
            node.stop()
        cluster.down()
        if os.environ.get("GLANCE_FAULT_KEEP"):
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
