"The main job's smoke run: papermill runs nbs/train.ipynb with the tiny model, from the repository root and from nbs/."
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from etpo.utils import read_metrics, read_run_header

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("where", ["root", "nbs"])
def test_papermill_smoke_run(tmp_path, where):
    cwd = ROOT if where == "root" else ROOT / "nbs"
    nb = os.path.relpath(ROOT / "nbs" / "train.ipynb", cwd)
    out_dir = os.path.relpath(tmp_path / "smoke", cwd)           # relative, as a user would pass it
    cmd = [sys.executable, "-m", "papermill", nb, str(tmp_path / "out.ipynb"), "-p", "model", "tiny-random-llama",
           "-p", "iterations", "2", "-p", "n_envs", "2", "-p", "max_new_tokens", "8", "-p", "eval_samples", "2",
           "-p", "timeout", "30", "-p", "output_dir", out_dir]
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = read_metrics(tmp_path / "smoke")
    assert [row["iteration"] for row in rows] == [0, 1]
    header = read_run_header(tmp_path / "smoke")   # the run header: what ran, how, and the sandbox
    assert header["config"]["iterations"] == 2 and header["env"]["dataset"] == "tic_tac_toe" and header["env"]["isolated"], header
    assert "iteration 1: reward" in r.stdout + r.stderr or "iteration 1: reward" in (tmp_path / "out.ipynb").read_text()
    for row in rows:
        for k, v in row.items():
            assert isinstance(v, (int, float)) and math.isfinite(v), (k, v)
    ev = json.loads((tmp_path / "smoke" / "evaluation.json").read_text())
    assert set(ev) == {"base", "etpo"} and len(ev["base"]) == 2
    assert (tmp_path / "smoke" / "checkpoint.pt").exists()


def test_papermill_rejects_codellama_without_gpu(tmp_path):
    pytest.importorskip("papermill")
    import torch
    if torch.cuda.is_available(): pytest.skip("a GPU is present")
    cmd = [sys.executable, "-m", "papermill", "nbs/train.ipynb", str(tmp_path / "out.ipynb"), "-p", "model", "codellama-7b",
           "-p", "output_dir", str(tmp_path / "cl")]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "needs a GPU" in (r.stderr + r.stdout)
