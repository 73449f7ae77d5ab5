"""Build runs from in-memory series: for exact-onset tests, examples and the evaluation corpus."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .model import MetricBinding, Run


def make_run(
    series: Mapping[str, Sequence[float] | np.ndarray | pd.Series],
    *,
    steps: Sequence[int] | np.ndarray | None = None,
    name: str = "synthetic",
    framework: str | None = None,
    metrics: Mapping[str, str | MetricBinding] | None = None,
    resolve_aliases: bool = True,
    behaviour: Sequence[str] = (),
) -> Run:
    """A run whose tags hold the given values.

    Values may be arrays (on ``steps``, default 0..n-1) or Series indexed by step. ``metrics``
    binds concepts explicitly (``{"kl.ref": "objective/kl"}``); with ``resolve_aliases`` the
    framework alias table fills in the rest, exactly as for a run read from disk.
    """
    tags: list[str] = []
    codes, all_steps, values = [], [], []
    for code, (tag, data) in enumerate(series.items()):
        if isinstance(data, pd.Series):
            s = np.asarray(data.index, dtype=np.int64)
            v = np.asarray(data.to_numpy(), dtype=np.float64)
        else:
            v = np.asarray(data, dtype=np.float64)
            s = np.arange(len(v), dtype=np.int64) if steps is None else np.asarray(steps, dtype=np.int64)[: len(v)]
        tags.append(tag)
        codes.append(np.full(len(v), code, dtype=np.int32))
        all_steps.append(s)
        values.append(v)
    run = Run.from_arrays(
        name,
        tags,
        np.concatenate(codes) if codes else np.zeros(0, np.int32),
        np.concatenate(all_steps) if all_steps else np.zeros(0, np.int64),
        np.concatenate(values) if values else np.zeros(0),
        sources=[f"<synthetic:{name}>"],
        framework=framework,
    )
    if resolve_aliases:
        from .metrics import resolve

        resolve(run, None, behaviour)
    for concept, binding in (metrics or {}).items():
        if isinstance(binding, str):
            binding = MetricBinding(concept, binding, source="user")
        run.metrics[concept] = binding
    if framework is not None:
        run.framework = framework
    return run
