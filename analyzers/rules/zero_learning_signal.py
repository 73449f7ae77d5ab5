"""Every group ties: advantages are zero, so there is no policy gradient and nothing is learned.

What it detects
---------------
A sustained stretch where the reward carries no learning signal: GRPO's
`frac_reward_zero_std` (`grpo.frac_zero_std`) at or near 1, advantages identically 0
(`adv.max` = `adv.min` = 0, verl `critic/advantages/*`), or a batch score spread
(`reward.score_std`) of 0 — together with a gradient norm (`grad_norm`) that has dropped to 0.
The onset is the first step of that stretch. A GRPO `loss` of 0 alone is NOT a symptom: with
one update per batch the GRPO loss value equals beta times the KL, which is 0 at the start of a
healthy run and exactly 0 with `beta=0`.

Why it matters
--------------
The policy gradient weights each sampled response by its advantage. GRPO computes the advantage
inside each group of G responses to the same prompt: A_i = (r_i - mean(r_group)) / std(r_group).
When all G responses get the same reward (all wrong, all right, or all truncated and scored 0),
every A_i is 0, and so is that group's gradient; the advantage in PPO, A(s,a) = Q(s,a) - V(s),
is likewise 0 when nothing is better or worse than the baseline. When that holds for every group
the optimiser takes zero steps (`grad_norm` 0): compute is spent on rollouts and nothing is
learned. TRL's `reward_std` is a whole-batch std and can stay above 0 while every group ties,
which is why the group-level fraction is the better signal.

What to try
-----------
- Change the prompt mix: drop prompts that are always solved or never solved; DAPO dynamic sampling (verl `algorithm.filter_groups.enable=True`) resamples until enough groups have mixed outcomes.
- Raise `num_generations` (TRL) / `actor_rollout_ref.rollout.n` (verl) so groups are more likely to disagree.
- Give partial credit (format, intermediate steps) instead of a bare 0/1 reward.
- If every completion is truncated (`completions/clipped_ratio` 1), raise `max_completion_length` / `data.max_response_length`.
- Check the reward function itself: a reward that always returns the same value (a parsing bug, a wrong answer key) looks exactly like this.

References
----------
- metrics.md P10 (TRL `frac_reward_zero_std`; `loss == 0` is not a detector on its own, §1.4)
- huggingface/trl#3857 (reward_std 0, frac_reward_zero_std 1, loss 0, grad_norm 0); huggingface/trl#2703 (GRPO loss = beta*KL)
- Shao et al., "DeepSeekMath" (GRPO), arXiv:2402.03300; Yu et al., "DAPO", arXiv:2503.14476
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..findings import Finding
from ..model import Run
from . import _common, stats
from .base import Rule, fmt_step, fmt_value

FRAC_ZERO_HIGH = 0.98  # Heuristic: at least 98 % of the groups tie (P10: "≈ 1")
ADV_ZERO = 1e-6  # Heuristic: |advantage| below this is exactly-zero up to float noise
STD_ZERO = 1e-6  # Heuristic: a batch score spread below this is zero
GRAD_ZERO_FRACTION = 1e-3  # Heuristic: gradient norm below 0.1 % of its typical value is zero
GRAD_ZERO_ABS = 1e-8  # ... or below this absolute value
GRAD_COLLAPSE_FRACTION = 0.05  # Heuristic: a grad norm at 5 % of its early level has lost the reward term
GRAD_EARLY_FRACTION = 0.1  # Heuristic: the early grad level is the median of the first 10 % of the run
PERSIST_FRACTION, PERSIST_MIN = 0.03, 5  # Heuristic: 3 % of the run and at least 5 logged points
CRITICAL_FRACTION = 0.2  # Heuristic: no signal for a fifth of the run (or to the end) is critical


def _on_grid(series: pd.Series, grid: pd.Index) -> np.ndarray:
    """``series`` forward-filled onto the steps ``grid`` (NaN before its first point)."""
    return series.reindex(series.index.union(grid)).ffill().reindex(grid).to_numpy()


def detect(run: Run) -> list[Finding]:
    signals: dict[str, pd.Series] = {}
    for concept in ("grpo.frac_zero_std", "adv.max", "adv.min", "adv.std", "reward.score_std", "grad_norm"):
        series = _common.prepared(run, concept)
        if len(series):
            signals[concept] = series
    primary = [c for c in ("grpo.frac_zero_std", "adv.max", "adv.std", "reward.score_std") if c in signals]
    if not primary:
        return []
    grid = signals[primary[0]].index
    if len(grid) < _common.MIN_POINTS:
        return []
    ties = np.zeros(len(grid), dtype=bool)
    which: list[str] = []
    if "grpo.frac_zero_std" in signals:
        frac = _on_grid(signals["grpo.frac_zero_std"], grid)
        # The rolling median keeps a stretch of ties whole when one batch in a few still has a
        # group that disagrees (frac 0.875 = 1 group of 8).
        mask = (frac >= FRAC_ZERO_HIGH) | (_common.smooth(np.nan_to_num(frac)) >= FRAC_ZERO_HIGH)
        ties |= mask
        which += ["grpo.frac_zero_std"] if mask.any() else []
    if "adv.max" in signals and "adv.min" in signals:
        mask = (np.abs(_on_grid(signals["adv.max"], grid)) <= ADV_ZERO) & (np.abs(_on_grid(signals["adv.min"], grid)) <= ADV_ZERO)
        ties |= mask
        which += ["adv.max", "adv.min"] if mask.any() else []
    if "adv.std" in signals:
        mask = np.abs(_on_grid(signals["adv.std"], grid)) <= ADV_ZERO
        ties |= mask
        which += ["adv.std"] if mask.any() else []
    std_zero = np.zeros(len(grid), dtype=bool)
    if "reward.score_std" in signals:
        std_zero = np.abs(_on_grid(signals["reward.score_std"], grid)) <= STD_ZERO
    grad_zero = None
    typical_grad = float("nan")
    if "grad_norm" in signals:
        grad = _on_grid(signals["grad_norm"], grid)
        typical_grad = float(np.nanmedian(signals["grad_norm"].to_numpy()[signals["grad_norm"].to_numpy() > 0])) \
            if (signals["grad_norm"].to_numpy() > 0).any() else 0.0
        grad_zero = np.abs(grad) <= max(GRAD_ZERO_ABS, GRAD_ZERO_FRACTION * typical_grad)
        # With a KL penalty (beta > 0) the only gradient left when every group ties is the pull
        # back to the reference: small but not 0. A norm that collapsed to a few percent of its
        # early level is the same absence of reward signal.
        raw_grad = signals["grad_norm"].to_numpy()
        early_grad = float(np.median(raw_grad[: max(5, int(len(raw_grad) * GRAD_EARLY_FRACTION))]))
        if early_grad > 0:
            grad_zero |= _common.smooth(np.nan_to_num(grad, nan=early_grad)) <= GRAD_COLLAPSE_FRACTION * early_grad
    # No signal: groups tie (or the whole batch scores the same) AND the optimiser did not move.
    # Without a grad-norm series, two independent tie signals must agree.
    if grad_zero is not None:
        no_signal = (ties | std_zero) & grad_zero
    elif "reward.score_std" in signals:
        no_signal = ties & std_zero
    else:
        no_signal = ties if len(set(which) - {"adv.min"}) >= 2 else np.zeros(len(grid), dtype=bool)
    n = len(grid)
    sustained = stats.persistent(no_signal, max(PERSIST_MIN, int(n * PERSIST_FRACTION)))
    if not sustained.any():
        return []
    stretches = [(s, e) for s, e in stats.runs(sustained)]
    start, end = stretches[0]
    covered = int(sustained.sum())
    ongoing = stretches[-1][1] >= n
    severity = "critical" if ongoing or covered >= CRITICAL_FRACTION * n else "warning"
    onset_step = int(grid[start])
    end_step = None if ongoing else int(grid[stretches[-1][1] - 1])
    parts = []
    if "grpo.frac_zero_std" in signals:
        parts.append(f"frac_reward_zero_std {fmt_value(float(np.nanmedian(_on_grid(signals['grpo.frac_zero_std'], grid)[sustained])))}")
    if "adv.max" in signals and "adv.min" in signals and ("adv.max" in which):
        parts.append("advantages max = min = 0")
    if "reward.score_std" in signals and std_zero[sustained].any():
        parts.append("score std 0")
    if grad_zero is not None:
        parts.append(f"gradient norm 0 (typically {fmt_value(typical_grad)})")
    summary = (
        f"No learning signal for {covered} of {n} logged steps from step {fmt_step(onset_step)}"
        + (" to the last step" if ongoing else f" to {fmt_step(end_step)}")
        + f": {', '.join(parts)}. Every group's rewards tie, so every advantage is 0 and the policy gets no gradient."
    )
    metrics = [Rule.tag(run, c) for c in ("grpo.frac_zero_std", "adv.max", "adv.min", "adv.std", "reward.score_std", "grad_norm") if c in signals]
    return [
        RULE.finding(
            severity=severity,
            summary=summary,
            onset_step=onset_step,
            end_step=end_step,
            metrics=metrics,
            evidence={
                "no_signal_points": covered,
                "logged_points": n,
                "stretches": [[int(grid[s]), int(grid[e - 1])] for s, e in stretches],
                "typical_grad_norm": typical_grad,
                "signals": sorted(set(which) | ({"reward.score_std"} if std_zero.any() else set())),
            },
            confidence=0.9 if grad_zero is not None else 0.7,
        )
    ]


RULE = Rule(
    "SIG001",
    "zero-learning-signal",
    "zero_learning_signal",
    needs_any=("grpo.frac_zero_std", "adv.max", "adv.std", "reward.score_std"),
    doc=__doc__,
    detect=detect,
)
