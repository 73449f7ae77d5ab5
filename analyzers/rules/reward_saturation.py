"""The reward score is pinned at a ceiling and its spread has collapsed.

What it detects
---------------
The reward-model or verifier score (`reward.score`: TRL `objective/scores` / GRPO `reward`,
verl `critic/score/mean`, OpenRLHF `reward`) reaches its highest level and stays there with
almost no batch-to-batch variation: its point-to-point noise falls below a fifth of what it was
earlier, and, when the score spread is logged (`reward.score_std`: GRPO `reward_std`, TRL-old
`env/reward_std`), that spread falls below 5 % of its early value. A 0/1 verifier whose batch
maximum is always 1 is not saturated; the batch mean is what is checked.

Why it matters
--------------
Policy-gradient methods learn from differences between samples: the advantage compares each
sample with the others (the group mean in GRPO, the value baseline in PPO). When every sample
gets the same top score the differences vanish, so the reward no longer says which behaviour is
better. With a verifiable reward, saturation makes GRPO groups uniform and their advantages zero
(see zero-learning-signal). With a learned reward model, a pinned proxy score is the late phase
of over-optimisation (Gao et al. 2022): the policy has found responses the reward model cannot
score any higher, and the true quality may be falling; check the eval metrics.

What to try
-----------
- Make the task harder: filter out prompts the policy always solves, or use curriculum sampling; DAPO dynamic sampling (verl `algorithm.filter_groups.enable=True`) drops groups that all score the same.
- Give the reward more range: partial credit, a graded or pairwise reward instead of 0/1, or remove a clip that the scores pile up against (DeepSpeed-Chat `clip_reward_value`, TRL-old `score_clip`).
- With a learned reward model, check held-out behaviour (pass `--behaviour`) and stop at the best checkpoint if it is falling.
- If training has converged, stop: further steps only add KL.

References
----------
- metrics.md P9 (heuristic: score std below 5 % of its start value; >90 % of samples within 1 % of the max)
- Gao, Schulman, Hilton, "Scaling Laws for Reward Model Overoptimization", arXiv:2210.10760
- Yu et al., "DAPO", arXiv:2503.14476 (dynamic sampling)
"""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..model import Run
from . import _common, _signals
from .base import Rule, fmt_step, fmt_value

NOISE_COLLAPSE = 0.2  # Heuristic: late point-to-point noise below 20 % of the early noise
STD_COLLAPSE = 0.05  # metrics.md P9: score std below 5 % of its value at the start of training
PIN_MIN_FRACTION = 0.1  # Heuristic: pinned for at least 10 % of the run ...
PIN_MIN_POINTS = 10  # ... and at least 10 logged points
AT_CEILING = 0.02  # Heuristic: the pinned level is within 2 % of the score range of the run's maximum
EARLY_FRACTION = 0.3  # Heuristic: the noise baseline is the first 30 % of the run


def detect(run: Run) -> list[Finding]:
    score = _common.prepared(run, "reward.score")
    n = len(score)
    if n < _common.MIN_POINTS:
        return []
    values = score.to_numpy()
    smoothed = _common.smooth(values)
    span = float(np.ptp(smoothed)) or 1e-12
    ceiling = float(np.median(values[-max(3, int(n * _signals.LATE_FRACTION)):]))
    if ceiling < float(np.max(smoothed)) - AT_CEILING * span:
        return []  # the late level is not the highest the run reached
    early_noise = _signals.noise_scale(values[: max(10, int(n * EARLY_FRACTION))])
    if early_noise <= 0:
        return []
    # The pinned stretch: walk back from the end while the score sits in a tight band at the ceiling.
    # The band is at least AT_CEILING of the score range: a 0/1 verifier whose batch mean sits at
    # 0.999 (one miss in 64 completions) is pinned too. The rolling median ignores the odd miss.
    band = max(3 * NOISE_COLLAPSE * early_noise, AT_CEILING * span, 1e-12)
    inside = np.abs(smoothed - ceiling) <= band
    outside = np.flatnonzero(~inside)
    start = int(outside[-1] + 1) if len(outside) else 0
    pinned = n - start
    if pinned < max(PIN_MIN_POINTS, int(n * PIN_MIN_FRACTION)):
        return []
    late_noise = _signals.noise_scale(values[start:])
    if start >= 10:
        # Compare with the noise before the score got pinned (the first 30 % may be mostly pinned).
        early_noise = max(early_noise, _signals.noise_scale(values[:start]))
    if late_noise > NOISE_COLLAPSE * early_noise:
        return []
    evidence = {
        "ceiling": ceiling,
        "pinned_points": pinned,
        "early_noise": early_noise,
        "late_noise": late_noise,
    }
    metrics = [Rule.tag(run, "reward.score")]
    std = _common.prepared(run, "reward.score_std")
    std_note = ""
    confidence = 0.6
    if len(std) >= _common.MIN_POINTS:
        std_values = std.to_numpy()
        std_early = float(np.median(std_values[: max(5, int(len(std_values) * 0.2))]))
        std_late = float(np.median(std_values[_signals.position_of(std, int(score.index[start])):]))
        evidence.update(score_std_early=std_early, score_std_late=std_late)
        if std_early > 0 and std_late > STD_COLLAPSE * std_early:
            return []  # samples still disagree: the mean is flat, not saturated
        std_note = f"; the score spread fell from {fmt_value(std_early)} to {fmt_value(std_late)}"
        metrics.append(Rule.tag(run, "reward.score_std"))
        confidence = 0.85
    # The onset is where the score became pinned (the start of the flat stretch): the climb before
    # it is ordinary learning, not saturation.
    onset_step = _common.step_at(score, start)
    summary = (
        f"The reward score ({metrics[0]}) has been pinned at {fmt_value(ceiling)} since step "
        f"{fmt_step(score.index[start])} ({pinned} logged points, batch-to-batch noise "
        f"{fmt_value(late_noise)} vs {fmt_value(early_noise)} earlier){std_note}: the reward no longer "
        "separates good samples from bad ones."
    )
    return [
        RULE.finding(
            severity="warning",
            summary=summary,
            onset_step=onset_step,
            metrics=metrics,
            evidence=evidence,
            confidence=confidence,
        )
    ]


RULE = Rule(
    "RWD001",
    "reward-saturation",
    "reward_saturation",
    needs=("reward.score",),
    doc=__doc__,
    detect=detect,
)
