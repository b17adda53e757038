"""tools/plot_results.py: the README's results table groups runs that share a label as seeds (mean ± sd)."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fake_run(d:Path, rewards:list[float], eval_base:list[float], eval_trained:list[float]):
    d.mkdir()
    rows = [dict(iteration=i, reward_mean=r, reward_max=r + 0.5, success_rate=float(r > -1), kl=0.01 * i, entropy=0.5)
            for i, r in enumerate(rewards)]
    (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    prog = lambda x: "model = sklearn.linear_model.LogisticRegression()" if x > -1 else "model = SGDClassifier(max_iter=5)"
    ev = dict(base=[dict(reward=x, program=prog(x)) for x in eval_base], etpo=[dict(reward=x, program=prog(x)) for x in eval_trained])
    (d / "evaluation.json").write_text(json.dumps(ev))


def test_seeds_with_one_label_become_one_row_with_spread(tmp_path):
    fake_run(tmp_path / "s0", [-1.0, 0.0, 0.2], [-1.0, 0.6], [0.6, 0.6])
    fake_run(tmp_path / "s1", [-1.0, 0.4, 0.6], [0.6, 0.6], [-1.0, 0.6])
    fake_run(tmp_path / "other", [0.1, 0.1, 0.1], [-1.0, -1.0], [-1.0, -1.0])
    out = subprocess.run([sys.executable, "tools/plot_results.py", str(tmp_path / "s0"), str(tmp_path / "s1"), str(tmp_path / "other"),
                          "--labels", "A", "A", "B", "--table", "--programs", "--out", str(tmp_path / "fig.png")],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    row = next(l for l in out.splitlines() if l.startswith("| A |")).split(" | ")
    assert row[1] == "2"                          # two seeds
    assert row[3] == "-1.000 → 0.400"             # first/last iteration, averaged over seeds
    assert row[4] == "0.300 ± 0.283"              # mean of the last 2 iterations: 0.1 and 0.5 → mean 0.3, sample sd 0.283
    assert row[6] == "0.900 ± 0.283"              # best reward_max per seed: 0.7 and 1.1
    assert row[8].startswith("0.20, 0.75 → 0.20, 0.75; 4")   # pooled first tries: base, trained, n
    assert next(l for l in out.splitlines() if l.startswith("| B |")).split(" | ")[4] == "0.100"   # one seed: no spread
    assert "mean reward -0.200, success 0.50" in out and "(n = 6)" in out   # base pooled over all three runs
    assert (tmp_path / "fig.png").stat().st_size > 0

    # --programs: the classes the first tries build, base vs trained, pooled over a label's seeds
    head = next(l for l in out.splitlines() if l.startswith("| run | policy |")).split(" | ")
    assert head[3:] == ["LogisticRegression", "SGDClassifier |"]       # most common first; here 6 each, so by name
    assert "| A | base | 4 | 3 (3 work, ROC AUC 0.60) | 1 (0 work) |" in out
    assert "| B | trained | 2 |  | 2 (0 work) |" in out


def test_programs_give_the_mean_roc_auc_of_the_programs_that_ran(tmp_path):
    fake_run(tmp_path / "r", [0.0], [-1.0], [0.5, 0.8, -1.0, 0.9])   # LogisticRegression runs: 0.5, 0.8, 0.9; the failure is SGDClassifier
    out = subprocess.run([sys.executable, "tools/plot_results.py", str(tmp_path / "r"), "--programs", "--out", str(tmp_path / "fig.png")],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "| r | trained | 4 | 3 (3 work, ROC AUC 0.73) | 1 (0 work) |" in out   # (0.5 + 0.8 + 0.9) / 3, failures left out


def test_compare_is_welchs_test_over_seeds(tmp_path):
    "--compare: per-seed trained means, and Welch's t computed from them by hand (unequal variances, unequal counts)"
    a, b = [[0.6, 0.2], [0.4, 0.4], [1.0, 0.6]], [[-1.0, -0.2], [0.0, 0.2]]   # per-seed means: A 0.4, 0.4, 0.8; B -0.6, 0.1
    for i, xs in enumerate(a): fake_run(tmp_path / f"a{i}", [0.0, 0.1], [-1.0], xs)
    for i, xs in enumerate(b): fake_run(tmp_path / f"b{i}", [0.0, 0.1], [-1.0], xs)
    runs = [str(tmp_path / f"a{i}") for i in range(3)] + [str(tmp_path / f"b{i}") for i in range(2)]
    out = subprocess.run([sys.executable, "tools/plot_results.py", *runs, "--labels", "A", "A", "A", "B", "B", "--compare", "A",
                          "--out", str(tmp_path / "fig.png")], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    row = next(l for l in out.splitlines() if l.startswith("| B |")).strip("| ").split(" | ")
    assert row[1:4] == ["2", "-0.60, +0.10", "-0.25"]
    ma, mb, va, vb = 1.6 / 3, -0.25, ((0.4 - 1.6 / 3) ** 2 * 2 + (0.8 - 1.6 / 3) ** 2) / 2, (0.35 ** 2) * 2
    t = (ma - mb) / (va / 3 + vb / 2) ** 0.5
    assert abs(float(row[4]) - t) < 0.01
    assert 0 < float(row[5]) < 1
    diff, ci = row[6].split(" [")
    lo, hi = map(float, ci.rstrip("]").split(", "))
    assert abs(float(diff) - (ma - mb)) < 0.01 and lo < ma - mb < hi
    last = subprocess.run([sys.executable, "tools/plot_results.py", *runs, "--labels", "A", "A", "A", "B", "B", "--last", "kl", "q_gap",
                           "--out", str(tmp_path / "fig.png")], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "| A | 0.010 ± 0.000 | — |" in last      # kl at the last iteration (0.01 in every seed); q_gap was not logged
    last2 = subprocess.run([sys.executable, "tools/plot_results.py", *runs, "--labels", "A", "A", "A", "B", "B", "--last", "kl",
                            "--last-iters", "2", "--out", str(tmp_path / "fig.png")], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "kl, mean of the last 2 iterations" in last2 and "| A | 0.005 ± 0.000 |" in last2   # kl 0.00 and 0.01: mean 0.005
    bad = subprocess.run([sys.executable, "tools/plot_results.py", *runs[:1], "--compare", "C", "--out", str(tmp_path / "f.png")],
                         cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode != 0 and "not one of the labels" in bad.stderr


def test_episodes_give_retry_success_per_seed(tmp_path):
    "--episodes: first tries, retry success after a failed first try and the final reward, per seed and pooled, from episodes.json"
    ok, bad = dict(rewards=[0.6], errors=[None]), dict(rewards=[-1.0, -1.0, -1.0], errors=["e", "e", "e"])
    fixed = dict(rewards=[-1.0, 0.6], errors=["e", None])
    for name, trained in [("a0", [ok, fixed]), ("a1", [bad, fixed]), ("b0", [bad, bad])]:
        fake_run(tmp_path / name, [0.0, 0.1], [], [])
        (tmp_path / name / "evaluation.json").write_text("{}")   # a run evaluated on episodes only
        (tmp_path / name / "episodes.json").write_text(json.dumps(dict(episodes=dict(base=[bad], etpo=trained))))
    runs = [str(tmp_path / n) for n in ("a0", "a1", "b0")]
    out = subprocess.run([sys.executable, "tools/plot_results.py", *runs, "--labels", "A", "A", "B", "--episodes", "--compare", "A",
                          "--out", str(tmp_path / "fig.png")], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    row = next(l for l in out.splitlines() if l.startswith("| A | 2 |")).strip("| ").split(" | ")
    assert row[2].startswith("-1.00, 0.00; 0.00; -1.00, 3.0 (n = 2)")   # base: two failed episodes of 3 attempts
    assert row[3].startswith("-0.60, 0.25; 0.67; +0.20")               # trained pooled: 1 of 4 first tries ran; 2 of 3 failures fixed
    assert row[4] == "-0.20 / 1.00 / +0.60, -1.00 / 0.50 / -0.20"       # per seed
    retry = [l for l in out.split("per-seed retry success")[1].splitlines() if l.startswith("| B |")][0].split(" | ")
    assert retry[2] == "+0.00"                                          # B fixed none of its failures


def test_runs_that_log_fewer_columns_show_dashes(tmp_path):
    "A run whose metrics.jsonl lacks success_rate, reward_max and entropy (TRL's log) gets '—' there, and the plot still draws"
    fake_run(tmp_path / "etpo", [-1.0, 0.0], [-1.0, 0.6], [0.6, 0.6])
    trl = tmp_path / "trl"; trl.mkdir()
    (trl / "metrics.jsonl").write_text("".join(json.dumps(dict(iteration=i, reward_mean=r, kl=0.0)) + "\n" for i, r in enumerate([-1.0, -0.5])))
    (trl / "evaluation.json").write_text(json.dumps(dict(base=[dict(reward=-1.0)], policy=[dict(reward=0.6)])))
    out = subprocess.run([sys.executable, "tools/plot_results.py", str(tmp_path / "etpo"), str(trl), "--labels", "ETPO", "TRL", "--table",
                          "--out", str(tmp_path / "fig.png")], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    row = next(l for l in out.splitlines() if l.startswith("| TRL |")).split(" | ")
    assert row[3:8] == ["-1.000 → -0.500", "-0.750", "—", "—", "— → —"]
    assert next(l for l in out.splitlines() if l.startswith("| ETPO |")).split(" | ")[5] == "0.500"   # the other run keeps its columns
    assert (tmp_path / "fig.png").stat().st_size > 0
