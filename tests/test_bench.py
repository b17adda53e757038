"""bench/gpu.py's CPU smoke run: both paths run at two batch sizes and the table has every row, ratios included."""
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
