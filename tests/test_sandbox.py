"""Hostile programs in the sandbox: each gets reward -1 with a clear error within the limit plus a few seconds,
leaves no process behind, writes nothing outside its directory, and the next run still works. Cheaters score no
better than their honest model."""
import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from etpo.env import DataScienceEnv, program_from_body, score_program
from etpo.sandbox import Limits, run_program

WALL = 10.0   # short enough for the endless programs, long enough for an import of numpy on a busy CI machine (3 s flaked)
LIMITS = Limits(wall_s=WALL, memory_mb=2048, file_mb=8)
HONEST = "from sklearn.linear_model import LogisticRegression\nreturn LogisticRegression(max_iter=500).fit(x_train, y_train)"


@pytest.fixture(scope="module")
def env():
    return DataScienceEnv("tic_tac_toe", timeout=WALL, limits=Limits(memory_mb=2048, file_mb=8))


def _sandbox_procs():
    found = []
    for p in psutil.process_iter(["uids", "environ", "status"]):
        try:
            if p.info["status"] == psutil.STATUS_ZOMBIE: continue
            if (p.info["uids"] and p.info["uids"].real >= 200_000) or "ETPO_SANDBOX" in (p.info["environ"] or {}):
                found.append(p)
        except psutil.Error:
            pass
    return found


