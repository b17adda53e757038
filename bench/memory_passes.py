"""Which pass sets the main job's peak resident memory: every model pass and optimizer step of its first iterations, with
the resident memory (RSS) before and after it and the highest RSS seen during it.

The main job exactly (`RunArguments()` and `make_config('etpo')` defaults: Qwen2.5-Coder-0.5B, bf16 where the CPU has
it, 4 environments x 2 steps on tic_tac_toe, 192 new tokens, minibatch 4), for `--iterations` iterations. A thread reads
/proc/self/statm every 20 ms; `Agent.forward_role` (every scoring and training pass; generation calls the model
directly and is one "generate" row per rollout step), `Agent.action_logits` and `action_q_values` (a pass and what is
built on its logits), the trainer's losses and `ETPOTrainer.step_optimizer` (backward and step) are wrapped; a row
inside another is indented by a dot.

    python bench/memory_passes.py                 # 2 iterations, about 8 minutes alone on 2 cores
    python bench/memory_passes.py --top 12        # only the 12 rows that raised the peak most

Columns: the phase (rollout, score, update with the longest action of its minibatch, to which it pads), what ran,
its input (the token ids' shape (B, L), the positions whose logits it keeps, grad mode; a role), RSS before it, the
highest RSS during it, and by how much it raised the process's high-water mark (the row setting the peak is the
deepest one with a raise).
"""
import argparse
import threading
import time


def statm_gib() -> float:
    with open("/proc/self/statm") as f: return int(f.read().split()[1]) * 4096 / 2**30


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--top", type=int, default=0, help="print only the rows that raised the high-water mark most (0: every row)")
    args = ap.parse_args()
    import torch
    import etpo.models as M
    import etpo.rollout as R
    import etpo.trainer as T
    from etpo.run import RunArguments, build_run, make_config

    high = [0.0]   # the process's high-water mark so far
    open_rows = []  # rows being measured (they nest: a loss inside the update, a pass inside `action_q_values`)

    def sample():
        while True:
            x = statm_gib(); high[0] = max(high[0], x)
            for r in list(open_rows): r["peak"] = max(r["peak"], x)
            time.sleep(0.02)
    threading.Thread(target=sample, daemon=True).start()
    rows, phase = [], ["setup"]

    def measured(name, f, shape=lambda a, k: ""):
        def g(*a, **k):
            x = statm_gib()
            row = dict(phase=phase[0], name=name, shape=shape(a, k), before=x, peak=x, hw=high[0], depth=len(open_rows))
            rows.append(row); open_rows.append(row)
            try: return f(*a, **k)
            finally:
                open_rows.remove(row); row["peak"] = max(row["peak"], statm_gib())
                row["raised"] = max(0.0, row["peak"] - row["hw"])
        return g

    def phased(name, f):
        def g(*a, **k):
            prev, phase[0] = phase[0], name
            out = f(*a, **k); phase[0] = prev; return out
        return g

    orig_fr = M.Agent.forward_role
    def fr(self, role, input_ids, attention_mask, logits_to_keep=0, hidden=False, prefix=None):
        info = f"{tuple(input_ids.shape)}, keep {logits_to_keep}, {'grad' if torch.is_grad_enabled() else 'no grad'}"
        return measured(f"pass: {role}", orig_fr, lambda a, k: info)(self, role, input_ids, attention_mask, logits_to_keep, hidden, prefix)
    M.Agent.forward_role = fr
    R.generate = measured("generate", R.generate, lambda a, k: f"{len(a[2])} prompts")
    T.ETPOTrainer.step_optimizer = measured("backward + step", T.ETPOTrainer.step_optimizer, lambda a, k: a[3])
    for name in ("action_logits", "action_q_values"):      # a pass and what is built on its logits (Q = critic − ρ's logits)
        setattr(M.Agent, name, measured(name, getattr(M.Agent, name), lambda a, k: a[1]))
    for name in ("critic_loss", "conservative_penalty", "critic_drift", "soft_target_stats", "token_logprobs", "ppo_policy_loss", "policy_loss"):
        setattr(T, name, measured(f"loss: {name}", getattr(T, name)))   # the trainer's losses, on (B, T, V) logits

    run_args = RunArguments(model=args.model)
    cfg = make_config("etpo", model=args.model, iterations=args.iterations, seed=args.seed, progress_bar=False, report_to="none",
                      output_dir=f"/tmp/etpo-memory-passes-{int(time.time())}")
    run = build_run(run_args, cfg)
    tr = run.trainer
    tr.collect = phased("rollout", measured("rollout, whole", tr.collect))   # scoring runs inside collect: its rows say "score"
    tr.score = phased("score", measured("score, whole", tr.score))
    tr.update = phased("update", measured("update, whole", tr.update))
    orig_batch = tr.batch
    def batch(r, idx):   # the minibatch's longest action, for the update's rows
        out = orig_batch(r, idx); phase[0] = f"update (longest action {out[3].shape[1]})"; return out
    tr.batch = batch
    metrics = run.train()
    run.close()
    shown = sorted(rows, key=lambda r: -r["raised"])[:args.top] if args.top else rows
    print(f"Resident memory per pass, main job ({args.model}, precision {cfg.precision}, seed {args.seed}, {args.iterations} iterations)\n")
    print("| phase | pass | input | RSS before, GiB | highest during, GiB | raised the peak by, GiB |")
    print("|---|---|---|---|---|---|")
    for r in shown:
        print(f"| {r['phase']} | {'· ' * r['depth']}{r['name']} | {r['shape']} | {r['before']:.2f} | {r['peak']:.2f} | {r['raised']:.2f} |")
    print(f"\npeak RSS {high[0]:.2f} GiB; the run's own peak_memory_mb per iteration: "
          + ", ".join(f"{m['peak_memory_mb'] / 1024:.2f}" for m in metrics) + " GiB; action tokens per iteration: "
          + ", ".join(f"{m['action_tokens']:.1f}" for m in metrics))


if __name__ == "__main__":
    main()
