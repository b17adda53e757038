#!/usr/bin/env bash
# Every contender of the results page's study side by side on one GPU (tools/contenders.sh: ETPO's default, without a
# critic, its expected step, the paper's setting, PPO-KL with ETPO's credit and as before, GRPO, the multi-attempt
# pair and ETPO there with the tuned critic rate), one process each on the same device, one seed each by default, the
# same wall-clock training budget per run;
# then the tables (first tries, whole episodes, Welch against ETPO when SEEDS holds two or more) and the curves.
# Not yet run on a GPU: the 240 s training budget is sized so that the model loads, training and the evaluation fit in
# about 8 minutes on one H200 with Qwen2.5-Coder-0.5B (an estimate). etpo_paper uses Lion:
# lion-pytorch is pure Python, install its wheel there (pip install --no-deps) or leave etpo_paper out of CONTENDERS.
# Usage: tools/study.sh MODEL_DIR [OUT] [SECONDS_PER_RUN]
#   SEEDS="6 7" (default 6), CONTENDERS="etpo grpo ..." (default all but trl_grpo: TRL is not on the GPU machine),
#   N_ENVS (default 16: the environments' programs run on the CPU cores, shared by every run).
set -euo pipefail
model="${1:?usage: tools/study.sh MODEL_DIR [OUT] [SECONDS]}"; out="${2:-runs/study}"; budget="${3:-240}"
source "$(dirname "$0")/contenders.sh"
names=(${CONTENDERS:-etpo etpo_nocritic etpo_expected etpo_paper ppo_credit ppo grpo multi_etpo multi_etpo_nocritic multi_etpo_critic_lr})
for n in "${names[@]}"; do [ -n "${args[$n]:-}" ] && [[ "${args[$n]}" != TRL* ]] || { echo "unknown or non-etpo contender: $n (see tools/contenders.sh)" >&2; exit 2; }; done
common="--model $model --prompt-style compact --max-steps 1 --n-envs ${N_ENVS:-16} --max-new-tokens 48 --iterations 1000
        --time-budget-s $budget --eval-samples 64 --eval-base-samples 16 --progress-bar false"
mkdir -p "$out"; runs=(); labels=()
for seed in ${SEEDS:-6}; do
  for n in "${names[@]}"; do
    dir="$out/${n}_s$seed"; runs+=("$dir"); labels+=("$n")
    # shellcheck disable=SC2086
    etpo-train $common ${args[$n]} --seed "$seed" --output-dir "$dir" > "$dir.log" 2>&1 &
  done
done
fail=0; for job in $(jobs -p); do wait "$job" || fail=1; done
[ "$fail" = 0 ] || echo "some runs failed: see $out/*.log" >&2
python tools/plot_results.py "${runs[@]}" --labels "${labels[@]}" --table --episodes --compare etpo --out "$out/results.png"
exit "$fail"
