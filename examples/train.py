"""Train ETPO or the PPO-KL baseline from the command line, with every knob of the config: the experiment runner.

    python examples/train.py --model tiny-random-llama --iterations 2
    python examples/train.py --prompt-style compact --max-new-tokens 48 --support-k 50 --time-budget 900 --eval-samples 64
    accelerate launch --multi_gpu --num_processes 4 examples/train.py --model codellama-7b --dataset kidney_stone --n-envs 8
    torchrun --standalone --nproc_per_node 2 examples/train.py --model tiny-random-llama --iterations 2   # 2 CPU processes

Every field of `ETPOConfig` (and `PPOConfig` with `--algorithm ppo`) is an option (`--beta`, `--support-k`, ...);
unset ones keep the preset's value (`--preset`: the main job's defaults, or the paper's). `--eval-samples N` samples
N first tries from the base model and from the trained policy at the end and writes `evaluation.json`, as the
training notebook does; `tools/plot_results.py` turns run folders into tables and curves.
"""
import argparse
import dataclasses
import json
from pathlib import Path

import torch

from etpo.env import PROMPT_STYLES, VectorDataScienceEnv
from etpo.sandbox import Limits
from etpo.models import load_model
from etpo.ppo import PPOConfig, PPOTrainer
from etpo.rollout import SamplingConfig
from etpo.trainer import ETPOConfig, ETPOTrainer, evaluate
from etpo.utils import atomic_write

_TYPES = {'int': int, 'float': float, 'str': str, 'int | None': int, 'float | None': float, 'str | None': str}


def _bool(s: str) -> bool:
    if s.lower() in ('1', 'true', 'yes'): return True
    if s.lower() in ('0', 'false', 'no'): return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {s!r}")


def config_options(ap: argparse.ArgumentParser, *classes):
    "One option per scalar field of the config dataclasses (default None: the preset decides)."
    seen = set()
    for cls in classes:
        for f in dataclasses.fields(cls):
            if f.name in seen or f.name in ('sampling', 'output_dir', 'time_budget_s'): continue
            kind = _bool if f.type == 'bool' else _TYPES.get(str(f.type).replace('|', ' | ').replace('  ', ' '))
            if kind is None: continue
            seen.add(f.name)
            ap.add_argument('--' + f.name.replace('_', '-'), type=kind, default=None, help=f"{cls.__name__}.{f.name}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--dataset", default="tic_tac_toe")
    ap.add_argument("--data-dir", default=None, help="folder with the Kaggle CSVs")
    ap.add_argument("--algorithm", choices=["etpo", "ppo"], default="etpo")
    ap.add_argument("--preset", choices=list(ETPOConfig.PRESETS), default="main", help="main: the config defaults; paper: the paper's settings")
    ap.add_argument("--prompt-style", choices=PROMPT_STYLES, default=None, help="default: the model's (compact: short prompts, for CPU runs)")
    ap.add_argument("--max-steps", type=int, default=5, help="attempts per episode (the paper: 5)")
    ap.add_argument("--max-new-tokens", type=int, default=192)
    ap.add_argument("--sample-from-policy", action="store_true", help="sample from π itself instead of top-k 50 / temperature 0.5")
    ap.add_argument("--generation-batch-size", type=int, default=None, help="prompts per generate call (GPU memory); default: all environments")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per program in the sandbox")
    ap.add_argument("--no-isolate", action="store_true", help="waive the sandbox's isolation (programs can then read the labels, your files and the network)")
    ap.add_argument("--time-budget", type=float, default=None, help="seconds of training; the iteration in progress finishes")
    ap.add_argument("--eval-samples", type=int, default=0, help="first tries of the base model and the trained policy, at the end")
    ap.add_argument("--output-dir", default="runs/script")
    ap.add_argument("--dump-weights", default=None, help="folder: each process saves its adapter weights there (to check DDP sync)")
    config_options(ap, ETPOConfig, PPOConfig)
    args = ap.parse_args()

    cfg_cls, trainer_cls = (PPOConfig, PPOTrainer) if args.algorithm == "ppo" else (ETPOConfig, ETPOTrainer)
    names = {f.name for f in dataclasses.fields(cfg_cls)}
    other = {f.name for c in (ETPOConfig, PPOConfig) for f in dataclasses.fields(c)} - names
    if given := sorted(k for k in other if getattr(args, k, None) is not None):
        ap.error(f"{', '.join('--' + k.replace('_', '-') for k in given)}: not a {cfg_cls.__name__} option (the other algorithm's)")
    sampling = SamplingConfig(max_new_tokens=args.max_new_tokens, sample_from_policy=args.sample_from_policy,
                              generation_batch_size=args.generation_batch_size)
    overrides = {k: v for k, v in vars(args).items() if k in names and k != 'output_dir' and v is not None}
    cfg = cfg_cls.preset(args.preset, sampling=sampling, output_dir=args.output_dir, time_budget_s=args.time_budget, **overrides)
    model, tok, spec = load_model(args.model, precision=cfg.precision)
    venv = VectorDataScienceEnv.make(args.dataset, n=cfg.n_envs, prompt_style=args.prompt_style or spec.prompt_style,
                                     max_steps=args.max_steps, timeout=args.timeout, data_dir=args.data_dir,
                                     limits=Limits(isolate=not args.no_isolate))
    trainer = trainer_cls(cfg, model, venv, tok)
    if trainer.is_main: atomic_write(Path(args.output_dir) / "config.json", lambda f: json.dump(dataclasses.asdict(cfg), f, indent=1))
    rows = trainer.train()
    if args.dump_weights:
        Path(args.dump_weights).mkdir(parents=True, exist_ok=True)
        torch.save(trainer.agent.adapter_state(), Path(args.dump_weights) / f"rank{trainer.accelerator.process_index}.pt")
    if trainer.is_main and rows: print(f"last iteration: {rows[-1]}")
    if args.eval_samples and trainer.is_main:
        ev = {role_name: evaluate(trainer.agent, tok, venv, args.eval_samples, role=role, sampling=sampling)
              for role_name, role in (("base", "reference"), (args.algorithm, "policy"))}
        atomic_write(Path(args.output_dir) / "evaluation.json", lambda f: json.dump(ev, f, indent=1))
        for k, es in ev.items():
            rw = [e["reward"] for e in es]
            print(f"first tries, {k}: mean reward {sum(rw) / len(rw):.3f}, success {sum(x > -1 for x in rw) / len(rw):.2f} (n = {len(rw)})")
    venv.close()


if __name__ == "__main__":
    main()
