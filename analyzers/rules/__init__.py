"""The rule catalogue: one module per rule, discovered at import time.

A rule module defines ``RULE``, an instance of :class:`analyzers.rules.base.Rule`. Its module
docstring carries the fixed sections (*What it detects*, *Why it matters*, *What to try*,
*References*); the explanation users see is generated from that one place.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Iterable

from ..findings import Finding, sort_findings
from ..model import Run
from .base import Rule

_SKIP_MODULES = {"base", "stats"}


def all_rules() -> list[Rule]:
    """Every registered rule, stable and preview, ordered by code."""
    rules: list[Rule] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name in _SKIP_MODULES or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        rule = getattr(module, "RULE", None)
        if isinstance(rule, Rule):
            rules.append(rule)
    return sorted(rules, key=lambda r: r.code)


def get_rule(code_or_name: str) -> Rule:
    for rule in all_rules():
        if code_or_name in (rule.code, rule.name):
            return rule
    raise KeyError(code_or_name)


@dataclass
class Analysis:
    """The outcome of running the rules on one run."""

    run: Run
    findings: list[Finding] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"rule": code, "reason": why}
    errors: list[dict[str, str]] = field(default_factory=list)  # {"rule": code, "message": what}


def analyze(run: Run, *, preview: bool = False, select: Iterable[str] | None = None) -> Analysis:
    """Run every applicable rule on ``run``. Never raises because of a rule."""
    wanted = set(select) if select else None
    analysis = Analysis(run=run)
    for rule in all_rules():
        if wanted is not None and rule.code not in wanted and rule.name not in wanted and rule.kind not in wanted:
            continue
        if rule.preview and not preview and wanted is None:
            continue
        try:
            missing = rule.missing(run)
            if missing:
                analysis.skipped.append({"rule": rule.code, "reason": missing})
                continue
            analysis.findings.extend(rule.check(run))
        except Exception as exc:  # a broken rule is reported, never a crashed analysis
            analysis.errors.append({"rule": rule.code, "message": f"{type(exc).__name__}: {exc}"})
    analysis.findings = sort_findings(analysis.findings)
    return analysis
