"""The run model every other module speaks: a run's raw scalar series plus what we know about it.

Data flows one way: readers (``analyzers.ingest``) build :class:`Run` objects from files, the
metric resolver (``analyzers.metrics``) fills ``Run.metrics``, the rules (``analyzers.rules``)
read series through :meth:`Run.series` / :meth:`Run.metric`, and the renderers print findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

SCALAR_COLUMNS = ("tag", "step", "value", "wall_time")


@dataclass(frozen=True)
class ReadError:
    """A file (or part of one) that could not be read. ``path`` names the file as the user gave it."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


@dataclass(frozen=True)
class MetricBinding:
    """Which tag provides a canonical concept, and how to make its values comparable.

    ``transform`` is applied by :meth:`Run.metric`: ``identity``, ``negate`` (SB3's
    ``train/entropy_loss`` is minus the entropy) or ``square`` (trlx logs the square root of KL).
    ``unit`` says what the transformed values measure (``nats/token``, ``nats/sequence``, ...),
    ``estimator`` which KL estimator a KL key uses (``k1``, ``k2``, ``k3``; see Schulman 2020).
    ``source`` is ``alias`` (our table), ``user`` (a metric map or ``--behaviour``) or ``auto``.
    """

    concept: str
    tag: str
    transform: str = "identity"
    unit: str | None = None
    estimator: str | None = None
    source: str = "alias"
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def resolve_restarts(steps: np.ndarray) -> np.ndarray:
    """Mask of the points that survive a restart, the way TensorBoard resolves them.

    ``steps`` are one tag's steps in write order. When a resumed run writes a step lower than or
    equal to one already written, the earlier points at that step and beyond are orphaned: the
    later write wins (TensorBoard's ``purge_orphaned_data``). A point survives when every point
    written after it has a strictly larger step.
    """
    n = len(steps)
    if n == 0:
        return np.zeros(0, dtype=bool)
    suffix_min = np.minimum.accumulate(steps[::-1])[::-1]
    keep = np.ones(n, dtype=bool)
    keep[:-1] = suffix_min[1:] > steps[:-1]
    return keep


