"""JSON Lines reader: verl's file logger (hand-written fixture from its documented line format),
SB3's progress.json (SB3's own logger, tests/fixtures/tabular/make_fixtures.py), W&B-style rows."""

from __future__ import annotations

import json
import math
import os

from analyzers.ingest import read_bytes, read_path

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "tabular")


def only_run(result):
    assert result.errors == []
    assert len(result.runs) == 1
    return result.runs[0]


def lines(*objs) -> bytes:
    return ("\n".join(json.dumps(o) for o in objs) + "\n").encode()


def test_verl_file_logger_lines_are_read():
    run = only_run(read_path(os.path.join(FIXTURES, "verl", "metrics.jsonl")))
    assert run.metadata["format"] == "verl_jsonl"
    assert run.framework == "verl"
    assert run.name == "metrics"
    assert run.series("critic/score/mean").index.tolist() == [1, 2, 3, 4, 5]
    assert run.series("val-core/gsm8k/reward/mean@1").index.tolist() == [2, 4]


def test_verl_null_is_kept_as_nan_with_a_note():
    run = only_run(read_path(os.path.join(FIXTURES, "verl", "metrics.jsonl")))
    assert math.isnan(run.series("actor/ppo_kl")[3])
    assert any("null value kept as NaN" in n for n in run.notes)


def test_sb3_progress_json_uses_total_timesteps_as_step():
    run = only_run(read_path(os.path.join(FIXTURES, "sb3", "progress.json")))
    assert run.metadata["format"] == "sb3_progress_json"
    assert run.framework == "stable-baselines3"
    assert run.series("train/approx_kl").index.tolist() == [4096, 6144, 8192, 10240, 12288]
    assert math.isnan(run.series("train/value_loss")[8192])  # SB3 writes a bare NaN token
    assert not run.has("time/total_timesteps")


def test_sb3_csv_and_json_outputs_of_one_run_agree():
    from_csv = only_run(read_path(os.path.join(FIXTURES, "sb3", "progress.csv")))
    from_json = only_run(read_path(os.path.join(FIXTURES, "sb3", "progress.json")))
    assert from_csv.tags == from_json.tags
    for tag in from_csv.tags:
        assert from_csv.series(tag).equals(from_json.series(tag)), tag


def test_flat_rows_with_wandb_step_and_timestamp():
    data = lines({"_step": 0, "_runtime": 1.0, "_timestamp": 1700000000.0, "loss": 1.0}, {"_step": 1, "_runtime": 2.0, "_timestamp": 1700000001.0, "loss": 0.5})
    run = only_run(read_bytes(data, "history.jsonl"))
    assert run.metadata["format"] == "jsonl"
    assert run.tags == ["loss"]
    assert run.frame("loss")["wall_time"].tolist() == [1700000000.0, 1700000001.0]


def test_nested_objects_are_flattened_with_slashes():
    run = only_run(read_bytes(lines({"step": 1, "actor": {"kl": 0.1, "lr": 1e-6}}), "nested.jsonl"))
    assert run.tags == ["actor/kl", "actor/lr"]


def test_bad_lines_are_skipped_with_their_line_numbers():
    data = lines({"step": 1, "loss": 1.0}) + b"not json\n" + lines({"step": 3, "loss": 0.5}) + b"[1, 2]\n"
    run = only_run(read_bytes(data, "log.jsonl"))
    assert run.series("loss").to_dict() == {1: 1.0, 3: 0.5}
    assert any("skipped 2 lines that are not JSON objects (lines 2, 4)" in n for n in run.notes)


def test_truncated_last_line_of_a_live_run_is_noted():
    data = lines({"step": 1, "data": {"loss": 1.0}}) + b'{"step": 2, "data": {"lo'
    run = only_run(read_bytes(data, "metrics.jsonl"))
    assert run.series("loss").to_dict() == {1: 1.0}
    assert any("last line is incomplete" in n for n in run.notes)


def test_rows_without_any_step_use_the_line_number():
    run = only_run(read_bytes(lines({"loss": 1.0}, {"loss": 0.5}), "nostep.jsonl"))
    assert run.series("loss").index.tolist() == [0, 1]
    assert any("no step key" in n for n in run.notes)


def test_string_values_are_skipped_and_counted():
    run = only_run(read_bytes(lines({"step": 1, "loss": 1.0, "phase": "rollout"}), "s.jsonl"))
    assert run.tags == ["loss"]
    assert any("'phase' (1)" in n for n in run.notes)


def test_only_bad_lines_is_an_error_naming_the_file():
    result = read_bytes(b'{"step": 1, "da\n{oops\n', "broken.jsonl")
    assert result.runs == []
    assert result.errors[0].path == "broken.jsonl"
    assert "no readable JSON lines" in result.errors[0].message


def test_one_object_without_step_is_not_a_training_log():
    result = read_bytes(b'{"_wandb": {"runtime": 3}, "best": 0.5}\n', "summary.json")
    assert result.runs == []
    assert result.errors[0].message.startswith("not a training log")


def test_invalid_utf8_in_a_line_does_not_stop_the_file():
    data = lines({"step": 1, "loss": 1.0}) + b'{"step": 2, "loss": 0.5, "tag": "\xff"}\n'
    run = only_run(read_bytes(data, "bytes.jsonl"))
    assert run.series("loss").to_dict() == {1: 1.0, 2: 0.5}
