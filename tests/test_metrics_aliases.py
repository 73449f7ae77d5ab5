"""The alias table, per trainer: real key sets resolve to the right framework and bindings.

Key lists are copied from what each trainer logs (shared/research/metrics.md §1.2-1.3, read from
the trainer sources named there).
"""

import numpy as np
import pytest

from analyzers.metrics import resolve
from analyzers.metrics.aliases import ALIASES, FRAMEWORKS, candidate_tags
from analyzers.metrics.concepts import CONCEPT_IDS
from analyzers.model import Run
from analyzers.synthetic import make_run

# TRL <= 0.11 PPOTrainer, record_step_stats + loss() + log_stats (scalar keys only).
TRL_PPO_LEGACY_KEYS = [
    "objective/kl", "objective/kl_coef", "objective/entropy", "ppo/mean_non_score_reward",
    "ppo/mean_scores", "ppo/std_scores", "tokens/queries_len_mean", "tokens/queries_len_std",
    "tokens/responses_len_mean", "tokens/responses_len_std", "ppo/loss/policy", "ppo/loss/value",
    "ppo/loss/total", "ppo/policy/entropy", "ppo/policy/approxkl", "ppo/policy/policykl",
    "ppo/policy/clipfrac", "ppo/policy/advantages_mean", "ppo/returns/mean", "ppo/returns/var",
    "ppo/val/vpred", "ppo/val/error", "ppo/val/clipfrac", "ppo/val/mean", "ppo/val/var",
    "ppo/val/var_explained", "ppo/learning_rate", "time/ppo/forward_pass",
    "time/ppo/compute_rewards", "time/ppo/optimize_step", "time/ppo/total", "env/reward_mean",
    "env/reward_std",
]
# TRL PPOTrainer 0.12+ (same keys as PPOv2Trainer and RLOOTrainer <= 0.21).
TRL_PPO_KEYS = [
    "eps", "objective/kl", "objective/entropy", "objective/non_score_reward", "objective/rlhf_reward",
    "objective/scores", "policy/approxkl_avg", "policy/clipfrac_avg", "loss/policy_avg",
    "loss/value_avg", "val/clipfrac_avg", "policy/entropy_avg", "val/ratio", "val/ratio_var",
    "val/num_eos_tokens", "lr", "episode",
]
# TRL GRPOTrainer 0.17+ (and RLOOTrainer 0.22+), as in trainer_state.json log_history.
TRL_GRPO_KEYS = [
    "loss", "grad_norm", "learning_rate", "num_tokens", "completions/mean_length",
    "completions/min_length", "completions/max_length", "completions/clipped_ratio",
    "completions/mean_terminated_length", "completions/min_terminated_length",
    "completions/max_terminated_length", "rewards/accuracy_reward/mean", "rewards/accuracy_reward/std",
    "reward", "reward_std", "frac_reward_zero_std", "kl", "entropy", "clip_ratio/low_mean",
    "clip_ratio/low_min", "clip_ratio/high_mean", "clip_ratio/high_max", "clip_ratio/region_mean",
    "epoch",
]
# TRL GRPOTrainer 0.14-0.16 names (before the renames).
TRL_GRPO_OLD_KEYS = [
    "loss", "grad_norm", "learning_rate", "completion_length", "rewards/accuracy_reward",
    "rewards/format_reward", "reward", "reward_std", "kl", "clip_ratio", "epoch",
]
VERL_KEYS = [
    "actor/entropy", "actor/pg_loss", "actor/pg_clipfrac", "actor/ppo_kl", "actor/pg_clipfrac_lower",
    "actor/kl_loss", "actor/kl_coef", "actor/grad_norm", "actor/lr", "critic/score/mean",
    "critic/score/max", "critic/score/min", "critic/rewards/mean", "critic/rewards/max",
    "critic/rewards/min", "critic/advantages/mean", "critic/advantages/max", "critic/advantages/min",
    "critic/returns/mean", "critic/returns/max", "critic/returns/min", "critic/values/mean",
    "critic/vf_loss", "critic/vf_clipfrac", "critic/vf_explained_var", "critic/grad_norm",
    "critic/lr", "response_length/mean", "response_length/max", "response_length/min",
    "response_length/clip_ratio", "prompt_length/mean", "timing_s/gen", "timing_s/update_actor",
    "perf/throughput", "training/global_step", "training/epoch",
    "val-core/openai/gsm8k/reward/mean@1",
]
# Older verl: KL in the reward under critic/kl, entropy under actor/entropy_loss.
VERL_OLD_KEYS = [
    "actor/entropy_loss", "actor/pg_loss", "actor/pg_clipfrac", "actor/ppo_kl", "actor/grad_norm",
    "actor/lr", "critic/kl", "critic/kl_coeff", "critic/score/mean", "critic/rewards/mean",
    "critic/advantages/mean", "critic/returns/mean", "critic/vf_loss", "response_length/mean",
]
# OpenRLHF current (W&B/TB add train/).
OPENRLHF_KEYS = [
    "train/policy_loss", "train/actor_lr", "train/entropy_loss", "train/ppo_clip_ratio", "train/ppo_kl",
    "train/kl", "train/reward", "train/return", "train/response_length", "train/total_length",
    "train/critic_loss", "train/values", "train/critic_lr", "train/rollout/reward_mean",
    "train/rollout/reward_std", "train/rollout/response_length_mean", "train/rollout/truncated_rate",
    "train/global_step", "eval/eval_gsm8k_pass1", "eval/eval_response_length_mean",
]
# OpenRLHF v0.5 (status dict, unprefixed).
OPENRLHF_OLD_KEYS = [
    "policy_loss", "actor_lr", "critic_loss", "critic_lr", "values", "kl", "reward", "return",
    "response_length", "total_length", "ptx_loss",
]
TRLX_KEYS = [
    "losses/total_loss", "losses/policy_loss", "losses/value_loss", "values/mean", "values/min",
    "values/max", "values/std", "values/values_error", "values/clipfrac", "old_values/mean",
    "returns/mean", "returns/std", "policy/approx_kl", "policy/clipfrac", "ratio",
    "padding_percentage", "policy/sqrt_kl", "policy/kl_per_token", "rollout_scores/mean",
    "rollout_scores/std", "rollout_scores/running_mean", "rollout_scores/running_std",
    "kl_ctl_value", "learning_rate_group_0", "time/rollout_generate", "reward/mean",
]
DEEPSPEED_CHAT_KEYS = ["reward", "actor_loss", "actor_loss_sum", "critic_loss", "critic_loss_sum"]
SB3_KEYS = [
    "rollout/ep_rew_mean", "rollout/ep_len_mean", "time/fps", "train/approx_kl",
    "train/clip_fraction", "train/clip_range", "train/entropy_loss", "train/explained_variance",
    "train/learning_rate", "train/loss", "train/policy_gradient_loss", "train/value_loss",
    "eval/mean_reward", "eval/mean_ep_length",
]
CLEANRL_KEYS = [
    "charts/episodic_return", "charts/episodic_length", "charts/learning_rate", "charts/SPS",
    "losses/value_loss", "losses/policy_loss", "losses/entropy", "losses/old_approx_kl",
    "losses/approx_kl", "losses/clipfrac", "losses/explained_variance",
]
SPINNINGUP_KEYS = [
    "Epoch", "AverageEpRet", "StdEpRet", "MaxEpRet", "MinEpRet", "EpLen", "AverageVVals",
    "StdVVals", "MaxVVals", "MinVVals", "TotalEnvInteracts", "LossPi", "LossV", "DeltaLossPi",
    "DeltaLossV", "Entropy", "KL", "ClipFrac", "StopIter", "Time",
]
HF_TRAINER_KEYS = ["loss", "grad_norm", "learning_rate", "epoch", "eval_loss", "eval_runtime", "eval_samples_per_second"]


