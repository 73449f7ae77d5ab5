"""The alias table: which logged key provides each canonical concept, per trainer.

One :class:`Alias` per (framework, concept, key), in preference order: the first key present in a
run wins. Each alias carries the conventions that make trainers comparable: a ``transform`` to
the positive/linear convention (``negate`` for SB3's ``train/entropy_loss``, ``square`` for
trlx's square-root KL), the ``unit`` of the transformed values (``nats/token`` vs
``nats/sequence``) and, for KL keys, the ``estimator`` (k1/k2/k3, Schulman 2020).

Keys are written as the trainer logs them, without the prefixes HF callbacks and W&B add
(``train/`` for training keys; ``eval/`` and ``eval_`` for eval keys, see
:func:`candidate_tags`). Sources: ``shared/research/metrics.md`` §1.2-1.4, whose tags
([TRL-old], [TRL-ppo], [TRL-grpo], [verl], [ORLHF], [trlx], [DSChat], [SB3], [CleanRL],
[SpinUp], [HF-Trainer]) name the files and commits the keys were read from.
"""

from __future__ import annotations

from dataclasses import dataclass

# Units of the transformed values.
NATS_PER_TOKEN = "nats/token"
NATS_PER_SEQUENCE = "nats/sequence"
NATS_PER_ACTION = "nats/action"
TOKENS = "tokens"
FRACTION = "fraction"
STEPS = "steps"

# Prefixes HF's TensorBoardCallback/WandbCallback (``rewrite_logs``) and OpenRLHF's W&B/TB
# logger put in front of training and eval keys [HF-Trainer integration_utils.py; ORLHF
# logging_utils.py]; ``eval_`` is how HF ``trainer_state.json`` names eval entries.
TRAIN_PREFIXES = ("", "train/")
EVAL_PREFIXES = ("eval/", "eval_", "eval/eval_")

# Keys too short and common to bind on their own: only the detected framework's table may use
# them (or the generic fallback, when no framework is detected and nothing specific exists).
GENERIC_KEYS = frozenset(
    {
        "kl", "reward", "reward_std", "entropy", "entropy_loss", "loss", "return", "values",
        "policy_loss", "critic_loss", "actor_loss", "response_length", "total_length", "ratio",
        "lr", "learning_rate", "grad_norm", "KL", "Entropy", "EpLen",
    }
)

FRAMEWORKS = (
    "trl-ppo-legacy",
    "trl-ppo",
    "trl-grpo",
    "verl",
    "openrlhf",
    "trlx",
    "deepspeed-chat",
    "stable-baselines3",
    "cleanrl",
    "spinningup",
    "hf-trainer",
)


@dataclass(frozen=True)
class Alias:
    """One logged key that provides a concept, with its conventions.

    ``eval`` keys are logged at evaluation time, so their prefixed forms are ``eval/key`` and
    ``eval_key`` rather than ``train/key``. ``note`` says what to know about the key, as a
    sentence; it goes on the binding, and into the run's notes too when ``warn`` is set (units,
    signs and scales that would mislead a reader of the raw chart). ``strict`` keys are bound
    only when their framework is detected.
    """

    concept: str
    key: str
    transform: str = "identity"
    unit: str | None = None
    estimator: str | None = None
    note: str | None = None
    eval: bool = False
    strict: bool = False
    warn: bool = False  # also put the note in the run's notes (a trap that changes how to read it)

    @property
    def generic(self) -> bool:
        """Bind only for the detected framework: the key is short, or means other things elsewhere."""
        return self.strict or self.key in GENERIC_KEYS


def candidate_tags(alias: Alias) -> tuple[str, ...]:
    """The tag names under which ``alias.key`` can appear in a run, most literal first."""
    if alias.eval:
        return tuple(p + alias.key for p in EVAL_PREFIXES)
    return tuple(p + alias.key for p in TRAIN_PREFIXES)


