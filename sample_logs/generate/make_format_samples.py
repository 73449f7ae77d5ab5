"""Derive the format samples under ``sample_logs/formats/`` from the real runs.

No verl, W&B or Spinning Up is available here, so those files are DERIVED: the numbers come
from a real run made by ``sb3_runs.py`` / ``trl_runs.py``; only the container and key names are
rewritten to what those tools write. README.md and labels.json mark them ``derived``.

Usage (from the repository root, after the runs exist)::

    python sample_logs/generate/make_format_samples.py
"""

from __future__ import annotations

import glob
import json
import os
import zipfile

import pandas as pd
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
OUT = os.path.join(ROOT, "formats")

# TRL 1.16 GRPO key (as written by HF's TensorBoardCallback) -> verl key with the same meaning
# (verl @ b178a3c metric_utils.py / dp_actor.py; see /work/shared/research/metrics.md §1.2).
# GRPO's `kl` is a k3 token mean used as a loss, which is verl's `actor/kl_loss` (low_var_kl).
TRL_TO_VERL = {
    "train/reward": "critic/score/mean",
    "train/kl": "actor/kl_loss",
    "train/entropy": "actor/entropy",
    "train/grad_norm": "actor/grad_norm",
    "train/learning_rate": "actor/lr",
    "train/loss": "actor/pg_loss",
    "train/clip_ratio/region_mean": "actor/pg_clipfrac",
    "train/completions/mean_length": "response_length/mean",
    "train/completions/max_length": "response_length/max",
    "train/completions/min_length": "response_length/min",
    "train/completions/clipped_ratio": "response_length/clip_ratio",
    "train/step_time": "timing_s/step",
}

# SB3 progress.csv column -> Spinning Up PPO `log_tabular` key (spinup/algos/pytorch/ppo/ppo.py).
SB3_TO_SPINUP = {
    "rollout/ep_rew_mean": "AverageEpRet",
    "rollout/ep_len_mean": "EpLen",
    "time/total_timesteps": "TotalEnvInteracts",
    "train/policy_gradient_loss": "LossPi",
    "train/value_loss": "LossV",
    "train/approx_kl": "KL",
    "train/clip_fraction": "ClipFrac",
    "time/time_elapsed": "Time",
}


