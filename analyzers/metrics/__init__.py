"""Canonical metric resolution: which tag of a run provides each concept, and how to read it.

:func:`resolve` detects the trainer that wrote a run (:mod:`.frameworks`), binds every concept of
:mod:`.concepts` to a tag through the alias table (:mod:`.aliases`) with the unit, sign and KL
estimator conventions that make trainers comparable, picks the behaviour (held-out/eval) metrics
used for reward-hacking checks, and notes the traps a user should know about. A user's
:class:`MetricMap` (``--metric-map map.toml``) and ``--behaviour TAG`` come first.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from dataclasses import replace
from typing import Any, Iterable, Mapping, Sequence

from ..model import MetricBinding, Run
from .aliases import ALIASES, FRAMEWORK_NOTES, FRAMEWORKS, GENERIC, Alias, candidate_tags
from .concepts import CONCEPT_IDS
from .frameworks import FAMILIES, canonical_framework_id, contradicts, detect_framework, framework_scores

__all__ = ["MetricMap", "resolve", "detect_framework", "TRANSFORMS", "ESTIMATORS", "DIRECTIONS"]

TRANSFORMS = ("identity", "negate", "square")
ESTIMATORS = ("k1", "k2", "k3")
DIRECTIONS = ("higher", "lower")
BINDING_FIELDS = ("tag", "transform", "unit", "estimator", "note")

# Prefixes under which the same logged key can appear (HF callbacks, W&B, trainer_state.json).
_TAG_PREFIXES = ("", "train/", "eval/", "eval_", "eval/eval_")

# A run can log one eval metric per dataset and statistic (verl val-core/<ds>/<var>/<stat>@N);
# past this many, the first ones in name order are kept and the run's notes say so.
MAX_AUTO_BEHAVIOUR = 16

# Metadata keys this module owns on a run, so resolving twice gives the same result.
_NOTES_KEY = "metric_resolution_notes"
_READER_FRAMEWORK_KEY = "reader_framework"


# --------------------------------------------------------------------------------- metric map
class MetricMap:
    """A user's overrides: concept -> binding, behaviour tag -> direction, optional framework.

    The file format (TOML, read with :mod:`tomllib`)::

        framework = "verl"                              # optional: skip detection
        [metrics]
        "kl.ref" = "my/kl_to_ref"                       # short form: just the tag
        "entropy" = { tag = "train/entropy_loss", transform = "negate", unit = "nats/token" }
        [behaviour]
        "eval/win_rate" = "higher"
        "eval/loss" = "lower"

    ``concepts`` (concept -> tag) is kept for backward compatibility; ``bindings`` holds the full
    :class:`MetricBinding` per concept. Invalid content raises :class:`ValueError`.
    """

    def __init__(
        self,
        concepts: Mapping[str, str | MetricBinding | Mapping[str, Any]] | None = None,
        behaviour: Mapping[str, str] | None = None,
        framework: str | None = None,
    ) -> None:
        self.bindings: dict[str, MetricBinding] = {}
        for concept, value in (concepts or {}).items():
            self.bindings[concept] = _parse_binding(concept, value)
        self.behaviour: dict[str, str] = {}
        for tag, direction in (behaviour or {}).items():
            self.behaviour[_check_tag(tag, "[behaviour]")] = _parse_direction(tag, direction)
        self.framework = _parse_framework(framework)

    @property
    def concepts(self) -> dict[str, str]:
        """Concept -> tag (a copy; change bindings through :attr:`bindings`)."""
        return {c: b.tag for c, b in self.bindings.items()}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MetricMap):
            return NotImplemented
        return (self.bindings, self.behaviour, self.framework) == (other.bindings, other.behaviour, other.framework)

    def __repr__(self) -> str:
        return f"MetricMap(concepts={self.concepts!r}, behaviour={self.behaviour!r}, framework={self.framework!r})"

    def __bool__(self) -> bool:
        return bool(self.bindings or self.behaviour or self.framework)

    # ----------------------------------------------------------------- reading
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MetricMap":
        """A map from parsed TOML: ``{"metrics": {...}, "behaviour": {...}, "framework": str}``."""
        if not isinstance(data, Mapping):
            raise ValueError("a metric map must be a table")
        unknown = sorted(set(data) - {"metrics", "behaviour", "behavior", "framework"})
        if unknown:
            raise ValueError(
                f"unknown key or section {', '.join(repr(k) for k in unknown)}; "
                "expected [metrics], [behaviour] and an optional framework = \"...\""
            )
        metrics = data.get("metrics", {})
        behaviour = data.get("behaviour", data.get("behavior", {}))
        for section, table in (("metrics", metrics), ("behaviour", behaviour)):
            if not isinstance(table, Mapping):
                raise ValueError(f"[{section}] must be a table, got {type(table).__name__}")
        framework = data.get("framework")
        if framework is not None and not isinstance(framework, str):
            raise ValueError(f"framework must be a string, got {framework!r}")
        return cls(metrics, behaviour, framework)

    @classmethod
    def from_toml(cls, text: str) -> "MetricMap":
        """Parse the TOML text of a metric map."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"not valid TOML: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> "MetricMap":
        """Read a metric map file. Raises ``OSError`` if unreadable, ``ValueError`` if invalid."""
        with open(path, "rb") as fh:
            raw = fh.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        return cls.from_toml(text)

    @classmethod
    def from_run(cls, run: Run) -> "MetricMap":
        """The map that reproduces ``run``'s current resolution (for "download mapping")."""
        bindings = {c: replace(b, source="user") for c, b in sorted(run.metrics.items())}
        behaviour = {b.tag: ("lower" if b.transform == "negate" else "higher") for b in run.behaviour}
        framework = run.framework if run.framework in FRAMEWORKS else None
        return cls(bindings, behaviour, framework)

    # ----------------------------------------------------------------- writing
    def to_toml(self) -> str:
        """The map as TOML text that :meth:`from_toml` reads back to an equal map."""
        lines = ["# rlhf-triage metric map: concept -> tag, and behaviour metrics to watch", ""]
        if self.framework:
            lines += [f"framework = {_toml_str(self.framework)}", ""]
        lines.append("[metrics]")
        for concept, b in self.bindings.items():
            extra = {k: getattr(b, k) for k in BINDING_FIELDS[1:] if getattr(b, k) not in (None, "identity")}
            if extra:
                items = ", ".join(f"{k} = {_toml_str(v)}" for k, v in {"tag": b.tag, **extra}.items())
                lines.append(f"{_toml_str(concept)} = {{ {items} }}")
            else:
                lines.append(f"{_toml_str(concept)} = {_toml_str(b.tag)}")
        lines += ["", "[behaviour]"]
        for tag, direction in self.behaviour.items():
            lines.append(f"{_toml_str(tag)} = {_toml_str(direction)}")
        return "\n".join(lines) + "\n"


