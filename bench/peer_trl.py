"""Peer benchmark: one etpo PPO-KL iteration against one iteration of TRL's PPOTrainer, same model, batch and tokens, CPU.

TRL removed `PPOTrainer` in 1.13 (huggingface/trl#7020); 1.12.0 is the last release with `trl.experimental.ppo`
and it runs on transformers 5. Install it beside etpo, ideally in a venv of its own:

    python -m venv --system-site-packages /tmp/trlenv && /tmp/trlenv/bin/pip install "trl==1.12.0"
    /tmp/trlenv/bin/python bench/peer_trl.py --json peer.json

Both sides: a random-init Llama (full fine-tuning, four copies: policy, reference, value, plus etpo's unused target
critic or TRL's reward model), B prompts per iteration, exactly T sampled tokens each (temperature 1, no top-k, no
stop token), one PPO epoch over one minibatch of B. TRL scores with a reward model; to compare the algorithms and not
the reward, its reward model is a 1-layer, 64-wide classifier (negligible cost), and etpo's environment is the
synthetic `TargetTokensEnv`. Times are medians over the iterations after the first (warm-up), measured in one run.
"""
import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")


def _model(cfg, cls, seed):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return cls(cfg)


def run_trl(cfg, tok, prompt_ids, B, T, iterations, tmp):
    "Seconds per TRL PPO iteration (list, one per iteration)."
    try:
        from datasets import Dataset
        from transformers import LlamaConfig, LlamaForSequenceClassification, TrainerCallback
        from trl.experimental.ppo import PPOConfig, PPOTrainer
    except ImportError as e:
        sys.exit(f"TRL's PPOTrainer is not importable ({e}). It exists up to trl 1.12.0: pip install 'trl==1.12.0' "
                 "(a venv of its own keeps the main environment on the current trl).")
    from transformers import LlamaForCausalLM
    policy = _model(cfg, LlamaForCausalLM, 0)
    ref = copy.deepcopy(policy)
    value = _model(LlamaConfig(**{**cfg.to_dict(), "num_labels": 1}), LlamaForSequenceClassification, 1)
    small = LlamaConfig(**{**cfg.to_dict(), "num_labels": 1, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
                           "num_attention_heads": 4, "num_key_value_heads": 2})
    reward = _model(small, LlamaForSequenceClassification, 2)
    for m in (value, reward): m.config.pad_token_id = tok.pad_token_id
    ds = Dataset.from_dict({"input_ids": [prompt_ids] * (B * (iterations + 1))})
    args = PPOConfig(output_dir=str(tmp), per_device_train_batch_size=B, gradient_accumulation_steps=1, num_mini_batches=1,
                     num_ppo_epochs=1, total_episodes=B * iterations, response_length=T, stop_token=None, temperature=1.0,
                     learning_rate=1e-5, local_rollout_forward_batch_size=B, num_sample_generations=0, report_to=[],
                     save_strategy="no", use_cpu=True, bf16=False, fp16=False, logging_steps=1, missing_eos_penalty=None,
                     seed=0, disable_tqdm=True)

    stamps = []
    class Stamp(TrainerCallback):
        def on_train_begin(self, *a, **k): stamps.append(time.perf_counter())
        def on_step_end(self, *a, **k): stamps.append(time.perf_counter())

    trainer = PPOTrainer(args=args, processing_class=tok, model=policy, ref_model=ref, reward_model=reward, train_dataset=ds,
                         value_model=value, callbacks=[Stamp()])
    trainer.train()
    return [b - a for a, b in zip(stamps, stamps[1:])]


def run_etpo(model, tok, prompt, B, T, iterations, tmp):
    "(seconds per etpo PPO-KL iteration, mean action tokens)."
    from etpo.ppo import PPOConfig, PPOTrainer
    from etpo.rollout import SamplingConfig
    from etpo.env import TargetTokensEnv
    env = TargetTokensEnv(tok, list(range(100, 164)), n_envs=B, prompt=prompt)
    cfg = PPOConfig(mode="full", iterations=iterations, n_envs=B, env_steps_per_update=1, minibatch_size=B, update_epochs=1,
                    optimizer="adamw", lr=1e-5, output_dir=str(tmp), report_to='none', progress_bar=False, seed=0,
                    sampling=SamplingConfig(max_new_tokens=T, sample_from_policy=True, stop_at_body_end=False))
    rows = PPOTrainer(cfg, model, env, tok).train()
    return [r["seconds"] for r in rows], statistics.mean(r["action_tokens"] for r in rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8, help="prompts per iteration (B)")
    ap.add_argument("--tokens", type=int, default=64, help="sampled tokens per prompt (T)")
    ap.add_argument("--hidden", type=int, default=256, help="width of the random-init Llama")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--iterations", type=int, default=4, help="iterations per trainer (the first is warm-up)")
    ap.add_argument("--json", default=None, help="write the figures to this JSON file")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count())
    from transformers import LlamaConfig, LlamaForCausalLM
    from etpo.models import tiny_tokenizer
    tok = tiny_tokenizer()
    tok.padding_side = "left"
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=args.hidden, intermediate_size=args.hidden * 11 // 4, num_hidden_layers=args.layers,
                      num_attention_heads=8, num_key_value_heads=8, max_position_embeddings=4096, bos_token_id=None,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, tie_word_embeddings=False)
    prompt = "def build_model(x_train, y_train):\n"
    prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    tmp = Path(tempfile.mkdtemp(prefix="etpo-peer-"))
    ours, ours_tokens = run_etpo(_model(cfg, LlamaForCausalLM, 0), tok, prompt, args.batch, args.tokens, args.iterations, tmp / "etpo")
    trl = run_trl(cfg, tok, prompt_ids, args.batch, args.tokens, args.iterations, tmp / "trl")
    import trl as trl_pkg
    t_ours, t_trl = statistics.median(ours[1:]), statistics.median(trl[1:])
    # etpo's actions end at a sampled eos (TRL's run the full T), so the ratio is also given per action token
    per_tok = (t_trl / args.tokens) / (t_ours / ours_tokens)
    fig = dict(etpo_ppo_seconds_per_iteration=t_ours, trl_ppo_seconds_per_iteration=t_trl, trl_over_etpo=t_trl / t_ours,
               trl_over_etpo_per_token=per_tok,
               etpo_action_tokens=ours_tokens, batch=args.batch, tokens=args.tokens, trl_version=trl_pkg.__version__,
               model=f"random Llama, hidden {args.hidden}, {args.layers} layers, vocab {len(tok)}")
    print(f"PPO iteration, {fig['model']}, B={args.batch}, T={args.tokens}, CPU {os.cpu_count()} cores, "
          f"torch {torch.__version__}, trl {trl_pkg.__version__}\n")
    print("| trainer | seconds per iteration (median) | tokens per action | ms per action token |")
    print("|---|---|---|---|")
    print(f"| etpo PPOTrainer | {t_ours:.3f} | {ours_tokens:.1f} | {1e3 * t_ours / (args.batch * ours_tokens):.2f} |")
    print(f"| TRL PPOTrainer | {t_trl:.3f} | {args.tokens} | {1e3 * t_trl / (args.batch * args.tokens):.2f} |")
    print(f"\nTRL / etpo: {t_trl / t_ours:.2f} per iteration, {per_tok:.2f} per action token")
    if args.json: Path(args.json).write_text(json.dumps(fig, indent=1))


if __name__ == "__main__":
    main()
