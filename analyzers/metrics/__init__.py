"""Canonical metric resolution (skeleton; the alias table lands with the ingest issue)."""

from __future__ import annotations

from typing import Sequence

from ..model import MetricBinding, Run


class MetricMap:
    """A user's overrides: concept -> tag, plus behaviour metrics."""

    def __init__(self, concepts: dict[str, str] | None = None, behaviour: dict[str, str] | None = None) -> None:
        self.concepts = dict(concepts or {})
        self.behaviour = dict(behaviour or {})


def resolve(run: Run, metric_map: MetricMap | None = None, behaviour: Sequence[str] = ()) -> Run:
    """Fill ``run.metrics``, ``run.behaviour`` and ``run.framework``; returns the run."""
    for concept, tag in (metric_map.concepts if metric_map else {}).items():
        if run.has(tag):
            run.metrics[concept] = MetricBinding(concept, tag, source="user")
    for tag in behaviour:
        if run.has(tag):
            run.behaviour.append(MetricBinding("behaviour", tag, source="user"))
    return run