def _kl_sum_note(key: str, estimator: str) -> str:
    return (
        f"kl.ref is {key}, {estimator} summed over the response tokens (nats per sequence); "
        "TRL GRPO, verl and OpenRLHF log token means, so divide by the response length before comparing."
    )


A = Alias

# TRL <= 0.11 PPOTrainer [TRL-old ppo_trainer.py record_step_stats/loss; TRL-logdoc].
TRL_PPO_LEGACY = (
    A("reward.score", "ppo/mean_scores"),
    A("reward.score", "env/reward_mean"),
    A("reward.score_std", "ppo/std_scores"),
    A("reward.score_std", "env/reward_std"),
    A("kl.ref", "objective/kl", unit=NATS_PER_SEQUENCE, estimator="k1", note=_kl_sum_note("objective/kl", "k1"), warn=True),
    A("kl.coef", "objective/kl_coef"),
    A("kl.step", "ppo/policy/approxkl", unit=NATS_PER_TOKEN, estimator="k2"),
    A("kl.step", "ppo/policy/policykl", unit=NATS_PER_TOKEN, estimator="k1",
      note="kl.step is ppo/policy/policykl, the k1 estimator: small negative values are expected noise."),
    A("clipfrac", "ppo/policy/clipfrac", unit=FRACTION),
    A("entropy", "ppo/policy/entropy", unit=NATS_PER_TOKEN),
    A("entropy", "objective/entropy", unit=NATS_PER_SEQUENCE,
      note="entropy is objective/entropy, summed over the sequence: it moves with response length.", warn=True),
    A("adv.mean", "ppo/policy/advantages_mean"),
    A("value.loss", "ppo/loss/value"),
    A("value.ev", "ppo/val/var_explained"),
    A("value.mean", "ppo/val/mean"),
    A("return.mean", "ppo/returns/mean"),
    A("loss.policy", "ppo/loss/policy"),
    A("loss.total", "ppo/loss/total"),
    A("len.mean", "tokens/responses_len_mean", unit=TOKENS),
    A("lr", "ppo/learning_rate"),
)

# TRL PPOv2Trainer (0.9-0.11), PPOTrainer 0.12+, RLOOTrainer <= 0.21 [TRL-ppo; TRL-ppodoc].
TRL_PPO = (
    A("reward.score", "objective/scores"),
    A("reward.total", "objective/rlhf_reward"),
    A("kl.ref", "objective/kl", unit=NATS_PER_SEQUENCE, estimator="k1",
      note=_kl_sum_note("objective/kl", "k1 (k3 when kl_estimator='k3')"), warn=True),
    A("kl.step", "policy/approxkl_avg", unit=NATS_PER_TOKEN, estimator="k2"),
    A("clipfrac", "policy/clipfrac_avg", unit=FRACTION),
    # "val/" is TRL's value-head namespace, but elsewhere it often means validation.
    A("ratio.mean", "val/ratio", strict=True),
    A("ratio.var", "val/ratio_var", strict=True),
    A("entropy", "policy/entropy_avg", unit=NATS_PER_TOKEN),
    A("entropy", "objective/entropy", unit=NATS_PER_SEQUENCE,
      note="entropy is objective/entropy, summed over the sequence: it moves with response length.", warn=True),
    A("value.loss", "loss/value_avg"),
    A("loss.policy", "loss/policy_avg"),
    A("lr", "lr"),
    A("lr", "learning_rate"),
    A("grad_norm", "grad_norm"),
)

