"""Plot of many_pv_bench.py: CPU us per delivered update against N, one line per subscriber.

    python -I peer_launcher.py MATPLOTLIB_DIR matplotlib many_pv_plot.py RESULTS.json OUT.png

RESULTS.json is what many_pv_bench.py writes with --json (its "table" list is used).  Run
through peer_launcher.py because matplotlib is installed apart from the venv (peers.py).
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    results_path, out = sys.argv[1:3]
    with open(results_path) as f:
        results = json.load(f)
    lines = {}
    for row in results["table"]:
        if row["cpu_us_per_update"] is not None:
            lines.setdefault(row["subscriber"], []).append(
                (row["n"], row["cpu_us_per_update"], (row["delivered"] or 0) < 0.95))
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for name, points in lines.items():
        points.sort()
        line, = ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name,
                        linewidth=2.5 if name == "C" else 1.5,
                        color="black" if name == "C" else None)
        behind = [p for p in points if p[2]]
        if behind:      # hollow: the subscriber fell behind (delivered < 95%)
            ax.plot([p[0] for p in behind], [p[1] for p in behind], marker="o", linestyle="",
                    color=line.get_color(),
                    markersize=11, markerfacecolor="white", markeredgecolor=line.get_color())
    ax.text(0.99, 0.01, "hollow: fell behind (< 95% of the updates delivered)",
            transform=ax.transAxes, ha="right", va="bottom", fontsize=7)
    config = results["config"]
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(config["ns"])
    ax.set_xticklabels([str(n) for n in config["ns"]])
    ax.set_xlabel("PVs subscribed (N), each updating at %d Hz" % config["rate_hz"])
    ax.set_ylabel("subscriber CPU per delivered update [us] (user + sys)")
    ax.set_title("caffi many-PV benchmark: medians of %d runs of %g s" % (
        config["repeats"], config["window_s"]))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
