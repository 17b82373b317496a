"""glance-direct imports under load (scripts/load/run.py calls it for every mode).

- big: `rounds` images of the upload size, one at a time: PUT /stage with curl (MiB/s), then
  POST /import until the image is active (seconds and MiB/s, polled every 20 ms).
- small: `count` images of 64 KiB, `workers` at once, each create → stage → import → active:
  imports completed per second and the latency of the whole sequence (p50, p95).
Every import must end active with its task succeeded; anything else stops the run.
"""
import concurrent.futures
import json
import statistics
import subprocess
import time

SMALL = 64 * 1024


def create(http, base):
    status, body = http("POST", base + "/v2/images", json.dumps(
        {"name": "import", "disk_format": "raw", "container_format": "bare"}).encode(),
        {"Content-Type": "application/json"})
    assert status == 201, body
    return json.loads(body)["id"]


def import_and_wait(http, base, image_id, timeout=600):
    """POST /import, then poll until active: the seconds it took."""
    started = time.monotonic()
    status, body = http("POST", f"{base}/v2/images/{image_id}/import",
                        json.dumps({"method": {"name": "glance-direct"}}).encode(),
                        {"Content-Type": "application/json"})
    assert status == 202, (status, body)
    while time.monotonic() - started < timeout:
        status, body = http("GET", f"{base}/v2/images/{image_id}")
        image = json.loads(body)
        if image["status"] == "active" and "os_glance_import_task" not in image:
            return time.monotonic() - started
        assert image["status"] in ("uploading", "importing"), image
        time.sleep(0.02)
    raise RuntimeError(f"import of {image_id} did not end within {timeout} s")


def task_succeeded(http, base, image_id):
    for _ in range(250):
        status, body = http("GET", f"{base}/v2/images/{image_id}/tasks")
        tasks = json.loads(body)["tasks"]
        if tasks and tasks[0]["status"] == "success":
            return
        assert not tasks or tasks[0]["status"] in ("pending", "processing"), tasks
        time.sleep(0.02)
    raise RuntimeError(f"the task of {image_id} did not succeed")


def big(http, base, data_file, size, rounds):
    stages, imports = [], []
    for _ in range(rounds):
        image_id = create(http, base)
        out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "-T", data_file,
                              "-H", "Content-Type: application/octet-stream", f"{base}/v2/images/{image_id}/stage"],
                             capture_output=True, text=True, check=True).stdout.split()
        assert out[0] == "204", out
        stages.append(size / 2**20 / float(out[1]))
        imports.append(import_and_wait(http, base, image_id))
        task_succeeded(http, base, image_id)
        http("DELETE", f"{base}/v2/images/{image_id}")
    seconds = statistics.median(imports)
    return {"stage_mib_s": statistics.median(stages), "import_s": seconds, "import_mib_s": size / 2**20 / seconds}


def small(http, base, count, workers):
    data = bytes(i % 251 for i in range(SMALL))

    def one(_):
        started = time.monotonic()
        image_id = create(http, base)
        status, body = http("PUT", f"{base}/v2/images/{image_id}/stage", data,
                            {"Content-Type": "application/octet-stream"})
        assert status == 204, body
        import_and_wait(http, base, image_id)
        took = time.monotonic() - started
        task_succeeded(http, base, image_id)
        return image_id, took

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        done = list(pool.map(one, range(count)))
    wall = time.monotonic() - started
    for image_id, _ in done:
        http("DELETE", f"{base}/v2/images/{image_id}")
    latencies = sorted(took for _, took in done)
    return {"count": count, "workers": workers, "imports_per_s": count / wall,
            "p50_ms": 1000 * latencies[len(latencies) // 2],
            "p95_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]}


def measure(http, base, data_file, size, rounds, count=64, workers=8):
    return {"big": big(http, base, data_file, size, rounds), "small": small(http, base, count, workers)}


def summary(r):
    b, s = r["big"], r["small"]
    return (f"glance-direct: stage {b['stage_mib_s']:.0f} MiB/s, import {b['import_s']:.2f} s "
            f"({b['import_mib_s']:.0f} MiB/s); {s['count']} x 64 KiB, {s['workers']} at once: "
            f"{s['imports_per_s']:.1f} imports/s, p50 {s['p50_ms']:.0f} ms, p95 {s['p95_ms']:.0f} ms")