# TRL GRPOTrainer 0.14+, RLOOTrainer 0.22+ [TRL-grpo grpo_trainer.py; TRL-grpodoc "Logged metrics"].
# Renames: completion_length -> completions/mean_length (0.17), clip_ratio ->
# clip_ratio/region_mean (0.17), rewards/<name> -> rewards/<name>/mean (0.17).
TRL_GRPO = (
    A("reward.score", "reward"),
    A("reward.score_std", "reward_std"),
    A("kl.ref", "kl", unit=NATS_PER_TOKEN, estimator="k3"),
    A("clipfrac", "clip_ratio/region_mean", unit=FRACTION),
    A("clipfrac", "clip_ratio", unit=FRACTION),
    A("entropy", "entropy", unit=NATS_PER_TOKEN),
    A("len.mean", "completions/mean_length", unit=TOKENS),
    A("len.mean", "completion_length", unit=TOKENS),
    A("len.max", "completions/max_length", unit=TOKENS),
    A("len.clip_ratio", "completions/clipped_ratio", unit=FRACTION),
    A("grpo.frac_zero_std", "frac_reward_zero_std", unit=FRACTION),
    A("ratio.is_mean", "sampling/importance_sampling_ratio/mean"),
    A("mismatch.logp_diff", "sampling/sampling_logp_difference/mean"),
    A("loss.policy", "policy_loss"),
    A("loss.total", "loss",
      note="loss.total is the GRPO loss value, which equals beta*KL when num_iterations=1: not a health signal.", warn=True),
    A("grad_norm", "grad_norm"),
    A("lr", "learning_rate"),
    A("eval.reward", "reward", eval=True),
)

# verl [verl metric_utils.py, dp_actor.py, dp_critic.py, ray_trainer.py, core_algos.py].
VERL = (
    A("reward.score", "critic/score/mean"),
    A("reward.score_max", "critic/score/max"),
    A("reward.score_min", "critic/score/min"),
    A("reward.total", "critic/rewards/mean"),
    A("kl.ref", "actor/reward_kl_penalty", unit=NATS_PER_TOKEN, estimator="k1",
      note="kl.ref is actor/reward_kl_penalty, a token mean; its estimator is algorithm.kl_penalty (k1 by default)."),
    A("kl.ref", "critic/kl", unit=NATS_PER_TOKEN, estimator="k1"),
    A("kl.ref", "actor/kl_loss", unit=NATS_PER_TOKEN, estimator="k3",
      note="kl.ref is actor/kl_loss, a token mean; its estimator is actor.kl_loss_type (low_var_kl = k3 by default)."),
    A("kl.coef", "actor/reward_kl_penalty_coeff"),
    A("kl.coef", "critic/kl_coeff"),
    A("kl.coef", "actor/kl_coef"),
    A("kl.step", "actor/ppo_kl", unit=NATS_PER_TOKEN, estimator="k1",
      note="kl.step is actor/ppo_kl, the k1 estimator: small negative values are expected noise."),
    A("clipfrac", "actor/pg_clipfrac", unit=FRACTION),
    A("entropy", "actor/entropy", unit=NATS_PER_TOKEN),
    # Older verl logged the (positive) token-mean entropy under this name.
    A("entropy", "actor/entropy_loss", unit=NATS_PER_TOKEN),
    A("adv.mean", "critic/advantages/mean"),
    A("adv.max", "critic/advantages/max"),
    A("adv.min", "critic/advantages/min"),
    A("value.loss", "critic/vf_loss"),
    A("value.ev", "critic/vf_explained_var"),
    A("value.mean", "critic/values/mean"),
    A("return.mean", "critic/returns/mean"),
    A("loss.policy", "actor/pg_loss"),
    A("loss.total", "actor/loss"),
    A("len.mean", "response_length/mean", unit=TOKENS),
    A("len.max", "response_length/max", unit=TOKENS),
    A("len.clip_ratio", "response_length/clip_ratio", unit=FRACTION),
    A("grad_norm", "actor/grad_norm"),
    A("critic.grad_norm", "critic/grad_norm"),
    A("lr", "actor/lr"),
    A("mismatch.logp_diff", "training/rollout_probs_diff_mean"),
    # Rollout correction (TIS/MIS) diagnostics [verl-docs rollout_corr.md].
    A("ratio.is_mean", "rollout_corr/rollout_is_mean"),
)

