"""TRL's GRPOTrainer on the CPU study's task: the outside check that this library's GRPO (`etpo-train --algorithm grpo`)
is not a straw man.

The same as the study's runs (tools/prereg_study.sh): the model (Qwen2.5-Coder-0.5B-Instruct, in etpo's default precision:
float32 on the CPU), LoRA r 16 / α 32 on every linear layer (not the LM head: TRL refuses an adapter there, so this
policy has the seven projections' adapters only), the compact single-attempt tic-tac-toe prompt,
48 new tokens, temperature 0.5 and top-k 50, groups of 8 (the study's 4 environments × 2 steps), 6 updates (48
transitions), AdamW at 1e-5 and TRL's defaults otherwise (the rate decays linearly to 0 over the run, gradients are
clipped at norm 1; `--match-etpo`: etpo's optimisation, 12 steps of 4 completions at a constant rate, clipped at 10), κ = 0.01 (TRL's `beta`), the sandboxed reward of `DataScienceEnv` (ROC AUC, −1 on error).
Then the trained adapter is loaded into an etpo Agent's policy (peft's `set_peft_model_state_dict`; the
Agent's LM-head adapter stays at its zero start) and scored by the same evaluation as every etpo
run (`Run.evaluate`: 64 first tries of the policy, 16 of the base model) into OUTPUT_DIR/evaluation.json; TRL's log
goes to OUTPUT_DIR/metrics.jsonl (one row per group of completions TRL logs a reward for, with its `reward_mean`).

TRL is not a dependency of etpo; install it beside it:
    python -m venv --system-site-packages /tmp/trlenv && /tmp/trlenv/bin/pip install "trl==1.16.0"
    /tmp/trlenv/bin/python tools/trl_grpo.py --seed 6 --output-dir runs/prereg/trl_grpo_s6
"""
import argparse
import json
from pathlib import Path

from etpo.env import DataScienceEnv
from etpo.models import load_model, lora_target_modules
from etpo.run import RunArguments, build_run, make_config
from etpo.utils import append_jsonl, atomic_write


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--dataset", default="tic_tac_toe")
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--updates", type=int, default=6)
    ap.add_argument("--group", type=int, default=8, help="completions per prompt and per update (the study: 4 environments x 2 steps)")
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--eval-samples", type=int, default=64)
    ap.add_argument("--eval-base-samples", type=int, default=16)
    ap.add_argument("--output-dir", default="runs/trl_grpo")
    ap.add_argument("--match-etpo", action="store_true",
                    help="etpo's optimisation instead of TRL's defaults: 2 optimizer steps of 4 completions per group of 8 (12 steps in all, "
                         "as etpo's minibatch 4), a constant learning rate (TRL's default decays it linearly to 0) and gradient clipping at 10 (etpo's grad_clip; TRL's: 1)")
    a = ap.parse_args()
    from datasets import Dataset
    from peft import LoraConfig
    from trl import GRPOConfig, GRPOTrainer
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    out = Path(a.output_dir); out.mkdir(parents=True, exist_ok=True)
    model, tok, spec = load_model(a.model, device="cpu")
    env = DataScienceEnv(a.dataset, prompt_style="compact", max_steps=1, timeout=60)
    prompt, _ = env.reset(seed=a.seed)

    def reward(prompts, completions, **kw):
        """The environment's reward of each completion (a fresh single-attempt episode each). TRL's generation has no
        stop at the body's end, so its 48 tokens may run past the body; the environment cuts the body there
        (`extract_body`: the first line that starts at column 0), as it does for etpo's actions. TRL's loss still covers
        every generated token; etpo's covers the tokens up to the one its sampler stopped on."""
        rs = []
        for c in completions:
            env.reset(); rs.append(float(env.step(c)[1]))
        return rs

    match = dict(per_device_train_batch_size=4, steps_per_generation=a.group // 4, max_steps=a.updates * a.group // 4, lr_scheduler_type="constant",
                 max_grad_norm=10.0) if a.match_etpo else dict(per_device_train_batch_size=a.group, max_steps=a.updates)
    cfg = GRPOConfig(output_dir=str(out / "trl"), num_generations=a.group, **match,
                     max_completion_length=a.max_new_tokens, temperature=0.5, top_k=50, top_p=1.0, learning_rate=1e-5, beta=0.01,
                     num_iterations=1, logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, seed=a.seed, bf16=False)
    peft_cfg = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, task_type="CAUSAL_LM", target_modules=[m for m in lora_target_modules(model) if m != "lm_head"])
    trainer = GRPOTrainer(model=model, reward_funcs=reward, args=cfg, train_dataset=Dataset.from_dict({"prompt": [prompt] * a.updates * a.group}),
                          processing_class=tok, peft_config=peft_cfg)
    trainer.train()
    (out / "metrics.jsonl").unlink(missing_ok=True)
    for i, row in enumerate(r for r in trainer.state.log_history if "reward" in r):
        append_jsonl(out / "metrics.jsonl", dict(iteration=i, reward_mean=row["reward"], kl=row.get("kl", float("nan")), trl=row))
    trainer.model.save_pretrained(out / "policy")
    run = build_run(RunArguments(model=a.model, algorithm="none", dataset=a.dataset, prompt_style="compact", max_steps=1, timeout=60,
                                 eval_samples=a.eval_samples, eval_base_samples=a.eval_base_samples),
                    make_config("etpo", iterations=0, max_new_tokens=a.max_new_tokens, seed=a.seed, output_dir=str(out), report_to="none",
                                progress_bar=False, resume=True))
    res = set_peft_model_state_dict(run.trainer.agent.model, load_file(out / "policy" / "adapter_model.safetensors"), adapter_name="policy")
    missing = [k for k in res.missing_keys if ".policy." in k and "lm_head" not in k]
    if missing: raise RuntimeError(f"TRL's adapter lacks {len(missing)} of the policy's weights, e.g. {missing[0]}")
    run.args.policy = str(out / "policy")                                   # evaluate() then scores the policy beside the base model
    run.evaluate(); run.close()
    atomic_write(out / "trl_config.json", lambda f: json.dump(cfg.to_dict(), f, indent=1, default=str))


if __name__ == "__main__":
    main()
