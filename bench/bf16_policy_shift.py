"""How much of a trained LoRA policy's departure from the reference survives each bf16 pass, against float32.

A trained adapter moves the policy π away from the reference ρ by a small amount (KL(π‖ρ) of about 0.03 nats per
token after the CPU study's 48 transitions in float32). In bf16 a weight or an activation keeps 8 significant bits, so a change
much smaller than its last bit is rounded away. This loads one exported policy (`output_dir/policy`) into a float32
agent and a bf16 agent, scores the same first tries (its `evaluation.json` programs after their prompt) and prints,
per pass, the mean KL to ρ over the action tokens and the share of float32's per-token shift
log π(w) − log ρ(w) that the pass reproduces (the least-squares slope of its shift on float32's; 1 = all of it).

Passes: float32 unfolded (the truth); bf16 folded (`fold_adapters`: W + s·B·A rounded to bf16, as generation and
scoring run by default); bf16 unfolded under autocast (as the update's trained passes run).

    python bench/bf16_policy_shift.py runs/prereg_bf16/etpo_s8            # a run folder holding policy/ and evaluation.json
    python bench/bf16_policy_shift.py RUN --rows 16 --scale 10           # the adapter's B scaled by 10 (a larger update)
"""
import argparse
import json
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="a run's output_dir (policy/ and evaluation.json)")
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--dataset", default="tic_tac_toe")
    ap.add_argument("--rows", type=int, default=8, help="first tries scored (from evaluation.json)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the policy's lora_B by this (a larger update)")
    a = ap.parse_args()
    from etpo.data import load_dataset
    from etpo.env import make_prompt
    from etpo.export import load_policy
    from etpo.models import Agent, load_model
    ev = json.loads((Path(a.run) / "evaluation.json").read_text())
    rows = [r for k, v in ev.items() if k != "base" for r in v][: a.rows]
    prompt = make_prompt(load_dataset(a.dataset), "compact")
    out = {}
    for prec in ("fp32", "bf16"):
        model, tok, _ = load_model(a.model, device="cpu", precision=prec)
        agent = Agent(model, critic_form="residual").eval()
        load_policy(agent, Path(a.run) / "policy")
        if a.scale != 1.0:
            with torch.no_grad():
                for n, p in agent.model.named_parameters():
                    if "lora_B.policy" in n: p.mul_(a.scale)
        p_ids = tok(prompt, return_tensors="pt").input_ids[0]
        seqs = [(p_ids, tok(r["action"], return_tensors="pt", add_special_tokens=False).input_ids[0]) for r in rows]
        passes = {"fp32": [("policy", False)], "bf16": [("policy", True), ("policy", False)]}[prec] + [("reference", False)]
        for role, fold in passes:
            agent.fold_adapters = fold
            lps = []
            with torch.no_grad(), (agent.hold_folded(role) if fold else nullcontext()):   # one fold for every row, as the trainer's rollout
                for p, t in seqs:
                    ids = torch.cat([p, t])[None]
                    lg = agent.action_logits(role, ids, torch.ones_like(ids), len(t)).float()[0]
                    lps.append(F.log_softmax(lg, -1))
            name = f"{prec} {'reference' if role == 'reference' else ('folded' if fold else 'unfolded' + (' (autocast)' if prec == 'bf16' else ''))}"
            out[name] = (lps, [t for _, t in seqs])
        del agent, model
    def token_kl(lp, lr): return torch.cat([(l.exp() * (l - r)).sum(-1) for l, r in zip(lp, lr)]).mean().item()
    def shift(pol, ref):
        lp, toks = out[pol]; lr, _ = out[ref]
        d = torch.cat([l.gather(-1, t[:, None])[:, 0] - r.gather(-1, t[:, None])[:, 0] for l, r, t in zip(lp, lr, toks)])
        return token_kl(lp, lr), d
    _, d32 = shift("fp32 unfolded", "fp32 reference")
    print(f"{a.run}/policy, lora_B x {a.scale:g}: {len(rows)} first tries, {len(d32)} action tokens\n")
    print("| pass | KL(π ‖ ρ) per token, same precision's ρ | share of float32's shift log π − log ρ reproduced | correlation with float32's shift |")
    print("|---|---|---|---|")
    for pol, ref in [("fp32 unfolded", "fp32 reference"), ("bf16 folded", "bf16 reference"), ("bf16 unfolded (autocast)", "bf16 reference")]:
        kl, d = shift(pol, ref)
        slope = (d * d32).sum() / (d32 * d32).sum()
        corr = torch.corrcoef(torch.stack([d, d32]))[0, 1]
        print(f"| {pol} | {kl:.5f} | {slope:.2f} | {corr:.2f} |")
    print(f"\nKL(ρ bf16 ‖ ρ fp32) per token, the rounding of the reference itself: {token_kl(out['bf16 reference'][0], out['fp32 reference'][0]):.5f}")


if __name__ == "__main__":
    main()
