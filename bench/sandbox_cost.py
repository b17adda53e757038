"""What the sandbox costs: environment steps per second with this tree's sandbox against an earlier revision's, in one run.

The earlier revision (default 3772dbe: bubblewrap, one process for all splits, results read from the program's folder;
98422fe was the hand-written mount namespace, isolating only as root) is checked out in a temporary git worktree; `bench/env_steps.py` runs in each tree in turn, twice (old, new, old, new), each in a fresh
process with that tree first on PYTHONPATH, so drift of the machine's speed hits both. Prints a markdown table.

    python bench/sandbox_cost.py [--rev 3772dbe] [--steps 8]
"""
import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(tree: Path, steps: int) -> dict[int, float]:
    "Steps per second by worker count, from env_steps.py's table, with `tree`'s etpo."
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "env_steps.py"), "--steps", str(steps)], cwd=tree,
                         env={**__import__("os").environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True, check=True).stdout
    return {int(w): float(r) for w, r in re.findall(r"^\| (\d) \| ([\d.]+) \|", out, re.M)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", default="3772dbe", help="the earlier revision")
    ap.add_argument("--steps", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="etpo-old-") as tmp:
        old = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(old), args.rev], check=True)
        try:
            res = {"old": [], "new": []}
            for _ in range(2):
                res["old"].append(run(old, args.steps)); res["new"].append(run(ROOT, args.steps))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=True)
    mean = lambda rows, w: sum(r[w] for r in rows) / len(rows)
    print(f"| workers | env steps/s, {args.rev} | env steps/s, this tree | ratio |")
    print("|---|---|---|---|")
    for w in (1, 2):
        o, n = mean(res["old"], w), mean(res["new"], w)
        print(f"| {w} | {o:.2f} | {n:.2f} | {n / o:.2f} |")


if __name__ == "__main__":
    main()
