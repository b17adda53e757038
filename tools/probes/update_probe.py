"""What repeated ETPO updates on one fixed batch do to the policy, per stabiliser setting: a controlled ablation.

One rollout of base-model programs (Qwen2.5-Coder-0.5B, compact tic-tac-toe prompts, single attempts) is collected
once; then, for each setting, the adapters are reset and the same batch is re-scored and updated `--updates` times
(one optimizer step each, the regime where the issue saw ETPO collapse). Logged per update: the soft-target
diagnostics (losses page) and the policy's KL to the base model and entropy on the batch's states. At the end: the
change of log π per token against the base model on `--heldout` other base-model programs, successes and failures
apart (learning raises the first and lowers the second; a collapse lowers both), and `--eval` programs sampled from
the updated policy under the same random numbers for every setting. Same data for every setting, so differences are
the update's alone.

    python tools/probes/update_probe.py --out runs/probe                       # about 5 minutes per setting on 2 CPU cores
    python tools/probes/update_probe.py --settings plain anchor --updates 3 --model tiny-random-llama   # plumbing check
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from etpo.env import VectorDataScienceEnv
from etpo.losses import masked_mean
from etpo.models import Agent, load_model
from etpo.rollout import Rollout, SamplingConfig, collect, score_rollout
from etpo.trainer import ETPOConfig, ETPOTrainer
from etpo.utils import atomic_write
from etpo.records import adapter_state, load_adapter_state

# name: overrides of the main job's preset without stabilisers (β = 0.01, the paper's)
BASE = dict(support_k=None, anchor_coef=0.0, cql_alpha=0.0, trust_region_eta=1.0)
SETTINGS = {
    "base": {},    # no update: the base model's own samples under the same random numbers
    "plain": {},
    "support": dict(support_k=50),
    "anchor": dict(support_k=50, anchor_coef=1.0),
    "anchor-V": dict(support_k=50, anchor_coef=1.0, anchor_to="soft_value"),
    "cql": dict(support_k=50, cql_alpha=1.0),
    "trust": dict(support_k=50, trust_region_eta=0.1, update_epochs=2),
    "beta0.1": dict(beta=0.1),
}


def fixed_batch(agent, tok, venv, sampling, tries=4) -> Rollout:
    "One rollout from the base policy with at least one success and one failure, if `tries` allow."
    for _ in range(tries):
        obs, _ = venv.reset()
        r, _, _ = collect(agent, tok, venv, obs, sampling)
        if (r.rewards > -1).any() and (r.rewards == -1).any(): break
    return r


def base_programs(agent, tok, venv, sampling, n) -> Rollout:
    "`n` programs from the base policy (the adapters are still untrained), scored by the environment."
    rs = []
    while sum(map(len, rs)) < n:
        obs, _ = venv.reset()
        rs.append(collect(agent, tok, venv, obs, sampling)[0])
    return Rollout.cat(rs, tok.pad_token_id)


def logp_shift(agent, h, pad_id) -> dict:
    "Mean over tokens of log π − log ρ on the held-out programs `h`, for the successes and the failures."
    score_rollout(agent, h, 0.01, pad_id)
    d, ok = (h.logp - h.ref_logp) * h.mask, h.rewards > -1
    per = lambda rows: float(d[rows].sum() / h.mask[rows].sum().clamp(min=1))
    return dict(dlogp_success=per(ok), dlogp_failure=per(~ok))


def probe(agent, tok, venv, r, h, init, name, overrides, updates, n_eval, sampling, seed):
    load_adapter_state(agent, init)
    cfg = ETPOConfig.preset("main", **{**BASE, **overrides}, n_envs=len(r), minibatch_size=len(r), seed=seed, sampling=sampling,
                            output_dir=tempfile.mkdtemp(prefix="etpo-probe-"), report_to='none', progress_bar=False)
    tr = ETPOTrainer(cfg, agent, venv, tok)
    rows, t0 = [], time.perf_counter()
    updates = 0 if name == "base" else updates
    for u in range(updates + 1):
        score_rollout(agent, r, cfg.beta, tr.pad_id, cfg.forward_batch_size, support_k=cfg.support_k)
        row = dict(setting=name, update=u, kl=float(masked_mean(r.kl, r.mask)), entropy=float(masked_mean(r.entropy, r.mask)))
        if u < updates: row |= tr.update(r)   # the diagnostics describe the critic before this update's step
        rows.append(row)
    shift = logp_shift(agent, h, tr.pad_id)
    torch.manual_seed(seed)
    rewards = []
    while len(rewards) < n_eval:
        obs, _ = venv.reset()
        rewards += collect(agent, tok, venv, obs, sampling)[0].rewards.tolist()
    rewards = rewards[:n_eval]
    return rows, dict(setting=name, **shift, eval_reward=float(np.mean(rewards)), eval_success=float(np.mean(np.array(rewards) > -1)),
                      n_eval=len(rewards), seconds=time.perf_counter() - t0, rewards=rewards)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--settings", nargs="+", default=["base", "plain", "support", "anchor", "anchor-V", "cql", "beta0.1"], choices=list(SETTINGS))
    ap.add_argument("--batch", type=int, default=4, help="transitions in the fixed batch")
    ap.add_argument("--updates", type=int, default=5)
    ap.add_argument("--eval", type=int, default=8, help="programs sampled from each updated policy")
    ap.add_argument("--heldout", type=int, default=8, help="base-model programs whose log-probability change is measured")
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/probe")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    llm, tok, spec = load_model(args.model)
    agent = Agent(llm, critic_form="residual")
    venv = VectorDataScienceEnv.make("tic_tac_toe", n=args.batch, prompt_style="compact", max_steps=1, timeout=60)
    sampling = SamplingConfig(max_new_tokens=args.max_new_tokens)
    r = fixed_batch(agent, tok, venv, sampling)
    h = base_programs(agent, tok, venv, sampling, args.heldout)
    print(f"fixed batch: rewards {[round(x, 3) for x in r.rewards.tolist()]}; held-out programs: {int((h.rewards > -1).sum())} of {len(h)} succeed")
    init = adapter_state(agent)
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    all_rows, evals = [], []
    for name in args.settings:
        rows, ev = probe(agent, tok, venv, r, h, init, name, SETTINGS[name], args.updates, args.eval, sampling, args.seed)
        all_rows += rows; evals.append(ev)
        print(f"{name}: eval reward {ev['eval_reward']:.3f}, success {ev['eval_success']:.2f} ({ev['seconds']:.0f} s)", flush=True)
        atomic_write(out / "probe.json", lambda f: json.dump(dict(batch_rewards=r.rewards.tolist(), batch_texts=r.texts, heldout_rewards=h.rewards.tolist(),
                                                                   rows=all_rows, evals=evals), f, indent=1))
    venv.close()
    df = pd.DataFrame(all_rows)
    last = df.groupby("setting").last()[["kl", "entropy"]]
    first = df[df["update"] == 0].set_index("setting")
    diag = ["q_gap", "kl_target", "target_entropy", "drift_untaken", "drift_taken"]
    worst = df.dropna(subset=["q_gap"]).groupby("setting").last()[diag] if "q_gap" in df else pd.DataFrame(columns=diag)
    table = pd.concat([first[["entropy"]].rename(columns={"entropy": "entropy before"}), last.rename(columns={"kl": "KL after", "entropy": "entropy after"}),
                       worst, pd.DataFrame(evals).set_index("setting")[["dlogp_success", "dlogp_failure", "eval_reward", "eval_success"]]], axis=1).loc[args.settings]
    print(f"\nfixed batch reward {float(r.rewards.mean()):.3f}; diagnostics at the last update, KL and entropy after it")
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()
