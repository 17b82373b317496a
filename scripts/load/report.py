"""Turn the load test's results into docs/performance.md (between the RESULTS markers) and
docs/performance.svg (scripts/load/modes_chart.py: req/s, p50/p99 and the proxy tax per mode
and operation)."""
import os
import subprocess
import sys

OPS = ["get image", "list 20", "create+patch+delete"]
BEGIN, END = "<!-- RESULTS BEGIN -->", "<!-- RESULTS END -->"


def ratio(a, b):
    return f"×{a / b:.2f}" if a and b else "n/a"


def markdown(r):
    modes = r["modes"]
    lines = [f"Run of {r['date']} on {r['cores']} cores: wrk `-t1 -c{r['connections']} -d{r['duration_s']}s`, "
             f"uploads and downloads of {r['upload_mib']} MiB with curl (median of rounds). "
             "Load generator and servers share the machine, so compare ratios within this run.", ""]
    lines += ["| mode | operation | req/s | p50 ms | p95 ms | p99 ms | errors |", "|---|---|---:|---:|---:|---:|---:|"]
    for label, entry in modes.items():
        for op in OPS:
            o = entry["ops"][op]
            lines.append(f"| {label} | {op} | {o['rps']:.0f} | {o['p50_ms']:.2f} | {o['p95_ms']:.2f} | {o['p99_ms']:.2f} | {o['errors'] + o['non2xx']} |")
    if "baseline" in r:
        b = r["baseline"]
        lines.append(f"| bare actix-web + deadpool (baseline) | get image | {b['rps']:.0f} | {b['p50_ms']:.2f} | {b['p95_ms']:.2f} | {b['p99_ms']:.2f} | {b['errors'] + b['non2xx']} |")
    lines += ["", "| mode | upload MiB/s | download MiB/s | API peak RSS MiB |", "|---|---:|---:|---:|"]
    for label, entry in modes.items():
        rss = entry.get("api_peak_rss_mib")
        lines.append(f"| {label} | {entry['upload_mib_s']:.0f} | {entry['download_mib_s']:.0f} | {rss:.1f} |" if rss else
                     f"| {label} | {entry['upload_mib_s']:.0f} | {entry['download_mib_s']:.0f} | n/a |")
    if all("imports" in e for e in modes.values()):
        lines += ["", f"glance-direct imports (scripts/load/imports.py): {r['upload_mib']} MiB staged with curl then "
                  "imported until active (median of rounds); and 64 small (64 KiB) create → stage → import → active "
                  "sequences, 8 at once.", "",
                  "| mode | stage MiB/s | import s | import MiB/s | small imports/s | small p50 ms | small p95 ms |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for label, entry in modes.items():
            b, sm = entry["imports"]["big"], entry["imports"]["small"]
            lines.append(f"| {label} | {b['stage_mib_s']:.0f} | {b['import_s']:.2f} | {b['import_mib_s']:.0f} | "
                         f"{sm['imports_per_s']:.1f} | {sm['p50_ms']:.0f} | {sm['p95_ms']:.0f} |")
    get = {label: e["ops"]["get image"]["rps"] for label, e in modes.items()}
    side = r.get("side_by_side")
    if side:
        servers = "a direct-postgres node, a registry-proxy node with its registry and the bare baseline"
        if "bare forwarding pair" in side:
            servers = ("a direct-postgres node, a registry-proxy node with its registry, the bare baseline and the "
                       "bare forwarding pair (examples/forward_baseline.rs in front of that baseline, over keep-alive "
                       "HTTP: the registry hop at its floor)")
        lines += ["", f"Side by side (the goals): {servers} run at once on one database; GET image is driven at each in turn, "
                  f"{len(side['direct-postgres']['runs'])} rounds of {r['duration_s']} s; medians.", "",
                  "| server | median req/s | runs |", "|---|---:|---|"]
        for name, s in side.items():
            lines.append(f"| {name} | {s['median']:.0f} | {', '.join(f'{x:.0f}' for x in s['runs'])} |")
        direct, proxy, bare = (side[n]["median"] for n in ("direct-postgres", "registry-proxy over postgres", "bare baseline"))
        lines += ["", "Goals (side-by-side medians):", "",
                  f"- direct-postgres GET image / bare baseline: **{ratio(direct, bare)}** (goal ≥ ×0.95, issue 17)",
                  f"- registry-proxy over postgres / direct-postgres, GET image: **{ratio(proxy, direct)}** (goal ≥ the bare forwarding pair's ratio below, issue 17)"]
        if "bare forwarding pair" in side:
            lines.append(f"- bare forwarding pair / bare baseline, GET image: **{ratio(side['bare forwarding pair']['median'], bare)}** "
                         "(one keep-alive HTTP hop and nothing else: the hop's floor, beside the line above)")
        if "bare baseline (full row)" in side:
            lines.append(f"- direct-postgres GET image / bare baseline (full row): **{ratio(direct, side['bare baseline (full row)']['median'])}** "
                         "(the service's own statement and every column it reads, answered with no Glance logic)")
        if all("cpu_us_per_request" in s for s in side.values()):
            parts = list(next(iter(side.values()))["cpu_us_per_request"])
            lines += ["", "CPU per request during those runs (microseconds, medians; servers from `/proc/PID/stat`, "
                      "PostgreSQL as the sum of its processes; the registry counts with registry-proxy, the baseline "
                      "with the forwarding pair):", "",
                      "| server | " + " | ".join(parts) + " | sum |", "|---|" + "---:|" * (len(parts) + 1)]
            for name, s in side.items():
                us = s["cpu_us_per_request"]
                lines.append(f"| {name} | " + " | ".join(f"{us[p]:.1f}" for p in parts) + f" | {sum(us.values()):.1f} |")
    ks = r.get("keystone_side_by_side")
    if ks:
        noauth, warm = ks["noauth"]["median"], ks["keystone (warm cache)"]["median"]
        lines += ["", f"Keystone auth (a real Keystone, tests/keystone/): two direct-sqlite nodes on one database, "
                  f"noauth and keystone mode with a warm token cache, GET image driven at each in turn, "
                  f"{len(ks['noauth']['runs'])} rounds of {r['duration_s']} s; medians. Keystone validations "
                  f"during the runs: {ks['validations']:.0f}.", "",
                  "| server | median req/s | runs |", "|---|---:|---|"]
        for name in ("noauth", "keystone (warm cache)"):
            lines.append(f"| {name} | {ks[name]['median']:.0f} | {', '.join(f'{x:.0f}' for x in ks[name]['runs'])} |")
        lines += ["", f"- keystone (warm cache) / noauth, GET image: **{ratio(warm, noauth)}** (goal ≥ ×0.90)"]
    lines += ["", "Ratios (this run, each mode's own phase):", ""]
    if "baseline" in r and "direct-postgres" in get:
        lines.append(f"- direct-postgres GET image / bare baseline: **{ratio(get['direct-postgres'], r['baseline']['rps'])}** (goal ≥ ×0.80)")
    if "registry-proxy over postgres" in get and "direct-postgres" in get:
        lines.append(f"- registry-proxy over postgres / direct-postgres, GET image: **{ratio(get['registry-proxy over postgres'], get['direct-postgres'])}** (goal ≥ ×0.50)")
    if "registry-proxy over sqlite" in get and "direct-sqlite" in get:
        lines.append(f"- registry-proxy over sqlite / direct-sqlite, GET image: **{ratio(get['registry-proxy over sqlite'], get['direct-sqlite'])}**")
    if "hash_baseline_mib_s" in r:
        best_up = max(e["upload_mib_s"] for e in modes.values())
        direct_up = modes.get("direct-sqlite", {}).get("upload_mib_s")
        lines.append(f"- upload (direct-sqlite) / MD5 and SHA-512 on two threads in 256 KiB batches, in memory ({r['hash_baseline_mib_s']:.0f} MiB/s): "
                     f"**{ratio(direct_up, r['hash_baseline_mib_s'])}** (goal ≥ ×0.80; best mode {ratio(best_up, r['hash_baseline_mib_s'])})")
    lines += ["", "The proxy tax, from the services' own `/metrics` (mean seconds per data-access call): the API's "
              "registry-proxy time, the registry's database time behind the same operation, and the difference.", ""]
    lines += ["| backend | operation | API (registry-proxy) ms | registry DB ms | tax ms |", "|---|---|---:|---:|---:|"]
    for label, entry in modes.items():
        if "registry_db_mean_s" not in entry:
            continue
        api, reg = entry["data_access_mean_s"], entry["registry_db_mean_s"]
        for op in sorted(api):
            if op in reg:
                lines.append(f"| {label} | {op} | {api[op] * 1000:.3f} | {reg[op] * 1000:.3f} | {(api[op] - reg[op]) * 1000:.3f} |")
    return "\n".join(lines)


def write(results, out_dir):
    path = os.path.join(out_dir, "performance.md")
    text = open(path).read() if os.path.exists(path) else f"# Performance\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1] if END in rest else ""
    with open(path, "w") as f:
        f.write(head + BEGIN + "\n" + markdown(results) + "\n\n![req/s, p50/p99 and the proxy tax per mode and operation](performance.svg)\n" + END + tail)
    # The chart, drawn with matplotlib from the JSON run.py wrote beside it.
    subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "modes_chart.py"),
                    os.path.join(out_dir, "performance.json"), os.path.join(out_dir, "performance.svg")], check=True)
