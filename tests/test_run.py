"The commands a user types after `pip install`: etpo-train on their own CSV, etpo-eval on the policy it exported."
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from etpo.data import load_dataset
from etpo.utils import read_metrics, read_run_header

TINY = ["--model", "tiny-random-llama", "--n-envs", "2", "--minibatch-size", "2", "--max-new-tokens", "8", "--timeout", "30",
        "--eval-samples", "2", "--progress-bar", "false"]


def _cmd(*args):
    return subprocess.run([sys.executable, "-c", "import sys; from etpo.run import main, eval_main; "
                           "(eval_main if sys.argv[1] == 'eval' else main)(sys.argv[2:])", *args], capture_output=True, text=True, timeout=900)


@pytest.fixture
def csv(tmp_path) -> Path:
    ds = load_dataset("tic_tac_toe")
    df = pd.DataFrame(ds.x, columns=ds.feature_names).assign(outcome=ds.y)
    p = tmp_path / "my_games.csv"; df.to_csv(p, index=False)
    return p


def test_own_csv_trains_and_the_policy_is_evaluated(tmp_path, csv):
    out = tmp_path / "run"
    r = _cmd("train", *TINY, "--dataset", str(csv), "--target", "outcome", "--iterations", "1", "--output-dir", str(out))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert [row["iteration"] for row in read_metrics(out)] == [0]
    assert read_run_header(out)["env"]["dataset"] == "my_games"
    assert json.loads((out / "config.json").read_text())["run"]["target"] == "outcome"
    assert set(json.loads((out / "evaluation.json").read_text())) == {"base", "etpo"}
    assert (out / "policy" / "adapter_model.safetensors").exists()
    ev = tmp_path / "eval"
    r = _cmd("eval", *TINY, "--policy", str(out / "policy"), "--dataset", str(csv), "--target", "outcome", "--eval-samples", "3", "--output-dir", str(ev))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    scores = json.loads((ev / "evaluation.json").read_text())
    assert set(scores) == {"base", "policy"} and all(len(v) == 3 for v in scores.values())
    assert "first tries, policy: mean reward" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["--dataset", "no/such/file.csv", "--target", "y"], "no CSV file at"),
    (["--dataset", "{csv}"], "name its label column with --target"),
    (["--dataset", "{csv}", "--target", "winner"], "target column 'winner' not in the frame"),
])
def test_bad_csv_options_say_what_to_fix(tmp_path, csv, args, message):
    r = _cmd("train", *TINY, *[a.format(csv=csv) for a in args], "--iterations", "0", "--output-dir", str(tmp_path / "o"))
    assert r.returncode != 0 and message in r.stderr, r.stderr[-2000:]


def test_eval_needs_a_policy(tmp_path):
    r = _cmd("eval", *TINY, "--output-dir", str(tmp_path))
    assert r.returncode == 2 and "etpo-eval needs --policy DIR" in r.stderr


def test_whole_episodes_are_evaluated_with_their_retries(tmp_path):
    "--eval-episodes plays episodes of up to --max-steps attempts, the error fed back, and summarises the retries."
    out = tmp_path / "ep"
    r = _cmd("train", *TINY, "--algorithm", "none", "--max-steps", "3", "--eval-samples", "0", "--eval-episodes", "3", "--output-dir", str(out))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    ep = json.loads((out / "episodes.json").read_text())
    eps = ep["episodes"]["base"]
    assert len(eps) == 3 and all(1 <= len(e["rewards"]) <= 3 and len(e["rewards"]) == len(e["errors"]) for e in eps)
    assert all(e["errors"][-1] is None or len(e["rewards"]) == 3 for e in eps)      # an episode stops when a program runs, or after 3 tries
    assert set(ep["summary"]["base"]) >= {"first_reward", "retry_success", "attempts"}


def test_base_episodes_are_counted_apart(tmp_path):
    "--eval-base-episodes sets the base model's number of episodes apart from the policy's (a study pools the base model)."
    out = tmp_path / "ep"
    r = _cmd("train", *TINY, "--iterations", "0", "--max-steps", "2", "--eval-samples", "0", "--eval-base-samples", "0",
             "--eval-episodes", "2", "--eval-base-episodes", "1", "--output-dir", str(out))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    eps = json.loads((out / "episodes.json").read_text())["episodes"]
    assert {k: len(v) for k, v in eps.items()} == {"base": 1, "etpo": 2}
    assert json.loads((out / "evaluation.json").read_text()) == {}
    r = _cmd("train", *TINY, "--iterations", "0", "--eval-base-episodes", "-1", "--output-dir", str(tmp_path / "bad"))
    assert r.returncode != 0 and "must be >= 0" in r.stderr, r.stderr[-2000:]


def test_a_machine_that_cannot_run_programs_stops_before_training(tmp_path):
    "No working sandbox: etpo-train exits at once with one line naming the cause and the fix, and trains nothing."
    fake = tmp_path / "bin" / "bwrap"; fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n"); fake.chmod(0o755)
    import os
    env = dict(os.environ, PATH=f"{fake.parent}:{os.environ['PATH']}")   # the distribution's bwrap wins (find_bwrap)
    r = subprocess.run([sys.executable, "-m", "etpo.run", *TINY, "--iterations", "1", "--output-dir", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert "cannot isolate generated programs" in r.stderr and "Permission denied" in r.stderr and "Fixes:" in r.stderr
    assert not (tmp_path / "o" / "metrics.jsonl").exists()


def test_a_machine_error_mid_run_stops_it_with_its_checkpoint(tmp_path, monkeypatch):
    "A sandbox that fails for the machine's reasons twice: the run stops with the cause and the resume hint, the checkpoint kept."
    import etpo.sandbox as sb
    from etpo.run import main
    def broken(*a, **k): raise sb.SandboxMachineError("etpo sandbox: the sandbox did not start (exit 1): bwrap: boom")
    monkeypatch.setattr("etpo.env.run_program", broken)   # the start-up check (etpo.sandbox's own) still passes
    with pytest.raises(SystemExit) as e:
        main([*TINY, "--iterations", "2", "--output-dir", str(tmp_path / "o")])
    assert "bwrap: boom" in str(e.value.code) and "checkpoint" in str(e.value.code) and "--resume" in str(e.value.code)
    assert (tmp_path / "o" / "checkpoint.pt").exists() and read_metrics(tmp_path / "o") == []
