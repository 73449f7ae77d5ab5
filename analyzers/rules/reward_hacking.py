"""The optimised reward keeps rising while behaviour gets worse (reward hacking).

What it detects
---------------
The reward being optimised (`reward.score`: TRL `objective/scores` / GRPO `reward`, verl
`critic/score/mean`; else `reward.total` or SB3 `rollout/ep_rew_mean`) keeps rising while a
behaviour or held-out metric (TRL `eval_*`, verl `val-core/*`, OpenRLHF `eval/*`, SB3
`eval/mean_reward`, or any tag passed with `--behaviour`) falls below its best value by more
than its noise, for several consecutive evaluations. The onset is the eval peak: the last
checkpoint before behaviour started to degrade; when the eval only sags slowly from its best
point and then crashes (most of the fall after a take-off), the onset is the take-off. Without an eval stream the rule falls back, at
lower confidence, to the pattern of over-optimised RLHF runs: a change point after which the
reward rises together with the response length (required, rank-correlated with the reward), and
the KL to the reference climbs or the entropy drops: info with one of those two, warning with both.

Why it matters
--------------
A learned reward model is a proxy for what you want, trained on a narrow distribution of
responses; the policy is optimised against it and will find whatever the proxy over-rewards
(Goodhart's law: a measure that becomes a target stops being a good measure). Gao, Schulman and
Hilton (2022) measured this: as the policy moves away from its initialisation, measured in
d = sqrt(KL(pi || pi_init)), the proxy reward keeps rising while the true (gold) reward follows
R(d) = d (alpha - beta log d): it rises, peaks and then falls. Reward up with behaviour down is
that second half of the curve. The KL penalty toward the reference is what keeps the policy in
the region where the reward model's rankings are trustworthy; once the proxy is being gamed,
more training makes the model worse, typically longer, more repetitive or stylistically
degenerate answers that the reward model happens to score highly.

What to try
-----------
- Stop at the eval peak: keep the checkpoint saved at or before the onset step (`save_steps`, verl `trainer.save_freq`) and evaluate it.
- Strengthen the KL penalty: TRL PPO `kl_coef`, TRL GRPO `beta`, verl `actor_rollout_ref.actor.kl_loss_coef` / `algorithm.kl_ctrl.kl_coef`, OpenRLHF `--init_kl_coef`; or an adaptive target (TRL-old `adap_kl_ctrl`, `target`).
- Penalise length if answers got longer: a length penalty in the reward, DAPO overlong shaping (verl `reward_model.overlong_buffer`), TRL `missing_eos_penalty`, a lower `max_completion_length`.
- Improve the reward model: more and harder comparison data, reward-model ensembles, or a verifier for the parts that can be checked.
- Read generations from before and after the onset: repetition, emojis, flattery or format tricks show what the proxy rewards.

References
----------
- metrics.md P8 (detector heuristic: reward slope > 0 while eval falls below its running max)
- Gao, Schulman, Hilton, "Scaling Laws for Reward Model Overoptimization", arXiv:2210.10760
- Zheng et al., "Secrets of RLHF in LLMs Part I: PPO", arXiv:2307.04964 (pattern collapse: reward up, length up, KL balloons)
- huggingface/trl#322 (rewards up, output quality down); PKU-Alignment/safe-rlhf#71 (repetition to max length)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..findings import Finding
from ..model import Run
from . import _common, _signals, stats
from .base import Rule, fmt_step, fmt_value

MIN_EVAL_POINTS = 6  # Heuristic: an eval stream needs this many points to show a peak and a fall
MIN_POINTS_AFTER_PEAK = 3  # Heuristic (P8 "at least N logging intervals"): evals below the peak
DROP_NOISE_K = 2.5  # Heuristic (P8 "below its running max by more than k*std"): k = 2.5
DROP_MIN_FRACTION = 0.05  # Heuristic: the fall is at least 5 % of the eval range seen
WARNING_DROP_NOISE_K = 3.5  # Heuristic: a warning needs a fall of 3.5 noise units ...
WARNING_POINTS_AFTER_PEAK = 4  # ... seen over at least 4 evaluations after the peak
CRITICAL_DROP_NOISE_K = 6.0  # Heuristic: a fall of 6 noise units that lasts to the end is critical
REWARD_RISE_FRACTION = 0.05  # Heuristic: after the eval peak the reward still gains 5 % of its range
REWARD_TREND_ALPHA = 0.05  # Mann-Kendall p-value for "the reward is still rising" after the peak
# Fallback without eval (Secrets of RLHF pattern collapse), all heuristic:
LENGTH_RISE = 1.5  # response length grew 1.5x from its level before the change point
KL_RISE = 2.0  # KL to the reference doubled over the same span
ENTROPY_DROP = 0.25  # entropy fell by a quarter
TIE_RHO = 0.5  # Spearman correlation of reward and length after the onset
FALLBACK_TIE_P = 0.01


def _eval_fall(reward: pd.Series, binding_tag: str, evals: pd.Series) -> dict | None:
    """The reward-up / eval-down episode in one eval stream, or None."""
    if len(evals) < MIN_EVAL_POINTS:
        return None
    values = evals.to_numpy()
    smoothed = stats.rolling_median(values, 3, center=True, min_periods=1)
    # With a handful of evaluations a MAD-based scale often comes out far too small; take the
    # larger of the robust and the classical estimate (a false "fall" is worse than a late one).
    second = np.diff(values, 2)
    with np.errstate(over="ignore", invalid="ignore"):  # absurd (~1e300) evals: an infinite noise scale, no warning
        classical = float(np.std(second)) / np.sqrt(6.0) if len(second) > 1 else 0.0
    noise = max(_signals.noise_scale(values), classical)
    spread = float(np.ptp(smoothed)) or 1e-12
    peak_pos = int(np.argmax(smoothed))
    after = values[peak_pos + 1:]
    if len(after) < MIN_POINTS_AFTER_PEAK:
        return None
    peak = float(smoothed[peak_pos])
    threshold = max(DROP_NOISE_K * noise, DROP_MIN_FRACTION * spread)
    late = float(np.median(after[-MIN_POINTS_AFTER_PEAK:]))
    drop = peak - late
    # The fall must be sustained: the median of the last MIN_POINTS_AFTER_PEAK evaluations and the
    # very last one are both below the peak by the threshold (no recovery at the end).
    if drop < threshold or after[-1] > peak - threshold:
        return None
    # And the evaluations after the peak trend down by that much (a Theil-Sen line through them),
    # so a noise maximum followed by an ordinary plateau does not count as a fall.
    tail = evals.iloc[peak_pos:]
    decline = -stats.theil_sen(tail).slope * float(tail.index[-1] - tail.index[0])
    if decline < threshold:
        return None
    best_step = int(evals.index[peak_pos])
    # Date the turn by a two-segment line fit (it can fall between two evaluations), kept within
    # one evaluation interval of the best point; fall back to the best point itself.
    steps = evals.index.to_numpy()
    turn, _, slope_after = _signals.broken_line_break(steps, values)
    lo = steps[max(0, peak_pos - 1)]
    hi = steps[min(len(steps) - 1, peak_pos + 1)]
    peak_step = int(round(turn)) if turn is not None and slope_after < 0 and lo <= turn <= hi else best_step
    # An eval that sags slowly from its best point and then crashes: the fall began at the crash
    # (the change point), not at a best value reached long before (metrics.md P8 dates the turn).
    crash = _signals.take_off(steps[peak_pos:], smoothed[peak_pos:], peak, late, direction=-1)
    sagged = crash is not None and crash > peak_step
    if sagged:
        peak_step = int(round(crash))
    window = reward[reward.index >= peak_step]
    if len(window) < 4:
        return None
    rising = stats.trend(window, alpha=REWARD_TREND_ALPHA)
    slope = stats.theil_sen(window)
    if rising.direction <= 0 or slope.slope <= 0:
        return None
    reward_at_peak = float(window.iloc[: max(3, len(window) // 10)].median())
    reward_last = float(window.iloc[-max(3, len(window) // 10):].median())
    reward_range = float(np.ptp(_common.smooth(reward.to_numpy()))) or 1e-12
    # A material rise, not a saturated return ticking up at its cap (CartPole's 500).
    if reward_last - reward_at_peak < REWARD_RISE_FRACTION * reward_range:
        return None
    return {
        "tag": binding_tag,
        "peak_step": peak_step,
        "best_step": best_step,
        "sagged": sagged,
        "eval_peak": peak,
        "eval_last": late,
        "eval_drop": drop,
        "eval_noise": noise,
        "drop_threshold": threshold,
        "reward_at_peak": reward_at_peak,
        "reward_last": reward_last,
        "reward_trend_tau": rising.statistic,
        "reward_trend_p": rising.p_value,
        "critical": drop >= CRITICAL_DROP_NOISE_K * max(noise, 1e-12) and drop >= 2 * threshold,
        # Weak evidence (few evaluations after the peak, a fall just past the threshold) is info.
        "weak": len(after) < WARNING_POINTS_AFTER_PEAK or drop < WARNING_DROP_NOISE_K * noise,
        "last_step": int(evals.index[-1]),
    }


def _with_eval(run: Run, concept: str, reward: pd.Series) -> list[Finding]:
    episodes = [e for b, s in _signals.behaviour_series(run) if (e := _eval_fall(reward, b.tag, s))]
    if not episodes:
        return []
    worst = max(episodes, key=lambda e: e["eval_drop"] / max(e["drop_threshold"], 1e-12))
    reward_tag = Rule.tag(run, concept)
    summary = (
        f"{reward_tag} kept rising ({fmt_value(worst['reward_at_peak'])} -> {fmt_value(worst['reward_last'])}) "
        f"after step {fmt_step(worst['peak_step'])}, while {worst['tag']} fell from its peak "
        f"{fmt_value(worst['eval_peak'])} to {fmt_value(worst['eval_last'])} "
        f"({fmt_value(worst['eval_drop'] / max(worst['eval_noise'], 1e-12), 2)}x its noise) by step "
        f"{fmt_step(worst['last_step'])}: the reward is being gamed. Best eval at step "
        f"{fmt_step(worst['best_step'])}"
    )
    summary += (
        f"; it sagged slowly until the fall took off at step {fmt_step(worst['peak_step'])}."
        if worst["sagged"] else "."
    )
    severity = "critical" if worst["critical"] else "info" if worst["weak"] else "warning"
    evidence = {k: v for k, v in worst.items() if k not in ("critical", "weak", "tag")}
    evidence["behaviour_metric"] = worst["tag"]
    evidence["reward_metric"] = reward_tag
    evidence["eval_streams_falling"] = [e["tag"] for e in episodes]
    return [
        RULE.finding(
            severity=severity,
            summary=summary,
            onset_step=worst["peak_step"],
            peak_step=worst["last_step"],
            metrics=[reward_tag] + [e["tag"] for e in episodes],
            evidence=evidence,
            confidence={"critical": 0.9, "warning": 0.8, "info": 0.5}[severity],
        )
    ]


def _without_eval(run: Run, concept: str, reward: pd.Series) -> list[Finding]:
    length = _common.prepared(run, "len.mean")
    if len(length) < _common.MIN_POINTS:
        return []
    shift = _signals.level_shift(length.to_numpy(), direction=1)
    if shift is None or shift.ratio < LENGTH_RISE:
        return []
    onset_step = _common.step_at(length, shift.onset)
    rho, p, _ = _signals.rank_correlation(reward, length, onset_step)
    reward_after = reward[reward.index >= onset_step]
    if rho < TIE_RHO or p > FALLBACK_TIE_P or len(reward_after) < 5 or stats.trend(reward_after).direction <= 0:
        return []
    agreeing: list[str] = [f"length x{fmt_value(shift.ratio)}"]
    evidence: dict = {"length_before": shift.before, "length_late": shift.after, "reward_length_rho": rho}
    metrics = [Rule.tag(run, concept), Rule.tag(run, "len.mean")]
    kl = _common.prepared(run, "kl.ref")
    if len(kl) >= _common.MIN_POINTS:
        before = float(kl[kl.index <= onset_step].iloc[-max(3, len(kl) // 10):].median()) if (kl.index <= onset_step).any() else float("nan")
        late = float(kl.iloc[-max(3, len(kl) // 10):].median())
        if np.isfinite(before) and late > KL_RISE * max(before, 1e-9) and late > before:
            agreeing.append(f"KL {fmt_value(before)} -> {fmt_value(late)}")
            evidence.update(kl_before=before, kl_late=late)
            metrics.append(Rule.tag(run, "kl.ref"))
    entropy = _common.prepared(run, "entropy")
    if len(entropy) >= _common.MIN_POINTS and (entropy.index <= onset_step).any():
        before = float(entropy[entropy.index <= onset_step].iloc[-max(3, len(entropy) // 10):].median())
        late = float(entropy.iloc[-max(3, len(entropy) // 10):].median())
        if before > 0 and late < (1 - ENTROPY_DROP) * before:
            agreeing.append(f"entropy {fmt_value(before)} -> {fmt_value(late)}")
            evidence.update(entropy_before=before, entropy_late=late)
            metrics.append(Rule.tag(run, "entropy"))
    if len(agreeing) < 2:
        return []
    evidence["agreeing_signals"] = agreeing
    severity = "warning" if len(agreeing) >= 3 else "info"
    summary = (
        f"No eval metric to check behaviour, but from step {fmt_step(onset_step)} the reward "
        f"({metrics[0]}) rose together with the response length (Spearman rho {fmt_value(rho)}) and "
        + ", ".join(agreeing)
        + ": the over-optimisation pattern. Pass an eval metric with --behaviour to confirm."
    )
    return [
        RULE.finding(
            severity=severity,
            summary=summary,
            onset_step=onset_step,
            peak_step=_common.step_at(length, shift.peak),
            metrics=metrics,
            evidence=evidence,
            confidence=0.5 if severity == "warning" else 0.35,
        )
    ]


def detect(run: Run) -> list[Finding]:
    concept, reward = _signals.reward_series(run)
    if concept is None or len(reward) < _common.MIN_POINTS:
        return []
    if _signals.behaviour_series(run):
        return _with_eval(run, concept, reward)
    return _without_eval(run, concept, reward)


RULE = Rule(
    "RH001",
    "reward-hacking",
    "reward_hacking",
    needs_any=_signals.REWARD_CONCEPTS,
    doc=__doc__,
    detect=detect,
)
