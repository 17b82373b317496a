#!/usr/bin/env python3
"""Draw the scale profile's JSON (scripts/load/scale.py --json) as an SVG chart with matplotlib:
req/s and p99 against the number of images, one line per case, admin and member side by side.

    scripts/load/scale_chart.py docs/scale-postgres.json docs/scale-postgres.svg

matplotlib lives in a venv of its own (~/.cache/glance-rs/plot-venv), made here on first use.
"""
import json
import os
import subprocess
import sys

VENV = os.path.expanduser("~/.cache/glance-rs/plot-venv")
MATPLOTLIB = "matplotlib==3.11.2"


def ensure_matplotlib():
    python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    if subprocess.run([python, "-c", "import matplotlib"], capture_output=True).returncode != 0:
        subprocess.run([python, "-m", "pip", "install", "-q", MATPLOTLIB], check=True)
    os.execv(python, [python] + sys.argv)


def pyplot():
    """matplotlib's pyplot on the Agg backend (SVG/PNG files, no display), from the venv."""
    ensure_matplotlib()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def label(size):
    return f"{size // 1000000}M" if size % 1000000 == 0 else f"{size // 1000}k"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    plt = pyplot()
    results = json.load(open(sys.argv[1]))
    sizes = results["sizes"]
    callers = sorted({c["caller"] for c in results["cases"]})
    fig, axes = plt.subplots(2, len(callers), figsize=(6 * len(callers), 8), sharex=True, squeeze=False)
    for col, caller in enumerate(callers):
        for case in (c for c in results["cases"] if c["caller"] == caller):
            by = case["by_size"]
            axes[0][col].plot(sizes, [by[str(s)]["rps"] for s in sizes], marker="o", label=case["case"])
            axes[1][col].plot(sizes, [by[str(s)]["p99_ms"] for s in sizes], marker="o", label=case["case"])
        axes[0][col].set_title(f"{results['backend']}, as {caller}")
        axes[0][col].set_ylabel("req/s (median)")
        axes[1][col].set_ylabel("p99 ms (median)")
        axes[1][col].set_xlabel("images in the catalogue")
        for row in (0, 1):
            ax = axes[row][col]
            ax.set_xscale("log")
            ax.set_xticks(sizes, [label(s) for s in sizes])
            ax.minorticks_off()
            ax.set_ylim(bottom=0)
            ax.grid(True, alpha=0.3)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=4, frameon=False)
    fig.suptitle(f"Scale profile, {results['date']} ({results['rounds']} rounds of {results['duration_s']} s, "
                 f"wrk -c{results['connections']})")
    fig.tight_layout(rect=(0, 0.07, 1, 0.97))
    fig.savefig(sys.argv[2], format=os.path.splitext(sys.argv[2])[1][1:] or "svg")
    print(sys.argv[2])


if __name__ == "__main__":
    main()
