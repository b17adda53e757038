#!/usr/bin/env bash
# The pre-registered CPU study (results page, "A pre-registered comparison"): every contender in the same runner
# (etpo-train), on fresh seeds, two runs side by side with one thread each (xargs -P 2), runs already finished skipped.
# Usage: tools/prereg_study.sh OUT [main|secondary|remaining|precision|multi|trl_matched|all]     e.g. tools/prereg_study.sh runs/prereg main
#   main:      ETPO (default) and PPO-KL with ETPO's credit (gae_lambda 1, kl_coef 0.01), seeds 6-11
#   secondary: ETPO without a critic, GRPO, PPO-KL as before (λ 0.95, κ 0.05), ETPO's expected step, the paper's
#              setting, TRL's GRPOTrainer (tools/trl_grpo.py, with $TRL_PYTHON, default /tmp/trlenv/bin/python: a venv
#              with trl, see that script), seeds 6-8
#   remaining: ETPO (default), ETPO's expected step, the paper's setting and PPO-KL as before, seeds 6-8, seed by seed:
#              the secondary contenders not yet re-run under the fixed environment, with ETPO beside them in the same
#              precision (results page, "The remaining contenders, fixed environment")
#   precision: ETPO (default) in float32 (`--precision fp32`), seeds 6-8: against the `remaining` set's bf16 ETPO runs
#              on a CPU with native bf16 (results page, "The remaining contenders, fixed environment")
#   multi:     the multi-attempt task (up to 3 attempts, the error fed back; evaluated on whole episodes):
#              ETPO (default) and ETPO without a critic, seeds 6-8
#   trl_matched: TRL's GRPOTrainer with etpo's optimisation (tools/trl_grpo.py --match-etpo), seeds 6-8: first run
#              after the secondary round showed that TRL's defaults took half the optimizer steps at a decaying rate (not
#              pre-registered), then again under the fixed environment (pre-registered)
#   six:       PPO-KL as before and ETPO's expected step on seeds 9-11, their six-seed comparison with ETPO's default
#   tune_critic_lr: the multi-attempt task with the critic's learning rate at 1e-4 and 1e-3, seed 0 (a tuning seed),
#              training only; the rate with the lower Bellman error on iterations 3-5 is the one multi_critic_lr uses
#   multi_critic_lr: the multi-attempt task with the tuned critic rate (contender multi_etpo_critic_lr), seeds 6-8, and
#              ETPO without a critic again on seeds 7 and 8
# ONLY="name ..." keeps only those contenders (e.g. ONLY="etpo_nocritic grpo" tools/prereg_study.sh runs/prereg secondary).
# PARALLEL=3 runs three at a time (default 2).
# Then: python tools/plot_results.py OUT/etpo_s* OUT/ppo_credit_s* --labels ... --compare ETPO (the page gives the lines).
set -euo pipefail
out="${1:-runs/prereg}"; which="${2:-main}"
common="--prompt-style compact --max-steps 1 --n-envs 4 --max-new-tokens 48 --iterations 6 --eval-samples 64 --eval-base-samples 16 --progress-bar false --resume true"
source "$(dirname "$0")/contenders.sh"   # args: the contenders' options
jobs=()
if [ "$which" = main ] || [ "$which" = all ]; then for s in 6 7 8 9 10 11; do jobs+=("etpo $s" "ppo_credit $s"); done; fi
if [ "$which" = secondary ] || [ "$which" = all ]; then for s in 6 7 8; do jobs+=("etpo_nocritic $s" "grpo $s" "ppo $s" "etpo_expected $s" "etpo_paper $s" "trl_grpo $s"); done; fi
if [ "$which" = remaining ]; then for s in 6 7 8; do jobs+=("etpo $s" "etpo_expected $s" "etpo_paper $s" "ppo $s"); done; fi
if [ "$which" = precision ]; then for s in 6 7 8; do jobs+=("etpo_fp32 $s"); done; fi
if [ "$which" = trl_matched ]; then for s in 6 7 8; do jobs+=("trl_grpo_matched $s"); done; fi
if [ "$which" = six ]; then for s in 9 10 11; do jobs+=("ppo $s" "etpo_expected $s"); done; fi
if [ "$which" = tune_critic_lr ]; then jobs+=("tune_clr4 0" "tune_clr3 0"); fi
if [ "$which" = multi_critic_lr ]; then for s in 6 7 8; do jobs+=("multi_etpo_critic_lr $s"); done; jobs+=("multi_etpo_nocritic 7" "multi_etpo_nocritic 8"); fi
if [ "$which" = multi ] || [ "$which" = all ]; then for s in 6 7 8; do jobs+=("multi_etpo $s" "multi_etpo_nocritic $s"); done; fi
if [ -n "${ONLY:-}" ]; then keep=(); for j in "${jobs[@]}"; do [[ " $ONLY " == *" ${j% *} "* ]] && keep+=("$j"); done; jobs=("${keep[@]}"); fi
mkdir -p "$out"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
export out common TRL_PYTHON="${TRL_PYTHON:-/tmp/trlenv/bin/python}"
for k in "${!args[@]}"; do export "args_$k=${args[$k]}"; done
printf '%s\n' "${jobs[@]}" | xargs -P "${PARALLEL:-2}" -L 1 bash -c 'name=$0 seed=$1; a="args_$name"; dir="$out/${name}_s$seed";
  done_file=evaluation.json; [[ $name == multi_* ]] && done_file=episodes.json; [[ $name == tune_* ]] && done_file=none; [ -f "$dir/$done_file" ] && exit 0; echo "$(date +%T) start $name seed $seed"; mkdir -p "$dir";
  if [[ "${!a}" == TRL* ]]; then cmd=("$TRL_PYTHON" tools/trl_grpo.py ${!a#TRL}); else cmd=(etpo-train $common ${!a}); fi;
  "${cmd[@]}" --seed "$seed" --output-dir "$dir" > "$dir.log" 2>&1 || echo "$(date +%T) FAILED $name seed $seed (see $dir.log)";
  echo "$(date +%T) done $name seed $seed"'
