#!/usr/bin/env python3
"""Memory of a glance-api nobody scrapes: create+patch+delete as fast as it goes (wrk, 8
connections, scripts/load/create_patch_delete.lua) on one direct-postgres glance-api for
`--seconds`, with no Prometheus and no request to /metrics (with `--scrape`, /metrics is read
every 5 s instead), RSS read every 10 s. Prints the samples and the growth per request from the
second sample on; exit status 1 if it exceeds `--max-bytes-per-request` (default 20).

    scripts/loadtest.sh --unscraped [--seconds 120] [--scrape]

Called by `scripts/loadtest.sh --unscraped` after the release build. Until the recorder's
histograms were drained on a timer (src/metrics.rs, `spawn_upkeep`), this grew by about 200
bytes a request (docs/performance.md, "Soak").
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import LOAD_DIR, http, postgres, start_postgres_api, wait_healthy  # noqa: E402


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--unscraped", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--scrape", action="store_true", help="read /metrics every 5 s")
    parser.add_argument("--max-bytes-per-request", type=float, default=20.0)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="glance-unscraped-")
    with postgres(workdir) as admin_url:
        api, bind = start_postgres_api(admin_url, "glance_unscraped", workdir)
        try:
            base = "http://" + bind
            wait_healthy(base)
            wrk = subprocess.Popen(["wrk", "-t1", "-c8", f"-d{args.seconds}s", "-s",
                                    os.path.join(LOAD_DIR, "create_patch_delete.lua"), base + "/v2/images"],
                                   env=dict(os.environ, LOAD_DIR=LOAD_DIR), stdout=subprocess.PIPE, text=True)
            samples, started = [], time.time()
            while wrk.poll() is None:
                for _ in range(2):
                    time.sleep(5)
                    if args.scrape:
                        http("GET", base + "/metrics")
                if wrk.poll() is None:
                    samples.append((time.time() - started, rss_kib(api.proc.pid)))
                    print(f"{samples[-1][0]:6.0f} s  RSS {samples[-1][1] / 1024:6.1f} MiB", flush=True)
            out = wrk.communicate()[0]
        finally:
            api.stop()
    line = next(line for line in out.splitlines() if line.startswith("WRK_JSON "))
    rps = float(line.split('"rps": ')[1].split(",")[0])
    # From the second sample: the first 10 s include the allocator's and the pool's warm-up.
    (t0, first), (t1, last) = samples[min(1, len(samples) - 2)], samples[-1]
    per_request = (last - first) * 1024 / max(rps * (t1 - t0), 1)
    print(f"{rps:.0f} req/s; RSS {first / 1024:.1f} -> {last / 1024:.1f} MiB over {t1 - t0:.0f} s: "
          f"{per_request:.1f} bytes per request ({'scraped' if args.scrape else 'nobody scraping'})")
    return 0 if per_request <= args.max_bytes_per_request else 1


if __name__ == "__main__":
    sys.exit(main())
