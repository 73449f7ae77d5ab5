"""A metric became NaN or infinite.

What it detects
---------------
The first step at which any logged metric holds a NaN or an infinity (after restart
resolution), which keys went non-finite first and in what order the others followed, whether the
run recovered, and what spiked in the window just before: the gradient norm, the KL terms, the
importance ratio and the value loss are compared with their own earlier median. Not counted: NaN
explained variance (SB3 and CleanRL return NaN when every return is equal, which is not a
numerical failure) and tags that never held a finite value at all (a metric the trainer could not
compute, e.g. TRL writes null for a metric that is NaN over the whole logging window); the latter
are listed at info level.

Why it matters
--------------
NaNs propagate silently: one non-finite log-probability, ratio or KL term makes the loss NaN, the
NaN gradient poisons the weights at the next optimiser step, and from then on the model produces
garbage (the typical LLM symptom is a flood of "!!!!", token id 0, with the reward falling to 0).
The order matters for the diagnosis: KL or log-ratio first points at an overflow in exp() (the
k3/low_var_kl estimator, verl#751), grad norm first at an exploding update, value loss first at
the critic, and a spike in grad norm or KL just before says the run was already diverging.

What to try
-----------
- Resume from the last checkpoint before the onset step; everything after it is suspect.
- Lower `learning_rate`; keep gradient clipping on (`max_grad_norm`, verl `actor_rollout_ref.actor.grad_clip`, OpenRLHF `--max_norm`).
- Clamp log-ratios and KL before exp() (current verl and OpenRLHF clamp to [-20, 20] / [-10, 10]); prefer a bounded KL estimator or lower `kl_loss_coef` / `beta`.
- Use bf16 rather than fp16 (or fp32 for the loss); NaN losses are frequently reported with fp16.
- Locate the operation with `torch.autograd.set_detect_anomaly(True)` (SB3 guide "Dealing with NaNs and infs").

References
----------
- metrics.md P11 (verl-project/verl#721, #747, #751; OpenRLHF/OpenRLHF#1120; SB3 docs/guide/checking_nan.md)
- metrics.md §1.4 (NaN explained variance when returns are constant)
"""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..model import Run
from .base import Rule, fmt_step, fmt_value

# Concepts whose NaN is a legitimate "undefined" ([SB3] utils.py explained_variance: NaN when Var[y] = 0).
NAN_IS_UNDEFINED = ("value.ev",)
# Metrics whose behaviour just before the failure is reported ([metrics.md P11] detector).
PRECURSORS = ("grad_norm", "critic.grad_norm", "kl.ref", "kl.step", "ratio.mean", "ratio.max", "value.loss", "adv.max")
PRECURSOR_FACTOR = 3.0  # Heuristic: 3x the metric's earlier median counts as a spike before the failure
PRECURSOR_WINDOW_FRACTION = 0.05  # Heuristic: the window before the failure is 5 % of the points before it
PRECURSOR_WINDOW_MIN = 5  # ... and at least 5 logged points
LISTED_KEYS = 10  # keys listed in the evidence (first to go)
EVAL_PREFIXES = ("eval", "val-", "val/", "test/", "test_")


def _precursors(run: Run, first_step: int) -> list[dict]:
    found = []
    for concept in PRECURSORS:
        series = run.metric(concept)
        if series is None:
            continue
        before = series[(series.index < first_step) & np.isfinite(series.to_numpy())]
        if len(before) < 2 * PRECURSOR_WINDOW_MIN:
            continue
        w = max(PRECURSOR_WINDOW_MIN, int(len(before) * PRECURSOR_WINDOW_FRACTION))
        window, earlier = before.iloc[-w:], before.iloc[:-w]
        baseline = float(np.median(np.abs(earlier.to_numpy())))
        peak_pos = int(np.argmax(np.abs(window.to_numpy())))
        peak = float(window.iloc[peak_pos])
        if baseline > 0 and abs(peak) >= PRECURSOR_FACTOR * baseline:
            found.append({"concept": concept, "tag": series.name, "step": int(window.index[peak_pos]), "value": peak, "baseline": baseline, "factor": abs(peak) / baseline})
    return sorted(found, key=lambda p: -p["factor"])


