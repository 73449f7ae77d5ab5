"""Canonical metric concepts: the vocabulary rules use instead of framework-specific tags.

IDs follow ``shared/research/metrics.md`` §1.1. Each concept says what its comparable value is
(after the binding's transform), so rules can use one threshold across frameworks.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Concept:
    id: str
    label: str
    description: str
    higher_is_better: bool | None = None


CONCEPTS: tuple[Concept, ...] = (
    Concept("reward.score", "Reward score", "Reward-model or verifier score per sequence, batch mean (no KL penalty).", True),
    Concept("reward.score_std", "Reward score std", "Standard deviation of the score over the batch."),
    Concept("reward.score_max", "Reward score max", "Batch maximum of the score."),
    Concept("reward.score_min", "Reward score min", "Batch minimum of the score."),
    Concept("reward.total", "Reward total", "Score minus the KL penalty: the RLHF reward actually optimised.", True),
    Concept("kl.ref", "KL to reference", "KL between the policy and the frozen reference/SFT model."),
    Concept("kl.coef", "KL coefficient", "KL penalty coefficient beta (fixed or adaptive)."),
    Concept("kl.step", "Approx KL per update", "KL between the rollout policy and the updated policy within one PPO update."),
    Concept("clipfrac", "Clip fraction", "Fraction of tokens/samples where the PPO ratio clip was active."),
    Concept("ratio.mean", "Ratio mean", "Mean importance ratio pi_new / pi_old."),
    Concept("ratio.var", "Ratio variance", "Variance of the importance ratio."),
    Concept("ratio.max", "Ratio max", "Maximum importance ratio."),
    Concept("ratio.min", "Ratio min", "Minimum importance ratio."),
    Concept("entropy", "Entropy", "Policy entropy (per token for LLMs; per action for classic RL). Positive convention."),
    Concept("adv.mean", "Advantage mean", "Mean advantage (after whitening/group normalisation)."),
    Concept("adv.std", "Advantage std", "Standard deviation of the advantages."),
    Concept("adv.max", "Advantage max", "Maximum advantage in the batch."),
    Concept("adv.min", "Advantage min", "Minimum advantage in the batch."),
    Concept("value.loss", "Value loss", "Critic (value-function) loss."),
    Concept("value.ev", "Explained variance", "Explained variance of the value function: 1 - Var[R - V] / Var[R]."),
    Concept("value.mean", "Value mean", "Mean value prediction."),
    Concept("return.mean", "Return mean", "Mean return (value target)."),
    Concept("loss.policy", "Policy loss", "Policy-gradient loss."),
    Concept("loss.total", "Total loss", "Total loss as logged by the trainer."),
    Concept("len.mean", "Response length", "Mean response length in tokens."),
    Concept("len.max", "Response length max", "Maximum response length in tokens."),
    Concept("len.clip_ratio", "Truncation rate", "Fraction of responses truncated at the length cap."),
    Concept("grpo.frac_zero_std", "Zero-std group fraction", "Fraction of GRPO groups whose rewards all tie (zero advantage)."),
    Concept("grad_norm", "Gradient norm", "Total gradient norm before clipping (policy/actor)."),
    Concept("critic.grad_norm", "Critic gradient norm", "Total gradient norm of the critic."),
    Concept("lr", "Learning rate", "Policy/actor learning rate."),
    Concept("ratio.is_mean", "Rollout IS ratio", "Importance ratio between the training engine and the rollout engine (vLLM/SGLang)."),
    Concept("mismatch.logp_diff", "Rollout logp difference", "Difference between training and inference log-probabilities."),
    Concept("rl.ep_return", "Episodic return", "Classic RL episodic return (mean over recent episodes).", True),
    Concept("rl.ep_len", "Episode length", "Classic RL episode length."),
    Concept("eval.reward", "Eval reward", "Held-out evaluation reward/return (e.g. SB3 EvalCallback).", True),
)

CONCEPT_IDS: frozenset[str] = frozenset(c.id for c in CONCEPTS)
BY_ID: dict[str, Concept] = {c.id: c for c in CONCEPTS}
