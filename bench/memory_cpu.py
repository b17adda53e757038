"""Peak resident memory and phase times of one ETPO iteration on the CPU: with and without the kept logits, in micro-batches.

Each setting runs in a fresh process (the resident high-water mark only grows): one iteration of the main job's
defaults (4 environments x 2 steps on tic_tac_toe, minibatch 4, AdamW, residual critic, lambda-returns). The kept
logits are pi's from generation (`score_from_generation`) and rho's from scoring (`update_from_scoring`): B*T*V
floats each, in the model's dtype, held between phases. Micro-batches (`micro_batch_size`) run a minibatch's rows
in parts with the gradients accumulated: the same step, fewer activations alive, but each part computes the prompt
prefix its rows share (a minibatch computes it once).

    python bench/memory_cpu.py                      # qwen2.5-coder-0.5b, 2-5 minutes per setting
    python bench/memory_cpu.py --settings default whole   # only the settings whose names contain these words
    python bench/memory_cpu.py --precision bf16           # every setting in bf16 (a CPU with native bf16)
    python bench/memory_cpu.py --model tiny-random-llama
"""
import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time

NO_KEPT = {"score_from_generation": False, "update_from_scoring": False}
SETTINGS = {  # name: ETPOConfig overrides
    "default (logits kept, micro-batches of 2 rows)": {},
    "no logits kept": NO_KEPT,
    "whole minibatches (micro_batch_size None)": {"micro_batch_size": None},
    "micro-batches of 1 row": {"micro_batch_size": 1},
}


def child(model: str, overrides: dict):
    "One iteration; prints a JSON line of peak memory (GiB) and seconds per phase."
    import etpo.trainer as T
    from etpo.env import VectorDataScienceEnv
    from etpo.models import load_model
    from etpo.rollout import SamplingConfig
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    phases = {}

    def timed(name, f):
        def g(*a, **k):
            t = time.perf_counter(); out = f(*a, **k)
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - t
            phases[f"peak after {name}"] = peak()
            return out
        return g

    llm, tok, spec = load_model(model, device="cpu", precision=overrides.get("precision", "auto"))
    venv = VectorDataScienceEnv.make("tic_tac_toe", n=4, prompt_style=spec.prompt_style, timeout=60)
    cfg = T.ETPOConfig(iterations=1, n_envs=4, env_steps_per_update=2, lr=1e-5, polyak=0.9, critic_form="residual", td_lambda=1.0,
                       optimizer="adamw", minibatch_size=4, sampling=SamplingConfig(max_new_tokens=192), output_dir=tempfile.mkdtemp(prefix="etpo-memory-"),
                       progress_bar=False, report_to='none', seed=0, **overrides)
    tr = T.ETPOTrainer(cfg, llm, venv, tok)
    T.collect = timed("rollout (generate + env)", T.collect)
    T.score_rollout = timed("score_rollout", T.score_rollout)
    tr.update = timed("update", tr.update)
    tr.train()
    venv.close()
    print(json.dumps(phases))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--settings", nargs="*", default=None, help="run only the settings whose names contain one of these words")
    ap.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"], help="every setting's precision (auto: float32 on the CPU)")
    args = ap.parse_args()
    if args.child is not None: return child(args.model, json.loads(args.child))
    rows = []
    chosen = {n: o for n, o in SETTINGS.items() if args.settings is None or any(w in n for w in args.settings)}
    if not chosen: ap.error(f"no setting matches {args.settings}; the settings: {list(SETTINGS)}")
    for name, overrides in chosen.items():
        out = subprocess.run([sys.executable, __file__, "--model", args.model, "--child", json.dumps({"precision": args.precision, **overrides})],
                             capture_output=True, text=True, check=True).stdout
        rows.append((name, json.loads(out.strip().splitlines()[-1])))
    keys = ["rollout (generate + env)", "score_rollout", "update"]
    from etpo.models import cpu_has_bf16
    print(f"One ETPO iteration, {args.model}, CPU ({'with' if cpu_has_bf16() else 'without'} native bf16), precision {args.precision}, "
          f"8 transitions, minibatch 4\n")
    print("| setting | peak RSS, GiB | " + " | ".join(f"{k}, s" for k in keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for name, ph in rows:
        print(f"| {name} | {ph['peak after update']:.2f} | " + " | ".join(f"{ph[k]:.1f}" for k in keys) + " |")


if __name__ == "__main__":
    main()