def detect(run: Run) -> list[Finding]:
    values = run.scalars["value"].to_numpy()
    bad_rows = ~np.isfinite(values)
    if not bad_rows.any():
        return []
    undefined_tags = {run.metrics[c].tag for c in NAN_IS_UNDEFINED if c in run.metrics}
    candidate_tags = sorted(set(run.scalars["tag"].to_numpy()[bad_rows].astype(str)))
    firsts: list[tuple[int, str, float]] = []  # (first bad step, tag, value)
    never_finite: list[str] = []
    last_bad_step, ongoing = 0, False
    for tag in candidate_tags:
        series = run.series(tag)
        v = series.to_numpy()
        bad = ~np.isfinite(v)
        if not bad.any():
            continue  # only in points a restart overwrote
        if tag in undefined_tags and not np.isinf(v).any():
            continue
        if bad.all():
            never_finite.append(tag)
            continue
        first = int(np.argmax(bad))
        firsts.append((int(series.index[first]), tag, float(v[first])))
        last_bad_step = max(last_bad_step, int(series.index[np.flatnonzero(bad)[-1]]))
        ongoing = ongoing or bool(bad[-1])
    if not firsts:
        if not never_finite:
            return []
        return [
            RULE.finding(
                severity="info",
                title="Metrics with no finite value",
                summary=f"{len(never_finite)} metric(s) never held a finite value ({', '.join(never_finite[:5])}); they were ignored.",
                onset_step=None,
                metrics=never_finite[:LISTED_KEYS],
                evidence={"never_finite": never_finite},
                confidence=0.5,
            )
        ]
    firsts.sort()
    first_step = firsts[0][0]
    first_keys = [tag for step, tag, _ in firsts if step == first_step]
    kinds = sorted({"NaN" if np.isnan(val) else ("+Inf" if val > 0 else "-Inf") for step, tag, val in firsts if step == first_step})
    precursors = _precursors(run, first_step)
    only_eval = all(tag.lower().startswith(EVAL_PREFIXES) for _, tag, _ in firsts)
    severity = "warning" if only_eval else "critical"
    summary = (
        f"{', '.join(first_keys[:5])}{' and others' if len(first_keys) > 5 else ''} became {'/'.join(kinds)} at step "
        f"{fmt_step(first_step)}"
    )
    later = [(step, tag) for step, tag, _ in firsts if step > first_step]
    if later:
        summary += f"; {len(later)} more key(s) followed, next {later[0][1]} at step {fmt_step(later[0][0])}"
    summary += "." if ongoing else f"; values were finite again after step {fmt_step(last_bad_step)}."
    if precursors:
        p = precursors[0]
        summary += (
            f" Just before, {p['tag']} spiked to {fmt_value(p['value'])} at step {fmt_step(p['step'])} "
            f"({p['factor']:.0f}x its earlier median)."
        )
    return [
        RULE.finding(
            severity=severity,
            summary=summary,
            onset_step=first_step,
            peak_step=first_step,
            end_step=None if ongoing else last_bad_step,
            metrics=[tag for _, tag, _ in firsts[:LISTED_KEYS]] + [p["tag"] for p in precursors],
            evidence={
                "first_step": first_step,
                "first_keys": first_keys,
                "order": [{"tag": tag, "step": step} for step, tag, _ in firsts[:LISTED_KEYS]],
                "keys_non_finite": len(firsts),
                "precursors": [{k: p[k] for k in ("tag", "step", "value", "baseline", "factor")} for p in precursors],
                "never_finite": never_finite,
                "recovered": not ongoing,
            },
            confidence=0.95,
        )
    ]


RULE = Rule("NUM001", "non-finite", "non_finite", doc=__doc__, detect=detect)
