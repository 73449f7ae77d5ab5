"""Rules benchmark: every rule (stable and preview) over verl runs of 10k to 5M scalar points.

A run holds 40 real verl tags logged at every step (``gen_sweep.VERL_TAGS``), in write order
(step-major, like an event file), built in memory so only the rules and the series access they
do are timed. For each size the benchmark prints the seconds ``analyze(run)`` takes on a fresh
run (series extraction included, as in the CLI), nanoseconds per point (flat = linear cost), and
the slowest rules timed one by one, each on a fresh run.

Target (issue 5): all rules over a 1M-point run in < 1 s, cost linear in points.

Usage: ``nice python benchmarks/bench_rules.py [--sizes 10k,100k,1M,5M] [--pathology kl_blowup]``
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from gen_sweep import PATHOLOGIES, VERL_TAGS, run_values  # noqa: E402

from analyzers.metrics import resolve  # noqa: E402
from analyzers.model import Run  # noqa: E402
from analyzers.rules import all_rules, analyze  # noqa: E402

SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000, "5M": 5_000_000}
TARGET_SECONDS_AT_1M = 1.0  # issue 5: "All rules over a 1M-point run in < 1 s"


def build_run(points: int, pathology: str) -> Run:
    """A resolved verl run of ``points`` scalars (points / 40 steps), tags interleaved per step."""
    n_steps = points // len(VERL_TAGS)
    steps, wall_times, values = run_values(n_steps, seed=1, pathology=pathology)
    n_tags = len(VERL_TAGS)
    run = Run.from_arrays(
        f"bench-{points}",
        VERL_TAGS,
        np.tile(np.arange(n_tags, dtype=np.int32), n_steps),
        np.repeat(steps, n_tags),
        values.astype(np.float64).ravel(),
        np.repeat(wall_times, n_tags),
        sources=["<bench>"],
    )
    return resolve(run)


def time_analyze(points: int, pathology: str, repeats: int) -> tuple[float, int, int]:
    best = float("inf")
    findings = skipped = 0
    for _ in range(repeats):
        run = build_run(points, pathology)
        gc.collect()
        started = time.perf_counter()
        analysis = analyze(run, preview=True)
        best = min(best, time.perf_counter() - started)
        findings, skipped = len(analysis.findings), len(analysis.skipped)
        assert not analysis.errors, analysis.errors
    return best, findings, skipped


def time_rules(points: int, pathology: str) -> list[tuple[float, str]]:
    timings = []
    for rule in all_rules():
        run = build_run(points, pathology)
        started = time.perf_counter()
        if rule.missing(run) is None:
            rule.check(run)
        timings.append((time.perf_counter() - started, f"{rule.code} {rule.name}"))
    return sorted(timings, reverse=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,100k,1M,5M")
    parser.add_argument("--pathology", choices=PATHOLOGIES, default="kl_blowup")
    parser.add_argument("--top", type=int, default=3, help="slowest rules to list per size")
    args = parser.parse_args(argv)
    labels = [s.strip() for s in args.sizes.split(",") if s.strip()]
    rules = all_rules()
    print(f"{len(rules)} rules ({sum(r.preview for r in rules)} preview), {len(VERL_TAGS)} verl tags, "
          f"pathology: {args.pathology}\n")
    print("| points | steps | analyze s | ns/point | findings | rules skipped | slowest rules (s, each on a fresh run) |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    at_1m = None
    for label in labels:
        points = SIZES[label]
        repeats = 3 if points <= 1_000_000 else 1
        seconds, findings, skipped = time_analyze(points, args.pathology, repeats)
        slowest = time_rules(points, args.pathology)[: args.top]
        if points == 1_000_000:
            at_1m = seconds
        slow = ", ".join(f"{name} {s:.3f}" for s, name in slowest)
        print(f"| {points:,} | {points // len(VERL_TAGS):,} | {seconds:.3f} | {seconds / points * 1e9:.0f} | "
              f"{findings} | {skipped} | {slow} |", flush=True)
    if at_1m is not None:
        verdict = "met" if at_1m < TARGET_SECONDS_AT_1M else "MISSED"
        print(f"\nTarget < {TARGET_SECONDS_AT_1M:.0f} s at 1M points: {verdict} ({at_1m:.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
