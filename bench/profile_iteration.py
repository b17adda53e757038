"""Where one main-job iteration's time goes on the CPU: seconds per pass (role, with or without gradients, actions or
next states), in the backward passes and in the loss functions, for the ETPO defaults.

    python bench/profile_iteration.py                 # qwen2.5-coder-0.5b, 1 iteration, about 3 minutes on 2 cores
    python bench/profile_iteration.py --precision fp32   # the same in float32
    python bench/profile_iteration.py --model tiny-random-llama
"""
import argparse
import collections
import tempfile
import time

import etpo.losses as L
import etpo.rollout as R
import etpo.trainer as T
from etpo.env import VectorDataScienceEnv
from etpo.models import Agent, load_model
from etpo.rollout import SamplingConfig


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--iterations", type=int, default=1)
    ap.add_argument("--max-new-tokens", type=int, default=192)
    ap.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"])
    args = ap.parse_args()
    import torch
    secs, tokens = collections.defaultdict(float), collections.Counter()

    def timed(name, f, count=None):
        def g(*a, **k):
            t = time.perf_counter(); out = f(*a, **k)
            key = name(*a, **k) if callable(name) else name
            secs[key] += time.perf_counter() - t
            if count: tokens[key] += count(*a, **k)
            return out
        return g

    def pass_key(self, role, input_ids, attention_mask, logits_to_keep=0, hidden=False, prefix=None):
        return f"pass: {role}, {'with' if torch.is_grad_enabled() else 'no'} gradients, {'next states' if logits_to_keep == 1 else 'actions'}"

    Agent.forward_role = timed(pass_key, Agent.forward_role,
                               count=lambda self, role, ids, am, k=0, h=False, prefix=None: ids.numel() + (0 if prefix is None else prefix.numel()))
    R.generate = timed("generate", R.generate)
    T.RLTrainer.step_optimizer = timed("backward, clip and optimizer step", T.RLTrainer.step_optimizer)
    for n in ("soft_value", "policy_stats", "soft_target_stats", "critic_drift", "conservative_penalty"):
        for mod in (T, R):
            if hasattr(mod, n): setattr(mod, n, timed(f"loss function: {n}", getattr(L, n)))
    llm, tok, spec = load_model(args.model, device="cpu", precision=args.precision)
    venv = VectorDataScienceEnv.make("tic_tac_toe", n=4, prompt_style=spec.prompt_style, timeout=60)
    cfg = T.ETPOConfig(iterations=args.iterations, sampling=SamplingConfig(max_new_tokens=args.max_new_tokens),
                       output_dir=tempfile.mkdtemp(prefix="etpo-profile-"), progress_bar=False, report_to='none', seed=0)
    tr = T.ETPOTrainer(cfg, llm, venv, tok)
    tr.score, tr.update = timed("phase: score", tr.score), timed("phase: update", tr.update)
    t0 = time.perf_counter(); rows = tr.train(); total = time.perf_counter() - t0
    venv.close()
    print(f"One ETPO iteration on the CPU ({args.model}, {next(llm.parameters()).dtype}, 4 environments x 2 steps, {args.max_new_tokens} new tokens, "
          f"{args.iterations} iteration(s), {sum(r['action_tokens'] for r in rows) * 8:.0f} action tokens): {total:.1f} s\n")
    print("| what | seconds | tokens through it |\n|---|---|---|")
    for k in sorted(secs, key=lambda k: -secs[k]):
        print(f"| {k} | {secs[k]:.1f} | {tokens.get(k, '')} |")


if __name__ == "__main__":
    main()
