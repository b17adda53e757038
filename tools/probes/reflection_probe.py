"""How well does a model repair its own failures? First tries, then one reflection step on each failure.

    python tools/probes/reflection_probe.py                       # Qwen2.5-Coder-0.5B (base) on tic-tac-toe, 16 first tries
    python tools/probes/reflection_probe.py --n 32 --dataset kidney_stone

Samples `--n` first tries from the base model (adapters off, the main job's sampling), runs them in the environment,
then samples one repair from each failure's reflection prompt (its code and error, as the environment shows them) and
prints a table: success rate and mean reward of first tries and of repairs, and the share of repairs that repeat the
failed body verbatim. It explains the per-iteration reward of the README's runs: after the first step most
transitions are reflection attempts.
"""
import argparse

import torch

from etpo.env import VectorDataScienceEnv
from etpo.models import Agent, load_model
from etpo.rollout import SamplingConfig, generate


def norm(body:str) -> str:
    "A body without comments, blank lines and indentation: what runs."
    return "\n".join(l.strip() for l in body.splitlines() if l.strip() and not l.strip().startswith("#"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--dataset", default="tic_tac_toe")
    ap.add_argument("--n", type=int, default=16, help="first tries sampled")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-new-tokens", type=int, default=192, help="as the main job")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per program, as the main job")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    llm, tokenizer, spec = load_model(args.model)
    agent = Agent(llm)
    sampling = SamplingConfig(max_new_tokens=args.max_new_tokens)
    venv = VectorDataScienceEnv.make(args.dataset, n=args.n, workers=2, prompt_style=spec.prompt_style, timeout=args.timeout)
    obs, _ = venv.reset(seed=args.seed)
    _, texts = generate(agent, tokenizer, obs, sampling, role="reference")
    obs, r1, done, _, infos = venv.step(texts)
    failed = [i for i in range(args.n) if not done[i]]
    rows = [("first try", args.n, (r1 > -1).mean(), r1.mean(), None)]
    if failed:
        _, texts2 = generate(agent, tokenizer, [obs[i] for i in failed], sampling, role="reference")
        venv2 = VectorDataScienceEnv([venv.envs[i] for i in failed], workers=2)
        _, r2, _, _, infos2 = venv2.step(texts2)
        same = sum(norm(infos2[k]["body"]) == norm(infos[i]["body"]) for k, i in enumerate(failed))
        rows.append(("repair of a failure (reflection prompt)", len(failed), (r2 > -1).mean(), r2.mean(), same / len(failed)))
        venv2.close()
    venv.close()
    print(f"\n{args.model} (base), {args.dataset}, seed {args.seed}\n")
    print("| attempt | n | success rate | mean reward | repeats the failed body |")
    print("|---|---|---|---|---|")
    for name, n, s, m, c in rows:
        print(f"| {name} | {n} | {s:.2f} | {m:.3f} | {'' if c is None else f'{c:.2f}'} |")


if __name__ == "__main__":
    main()