def _toml_str(value: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes; TOML also forbids a raw DEL.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _check_tag(tag: Any, where: str) -> str:
    if not isinstance(tag, str) or not tag.strip():
        raise ValueError(f"{where}: a tag must be a non-empty string, got {tag!r}")
    return tag


def _parse_binding(concept: str, value: str | MetricBinding | Mapping[str, Any]) -> MetricBinding:
    if concept not in CONCEPT_IDS:
        close = difflib.get_close_matches(concept, sorted(CONCEPT_IDS), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(f"[metrics]: unknown concept {concept!r}{hint}; known concepts: {', '.join(sorted(CONCEPT_IDS))}")
    where = f"[metrics] {concept!r}"
    if isinstance(value, MetricBinding):
        fields = {k: getattr(value, k) for k in BINDING_FIELDS}
    elif isinstance(value, str):
        fields = {"tag": value}
    elif isinstance(value, Mapping):
        unknown = sorted(set(value) - set(BINDING_FIELDS))
        if unknown:
            raise ValueError(f"{where}: unknown field {', '.join(map(repr, unknown))}; allowed: {', '.join(BINDING_FIELDS)}")
        if "tag" not in value:
            raise ValueError(f"{where}: missing tag")
        fields = dict(value)
    else:
        raise ValueError(f"{where}: expected a tag string or a table with tag = \"...\", got {value!r}")
    tag = _check_tag(fields.get("tag"), where)
    transform = fields.get("transform") or "identity"
    if transform not in TRANSFORMS:
        raise ValueError(f"{where}: transform must be one of {', '.join(TRANSFORMS)}, got {transform!r}")
    estimator = fields.get("estimator")
    if estimator is not None and estimator not in ESTIMATORS:
        raise ValueError(f"{where}: estimator must be one of {', '.join(ESTIMATORS)}, got {estimator!r}")
    for name in ("unit", "note"):
        if fields.get(name) is not None and not isinstance(fields[name], str):
            raise ValueError(f"{where}: {name} must be a string, got {fields[name]!r}")
    return MetricBinding(concept, tag, transform, fields.get("unit"), estimator, "user", fields.get("note"))


def _parse_direction(tag: str, direction: Any) -> str:
    if isinstance(direction, str) and direction.strip().lower() in DIRECTIONS:
        return direction.strip().lower()
    raise ValueError(f"[behaviour] {tag!r}: direction must be \"higher\" or \"lower\", got {direction!r}")


def _parse_framework(framework: str | None) -> str | None:
    if framework is None:
        return None
    known = canonical_framework_id(framework)
    if known not in FRAMEWORKS:
        raise ValueError(f"framework: unknown framework {framework!r}; known: {', '.join(FRAMEWORKS)}")
    return known


# --------------------------------------------------------------------------------- tag matching
def _strip_prefix(tag: str) -> str:
    for prefix in ("eval/eval_", "train/", "eval/", "eval_"):
        if tag.startswith(prefix):
            return tag[len(prefix):]
    return tag


def find_tag(name: str, tags: Iterable[str]) -> str | None:
    """``name`` as it appears in ``tags``: exactly, else with or without a train/eval prefix.

    ``eval_reward`` (trainer_state.json) finds ``eval/reward`` (TensorBoard) and back.
    """
    tagset = tags if isinstance(tags, (set, frozenset, dict)) else set(tags)
    if name in tagset:
        return name
    base = _strip_prefix(name)
    eval_side = name != base and not name.startswith("train/")
    prefixes = ("eval/", "eval_", "eval/eval_") if eval_side else ("", "train/")
    for prefix in prefixes:
        if prefix + base in tagset:
            return prefix + base
    return None


def closest_tags(name: str, tags: Sequence[str], n: int = 3) -> list[str]:
    """Up to ``n`` existing tags that look like ``name`` (for "did you mean" notes)."""
    matches = difflib.get_close_matches(name, tags, n=n, cutoff=0.6)
    if len(matches) < n:
        base = _strip_prefix(name).lower()
        matches += [t for t in tags if base and base in t.lower() and t not in matches][: n - len(matches)]
    return matches


def _missing_tag_note(what: str, name: str, tags: Sequence[str]) -> str:
    close = closest_tags(name, tags)
    hint = f"closest tags: {', '.join(close)}" if close else "no similar tag"
    return f"{what} {name!r} is not in this run ({hint})."


def _match_alias(alias: Alias, tagset: set[str]) -> str | None:
    for tag in candidate_tags(alias):
        if tag in tagset:
            return tag
    return None


def _binding(alias: Alias, tag: str, source: str = "alias") -> MetricBinding:
    return MetricBinding(alias.concept, tag, alias.transform, alias.unit, alias.estimator, source, alias.note)


# --------------------------------------------------------------------------------- framework
def _choose_framework(run: Run, tagset: set[str], metric_map: MetricMap | None, notes: list[str]) -> str | None:
    if metric_map is not None and metric_map.framework:
        return metric_map.framework
    reader = run.metadata.get(_READER_FRAMEWORK_KEY)
    detected = detect_framework(tagset, run.metadata)
    if not reader:
        return detected
    known = canonical_framework_id(reader)
    if known in FAMILIES:
        # A reader that only knows the family ("trl"): refine within it.
        return detected if detected in FAMILIES[known] else known
    if known not in FRAMEWORKS:
        return known
    scores = framework_scores(tagset, run.metadata.get("format") if isinstance(run.metadata.get("format"), str) else None)
    if detected and detected != known and contradicts(known, scores):
        notes.append(f"The reader reported framework {reader!r}, but the tags look like {detected}; using {detected}.")
        return detected
    return known


# --------------------------------------------------------------------------------- behaviour
_BEHAVIOUR_TOKENS = {
    "reward", "rewards", "return", "returns", "score", "scores", "acc", "accuracy", "accuracies",
    "win", "winrate", "correct", "correctness", "success", "bleu", "rouge", "f1", "em", "exact",
    "gold", "loss", "perplexity", "ppl", "nll", "error", "pass", "solved", "quality", "helpfulness",
    "harmlessness", "preference", "judge", "rating", "elo",
}
_BEHAVIOUR_PREFIX_TOKENS = ("pass", "acc", "reward", "rouge", "win")
_LOWER_IS_BETTER_TOKENS = {"loss", "perplexity", "ppl", "nll", "error", "err", "wer", "cer"}
# Eval streams that are bookkeeping, not behaviour: timings, lengths, spreads, implicit DPO parts.
_NOT_BEHAVIOUR_TOKENS = {
    "runtime", "second", "samples", "steps", "epoch", "length", "len", "time", "truncated",
    "clip", "clipped", "logps", "logits", "chosen", "rejected", "std", "min", "max", "worst",
    "num", "count", "kl", "entropy", "lr", "tokens", "margins",
}
_EVAL_PREFIXES = ("eval/", "eval_", "test/", "test_", "val-core/", "validation/", "valid/")
_TOKEN_SPLIT = re.compile(r"[/_@\-.\s:]+")


def _tokens(tag: str) -> list[str]:
    # CamelCase (Spinning Up's AverageTestEpRet) splits into words too.
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", tag)
    return [t for t in _TOKEN_SPLIT.split(spaced.lower()) if t]


def lower_is_better(tag: str) -> bool:
    """True for losses, perplexities and error rates, which improve by going down."""
    return any(t in _LOWER_IS_BETTER_TOKENS for t in _tokens(tag))


def _is_eval_stream(tag: str, framework: str | None) -> bool:
    if tag.startswith(_EVAL_PREFIXES):
        return True
    if framework == "spinningup" and tag in ("AverageTestEpRet", "TestEpRet"):
        return True
    if framework == "trlx" and (tag == "reward/mean" or tag.startswith("metrics/")):
        return True
    return False


def _looks_like_behaviour(tag: str, framework: str | None) -> bool:
    tokens = _tokens(tag)
    if any(t in _NOT_BEHAVIOUR_TOKENS for t in tokens):
        return False
    if framework not in (None, "hf-trainer") and "loss" in tokens:
        # An RL trainer's eval loss is its RL objective on eval prompts (the GRPO loss is beta*KL
        # when num_iterations=1, metrics.md §1.4), not a measure of behaviour.
        return False
    return any(t in _BEHAVIOUR_TOKENS or t.startswith(_BEHAVIOUR_PREFIX_TOKENS) for t in tokens) or tag in (
        "AverageTestEpRet",
        "TestEpRet",
    )


def _behaviour_binding(tag: str, lower: bool, source: str, why: str) -> MetricBinding:
    if lower:
        note = f"{why}; lower is better in the log, so the series is negated: higher is better."
    else:
        note = f"{why}; higher is better."
    return MetricBinding("behaviour", tag, "negate" if lower else "identity", None, None, source, note)


def _parse_behaviour_spec(spec: str) -> tuple[str, str | None]:
    name, sep, direction = spec.rpartition(":")
    if sep and direction.strip().lower() in DIRECTIONS:
        return name, direction.strip().lower()
    return spec, None


def _resolve_behaviour(
    run: Run,
    tagset: set[str],
    tags: Sequence[str],
    user_specs: Sequence[tuple[str, str | None]],
    notes: list[str],
) -> list[MetricBinding]:
    optimised = {b.tag for c, b in run.metrics.items() if c in ("reward.score", "reward.total", "rl.ep_return")}
    chosen: list[MetricBinding] = []
    seen: set[str] = set()
    for name, direction in user_specs:
        tag = find_tag(name, tagset)
        if tag is None:
            notes.append(_missing_tag_note("Behaviour metric", name, tags))
            continue
        if tag in optimised:
            notes.append(
                f"Behaviour metric {tag!r} is the optimised training reward; a behaviour metric must be "
                "measured independently of it (held-out, eval or gold), so it is not used."
            )
            continue
        if tag in seen:
            continue
        lower = lower_is_better(tag) if direction is None else direction == "lower"
        why = "named by the user" + ("" if direction else f" (direction inferred from the name: {'lower' if lower else 'higher'} is better)")
        chosen.append(_behaviour_binding(tag, lower, "user", why))
        seen.add(tag)
    auto = [
        t for t in tags
        if t not in seen and t not in optimised and _is_eval_stream(t, run.framework) and _looks_like_behaviour(t, run.framework)
    ]
    if len(auto) > MAX_AUTO_BEHAVIOUR:
        notes.append(
            f"{len(auto)} eval metrics look like behaviour metrics; the first {MAX_AUTO_BEHAVIOUR} by name are watched. "
            "Name the ones that matter with --behaviour TAG."
        )
        auto = auto[:MAX_AUTO_BEHAVIOUR]
    for tag in auto:
        chosen.append(_behaviour_binding(tag, lower_is_better(tag), "auto", "eval metric detected automatically"))
    return chosen


# --------------------------------------------------------------------------------- resolve
def _forget_previous_resolution(run: Run) -> None:
    previous = run.metadata.get(_NOTES_KEY, [])
    if previous:
        remaining = list(previous)
        kept = []
        for note in run.notes:
            if note in remaining:
                remaining.remove(note)
            else:
                kept.append(note)
        run.notes[:] = kept
    if _READER_FRAMEWORK_KEY not in run.metadata:
        run.metadata[_READER_FRAMEWORK_KEY] = run.framework
    run.metrics.clear()
    run.behaviour.clear()


def resolve(run: Run, metric_map: MetricMap | None = None, behaviour: Sequence[str] = ()) -> Run:
    """Fill ``run.metrics``, ``run.behaviour`` and ``run.framework``; returns the run.

    Order of precedence: the user's metric map (``source="user"``), the detected framework's
    alias table, other frameworks' specific keys, and, when no trainer was recognised, the
    generic short keys (``kl``, ``reward``, ...). ``behaviour`` items are tags, optionally
    suffixed ``:lower`` or ``:higher``; they come before the metric map's ``[behaviour]`` and
    the automatically detected eval metrics. Calling it again (e.g. with another map) replaces
    the previous resolution, including the notes it added.
    """
    if isinstance(behaviour, str):
        behaviour = (behaviour,)
    _forget_previous_resolution(run)
    notes: list[str] = []
    tags = run.tags
    tagset = set(tags)
    framework = _choose_framework(run, tagset, metric_map, notes)
    run.framework = framework

    # 1. The user's bindings.
    for concept, user in (metric_map.bindings.items() if metric_map else ()):
        tag = find_tag(user.tag, tagset)
        if tag is None:
            notes.append(_missing_tag_note(f"Metric map: {concept} ->", user.tag, tags)[:-1] + "; using the alias table instead.")
            continue
        run.metrics[concept] = replace(user, tag=tag, source="user")

    # 2. The detected framework's keys, generic ones included.
    bound_aliases: list[Alias] = []
    for alias in ALIASES.get(framework or "", ()):
        if alias.concept not in run.metrics and (tag := _match_alias(alias, tagset)):
            run.metrics[alias.concept] = _binding(alias, tag)
            bound_aliases.append(alias)

    # 3. Other frameworks' specific keys (a custom trainer logging verl-style names, mixed logs).
    for other in FRAMEWORKS:
        if other == framework:
            continue
        for alias in ALIASES[other]:
            if alias.generic or alias.concept in run.metrics:
                continue
            if tag := _match_alias(alias, tagset):
                run.metrics[alias.concept] = _binding(alias, tag)
                bound_aliases.append(alias)

    # 4. Short generic keys, only when no RL trainer was recognised.
    if framework in (None, "hf-trainer"):
        generic_bound = []
        for alias in GENERIC:
            if alias.concept not in run.metrics and (tag := _match_alias(alias, tagset)):
                run.metrics[alias.concept] = _binding(alias, tag, source="auto")
                generic_bound.append(f"{alias.concept} <- {tag}")
        if generic_bound:
            notes.append(
                "No RL trainer recognised from the tag names; bound generic keys "
                f"({', '.join(generic_bound)}) with unknown units and estimators. "
                "Use --metric-map to say what they are."
            )

    # 5. Behaviour metrics.
    user_specs = [_parse_behaviour_spec(s) for s in behaviour]
    if metric_map:
        user_specs += list(metric_map.behaviour.items())
    run.behaviour.extend(_resolve_behaviour(run, tagset, tags, user_specs, notes))
    if "eval.reward" not in run.metrics:
        rewards = [b for b in run.behaviour if b.transform == "identity" and {"reward", "rewards", "return", "returns"} & set(_tokens(b.tag))]
        if len(rewards) == 1:
            run.metrics["eval.reward"] = MetricBinding("eval.reward", rewards[0].tag, source="auto", note="the only eval reward stream")

    # 6. Traps worth a note.
    notes += [alias.note for alias in bound_aliases if alias.note and alias.warn]
    for concept, note in FRAMEWORK_NOTES.get(framework or "", {}).items():
        if concept not in run.metrics:
            notes.append(note)
    if not run.metrics and not run.behaviour and tags:
        notes.append(
            "No canonical metric found: the tag names match no known trainer. "
            "Map them with --metric-map (see MetricMap) to enable the checks."
        )

    notes = list(dict.fromkeys(notes))
    run.notes.extend(notes)
    run.metadata[_NOTES_KEY] = notes
    return run
