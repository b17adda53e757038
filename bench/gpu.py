"""GPU benchmark: a random-init Llama with CodeLlama-7B's exact config in LoRA mode, one ETPO update and one rollout.

Prints peak GPU memory (goal <= 40 GB on one H100), rollout and update tokens/s, the bf16 matrix-multiply rate
measured in the same run (the ceiling), and the update's model FLOP utilisation (MFU) against it.

    python bench/gpu.py --json gpu.json            # needs a GPU; batch 8, prompt 512 + action 256 tokens
    python bench/gpu.py --tiny                     # CPU smoke run of the same code on a 2-layer model

FLOPs are counted as 2 x (non-embedding parameters) per token and forward pass, the LM head only over the action
positions whose logits are used; with LoRA a backward pass computes activation gradients only (about one forward),
and gradient checkpointing adds one forward per trained pass. One update = reference forward + critic forward and
backward + policy forward and backward.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench import fake_rollout  # noqa: E402
from etpo.models import codellama_7b_config, tiny_tokenizer  # noqa: E402
from etpo.rollout import score_rollout  # noqa: E402
from etpo.env import TargetTokensEnv  # noqa: E402
from etpo.trainer import ETPOConfig, ETPOTrainer  # noqa: E402


def sync(device):
    if device.type == "cuda": torch.cuda.synchronize()


def timed(fn, device, repeats):
    "Best wall time of `repeats` calls after one warm-up call, in seconds."
    fn(); sync(device)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter(); fn(); sync(device); best = min(best, time.perf_counter() - t0)
    return best


def matmul_rate(device, dtype):
    "Dense matrix-multiply rate in FLOP/s (n x n by n x n), the ceiling for MFU."
    n = 8192 if device.type == "cuda" else 1024
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    return 2 * n**3 / timed(lambda: a @ b, device, 5)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--prompt", type=int, default=512, help="prompt tokens")
    ap.add_argument("--action", type=int, default=256, help="action tokens")
    ap.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--tiny", action="store_true", help="a 2-layer, 64-wide Llama on the CPU: checks the script, measures nothing useful")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    from transformers import LlamaConfig, LlamaForCausalLM
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type != "cuda" and not args.tiny:
        sys.exit("bench/gpu.py needs a CUDA GPU (CodeLlama-7B's config in bf16 is 13.5 GB of weights); use --tiny to check it on a CPU")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    tok = tiny_tokenizer()
    if args.tiny:
        cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                          num_key_value_heads=2, max_position_embeddings=4096, tie_word_embeddings=False)
    else:
        cfg = codellama_7b_config()
    cfg.pad_token_id, cfg.eos_token_id, cfg.bos_token_id = tok.pad_token_id, tok.eos_token_id, None
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    with torch.device(device): model = LlamaForCausalLM(cfg)   # random init, directly on the device in its dtype
    torch.set_default_dtype(default)
    B, P, T = args.batch, args.prompt, args.action
    tr = ETPOTrainer(ETPOConfig(output_dir=tempfile.mkdtemp(prefix="etpo-gpu-"), tensorboard=False, progress_bar=False, optimizer="adamw",
                                minibatch_size=B, critic_form="residual", td_lambda=1.0, support_k=None, cql_alpha=0.0, gradient_checkpointing=args.gradient_checkpointing),
                     model, TargetTokensEnv(tok, [1], n_envs=B), tok)
    a = tr.agent
    r = fake_rollout(B, P, T, cfg.vocab_size, tr.pad_id)
    r.q_taken = torch.zeros(B, T)
    if device.type == "cuda": torch.cuda.reset_peak_memory_stats()

    prompts = torch.randint(3, cfg.vocab_size, (B, P), device=device)
    def generate():
        with torch.no_grad(), a.as_role("policy") as m:
            m.generate(input_ids=prompts, attention_mask=torch.ones_like(prompts), do_sample=True, top_k=50, temperature=0.5,
                       max_new_tokens=T, min_new_tokens=T, pad_token_id=tr.pad_id)
    t_gen = timed(generate, device, args.repeats)
    t_score = timed(lambda: score_rollout(a, r, tr.config.beta, tr.pad_id, batch_size=B), device, args.repeats)
    t_upd = timed(lambda: tr.update(r), device, args.repeats)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")

    n_body = sum(p.numel() for n, p in model.named_parameters() if "embed_tokens" not in n and "lm_head" not in n and "lora" not in n)
    n_head = cfg.vocab_size * cfg.hidden_size
    fwd = 2 * (n_body * B * (P + T) + n_head * B * (T + 1))                 # FLOPs of one forward pass
    passes = 1 + 2 * (2 + (1 if args.gradient_checkpointing else 0))    # reference + (critic, policy) x (fwd + bwd [+ recompute])
    rate = matmul_rate(device, dtype)
    fig = dict(device=torch.cuda.get_device_name() if device.type == "cuda" else "cpu", model="tiny" if args.tiny else "codellama-7b config, random init",
               batch=B, prompt=P, action=T, gradient_checkpointing=args.gradient_checkpointing, peak_memory_gib=peak,
               generate_tokens_per_s=B * T / t_gen, rollout_tokens_per_s=B * T / (t_gen + t_score), update_tokens_per_s=B * T / t_upd,
               update_seconds=t_upd, matmul_tflops=rate / 1e12, update_mfu=passes * fwd / t_upd / rate)
    print(f"ETPO on {fig['device']}, {fig['model']}, LoRA, B={B}, prompt {P} + action {T}, gradient checkpointing {args.gradient_checkpointing}\n")
    print("| figure | value | goal / ceiling |")
    print("|---|---|---|")
    print(f"| peak GPU memory, GiB | {peak:.1f} | <= 40 GB (reference design: about 108 GB before activations) |")
    print(f"| generation, action tokens/s | {fig['generate_tokens_per_s']:.0f} | |")
    print(f"| rollout (generation + scoring forwards), action tokens/s | {fig['rollout_tokens_per_s']:.0f} | |")
    print(f"| update, action tokens/s ({t_upd:.2f} s per update) | {fig['update_tokens_per_s']:.0f} | |")
    print(f"| update MFU | {fig['update_mfu']:.1%} | of the measured {fig['matmul_tflops']:.3g} TFLOP/s dense {str(dtype)[6:]} matmul |")
    if args.json: Path(args.json).write_text(json.dumps(fig, indent=1))


if __name__ == "__main__":
    main()
