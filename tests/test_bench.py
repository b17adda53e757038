"""Smoke runs of the benchmarks: bench/gpu.py on the CPU (both paths, every row) and bench/bf16_policy_shift.py on a tiny model."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_bench_tiny_prints_previous_and_fast_paths(tmp_path):
    out = subprocess.run([sys.executable, "bench/gpu.py", "--tiny", "--prompt", "16", "--action", "8", "--batch", "2,4", "--repeats", "1",
                          "--json", str(tmp_path / "gpu.json")], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    rows = [l.split(" | ") for l in out.splitlines() if l.startswith("| 2 (") or l.startswith("| 4 (")]
    assert [r[1] for r in rows[:5]] == ["generation, action tokens/s", "scoring, action tokens/s", "update, action tokens/s",
                                        "update MFU (prompt counted as computed)", "peak GPU memory, GiB"]
    assert len(rows) == 10
    figs = json.loads((tmp_path / "gpu.json").read_text())
    assert [f["batch"] for f in figs["rows"]] == [2, 4]
    for f in figs["rows"]:
        for path in ("previous", "fast"):
            assert f[path]["generate_tokens_per_s"] > 0 and f[path]["update_seconds"] > 0
        assert f["generation_floor_tokens_per_s"] > 0


def test_bf16_policy_shift_tiny_reproduces_a_large_update_and_prints_every_pass(tmp_path):
    "bench/bf16_policy_shift.py on a tiny model whose exported policy is far from ρ: every pass row, float32's share 1.00, bf16's near 1."
    import json
    import torch
    from etpo.export import export_policy
    from etpo.models import Agent, load_model
    model, tok, _ = load_model("tiny-random-llama", device="cpu", precision="fp32")
    agent = Agent(model, critic_form="residual")
    with torch.no_grad():
        for n, p in agent.model.named_parameters():
            if "lora_B.policy" in n: p.normal_(0, 0.5)   # a large update: bf16 must keep nearly all of it
    export_policy(agent, tmp_path / "policy")
    (tmp_path / "evaluation.json").write_text(json.dumps({"base": [], "etpo": [{"action": "    clf = LogisticRegression()\n    return clf"}] * 2}))
    out = subprocess.run([sys.executable, "bench/bf16_policy_shift.py", str(tmp_path), "--model", "tiny-random-llama", "--rows", "2"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {l.split("|")[1].strip(): [float(x) for x in l.split("|")[2:5]] for l in out.stdout.splitlines()
            if l.startswith("| fp32") or l.startswith("| bf16")}
    assert set(rows) == {"fp32 unfolded", "bf16 folded", "bf16 unfolded (autocast)"}, out.stdout
    assert rows["fp32 unfolded"][1] == 1.0 and rows["fp32 unfolded"][0] > 0.01
    for name in ("bf16 folded", "bf16 unfolded (autocast)"): assert 0.8 < rows[name][1] < 1.2 and rows[name][2] > 0.9, (name, out.stdout)
