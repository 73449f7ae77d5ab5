"""Measure the rule catalogue: per-kind recall, false alarms on healthy runs and onset error.

``python -m analyzers.evaluate`` scores every rule (stable and preview) on two corpora:

(a) the labelled real-run corpus, ``sample_logs/labels.json``::

        {"runs": {"<path relative to sample_logs>": {"healthy": bool,
                  "findings": [{"kind": "kl_blowup", "onset_step": 1200}, ...], ...}}}

    each path read through :func:`analyzers.load`;
(b) the seeded synthetic corpus of :mod:`analyzers.scenarios`.

and prints one Markdown table per corpus (``--json`` for machine-readable output).

Definitions (issue 3 targets in brackets):

- **recall**: labelled (kind, onset) pairs on which the analysis produced a finding of that kind,
  at any severity, over all labelled pairs [>= 0.95].
- **false alarms**: healthy runs with at least one warning-or-worse finding of the kind [0].
  Info-level findings on healthy runs are counted separately, not as false alarms.
- **onset error**: for each detected pair, |finding onset - labelled onset| as a percentage of
  the run's length in steps, using the finding of that kind closest to the label; a finding
  without an onset counts as 100 % [<= 10 %].
- **unexpected**: warning-or-worse findings on broken runs of a kind the run is not labelled
  with (and not listed as tolerated): cross-talk, reported but not a target.
- **weak labels** (``"weak": true`` on a labelled finding, with a ``weak_reason``): a pathology
  that is really there but whose signal is within the noise of what healthy runs also show, so
  no sound rule can be required to find it without false alarms (the case: SB3 CartPole with a
  gameable edge bonus, where the true eval return steps down by ~1.7x its eval-to-eval noise
  and partly recovers, while a healthy Acrobot run shows a larger transient eval dip with a
  rising training return). They are scored separately (found or not, onset error) and printed
  under the table; they count neither for recall nor as misses. A label becomes weak only with
  the numbers that make it so written next to it, never to make a rule pass.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .findings import KINDS, SEVERITY_RANK, Finding
from .model import Run
from .rules import Analysis, all_rules, analyze
from .scenarios import ExpectedFinding, LabelledRun, synthetic_corpus

TARGET_RECALL = 0.95  # issue 3
TARGET_FALSE_ALARMS = 0  # issue 3: zero warning-or-worse findings on healthy runs
TARGET_ONSET_ERROR_PCT = 10.0  # issue 3: onset within 10 % of the run length
ALARM_LEVEL = "warning"  # the severity from which a finding on a healthy run is a false alarm

DEFAULT_LABELS = Path(__file__).resolve().parent.parent / "sample_logs" / "labels.json"


def _is_alarm(finding: Finding) -> bool:
    return SEVERITY_RANK[finding.severity] >= SEVERITY_RANK[ALARM_LEVEL]


# ----------------------------------------------------------------------------- results


@dataclass
class RunOutcome:
    """What the analysis said about one labelled run."""

    case: LabelledRun
    findings: list[Finding] = field(default_factory=list)
    rule_errors: list[dict[str, str]] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]


@dataclass
class KindScore:
    """The measured accuracy of the rules of one kind on one corpus."""

    kind: str
    rules: list[str] = field(default_factory=list)  # "KL001" or "RH001 (preview)"
    positives: int = 0
    detected: int = 0
    healthy_runs: int = 0
    false_alarms: int = 0
    info_on_healthy: int = 0
    unexpected: int = 0
    onset_errors_pct: list[float] = field(default_factory=list)
    weak_positives: int = 0
    weak_detected: int = 0
    weak_results: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    false_alarm_runs: list[str] = field(default_factory=list)
    late_onsets: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        return self.detected / self.positives if self.positives else None

    @property
    def onset_error_mean(self) -> float | None:
        return sum(self.onset_errors_pct) / len(self.onset_errors_pct) if self.onset_errors_pct else None

    @property
    def onset_error_max(self) -> float | None:
        return max(self.onset_errors_pct) if self.onset_errors_pct else None

    @property
    def meets_targets(self) -> bool | None:
        """True/False against the issue's targets; None when the kind has no rule or no labels."""
        if not self.rules or (self.positives == 0 and self.healthy_runs == 0):
            return None
        ok = self.false_alarms <= TARGET_FALSE_ALARMS
        if self.positives:
            ok = ok and (self.recall or 0.0) >= TARGET_RECALL
            ok = ok and (self.onset_error_max is None or self.onset_error_max <= TARGET_ONSET_ERROR_PCT)
        return ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rules": list(self.rules),
            "positives": self.positives,
            "detected": self.detected,
            "recall": _round(self.recall),
            "healthy_runs": self.healthy_runs,
            "false_alarms": self.false_alarms,
            "info_on_healthy": self.info_on_healthy,
            "unexpected_on_broken": self.unexpected,
            "onset_error_mean_pct": _round(self.onset_error_mean),
            "onset_error_max_pct": _round(self.onset_error_max),
            "meets_targets": self.meets_targets,
            "missed": list(self.missed),
            "false_alarm_runs": list(self.false_alarm_runs),
            "late_onsets": list(self.late_onsets),
            "weak_labelled": self.weak_positives,
            "weak_detected": self.weak_detected,
            "weak_results": list(self.weak_results),
        }


