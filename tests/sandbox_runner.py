"""Runs sandbox attacks the way a trainer does and reports what they earned, as JSON: `python sandbox_runner.py SPEC OUT`.

Used by tests/test_sandbox.py in-process (as root, how CI runs) and, copied beside an interpreter of its own, as an
unprivileged user (`setpriv`). Each program is a `build_model` body; it runs in a `DataScienceEnv` step, then an
honest program runs to show that the environment still works. Refuses to run anything unless the sandbox isolates."""
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
    import dataclasses
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
    for name, body in spec["programs"].items():
        env.reset(); t0 = time.monotonic()
        _, reward, terminated, _, info = env.step(body)
        row = dict(reward=reward, terminated=terminated, error=info["error"], elapsed=time.monotonic() - t0)
        hostile, env.limits = env.limits, honest_limits
        try: _, row["after"], _, _, _ = env.step(HONEST)   # the environment still works
        finally: env.limits = hostile
        out["programs"][name] = row
    return out


if __name__ == "__main__":
    result = run(json.loads(Path(sys.argv[1]).read_text()))
    Path(sys.argv[2]).write_text(json.dumps(result))
