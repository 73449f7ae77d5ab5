"""The rule base class: identity, documentation and the Finding factory every rule uses.

Writing a rule (one module per rule under ``analyzers/rules/``)::

    \"\"\"One-line title of the rule.

    What it detects
    ---------------
    ...

    Why it matters
    --------------
    ...

    What to try
    -----------
    - Lower `learning_rate` ...
    - Raise `beta` (TRL) / `actor_rollout_ref.actor.kl_loss_coef` (verl) ...

    References
    ----------
    - metrics.md P1; Gao et al. 2022, arXiv:2210.10760
    \"\"\"

    from ..model import Run
    from .base import Rule
    from . import stats

    def detect(run: Run) -> list[Finding]:
        kl = stats.finite(run.metric("kl.ref"))
        ...
        return [RULE.finding(severity="warning", title=..., summary=..., onset_step=...,
                             metrics=[RULE.tag(run, "kl.ref")], evidence={...}, confidence=0.8)]

    RULE = Rule("KL001", "kl-blowup", "kl_blowup", needs=("kl.ref",), doc=__doc__, detect=detect)

Stable API (other rule modules rely on it; extend, do not change):

- ``Rule(code, name, kind, needs=(), preview=False, doc="", detect=None, needs_any=(), title="")``
  * ``needs``: every concept listed must be bound and present, else the rule is skipped.
  * ``needs_any``: at least one of these concepts must be present (e.g. ``("kl.step",
    "clipfrac", "ratio.mean")``).
  * ``detect(run) -> list[Finding]``: the detection function; :meth:`Rule.check` calls it.
    Subclasses may override :meth:`Rule.check` instead.
  * ``title``: default finding title; defaults to the first line of ``doc``.
- ``Rule.missing(run) -> str | None``: why the rule cannot run (a sentence) or None.
- ``Rule.check(run) -> list[Finding]``.
- ``Rule.explanation`` (str, the *Why it matters* section as one paragraph),
  ``Rule.actions`` (list of the *What to try* bullets), ``Rule.references`` (list of the
  *References* bullets), ``Rule.detects`` (the *What it detects* paragraph),
  ``Rule.sections`` (dict section name -> raw text), ``Rule.describe()`` (full text for
  ``python -m analyzers rule CODE``).
- ``Rule.finding(severity=, summary=, onset_step=, title=None, peak_step=None, end_step=None,
  metrics=(), evidence=None, confidence=0.5, kind=None, code=None, actions=None)``: a
  :class:`Finding` with code/kind/rule/explanation/actions/references filled from the rule,
  steps cast to ``int`` and evidence made JSON-safe (numpy scalars -> Python, NaN/Inf -> None).
- ``Rule.tag(run, concept) -> str | None``: the tag bound to a concept (for ``metrics=``).
- Helpers: :func:`json_safe`, :func:`fmt_value` (numbers for summaries: ``41``, ``0.82``,
  ``1.2e-05``), :func:`fmt_step` (``1,200``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from ..findings import Finding
from ..model import Run

SECTION_NAMES = ("What it detects", "Why it matters", "What to try", "References")

_UNDERLINE = re.compile(r"^\s*[-=~]{3,}\s*$")
_BULLET = re.compile(r"^\s*[-*]\s+")


def parse_doc(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a rule module docstring into (title line, {section name: raw text}).

    Sections are the fixed headings of :data:`SECTION_NAMES`, each on its own line, optionally
    underlined with dashes (numpydoc / ruff style) or ending with a colon.
    """
    if not doc:
        return "", {}
    lines = doc.strip("\n").splitlines()
    # Dedent everything after the first line (docstring convention).
    body = lines[1:]
    indents = [len(line) - len(line.lstrip()) for line in body if line.strip()]
    cut = min(indents) if indents else 0
    lines = [lines[0].strip()] + [line[cut:] for line in body]
    title = lines[0].strip()
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in lines[1:]:
        heading = line.strip().rstrip(":")
        if heading in SECTION_NAMES:
            current = heading
            sections[current] = []
            continue
        if _UNDERLINE.match(line) and current is not None and not sections[current]:
            continue
        if current is not None:
            sections[current].append(line)
    return title, {name: "\n".join(text).strip() for name, text in sections.items()}


