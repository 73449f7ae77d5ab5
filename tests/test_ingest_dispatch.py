"""The ingest dispatcher: format sniffing from content, logdir walks, zips, and bad input.

Event files are written with tensorboard's own EventFileWriter + event_pb2/summary_pb2."""

from __future__ import annotations

import io
import json
import os
import shutil
import time
import zipfile

import pytest

from analyzers.ingest import read_bytes, read_path, sniff
from analyzers.ingest.sniff import detect_format

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "tabular")
SB3_CSV = os.path.join(FIXTURES, "sb3", "progress.csv")
TRAINER_STATE = os.path.join(FIXTURES, "hf", "trainer_state.json")


def _event_reader_available() -> bool:
    try:
        import analyzers.ingest.tfevents  # noqa: F401
    except ImportError:
        return False
    return True


needs_event_reader = pytest.mark.skipif(
    not _event_reader_available(), reason="analyzers/ingest/tfevents.py (the event-file reader) has not landed yet"
)


def write_events(folder, tag_values: dict[str, list[float]], first_step: int = 0, suffix: str = "") -> str:
    """An event file made by tensorboard's own writer; returns its path."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    os.makedirs(folder, exist_ok=True)
    writer = EventFileWriter(str(folder), filename_suffix=suffix)
    steps = len(next(iter(tag_values.values())))
    for i in range(steps):
        values = [summary_pb2.Summary.Value(tag=tag, simple_value=vals[i]) for tag, vals in tag_values.items()]
        writer.add_event(event_pb2.Event(wall_time=time.time(), step=first_step + i, summary=summary_pb2.Summary(value=values)))
    writer.close()
    return [os.path.join(folder, f) for f in sorted(os.listdir(folder)) if "tfevents" in f and f.endswith(suffix)][-1]


def event_bytes(tmp_path) -> bytes:
    path = write_events(tmp_path / "one", {"loss": [1.0, 0.5]})
    with open(path, "rb") as fh:
        return fh.read()


def names(result) -> list[str]:
    return sorted(r.name for r in result.runs)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def read(path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


# ----------------------------------------------------------------------------- sniffing
def test_event_file_is_recognised_by_content_whatever_its_name(tmp_path):
    assert detect_format(event_bytes(tmp_path)[:4096], "upload.bin") == sniff.TFEVENTS


@pytest.mark.parametrize(
    "content, name, expected",
    [
        (b"PK\x03\x04rest", "logs.bin", sniff.ZIP),
        (b'{\n  "best_metric": null,\n  "log_history": []\n}', "state.txt", sniff.TRAINER_STATE),
        (b'{"step": 1, "data": {"actor/kl": 0.1}}\n', "upload.bin", sniff.JSONL),
        (b'[{"step": 1, "loss": 0.5}]', "upload.bin", sniff.JSON),
        (b"step,loss\n1,0.5\n", "export (3).txt", sniff.CSV),
        (b"Epoch\tAverageEpRet\n0\t1.0\n", "progress.txt", sniff.TSV),
        (b"", "empty.csv", None),
        (b"\x00\x01\x02garbage", "upload.bin", None),
    ],
)
def test_format_is_detected_from_content(content, name, expected):
    assert detect_format(content, name) == expected


@needs_event_reader
def test_uploaded_event_file_named_upload_bin_is_read(tmp_path):
    result = read_bytes(event_bytes(tmp_path), "upload.bin")
    assert result.errors == []
    assert result.runs[0].series("loss").tolist() == [1.0, 0.5]


def test_upload_named_trainer_state_is_named_trainer_state_not_the_working_directory():
    result = read_bytes(read(TRAINER_STATE), "trainer_state.json")
    assert names(result) == ["trainer_state"]


def test_csv_upload_with_a_misleading_name_is_read_by_content():
    result = read_bytes(read(SB3_CSV), "export (3).txt")
    assert result.errors == []
    assert result.runs[0].metadata["format"] == "sb3_progress_csv"


def test_unrecognised_binary_is_an_error_naming_the_file():
    result = read_bytes(b"\x00\x01\x02\x03" * 100, "model.safetensors")
    assert result.runs == []
    assert result.errors[0].path == "model.safetensors"
    assert "unrecognised format" in result.errors[0].message


def test_missing_path_is_an_error(tmp_path):
    result = read_path(tmp_path / "nope")
    assert result.errors[0].message == "no such file or directory"


# ----------------------------------------------------------------------------- logdir walks
@needs_event_reader
def test_each_folder_of_event_files_is_one_run_named_by_its_relative_path(tmp_path):
    write_events(tmp_path / "logs" / "ppo" / "seed1", {"loss": [1.0]})
    write_events(tmp_path / "logs" / "ppo" / "seed2", {"loss": [2.0]})
    write_events(tmp_path / "logs", {"loss": [3.0]})
    result = read_path(tmp_path / "logs")
    assert result.errors == []
    assert names(result) == ["logs", "ppo/seed1", "ppo/seed2"]


@needs_event_reader
def test_several_event_files_in_one_folder_merge_into_one_run(tmp_path):
    write_events(tmp_path / "run", {"loss": [1.0, 0.9]}, first_step=0, suffix=".a")
    write_events(tmp_path / "run", {"loss": [0.8, 0.7]}, first_step=2, suffix=".b")
    result = read_path(tmp_path / "run")
    assert len(result.runs) == 1
    assert result.runs[0].series("loss").index.tolist() == [0, 1, 2, 3]
    assert any("merged into one run" in n for n in result.runs[0].notes)


def test_csv_and_trainer_state_in_a_logdir_are_runs_named_by_folder(tmp_path):
    (tmp_path / "sb3").mkdir()
    shutil.copy(SB3_CSV, tmp_path / "sb3" / "progress.csv")
    (tmp_path / "grpo").mkdir()
    shutil.copy(TRAINER_STATE, tmp_path / "grpo" / "trainer_state.json")
    result = read_path(tmp_path)
    assert result.errors == []
    assert names(result) == ["grpo", "sb3"]


def test_files_that_are_not_logs_are_ignored(tmp_path):
    shutil.copy(TRAINER_STATE, tmp_path / "trainer_state.json")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    (tmp_path / "tokenizer.json").write_text(json.dumps({"version": "1.0"}))
    (tmp_path / "tokenizer_config.json").write_text("{}")
    (tmp_path / "all_results.json").write_text(json.dumps({"train_loss": 0.1}, indent=4))
    (tmp_path / "notes.json").write_text(json.dumps({"author": "me"}, indent=2))
    (tmp_path / "README.md").write_text("# model card\n")
    (tmp_path / "requirements.txt").write_text("torch==2.13.0\n")
    (tmp_path / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    result = read_path(tmp_path)
    assert result.errors == []
    assert len(result.runs) == 1
    assert result.runs[0].metadata["format"] == "hf_trainer_state"


def hf_checkpoint_dir(root, steps: list[int], with_final: bool = False) -> None:
    state = json.loads(read(TRAINER_STATE))
    for step in steps:
        folder = root / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        partial = dict(state, global_step=step, log_history=[e for e in state["log_history"] if e["step"] <= step and "train_runtime" not in e])
        (folder / "trainer_state.json").write_text(json.dumps(partial, indent=2))
        (folder / "config.json").write_text("{}")
    if with_final:
        shutil.copy(TRAINER_STATE, root / "trainer_state.json")


def test_only_the_newest_checkpoint_trainer_state_is_read(tmp_path):
    out = tmp_path / "grpo-out"
    hf_checkpoint_dir(out, [2, 4, 10, 6])  # 10 sorts before 2 as text: the number must decide
    (out / "checkpoint-10" / "trainer_state.json").write_text(
        (out / "checkpoint-10" / "trainer_state.json").read_text().replace('"global_step": 10', '"global_step": 8')
    )
    result = read_path(out)
    assert result.errors == []
    assert len(result.runs) == 1
    run = result.runs[0]
    assert run.sources[0].endswith(os.path.join("checkpoint-10", "trainer_state.json"))
    assert any("4 checkpoint folders" in n for n in run.notes)


def test_output_folder_trainer_state_wins_over_checkpoints(tmp_path):
    out = tmp_path / "grpo-out"
    hf_checkpoint_dir(out, [4, 8], with_final=True)
    result = read_path(out)
    assert len(result.runs) == 1
    assert result.runs[0].sources[0] == str(out / "trainer_state.json")
    assert result.runs[0].name == "grpo-out"


def test_empty_logdir_is_an_error_naming_it(tmp_path):
    result = read_path(tmp_path)
    assert result.runs == []
    assert result.errors[0].path == str(tmp_path)
    assert "no log files found" in result.errors[0].message


def test_one_bad_file_does_not_hide_the_good_ones(tmp_path):
    shutil.copy(SB3_CSV, tmp_path / "progress.csv")
    (tmp_path / "broken.jsonl").write_bytes(b"{oops\n")
    result = read_path(tmp_path)
    assert [r.metadata["format"] for r in result.runs] == ["sb3_progress_csv"]
    assert [os.path.basename(e.path) for e in result.errors] == ["broken.jsonl"]


# ----------------------------------------------------------------------------- zips
@needs_event_reader
def test_zipped_logdir_with_events_csv_and_trainer_state(tmp_path):
    events = event_bytes(tmp_path)
    data = zip_bytes(
        {
            "logs/ppo/events.out.tfevents.1.host": events,
            "logs/sb3/progress.csv": read(SB3_CSV),
            "logs/grpo/trainer_state.json": read(TRAINER_STATE),
            "logs/grpo/config.json": b"{}",
        }
    )
    result = read_bytes(data, "logs.zip")
    assert result.errors == []
    assert names(result) == ["logs/grpo", "logs/ppo", "logs/sb3"]


def test_zipped_tabular_logs_without_event_files(tmp_path):
    data = zip_bytes({"sb3/progress.csv": read(SB3_CSV), "grpo/trainer_state.json": read(TRAINER_STATE)})
    result = read_bytes(data, "runs.zip")
    assert result.errors == []
    assert names(result) == ["grpo", "sb3"]


def test_zip_on_disk_is_read_like_an_upload(tmp_path):
    path = tmp_path / "runs.zip"
    path.write_bytes(zip_bytes({"sb3/progress.csv": read(SB3_CSV)}))
    assert names(read_path(path)) == ["sb3"]


def test_corrupt_zip_is_an_error_naming_the_file():
    data = zip_bytes({"sb3/progress.csv": read(SB3_CSV)})
    result = read_bytes(data[:40] + b"\x00" * 30, "broken.zip")
    assert result.runs == []
    assert result.errors[0].path == "broken.zip"
    assert "zip" in result.errors[0].message


def test_zip_member_path_with_dot_dot_is_only_a_label(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    data = zip_bytes({"../../etc/x.csv": b"step,loss\n0,1.0\n", "/abs/y.csv": b"step,loss\n0,2.0\n"})
    result = read_bytes(data, "evil.zip")
    assert result.errors == []
    assert names(result) == ["abs/y", "etc/x"]
    assert sorted(os.listdir(tmp_path)) == before
    assert not os.path.exists(os.path.join(tmp_path, "..", "..", "etc", "x.csv"))


def test_nested_zip_is_reported_not_read():
    inner = zip_bytes({"a.csv": b"step,loss\n0,1\n"})
    result = read_bytes(zip_bytes({"inner.zip": inner, "b.csv": b"step,loss\n0,2\n"}), "outer.zip")
    assert names(result) == ["b"]
    assert "nested zip" in result.errors[0].message


def test_checkpoint_rule_applies_inside_zips_too(tmp_path):
    out = tmp_path / "out"
    hf_checkpoint_dir(out, [4, 8])
    members = {f"out/checkpoint-{s}/trainer_state.json": read(out / f"checkpoint-{s}" / "trainer_state.json") for s in (4, 8)}
    result = read_bytes(zip_bytes(members), "out.zip")
    assert len(result.runs) == 1
    assert result.runs[0].sources[0] == "out.zip:out/checkpoint-8/trainer_state.json"


# ----------------------------------------------------------------------------- JSON details
def test_jsonl_with_a_first_line_longer_than_the_sniffed_head_is_read():
    data = {f"actor/metric_{i:03d}": float(i) for i in range(300)}
    text = "\n".join(json.dumps({"step": s, "data": data}) for s in (1, 2)) + "\n"
    result = read_bytes(text.encode(), "metrics.jsonl")
    assert result.errors == []
    assert result.runs[0].metadata["format"] == "verl_jsonl"


@needs_event_reader
def test_companion_files_of_an_event_folder_are_not_read_twice(tmp_path):
    # SB3's configure(folder, ["csv", "tensorboard"]) writes the same scalars twice.
    run_dir = tmp_path / "logs" / "cartpole"
    write_events(run_dir, {"train/approx_kl": [0.01, 0.02]})
    shutil.copy(SB3_CSV, run_dir / "progress.csv")
    result = read_path(tmp_path / "logs")
    assert names(result) == ["cartpole"]
    assert any("progress.csv" in note and "another format" in note for note in result.runs[0].notes)


def test_a_companion_file_given_on_its_own_is_read(tmp_path):
    run_dir = tmp_path / "cartpole"
    run_dir.mkdir()
    shutil.copy(SB3_CSV, run_dir / "progress.csv")
    assert names(read_path(run_dir / "progress.csv")) == ["cartpole"]


@needs_event_reader
def test_a_zip_inside_a_logdir_names_its_runs_after_the_zip(tmp_path):
    root = tmp_path / "logs"
    write_events(root / "grpo", {"train/kl": [0.1, 0.2]})
    (root / "archive.zip").write_bytes(zip_bytes({"grpo/events.out.tfevents.1.host": event_bytes(tmp_path)}))
    assert names(read_path(root)) == ["archive/grpo", "grpo"]
