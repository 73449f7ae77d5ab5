"""Generate a realistic sweep of verl PPO runs for the sweep and rules benchmarks.

Each run logs the same 40 real verl keys at every step (``actor/*``, ``critic/*``,
``response_length/*``, ``timing_s/*``, ``perf/*``; see shared research/metrics.md §1.2), one
``simple_value`` event per (step, key) as ``torch.utils.tensorboard.SummaryWriter.add_scalar``
writes them, framed as TFRecords with the masked CRC-32C.

Runs follow a few shapes: healthy, KL blow-up, entropy collapse, gradient spikes, NaN loss. A
sweep of N runs is written as a few distinct template files hard-linked into N run folders
(``run_0000/``...), so 1,000 runs of 5k steps x 40 tags (200M points, ~11 GB if written out)
cost ~100 MB of disk; every run is still read and analysed in full by the benchmark.

Usage: ``python benchmarks/gen_sweep.py --runs 1000 [--steps 5000]``
(writes into ``benchmarks/data/sweep_<runs>x<steps>/``, gitignored).
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_logs import _frame  # noqa: E402  (one TFRecord framing for every generator)

DATA_DIR = Path(__file__).resolve().parent / "data"

VERL_TAGS = [
    "actor/pg_loss", "actor/entropy", "actor/pg_clipfrac", "actor/pg_clipfrac_lower", "actor/ppo_kl",
    "actor/grad_norm", "actor/lr", "actor/kl_loss", "actor/kl_coef", "actor/reward_kl_penalty",
    "actor/reward_kl_penalty_coeff", "critic/score/mean", "critic/score/max", "critic/score/min",
    "critic/rewards/mean", "critic/rewards/max", "critic/rewards/min", "critic/advantages/mean",
    "critic/advantages/max", "critic/advantages/min", "critic/returns/mean", "critic/returns/max",
    "critic/returns/min", "critic/values/mean", "critic/values/max", "critic/values/min",
    "critic/vf_loss", "critic/vf_clipfrac", "critic/vf_explained_var", "critic/grad_norm", "critic/lr",
    "response_length/mean", "response_length/max", "response_length/min", "response_length/clip_ratio",
    "prompt_length/mean", "timing_s/gen", "timing_s/update_actor", "timing_s/step", "perf/throughput",
]

PATHOLOGIES = ("healthy", "kl_blowup", "entropy_collapse", "grad_spikes", "nan_loss")


def run_values(n_steps: int, seed: int = 0, pathology: str = "healthy") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps (n,), wall times (n,) and values (n, 40) of one verl PPO run with a given pathology."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps, dtype=np.float64)
    horizon = max(n_steps, 1)
    noise = lambda scale: rng.normal(0.0, scale, n_steps)  # noqa: E731
    learn = 1 - np.exp(-t / (0.3 * horizon))
    score = 0.2 + 0.5 * learn + noise(0.03)
    kl = 0.001 + 0.004 * np.sqrt(t / horizon) + np.abs(noise(0.0005))
    entropy = 1.1 - 0.2 * learn + noise(0.01)
    grad_norm = 0.6 + np.abs(noise(0.08))
    vf_loss = 0.3 * np.exp(-t / (0.2 * horizon)) + 0.02 + np.abs(noise(0.01))
    length = 300 + 150 * learn + noise(8)
    onset = int(0.6 * n_steps)
    if pathology == "kl_blowup":
        kl = kl + 0.02 * np.where(t >= onset, np.expm1((t - onset) / (0.03 * horizon)), 0.0).clip(max=1e4)
    elif pathology == "entropy_collapse":
        entropy = np.where(t >= onset, entropy * np.exp(-(t - onset) / (0.05 * horizon)), entropy)
    elif pathology == "grad_spikes":
        spikes = rng.choice(n_steps, size=max(1, n_steps // 500), replace=False)
        grad_norm[spikes] *= 50
    elif pathology == "nan_loss":
        vf_loss[onset:] = np.nan
    adv_spread = 1.5 + noise(0.1)
    columns = {
        "actor/pg_loss": noise(0.02),
        "actor/entropy": entropy,
        "actor/pg_clipfrac": np.clip(0.05 + noise(0.01), 0, 1),
        "actor/pg_clipfrac_lower": np.clip(0.001 + noise(0.0005), 0, 1),
        "actor/ppo_kl": noise(0.0005),
        "actor/grad_norm": grad_norm,
        "actor/lr": np.full(n_steps, 1e-6),
        "actor/kl_loss": kl,
        "actor/kl_coef": np.full(n_steps, 0.001),
        "actor/reward_kl_penalty": kl,
        "actor/reward_kl_penalty_coeff": np.full(n_steps, 0.001),
        "critic/score/mean": score,
        "critic/score/max": score + 0.5,
        "critic/score/min": score - 0.5,
        "critic/rewards/mean": score - 0.001 * kl,
        "critic/rewards/max": score + 0.5,
        "critic/rewards/min": score - 0.5,
        "critic/advantages/mean": noise(0.01),
        "critic/advantages/max": adv_spread,
        "critic/advantages/min": -adv_spread,
        "critic/returns/mean": score + noise(0.01),
        "critic/returns/max": score + 0.6,
        "critic/returns/min": score - 0.6,
        "critic/values/mean": score + noise(0.02),
        "critic/values/max": score + 0.7,
        "critic/values/min": score - 0.7,
        "critic/vf_loss": vf_loss,
        "critic/vf_clipfrac": np.clip(0.02 + noise(0.005), 0, 1),
        "critic/vf_explained_var": np.clip(0.2 + 0.6 * learn + noise(0.03), -1, 1),
        "critic/grad_norm": 0.4 + np.abs(noise(0.05)),
        "critic/lr": np.full(n_steps, 1e-5),
        "response_length/mean": length,
        "response_length/max": np.minimum(length * 2.5, 1024),
        "response_length/min": length * 0.2,
        "response_length/clip_ratio": np.clip(0.01 + 0.02 * learn + noise(0.005), 0, 1),
        "prompt_length/mean": 120 + noise(3),
        "timing_s/gen": 20 + noise(1),
        "timing_s/update_actor": 12 + noise(0.5),
        "timing_s/step": 40 + noise(1.5),
        "perf/throughput": 2500 + noise(80),
    }
    values = np.column_stack([columns[tag] for tag in VERL_TAGS]).astype(np.float32)
    steps = np.arange(1, n_steps + 1, dtype=np.int64)  # verl counts global steps from 1
    wall_times = 1.7e9 + np.cumsum(rng.uniform(35, 45, n_steps))
    return steps, wall_times, values


def write_event_file(path: Path, steps: np.ndarray, wall_times: np.ndarray, values: np.ndarray) -> None:
    """One event per (step, tag) with ``simple_value``, after the ``file_version`` event."""
    from tensorboard.compat.proto import event_pb2, summary_pb2

    Event, Summary = event_pb2.Event, summary_pb2.Summary
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        chunks = [_frame(Event(wall_time=float(wall_times[0]), file_version="brain.Event:2").SerializeToString())]
        for i, step in enumerate(steps.tolist()):
            wall = float(wall_times[i])
            for tag, value in zip(VERL_TAGS, values[i].tolist()):
                summary = Summary(value=[Summary.Value(tag=tag, simple_value=value)])
                chunks.append(_frame(Event(wall_time=wall, step=step, summary=summary).SerializeToString()))
            if len(chunks) > 50_000:
                fh.write(b"".join(chunks))
                chunks.clear()
        fh.write(b"".join(chunks))


def generate_sweep(n_runs: int, n_steps: int = 5000, templates: int = 10, out: Path = DATA_DIR, force: bool = False) -> Path:
    """Write (or reuse) a logdir of ``n_runs`` runs; returns its path."""
    folder = out / f"sweep_{n_runs}x{n_steps}"
    done = folder / ".complete"
    if done.exists() and not force:
        return folder
    template_dir = out / f"sweep_templates_{n_steps}"
    sources = []
    for k in range(min(templates, n_runs)):
        pathology = PATHOLOGIES[k % len(PATHOLOGIES)]
        path = template_dir / f"events.out.tfevents.1700000000.bench.{k}.{pathology}"
        if not path.exists() or force:
            write_event_file(path, *run_values(n_steps, seed=k, pathology=pathology))
        sources.append(path)
    for i in range(n_runs):
        run_dir = folder / f"run_{i:04d}"
        run_dir.mkdir(parents=True, exist_ok=True)
        target = run_dir / sources[i % len(sources)].name
        if not target.exists():
            try:
                os.link(sources[i % len(sources)], target)
            except OSError:  # a filesystem without hard links: copy
                target.write_bytes(sources[i % len(sources)].read_bytes())
    done.write_text("ok\n")
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    folder = generate_sweep(args.runs, args.steps, force=args.force)
    print(f"{folder} ({time.perf_counter() - started:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
