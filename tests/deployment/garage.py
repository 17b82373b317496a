"""A real Garage cluster on loopback for the fault test (tests/deployment/fault.py): N nodes
with replication factor 3 (fewer nodes: N), one key and the bucket `images`. Adapted from
../shared/real-s3/start.sh. Nodes can be SIGKILLed and started again; a restarted node is
connected to the live ones both ways at once (Garage retries a failed peer only every 30 s).
Standard library only.
"""
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, index, root, binary, rf, rpc_secret, admin_token):
        self.index = index
        self.dir = os.path.join(root, f"node{index}")
        self.binary = binary
        self.s3_port, self.rpc_port, self.admin_port = free_port(), free_port(), free_port()
        self.admin_token = admin_token
        self.proc = None
        os.makedirs(os.path.join(self.dir, "meta"))
        os.makedirs(os.path.join(self.dir, "data"))
        self.config = os.path.join(self.dir, "garage.toml")
        with open(self.config, "w") as f:
            f.write(
                f'metadata_dir = "{self.dir}/meta"\n'
                f'data_dir = "{self.dir}/data"\n'
                'db_engine = "lmdb"\n'
                f"replication_factor = {rf}\n"
                f'rpc_bind_addr = "127.0.0.1:{self.rpc_port}"\n'
                f'rpc_public_addr = "127.0.0.1:{self.rpc_port}"\n'
                f'rpc_secret = "{rpc_secret}"\n'
                "[s3_api]\n"
                f'api_bind_addr = "127.0.0.1:{self.s3_port}"\n'
                's3_region = "garage"\n'
                "[admin]\n"
                f'api_bind_addr = "127.0.0.1:{self.admin_port}"\n'
                f'admin_token = "{admin_token}"\n'
            )
        os.chmod(self.config, 0o600)

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.s3_port}"

    def cli(self, *args):
        return subprocess.run([self.binary, "-c", self.config] + list(args),
                              capture_output=True, text=True, check=True).stdout.strip()

    def start(self):
        log = open(os.path.join(self.dir, "garage.log"), "a")
        env = dict(os.environ, RUST_LOG="garage=warn", NO_COLOR="1")
        self.proc = subprocess.Popen([self.binary, "-c", self.config, "server"], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"garage node {self.index} exited; see {self.dir}/garage.log")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/health", timeout=1)
                return
            except urllib.error.HTTPError:
                return  # any answer: up (503 until a layout exists)
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"garage node {self.index} did not answer")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def healthy(self):
        request = urllib.request.Request(f"http://127.0.0.1:{self.admin_port}/v2/GetClusterHealth",
                                         headers={"Authorization": f"Bearer {self.admin_token}"})
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return json.loads(response.read()).get("status") == "healthy"
        except (OSError, ValueError):
            return False


class Cluster:
    def __init__(self, root, binary, count):
        rf = min(count, 3)
        rpc_secret, admin_token = secrets.token_hex(32), secrets.token_hex(32)
        self.nodes = [Node(i + 1, root, binary, rf, rpc_secret, admin_token) for i in range(count)]
        self.key_id = self.secret = None

    def up(self):
        for node in self.nodes:
            node.start()
        ids = [node.cli("node", "id", "-q") for node in self.nodes]
        for node in self.nodes:
            for other in ids:
                if other != ids[node.index - 1]:
                    node.cli("node", "connect", other)
        first = self.nodes[0]
        for node_id in ids:
            first.cli("layout", "assign", "-z", "dc1", "-c", "1G", node_id.split("@")[0])
        first.cli("layout", "apply", "--version", "1")
        self.wait_healthy()
        first.cli("key", "create", "glance-fault")
        self.key_id = first.cli("key", "info", "glance-fault", "--key-id")
        self.secret = first.cli("key", "info", "glance-fault", "--secret-key")
        first.cli("bucket", "create", "images")
        first.cli("bucket", "allow", "--read", "--write", "--owner", "images", "--key", "glance-fault")

    def wait_healthy(self, timeout=60):
        """Every node sees the cluster healthy (one node can before another's links are up)."""
        deadline = time.time() + timeout
        for node in self.nodes:
            while not node.healthy():
                if time.time() > deadline:
                    raise RuntimeError(f"garage node {node.index}: cluster not healthy")
                time.sleep(0.2)

    def restart(self, node):
        node.start()
        me = node.cli("node", "id", "-q")
        for other in self.nodes:
            if other is not node and other.proc and other.proc.poll() is None:
                node.cli("node", "connect", other.cli("node", "id", "-q"))
                other.cli("node", "connect", me)

    def down(self):
        for node in self.nodes:
            node.stop()