@dataclass
class CorpusScore:
    """Every kind's score on one corpus, plus what could not be evaluated."""

    name: str
    runs: int = 0
    healthy_runs: int = 0
    kinds: dict[str, KindScore] = field(default_factory=dict)
    load_errors: list[str] = field(default_factory=list)
    rule_errors: list[str] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "corpus": self.name,
            "runs": self.runs,
            "healthy_runs": self.healthy_runs,
            "note": self.note,
            "kinds": [k.to_dict() for k in self.kinds.values()],
            "load_errors": list(self.load_errors),
            "rule_errors": list(self.rule_errors),
        }


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


# ----------------------------------------------------------------------------- running


def rules_by_kind() -> dict[str, list[str]]:
    """Rule codes per kind, preview rules marked: ``{"kl_blowup": ["KL001"], ...}``."""
    out: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for rule in all_rules():
        out.setdefault(rule.kind, []).append(f"{rule.code} (preview)" if rule.preview else rule.code)
    return out


def run_cases(
    cases: Iterable[LabelledRun],
    analyze_fn: Callable[[Run], Analysis] | None = None,
) -> list[RunOutcome]:
    """Analyse every case (preview rules included by default)."""
    analyze_fn = analyze_fn or (lambda run: analyze(run, preview=True))
    outcomes: list[RunOutcome] = []
    for case in cases:
        if case.run is None:
            outcomes.append(RunOutcome(case))
            continue
        analysis = analyze_fn(case.run)
        outcomes.append(RunOutcome(case, list(analysis.findings), list(analysis.errors)))
    return outcomes


def score(name: str, outcomes: Sequence[RunOutcome], rules: dict[str, list[str]] | None = None) -> CorpusScore:
    """Per-kind recall, false alarms and onset errors of ``outcomes`` (see the module docstring)."""
    rules = rules if rules is not None else rules_by_kind()
    result = CorpusScore(name)
    result.kinds = {kind: KindScore(kind, list(rules.get(kind, []))) for kind in KINDS}
    for outcome in outcomes:
        case = outcome.case
        if case.run is None:
            result.load_errors.append(f"{case.name}: {case.load_error or 'could not be read'}")
            continue
        result.runs += 1
        result.rule_errors += [f"{case.name}: rule {e.get('rule')}: {e.get('message')}" for e in outcome.rule_errors]
        if case.healthy:
            result.healthy_runs += 1
            for ks in result.kinds.values():
                ks.healthy_runs += 1
                found = outcome.of_kind(ks.kind)
                if any(_is_alarm(f) for f in found):
                    ks.false_alarms += 1
                    ks.false_alarm_runs.append(
                        f"{case.name}: " + "; ".join(f"{f.code} {f.severity}: {f.summary}" for f in found if _is_alarm(f))
                    )
                elif found:
                    ks.info_on_healthy += 1
            continue
        labelled = {e.kind for e in case.expected}
        for expected in case.expected:
            ks = result.kinds[expected.kind]
            if expected.weak:
                _score_weak(ks, outcome, expected)
                continue
            ks.positives += 1
            found = outcome.of_kind(expected.kind)
            if not found:
                others = ", ".join(sorted({f"{f.code}:{f.kind}" for f in outcome.findings})) or "nothing"
                ks.missed.append(f"{case.name} (onset {expected.onset_step}; found {others})")
                continue
            ks.detected += 1
            error = _onset_error_pct(found, expected, case.length)
            ks.onset_errors_pct.append(error)
            if error > TARGET_ONSET_ERROR_PCT:
                best = min(found, key=lambda f: _distance(f, expected))
                ks.late_onsets.append(f"{case.name}: labelled {expected.onset_step}, found {best.onset_step} ({error:.1f} %)")
        for finding in outcome.findings:
            if _is_alarm(finding) and finding.kind not in labelled and finding.kind not in case.tolerated:
                result.kinds[finding.kind].unexpected += 1
    return result


