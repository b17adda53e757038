"""Runs sandbox attacks the way a trainer does and reports what they earned, as JSON: `python sandbox_runner.py SPEC OUT`.

Used by tests/test_sandbox.py in-process (as root, how CI runs) and, copied beside an interpreter of its own, as an
unprivileged user (`setpriv`). Each program is a `build_model` body; it runs in a `DataScienceEnv` step (under the
spec's `limits` for its name, if any), then an honest program runs to show that the environment still works. Each row
has the reward, the error, the seconds, the trainer's peak of traced memory in the step, and for the names in
`stdout_of` what the trainer read back of the program's stdout and stderr. Refuses to run anything unless the sandbox isolates."""
import json
import os
import sys
import time
from pathlib import Path

HONEST = "from sklearn.linear_model import LogisticRegression\nreturn LogisticRegression(max_iter=500).fit(x_train, y_train)"


def in_process_score(ds) -> float:
    "The honest program's reward computed here, without the sandbox: what scikit-learn gives in-process."
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from etpo.env import make_splits, roc_auc
    return float(np.mean([roc_auc(yte, LogisticRegression(max_iter=500).fit(xtr, ytr).predict_proba(xte))
                          for xtr, xte, ytr, yte in [(s[0], s[2], s[1], s[3]) for s in make_splits(ds)]]))


def run(spec: dict) -> dict:
    import dataclasses, tracemalloc
    from etpo.data import load_dataset
    from etpo.env import DataScienceEnv, program_from_body, score_program
    from etpo.sandbox import Limits, isolation_status
    status = isolation_status()
    if not status["isolated"]: raise SystemExit("the sandbox does not isolate here: refusing to run attacks")
    ds = load_dataset(spec.get("dataset", "kidney_stone"))
    wall = spec.get("wall", 10.0)
    env = DataScienceEnv(ds, timeout=wall, limits=Limits(memory_mb=2048, file_mb=8))
    honest_limits = dataclasses.replace(env.limits, wall_s=60.0)   # the honest runs are not about speed (loaded CI)
    out = dict(sandbox=status["sandbox"], uid=os.getuid(), prefix=sys.prefix, programs={},
               honest=score_program(program_from_body(HONEST), ds, limits=honest_limits).reward, in_process=in_process_score(ds))
    tracing = tracemalloc.is_tracing()
    tracemalloc.start()   # what reading a program's results costs the trainer (numpy's buffers included)
    try: _run_programs(spec, env, ds, honest_limits, out)
    finally:
        if not tracing: tracemalloc.stop()   # left on, it slows every later test in this process (3x the trainer's)
    return out


def _run_programs(spec: dict, env, ds, honest_limits, out: dict):
    import dataclasses, tracemalloc
    from etpo.env import program_from_body
    from etpo.sandbox import run_program
    for name, body in spec["programs"].items():
        env.reset(); t0 = time.monotonic()
        hostile = env.limits
        env.limits = dataclasses.replace(hostile, **spec.get("limits", {}).get(name, {}))
        tracemalloc.reset_peak()
        try: _, reward, terminated, _, info = env.step(body)
        finally: env.limits = hostile
        row = dict(reward=reward, terminated=terminated, error=info["error"], elapsed=time.monotonic() - t0,
                   peak_mb=tracemalloc.get_traced_memory()[1] / 2**20)
        if name in spec.get("stdout_of", []):   # what the trainer reads back of the program's output
            res = run_program(program_from_body(body), [s[:3] for s in env.splits[:1]], ds.n_classes, honest_limits)
            row["stdout"], row["stderr"] = res.stdout, res.stderr
        env.limits = honest_limits
        try: _, row["after"], _, _, _ = env.step(HONEST)   # the environment still works
        finally: env.limits = hostile
        out["programs"][name] = row


if __name__ == "__main__":
    result = run(json.loads(Path(sys.argv[1]).read_text()))
    Path(sys.argv[2]).write_text(json.dumps(result))
