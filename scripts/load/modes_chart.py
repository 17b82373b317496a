#!/usr/bin/env python3
"""Draw the load test's JSON (docs/performance.json) as an SVG chart with matplotlib: per
operation and mode, req/s; p50 and p99 latency; and the proxy tax (the registry-proxy API's
mean data-access time minus the registry's database time behind it).

    scripts/load/modes_chart.py docs/performance.json docs/performance.svg

scripts/load/report.py calls it after every load test. matplotlib lives in the scale chart's
venv (~/.cache/glance-rs/plot-venv), made on first use.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scale_chart import pyplot  # noqa: E402

OPS = ["get image", "list 20", "create+patch+delete"]


def bars(ax, groups, series, colors, width=0.8):
    """Grouped bars: `series` is [(label, [value per group])], `colors` one per series; returns
    the bar containers."""
    n = max(len(series), 1)
    out = []
    for i, ((label, values), color) in enumerate(zip(series, colors)):
        xs = [g + (i - (n - 1) / 2) * width / n for g in range(len(groups))]
        out.append(ax.bar(xs, values, width / n * 0.95, label=label, color=color))
    ax.set_xticks(range(len(groups)), groups)
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    plt = pyplot()
    r = json.load(open(sys.argv[1]))
    modes = r["modes"]
    color = {m: f"C{i}" for i, m in enumerate(modes)}  # one color per mode in every panel
    fig, axes = plt.subplots(3, 1, figsize=(10, 12))

    bars(axes[0], OPS, [(m, [e["ops"][op]["rps"] for op in OPS]) for m, e in modes.items()], color.values())
    axes[0].set_ylabel("req/s")
    axes[0].set_title(f"Throughput per mode (wrk -t1 -c{r['connections']}, {r['duration_s']} s per operation)")

    series = []
    for m, e in modes.items():
        series.append((f"{m} p50", [e["ops"][op]["p50_ms"] for op in OPS]))
    containers = bars(axes[1], OPS, series, color.values())
    # p99 as a black tick on each p50 bar of the same mode and operation.
    for container, (m, e) in zip(containers, modes.items()):
        for bar, op in zip(container, OPS):
            axes[1].plot([bar.get_x(), bar.get_x() + bar.get_width()], [e["ops"][op]["p99_ms"]] * 2,
                         color="black", lw=1.5)
    axes[1].plot([], [], color="black", lw=1.5, label="p99 (tick)")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("ms")
    axes[1].set_title("Latency per mode: p50 (bars) and p99 (ticks), client side")

    proxied = {m: e for m, e in modes.items() if "registry_db_mean_s" in e}
    ops = sorted({op for e in proxied.values() for op in e["data_access_mean_s"] if op in e["registry_db_mean_s"]})
    bars(axes[2], ops, [(m, [(e["data_access_mean_s"][op] - e["registry_db_mean_s"].get(op, 0)) * 1000
                            for op in ops]) for m, e in proxied.items()], [color[m] for m in proxied])
    axes[2].set_ylabel("ms per call")
    axes[2].set_title("Proxy tax per data-access call: registry-proxy API time minus the registry's database time")
    axes[2].tick_params(axis="x", labelrotation=20)

    for ax in axes:
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    fig.suptitle(f"Load test of {r['date']} on {r['cores']} cores", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(sys.argv[2], format=os.path.splitext(sys.argv[2])[1][1:] or "svg")
    print(sys.argv[2])


if __name__ == "__main__":
    main()
