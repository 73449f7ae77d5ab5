"""resolve(): behaviour metrics, framework precedence, notes about traps, robustness."""

from pathlib import Path

import numpy as np
import pandas as pd

from analyzers.api import load
from analyzers.metrics import MAX_AUTO_BEHAVIOUR, resolve
from analyzers.model import Run
from analyzers.synthetic import make_run


def run_with(keys, resolve_aliases=True, **kwargs) -> Run:
    return make_run({k: np.linspace(1.0, 2.0, 4) for k in keys}, resolve_aliases=resolve_aliases, **kwargs)


def behaviour(run: Run) -> list[tuple[str, str, str]]:
    return [(b.tag, b.transform, b.source) for b in run.behaviour]


# ------------------------------------------------------------------ automatic behaviour metrics
def test_hf_eval_reward_and_accuracy_are_behaviour_higher_is_better():
    run = run_with(["reward", "reward_std", "kl", "completions/mean_length", "eval_reward", "eval_accuracy"])
    assert behaviour(run) == [("eval_accuracy", "identity", "auto"), ("eval_reward", "identity", "auto")]
    assert all("higher is better" in b.note for b in run.behaviour)


def test_eval_loss_is_behaviour_negated_so_higher_is_better():
    run = run_with(["loss", "grad_norm", "learning_rate", "eval_loss"])
    assert behaviour(run) == [("eval_loss", "negate", "auto")]
    assert "negated" in run.behaviour[0].note


def test_full_grpo_eval_set_keeps_only_reward_streams():
    keys = ["reward", "reward_std", "kl", "loss", "completions/mean_length"]
    evals = ["eval_loss", "eval_reward", "eval_reward_std", "eval_kl", "eval_entropy", "eval_num_tokens",
             "eval_completions/mean_length", "eval_completions/clipped_ratio", "eval_frac_reward_zero_std",
             "eval_rewards/accuracy_reward/mean", "eval_rewards/accuracy_reward/std", "eval_clip_ratio/region_mean",
             "eval_runtime", "eval_samples_per_second"]
    run = run_with(keys + evals)
    assert run.framework == "trl-grpo"
    assert [b.tag for b in run.behaviour] == ["eval_reward", "eval_rewards/accuracy_reward/mean"]


def test_perplexity_is_lower_is_better():
    run = run_with(["loss", "eval/perplexity"])
    assert behaviour(run) == [("eval/perplexity", "negate", "auto")]


def test_eval_bookkeeping_streams_are_not_behaviour():
    run = run_with(["loss", "eval_loss", "eval_runtime", "eval_samples_per_second", "eval_steps_per_second", "eval/epoch"])
    assert [b.tag for b in run.behaviour] == ["eval_loss"]


def test_dpo_implicit_reward_parts_are_not_behaviour_but_accuracy_is():
    run = run_with(["loss", "eval_rewards/chosen", "eval_rewards/rejected", "eval_rewards/accuracies", "eval_rewards/margins", "eval_logps/chosen"])
    assert [b.tag for b in run.behaviour] == ["eval_rewards/accuracies"]


def test_sb3_eval_mean_reward_is_behaviour_and_eval_reward():
    run = run_with(["rollout/ep_rew_mean", "train/entropy_loss", "eval/mean_reward", "eval/mean_ep_length"])
    assert behaviour(run) == [("eval/mean_reward", "identity", "auto")]
    assert run.metrics["eval.reward"].tag == "eval/mean_reward"


def test_verl_val_core_means_are_behaviour_std_is_not():
    run = run_with(["actor/pg_loss", "actor/ppo_kl", "critic/score/mean",
                    "val-core/openai/gsm8k/reward/mean@1", "val-core/math/acc/mean@4", "val-core/math/acc/std@4"])
    assert [b.tag for b in run.behaviour] == ["val-core/math/acc/mean@4", "val-core/openai/gsm8k/reward/mean@1"]
    assert run.metrics["eval.reward"].tag == "val-core/openai/gsm8k/reward/mean@1"


def test_openrlhf_eval_pass1_is_behaviour_length_is_not():
    run = run_with(["train/ppo_kl", "train/ppo_clip_ratio", "eval/eval_gsm8k_pass1", "eval/eval_response_length_mean", "eval/eval_truncated_rate"])
    assert [b.tag for b in run.behaviour] == ["eval/eval_gsm8k_pass1"]