def run_with(keys, **kwargs) -> Run:
    return make_run({k: np.linspace(1.0, 2.0, 5) for k in keys}, **kwargs)


def binding(run: Run, concept: str) -> tuple:
    b = run.metrics[concept]
    return (b.tag, b.transform, b.unit, b.estimator)


# ------------------------------------------------------------------ framework detection
@pytest.mark.parametrize(
    "keys, framework",
    [
        (TRL_PPO_LEGACY_KEYS, "trl-ppo-legacy"),
        (TRL_PPO_KEYS, "trl-ppo"),
        (TRL_GRPO_KEYS, "trl-grpo"),
        (TRL_GRPO_OLD_KEYS, "trl-grpo"),
        (VERL_KEYS, "verl"),
        (VERL_OLD_KEYS, "verl"),
        (OPENRLHF_KEYS, "openrlhf"),
        (OPENRLHF_OLD_KEYS, "openrlhf"),
        (TRLX_KEYS, "trlx"),
        (DEEPSPEED_CHAT_KEYS, "deepspeed-chat"),
        (SB3_KEYS, "stable-baselines3"),
        (CLEANRL_KEYS, "cleanrl"),
        (SPINNINGUP_KEYS, "spinningup"),
        (HF_TRAINER_KEYS, "hf-trainer"),
    ],
)
def test_framework_is_detected_from_its_real_key_set(keys, framework):
    assert run_with(keys).framework == framework


