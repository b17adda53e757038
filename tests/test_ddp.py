"Two CPU processes under torchrun (what `accelerate launch --multi_gpu` wraps; gloo on CPU): DDP keeps the trained adapters identical."
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from etpo.utils import read_metrics, read_run_header

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="needs torchrun (comes with torch)")
def test_two_processes_stay_in_sync(tmp_path):
    cmd = ["torchrun", "--standalone", "--nproc_per_node", "2", "examples/train.py", "--model", "tiny-random-llama", "--iterations", "2", "--n-envs", "2",
           "--max-new-tokens", "8", "--timeout", "30", "--lr", "1e-3", "--output-dir", str(tmp_path / "out"), "--dump-weights", str(tmp_path / "w")]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    w0, w1 = (torch.load(tmp_path / "w" / f"rank{i}.pt") for i in (0, 1))
    assert w0.keys() == w1.keys()
    for k in w0: torch.testing.assert_close(w0[k], w1[k], rtol=0, atol=1e-6, msg=k)
    moved = [k for k in w0 if "lora_B" in k and ".policy." in k and w0[k].abs().sum() > 0]
    assert moved, "the policy adapter did not train"
    rows = read_metrics(tmp_path / "out")
    assert [row["iteration"] for row in rows] == [0, 1]
    header = read_run_header(tmp_path / "out")
    assert header["processes"] == 2 and header["env"]["isolated"], header
