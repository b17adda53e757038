"""Plot the learning curves of finished runs side by side (the README's results figure).

    python tools/plot_results.py runs/train runs/beta0.1 --labels "ETPO beta=0.01" "ETPO beta=0.1" --out nbs/images/results.png

Runs given the same label are seeds of one configuration: the table shows mean ± sd over them and the plot their
mean with a ± sd band. `--programs` counts the classes the evaluated first tries build (base model vs trained).
`--compare LABEL` tests, seed against seed, whether each other label's trained first tries differ from LABEL's
(Welch's t-test over the per-seed mean rewards, scipy; a seed's programs are correlated, so the seed is the unit).
`--episodes` summarises the whole episodes of `episodes.json` (runs with `--eval-episodes`: the error fed back, up to
`--max-steps` attempts): first tries, retry success after a failed first try, the final attempt's reward; with
`--compare`, the same Welch test on each of these per-seed values.
"""
import argparse
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from etpo.utils import read_metrics


def spread(xs) -> str:
    "mean ± standard deviation over seeds (just the value for one seed; '—' where no run logs it)"
    xs = pd.Series(xs, dtype=float).dropna()
    if xs.empty: return "—"
    return f"{xs.mean():.3f}" if len(xs) == 1 else f"{xs.mean():.3f} ± {xs.std():.3f}"


def first_tries(xs) -> str:
    "mean reward and success rate of first-try evaluation samples"
    return f"{sum(x['reward'] for x in xs) / len(xs):.2f}, {sum(x['reward'] > -1 for x in xs) / len(xs):.2f}"


def trained(ev:list) -> list:
    "the trained policy's first tries pooled over evaluations (`evaluation.json` dicts: every key but 'base' is a trained policy)"
    return [x for e in ev for k in e if k != "base" for x in e[k]]


