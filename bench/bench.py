"""Every etpo benchmark in one markdown table (and `--json PATH` for the figures).

    python bench/bench.py --quick --json r.json    # CPU-sized: tiny-random-llama only, a few minutes
    python bench/bench.py                          # adds Qwen2.5-Coder-0.5B (LoRA, CPU) and full-size loss shapes

1. buffer: bytes the rollout buffer keeps per generated token vs the reference design (3 float32 vocabulary vectors);
2. losses: peak extra memory and time of soft_value / policy_loss vs naive versions (bench/losses.py);
3. update cost: one ETPO update (reference forward, critic fwd+bwd, policy fwd+bwd, target-critic forward) divided by
   one supervised fwd+bwd of the policy on the same tokens (`update_over_sft_ratio`). Counting passes the floor is
   (2 SFT steps + 2 frozen forwards) / SFT step: 8/3 when a backward costs two forwards (full fine-tuning), nearer 3
   with LoRA, whose backward skips the frozen weights' gradients; the table gives that floor from the run's own times;
4. rollout: generated tokens/s (HF generate with KV cache) at batch 1 and 8; env steps/s with 1 and 2 workers.
Ratios are measured side by side in one run; absolute times on these shared 2-core machines are noisy.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from etpo.models import Agent, load_model
from etpo.rollout import Rollout
from etpo.env import TargetTokensEnv
from etpo.trainer import ETPOConfig, ETPOTrainer

VOCAB_CODELLAMA = 32016


def _timed(fn, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter(); fn(); best = min(best, time.perf_counter() - t0)
    return best


def _timed_interleaved(fns, repeats=3):
    "Best time of each function over `repeats` rounds, calling them in turn, so a ratio of two is not skewed by drift in the machine's speed."
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter(); fn(); best[k] = min(best[k], time.perf_counter() - t0)
    return best


def fake_rollout(B, P, T, vocab, pad_id, seed=0):
    "B transitions with random prompt (P) and action (T) tokens, all ending the episode."
    g = torch.Generator().manual_seed(seed)
    prompts = torch.randint(3, vocab, (B, P), generator=g).tolist()
    acts = torch.randint(3, vocab, (B, T), generator=g)
    z = torch.zeros(B, T)
    return Rollout(prompt_ids=prompts, action_ids=acts, mask=torch.ones(B, T, dtype=torch.bool), rewards=torch.rand(B, generator=g),
                   dones=torch.ones(B, dtype=torch.bool), next_prompt_ids=prompts, v=z.clone(), next_v=torch.zeros(B),
                   logp=z.clone(), ref_logp=z.clone(), kl=z.clone(), entropy=z.clone(), q_taken=z.clone())


def buffer_bytes(model_name, tmp):
    "Bytes per token of a real scored rollout (tiny model, synthetic env)."
    model, tok, _ = load_model(model_name, device="cpu")
    env = TargetTokensEnv(tok, list(range(100, 164)), n_envs=4)
    from etpo.rollout import SamplingConfig
    tr = ETPOTrainer(ETPOConfig(output_dir=str(tmp), report_to='none', progress_bar=False, optimizer="adamw", support_k=None, cql_alpha=0.0,
                                sampling=SamplingConfig(max_new_tokens=16, stop_at_body_end=False)), model, env, tok)
    tr.obs, _ = env.reset()
    r, _ = tr.collect()
    return r.per_token_bytes()


def update_ratio(model_name, B, P, T, tmp, repeats):
    "(t_update, t_sft, t_forward, ratio): ETPO update + target forward vs a supervised fwd+bwd of the policy, same tokens; t_forward: one no-grad forward."
    model, tok, _ = load_model(model_name, device="cpu")
    env = TargetTokensEnv(tok, [1], n_envs=B)
    tr = ETPOTrainer(ETPOConfig(output_dir=str(tmp), report_to='none', progress_bar=False, optimizer="adamw", lora_r=16, support_k=None, cql_alpha=0.0, diagnostics=False,
                                minibatch_size=B, update_epochs=1, critic_form="logits"), model, env, tok)
    r = fake_rollout(B, P, T, len(tok), tr.pad_id)
    _, ids, am, acts, m = tr.batch(r, list(range(B)))   # random prompts: no shared prefix
    a = tr.agent

    def etpo():
        tr.update(r)
        with torch.no_grad(): a.q_values("target_critic", ids, am, T + 1)
    def sft():
        a.set_trainable("policy")
        logits = a.logits("policy", ids, am, T + 1)[:, :-1]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), acts.reshape(-1))
        tr.step_optimizer(loss, tr.opt_policy, "policy")
        a.set_trainable(None)
    def fwd():
        with torch.no_grad(): a.logits("policy", ids, am, T + 1)
    etpo(); sft(); fwd()                             # warm-up
    t_u, t_s, t_f = _timed_interleaved([etpo, sft, fwd], repeats)
    return t_u, t_s, t_f, t_u / t_s


def generate_tps(model_name, batch, new_tokens, repeats=2):
    "Generated tokens/s of the policy (HF generate, KV cache) at `batch`, forced to `new_tokens` each."
    model, tok, _ = load_model(model_name, device="cpu")
    agent = Agent(model, lora_r=16)
    tok.padding_side = "left"
    enc = tok(["def build_model(x_train, y_train):\n"] * batch, return_tensors="pt", padding=True)
    def run():
        with torch.no_grad(), agent.as_role("policy") as m:
            m.generate(**enc, do_sample=True, top_k=50, temperature=0.5, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                       pad_token_id=tok.pad_token_id)
    run()
    return batch * new_tokens / _timed(run, repeats)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="CPU-sized: tiny model only, small loss shapes")
    ap.add_argument("--json", default=None, help="write the figures to this JSON file")
    args = ap.parse_args()
    import tempfile
    tmp = Path(tempfile.mkdtemp(prefix="etpo-bench-"))
    import subprocess
    import env_steps

    rows, fig = [], {}
    fig["reference_bytes_per_token"] = 3 * VOCAB_CODELLAMA * 4
    fig["buffer_bytes_per_token"] = buffer_bytes("tiny-random-llama", tmp / "buf")
    rows.append(("rollout buffer, bytes per token", f"{fig['buffer_bytes_per_token']:.0f}", f"{fig['reference_bytes_per_token']:,} (reference design)",
                 f"{fig['reference_bytes_per_token'] / fig['buffer_bytes_per_token']:,.0f}x less"))

    lj = tmp / "losses.json"                      # a process of its own, so imports do not hide the peak
    subprocess.run([sys.executable, str(Path(__file__).parent / "losses.py"), "--json", str(lj), *(["--quick"] if args.quick else [])],
                   check=True, capture_output=True)
    L = json.loads(lj.read_text()); mem = {r["case"]: r for r in L["rows"]}
    for f in ("soft_value", "policy_loss"):
        ours, naive = mem[f"{f} (etpo)"], mem[f"{f} (naive)"]
        fig[f"{f}_extra_tensors"], fig[f"{f}_naive_extra_tensors"] = ours["tensors"], naive["tensors"]
        fig[f"{f}_seconds"], fig[f"{f}_naive_seconds"] = ours["seconds"], naive["seconds"]
        rows.append((f"{f}: peak extra memory in (B,T,V) float32 tensors, B={L['B']} T={L['T']} V={L['V']}", f"{ours['tensors']:.2f}",
                     f"{naive['tensors']:.2f} (naive); goal <= 1 extra", f"{ours['seconds']:.3f} s vs {naive['seconds']:.3f} s per call"))

    models = ["tiny-random-llama"] + ([] if args.quick else ["qwen2.5-coder-0.5b"])
    for mname in models:
        Bu, P, Tu = (4, 64, 64) if mname == "tiny-random-llama" else (4, 128, 64)
        t_u, t_s, t_f, ratio = update_ratio(mname, Bu, P, Tu, tmp / f"upd-{mname}", repeats=5 if mname == "tiny-random-llama" else 3)
        bound = (2 * t_s + 2 * t_f) / t_s                        # two trained passes + two frozen forwards, at this run's own costs
        fig.setdefault("update_over_sft_ratio", ratio)          # the first (tiny) model's ratio is the headline key
        fig[f"update_over_sft_ratio[{mname}]"] = ratio
        fig[f"pass_bound_ratio[{mname}]"] = bound
        rows.append((f"ETPO update / SFT step, {mname}, B={Bu} P={P} T={Tu}", f"{ratio:.2f}",
                     f"{bound:.2f} = (2 SFT + 2 forwards) / SFT, measured; 8/3 if backward = 2 forwards",
                     f"{t_u:.3f} s vs {t_s:.3f} s; forward {t_f:.3f} s"))
        for b in (1, 8):
            tps = generate_tps(mname, b, 32 if mname == "tiny-random-llama" else 16)
            fig[f"generate_tokens_per_s[{mname},batch={b}]"] = tps
            rows.append((f"generation tokens/s, {mname}, batch {b}", f"{tps:.1f}", "", ""))
    for w in (1, 2):
        sps = env_steps.steps_per_s("tic_tac_toe", n_envs=2, workers=w, steps=4 if args.quick else 8)
        fig[f"env_steps_per_s[workers={w}]"] = sps
        rows.append((f"env steps/s (tic_tac_toe, LogisticRegression), {w} worker(s)", f"{sps:.2f}", "", ""))

    import os
    print(f"etpo benchmarks ({'quick' if args.quick else 'full'}), CPU: {os.cpu_count()} cores, torch {torch.__version__}\n")
    print("| benchmark | etpo | reference / bound | note |")
    print("|---|---|---|---|")
    for r in rows: print("| " + " | ".join(r) + " |")
    if args.json: Path(args.json).write_text(json.dumps(fig, indent=1))


if __name__ == "__main__":
    main()