def _paragraph(text: str) -> str:
    """Text with its line breaks folded into single spaces (blank lines keep a paragraph break)."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "\n\n".join(paragraphs)


def _bullets(text: str) -> list[str]:
    """The bullet items of a section; continuation lines are joined to their bullet."""
    items: list[str] = []
    for line in text.splitlines():
        if _BULLET.match(line):
            items.append(_BULLET.sub("", line).strip())
        elif line.strip() and items:
            items[-1] += " " + line.strip()
        elif line.strip():
            items.append(line.strip())
    return items


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON: numpy scalars/arrays -> Python, NaN/Inf -> None, tuples -> lists."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def fmt_value(value: float | None, digits: int = 2) -> str:
    """A number for a human sentence: ``41``, ``0.82``, ``1.2e-05``, ``nan``."""
    if value is None:
        return "n/a"
    value = float(value)
    if not math.isfinite(value):
        return str(value).lower()
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if magnitude >= 1e5 or magnitude < 1e-3:
        return f"{value:.{digits - 1}e}"
    if magnitude >= 100:
        return f"{value:,.0f}"
    text = f"{value:.{digits}g}" if magnitude < 1 else f"{value:.{digits + (1 if magnitude >= 10 else 0)}g}"
    return text


def fmt_step(step: int | float | None) -> str:
    """A step for a human sentence: ``1,200``."""
    if step is None:
        return "?"
    return f"{int(step):,}"


def _int_or_none(step: Any) -> int | None:
    if step is None:
        return None
    try:
        return int(step)
    except (TypeError, ValueError):
        return None


@dataclass
class Rule:
    """One rule of the catalogue. See the module docstring for the stable API."""

    code: str
    name: str
    kind: str
    needs: Sequence[str] = ()
    preview: bool = False
    doc: str = ""
    detect: Callable[[Run], list[Finding]] | None = None
    needs_any: Sequence[str] = ()
    title: str = ""
    sections: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        doc_title, self.sections = parse_doc(self.doc)
        if not self.title:
            self.title = doc_title.rstrip(".") or self.name.replace("-", " ").capitalize()

    # ------------------------------------------------------------------ documentation
    @property
    def detects(self) -> str:
        return _paragraph(self.sections.get("What it detects", ""))

    @property
    def explanation(self) -> str:
        return _paragraph(self.sections.get("Why it matters", ""))

    @property
    def actions(self) -> list[str]:
        return _bullets(self.sections.get("What to try", ""))

    @property
    def references(self) -> list[str]:
        return _bullets(self.sections.get("References", ""))

    def describe(self) -> str:
        """The full documentation, for ``python -m analyzers rule CODE``."""
        status = "preview (off unless --preview)" if self.preview else "stable"
        head = f"{self.code} {self.name} ({self.kind}; {status})"
        out = [head, "=" * len(head), "", self.title, ""]
        needs = list(self.needs)
        if self.needs_any:
            needs.append("one of " + ", ".join(self.needs_any))
        if needs:
            out += ["Needs: " + "; ".join(needs), ""]
        for name in SECTION_NAMES:
            text = self.sections.get(name)
            if text:
                out += [name, "-" * len(name), text, ""]
        return "\n".join(out).rstrip() + "\n"

    # ------------------------------------------------------------------ running
    def missing(self, run: Run) -> str | None:
        """Why this rule cannot run on ``run`` (a sentence), or None when it can."""
        absent = [c for c in self.needs if run.metric(c) is None]
        if absent:
            return "needs " + ", ".join(absent) + "; none found"
        if self.needs_any and all(run.metric(c) is None for c in self.needs_any):
            return "needs one of " + ", ".join(self.needs_any) + "; none found"
        return None

    def check(self, run: Run) -> list[Finding]:
        if self.detect is None:
            raise NotImplementedError(f"rule {self.code} has no detect function")
        return list(self.detect(run))

    # ------------------------------------------------------------------ findings
    @staticmethod
    def tag(run: Run, concept: str) -> str | None:
        """The tag bound to ``concept`` in ``run`` (None when unbound)."""
        binding = run.metrics.get(concept)
        return binding.tag if binding is not None else None

    def finding(
        self,
        *,
        severity: str,
        summary: str,
        onset_step: Any,
        title: str | None = None,
        peak_step: Any = None,
        end_step: Any = None,
        metrics: Iterable[str | None] = (),
        evidence: Mapping[str, Any] | None = None,
        confidence: float = 0.5,
        kind: str | None = None,
        code: str | None = None,
        actions: Sequence[str] | None = None,
    ) -> Finding:
        """A Finding carrying this rule's identity and documentation.

        ``metrics`` may contain None (an unbound concept); those are dropped, as are duplicates.
        """
        tags: list[str] = []
        for tag in metrics:
            if tag and tag not in tags:
                tags.append(tag)
        return Finding(
            code=code or self.code,
            kind=kind or self.kind,
            severity=severity,
            title=title or self.title,
            summary=summary,
            onset_step=_int_or_none(onset_step),
            peak_step=_int_or_none(peak_step),
            end_step=_int_or_none(end_step),
            metrics=tags,
            evidence=json_safe(dict(evidence or {})),
            confidence=float(min(1.0, max(0.0, confidence))),
            explanation=self.explanation,
            actions=list(actions) if actions is not None else self.actions,
            references=self.references,
            rule=self.name,
        )
