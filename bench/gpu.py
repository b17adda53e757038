"""GPU benchmark: a random-init Llama with CodeLlama-7B's exact config in LoRA mode: rollout and update, previous path
against the fast paths, in one run, at batch 8 and 32.

For each batch size it times, after a warm-up, `etpo.rollout.generate`, `score_rollout` and one ETPO update twice:
with the previous path (adapters applied as LoRA products, every row computing its whole prompt) and with the fast
paths (`Agent.folded` for generation and scoring, the rows' shared prompt computed once: `split_prefix`). Every
row gets the same prompt, as every environment does at an episode's first step. It prints peak GPU memory,
tokens/s of each phase and their ratios, generation's floor (reading every weight once per decoding step at the
measured copy bandwidth), the bf16 matrix-multiply rate measured in the same run (the ceiling), and the update's
model FLOP utilisation (MFU) against it.

    python bench/gpu.py --json gpu.json            # needs a GPU; batch 8 and 32, prompt 512 + action 256 tokens
    python bench/gpu.py --tiny                     # CPU smoke run of the same code on a 2-layer model

FLOPs are counted as 2 x (non-embedding parameters) per token and forward pass, the LM head only over the action
positions whose logits are used, and the prompt as many times as the path computes it; with LoRA a backward pass
computes activation gradients only (about one forward), and gradient checkpointing adds one forward per trained
pass. One update = reference forward + critic forward and backward + policy forward and backward.
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
from etpo.rollout import SamplingConfig, generate, score_rollout  # noqa: E402
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


def copy_bandwidth(device):
    "Bytes per second that a 1 GiB (CPU: 256 MiB) tensor copy reads and writes: the rate at which decoding can stream weights."
    n = (1 << 30 if device.type == "cuda" else 1 << 28) // 4
    src, dst = torch.empty(n, device=device), torch.empty(n, device=device)
    return 2 * 4 * n / timed(lambda: dst.copy_(src), device, 5)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", default="8,32", help="batch sizes, comma-separated")
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
    P, T = args.prompt, args.action
    tr = ETPOTrainer(ETPOConfig(output_dir=tempfile.mkdtemp(prefix="etpo-gpu-"), report_to='none', progress_bar=False, optimizer="adamw",
                                minibatch_size=max(int(b) for b in args.batch.split(",")), critic_form="residual", td_lambda=1.0,
                                gradient_checkpointing=args.gradient_checkpointing),
                     model, TargetTokensEnv(tok, [1], n_envs=1), tok)
    a = tr.agent
    with torch.no_grad():                                    # adapters away from the identity, as after training
        for role in ("policy", "critic", "target_critic"):
            for p in a.role_parameters(role, value_head=False): p.normal_(0, 1e-3)
    weight_bytes = sum(p.numel() * p.element_size() for n, p in model.named_parameters() if "lora" not in n and "embed_tokens" not in n)
    bandwidth, rate = copy_bandwidth(device), matmul_rate(device, dtype)
    n_body = sum(p.numel() for n, p in model.named_parameters() if "embed_tokens" not in n and "lm_head" not in n and "lora" not in n)
    n_head = cfg.vocab_size * cfg.hidden_size
    g = torch.Generator().manual_seed(0)
    prompt_ids = torch.randint(3, 500, (P,), generator=g).tolist()
    prompt = tok.decode(prompt_ids)
    figs = []
    for B in (int(b) for b in args.batch.split(",")):
        r = fake_rollout(B, P, T, cfg.vocab_size, tr.pad_id)
        r.prompt_ids = [tok(prompt, add_special_tokens=False)["input_ids"]] * B   # every environment's first prompt
        r.next_prompt_ids = r.prompt_ids
        r.q_taken = torch.zeros(B, T)
        Pt = len(r.prompt_ids[0])
        row = dict(batch=B, prompt=Pt, action=T)
        for path, fast in (("previous", False), ("fast", True)):
            a.fold_adapters = tr.config.sampling.share_prefix = fast
            sampling = SamplingConfig(max_new_tokens=T, stop_at_body_end=False, share_prefix=fast)
            if device.type == "cuda": torch.cuda.reset_peak_memory_stats()
            n_tok = []
            t_gen = timed(lambda: n_tok.append(sum(map(len, generate(a, tok, [prompt] * B, sampling)[0]))), device, args.repeats)
            t_score = timed(lambda: score_rollout(a, r, tr.config.beta, tr.pad_id, batch_size=B, support_k=tr.config.support_k,
                                                  share_prefix=fast), device, args.repeats)
            t_upd = timed(lambda: tr.update(r), device, args.repeats)
            prompt_tokens = (1 if fast else B) * Pt
            fwd = 2 * (n_body * (prompt_tokens + B * T) + n_head * B * (T + 1))            # FLOPs of one forward pass
            passes = 1 + 2 * (2 + (1 if args.gradient_checkpointing else 0))          # reference + (critic, policy) x (fwd + bwd [+ recompute])
            row[path] = dict(generate_tokens_per_s=n_tok[-1] / t_gen, score_tokens_per_s=B * T / t_score, update_tokens_per_s=B * T / t_upd,
                             update_seconds=t_upd, update_mfu=passes * fwd / t_upd / rate,
                             peak_memory_gib=torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan"))
        row["generation_floor_tokens_per_s"] = B / (weight_bytes / bandwidth)
        figs.append(row)
    a.fold_adapters = tr.config.sampling.share_prefix = True
    dev_name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(f"ETPO on {dev_name}, {'tiny' if args.tiny else 'codellama-7b config, random init'}, LoRA, gradient checkpointing "
          f"{args.gradient_checkpointing}; one shared prompt per batch; copy bandwidth {bandwidth / 1e9:.0f} GB/s, dense "
          f"{str(dtype)[6:]} matmul {rate / 1e12:.3g} TFLOP/s\n")
    print("| batch | figure | previous | fast | fast / previous | floor or ceiling |")
    print("|---|---|---|---|---|---|")
    for f in figs:
        o, n = f["previous"], f["fast"]
        lab = f"{f['batch']} (prompt {f['prompt']} + action {f['action']})"
        print(f"| {lab} | generation, action tokens/s | {o['generate_tokens_per_s']:.0f} | {n['generate_tokens_per_s']:.0f} | "
              f"{n['generate_tokens_per_s'] / o['generate_tokens_per_s']:.2f}x | {f['generation_floor_tokens_per_s']:.0f} (weights read once per step) |")
        print(f"| {lab} | scoring, action tokens/s | {o['score_tokens_per_s']:.0f} | {n['score_tokens_per_s']:.0f} | "
              f"{n['score_tokens_per_s'] / o['score_tokens_per_s']:.2f}x | |")
        print(f"| {lab} | update, action tokens/s | {o['update_tokens_per_s']:.0f} | {n['update_tokens_per_s']:.0f} | "
              f"{n['update_tokens_per_s'] / o['update_tokens_per_s']:.2f}x | |")
        print(f"| {lab} | update MFU (prompt counted as computed) | {o['update_mfu']:.1%} | {n['update_mfu']:.1%} | | 100% = the measured matmul rate |")
        print(f"| {lab} | peak GPU memory, GiB | {o['peak_memory_gib']:.1f} | {n['peak_memory_gib']:.1f} | | 80 (H100) |")
    if args.json: Path(args.json).write_text(json.dumps(dict(device=dev_name, copy_bandwidth=bandwidth, matmul_flops=rate, rows=figs), indent=1))


if __name__ == "__main__":
    main()