def test_spinningup_test_return_is_behaviour():
    run = run_with(["AverageEpRet", "LossPi", "LossV", "AverageTestEpRet"])
    assert [b.tag for b in run.behaviour] == ["AverageTestEpRet"]
    assert run.metrics["eval.reward"].tag == "AverageTestEpRet"


def test_training_streams_are_never_automatic_behaviour():
    run = run_with(["reward", "kl", "completions/mean_length", "rewards/accuracy_reward/mean"])
    assert run.behaviour == []


def test_too_many_eval_streams_are_capped_with_a_note():
    keys = ["actor/pg_loss", "actor/ppo_kl"] + [f"val-core/ds{i:02d}/acc/mean@1" for i in range(MAX_AUTO_BEHAVIOUR + 3)]
    run = run_with(keys)
    assert len(run.behaviour) == MAX_AUTO_BEHAVIOUR
    assert any("--behaviour" in n for n in run.notes)


# ------------------------------------------------------------------ user behaviour metrics
def test_user_behaviour_comes_first():
    run = run_with(["reward", "eval_reward", "holdout/gold"], behaviour=["holdout/gold"])
    assert [b.tag for b in run.behaviour] == ["holdout/gold", "eval_reward"]
    assert run.behaviour[0].source == "user"


def test_user_behaviour_lower_suffix_negates():
    run = run_with(["reward", "holdout/toxicity"], behaviour=["holdout/toxicity:lower"])
    assert behaviour(run) == [("holdout/toxicity", "negate", "user")]


def test_user_behaviour_without_direction_infers_lower_for_a_loss():
    run = run_with(["reward", "holdout/loss"], behaviour=["holdout/loss"])
    assert behaviour(run) == [("holdout/loss", "negate", "user")]


def test_user_behaviour_matches_eval_underscore_against_eval_slash():
    run = run_with(["train/reward", "eval/win_rate"], behaviour=["eval_win_rate"])
    assert run.behaviour[0].tag == "eval/win_rate"


def test_missing_user_behaviour_is_noted_with_the_closest_tags():
    run = run_with(["reward", "eval/win_rate"], behaviour=["eval/winrate"])
    note = next(n for n in run.notes if "eval/winrate" in n)
    assert "not in this run" in note and "eval/win_rate" in note
    assert [b.source for b in run.behaviour] == ["auto"]


def test_the_optimised_reward_is_refused_as_a_behaviour_metric():
    run = run_with(["reward", "reward_std", "completions/mean_length"], behaviour=["reward"])
    assert run.behaviour == []
    assert any("optimised training reward" in n for n in run.notes)


# ------------------------------------------------------------------ framework precedence
def test_reader_framework_is_kept_when_tags_agree():
    run = run_with(["loss", "reward", "kl"], resolve_aliases=False)
    run.framework = "trl-grpo"
    resolve(run)
    assert run.framework == "trl-grpo"
    assert (run.metrics["kl.ref"].unit, run.metrics["kl.ref"].estimator) == ("nats/token", "k3")


def test_reader_framework_is_replaced_when_tags_clearly_contradict_it():
    run = run_with(["rollout/ep_rew_mean", "train/entropy_loss", "train/approx_kl"], resolve_aliases=False)
    run.framework = "verl"
    resolve(run)
    assert run.framework == "stable-baselines3"
    assert any("reader reported framework 'verl'" in n for n in run.notes)


def test_reader_family_id_is_refined():
    run = run_with(["loss", "reward", "frac_reward_zero_std", "completions/mean_length"], resolve_aliases=False)
    run.framework = "trl"
    resolve(run)
    assert run.framework == "trl-grpo"


def test_trainer_state_format_restricts_detection_to_trainer_subclasses():
    run = run_with(["loss", "grad_norm", "learning_rate", "reward", "kl"], resolve_aliases=False)
    run.metadata["format"] = "hf_trainer_state"
    resolve(run)
    assert run.framework == "hf-trainer"