def table(groups:dict, evals:dict, base:list) -> str:
    "Markdown table, one row per label; a label given to several runs (seeds) shows mean ± sd over them."
    rows = ["| run | seeds | iterations | reward, first → last iteration | reward, mean of the last 2 iterations | "
            "success rate, last 2 iterations | best ROC AUC | entropy, first → last | first-try eval: base → trained (mean, success; n) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for label, runs in groups.items():
        fs = [f for _, f in runs]
        col = lambda f, k: f[k] if k in f else pd.Series(float("nan"), index=f.index)   # a column some runs lack (TRL's log: no success_rate, entropy)
        last2 = lambda k: [col(f, k).iloc[-2:].mean() for f in fs]
        mean_at = lambda k, i: sum(col(f, k).iloc[i] for f in fs) / len(fs)
        ev = [evals[r] for r, _ in runs if r in evals]
        tr = trained(ev)
        ev_txt = f"{first_tries([x for e in ev for x in e['base']])} → {first_tries(tr)}; {len(tr)}" if tr else "not run"
        iters = sorted({len(f) for f in fs})
        rows.append(f"| {label} | {len(fs)} | {'/'.join(map(str, iters))} | {mean_at('reward_mean', 0):.3f} → {mean_at('reward_mean', -1):.3f} | "
                    f"{spread(last2('reward_mean'))} | {spread(last2('success_rate'))} | {spread([col(f, 'reward_max').max() for f in fs])} | "
                    f"{spread([mean_at('entropy', 0)])} → {spread([mean_at('entropy', -1)])} | {ev_txt} |")
    if base:   # every run samples the untrained model too: pooled, they estimate it better than any one run
        rs = [x["reward"] for x in base]
        rows.append(f"\nBase model (adapters off), first tries pooled over these runs' evaluations: mean reward {sum(rs) / len(rs):.3f}, "
                    f"success {sum(r > -1 for r in rs) / len(rs):.2f}, best ROC AUC {max(rs):.3f} (n = {len(rs)})")
    return "\n".join(rows)


def estimator(program:str) -> str:
    "the class a first try builds: the first CamelCase name it calls (e.g. `LogisticRegression`), '?' when it calls none"
    m = re.search(r"\b([A-Z][A-Za-z0-9]+)\(", program or "")
    return m.group(1) if m else "?"


def programs(groups:dict, evals:dict) -> str:
    "Markdown table: per label, how many first tries of the base model and of the trained policy build each class, how many of those work, and their mean ROC AUC"
    rows = []   # (label, policy, {class: the rewards of its first tries})
    for label, runs in groups.items():
        ev = [evals[r] for r, _ in runs if r in evals]
        for policy, xs in [("base", [x for e in ev for x in e["base"]]), ("trained", trained(ev))]:
            if xs:
                by_class = defaultdict(list)
                for x in xs: by_class[estimator(x.get("program"))].append(x["reward"])
                rows.append((label, policy, by_class))
    if not rows: return "no evaluation.json in these runs"
    total = Counter()
    for *_, by_class in rows: total.update({c: len(rs) for c, rs in by_class.items()})
    classes = sorted(total, key=lambda c: (-total[c], c))   # most common first, ties by name
    out = ["| run | policy | n | " + " | ".join(classes) + " |", "|---|---|---|" + "---|" * len(classes)]
    def cell(rs:list[float]) -> str:   # "n (k work, ROC AUC a)": a is the mean over the k programs that ran
        ran = [r for r in rs if r > -1]
        return f"{len(rs)} ({len(ran)} work, ROC AUC {sum(ran) / len(ran):.2f})" if ran else f"{len(rs)} (0 work)" if rs else ""
    for label, policy, by_class in rows:
        out.append(f"| {label} | {policy} | {sum(map(len, by_class.values()))} | " + " | ".join(cell(by_class.get(c, [])) for c in classes) + " |")
    return "\n".join(out)


def last_values(groups:dict, keys:list[str], n:int=1) -> str:
    """Markdown table: per label, each metric's mean over a run's last `n` iterations (its value at the last one for
    n = 1), then mean ± sd over seeds ('—' where the runs did not log it)"""
    where = "last iteration" if n == 1 else f"mean of the last {n} iterations"
    rows = ["| run | " + " | ".join(f"{k}, {where}" for k in keys) + " |", "|---|" + "---|" * len(keys)]
    for label, runs in groups.items():
        cell = lambda k: spread([f[k].iloc[-n:].mean() for _, f in runs]) if all(k in f for _, f in runs) else "—"
        rows.append(f"| {label} | " + " | ".join(cell(k) for k in keys) + " |")
    return "\n".join(rows)


def seed_means(runs:list, evals:dict) -> list[float]:
    "per seed (run) of a label, the mean reward of its trained policy's first tries; runs without an evaluation are left out"
    out = []
    for run, _ in runs:
        xs = [x["reward"] for x in trained([evals[run]] if run in evals else [])]
        if xs: out.append(sum(xs) / len(xs))
    return out


def compare(groups:dict, evals:dict, ref:str, per_seed=seed_means, what:str="trained first tries") -> str:
    """Markdown table: every label against `ref`, Welch's t-test (scipy.stats.ttest_ind, equal_var=False) over per-seed
    values (`per_seed(runs, evals)`, default: the trained first tries' mean reward)"""
    from scipy.stats import ttest_ind
    if ref not in groups: raise ValueError(f"--compare {ref!r} is not one of the labels {list(groups)}")
    a = per_seed(groups[ref], evals)
    rows = [f"| against {ref} ({len(a)} seeds, mean {sum(a) / max(len(a), 1):+.2f}) | seeds | per-seed {what} | mean | Welch t | p | {ref} − it, 95 % CI |",
            "|---|---|---|---|---|---|---|"]
    for label, runs in groups.items():
        if label == ref: continue
        b = per_seed(runs, evals)
        if len(a) >= 2 and len(b) >= 2:
            res = ttest_ind(a, b, equal_var=False); t, p = res.statistic, res.pvalue
            lo, hi = res.confidence_interval(0.95)                      # of mean(ref) − mean(label), Welch's degrees of freedom
            ci = f"{sum(a) / len(a) - sum(b) / len(b):+.2f} [{lo:+.2f}, {hi:+.2f}]"
        else: t, p, ci = float("nan"), float("nan"), "—"
        rows.append(f"| {label} | {len(b)} | {', '.join(f'{x:+.2f}' for x in b)} | {sum(b) / max(len(b), 1):+.2f} | {t:.2f} | {p:.3f} | {ci} |")
    return "\n".join(rows)


EPISODE_METRICS = {"first_reward": "first-try mean reward", "retry_success": "retry success after a failed first try",
                   "final_reward": "final attempt's mean reward"}


def episode_values(key:str):
    "per_seed function for `compare`: each run's trained-policy `retry_summary(...)[key]` from its `episodes.json` (runs without one left out)"
    from etpo.trainer import retry_summary
    def per_seed(runs:list, episodes:dict) -> list[float]:
        return [retry_summary(eps)[key] for run, _ in runs if run in episodes for k, eps in episodes[run].items() if k != "base"]
    return per_seed


def episodes_table(groups:dict, episodes:dict) -> str:
    "Markdown table of whole episodes (`episodes.json`): per label, the base model pooled and the trained policy per seed and pooled"
    from etpo.trainer import retry_summary
    fmt = lambda s: f"{s['first_reward']:+.2f}, {s['first_success']:.2f}; {s['retry_success']:.2f}; {s['final_reward']:+.2f}, {s['attempts']:.1f} (n = {s['episodes']})"
    rows = ["| run | seeds | episodes: first-try mean, success; retry success; final reward, attempts (n) — base pooled | same, trained pooled | "
            "trained per seed: first try / retry success / final |", "|---|---|---|---|---|"]
    base_all = []
    for label, runs in groups.items():
        got = [episodes[r] for r, _ in runs if r in episodes]
        if not got: continue
        base = [e for g in got for e in g.get("base", [])]; base_all += base
        tr = [[e for k, v in g.items() if k != "base" for e in v] for g in got]
        per = ", ".join(f"{s['first_reward']:+.2f} / {s['retry_success']:.2f} / {s['final_reward']:+.2f}" for s in map(retry_summary, filter(None, tr)))
        rows.append(f"| {label} | {len(got)} | {fmt(retry_summary(base)) if base else '—'} | "
                    f"{fmt(retry_summary([e for t in tr for e in t])) if any(tr) else '—'} | {per} |")
    if base_all: rows.append(f"\nBase model, episodes pooled over these runs: {fmt(retry_summary(base_all))}")
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="output_dir of each run (holding metrics.jsonl)")
    ap.add_argument("--labels", nargs="+", default=None, help="one label per run (default: folder names)")
    ap.add_argument("--out", default="nbs/images/results.png")
    ap.add_argument("--table", action="store_true", help="also print a markdown table of the runs (first/last reward, success, best ROC AUC, evaluation)")
    ap.add_argument("--programs", action="store_true", help="also print which classes the evaluated first tries build, base model vs trained policy")
    ap.add_argument("--last", nargs="+", metavar="METRIC", default=None,
                    help="also print these metrics.jsonl columns at the last iteration, mean ± sd over seeds (e.g. kl q_gap)")
    ap.add_argument("--last-iters", type=int, default=1, metavar="N",
                    help="with --last: average each run's last N iterations first (default 1: the last iteration's value)")
    ap.add_argument("--episodes", action="store_true", help="also print the whole episodes of episodes.json: first tries, retry success, final reward")
    ap.add_argument("--compare", metavar="LABEL", default=None,
                    help="also print Welch's t-test over seeds of the trained first tries: every other label against LABEL")
    args = ap.parse_args()
    if args.last_iters < 1: ap.error(f"--last-iters must be >= 1, got {args.last_iters}")
    labels = args.labels or [Path(r).name for r in args.runs]
    if len(labels) != len(args.runs): ap.error("give one label per run")
    frames = []
    for run, label in zip(args.runs, labels):
        p = Path(run) / "metrics.jsonl"
        if not p.exists(): ap.error(f"{p} not found: is {run} the output_dir of a finished run?")
        frames.append(pd.DataFrame(read_metrics(run)).assign(run=label))
    df = pd.concat(frames, ignore_index=True)   # runs logging other columns (TRL) leave NaN there, which the plots skip
    groups = {}   # label -> [(run, frame)]: runs given the same label are seeds of one configuration
    for run, label, f in zip(args.runs, labels, frames): groups.setdefault(label, []).append((run, f))
    evals = {run: json.loads((Path(run) / "evaluation.json").read_text()) for run in args.runs if (Path(run) / "evaluation.json").exists()}
    base = [x for e in evals.values() for x in e.get("base", [])]
    episodes = {run: json.loads((Path(run) / "episodes.json").read_text())["episodes"] for run in args.runs if (Path(run) / "episodes.json").exists()}
    if args.table: print(table(groups, evals, base))
    if args.programs: print("\n" + programs(groups, evals))
    if args.last: print("\n" + last_values(groups, args.last, args.last_iters))
    if args.episodes: print("\n" + (episodes_table(groups, episodes) if episodes else "no episodes.json in these runs"))
    if args.compare:
        try:
            if evals and any(trained([e]) for e in evals.values()): print("\n" + compare(groups, evals, args.compare))
            if args.episodes and episodes:
                for key, what in EPISODE_METRICS.items():
                    print("\n" + compare(groups, episodes, args.compare, episode_values(key), what))
        except ValueError as e: ap.error(str(e))
    fig, axs = plt.subplots(1, 4, figsize=(16, 3.4))
    for ax, (k, title) in zip(axs, [("reward_mean", "mean reward"), ("success_rate", "success rate"), ("kl", "KL(π ‖ ρ) per token"), ("entropy", "entropy per token")]):
        # several seeds of one label: their mean, with a band of ± one standard deviation over seeds
        sns.lineplot(data=df, x="iteration", y=k, hue="run", marker="o", errorbar="sd", ax=ax, legend=ax is axs[0]); ax.set(title=title, ylabel="")
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
