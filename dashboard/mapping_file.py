"""The metric map the Metric mapping page downloads: the file `--metric-map` reads.

Built with ``MetricMap.from_run`` (the run's current resolution) plus the user's edits, and
written by ``MetricMap.to_toml``: the CLI's own format, so the file round-trips.
"""

from __future__ import annotations

from typing import Sequence

from analyzers.api import Report
from analyzers.metrics import MetricMap
from analyzers.model import MetricBinding


def metric_map_toml(report: Report, overrides: dict[str, str], behaviour: Sequence[str], run_name: str | None = None) -> str:
    """The mapping in force for ``run_name`` (default: the first run) with the user's edits, as TOML."""
    runs = report.runs
    run = next((r for r in runs if r.name == run_name), runs[0] if runs else None)
    metric_map = MetricMap.from_run(run) if run is not None else MetricMap()
    for concept, tag in overrides.items():
        metric_map.bindings[concept] = MetricBinding(concept, tag, source="user")
    for tag in behaviour:
        metric_map.behaviour.setdefault(tag, "higher")
    return metric_map.to_toml()