# ------------------------------------------------------------------ notes
def test_trl_kl_sum_trap_is_noted():
    run = run_with(["objective/kl", "objective/scores", "objective/rlhf_reward"])
    assert any("objective/kl" in n and "nats per sequence" in n and "token means" in n for n in run.notes)


def test_trlx_sqrt_trap_is_noted():
    run = run_with(["policy/sqrt_kl", "rollout_scores/mean", "kl_ctl_value"])
    assert any("square root" in n for n in run.notes)


def test_sb3_entropy_sign_trap_is_noted():
    run = run_with(["rollout/ep_rew_mean", "train/entropy_loss"])
    assert any("minus the entropy" in n for n in run.notes)


def test_resolving_again_replaces_the_previous_resolution_and_its_notes():
    run = run_with(["objective/kl", "objective/scores"])
    run.notes.append("reader note")
    before = list(run.notes)
    resolve(run)
    assert sorted(run.notes) == sorted(before)
    assert run.metrics["kl.ref"].tag == "objective/kl"


def test_reader_framework_survives_a_second_resolve():
    run = run_with(["loss", "reward"], resolve_aliases=False)
    run.framework = "trl-grpo"
    resolve(run)
    resolve(run)
    assert run.framework == "trl-grpo"


# ------------------------------------------------------------------ robustness
def test_unknown_tags_resolve_to_nothing_with_a_note():
    run = run_with(["foo", "bar/baz", "Qux"])
    assert run.framework is None
    assert run.metrics == {} and run.behaviour == []
    assert any("No canonical metric found" in n for n in run.notes)


def test_empty_run_resolves_without_error():
    run = Run.from_long("empty", pd.DataFrame({"tag": [], "step": [], "value": []}))
    resolve(run)
    assert run.framework is None and run.metrics == {} and run.notes == []


def test_behaviour_given_as_a_single_string_is_one_tag():
    run = run_with(["reward", "holdout/gold"], resolve_aliases=False)
    resolve(run, None, "holdout/gold")
    assert [b.tag for b in run.behaviour] == ["holdout/gold"]


def test_json_summary_lists_the_bound_tags():
    run = run_with(["rollout/ep_rew_mean", "train/entropy_loss"])
    assert run.summary()["metrics"] == {"entropy": "train/entropy_loss", "rl.ep_return": "rollout/ep_rew_mean"}
    assert run.summary()["framework"] == "stable-baselines3"


# ------------------------------------------------------------------ files written by the real trainers
SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"


def test_real_sb3_progress_csv_resolves_to_stable_baselines3_conventions():
    [run] = load([SAMPLES / "sb3" / "cartpole_healthy" / "progress.csv"]).runs
    assert run.framework == "stable-baselines3"
    assert run.metrics["entropy"].transform == "negate"
    assert (run.metric("entropy").dropna() > 0).all()
    assert [b.tag for b in run.behaviour] == ["eval/mean_reward"]


def _trl_sample(kind: str) -> Run:
    # The folder holds the same run twice (event file and trainer_state.json): read each file.
    folder = SAMPLES / "trl" / "grpo_kl_blowup"
    [path] = [p for p in folder.iterdir() if kind in p.name]
    [run] = load([path]).runs
    return run


def test_real_trl_grpo_tensorboard_log_resolves_through_the_train_prefix():
    run = _trl_sample("tfevents")
    assert run.framework == "trl-grpo"
    assert (run.metrics["kl.ref"].tag, run.metrics["kl.ref"].unit, run.metrics["kl.ref"].estimator) == ("train/kl", "nats/token", "k3")


def test_real_trl_grpo_trainer_state_resolves_the_same_concepts_unprefixed():
    tensorboard, state = _trl_sample("tfevents"), _trl_sample("trainer_state")
    assert state.framework == "trl-grpo"
    assert state.metrics["kl.ref"].tag == "kl"
    assert set(state.metrics) == set(tensorboard.metrics)


def test_an_eval_quality_score_is_a_behaviour_metric():
    # A callback's held-out "true quality" score is exactly what reward hacking drives down.
    run = make_run({"train/reward": [0.1, 0.2], "train/frac_reward_zero_std": [0.1, 0.1], "eval/true_quality": [0.9, 0.5]})
    assert [b.tag for b in run.behaviour] == ["eval/true_quality"]
