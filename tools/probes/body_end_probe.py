"""How many first tries did the compact prompt's old body handling fail that the fixed one runs? The same sampled actions
scored both ways.

Until the fix, `DataScienceEnv.step` turned a compact-prompt action into a body by dedenting it whole, so the
characters that end the sampler's stop (the first characters of the line after the body: `print`, a fence, `if`)
stayed in the program, and a correct body whose next line was not a comment failed with an IndentationError. Now
compact actions go through `extract_body`, as completion actions always did. This probe samples first tries from the
base model with the CPU study's settings (compact tic-tac-toe prompt, 48 new tokens, temperature 0.5, top-k 50, one
attempt) and scores each action both ways in the same sandbox, on the same splits: a paired count.

    python tools/probes/body_end_probe.py              # 32 first tries of Qwen2.5-Coder-0.5B (about 7 minutes on 2 cores, fp32)
    python tools/probes/body_end_probe.py --n 64 --seed 1
    python tools/probes/body_end_probe.py --rescore runs/x/evaluation.json   # a run's evaluated first tries instead (their `action`s)
"""
import argparse
import json
import textwrap

import numpy as np
import torch

from etpo.env import DataScienceEnv, program_from_body, score_program
from etpo.models import Agent, load_model
from etpo.rollout import SamplingConfig, generate


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--dataset", default="tic_tac_toe")
    ap.add_argument("--n", type=int, default=32, help="first tries sampled (in batches of 8)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write every action and its two scores here")
    ap.add_argument("--rescore", default=None, help="an evaluation.json (Run.evaluate): score its evaluated actions both ways instead of sampling")
    ap.add_argument("--key", default=None, help="with --rescore: the evaluation's entry (default: every entry but 'base')")
    a = ap.parse_args()
    env = DataScienceEnv(a.dataset, prompt_style="compact", max_steps=1, timeout=60)
    prompt, _ = env.reset(seed=a.seed)
    if a.rescore:
        ev = json.load(open(a.rescore))
        texts = [e["action"] for k, es in ev.items() if (k == a.key if a.key else k != "base") for e in es]
        what = f"{len(texts)} evaluated first tries in {a.rescore}"
    else:
        torch.manual_seed(a.seed)
        llm, tok, _ = load_model(a.model, device="cpu")
        agent, sampling, texts = Agent(llm, mode="lora"), SamplingConfig(max_new_tokens=48, temperature=0.5, top_k=50), []
        while len(texts) < a.n: texts += generate(agent, tok, [prompt] * 8, sampling, role="reference")[1]
        texts, what = texts[:a.n], f"{a.n} first tries of {a.model} (base model), compact {a.dataset} prompt, seed {a.seed}"
    rows = []
    for t in texts:
        env.reset(); _, new, _, _, info = env.step(t)                       # today's env: extract_body
        old = score_program(program_from_body(textwrap.dedent(t).strip("\n"), "compact"), env.dataset, env.splits, env.limits, env.cache)
        rows.append(dict(action=t, old_reward=float(old.reward), old_error=old.error_type if old.error is not None else None,
                         new_reward=float(new), new_error=info["error"]))
    old, new = np.array([r["old_reward"] for r in rows]), np.array([r["new_reward"] for r in rows])
    rescued = sum(r["old_error"] is not None and r["new_error"] is None for r in rows)
    lost = sum(r["old_error"] is None and r["new_error"] is not None for r in rows)
    print(f"{what}:")
    print(f"  old body handling: mean reward {old.mean():+.3f}, programs that run {np.mean(old > -1):.0%}")
    print(f"  extract_body:      mean reward {new.mean():+.3f}, programs that run {np.mean(new > -1):.0%}")
    print(f"  failed before and run now: {rescued}; ran before and fail now: {lost}")
    errs = {}
    for r in rows:
        if r["old_error"] is not None and r["new_error"] is None: errs[r["old_error"]] = errs.get(r["old_error"], 0) + 1
    print(f"  the rescued ones' old errors: {errs}")
    if a.json:
        with open(a.json, "w") as f: json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
