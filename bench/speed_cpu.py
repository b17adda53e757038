"""Main-job transitions per minute on the CPU: the previous code path against the fast paths, in one run.

Each setting trains the main job's configuration (ETPO defaults, 4 environments x 2 steps on tic_tac_toe, 192 new
tokens, seed 0) for `--iterations` iterations in a fresh process, and reports transitions per minute and seconds per
phase. The settings differ only in the fast paths, which compute the same thing (tests: notebooks 05 and 06):

- previous: no prefix sharing, no adapter folding, no small-batch products, a pi pass in scoring (the code path
  before them);
- folded + shared prefix: `fold_adapters` (generation and scoring run pi and the target critic on W + s*B*A) and
  `share_prefix` (the prompts' common prefix once per pass, in generation, scoring and the update; next-state values
  read from the rows whose prompt is that state): the defaults before the next two;
- + small-batch products: `SamplingConfig.small_batch_linear` (each decoding step's products in the faster of two
  orientations, equal to float rounding);
- + logits kept: `score_from_generation` (scoring takes pi's logits from generation instead of a pi pass)
  and `update_from_scoring` (the update takes rho's logits from scoring instead of a rho pass per minibatch);
- + bf16: `precision='bf16'`, on a CPU with native bf16 (avx512_bf16 or AMX; without it the bf16 rows run float32),
  stores the frozen base weights in bfloat16 (adapters, optimizer state and the losses stay float32). Not the default
  on the CPU (`precision='auto'` is float32 there: bf16 rounds away small updates, benchmarks page). Every row above it runs in float32;
- + micro-batches of 2 rows (the default micro-batches): `micro_batch_size=2`, the update's minibatches in parts of two rows with the
  gradients accumulated (the same step). The rows above it run whole minibatches; every row holds the policy's
  fold over a rollout's generations (`Agent.hold_folded`), which the rows without folding do not use.

bf16 rounds the logits, so its samples differ from the float32 rows after a few tokens: its phase times are those of
other programs (the same count of tokens per action at most), and its "same actions" column says no by design.

Same seed, same sampling: the last columns say whether each setting sampled the same action tokens as the previous
path, and the largest difference of its metrics from the previous path's.

    python bench/speed_cpu.py                     # qwen2.5-coder-0.5b, about 40 minutes on 2 cores
    python bench/speed_cpu.py --model tiny-random-llama --iterations 1
    python bench/speed_cpu.py --settings previous bf16   # only the rows whose names contain these words
    python bench/speed_cpu.py --floor              # only the decoding floor: weight bytes / measured read bandwidth
"""
import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time

from etpo.models import cpu_has_bf16

FP32 = dict(precision="fp32", micro_batch_size=None)   # the rows before micro-batches: whole minibatches
BF16 = "bf16" if cpu_has_bf16() else "fp32"   # the bf16 rows: emulated bf16 would only be slower
SETTINGS = {  # name: (ETPOConfig overrides, SamplingConfig overrides)
    "previous": (dict(fold_adapters=False, score_from_generation=False, update_from_scoring=False, **FP32),
                 dict(share_prefix=False, small_batch_linear=False)),
    "folded + shared prefix": (dict(fold_adapters=True, score_from_generation=False, update_from_scoring=False, **FP32),
                               dict(share_prefix=True, small_batch_linear=False)),
    "+ small-batch products": (dict(fold_adapters=True, score_from_generation=False, update_from_scoring=False, **FP32),
                               dict(share_prefix=True, small_batch_linear=True)),
    "+ logits kept: pi's from generation, rho's from scoring": (dict(fold_adapters=True, score_from_generation=True, update_from_scoring=True, **FP32),
                                                                dict(share_prefix=True, small_batch_linear=True)),
    "+ bf16: precision bf16": (dict(fold_adapters=True, score_from_generation=True, update_from_scoring=True, precision=BF16, micro_batch_size=None),
                               dict(share_prefix=True, small_batch_linear=True)),
    "+ bf16 and micro-batches of 2 rows": (dict(fold_adapters=True, score_from_generation=True, update_from_scoring=True, precision=BF16),
                                         dict(share_prefix=True, small_batch_linear=True)),
}
COMPARED = ["reward_mean", "kl", "entropy", "bellman_error", "q_mean", "critic_loss", "policy_loss", "q_gap"]