@pytest.mark.parametrize("keys, framework", [(TRL_GRPO_KEYS, "trl-grpo"), (TRL_PPO_KEYS, "trl-ppo")])
def test_framework_is_detected_through_the_hf_callback_train_prefix(keys, framework):
    assert run_with(["train/" + k for k in keys]).framework == framework


def test_every_alias_names_a_known_concept_and_convention():
    for framework, aliases in ALIASES.items():
        assert framework in FRAMEWORKS
        for alias in aliases:
            assert alias.concept in CONCEPT_IDS, (framework, alias)
            assert alias.transform in ("identity", "negate", "square"), (framework, alias)
            assert alias.estimator in (None, "k1", "k2", "k3"), (framework, alias)


def test_eval_keys_match_eval_prefixes_only():
    alias = next(a for a in ALIASES["trl-grpo"] if a.concept == "eval.reward")
    assert set(candidate_tags(alias)) >= {"eval/reward", "eval_reward"}
    assert "reward" not in candidate_tags(alias)


# ------------------------------------------------------------------ TRL
def test_trl_ppo_legacy_bindings():
    run = run_with(TRL_PPO_LEGACY_KEYS)
    assert binding(run, "kl.ref") == ("objective/kl", "identity", "nats/sequence", "k1")
    assert binding(run, "kl.step") == ("ppo/policy/approxkl", "identity", "nats/token", "k2")
    assert binding(run, "entropy") == ("ppo/policy/entropy", "identity", "nats/token", None)
    assert run.metrics["reward.score"].tag == "ppo/mean_scores"
    assert run.metrics["kl.coef"].tag == "objective/kl_coef"
    assert run.metrics["clipfrac"].tag == "ppo/policy/clipfrac"
    assert run.metrics["value.ev"].tag == "ppo/val/var_explained"
    assert run.metrics["adv.mean"].tag == "ppo/policy/advantages_mean"
    assert run.metrics["len.mean"].tag == "tokens/responses_len_mean"
    assert run.metrics["lr"].tag == "ppo/learning_rate"


def test_trl_ppo_legacy_policykl_is_k1_when_approxkl_is_absent():
    keys = [k for k in TRL_PPO_LEGACY_KEYS if k != "ppo/policy/approxkl"]
    assert binding(run_with(keys), "kl.step") == ("ppo/policy/policykl", "identity", "nats/token", "k1")


def test_trl_ppo_bindings():
    run = run_with(TRL_PPO_KEYS)
    assert binding(run, "kl.ref") == ("objective/kl", "identity", "nats/sequence", "k1")
    assert binding(run, "kl.step") == ("policy/approxkl_avg", "identity", "nats/token", "k2")
    assert binding(run, "entropy") == ("policy/entropy_avg", "identity", "nats/token", None)
    assert run.metrics["reward.score"].tag == "objective/scores"
    assert run.metrics["reward.total"].tag == "objective/rlhf_reward"
    assert run.metrics["clipfrac"].tag == "policy/clipfrac_avg"
    assert run.metrics["ratio.mean"].tag == "val/ratio"
    assert run.metrics["value.loss"].tag == "loss/value_avg"
    assert run.metrics["lr"].tag == "lr"


