"""Curves and final table of tools/experiments/restrain.sh: held-out pass@1 and majority@K
against RL steps for gold-label GRPO, TTRL and RESTRAIN (mean and range over seeds; the SFT
base at step 0), and the policy's token entropy over the last 10 updates of each run (read
from <algo>-<seed>/metrics.jsonl beside results.jsonl: the collapse signal).

    python3 tools/experiments/restrain_plot.py runs/restrain/results.jsonl runs/restrain/restrain.png
"""
import os
import collections
import json
import statistics
import sys


def main(results, png):
    rows = [json.loads(l) for l in open(results) if l.strip()]
    base = [r for r in rows if r["algo"] == "base"]
    by = collections.defaultdict(lambda: collections.defaultdict(list))
    for r in rows:
        if r["algo"] != "base":
            by[r["algo"]][r["step"]].append(r)
    k = rows[0]["samples"]
    root = os.path.dirname(results)

    def entropy(algo, seed, last):
        path = os.path.join(root, f"{algo}-{seed}", "metrics.jsonl")
        if not os.path.exists(path):
            return float("nan")
        ms = [json.loads(l) for l in open(path) if l.strip()]
        ms = [m for m in ms if m["step"] > last - 10 and m["step"] <= last]
        return statistics.mean(m["entropy"] for m in ms) if ms else float("nan")

    print(f"| method | step | seeds | pass@1 | majority@{k} | answered | length | entropy (last 10 updates; first 10) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in base:
        print(f"| SFT base | 0 | - | {r['pass_at_1']:.3f} | {r['majority_at_k']:.3f} | "
              f"{r['answered']:.3f} | {r['mean_completion_tokens']:.1f} | - |")
    for algo, steps in by.items():
        last = max(steps)
        rs = steps[last]
        def ms(key):
            v = [r[key] for r in rs]
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            return f"{statistics.mean(v):.3f} ± {sd:.3f}"
        ent_last = statistics.mean(entropy(algo, r["seed"], last) for r in rs)
        ent_first = statistics.mean(entropy(algo, r["seed"], 10) for r in rs)
        print(f"| {algo} | {last} | {len(rs)} | {ms('pass_at_1')} | {ms('majority_at_k')} | "
              f"{ms('answered')} | {statistics.mean(r['mean_completion_tokens'] for r in rs):.1f} | "
              f"{ent_last:.3f} ({ent_first:.3f}) |")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot", file=sys.stderr)
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, title in [(axes[0], "pass_at_1", "pass@1"), (axes[1], "majority_at_k", f"majority@{k}")]:
        for algo, steps in sorted(by.items()):
            xs = [0] + sorted(steps)
            b = [r[key] for r in base]
            mean = [statistics.mean(b) if b else float("nan")] + [statistics.mean(r[key] for r in steps[s]) for s in sorted(steps)]
            lo = [min(b) if b else float("nan")] + [min(r[key] for r in steps[s]) for s in sorted(steps)]
            hi = [max(b) if b else float("nan")] + [max(r[key] for r in steps[s]) for s in sorted(steps)]
            ax.plot(xs, mean, marker="o", label=algo)
            ax.fill_between(xs, lo, hi, alpha=0.2)
        ax.set_xlabel("RL step")
        ax.set_title(f"held-out {title}")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    print(f"plot: {png}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
