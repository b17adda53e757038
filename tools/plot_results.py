"""Plot the learning curves of finished runs side by side (the README's results figure).

    python tools/plot_results.py runs/train runs/beta0.1 --labels "ETPO beta=0.01" "ETPO beta=0.1" --out nbs/images/results.png
"""
import argparse
import json
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="output_dir of each run (holding metrics.jsonl)")
    ap.add_argument("--labels", nargs="+", default=None, help="one label per run (default: folder names)")
    ap.add_argument("--out", default="nbs/images/results.png")
    ap.add_argument("--table", action="store_true", help="also print a markdown table of the runs (first/last reward, success, best ROC AUC, evaluation)")
    args = ap.parse_args()
    labels = args.labels or [Path(r).name for r in args.runs]
    if len(labels) != len(args.runs): ap.error("give one label per run")
    frames = []
    for run, label in zip(args.runs, labels):
        p = Path(run) / "metrics.jsonl"
        if not p.exists(): ap.error(f"{p} not found: is {run} the output_dir of a finished run?")
        frames.append(pd.DataFrame([json.loads(l) for l in p.read_text().splitlines() if l.strip()]).assign(run=label))
    df = pd.concat(frames)
    if args.table:
        print("| run | iterations | reward, first → last iteration | reward, mean of the last 2 | success rate, first → last | best ROC AUC | entropy, first → last | first-try eval: base → trained (mean, success) |")
        print("|---|---|---|---|---|---|---|---|")
        for run, label, f in zip(args.runs, labels, frames):
            ev_p, ev = Path(run) / "evaluation.json", ""
            if ev_p.exists():
                e = json.loads(ev_p.read_text())
                fmt = lambda xs: f"{sum(x['reward'] for x in xs) / len(xs):.2f}, {sum(x['reward'] > -1 for x in xs) / len(xs):.2f}"
                ev = " → ".join(fmt(e[k]) for k in e)
            a, b = f.iloc[0], f.iloc[-1]
            print(f"| {label} | {len(f)} | {a.reward_mean:.3f} → {b.reward_mean:.3f} | {f.reward_mean.iloc[-2:].mean():.3f} | {a.success_rate:.2f} → {b.success_rate:.2f} | "
                  f"{f.reward_max.max():.3f} | {a.entropy:.2f} → {b.entropy:.2f} | {ev or 'not run'} |")
    base = [x for run in args.runs if (Path(run) / "evaluation.json").exists()
            for x in json.loads((Path(run) / "evaluation.json").read_text())["base"]]
    if args.table:
        if base:   # every run samples the untrained model too: pooled, they estimate it better than any one run
            rs = [x["reward"] for x in base]
            print(f"\nBase model, first tries pooled over these runs' evaluations: mean reward {sum(rs) / len(rs):.3f}, "
                  f"success {sum(r > -1 for r in rs) / len(rs):.2f}, best ROC AUC {max(rs):.3f} (n = {len(rs)})")
    fig, axs = plt.subplots(1, 4, figsize=(16, 3.4))
    for ax, (k, title) in zip(axs, [("reward_mean", "mean reward"), ("success_rate", "success rate"), ("kl", "KL(π ‖ ρ) per token"), ("entropy", "entropy per token")]):
        sns.lineplot(data=df, x="iteration", y=k, hue="run", marker="o", ax=ax, legend=ax is axs[0]); ax.set(title=title, ylabel="")
    if base:   # the untrained model's first tries, pooled over the runs' evaluations (first tries only: no reflection steps)
        axs[0].axhline(sum(x["reward"] for x in base) / len(base), color="gray", ls="--", label="base model, first tries")
        axs[1].axhline(sum(x["reward"] > -1 for x in base) / len(base), color="gray", ls="--")
        axs[0].legend(fontsize=8)
    plt.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