# OpenRLHF, current and v0.5/v0.8 keys [ORLHF ppo_actor.py training_step, ppo_critic.py,
# ppo_trainer.py rollout stats]. W&B/TB add train/ (matched by the prefix rule).
OPENRLHF = (
    A("reward.score", "rollout/reward_mean"),
    A("reward.score", "reward"),
    A("reward.score_std", "rollout/reward_std"),
    A("reward.total", "return"),
    A("kl.ref", "kl", unit=NATS_PER_TOKEN, estimator="k1",
      note="kl.ref is OpenRLHF kl, a per-sample token mean; its estimator is --kl_estimator (k1 by default)."),
    A("kl.step", "ppo_kl", unit=NATS_PER_TOKEN, estimator="k1",
      note="kl.step is ppo_kl, the k1 estimator: small negative values are expected noise."),
    A("clipfrac", "ppo_clip_ratio", unit=FRACTION),
    A("entropy", "entropy_loss", unit=NATS_PER_TOKEN),
    A("value.loss", "critic_loss"),
    A("value.mean", "values"),
    A("return.mean", "return"),
    A("loss.policy", "policy_loss"),
    A("len.mean", "rollout/response_length_mean", unit=TOKENS),
    A("len.mean", "response_length", unit=TOKENS),
    A("len.clip_ratio", "rollout/truncated_rate", unit=FRACTION),
    A("grad_norm", "actor_grad_norm"),
    A("lr", "actor_lr"),
    # KL between the vLLM rollout logprobs and the training engine's [ORLHF experience_maker.py].
    A("mismatch.logp_diff", "vllm_kl", unit=NATS_PER_TOKEN),
)

# trlx [trlx modeling_ppo.py L185-237, accelerate_ppo_trainer.py L457-511].
TRLX = (
    A("reward.score", "rollout_scores/mean"),
    A("reward.score_std", "rollout_scores/std"),
    A("kl.ref", "policy/sqrt_kl", transform="square", unit=NATS_PER_SEQUENCE, estimator="k3",
      note="kl.ref is policy/sqrt_kl squared: trlx logs the square root of the k3 KL summed over tokens (nats per sequence).", warn=True),
    A("kl.ref", "policy/kl_per_token", transform="square", unit=NATS_PER_TOKEN, estimator="k3",
      note="kl.ref is policy/kl_per_token squared: trlx logs the square root of the token-mean k3 KL.", warn=True),
    A("kl.coef", "kl_ctl_value"),
    A("kl.step", "policy/approx_kl", unit=NATS_PER_TOKEN, estimator="k3"),
    A("clipfrac", "policy/clipfrac", unit=FRACTION),
    A("ratio.mean", "ratio"),
    A("value.loss", "losses/value_loss"),
    A("value.mean", "values/mean"),
    A("return.mean", "returns/mean"),
    A("loss.policy", "losses/policy_loss"),
    A("loss.total", "losses/total_loss"),
    A("lr", "learning_rate_group_0"),
    # trlx evaluate() logs the reward model's mean on the eval prompts under this key.
    A("eval.reward", "reward/mean", strict=True),
)

# DeepSpeed-Chat step 3 TensorBoard (5 tags) [DSChat main.py L576-612].
DEEPSPEED_CHAT = (
    A("reward.score", "reward"),
    A("loss.policy", "actor_loss"),
    A("value.loss", "critic_loss"),
)

# stable-baselines3 PPO [SB3 ppo.py L250-300, on_policy_algorithm.py, callbacks.py EvalCallback].
STABLE_BASELINES3 = (
    A("rl.ep_return", "rollout/ep_rew_mean"),
    A("rl.ep_len", "rollout/ep_len_mean", unit=STEPS),
    A("eval.reward", "eval/mean_reward"),
    A("kl.step", "train/approx_kl", unit=NATS_PER_ACTION, estimator="k3"),
    A("clipfrac", "train/clip_fraction", unit=FRACTION,
      note="clipfrac is train/clip_fraction, which counts every |ratio-1| > clip_range whatever the advantage sign (higher than TRL/verl counts)."),
    A("entropy", "train/entropy_loss", transform="negate", unit=NATS_PER_ACTION,
      note="entropy is -train/entropy_loss: SB3 logs minus the entropy, so collapse shows as the raw value rising toward 0.", warn=True),
    A("value.loss", "train/value_loss"),
    A("value.ev", "train/explained_variance"),
    A("loss.policy", "train/policy_gradient_loss"),
    # HF callbacks write the Trainer's loss and learning rate under these same names.
    A("loss.total", "train/loss", strict=True),
    A("lr", "train/learning_rate", strict=True),
)