def test_trl_ppo_sequence_entropy_is_the_fallback_with_its_unit():
    keys = [k for k in TRL_PPO_KEYS if k != "policy/entropy_avg"]
    run = run_with(keys)
    assert binding(run, "entropy") == ("objective/entropy", "identity", "nats/sequence", None)
    assert any("summed over the sequence" in n for n in run.notes)


def test_trl_grpo_bindings():
    run = run_with(TRL_GRPO_KEYS)
    assert binding(run, "kl.ref") == ("kl", "identity", "nats/token", "k3")
    assert run.metrics["reward.score"].tag == "reward"
    assert run.metrics["reward.score_std"].tag == "reward_std"
    assert run.metrics["clipfrac"].tag == "clip_ratio/region_mean"
    assert run.metrics["entropy"].tag == "entropy"
    assert run.metrics["len.mean"].tag == "completions/mean_length"
    assert run.metrics["len.max"].tag == "completions/max_length"
    assert run.metrics["len.clip_ratio"].tag == "completions/clipped_ratio"
    assert run.metrics["grpo.frac_zero_std"].tag == "frac_reward_zero_std"
    assert run.metrics["grad_norm"].tag == "grad_norm"
    assert run.metrics["lr"].tag == "learning_rate"


def test_trl_grpo_names_before_the_renames():
    run = run_with(TRL_GRPO_OLD_KEYS)
    assert run.metrics["len.mean"].tag == "completion_length"
    assert run.metrics["clipfrac"].tag == "clip_ratio"


def test_trl_grpo_through_tensorboard_callback_uses_train_prefixed_tags():
    run = run_with(["train/" + k for k in TRL_GRPO_KEYS] + ["eval/reward", "eval/loss"])
    assert binding(run, "kl.ref") == ("train/kl", "identity", "nats/token", "k3")
    assert run.metrics["reward.score"].tag == "train/reward"
    assert run.metrics["eval.reward"].tag == "eval/reward"


def test_trl_grpo_in_trainer_state_uses_eval_underscore_prefix():
    run = run_with(TRL_GRPO_KEYS + ["eval_reward", "eval_loss"])
    assert run.metrics["eval.reward"].tag == "eval_reward"
    assert run.metrics["reward.score"].tag == "reward"


def test_trl_grpo_without_beta_says_why_no_kl_is_bound():
    run = run_with([k for k in TRL_GRPO_KEYS if k != "kl"])
    assert "kl.ref" not in run.metrics
    assert any("beta" in n for n in run.notes)


def test_trl_ppo_objective_kl_through_the_train_prefix():
    run = run_with(["train/" + k for k in TRL_PPO_KEYS])
    assert binding(run, "kl.ref") == ("train/objective/kl", "identity", "nats/sequence", "k1")


# ------------------------------------------------------------------ verl
def test_verl_bindings():
    run = run_with(VERL_KEYS)
    assert binding(run, "kl.ref") == ("actor/kl_loss", "identity", "nats/token", "k3")
    assert binding(run, "kl.step") == ("actor/ppo_kl", "identity", "nats/token", "k1")
    assert run.metrics["reward.score"].tag == "critic/score/mean"
    assert run.metrics["reward.score_max"].tag == "critic/score/max"
    assert run.metrics["reward.total"].tag == "critic/rewards/mean"
    assert run.metrics["kl.coef"].tag == "actor/kl_coef"
    assert run.metrics["clipfrac"].tag == "actor/pg_clipfrac"
    assert run.metrics["entropy"].tag == "actor/entropy"
    assert run.metrics["adv.max"].tag == "critic/advantages/max"
    assert run.metrics["value.ev"].tag == "critic/vf_explained_var"
    assert run.metrics["len.clip_ratio"].tag == "response_length/clip_ratio"
    assert run.metrics["grad_norm"].tag == "actor/grad_norm"
    assert run.metrics["critic.grad_norm"].tag == "critic/grad_norm"