def _score_weak(ks: KindScore, outcome: RunOutcome, expected: ExpectedFinding) -> None:
    """A weak label: record whether it was found, and how far off, without scoring it."""
    ks.weak_positives += 1
    found = outcome.of_kind(expected.kind)
    if not found:
        ks.weak_results.append(f"{outcome.case.name} (onset {expected.onset_step}): not found")
        return
    ks.weak_detected += 1
    best = min(found, key=lambda f: _distance(f, expected))
    error = _onset_error_pct(found, expected, outcome.case.length)
    ks.weak_results.append(
        f"{outcome.case.name} (onset {expected.onset_step}): found {best.code} {best.severity} at {best.onset_step} ({error:.1f} %)"
    )


def _distance(finding: Finding, expected: ExpectedFinding) -> float:
    return math.inf if finding.onset_step is None else abs(finding.onset_step - expected.onset_step)


def _onset_error_pct(found: list[Finding], expected: ExpectedFinding, length: int) -> float:
    best = min(_distance(f, expected) for f in found)
    return 100.0 if not math.isfinite(best) else 100.0 * best / max(1, length)


# ----------------------------------------------------------------------------- corpora


def real_cases(labels_path: Path | str = DEFAULT_LABELS) -> tuple[list[LabelledRun], str]:
    """The labelled real-run corpus, and a note (why it is empty, when it is)."""
    from .api import load

    labels_path = Path(labels_path)
    if not labels_path.exists():
        return [], f"{labels_path.name} not found: no labelled real-run corpus yet"
    try:
        document = json.loads(labels_path.read_text(encoding="utf-8"))
        entries = document["runs"]
        if not isinstance(entries, dict):
            raise TypeError("'runs' is not an object")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [], f"{labels_path}: cannot read labels ({type(exc).__name__}: {exc})"
    cases: list[LabelledRun] = []
    root = labels_path.parent
    for rel, label in sorted(entries.items()):
        try:
            expected = [
                ExpectedFinding(str(f["kind"]), int(f["onset_step"]), bool(f.get("weak", False)))
                for f in label.get("findings", [])
            ]
            healthy = bool(label.get("healthy", not expected))
        except (KeyError, TypeError, ValueError) as exc:
            cases.append(LabelledRun(rel, None, False, load_error=f"bad label ({type(exc).__name__}: {exc})"))
            continue
        tolerated = tuple(label.get("tolerated", ()))
        result = load([root / rel])
        if not result.runs:
            why = "; ".join(e.message for e in result.errors) or "no run found"
            cases.append(LabelledRun(rel, None, healthy, expected, load_error=why))
            continue
        # One path is one labelled run; a path that yields several runs (a logdir) is scored as
        # the union of their findings, on the first run's step span.
        run = result.runs[0]
        case = LabelledRun(rel, run, healthy, expected, run.framework or "", str(label.get("description", "")), tolerated)
        case.extra_runs = list(result.runs[1:])
        cases.append(case)
    return cases, ""


def _analyze_case_runs(cases: list[LabelledRun]) -> list[RunOutcome]:
    outcomes = run_cases(cases)
    for outcome in outcomes:
        for extra in outcome.case.extra_runs:
            analysis = analyze(extra, preview=True)
            outcome.findings += analysis.findings
            outcome.rule_errors += analysis.errors
    return outcomes


def evaluate_real(labels_path: Path | str = DEFAULT_LABELS) -> CorpusScore:
    cases, note = real_cases(labels_path)
    result = score("real", _analyze_case_runs(cases))
    result.note = note
    return result


