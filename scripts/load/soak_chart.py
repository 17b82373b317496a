#!/usr/bin/env python3
"""Draw the soak's JSON (scripts/load/soak.py --json) as an SVG chart with matplotlib: RSS,
open files and database connections, req/s per operation, and p50/p99 per operation, against
minutes into the run; the warm-up and the two compared windows are shaded.

    scripts/load/soak_chart.py docs/soak.json docs/soak.svg

matplotlib lives in the scale chart's venv (~/.cache/glance-rs/plot-venv), made on first use.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scale_chart import pyplot  # noqa: E402


def minutes(samples, start):
    return [(t - start) / 60 for t, _ in samples], [v for _, v in samples]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    plt = pyplot()
    r = json.load(open(sys.argv[1]))
    s, start = r["series"], r["start"]
    total = (r["end"] - start) / 60
    fig, axes = plt.subplots(4, 1, figsize=(10, 13), sharex=True)

    x, y = minutes(s["rss_bytes"], start)
    axes[0].plot(x, [v / (1 << 20) for v in y], label="glance-api RSS")
    axes[0].set_ylabel("MiB")
    axes[0].set_title("Memory")

    for key, name in (("open_fds", "open files (glance-api)"), ("pool_connections", "pool connections"),
                      ("db_backends", "PostgreSQL backends (pg_stat_activity)")):
        x, y = minutes(s[key], start)
        axes[1].plot(x, y, label=name)
    axes[1].set_ylabel("count")
    axes[1].set_title("Files and database connections")

    for name, samples in sorted(s["rps"].items()):
        x, y = minutes(samples, start)
        axes[2].plot(x, y, label=name)
    axes[2].set_ylabel("req/s (1 min rate)")
    axes[2].set_yscale("log")
    axes[2].set_title("Throughput per operation (server side)")

    colors = {}
    for key, style in (("p50_seconds", "-"), ("p99_seconds", ":")):
        for name, samples in sorted(s[key].items()):
            x, y = minutes(samples, start)
            line, = axes[3].plot(x, [v * 1000 for v in y], style, color=colors.get(name),
                                 label=f"{name} {key[:3]}")
            colors[name] = line.get_color()
    axes[3].set_ylabel("ms (1 min window)")
    axes[3].set_yscale("log")
    axes[3].set_title("Latency per operation, p50 (solid) and p99 (dotted), server side")
    axes[3].set_xlabel("minutes into the run")

    warm, window = r["warmup_minutes"], r["window_minutes"]
    for ax in axes:
        ax.axvspan(0, warm, color="grey", alpha=0.12, lw=0)
        ax.axvspan(warm, warm + window, color="tab:green", alpha=0.08, lw=0)
        ax.axvspan(total - window, total, color="tab:green", alpha=0.08, lw=0)
        ax.grid(True, alpha=0.3)
        ax.set_xlim(0, total)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    axes[0].set_ylim(bottom=0)
    axes[1].set_ylim(bottom=0)
    verdict = "flat, 0 errors" if r["flat_and_clean"] else "NOT flat or errors"
    fig.suptitle(f"Soak of {r['date']}: {r['minutes']:g} min of mixed load on one direct-postgres glance-api "
                 f"({verdict})\ngrey: warm-up; green: the two windows compared for flatness", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(sys.argv[2], format=os.path.splitext(sys.argv[2])[1][1:] or "svg")
    print(sys.argv[2])


if __name__ == "__main__":
    main()
