"Two CPU processes under torchrun (what `accelerate launch --multi_gpu` wraps; gloo on CPU): DDP keeps the trained adapters identical."
import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import torch

from etpo.utils import read_metrics, read_run_header

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="needs torchrun (comes with torch)")
def test_two_processes_stay_in_sync(tmp_path):
    cmd = ["torchrun", "--standalone", "--nproc_per_node", "2", "-m", "etpo.run", *_ARGS, "--iterations", "2",
           "--output-dir", str(tmp_path / "out"), "--dump-weights", str(tmp_path / "w")]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    _check_synced(tmp_path / "w")
    rows = read_metrics(tmp_path / "out")
    assert [row["iteration"] for row in rows] == [0, 1]
    header = read_run_header(tmp_path / "out")
    assert header["processes"] == 2 and header["env"]["isolated"], header


_ARGS = ["--model", "tiny-random-llama", "--n-envs", "2", "--max-new-tokens", "8", "--timeout", "30", "--lr", "1e-3", "--eval-samples", "0",
         "--progress-bar", "false"]


def _check_synced(wdir: Path):
    "Both ranks' adapters equal (DDP averaged the same gradients), and the policy adapter moved."
    w0, w1 = (torch.load(wdir / f"rank{i}.pt") for i in (0, 1))
    assert w0.keys() == w1.keys()
    for k in w0: torch.testing.assert_close(w0[k], w1[k], rtol=0, atol=1e-6, msg=k)
    moved = [k for k in w0 if "lora_B" in k and ".policy." in k and w0[k].abs().sum() > 0]
    assert moved, "the policy adapter did not train"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def _two_hosts(tmp_path, iterations: int, *extra: str):
    "Two torchrun 'hosts' on this machine (--nnodes 2, one process each, gloo over 127.0.0.1): what `srun` or `accelerate launch --num_machines 2` starts on a cluster."
    port = _free_port()
    procs = [subprocess.Popen(["torchrun", "--nnodes", "2", "--nproc_per_node", "1", "--node_rank", str(rank), "--master_addr", "127.0.0.1",
                               "--master_port", str(port), "-m", "etpo.run", *_ARGS, "--iterations", str(iterations), *extra,
                               "--output-dir", str(tmp_path / "out"), "--dump-weights", str(tmp_path / f"w{iterations}")],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for rank in (0, 1)]
    outs = [p.communicate(timeout=900)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(o[-3000:] for o in outs)
    _check_synced(tmp_path / f"w{iterations}")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun") is None, reason="needs torchrun (comes with torch)")
def test_two_hosts_stay_in_sync_and_resume(tmp_path):
    _two_hosts(tmp_path, 2)
    assert [r["iteration"] for r in read_metrics(tmp_path / "out")] == [0, 1]
    assert read_run_header(tmp_path / "out")["processes"] == 2
    _two_hosts(tmp_path, 3, "--resume", "true")               # both hosts resume from the one checkpoint, and stay in sync
    assert [r["iteration"] for r in read_metrics(tmp_path / "out")] == [0, 1, 2]


@pytest.mark.parametrize("name, kind, machines", [("single_gpu", "NO", 1), ("multi_gpu", "MULTI_GPU", 1), ("multi_host", "MULTI_GPU", 2)])
def test_shipped_accelerate_configs_load(name, kind, machines):
    "The launcher configurations the docs point to are ones accelerate reads, with the layout their names promise."
    from accelerate.commands.config.config_args import load_config_from_file
    c = load_config_from_file(str(ROOT / "configs" / "accelerate" / f"{name}.yaml"))
    assert (c.distributed_type.value, c.num_machines, c.mixed_precision) == (kind, machines, "no")
