"""ETPO with one-step token targets (λ = 0, the paper) against λ-returns inside an action, on the synthetic task.

    python tools/probes/lambda_synthetic.py                       # λ = 0 and 1, 12-token actions, 60 iterations (~5 min, 2 cores)
    python tools/probes/lambda_synthetic.py --lams 0 0.5 1 --tokens 4

The task is `TargetTokensEnv`: a random-init tiny Llama earns the fraction of its action's tokens that fall in a
target set (64 of 512 ids), so every token matters and the reward arrives only after the last one. With one-step
targets the reward reaches token j after (n - j) critic/target-critic rounds; with λ = 1 at once. Prints one markdown
row per λ: mean reward of the first and last 10 iterations and every 10th iteration's reward.
"""
import argparse
import tempfile

import numpy as np

from etpo.models import tiny_random_llama
from etpo.rollout import SamplingConfig
from etpo.env import TargetTokensEnv
from etpo.trainer import ETPOConfig, ETPOTrainer


def run(lam, tokens, iterations, seed, out):
    "Mean reward per iteration of one ETPO run."
    model, tok = tiny_random_llama()
    env = TargetTokensEnv(tok, target_ids=list(range(100, 164)), n_envs=32)
    cfg = ETPOConfig(iterations=iterations, beta=0.05, polyak=0.9, optimizer="adamw", lr=3e-3, critic_form="residual", lora_r=8,
                     support_k=None, cql_alpha=0.0,
                     n_envs=32, env_steps_per_update=1, minibatch_size=16, update_epochs=2, output_dir=out, report_to='none',
                     seed=seed, td_lambda=lam, progress_bar=False,
                     sampling=SamplingConfig(max_new_tokens=tokens, sample_from_policy=True, stop_at_body_end=False))
    return np.array([r["reward_mean"] for r in ETPOTrainer(cfg, model, env, tok).train()])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lams", type=float, nargs="+", default=[0.0, 1.0], help="λ values to compare")
    ap.add_argument("--tokens", type=int, default=12, help="tokens per action")
    ap.add_argument("--iterations", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"| λ | reward, first 10 iterations | reward, last 10 | every 10th iteration ({args.tokens}-token actions, seed {args.seed}) |")
    print("|---|---|---|---|")
    for lam in args.lams:
        r = run(lam, args.tokens, args.iterations, args.seed, tempfile.mkdtemp(prefix="etpo-lambda-"))
        print(f"| {lam:g} | {r[:10].mean():.3f} | {r[-10:].mean():.3f} | {' '.join(f'{x:.2f}' for x in r[::10])} |", flush=True)


if __name__ == "__main__":
    main()
