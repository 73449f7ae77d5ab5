"""`python -m analyzers triage PATH [PATH ...]`: the headless front end (terminal, CI, scripts)."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .findings import SEVERITIES
from .report import FORMATS, render

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analyzers", description="Triage PPO/RLHF training logs.")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("triage", help="read logs, find pathologies, explain them")
    t.add_argument("paths", nargs="+", metavar="PATH", help="event files, logdirs, CSV, trainer_state.json, JSONL, zips")
    t.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    t.add_argument("--metric-map", metavar="FILE", help="TOML file overriding or extending the metric mapping")
    t.add_argument("--behaviour", "--behavior", action="append", default=[], metavar="TAG",
                   help="a behaviour/eval metric to watch for reward hacking (repeatable); TAG:lower if lower is better")
    t.add_argument("--fail-on", choices=SEVERITIES, default="critical",
                   help="exit 1 when a finding reaches this severity (default: critical)")
    t.add_argument("--preview", action="store_true", help="also run preview rules (false-alarm rate not yet measured)")
    t.add_argument("--select", action="append", default=None, metavar="RULE",
                   help="run only these rules (code, name or kind; repeatable)")
    t.add_argument("-o", "--output", metavar="FILE", help="write the output to FILE instead of standard output")
    t.add_argument("--executor", choices=("serial", "process", "dask"), default=None,
                   help="how to triage many runs: serial, a process pool, or a Dask cluster "
                        "(default: process when there is more than one run, else serial)")
    t.add_argument("--workers", type=int, metavar="N",
                   help="worker processes (default: one per CPU; Dask local cluster: 2)")
    t.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler address, e.g. tcp://host:8786 (implies --executor dask; "
                        "without it, dask starts a local cluster)")
    r = sub.add_parser("rule", help="explain a rule (like `ruff rule`)")
    r.add_argument("code", nargs="?", help="rule code or name; omit to list all rules")
    return parser


def _rule_command(code: str | None) -> int:
    from .rules import all_rules, get_rule

    if code is None:
        for rule in all_rules():
            print(f"{rule.code:<7} {rule.name:<28} {rule.kind:<26} {'preview' if rule.preview else 'stable'}")
        return EXIT_OK
    try:
        rule = get_rule(code)
    except KeyError:
        print(f"error: no rule {code!r}", file=sys.stderr)
        return EXIT_USAGE
    print(rule.describe() if hasattr(rule, "describe") else rule.code)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if args.command == "rule":
        return _rule_command(args.code)

    from .metrics import MetricMap
    from .sweep import ProgressBar, SweepError, SweepOptions, plan_sweep, run_sweep

    metric_map = None
    if args.metric_map:
        try:
            metric_map = MetricMap.from_file(args.metric_map)
        except (OSError, ValueError) as exc:
            print(f"error: --metric-map {args.metric_map}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    executor = args.executor
    if args.scheduler and executor in ("serial", "process"):
        print("error: --scheduler needs --executor dask", file=sys.stderr)
        return EXIT_USAGE
    if args.workers is not None and args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    # Plan first (lists run units, reads nothing but file heads), then analyse each unit in a
    # worker; the report is the same whichever executor runs (see analyzers.sweep).
    plan = plan_sweep(args.paths)
    if executor is None:
        executor = "dask" if args.scheduler else ("process" if len(plan.units) > 1 else "serial")
    options = SweepOptions(
        metric_map=metric_map,
        behaviour=tuple(args.behaviour),
        preview=args.preview,
        select=tuple(args.select) if args.select else None,
        # Text and JSON need only each run's summary; other formats may chart the scalars.
        keep_runs=args.format not in ("text", "json"),
    )
    progress = ProgressBar(len(plan.units), sys.stderr) if len(plan.units) > 1 and sys.stderr.isatty() else None
    try:
        report = run_sweep(plan, options, executor=executor, workers=args.workers, scheduler=args.scheduler,
                           on_result=progress)
    except SweepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    text = render(report, args.format)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    if not report.analyses:
        if args.format != "json":
            print("error: no input could be read", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_FINDINGS if report.reaches(args.fail_on) else EXIT_OK