def read_scalars(folder: str) -> pd.DataFrame:
    """Every scalar point of the run's event file(s): step, tag, value, wall_time."""
    rows = []
    for path in sorted(glob.glob(os.path.join(folder, "events.out.tfevents*"))):
        acc = ea.EventAccumulator(path, size_guidance={ea.SCALARS: 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            rows += [(e.step, tag, e.value, e.wall_time) for e in acc.Scalars(tag)]
    return pd.DataFrame(rows, columns=["step", "tag", "value", "wall_time"])


def verl_jsonl(run: str, target: str) -> None:
    df = read_scalars(os.path.join(ROOT, run))
    df = df[df.tag.isin(TRL_TO_VERL)]
    wide = df.pivot_table(index="step", columns="tag", values="value", aggfunc="last")
    with open(target, "w") as handle:
        for step, row in wide.iterrows():
            data = {TRL_TO_VERL[tag]: float(v) for tag, v in row.items() if pd.notna(v)}
            data["training/global_step"] = int(step)
            handle.write(json.dumps({"step": int(step), "data": data}) + "\n")


def wandb_history_csv(run: str, target: str) -> None:
    """W&B 'Export history' CSV: one row per _step, _runtime/_timestamp, metric columns."""
    df = read_scalars(os.path.join(ROOT, run))
    df = df[~df.tag.str.startswith(("train/train_", "train/total_flos"))]
    wide = df.pivot_table(index="step", columns="tag", values="value", aggfunc="last")
    wall = df.groupby("step").wall_time.max()
    # W&B's _step counts history rows from 0; HF's WandbCallback logs the trainer step as
    # train/global_step.
    out = pd.DataFrame({"_step": range(len(wide)),
                        "_runtime": (wall - wall.min()).round(3).values,
                        "_timestamp": wall.round(3).values})
    out["train/global_step"] = wide.index.astype(int)
    out = pd.concat([out.reset_index(drop=True), wide.reset_index(drop=True)], axis=1)
    out.to_csv(target, index=False)


def wandb_panel_csv(runs: dict[str, str], tag: str, target: str) -> None:
    """W&B panel 'Download CSV': Step, '<run> - <tag>', '__MIN', '__MAX' per run."""
    columns = {}
    for name, folder in runs.items():
        df = read_scalars(os.path.join(ROOT, folder))
        series = df[df.tag == tag].set_index("step").value
        columns[f"{name} - {tag}"] = series
        columns[f"{name} - {tag}__MIN"] = series
        columns[f"{name} - {tag}__MAX"] = series
    out = pd.DataFrame(columns)
    out.index.name = "Step"
    out.to_csv(target)


def spinup_progress_txt(run: str, target: str) -> None:
    df = pd.read_csv(os.path.join(ROOT, run, "progress.csv"))
    # SB3 writes rollout/* and train/* on different rows; Spinning Up writes one row per epoch
    # with everything, so carry the latest rollout/time values onto each update's row.
    update_rows = df["train/approx_kl"].notna()
    carried = [c for c in df.columns if c.startswith(("rollout/", "time/"))]
    df[carried] = df[carried].ffill()
    df = df[update_rows].reset_index(drop=True)
    out = pd.DataFrame({"Epoch": range(len(df))})
    for sb3_key, spinup_key in SB3_TO_SPINUP.items():
        out[spinup_key] = df[sb3_key].values
    out["Entropy"] = -df["train/entropy_loss"].values  # SB3 logs minus the entropy
    out.to_csv(target, sep="\t", index=False, float_format="%.6g")


def long_csv(run_names: dict[str, str], tags: list[str], target: str) -> None:
    frames = []
    for name, folder in run_names.items():
        df = read_scalars(os.path.join(ROOT, folder))
        df = df[df.tag.isin(tags)].copy()
        df["run"] = name
        frames.append(df)
    out = pd.concat(frames)[["run", "step", "tag", "value", "wall_time"]]
    out.sort_values(["run", "tag", "step"]).to_csv(target, index=False)


def wide_csv(run: str, tags: list[str], target: str) -> None:
    df = read_scalars(os.path.join(ROOT, run))
    wide = df[df.tag.isin(tags)].pivot_table(index="step", columns="tag", values="value")
    wide.to_csv(target)


def tf2_tensor_scalars(run: str, target_dir: str) -> None:
    """Re-encode a real run's scalars the way TF2 `tf.summary.scalar` writes them: a rank-0
    float tensor with plugin `scalars` metadata, instead of `simple_value`."""
    df = read_scalars(os.path.join(ROOT, run))
    os.makedirs(target_dir, exist_ok=True)
    for old in glob.glob(os.path.join(target_dir, "events.out.tfevents*")):
        os.remove(old)
    writer = EventFileWriter(target_dir)
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    for step, group in df.sort_values(["step", "wall_time"]).groupby("step"):
        values = [summary_pb2.Summary.Value(
            tag=row.tag, metadata=metadata,
            tensor=tensor_pb2.TensorProto(dtype=1, float_val=[row.value],  # 1 = DT_FLOAT
                                          tensor_shape=tensor_shape_pb2.TensorShapeProto()))
            for row in group.itertuples()]
        writer.add_event(event_pb2.Event(step=int(step), wall_time=float(group.wall_time.max()),
                                         summary=summary_pb2.Summary(value=values)))
    writer.close()


def zip_logdir(folders: list[str], target: str) -> None:
    """A zipped logdir holding real runs, paths relative to sample_logs/."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder in folders:
            for path in sorted(glob.glob(os.path.join(ROOT, folder, "*"))):
                archive.write(path, os.path.relpath(path, ROOT))


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    verl_jsonl("trl/grpo_kl_blowup", os.path.join(OUT, "verl_grpo_kl_blowup.jsonl"))
    wandb_history_csv("trl/grpo_healthy", os.path.join(OUT, "wandb_history_grpo_healthy.csv"))
    wandb_panel_csv({"grpo-healthy": "trl/grpo_healthy", "grpo-kl-blowup": "trl/grpo_kl_blowup"},
                    "train/kl", os.path.join(OUT, "wandb_panel_kl.csv"))
    # Spinning Up writes <output_dir>/progress.txt (plus config.json).
    os.makedirs(os.path.join(OUT, "spinup_cartpole_lr_too_high"), exist_ok=True)
    spinup_progress_txt("sb3/cartpole_lr_too_high",
                        os.path.join(OUT, "spinup_cartpole_lr_too_high", "progress.txt"))
    long_csv({"cartpole_healthy": "sb3/cartpole_healthy",
              "cartpole_lr_too_high": "sb3/cartpole_lr_too_high"},
             ["rollout/ep_rew_mean", "eval/mean_reward", "train/approx_kl",
              "train/clip_fraction", "train/entropy_loss", "train/explained_variance",
              "train/value_loss"], os.path.join(OUT, "long_sb3_cartpole.csv"))
    wide_csv("trl/grpo_zero_signal", ["train/reward", "train/reward_std",
                                      "train/frac_reward_zero_std", "train/grad_norm",
                                      "train/kl", "train/entropy", "train/loss"],
             os.path.join(OUT, "wide_grpo_zero_signal.csv"))
    tf2_tensor_scalars("sb3/acrobot_healthy", os.path.join(OUT, "tf2_tensor_acrobot_healthy"))
    zip_logdir(["trl/grpo_length_hacking"], os.path.join(OUT, "logdir_grpo_length_hacking.zip"))
    for name in sorted(os.listdir(OUT)):
        path = os.path.join(OUT, name)
        files = [path] if os.path.isfile(path) else glob.glob(path + "/**", recursive=True)
        size = sum(os.path.getsize(p) for p in files if os.path.isfile(p))
        print(f"{size:>9,d}  formats/{name}")


if __name__ == "__main__":
    main()
