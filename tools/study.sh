#!/usr/bin/env bash
# ETPO (main preset: sampled policy step, stabilisers on), ETPO with the paper's expected policy step (its ablation),
# ETPO with the reward baseline (its ablation; off by default), ETPO in the paper's setting (`--preset paper`, with AdamW
# as the others: lion-pytorch is not on the GPU machine), and PPO-KL, 3 seeds each: the five runs side by side on one
# GPU (Qwen2.5-Coder-0.5B, 32 environments each), one seed after the other, the same wall-clock budget per run; then
# the table and curves. Usage: tools/study.sh MODEL_DIR [OUT] [SECONDS_PER_RUN]
set -euo pipefail
model="${1:?usage: tools/study.sh MODEL_DIR [OUT] [SECONDS]}"; out="${2:-runs/study}"; budget="${3:-1800}"
common=(--model "$model" --dataset tic_tac_toe --n-envs 32 --minibatch-size 8 --iterations 1000 --time-budget-s "$budget"
        --eval-samples 64 --progress-bar false)
declare -A runs=(
  [etpo]="--preset main"
  [etpo_expected]="--preset main --policy-estimator expected"
  [etpo_baseline]="--preset main --reward-baseline true"
  [etpo_paper]="--preset paper --optimizer adamw --lr 1e-5"
  [ppo]="--preset main --algorithm ppo"
)
mkdir -p "$out"
for seed in 0 1 2; do
  for name in "${!runs[@]}"; do
    # shellcheck disable=SC2086
    etpo-train "${common[@]}" ${runs[$name]} --seed "$seed" --output-dir "$out/${name}_s$seed" > "$out/${name}_s$seed.log" 2>&1 &
  done
  wait
done
python tools/plot_results.py "$out"/etpo_s{0,1,2} "$out"/etpo_expected_s{0,1,2} "$out"/etpo_baseline_s{0,1,2} "$out"/etpo_paper_s{0,1,2} "$out"/ppo_s{0,1,2} \
  --labels ETPO ETPO ETPO "ETPO, expected step" "ETPO, expected step" "ETPO, expected step" "ETPO + baseline" "ETPO + baseline" "ETPO + baseline" "ETPO, paper" "ETPO, paper" "ETPO, paper" \
  PPO-KL PPO-KL PPO-KL \
  --table --programs --out "$out/results.png"
