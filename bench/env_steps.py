"""Environment throughput: sandboxed steps per second for a fixed program, with 1 and 2 workers.

Every step runs a distinct program (a different `random_state`) so the reward cache never answers; each step is
one sandboxed process that fits the model on 5 splits. Prints a markdown table.

    python bench/env_steps.py [--dataset tic_tac_toe] [--steps 8]
"""
import argparse
import time

from etpo.env import VectorDataScienceEnv

PROGRAM = "from sklearn.linear_model import LogisticRegression\nreturn LogisticRegression(max_iter=1000, random_state={i}).fit(x_train, y_train)"


def steps_per_s(dataset: str, n_envs: int, workers: int, steps: int) -> float:
    venv = VectorDataScienceEnv.make(dataset, n=n_envs, workers=workers, timeout=120)
    venv.reset()
    venv.step([PROGRAM.format(i=-1 - j) for j in range(n_envs)])       # warm-up: imports, page cache
    t0, i = time.perf_counter(), 0
    while i < steps:
        venv.step([PROGRAM.format(i=i + j) for j in range(n_envs)])
        i += n_envs
    dt = time.perf_counter() - t0
    venv.close()
    return i / dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="tic_tac_toe")
    ap.add_argument("--steps", type=int, default=8, help="environment steps per configuration")
    args = ap.parse_args()
    rows = [(w, steps_per_s(args.dataset, n_envs=2, workers=w, steps=args.steps)) for w in (1, 2)]
    print(f"| workers | env steps/s ({args.dataset}, LogisticRegression, 5 splits a step) | speed-up |")
    print("|---|---|---|")
    for w, r in rows:
        print(f"| {w} | {r:.2f} | {r / rows[0][1]:.2f}x |")


if __name__ == "__main__":
    main()