def test_verl_kl_in_reward_is_preferred_and_k1():
    run = run_with(VERL_KEYS + ["actor/reward_kl_penalty", "actor/reward_kl_penalty_coeff"])
    assert binding(run, "kl.ref") == ("actor/reward_kl_penalty", "identity", "nats/token", "k1")
    assert run.metrics["kl.coef"].tag == "actor/reward_kl_penalty_coeff"


def test_verl_older_names():
    run = run_with(VERL_OLD_KEYS)
    assert binding(run, "kl.ref") == ("critic/kl", "identity", "nats/token", "k1")
    assert run.metrics["kl.coef"].tag == "critic/kl_coeff"
    assert binding(run, "entropy") == ("actor/entropy_loss", "identity", "nats/token", None)


# ------------------------------------------------------------------ OpenRLHF
def test_openrlhf_bindings_with_train_prefix():
    run = run_with(OPENRLHF_KEYS)
    assert binding(run, "kl.ref") == ("train/kl", "identity", "nats/token", "k1")
    assert binding(run, "kl.step") == ("train/ppo_kl", "identity", "nats/token", "k1")
    assert binding(run, "entropy") == ("train/entropy_loss", "identity", "nats/token", None)
    assert run.metrics["reward.score"].tag == "train/rollout/reward_mean"
    assert run.metrics["clipfrac"].tag == "train/ppo_clip_ratio"
    assert run.metrics["len.clip_ratio"].tag == "train/rollout/truncated_rate"
    assert run.metrics["lr"].tag == "train/actor_lr"


def test_openrlhf_old_keys():
    run = run_with(OPENRLHF_OLD_KEYS)
    assert run.metrics["reward.score"].tag == "reward"
    assert run.metrics["kl.ref"].tag == "kl"
    assert run.metrics["value.loss"].tag == "critic_loss"
    assert run.metrics["len.mean"].tag == "response_length"


# ------------------------------------------------------------------ trlx, DeepSpeed-Chat
def test_trlx_bindings():
    run = run_with(TRLX_KEYS)
    assert binding(run, "kl.ref") == ("policy/sqrt_kl", "square", "nats/sequence", "k3")
    assert binding(run, "kl.step") == ("policy/approx_kl", "identity", "nats/token", "k3")
    assert run.metrics["reward.score"].tag == "rollout_scores/mean"
    assert run.metrics["kl.coef"].tag == "kl_ctl_value"
    assert run.metrics["clipfrac"].tag == "policy/clipfrac"
    assert run.metrics["ratio.mean"].tag == "ratio"
    assert run.metrics["loss.total"].tag == "losses/total_loss"
    assert run.metrics["eval.reward"].tag == "reward/mean"


def test_trlx_sqrt_kl_is_squared_by_run_metric():
    run = make_run({"policy/sqrt_kl": [1.0, 2.0, 3.0], "kl_ctl_value": [0.1, 0.1, 0.1]})
    assert run.metric("kl.ref").tolist() == [1.0, 4.0, 9.0]


def test_trlx_kl_per_token_is_the_fallback_and_squared():
    run = make_run({"policy/kl_per_token": [0.5, 0.1], "rollout_scores/mean": [1.0, 2.0], "kl_ctl_value": [0.1, 0.1]})
    assert binding(run, "kl.ref") == ("policy/kl_per_token", "square", "nats/token", "k3")
    assert run.metric("kl.ref").round(6).tolist() == [0.25, 0.01]


def test_deepspeed_chat_bindings():
    run = run_with(DEEPSPEED_CHAT_KEYS)
    assert run.metrics["reward.score"].tag == "reward"
    assert run.metrics["loss.policy"].tag == "actor_loss"
    assert run.metrics["value.loss"].tag == "critic_loss"
    assert "kl.ref" not in run.metrics


# ------------------------------------------------------------------ classic RL
def test_stable_baselines3_bindings():
    run = run_with(SB3_KEYS)
    assert binding(run, "entropy") == ("train/entropy_loss", "negate", "nats/action", None)
    assert binding(run, "kl.step") == ("train/approx_kl", "identity", "nats/action", "k3")
    assert run.metrics["rl.ep_return"].tag == "rollout/ep_rew_mean"
    assert run.metrics["rl.ep_len"].tag == "rollout/ep_len_mean"
    assert run.metrics["eval.reward"].tag == "eval/mean_reward"
    assert run.metrics["clipfrac"].tag == "train/clip_fraction"
    assert run.metrics["value.ev"].tag == "train/explained_variance"
    assert run.metrics["loss.policy"].tag == "train/policy_gradient_loss"
    assert run.metrics["loss.total"].tag == "train/loss"
    assert run.metrics["lr"].tag == "train/learning_rate"