@dataclass
class Run:
    """One training run: raw scalars (tidy, in write order) and what we know about them.

    ``scalars`` has the columns ``tag`` (categorical), ``step`` (int64), ``value`` (float64,
    NaN and Inf kept as data) and ``wall_time`` (float64 seconds since the epoch, NaN if the
    format has none). Every point read is kept here, including points a restart overwrote;
    :meth:`series` gives the resolved view.
    """

    name: str
    scalars: pd.DataFrame
    sources: list[str] = field(default_factory=list)
    framework: str | None = None
    notes: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, MetricBinding] = field(default_factory=dict)
    behaviour: list[MetricBinding] = field(default_factory=list)

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_arrays(
        cls,
        name: str,
        tag_names: Sequence[str],
        tag_codes: np.ndarray,
        steps: np.ndarray,
        values: np.ndarray,
        wall_times: np.ndarray | None = None,
        **kwargs: Any,
    ) -> "Run":
        """Build a run from parallel arrays; ``tag_codes`` index into ``tag_names``."""
        n = len(steps)
        if wall_times is None:
            wall_times = np.full(n, np.nan)
        tags = pd.Categorical.from_codes(np.asarray(tag_codes, dtype=np.int32), categories=pd.Index(list(tag_names), dtype=object))
        frame = pd.DataFrame(
            {
                "tag": tags,
                "step": np.asarray(steps, dtype=np.int64),
                "value": np.asarray(values, dtype=np.float64),
                "wall_time": np.asarray(wall_times, dtype=np.float64),
            },
            copy=False,  # the readers hand over fresh arrays; a copy would double peak memory
        )
        return cls(name=name, scalars=frame, **kwargs)

    @classmethod
    def from_long(cls, name: str, frame: pd.DataFrame, **kwargs: Any) -> "Run":
        """Build a run from a long frame with ``tag, step, value`` and optional ``wall_time``."""
        frame = frame.reset_index(drop=True)
        tags = pd.Categorical(frame["tag"].astype(str))
        wall = frame["wall_time"] if "wall_time" in frame else np.nan
        out = pd.DataFrame(
            {
                "tag": tags.remove_unused_categories(),
                "step": pd.to_numeric(frame["step"]).astype(np.int64).to_numpy(),
                "value": pd.to_numeric(frame["value"], errors="coerce").astype(np.float64).to_numpy(),
                "wall_time": pd.to_numeric(pd.Series(wall, index=frame.index), errors="coerce").astype(np.float64).to_numpy(),
            }
        )
        return cls(name=name, scalars=out, **kwargs)

    @classmethod
    def concat(cls, name: str, parts: Iterable["Run"], **kwargs: Any) -> "Run":
        """Merge runs read from several files of one run (restarts), in the given write order."""
        parts = list(parts)
        frames = [p.scalars for p in parts]
        frame = pd.concat(frames, ignore_index=True) if frames else empty_scalars()
        if len(frames) > 1:
            frame["tag"] = pd.Categorical(frame["tag"].astype(object))
        notes = [n for p in parts for n in p.notes]
        sources = [s for p in parts for s in p.sources]
        metadata: dict[str, Any] = {}
        for p in parts:
            metadata.update(p.metadata)
        framework = next((p.framework for p in parts if p.framework), None)
        kwargs = {"sources": sources, "notes": notes, "metadata": metadata, "framework": framework, **kwargs}
        return cls(name=name, scalars=frame, **kwargs)

    # ----------------------------------------------------------------- views
    @property
    def tags(self) -> list[str]:
        """Tags that hold at least one point, in sorted order."""
        return sorted(self._slices)

    @property
    def points(self) -> int:
        """Scalar values read, restarts included."""
        return len(self.scalars)

    @property
    def steps(self) -> int:
        """Distinct steps seen across all tags."""
        return int(self.scalars["step"].nunique()) if len(self.scalars) else 0

    @property
    def last_step(self) -> int | None:
        return int(self.scalars["step"].max()) if len(self.scalars) else None

    @property
    def first_step(self) -> int | None:
        return int(self.scalars["step"].min()) if len(self.scalars) else None

    @cached_property
    def _order(self) -> np.ndarray:
        # Stable sort by tag keeps write order inside each tag.
        codes = self.scalars["tag"].cat.codes.to_numpy()
        return np.argsort(codes, kind="stable")

    @cached_property
    def _slices(self) -> dict[str, tuple[int, int]]:
        codes = self.scalars["tag"].cat.codes.to_numpy()
        if len(codes) == 0:
            return {}
        sorted_codes = codes[self._order]
        bounds = np.flatnonzero(np.diff(sorted_codes)) + 1
        starts = np.concatenate(([0], bounds))
        ends = np.concatenate((bounds, [len(sorted_codes)]))
        categories = self.scalars["tag"].cat.categories
        return {str(categories[sorted_codes[s]]): (int(s), int(e)) for s, e in zip(starts, ends)}

    def has(self, tag: str) -> bool:
        return tag in self._slices

    def raw(self, tag: str) -> pd.DataFrame:
        """Every point of ``tag`` in write order (restarts included): step, value, wall_time."""
        start, end = self._slices[tag]
        idx = self._order[start:end]
        cols = self.scalars
        return pd.DataFrame(
            {
                "step": cols["step"].to_numpy()[idx],
                "value": cols["value"].to_numpy()[idx],
                "wall_time": cols["wall_time"].to_numpy()[idx],
            }
        )

    def frame(self, tag: str) -> pd.DataFrame:
        """``tag`` after restart resolution, sorted by step: columns step, value, wall_time."""
        cache = self.__dict__.setdefault("_frame_cache", {})
        if tag not in cache:
            raw = self.raw(tag)
            keep = resolve_restarts(raw["step"].to_numpy())
            resolved = raw[keep]
            if not resolved["step"].is_monotonic_increasing:
                resolved = resolved.sort_values("step", kind="stable")
            cache[tag] = resolved.reset_index(drop=True)
        return cache[tag]

    def series(self, tag: str) -> pd.Series:
        """``tag`` as a float Series indexed by step (unique, increasing), restarts resolved."""
        f = self.frame(tag)
        return pd.Series(f["value"].to_numpy(), index=pd.Index(f["step"].to_numpy(), name="step"), name=tag)

    def metric(self, concept: str) -> pd.Series | None:
        """The series bound to a canonical concept, transformed to the comparable convention."""
        binding = self.metrics.get(concept)
        if binding is None or not self.has(binding.tag):
            return None
        s = self.series(binding.tag)
        if binding.transform == "negate":
            s = -s
        elif binding.transform == "square":
            s = s * s
        return s.rename(binding.tag)

    def summary(self) -> dict[str, Any]:
        """The JSON contract's run fields (findings are added by the caller)."""
        return {
            "run": self.name,
            "source": list(self.sources),
            "framework": self.framework,
            "steps": self.steps,
            "points": self.points,
            "tags": len(self._slices),
            "metrics": {c: b.tag for c, b in sorted(self.metrics.items())},
            "notes": list(self.notes),
        }


def empty_scalars() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tag": pd.Categorical([]),
            "step": np.zeros(0, np.int64),
            "value": np.zeros(0, np.float64),
            "wall_time": np.zeros(0, np.float64),
        }
    )


@dataclass
class LoadResult:
    """What reading some inputs gave: the runs, and an error entry per unreadable file."""

    runs: list[Run] = field(default_factory=list)
    errors: list[ReadError] = field(default_factory=list)

    def extend(self, other: "LoadResult") -> None:
        self.runs.extend(other.runs)
        self.errors.extend(other.errors)
