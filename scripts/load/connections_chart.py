#!/usr/bin/env python3
"""Draw the connection profile's JSON (scripts/load/connections.py --json), one file per
backend, as an SVG chart with matplotlib: req/s and p50/p99 of GET image against the number of
concurrent keep-alive connections, one line per backend; the connect-per-request storm as a
marker of its own.

    scripts/load/connections_chart.py docs/connections.svg docs/connections-postgres.json [docs/connections-sqlite.json]

matplotlib lives in the scale chart's venv (~/.cache/glance-rs/plot-venv), made on first use.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scale_chart import pyplot  # noqa: E402


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    plt = pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(9, 8), sharex=True)
    dates = []
    for i, path in enumerate(sys.argv[2:]):
        r = json.load(open(path))
        dates.append(r["date"])
        color = f"C{i}"
        keep = sorted((c for c in r["cases"] if not c["connect_per_request"]), key=lambda c: c["connections"])
        counts = [c["connections"] for c in keep]
        axes[0].plot(counts, [c["rps"] for c in keep], marker="o", color=color, label=f"{r['backend']}, keep-alive")
        axes[1].plot(counts, [c["p50_ms"] for c in keep], marker="o", color=color, label=f"{r['backend']} p50")
        axes[1].plot(counts, [c["p99_ms"] for c in keep], marker="o", ls=":", color=color, label=f"{r['backend']} p99")
        for c in (c for c in r["cases"] if c["connect_per_request"]):
            axes[0].plot([c["connections"]], [c["rps"]], marker="x", ms=10, ls="", color=color,
                         label=f"{r['backend']}, connect-per-request")
            axes[1].plot([c["connections"]], [c["p99_ms"]], marker="x", ms=10, ls="", color=color,
                         label=f"{r['backend']} p99, connect-per-request")
        errors = sum(c["errors"] + c["non2xx"] for c in r["cases"])
        axes[0].annotate(f"{r['backend']}: {errors} socket errors or non-2xx in all runs",
                         (0.02, 0.06 + 0.08 * i), xycoords="axes fraction", fontsize=8, color=color)
    axes[0].set_ylabel("req/s (median)")
    axes[0].set_ylim(bottom=0)
    axes[1].set_ylabel("ms (median of rounds)")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("concurrent connections")
    for ax in axes:
        ax.set_xscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    axes[0].set_title("GET image against concurrent connections (wrk -t2, one glance-api)")
    fig.suptitle("Connection profile, " + ", ".join(sorted(set(dates))), fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(sys.argv[1], format=os.path.splitext(sys.argv[1])[1][1:] or "svg")
    print(sys.argv[1])


if __name__ == "__main__":
    main()
