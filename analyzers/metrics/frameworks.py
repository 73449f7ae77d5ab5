"""Which trainer wrote a run, from its tag names (and the reader's format hint).

Each framework has marker keys that only it logs (metrics.md §1.2-1.3). A run scores one point
per marker present, with or without the ``train/`` prefix HF callbacks and OpenRLHF's W&B/TB
logger add; the best score wins. The plain HF Trainer keys (``loss``, ``grad_norm``,
``learning_rate``) are shared by every Trainer subclass, so ``hf-trainer`` only wins when no
RL trainer's marker is present.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

from .aliases import FRAMEWORKS

# Marker keys (exact, after stripping a leading "train/") or regular expressions (prefixed "re:").
MARKERS: dict[str, tuple[str, ...]] = {
    "trl-ppo-legacy": (
        "ppo/mean_scores", "ppo/std_scores", "ppo/mean_non_score_reward", "ppo/loss/policy",
        "ppo/loss/value", "ppo/loss/total", "ppo/policy/approxkl", "ppo/policy/policykl",
        "ppo/policy/clipfrac", "ppo/policy/entropy", "ppo/val/var_explained", "ppo/returns/mean",
        "env/reward_mean", "tokens/responses_len_mean", "objective/kl_coef", "re:^time/ppo/",
    ),
    "trl-ppo": (
        "objective/scores", "objective/rlhf_reward", "objective/non_score_reward",
        "policy/approxkl_avg", "policy/clipfrac_avg", "policy/entropy_avg", "loss/policy_avg",
        "loss/value_avg", "val/clipfrac_avg", "val/ratio", "val/ratio_var", "val/num_eos_tokens",
    ),
    "trl-grpo": (
        "completions/mean_length", "completions/max_length", "completions/clipped_ratio",
        "completions/mean_terminated_length", "completion_length", "frac_reward_zero_std",
        "reward_std", "clip_ratio/region_mean", "clip_ratio/low_mean", "clip_ratio/high_mean",
        "num_tokens", "re:^rewards/[^/]+/(mean|std)$", "sampling/importance_sampling_ratio/mean",
    ),
    "verl": (
        "actor/pg_loss", "actor/ppo_kl", "actor/pg_clipfrac", "actor/entropy", "actor/kl_loss",
        "actor/reward_kl_penalty", "critic/score/mean", "critic/rewards/mean",
        "critic/advantages/mean", "critic/returns/mean", "critic/vf_loss", "critic/kl",
        "response_length/mean", "response_length/clip_ratio", "training/global_step",
        "re:^timing_s/", "re:^val-core/",
    ),
    "openrlhf": (
        "ppo_kl", "ppo_clip_ratio", "actor_lr", "critic_lr", "policy_loss+actor_lr",
        "rollout/reward_mean", "rollout/truncated_rate", "rollout/response_length_mean",
        "actor_grad_norm", "total_length", "group_reward_std", "dynamic_filtering_pass_rate",
        "vllm_kl", "ptx_loss",
    ),
    "trlx": (
        "policy/sqrt_kl", "policy/kl_per_token", "policy/approx_kl", "rollout_scores/mean",
        "rollout_scores/running_mean", "kl_ctl_value", "padding_percentage", "losses/total_loss",
        "values/values_error", "re:^learning_rate_group_\\d+$",
    ),
    "deepspeed-chat": ("actor_loss", "actor_loss_sum", "critic_loss_sum"),
    "stable-baselines3": (
        "rollout/ep_rew_mean", "rollout/ep_len_mean", "train/entropy_loss", "train/policy_gradient_loss",
        "train/clip_fraction", "train/approx_kl", "train/explained_variance", "train/clip_range",
        "train/n_updates", "time/fps", "time/total_timesteps", "eval/mean_reward", "eval/mean_ep_length",
    ),
    "cleanrl": (
        "charts/episodic_return", "charts/episodic_length", "charts/SPS", "charts/learning_rate",
        "losses/approx_kl", "losses/old_approx_kl", "losses/clipfrac", "losses/explained_variance",
        "losses/entropy",
    ),
    "spinningup": (
        "AverageEpRet", "StdEpRet", "MaxEpRet", "MinEpRet", "LossPi", "LossV", "DeltaLossPi",
        "DeltaLossV", "ClipFrac", "StopIter", "TotalEnvInteracts", "AverageVVals", "AverageTestEpRet",
    ),
    "hf-trainer": ("loss", "grad_norm", "learning_rate", "epoch", "eval_loss", "eval/loss", "train_loss"),
}

# Reader format ids (``run.metadata["format"]``) that name the writer outright, and the ones that
# narrow it to a family. A hint counts as this many markers.
FORMAT_FRAMEWORK = {
    "sb3_progress_csv": "stable-baselines3",
    "sb3_progress_json": "stable-baselines3",
    "spinningup_progress": "spinningup",
    "verl_jsonl": "verl",
}
FORMAT_FAMILY = {
    # trainer_state.json is written by transformers.Trainer and its TRL subclasses only.
    "hf_trainer_state": ("trl-ppo", "trl-grpo", "hf-trainer"),
    "hf_log_history": ("trl-ppo", "trl-grpo", "hf-trainer"),
}
FORMAT_HINT_WEIGHT = 3

# Names readers or users may use for a framework, mapped to our ids.
SYNONYMS = {
    "sb3": "stable-baselines3",
    "stable_baselines3": "stable-baselines3",
    "spinup": "spinningup",
    "spinning-up": "spinningup",
    "deepspeed": "deepspeed-chat",
    "dschat": "deepspeed-chat",
    "trl-grpo-rloo": "trl-grpo",
    "transformers": "hf-trainer",
    "hf": "hf-trainer",
}

# Reader ids that name a family; detection refines them (a reader seeing trainer_state.json may
# only know "trl").
FAMILIES = {"trl": ("trl-ppo-legacy", "trl-ppo", "trl-grpo")}

_FALLBACK = "hf-trainer"


def strip_train_prefix(tag: str) -> str:
    return tag[len("train/"):] if tag.startswith("train/") else tag


def canonical_framework_id(name: str | None) -> str | None:
    """Our id for a framework name (``"sb3"`` -> ``"stable-baselines3"``), or the name unchanged."""
    if name is None:
        return None
    key = name.strip().lower()
    if key in FRAMEWORKS:
        return key
    return SYNONYMS.get(key, name)


def framework_scores(tags: Iterable[str], format_hint: str | None = None) -> dict[str, int]:
    """Marker count per framework (only frameworks with a positive score)."""
    raw = set(tags)
    names = raw | {strip_train_prefix(t) for t in raw}
    scores: dict[str, int] = {}
    for framework, markers in MARKERS.items():
        score = 0
        for marker in markers:
            if marker.startswith("re:"):
                pattern = re.compile(marker[3:])
                score += any(pattern.search(n) for n in names)
            elif "+" in marker:
                score += all(part in names for part in marker.split("+"))
            else:
                score += marker in names
        if score:
            scores[framework] = score
    if format_hint in FORMAT_FRAMEWORK:
        target = FORMAT_FRAMEWORK[format_hint]
        scores[target] = scores.get(target, 0) + FORMAT_HINT_WEIGHT
    return scores


def detect_framework(tags: Iterable[str], metadata: Mapping[str, object] | None = None) -> str | None:
    """The framework id whose markers best match ``tags``, or None when nothing matches.

    Ties go to the framework listed first in :data:`analyzers.metrics.aliases.FRAMEWORKS`
    (more specific trainers come first). ``metadata["format"]`` from a reader adds weight to
    the framework that format implies, or restricts the choice to a family.
    """
    format_hint = (metadata or {}).get("format")
    format_hint = format_hint if isinstance(format_hint, str) else None
    scores = framework_scores(tags, format_hint)
    allowed = FORMAT_FAMILY.get(format_hint or "", FRAMEWORKS)
    rl_scores = {f: s for f, s in scores.items() if f != _FALLBACK and f in allowed}
    if rl_scores:
        best = max(rl_scores.values())
        return next(f for f in FRAMEWORKS if rl_scores.get(f) == best)
    if _FALLBACK in scores or format_hint in FORMAT_FAMILY:
        return _FALLBACK
    return None


def contradicts(framework: str, scores: Mapping[str, int]) -> bool:
    """True when the tags clearly say another trainer wrote the run than ``framework``.

    Clearly: ``framework`` has no marker at all while another RL trainer has at least two.
    """
    if scores.get(framework, 0) > 0:
        return False
    return any(s >= 2 for f, s in scores.items() if f not in (framework, _FALLBACK))