def evaluate_synthetic(seed: int = 0, repeats: int = 2) -> CorpusScore:
    cases = synthetic_corpus(seed, repeats=repeats)
    result = score("synthetic", run_cases(cases))
    result.note = f"seed {seed}; {sum(not c.healthy for c in cases)} broken and {sum(c.healthy for c in cases)} healthy runs"
    return result


# ----------------------------------------------------------------------------- rendering


def _fmt(value: float | None, pattern: str = "{:.2f}") -> str:
    return "n/a" if value is None else pattern.format(value)


def markdown_table(result: CorpusScore) -> str:
    """The corpus score as a Markdown table (the README reproduces it)."""
    lines = [
        "| kind | rules | labelled | detected | recall | healthy runs | false alarms | info on healthy | onset err mean | onset err max | targets |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for ks in result.kinds.values():
        verdict = {True: "met", False: "**missed**", None: "n/a"}[ks.meets_targets]
        lines.append(
            f"| {ks.kind} | {', '.join(ks.rules) or '(no rule)'} | {ks.positives} | {ks.detected} | "
            f"{_fmt(ks.recall)} | {ks.healthy_runs} | {ks.false_alarms} | {ks.info_on_healthy} | "
            f"{_fmt(ks.onset_error_mean, '{:.1f} %')} | {_fmt(ks.onset_error_max, '{:.1f} %')} | {verdict} |"
        )
    return "\n".join(lines)


def render_markdown(results: Sequence[CorpusScore], details: bool = False) -> str:
    out: list[str] = []
    for result in results:
        title = {"real": "Labelled real runs (sample_logs/labels.json)", "synthetic": "Synthetic corpus (analyzers/scenarios.py)"}
        out.append(f"## {title.get(result.name, result.name)}")
        out.append("")
        summary = f"{result.runs} runs, {result.healthy_runs} healthy"
        if result.note:
            summary += f" ({result.note})"
        out.append(summary + ".")
        out.append("")
        if result.runs:
            out.append(markdown_table(result))
            out.append("")
        problems: list[str] = []
        for ks in result.kinds.values():
            problems += [f"- missed {ks.kind}: {m}" for m in ks.missed]
            problems += [f"- false alarm {ks.kind}: {m}" for m in ks.false_alarm_runs]
            problems += [f"- onset off {ks.kind}: {m}" for m in ks.late_onsets]
        problems += [f"- unreadable: {e}" for e in result.load_errors]
        problems += [f"- rule error: {e}" for e in result.rule_errors]
        if problems:
            shown = problems if details else problems[:15]
            out.append("Problems:" if details else f"Problems ({len(problems)}; `--details` lists all):")
            out.append("")
            out.extend(p[:400] for p in shown)
            out.append("")
        weak = [f"- {ks.kind}: {w}" for ks in result.kinds.values() for w in ks.weak_results]
        if weak:
            out.append("Weak labels (too faint to detect soundly; reported, not scored; see the module docstring):")
            out.append("")
            out.extend(w[:400] for w in weak)
            out.append("")
        cross = {k: ks.unexpected for k, ks in result.kinds.items() if ks.unexpected}
        if cross:
            out.append("Unexpected warning-or-worse findings on broken runs (cross-talk, not a target): "
                       + ", ".join(f"{k} {v}" for k, v in cross.items()) + ".")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analyzers.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=("all", "real", "synthetic"), default="all")
    parser.add_argument("--labels", default=str(DEFAULT_LABELS), help="labels.json of the real-run corpus")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic corpus (default 0)")
    parser.add_argument("--repeats", type=int, default=2, help="draws per broken synthetic variant (default 2)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    parser.add_argument("--details", action="store_true", help="list every miss, false alarm and late onset")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    results: list[CorpusScore] = []
    if args.corpus in ("all", "real"):
        results.append(evaluate_real(args.labels))
    if args.corpus in ("all", "synthetic"):
        results.append(evaluate_synthetic(args.seed, args.repeats))
    if args.json:
        json.dump({"targets": {"recall": TARGET_RECALL, "false_alarms": TARGET_FALSE_ALARMS,
                               "onset_error_pct": TARGET_ONSET_ERROR_PCT},
                   "corpora": [r.to_dict() for r in results]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_markdown(results, details=args.details))
    return 0


if __name__ == "__main__":
    sys.exit(main())