HOSTILE = {
    "endless loop": ("while True: pass", "TimeoutError"),
    "ignores SIGTERM": ("import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: pass", "TimeoutError"),
    "sleep past the limit": ("import time\ntime.sleep(60)", "TimeoutError"),
    "memory bomb": ("x = bytearray(8 * 2**30)", "MemoryError"),
    "fork flood": ("import os, time\nfor _ in range(10_000):\n    try:\n        if os.fork() == 0: time.sleep(60); os._exit(0)\n    except OSError: pass\ntime.sleep(60)", "TimeoutError"),
    "child in its own session": ("import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], start_new_session=True)\nraise RuntimeError('left a child')", "RuntimeError"),
    "os._exit": ("import os\nos._exit(0)", "ExitError"),
    "SystemExit": ("raise SystemExit(3)", "SystemExit"),
    "segfault": ("import ctypes\nctypes.string_at(0)", "Crash"),
    "100 MB of output": ("import sys\nfor _ in range(100): sys.stdout.write('x' * 2**20)", "OSError"),
    "deep recursion": ("def f(n): return f(n + 1)\nreturn f(0)", "RecursionError"),
    "NaN probabilities": ("import numpy as np\nclass M:\n    def predict_proba(self, x): return np.full((len(x), 2), np.nan)\nreturn M()", "ValueError"),
    "wrong shape": ("import numpy as np\nclass M:\n    def predict_proba(self, x): return np.ones((len(x) - 1, 2)) / 2\nreturn M()", "ValueError"),
    "wrong type": ("class M:\n    def predict_proba(self, x): return 'high'\nreturn M()", "ValueError"),
    "no model": ("x = 1", "TypeError"),
    "missing module": ("import xgboost_not_installed\nreturn None", "ModuleNotFoundError"),
    "syntax error": ("return (", "SyntaxError"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_program(env, name):
    body, error_type = HOSTILE[name]
    env.reset()
    t0 = time.monotonic()
    _, reward, terminated, truncated, info = env.step(body)
    elapsed = time.monotonic() - t0
    assert reward == -1.0 and not terminated
    assert info["error"] and info["error"].startswith(error_type), info["error"]
    assert len(info["error"]) < 3000
    assert elapsed < WALL + 10, elapsed
    time.sleep(0.2)
    assert _sandbox_procs() == [], f"{name} left processes behind"
    hostile_limits, env.limits = env.limits, dataclasses.replace(env.limits, wall_s=60.0)   # the honest run is not about speed (loaded CI)
    try: _, reward, terminated, _, info = env.step(HONEST)     # the environment still works
    finally: env.limits = hostile_limits
    assert terminated and 0.5 < reward <= 1.0, info["error"]


def test_writes_outside_its_directory_are_contained(tmp_path):
    home = Path.home()
    marker = f"etpo-pwned-{os.getpid()}"
    body = (f"import os\nopen(os.path.expanduser('~/{marker}'), 'w').write('x')\nopen('/tmp/{marker}', 'w').write('x')\n"
            f"try: open('{tmp_path}/{marker}', 'w').write('x')\nexcept OSError: pass\n" + HONEST)
    code = program_from_body(body)
    x = np.random.default_rng(0).normal(size=(60, 2)); y = (x[:, 0] > 0).astype(int)
    # what is tested is containment, not speed: a loaded CI machine can take over 3 s to import sklearn in the sandbox
    res = run_program(code, [(x[:30], y[:30], x[30:])], 2, dataclasses.replace(LIMITS, wall_s=60.0))
    assert res.ok, res.error
    assert not (home / marker).exists() and not Path(f"/tmp/{marker}").exists()
    if os.geteuid() == 0:   # isolated: no write into a directory owned by someone else
        assert not (tmp_path / marker).exists()


CHEATS = {
    "patch roc_auc_score": "import sklearn.metrics\nsklearn.metrics.roc_auc_score = lambda *a, **k: 1.0\n",
    "search files for the labels": (
        "import glob, os\nfound = []\n"
        "for pat in [os.environ.get('ETPO_DATA_DIR', '/nonexistent') + '/**/*.csv', '/work/**/*.csv', os.path.expanduser('~/.cache') + '/**/*',\n"
        "            '/root/**/*.csv', '/tmp/**/*']:\n"
        "    found += glob.glob(pat, recursive=True)\n"
        "assert not any(f.endswith('.csv') for f in found), found\n"
        "assert not os.path.exists(DATA_FILE), 'the training CSV, by its real path'\n"
        "assert set(os.listdir('/')) <= {'bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32', 'usr', 'etc', 'dev', 'proc', 'sys', 'tmp', 'var', 'root', 'home', 'opt'}, os.listdir('/')\n"),
    "search frames and memory": (
        "import gc, sys, numpy as np\n"
        "arrays = [o for o in gc.get_objects() if isinstance(o, np.ndarray)]\n"
        "f = sys._getframe()\nwhile f: assert 'y_test' not in f.f_locals; f = f.f_back\n"
        "try:\n    open(f'/proc/{os.getppid()}/mem', 'rb').read(1)\n    raise AssertionError('read the parent memory')\nexcept OSError: pass\n"),
}


@pytest.mark.skipif(os.geteuid() != 0, reason="file-system isolation needs root (mount namespace)")
@pytest.mark.parametrize("name", list(CHEATS))
def test_cheaters_score_no_better_than_their_model(name):
    from etpo.data import find_data_file, load_dataset
    ds = load_dataset("kidney_stone")   # its CSV (with the labels) is on this machine
    honest = score_program(program_from_body(HONEST), ds, limits=Limits(wall_s=60))
    cheat_code = CHEATS[name].replace("DATA_FILE", repr(str(find_data_file("kidney_stone", "train.csv").resolve())))
    cheat = score_program(program_from_body("import os\n" + cheat_code + HONEST), ds, limits=Limits(wall_s=60))
    assert cheat.error is None, cheat.error          # the cheat's own assertions (nothing found) held
    assert cheat.reward == pytest.approx(honest.reward, abs=1e-12)


VENV_SCRIPT = """
import json, sys
import numpy as np
from sklearn.linear_model import LogisticRegression
from etpo.sandbox import Limits, run_program
hidden, secret = sys.argv[1], sys.argv[2]
x = np.random.default_rng(0).normal(size=(80, 3)); y = (x[:, 0] > 0).astype(int)
splits = [(x[:40], y[:40], x[40:])]
code = (f"import os\\nSEEN = os.path.exists({secret!r})\\n"
        "from sklearn.linear_model import LogisticRegression\\n"
        "def build_model(x_train, y_train):\\n    print('secret visible:', SEEN)\\n    return LogisticRegression().fit(x_train, y_train)\\n")
res = run_program(code, splits, 2, Limits(wall_s=60), hidden_paths=[hidden])
want = LogisticRegression().fit(x[:40], y[:40]).predict_proba(x[40:])
print(json.dumps(dict(prefix=sys.prefix, ok=res.ok, error=res.error, stdout=res.stdout,
                      same=bool(res.ok and np.array_equal(res.probabilities[0], want)))))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="file-system isolation needs root (mount namespace)")
def test_interpreter_in_a_hidden_directory(tmp_path):
    """A virtual environment inside a hidden directory (poetry keeps them under ~/.cache): the program imports the
    interpreter's packages and scores exactly what scikit-learn gives, and a file beside the venv stays unreadable."""
    import json, subprocess, sys, venv
    hidden = tmp_path / "cache"
    venv.create(hidden / "venv", system_site_packages=True, with_pip=False)
    (hidden / "labels.csv").write_text("y\n1\n")
    python = hidden / "venv" / "bin" / "python"
    out = subprocess.run([str(python), "-c", VENV_SCRIPT, str(hidden), str(hidden / "labels.csv")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(got["prefix"]).resolve() == (hidden / "venv").resolve()   # the sandbox really ran from the venv
    assert got["ok"], got["error"]
    assert got["same"]
    assert "secret visible: False" in got["stdout"]