# CleanRL ppo*.py [CleanRL ppo.py L240-309; docs/rl-algorithms/ppo.md].
CLEANRL = (
    A("rl.ep_return", "charts/episodic_return"),
    A("rl.ep_len", "charts/episodic_length", unit=STEPS),
    A("kl.step", "losses/approx_kl", unit=NATS_PER_ACTION, estimator="k3"),
    A("kl.step", "losses/old_approx_kl", unit=NATS_PER_ACTION, estimator="k1"),
    A("clipfrac", "losses/clipfrac", unit=FRACTION),
    A("entropy", "losses/entropy", unit=NATS_PER_ACTION),
    A("value.loss", "losses/value_loss"),
    A("value.ev", "losses/explained_variance"),
    A("loss.policy", "losses/policy_loss"),
    A("lr", "charts/learning_rate"),
)

# Spinning Up progress.txt (log_tabular; with_min_and_max gives Average/Std/Max/Min) [SpinUp].
SPINNINGUP = (
    A("rl.ep_return", "AverageEpRet"),
    A("rl.ep_return", "EpRet"),
    A("rl.ep_len", "EpLen", unit=STEPS),
    A("rl.ep_len", "AverageEpLen", unit=STEPS),
    A("eval.reward", "AverageTestEpRet"),
    A("kl.step", "KL", unit=NATS_PER_ACTION, estimator="k1",
      note="kl.step is Spinning Up KL = mean(logp_old - logp), the k1 estimator: small negative values are expected noise."),
    A("clipfrac", "ClipFrac", unit=FRACTION),
    A("entropy", "Entropy", unit=NATS_PER_ACTION),
    A("value.loss", "LossV"),
    A("value.mean", "AverageVVals"),
    A("loss.policy", "LossPi"),
)

# Plain HF Trainer [HF-Trainer trainer.py log()].
HF_TRAINER = (
    A("loss.total", "loss"),
    A("grad_norm", "grad_norm"),
    A("lr", "learning_rate"),
)

# Used only when no framework is detected, for concepts nothing more specific provides.
GENERIC = (
    A("reward.score", "reward"),
    A("reward.score_std", "reward_std"),
    A("kl.ref", "kl"),
    A("entropy", "entropy"),
    A("loss.total", "loss"),
    A("grad_norm", "grad_norm"),
    A("lr", "learning_rate"),
    A("lr", "lr"),
)

ALIASES: dict[str, tuple[Alias, ...]] = {
    "trl-ppo-legacy": TRL_PPO_LEGACY,
    "trl-ppo": TRL_PPO,
    "trl-grpo": TRL_GRPO,
    "verl": VERL,
    "openrlhf": OPENRLHF,
    "trlx": TRLX,
    "deepspeed-chat": DEEPSPEED_CHAT,
    "stable-baselines3": STABLE_BASELINES3,
    "cleanrl": CLEANRL,
    "spinningup": SPINNINGUP,
    "hf-trainer": HF_TRAINER,
}

# Notes about a framework's logging that matter even when no key is bound to them.
FRAMEWORK_NOTES: dict[str, dict[str, str]] = {
    # keyed by framework, then by the concept whose absence the note explains
    "trl-grpo": {"kl.ref": "No KL to the reference is logged: TRL GRPO logs kl only when beta != 0 (the default beta is 0)."},
    "deepspeed-chat": {"kl.ref": "DeepSpeed-Chat logs no KL, ratio or entropy scalars; KL-based checks cannot run."},
}
