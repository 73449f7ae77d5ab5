"""Generate realistic RLHF training logs for the ingest benchmark.

For every size (10k, 100k, 1M, 5M scalar points) this writes, into ``benchmarks/data/``
(gitignored), the same data five ways:

- ``<size>/simple/events.out.tfevents.*``: one ``Event`` per point with ``simple_value``, exactly
  what ``torch.utils.tensorboard`` / tensorboardX ``SummaryWriter.add_scalar`` write (TRL, SB3,
  CleanRL all log through these);
- ``<size>/tensor/events.out.tfevents.*``: TF2 ``tf.summary.scalar`` form: a rank-0 float32
  ``tensor`` in ``tensor_content`` with the ``scalars`` plugin metadata on the first event of
  each tag only (what TF2's C++ summary writer does);
- ``<size>/wide.csv``: a step column plus one column per metric (W&B/SB3 style);
- ``<size>/long.csv``: ``step,tag,value,wall_time``;
- ``<size>/trainer_state.json``: HF ``TrainerState.save_to_json`` shape (``log_history``).

Tags are 40 real TRL (0.12+ PPO) and verl metric names, every tag logged at every step, like a
PPO/GRPO run. Events are built with tensorboard's own protos and framed as TFRecords with the
masked CRC-32C, so the bytes are what the real writers produce.

Usage: ``python benchmarks/gen_logs.py --sizes 10k,100k,1M [--with-5m] [--force]``
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, for analyzers

DATA_DIR = Path(__file__).resolve().parent / "data"

# 40 keys a TRL PPO (0.12+) or verl PPO/GRPO run logs every step (see shared research/metrics.md §1).
TAGS = [
    "objective/kl", "objective/entropy", "objective/non_score_reward", "objective/rlhf_reward",
    "objective/scores", "policy/approxkl_avg", "policy/clipfrac_avg", "loss/policy_avg",
    "loss/value_avg", "val/clipfrac_avg", "policy/entropy_avg", "val/ratio", "val/ratio_var",
    "val/num_eos_tokens", "lr", "episode", "eps",
    "actor/pg_loss", "actor/entropy", "actor/pg_clipfrac", "actor/ppo_kl", "actor/grad_norm",
    "actor/lr", "actor/kl_loss", "actor/kl_coef", "critic/score/mean", "critic/score/max",
    "critic/score/min", "critic/rewards/mean", "critic/advantages/mean", "critic/advantages/max",
    "critic/advantages/min", "critic/returns/mean", "critic/values/mean", "critic/vf_loss",
    "critic/vf_explained_var", "response_length/mean", "response_length/clip_ratio",
    "timing_s/step", "perf/throughput",
]

SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000, "5M": 5_000_000}


def parse_size(label: str) -> int:
    """``10k`` -> 10000, ``1M`` -> 1000000 (also accepts plain integers)."""
    if label in SIZES:
        return SIZES[label]
    lowered = label.lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(lowered[-1:], 1)
    return int(float(lowered.rstrip("km")) * scale)


def make_data(points: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps (n_steps,), wall times (n_steps,) and float32 values (n_steps, n_tags)."""
    rng = np.random.default_rng(seed)
    n_steps = max(1, points // len(TAGS))
    steps = np.arange(n_steps, dtype=np.int64)  # starts at 0: proto3 omits step 0, a real edge case
    wall_times = 1.7e9 + np.cumsum(rng.uniform(0.4, 0.6, n_steps))
    walk = np.cumsum(rng.normal(0, 0.01, (n_steps, len(TAGS))), axis=0)
    values = (walk + rng.normal(0, 0.05, (n_steps, len(TAGS)))).astype(np.float32)
    values[:, TAGS.index("lr")] = np.float32(1e-6)
    values[:, TAGS.index("episode")] = (steps * 64).astype(np.float32)
    if n_steps > 10:
        values[n_steps // 2, TAGS.index("actor/grad_norm")] = np.nan  # NaN is data, as in real runs
        values[n_steps // 3, TAGS.index("objective/kl")] = np.inf
    return steps, wall_times, values


def _frame(payload: bytes) -> bytes:
    """One TFRecord: length, its masked CRC-32C, payload, the payload's masked CRC-32C."""
    from analyzers.ingest.sniff import masked_crc32c

    header = struct.pack("<Q", len(payload))
    return header + struct.pack("<I", masked_crc32c(header)) + payload + struct.pack("<I", masked_crc32c(payload))


def write_events(path: Path, steps: np.ndarray, wall_times: np.ndarray, values: np.ndarray, encoding: str) -> None:
    """Write one event file: a file_version event, then one event per (step, tag)."""
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
    from tensorboard.plugins.scalar import metadata as scalar_metadata

    Event, Summary = event_pb2.Event, summary_pb2.Summary
    path.parent.mkdir(parents=True, exist_ok=True)
    scalar_meta = scalar_metadata.create_summary_metadata(display_name="", description="")
    seen: set[int] = set()
    chunks: list[bytes] = [_frame(Event(wall_time=float(wall_times[0]), file_version="brain.Event:2").SerializeToString())]
    with open(path, "wb") as fh:
        for i, step in enumerate(steps.tolist()):
            wall = float(wall_times[i])
            row = values[i]
            for t, tag in enumerate(TAGS):
                if encoding == "simple":
                    value = Summary.Value(tag=tag, simple_value=float(row[t]))
                else:
                    tensor = tensor_pb2.TensorProto(
                        dtype=1, tensor_shape=tensor_shape_pb2.TensorShapeProto(), tensor_content=row[t : t + 1].tobytes()
                    )
                    value = Summary.Value(tag=tag, tensor=tensor)
                    if t not in seen:
                        value.metadata.CopyFrom(scalar_meta)
                        seen.add(t)
                chunks.append(_frame(Event(wall_time=wall, step=step, summary=Summary(value=[value])).SerializeToString()))
            if len(chunks) > 50_000:
                fh.write(b"".join(chunks))
                chunks.clear()
        fh.write(b"".join(chunks))


def write_tabular(folder: Path, steps: np.ndarray, wall_times: np.ndarray, values: np.ndarray) -> None:
    """Wide CSV, long CSV and trainer_state.json of the same points (values as float32 reprs)."""
    import pandas as pd

    wide = pd.DataFrame(values.astype(np.float64), columns=TAGS)
    wide.insert(0, "step", steps)
    wide.to_csv(folder / "wide.csv", index=False)
    n_steps, n_tags = values.shape
    long = pd.DataFrame(
        {
            "step": np.repeat(steps, n_tags),
            "tag": np.tile(np.array(TAGS, dtype=object), n_steps),
            "value": values.astype(np.float64).ravel(),
            "wall_time": np.repeat(wall_times, n_tags),
        }
    )
    long.to_csv(folder / "long.csv", index=False)
    # Streamed entry by entry (a 5M-point file is ~230 MB); same layout as HF's
    # TrainerState.save_to_json (indent 2), and json.dumps writes NaN/Infinity bare like it does.
    with open(folder / "trainer_state.json", "w") as fh:
        fh.write(f'{{\n  "global_step": {int(steps[-1])},\n  "max_steps": {int(steps[-1])},\n  "log_history": [\n')
        for i, step in enumerate(steps.tolist()):
            entry = {"epoch": round(step / n_steps, 4), "step": step}
            entry.update(zip(TAGS, values[i].astype(np.float64).tolist()))
            text = json.dumps(entry, indent=2).replace("\n", "\n    ")
            fh.write(f"    {text}{',' if i < n_steps - 1 else ''}\n")
        fh.write("  ]\n}\n")


def generate(label: str, force: bool = False, out: Path = DATA_DIR) -> Path:
    """Write every format for one size label; reuse existing files unless ``force``."""
    folder = out / label
    done = folder / ".complete"
    if done.exists() and not force:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    steps, wall_times, values = make_data(parse_size(label))
    for encoding in ("simple", "tensor"):
        write_events(folder / encoding / f"events.out.tfevents.1700000000.bench.{encoding}", steps, wall_times, values, encoding)
    write_tabular(folder, steps, wall_times, values)
    done.write_text("ok\n")
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,100k,1M", help="comma-separated size labels (10k,100k,1M,5M)")
    parser.add_argument("--with-5m", action="store_true", help="also generate the 5M-point files")
    parser.add_argument("--force", action="store_true", help="regenerate even if present")
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    labels = [s.strip() for s in args.sizes.split(",") if s.strip()]
    if args.with_5m and "5M" not in labels:
        labels.append("5M")
    for label in labels:
        t0 = time.perf_counter()
        folder = generate(label, force=args.force, out=args.out)
        print(f"{label}: {folder} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