def test_stable_baselines3_entropy_loss_is_negated_by_run_metric():
    run = make_run({"train/entropy_loss": [-0.69, -0.5, -0.1], "rollout/ep_rew_mean": [10, 20, 30]})
    assert run.metric("entropy").tolist() == [0.69, 0.5, 0.1]


def test_stable_baselines3_progress_csv_format_hint_decides_a_sparse_run():
    run = make_run({"train/loss": [1.0, 0.5], "train/learning_rate": [3e-4, 3e-4]}, resolve_aliases=False)
    run.metadata["format"] = "sb3_progress_csv"
    resolve(run)
    assert run.framework == "stable-baselines3"
    assert run.metrics["loss.total"].tag == "train/loss"


def test_cleanrl_bindings():
    run = run_with(CLEANRL_KEYS)
    assert binding(run, "kl.step") == ("losses/approx_kl", "identity", "nats/action", "k3")
    assert binding(run, "entropy") == ("losses/entropy", "identity", "nats/action", None)
    assert run.metrics["rl.ep_return"].tag == "charts/episodic_return"
    assert run.metrics["clipfrac"].tag == "losses/clipfrac"
    assert run.metrics["value.ev"].tag == "losses/explained_variance"
    assert run.metrics["lr"].tag == "charts/learning_rate"


def test_spinningup_bindings():
    run = run_with(SPINNINGUP_KEYS)
    assert binding(run, "kl.step") == ("KL", "identity", "nats/action", "k1")
    assert run.metrics["rl.ep_return"].tag == "AverageEpRet"
    assert run.metrics["rl.ep_len"].tag == "EpLen"
    assert run.metrics["clipfrac"].tag == "ClipFrac"
    assert run.metrics["entropy"].tag == "Entropy"
    assert run.metrics["value.loss"].tag == "LossV"
    assert run.metrics["loss.policy"].tag == "LossPi"


def test_hf_trainer_bindings():
    run = run_with(HF_TRAINER_KEYS)
    assert run.metrics["loss.total"].tag == "loss"
    assert run.metrics["grad_norm"].tag == "grad_norm"
    assert run.metrics["lr"].tag == "learning_rate"


# ------------------------------------------------------------------ short generic keys
def test_generic_kl_is_not_bound_for_a_framework_that_does_not_log_it():
    # SB3 has no KL to a reference: a stray "kl" tag must not become kl.ref.
    run = run_with(SB3_KEYS + ["kl"])
    assert "kl.ref" not in run.metrics


def test_generic_keys_bind_when_no_framework_is_recognised_and_say_so():
    run = run_with(["kl", "reward", "custom/thing"])
    assert run.framework is None
    assert run.metrics["kl.ref"].tag == "kl"
    assert run.metrics["kl.ref"].unit is None
    assert any("No RL trainer recognised" in n for n in run.notes)


def test_specific_key_binds_with_its_convention_in_an_unrecognised_run():
    # objective/kl alone names no trainer version, but every TRL version sums it over tokens.
    run = run_with(["objective/kl", "my/custom"])
    assert run.framework is None
    assert binding(run, "kl.ref") == ("objective/kl", "identity", "nats/sequence", "k1")


def test_specific_key_of_another_framework_fills_a_concept_the_detected_one_lacks():
    run = run_with(TRL_PPO_KEYS + ["critic/vf_explained_var"])
    assert run.framework == "trl-ppo"
    assert run.metrics["value.ev"].tag == "critic/vf_explained_var"


def test_val_ratio_is_not_taken_for_the_ppo_ratio_outside_trl():
    run = run_with(CLEANRL_KEYS + ["val/ratio"])
    assert "ratio.mean" not in run.metrics
