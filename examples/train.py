"""Train ETPO or the PPO-KL baseline from the command line: one process, or several under `accelerate launch` (DDP).

    python examples/train.py --model tiny-random-llama --iterations 2
    accelerate launch --multi_gpu --num_processes 4 examples/train.py --model codellama-7b --dataset kidney_stone --n-envs 8
    torchrun --standalone --nproc_per_node 2 examples/train.py --model tiny-random-llama --iterations 2   # 2 CPU processes

The notebook `nbs/train.ipynb` is the main job with plots; this script is the same run without them.
"""
import argparse
from pathlib import Path

import torch

from etpo.env import VectorDataScienceEnv
from etpo.models import load_model
from etpo.ppo import PPOConfig, PPOTrainer
from etpo.rollout import SamplingConfig
from etpo.trainer import ETPOConfig, ETPOTrainer


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--dataset", default="tic_tac_toe")
    ap.add_argument("--algorithm", choices=["etpo", "ppo"], default="etpo")
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--n-envs", type=int, default=4, help="environments per process")
    ap.add_argument("--max-new-tokens", type=int, default=192)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per program in the sandbox")
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output-dir", default="runs/script")
    ap.add_argument("--dump-weights", default=None, help="folder: each process saves its adapter weights there (to check DDP sync)")
    args = ap.parse_args()
    model, tok, spec = load_model(args.model)
    venv = VectorDataScienceEnv.make(args.dataset, n=args.n_envs, prompt_style=spec.prompt_style, timeout=args.timeout)
    cfg_cls, trainer_cls = (PPOConfig, PPOTrainer) if args.algorithm == "ppo" else (ETPOConfig, ETPOTrainer)
    cfg = cfg_cls(iterations=args.iterations, n_envs=args.n_envs, lr=args.lr, seed=args.seed, output_dir=args.output_dir,
                  minibatch_size=4, sampling=SamplingConfig(max_new_tokens=args.max_new_tokens))
    trainer = trainer_cls(cfg, model, venv, tok)
    rows = trainer.train()
    if args.dump_weights:
        Path(args.dump_weights).mkdir(parents=True, exist_ok=True)
        torch.save(trainer.agent.adapter_state(), Path(args.dump_weights) / f"rank{trainer.accelerator.process_index}.pt")
    if trainer.is_main and rows: print(f"last iteration: {rows[-1]}")
    venv.close()


if __name__ == "__main__":
    main()
