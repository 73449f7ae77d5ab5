"""HF trainer_state.json reader and the generic JSON reader. The fixture is written by
transformers' own TrainerState.save_to_json (tests/fixtures/tabular/make_fixtures.py)."""

from __future__ import annotations

import json
import math
import os

import pytest

from analyzers.ingest import read_bytes, read_path
from analyzers.ingest import trainer_state
from analyzers.ingest.source import Source

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "tabular", "hf", "trainer_state.json")


def fixture_text() -> str:
    with open(FIXTURE, encoding="utf-8") as fh:
        return fh.read()


def only_run(result):
    assert result.errors == []
    assert len(result.runs) == 1
    return result.runs[0]


@pytest.fixture(scope="module")
def run():
    return only_run(read_path(FIXTURE))


def test_trainer_state_is_recognised(run):
    assert run.metadata["format"] == "hf_trainer_state"
    assert run.framework is None  # the metric resolver decides TRL vs plain Trainer from the tags


def test_training_keys_become_series_as_logged(run):
    assert run.series("reward").index.tolist() == list(range(1, 9))
    assert run.has("completions/mean_length")
    assert not run.has("step")


def test_epoch_is_kept_as_a_series(run):
    assert run.series("epoch")[8] == 1.0


def test_bare_nan_and_infinity_are_data(run):
    grad_norm = run.series("grad_norm")
    assert math.isnan(grad_norm[3])
    assert grad_norm[5] == math.inf


def test_null_is_a_nan_point_with_a_note(run):
    assert math.isnan(run.series("kl")[6])
    assert any("1 null value kept as NaN" in note for note in run.notes)


def test_eval_entries_become_eval_series_keyed_as_logged(run):
    assert run.series("eval_loss").index.tolist() == [4, 8]
    assert run.series("eval_reward")[8] == pytest.approx(1.6)


def test_summary_entry_goes_to_metadata_not_series(run):
    assert run.metadata["train_runtime"] == 42.5
    assert run.metadata["train_loss"] == 0.17
    assert not run.has("train_runtime")
    assert not run.has("train_loss")
    assert not run.has("total_flos")


def test_state_fields_go_to_metadata(run):
    assert run.metadata["global_step"] == 8
    assert run.metadata["max_steps"] == 8
    assert run.metadata["best_metric"] == 0.05
    assert run.metadata["best_model_checkpoint"] == "out/checkpoint-8"


def test_log_entry_with_train_runtime_only_is_not_the_summary():
    # With include_num_input_tokens_seen, Trainer.log adds train_runtime to every entry.
    state = {"log_history": [{"loss": 1.0, "train_runtime": 3.0, "train_tokens_per_second": 9.0, "epoch": 0.5, "step": 1}]}
    run = only_run(read_bytes(json.dumps(state).encode(), "trainer_state.json"))
    assert run.series("loss").tolist() == [1.0]


def test_run_is_named_after_the_folder_holding_trainer_state(tmp_path):
    folder = tmp_path / "grpo-run"
    folder.mkdir()
    (folder / "trainer_state.json").write_text(fixture_text())
    assert only_run(read_path(folder / "trainer_state.json")).name == "grpo-run"


# ----------------------------------------------------------------------------- bad input
def test_without_log_history_is_not_a_training_log():
    result = read_bytes(b'{\n  "global_step": 3\n}\n', "trainer_state.json")
    assert result.runs == []
    assert result.errors[0].path == "trainer_state.json"
    assert result.errors[0].message.startswith("not a training log")
    assert "log_history" in result.errors[0].message


def test_truncated_file_keeps_complete_entries_with_a_note():
    text = fixture_text()
    cut = text.index('"step": 5') + 5  # inside the fifth training entry
    run = only_run(read_bytes(text[:cut].encode(), "trainer_state.json"))
    assert run.series("loss").index.tolist() == [1, 2, 3, 4]
    assert any("truncated or damaged" in note for note in run.notes)


def test_truncated_before_any_entry_is_an_error():
    result = read_bytes(b'{\n  "best_metric": 0.1,\n  "epoch', "trainer_state.json")
    assert result.runs == []
    assert "not valid JSON" in result.errors[0].message


def test_empty_trainer_state_is_an_error():
    result = trainer_state.read(Source(display="trainer_state.json", data=b""), "x")
    assert result.errors[0].message == "empty file"


def test_entry_without_step_is_skipped_not_renumbered():
    state = {"log_history": [{"loss": 1.0, "epoch": 0.1, "step": 5}, {"loss": 2.0, "epoch": 0.2}]}
    run = only_run(read_bytes(json.dumps(state).encode(), "trainer_state.json"))
    assert run.series("loss").to_dict() == {5: 1.0}
    assert any("without an integer step" in note for note in run.notes)


def test_non_numeric_values_are_skipped_and_counted():
    state = {"log_history": [{"loss": 1.0, "mode": "train", "epoch": 0.1, "step": 1}]}
    run = only_run(read_bytes(json.dumps(state).encode(), "trainer_state.json"))
    assert not run.has("mode")
    assert any("'mode' (1)" in note for note in run.notes)


# ----------------------------------------------------------------------------- other JSON files
def test_bare_log_history_list_is_read():
    history = json.loads(fixture_text())["log_history"]
    run = only_run(read_bytes(json.dumps(history, indent=2).encode(), "history.json"))
    assert run.metadata["format"] == "hf_log_history"
    assert run.metadata["train_runtime"] == 42.5
    assert run.series("reward").index.tolist() == list(range(1, 9))


def test_list_of_metric_rows_is_read():
    rows = [{"global_step": 10, "loss": 1.0}, {"global_step": 20, "loss": 0.5}]
    run = only_run(read_bytes(json.dumps(rows).encode(), "rows.json"))
    assert run.metadata["format"] == "json_rows"
    assert run.series("loss").to_dict() == {10: 1.0, 20: 0.5}


def test_other_json_object_is_not_a_training_log_naming_the_file():
    result = read_bytes(json.dumps({"model_type": "gpt2", "n_layer": 2}, indent=2).encode(), "all_results.json")
    assert result.runs == []
    assert result.errors[0].path == "all_results.json"
    assert result.errors[0].message.startswith("not a training log: ")


def test_json_lines_with_a_long_first_line_are_read_as_jsonl():
    # A verl line longer than the sniffed head is not recognisable as one line of JSON there.
    data = {f"actor/metric_{i:03d}": float(i) for i in range(300)}
    text = "\n".join(json.dumps({"step": s, "data": data}) for s in (1, 2)) + "\n"
    assert len(text.split("\n", 1)[0]) > 4096
    run = only_run(trainer_state.read_json(Source(display="metrics.json", data=text.encode()), "m"))
    assert run.metadata["format"] == "verl_jsonl"
    assert run.series("actor/metric_007").index.tolist() == [1, 2]
