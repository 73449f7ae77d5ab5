"""CSV/TSV reader: every layout (long, wide, SB3, W&B panel/history, Spinning Up, TensorBoard CSV)
and the bad inputs of issue 2. Fixtures under tests/fixtures/tabular/ come from
make_fixtures.py (SB3's own CSV logger; W&B and Spinning Up written from their documented formats)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from analyzers.ingest import read_bytes, read_path
from analyzers.ingest import tabular
from analyzers.ingest.source import Source

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "tabular")


def read_text(text: str, name: str = "log.csv", encoding: str = "utf-8"):
    return read_bytes(text.encode(encoding), name)


def only_run(result):
    assert result.errors == []
    assert len(result.runs) == 1
    return result.runs[0]


def all_notes(run) -> str:
    return " | ".join(run.notes)


# ----------------------------------------------------------------------------- long format
def test_long_csv_gives_one_series_per_tag_with_wall_time():
    run = only_run(read_text("step,tag,value,wall_time\n0,loss,1.0,100.5\n1,loss,0.5,101.5\n0,kl,0.1,100.5\n"))
    assert run.metadata["format"] == "csv_long"
    assert run.tags == ["kl", "loss"]
    assert run.series("loss").tolist() == [1.0, 0.5]
    assert run.frame("loss")["wall_time"].tolist() == [100.5, 101.5]


def test_long_csv_without_wall_time_has_nan_wall_time():
    run = only_run(read_text("step,tag,value\n0,loss,1.0\n"))
    assert math.isnan(run.frame("loss")["wall_time"][0])


def test_long_csv_run_column_splits_into_runs_named_file_slash_run():
    result = read_text("run,step,tag,value\nseed1,0,loss,1\nseed2,0,loss,2\nseed1,1,loss,3\n", name="sweep.csv")
    assert result.errors == []
    by_name = {r.name: r for r in result.runs}
    assert sorted(by_name) == ["sweep/seed1", "sweep/seed2"]
    assert by_name["sweep/seed1"].series("loss").tolist() == [1.0, 3.0]


# ----------------------------------------------------------------------------- wide format
def test_wide_csv_makes_each_column_a_tag_against_the_step_column():
    run = only_run(read_text("step,loss,reward\n10,1.0,0.1\n20,0.5,0.2\n"))
    assert run.metadata["format"] == "csv_wide"
    assert run.metadata["step_column"] == "step"
    assert run.series("reward").index.tolist() == [10, 20]


@pytest.mark.parametrize(
    "step_column", ["step", "Step", "global_step", "_step", "train/global_step", "time/total_timesteps", "iteration", "epoch"]
)
def test_wide_csv_recognises_step_column(step_column):
    run = only_run(read_text(f"loss,{step_column}\n1.0,5\n0.5,6\n"))
    assert run.metadata["step_column"] == step_column
    assert run.series("loss").index.tolist() == [5, 6]
    assert not run.has(step_column)


def test_trainer_step_wins_over_epoch_and_wandb_step():
    run = only_run(read_text("epoch,_step,global_step,loss\n1,0,100,1.0\n2,1,200,0.5\n"))
    assert run.metadata["step_column"] == "global_step"


def test_fractional_epoch_is_not_used_as_step():
    run = only_run(read_text("epoch,iteration,loss\n0.5,1,1.0\n1.0,2,0.5\n"))
    assert run.metadata["step_column"] == "iteration"
    assert run.series("epoch").tolist() == [0.5, 1.0]


def test_no_step_column_uses_row_number_and_says_so():
    run = only_run(read_text("loss,reward\n1.0,0.1\n0.5,0.2\n"))
    assert run.series("loss").index.tolist() == [0, 1]
    assert "no step column" in all_notes(run)


def test_windows_line_endings_and_blank_lines_are_read():
    run = only_run(read_text("step,loss\r\n0,1.0\r\n\r\n1,0.5\r\n"))
    assert run.series("loss").to_dict() == {0: 1.0, 1: 0.5}


def test_semicolon_separated_csv_is_read():
    run = only_run(read_text("step;loss\n0;1.5\n1;1.0\n"))
    assert run.series("loss").tolist() == [1.5, 1.0]


def test_tensorboard_download_csv_takes_tag_from_file_name():
    run = only_run(read_text("Wall time,Step,Value\n1700000000.5,0,0.25\n1700000001.5,1,0.5\n", name="run-ppo_1-tag-train_approx_kl.csv"))
    assert run.metadata["format"] == "tensorboard_csv"
    assert run.tags == ["train_approx_kl"]
    assert run.frame("train_approx_kl")["wall_time"].tolist() == [1700000000.5, 1700000001.5]


# ----------------------------------------------------------------------------- SB3 progress.csv (real logger)
@pytest.fixture(scope="module")
def sb3_run():
    return only_run(read_path(os.path.join(FIXTURES, "sb3", "progress.csv")))


def test_sb3_progress_csv_is_recognised(sb3_run):
    assert sb3_run.metadata["format"] == "sb3_progress_csv"
    assert sb3_run.framework == "stable-baselines3"
    assert sb3_run.metadata["step_column"] == "time/total_timesteps"


def test_sb3_empty_cells_of_the_growing_header_are_missing_not_zero(sb3_run):
    # train/* keys appear from the second dump on; the first row is back-filled with empty cells.
    assert sb3_run.series("train/approx_kl").index.tolist() == [4096, 6144, 8192, 10240, 12288]
    assert sb3_run.series("train/value_loss").index.tolist() == [6144, 8192, 10240, 12288]


def test_sb3_logged_nan_is_kept_as_a_nan_point(sb3_run):
    assert math.isnan(sb3_run.series("train/value_loss")[8192])


def test_sb3_time_elapsed_is_relative_wall_time(sb3_run):
    assert sb3_run.frame("rollout/ep_rew_mean")["wall_time"].tolist() == [2.0, 4.0, 6.0, 8.0, 10.0, 12.0]
    assert sb3_run.metadata["wall_time_origin"] == "training start"
    assert not sb3_run.has("time/total_timesteps")


# ----------------------------------------------------------------------------- W&B exports (hand-written)
def test_wandb_panel_export_gives_one_run_per_wandb_run():
    result = read_path(os.path.join(FIXTURES, "wandb", "panel_export.csv"))
    assert result.errors == []
    by_name = {r.name: r for r in result.runs}
    assert sorted(by_name) == ["panel_export/ppo-seed1", "panel_export/ppo-seed2"]
    assert by_name["panel_export/ppo-seed1"].tags == ["train/kl", "train/reward"]
    # seed2 was logged every 20 steps: its empty cells are not points.
    assert by_name["panel_export/ppo-seed2"].series("train/reward").index.tolist() == [0, 20, 40]


def test_wandb_panel_min_max_columns_are_dropped_with_a_note():
    run = read_path(os.path.join(FIXTURES, "wandb", "panel_export.csv")).runs[0]
    assert not any("__MIN" in t or "__MAX" in t for t in run.tags)
    assert "__MIN/__MAX" in all_notes(run)


def test_wandb_history_export_uses_timestamp_as_wall_time_and_hides_internals():
    run = only_run(read_path(os.path.join(FIXTURES, "wandb", "history_export.csv")))
    assert run.metadata["format"] == "wandb_history_csv"
    assert run.tags == ["eval/loss", "train/loss"]
    assert run.series("train/loss").index.tolist() == [5, 10, 15, 20, 25, 30]
    assert run.frame("train/loss")["wall_time"][0] == 1700000000.5
    assert run.series("eval/loss").index.tolist() == [15, 30]


def test_wandb_panel_header_longer_than_the_sniffed_head_is_read_whole():
    columns = [f"run{r} - train/metric_with_a_long_name_{m}" for r in range(100) for m in range(30)]
    assert len(",".join(columns)) > tabular.HEAD_BYTES
    text = "Step," + ",".join(columns) + "\n0," + ",".join("1.0" for _ in columns) + "\n"
    result = read_text(text, name="wide_export.csv")
    assert result.errors == []
    assert len(result.runs) == 100
    assert all(run.points == 30 for run in result.runs)


def test_wandb_history_without_trainer_step_uses_underscore_step():
    run = only_run(read_text("_step,_runtime,_timestamp,loss\n0,1.0,1700000000,1.0\n1,2.0,1700000001,0.5\n"))
    assert run.metadata["step_column"] == "_step"
    assert run.tags == ["loss"]


# ----------------------------------------------------------------------------- Spinning Up (hand-written)
def test_spinningup_progress_uses_env_interactions_as_step():
    run = only_run(read_path(os.path.join(FIXTURES, "spinningup", "progress.txt")))
    assert run.metadata["format"] == "spinningup_progress"
    assert run.framework == "spinningup"
    assert run.series("AverageEpRet").index.tolist() == [4000, 8000, 12000, 16000]
    assert run.frame("AverageEpRet")["wall_time"].tolist() == [3.25, 6.5, 9.75, 13.0]


def test_any_tab_separated_table_is_read():
    run = only_run(read_text("step\tloss\n0\t1.0\n1\t0.5\n", name="log.tsv"))
    assert run.series("loss").tolist() == [1.0, 0.5]


# ----------------------------------------------------------------------------- bad input
def test_nan_and_inf_text_is_data():
    run = only_run(read_text("step,loss\n0,nan\n1,inf\n2,-inf\n3,NaN\n"))
    values = run.series("loss").to_numpy()
    assert math.isnan(values[0]) and values[1] == np.inf and values[2] == -np.inf and math.isnan(values[3])
    assert run.notes == []


def test_non_numeric_cells_are_counted_and_the_rest_kept():
    run = only_run(read_text("step,loss\n0,1.0\n1,oops\n2,0.5\n3,n/a\n"))
    assert run.series("loss").to_dict() == {0: 1.0, 2: 0.5}
    assert "skipped 2 non-numeric cells in column 'loss'" in all_notes(run)


def test_text_only_column_is_ignored_with_a_note():
    run = only_run(read_text("step,loss,comment\n0,1.0,warmup\n1,0.5,steady\n"))
    assert run.tags == ["loss"]
    assert "ignored non-numeric column 'comment'" in all_notes(run)


def test_rows_with_too_many_fields_are_skipped_with_line_numbers():
    run = only_run(read_text("step,loss\n0,1.0\n1,0.5,9,9\n2,0.25\n"))
    assert run.series("loss").to_dict() == {0: 1.0, 2: 0.25}
    assert "line 3" in all_notes(run)


def test_truncated_last_row_keeps_what_it_has():
    run = only_run(read_text("step,loss,reward\n0,1.0,0.1\n1,0.5"))
    assert run.series("loss").to_dict() == {0: 1.0, 1: 0.5}
    assert run.series("reward").to_dict() == {0: 0.1}


def test_unclosed_quote_at_the_end_keeps_earlier_rows():
    run = only_run(read_text('step,loss,note\n0,1.0,"a"\n1,0.5,"b\n'))
    assert run.series("loss").to_dict() == {0: 1.0, 1: 0.5}


def test_unclosed_quote_after_a_malformed_row_keeps_every_readable_row():
    # Neither Arrow nor pandas' C parser reads this; the lenient csv-module pass does.
    run = only_run(read_text('step,loss,note\n0,1.0,"a"\n1,0.5,x,y\n2,0.25,"b\n'))
    assert run.series("loss").to_dict() == {0: 1.0, 2: 0.25}
    assert "parse problem" in all_notes(run)
    assert "line 3" in all_notes(run)


def test_rows_without_a_step_are_skipped_and_counted():
    run = only_run(read_text("step,loss\n0,1.0\n,2.0\nx,3.0\n3,4.0\n"))
    assert run.series("loss").to_dict() == {0: 1.0, 3: 4.0}
    assert "skipped 2 rows whose step is missing" in all_notes(run)


def test_duplicate_column_names_keep_the_first_with_a_note():
    run = only_run(read_text("step,loss,loss\n0,1.0,9.0\n1,0.5,9.0\n"))
    assert run.series("loss").tolist() == [1.0, 0.5]
    assert "duplicate column names 'loss' (columns 2 and 3)" in all_notes(run)


def test_empty_file_is_an_error_naming_the_file():
    result = read_text("", name="empty.csv")
    assert result.runs == []
    assert result.errors[0].path == "empty.csv"
    assert result.errors[0].message == "empty file"


def test_header_only_is_an_error():
    result = tabular.read_csv(Source(display="header.csv", data=b"step,loss\n"), "header")
    assert result.runs == []
    assert result.errors[0].path == "header.csv"
    assert "header only" in result.errors[0].message


def test_nothing_numeric_is_an_error():
    result = read_text("name,comment\nalpha,beta\n", name="words.csv")
    assert result.runs == []
    assert "no numeric values" in result.errors[0].message


def test_latin1_bytes_are_decoded_with_a_note():
    result = read_bytes("step,récompense\n0,1.0\n1,2.0\n".encode("latin-1"), "latin.csv")
    run = only_run(result)
    assert run.tags == ["récompense"]
    assert "not UTF-8" in all_notes(run)


def test_utf8_bom_is_not_part_of_the_first_column_name():
    run = only_run(read_bytes("\ufeffstep,loss\n0,1.0\n".encode("utf-8"), "bom.csv"))
    assert run.metadata["step_column"] == "step"


def test_reads_across_chunks_like_in_one_piece(monkeypatch):
    monkeypatch.setattr(tabular, "CHUNK_ROWS", 7)
    lines = ["step,loss,reward"] + [f"{i},{i * 0.5},{'' if i % 3 else i}" for i in range(50)]
    run = only_run(read_text("\n".join(lines) + "\n"))
    assert run.series("loss").index.tolist() == list(range(50))
    assert run.series("reward").index.tolist() == list(range(0, 50, 3))


def test_column_empty_in_the_first_block_is_read_on_the_fast_path(monkeypatch):
    # SB3 adds keys late: the first Arrow block sees the column empty, later blocks see numbers.
    monkeypatch.setattr(tabular, "ARROW_BLOCK_BYTES", 64)

    def no_fallback(*args, **kwargs):
        raise AssertionError("a clean file should not need the lenient pandas pass")

    monkeypatch.setattr(tabular, "_chunks_pandas", no_fallback)
    lines = ["step,loss,late"] + [f"{i},{i * 0.5}," for i in range(20)] + [f"{i},{i * 0.5},{i}" for i in range(20, 40)]
    run = only_run(read_text("\n".join(lines) + "\n"))
    assert run.series("late").index.tolist() == list(range(20, 40))


def test_large_csv_is_read_in_full(tmp_path):
    # 300k rows x 4 metrics (about 12 MB): read in chunks, every point kept.
    n = 300_000
    path = tmp_path / "big.csv"
    steps = np.arange(n)
    with open(path, "w") as fh:
        fh.write("step,a,b,c,d\n")
        block = 50_000
        for start in range(0, n, block):
            s = steps[start : start + block]
            rows = np.column_stack([s, s * 0.5, s * 0.25, -s * 1.0, s % 7])
            np.savetxt(fh, rows, fmt=["%d", "%.3f", "%.3f", "%.1f", "%d"], delimiter=",")
    run = only_run(read_path(path))
    assert run.points == 4 * n
    assert run.series("a").iloc[-1] == (n - 1) * 0.5
