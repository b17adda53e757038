# The study's contenders: one set of etpo-train options each, named as on the results page.
# Sourced by tools/prereg_study.sh (the CPU study) and tools/study.sh (the same contenders side by side on one GPU).
# "TRL [options]" marks tools/trl_grpo.py (TRL's GRPOTrainer), run with its own Python; multi_* add the multi-attempt task.
multi="--max-steps 3 --eval-samples 0 --eval-base-samples 0 --eval-episodes 48 --eval-base-episodes 16"   # after the common options: these win
declare -A args=(
  [etpo]="--algorithm etpo"                                          # ETPO's default: the sampled step on λ = 1 soft returns, the critic as baseline
  [etpo_fp32]="--algorithm etpo --precision fp32"                    # the same in float32 (against a bf16 run on a CPU with native bf16)
  [etpo_nocritic]="--algorithm etpo --critic false"                  # the same step with V ≡ 0: no critic at all
  [etpo_expected]="--algorithm etpo --policy-estimator expected"     # the paper's policy step (the sum over the support), with the stabilisers
  [etpo_paper]="--algorithm etpo --preset paper"                     # the paper's whole setting (expected step, λ = 0, τ = 0.995, Lion, no stabilisers)
  [ppo_credit]="--algorithm ppo --gae-lambda 1 --kl-coef 0.01"       # PPO-KL with ETPO's credit: λ = 1, κ = β
  [ppo]="--algorithm ppo"                                            # PPO-KL as it ran before: GAE λ 0.95, κ 0.05
  [grpo]="--algorithm grpo"                                          # group-normalised returns, k3 KL to ρ, no critic
  [trl_grpo]="TRL"                                                   # TRL's GRPOTrainer on the same task (tools/trl_grpo.py), TRL's defaults
  [trl_grpo_matched]="TRL --match-etpo"                              # the same with etpo's optimisation: 12 steps of 4, constant rate, clip 10
  [multi_etpo]="--algorithm etpo $multi"
  [multi_etpo_nocritic]="--algorithm etpo --critic false $multi"
  [multi_etpo_critic_lr]="--algorithm etpo --critic-lr 1e-4 $multi"   # the same with the critic's rate tuned on seed 0 (tune_clr4 won)
  [tune_clr4]="--algorithm etpo --critic-lr 1e-4 $multi --eval-episodes 0 --eval-base-episodes 0"   # tuning the critic's rate on seed 0, no evaluation:
  [tune_clr3]="--algorithm etpo --critic-lr 1e-3 $multi --eval-episodes 0 --eval-base-episodes 0"   #   the lower Bellman error wins (results page)
)
