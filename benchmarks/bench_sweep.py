"""Sweep benchmark: triage N runs of 5k steps x 40 verl tags serially, on a process pool, on Dask.

Each executor runs in a fresh subprocess (so its peak memory is its own) doing exactly what
``python -m analyzers triage LOGDIR --executor X --format json`` does: plan, read + resolve +
analyse every run, assemble, render JSON. The benchmark asserts that every executor produced
byte-identical JSON and prints a markdown table of runs per second.

Usage::

    nice python benchmarks/bench_sweep.py                 # 1,000 runs (generates ~100 MB once)
    nice python benchmarks/bench_sweep.py --runs 200      # smaller, on a busy machine
    nice python benchmarks/bench_sweep.py --executors serial,process --workers 4

Timings include starting the pool or the Dask LocalCluster (a few seconds for Dask).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def one(logdir: str, executor: str, workers: int) -> dict:
    """Triage ``logdir`` with one executor in this process; returns the measurements."""
    from analyzers.report import render_json
    from analyzers.sweep import SweepOptions, plan_sweep, run_sweep

    started = time.perf_counter()
    plan = plan_sweep([logdir])
    planned = time.perf_counter()
    report = run_sweep(plan, SweepOptions(), executor=executor, workers=workers)
    text = render_json(report)
    finished = time.perf_counter()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "executor": executor,
        "workers": 1 if executor == "serial" else workers,
        "runs": len(report.analyses),
        "errors": len(report.all_errors()),
        "findings": len(report.findings),
        "points": sum(run.points for run in report.runs),
        "plan_s": planned - started,
        "total_s": finished - started,
        "parent_rss_mb": own,
        "worker_rss_mb": children,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--executors", default="serial,process,dask")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--one", nargs=2, metavar=("LOGDIR", "EXECUTOR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one[0], args.one[1], args.workers)))
        return 0

    from gen_sweep import VERL_TAGS, generate_sweep

    t0 = time.perf_counter()
    logdir = generate_sweep(args.runs, args.steps)
    print(f"logdir: {logdir} ({args.runs} runs x {args.steps} steps x {len(VERL_TAGS)} tags; ready in {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    rows = []
    for executor in [e.strip() for e in args.executors.split(",") if e.strip()]:
        proc = subprocess.run(
            [sys.executable, __file__, "--one", str(logdir), executor, "--workers", str(args.workers)],
            capture_output=True, text=True, cwd=REPO,
        )
        if proc.returncode != 0:
            print(f"{executor} failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
            return 1
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{executor}: {row['total_s']:.1f} s", file=sys.stderr)
        rows.append(row)

    serial = next((r for r in rows if r["executor"] == "serial"), None)
    print(f"\n{args.runs} runs x {args.steps:,} steps x {len(VERL_TAGS)} tags "
          f"({rows[0]['points']:,} points, {rows[0]['findings']} findings), {os.cpu_count()} CPUs\n")
    print("| executor | workers | wall s | runs/s | M points/s | speed-up vs serial | parent peak RSS MB | worker peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        speedup = f"{serial['total_s'] / r['total_s']:.2f}x" if serial else "-"
        worker_rss = f"{r['worker_rss_mb']:.0f}" if r["executor"] != "serial" else "-"
        print(f"| {r['executor']} | {r['workers']} | {r['total_s']:.1f} | {r['runs'] / r['total_s']:.2f} | "
              f"{r['points'] / r['total_s'] / 1e6:.2f} | {speedup} | {r['parent_rss_mb']:.0f} | {worker_rss} |")
    identical = len({r["sha256"] for r in rows}) == 1
    print(f"\nJSON output identical across executors: {'yes' if identical else 'NO'}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