def child(model: str, iterations: int, overrides: dict, sampling: dict):
    "Train; print one JSON line: transitions, seconds per phase, a hash of the sampled actions, the metrics rows."
    import etpo.trainer as T
    from etpo.env import VectorDataScienceEnv
    from etpo.models import load_model
    from etpo.rollout import SamplingConfig
    phases, actions = {}, hashlib.sha256()

    def timed(name, f, record=False):
        def g(*a, **k):
            t = time.perf_counter(); out = f(*a, **k)
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - t
            if record:   # collect: its own split of the phase into generation and the environment (the sandboxed programs' run time)
                actions.update(json.dumps(out[0].action_ids.tolist()).encode())
                for k, key in (("generate", "generate_s"), ("env (programs run)", "env_s")): phases[k] = phases.get(k, 0.0) + out[2][key]
            return out
        return g

    llm, tok, spec = load_model(model, device="cpu", precision=overrides.get("precision", "auto"))
    venv = VectorDataScienceEnv.make("tic_tac_toe", n=4, prompt_style=spec.prompt_style, timeout=60)
    cfg = T.ETPOConfig(iterations=iterations, sampling=SamplingConfig(max_new_tokens=192, **sampling),
                       output_dir=tempfile.mkdtemp(prefix="etpo-speed-"), progress_bar=False, report_to='none', seed=0, **overrides)
    tr = T.ETPOTrainer(cfg, llm, venv, tok)
    T.collect = timed("rollout: generate + env", T.collect, record=True)
    tr.score = timed("score", tr.score)
    tr.update = timed("update", tr.update)
    t0 = time.perf_counter()
    rows = tr.train()
    total = time.perf_counter() - t0
    venv.close()
    import resource
    print(json.dumps(dict(phases=phases, total=total, peak_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, transitions=iterations * cfg.n_envs * cfg.env_steps_per_update,
                          actions=actions.hexdigest(), rows=rows)))


def decoding_floor(model: str) -> str:
    "Lines: the model's weight bytes in fp32 and in bf16, this machine's read bandwidth (sum over 1 GiB, best of 3), and the time one decoding step must take in each."
    import torch
    from etpo.models import load_model
    llm, _, _ = load_model(model, device="cpu", precision="fp32")
    n = sum(p.numel() for p in llm.parameters())
    x = torch.ones(2**28)
    best = min(timeit(lambda: x.sum()) for _ in range(3))
    bw = x.numel() * x.element_size() / best
    return "\n".join(f"decoding floor, {model}, {name}: {n * size / 1e9:.2f} GB of weights / {bw / 1e9:.1f} GB/s read bandwidth = "
                     f"{n * size / bw * 1e3:.0f} ms per decoding step" for name, size in (("fp32", 4), ("bf16", 2)))


def timeit(f) -> float:
    t = time.perf_counter(); f(); return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--floor", action="store_true", help="print only the decoding floor")
    ap.add_argument("--settings", nargs="*", default=None, help="run only the settings whose names contain one of these words (the first is the baseline)")
    args = ap.parse_args()
    if args.floor: return print(decoding_floor(args.model))
    if args.child is not None:
        overrides, sampling = json.loads(args.child)
        return child(args.model, args.iterations, overrides, sampling)
    res = {}
    chosen = {n: v for n, v in SETTINGS.items() if args.settings is None or any(w in n for w in args.settings)}
    if not chosen: ap.error(f"no setting matches {args.settings}; the settings: {list(SETTINGS)}")
    for name, setting in chosen.items():
        out = subprocess.run([sys.executable, __file__, "--model", args.model, "--iterations", str(args.iterations), "--child", json.dumps(setting)],
                             capture_output=True, text=True)
        if out.returncode: sys.exit(f"setting {name!r} failed:\n{out.stderr[-3000:]}")
        res[name] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{name}: {res[name]['total']:.0f} s", file=sys.stderr)
    base = res[next(iter(res))]
    keys = ["rollout: generate + env", "generate", "env (programs run)", "score", "update"]
    print(f"Main job on the CPU ({args.model}, {base['transitions']} transitions = {args.iterations} iterations x 4 environments x 2 steps)")
    print("(generate + env (programs run) = rollout; the programs' time depends on what was sampled, so compare the generate column across settings)\n")
    print("| setting | transitions / min | speed-up | " + " | ".join(f"{k}, s" for k in keys) + " | peak memory, GB | same actions | max metric difference |")
    print("|---|---|---|" + "---|" * len(keys) + "---|---|---|")
    for name, r in res.items():
        tpm = r["transitions"] / r["total"] * 60
        diff = max((abs(a[k] - b[k]) for a, b in zip(r["rows"], base["rows"]) for k in COMPARED if k in a and k in b), default=0.0)
        print(f"| {name} | {tpm:.2f} | {tpm / (base['transitions'] / base['total'] * 60):.2f}x | "
              + " | ".join(f"{r['phases'].get(k, 0):.1f}" for k in keys)
              + f" | {r['peak_gb']:.1f} | {'yes' if r['actions'] == base['actions'] else 'no'} | {diff:.2e} |")
    print("\n" + decoding_floor(args.model))


if __name__ == "__main__":
    main()
