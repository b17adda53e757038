#!/usr/bin/env bash
# The CPU study: Qwen2.5-Coder-0.5B on tic-tac-toe, compact prompt, single
# attempts, 4 environments x 2 steps x 48 tokens per iteration, 6 iterations (48 transitions), 16 first tries of the
# base model and of the trained policy at the end. ETPO with the main preset (stabilisers on) and PPO-KL, seeds given
# (default 0 1 2), one run after the other (each uses both cores); runs already finished are skipped. Then the table.
# Usage: tools/cpu_study.sh [OUT] [SEEDS...]      e.g. tools/cpu_study.sh runs/cpu_study 0 1 2
# Environment: ALGOS (default "etpo ppo"), ETPO_ARGS and PPO_ARGS (extra options for the ETPO and the PPO-KL runs, e.g.
# ETPO_ARGS="--reward-baseline true" for the ablation, PPO_ARGS="--gae-lambda 1 --kl-coef 0.01"), THREADS (torch threads per run; with THREADS=1 two studies can share the 2 cores).
set -euo pipefail
out="${1:-runs/cpu_study}"; shift || true
seeds=("$@"); [ ${#seeds[@]} -gt 0 ] || seeds=(0 1 2)
common=(--prompt-style compact --max-steps 1 --n-envs 4 --max-new-tokens 48 --iterations 6 --eval-samples 16 --progress-bar false)
algos=(${ALGOS:-etpo ppo}); read -r -a etpo_args <<< "${ETPO_ARGS:-}"; read -r -a ppo_args <<< "${PPO_ARGS:-}"
[ -n "${THREADS:-}" ] && export OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS"
mkdir -p "$out"
for seed in "${seeds[@]}"; do
  for algo in "${algos[@]}"; do
    dir="$out/${algo}_s$seed"
    [ -f "$dir/evaluation.json" ] && continue
    echo "$(date +%T) $algo seed $seed -> $dir"
    if [ "$algo" = etpo ]; then extra=("${etpo_args[@]}"); else extra=("${ppo_args[@]}"); fi
    etpo-train "${common[@]}" "${extra[@]}" --algorithm "$algo" --seed "$seed" --resume true --output-dir "$dir" > "$dir.log" 2>&1
  done
done
runs=(); labels=()
for algo in "${algos[@]}"; do for seed in "${seeds[@]}"; do
  [ -f "$out/${algo}_s$seed/evaluation.json" ] && { runs+=("$out/${algo}_s$seed"); labels+=("$([ $algo = etpo ] && echo ETPO || echo PPO-KL)"); }
done; done
python tools/plot_results.py "${runs[@]}" --labels "${labels[@]}" --table --programs --out "$out/results.png"
