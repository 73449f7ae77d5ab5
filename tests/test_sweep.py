"""Sweeps: many runs triaged serially, on a process pool or on Dask, with one identical report."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from analyzers.api import analyze_runs, load
from analyzers.cli import main
from analyzers.report import render_json
from analyzers.report.text import render_text
from analyzers.sweep import (
    ProgressBar,
    RunSummary,
    SweepOptions,
    analyze_unit,
    iter_results,
    plan_sweep,
    run_sweep,
    triage_sweep,
)

REPO = Path(__file__).resolve().parents[1]
STEPS = 120
SWEEP_RUNS = 16  # healthy and KL-blow-up event-file runs; the fixture adds broken and odd ones


# --------------------------------------------------------------------------- fixtures
def write_events(folder: Path, series: dict[str, np.ndarray], start_step: int = 0) -> Path:
    """An event file as torch's SummaryWriter writes it (simple_value scalars)."""
    folder.mkdir(parents=True, exist_ok=True)
    writer = EventFileWriter(str(folder))
    n = len(next(iter(series.values())))
    for i in range(n):
        values = [summary_pb2.Summary.Value(tag=tag, simple_value=float(v[i])) for tag, v in series.items()]
        writer.add_event(event_pb2.Event(wall_time=1.7e9 + start_step + i, step=start_step + i, summary=summary_pb2.Summary(value=values)))
    writer.close()
    return folder


def grpo_series(seed: int, kl_onset: int | None = None, n: int = STEPS) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    kl = 0.002 + 0.0001 * np.sqrt(t) + np.abs(rng.normal(0, 0.0003, n))
    if kl_onset is not None:
        kl = kl + 0.01 * np.where(t >= kl_onset, np.expm1((t - kl_onset) / 10.0), 0.0)
    return {
        "train/reward": 0.2 + 0.5 * (1 - np.exp(-t / 50)) + rng.normal(0, 0.03, n),
        "train/reward_std": 0.3 + rng.normal(0, 0.02, n),
        "train/kl": kl,
        "train/entropy": 1.2 + rng.normal(0, 0.01, n),
        "train/grad_norm": 0.5 + np.abs(rng.normal(0, 0.05, n)),
        "train/learning_rate": np.full(n, 1e-6),
    }


def trainer_state(steps: range) -> str:
    log = [{"step": s, "loss": 1.0 / (s + 1), "reward": 0.1 * s, "kl": 0.01, "learning_rate": 1e-6} for s in steps]
    return json.dumps({"global_step": steps[-1], "log_history": log})


def build_sweep(root: Path) -> Path:
    """~22 run units: event-file runs, a restarted run, broken and corrupt files, CSV, HF checkpoints."""
    for i in range(SWEEP_RUNS):
        onset = 70 if i % 4 == 3 else None
        write_events(root / f"lr_{i // 4}" / f"seed_{i % 4}", grpo_series(seed=i, kl_onset=onset))
    restarted = root / "restarted"
    restarted.mkdir()
    for order, (seed, start) in enumerate([(100, 0), (101, 60)], start=1):  # resumed at step 60
        written = write_events(root / f".tmp{order}", grpo_series(seed=seed, n=80), start_step=start)
        next(written.iterdir()).rename(restarted / f"events.out.tfevents.100000000{order}.host.1.0")
        written.rmdir()

    (root / "broken").mkdir()
    (root / "broken" / "events.out.tfevents.1.host").write_bytes(b"\x00garbage that is not a TFRecord" * 3)
    (root / "empty").mkdir()
    (root / "empty" / "events.out.tfevents.2.host").write_bytes(b"")
    corrupt = write_events(root / "corrupt", grpo_series(seed=7))
    event_file = next(corrupt.iterdir())
    data = bytearray(event_file.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle: that record's CRC no longer matches
    event_file.write_bytes(bytes(data))

    steps = np.arange(50)
    table = "step,reward,kl\n" + "".join(f"{s},{0.01 * s:.4f},{0.02:.3f}\n" for s in steps)
    (root / "csv_run.csv").write_text(table)
    for ckpt in (100, 200):
        folder = root / "hf_grpo" / f"checkpoint-{ckpt}"
        folder.mkdir(parents=True)
        (folder / "trainer_state.json").write_text(trainer_state(range(1, ckpt + 1, 10)))
        (folder / "config.json").write_text("{}")
    (root / "README.txt").write_text("not a log")
    return root


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sweep(tmp_path_factory.mktemp("sweeps") / "sweep")


@pytest.fixture(scope="module")
def serial_json(sweep_dir: Path) -> dict:
    """The reference: the serial API every other front end uses."""
    return json.loads(render_json(analyze_runs(load([sweep_dir]))))


def sweep_json(paths: list[Path], **kwargs) -> dict:
    return json.loads(render_json(triage_sweep(paths, **kwargs)))


# Module level so worker processes can import it.
def explode_on_seed_2(unit, options):
    if unit.display.endswith("seed_2"):
        raise RuntimeError("simulated worker failure")
    return analyze_unit(unit, options)


def die_on_seed_2(unit, options):
    if unit.display.endswith("lr_0/seed_2"):
        os._exit(1)  # a worker killed mid-run (out of memory, segfault in a C extension)
    return analyze_unit(unit, options)


# --------------------------------------------------------------------------- planning
def test_plan_has_one_unit_per_event_folder_and_per_log_file(sweep_dir):
    plan = plan_sweep([sweep_dir])
    displays = [u.display for u in plan.units]
    event_folders = [str(sweep_dir / f"lr_{i // 4}" / f"seed_{i % 4}") for i in range(SWEEP_RUNS)]
    assert set(event_folders) <= set(displays)
    assert str(sweep_dir / "restarted") in displays
    assert str(sweep_dir / "csv_run.csv") in displays
    assert len(plan.units) == SWEEP_RUNS + 4 + 1 + 1  # + restarted, broken, empty, corrupt; csv; hf checkpoints


def test_plan_groups_the_checkpoints_of_one_output_folder_into_one_unit(sweep_dir):
    plan = plan_sweep([sweep_dir])
    hf = [u for u in plan.units if "hf_grpo" in u.display]
    assert len(hf) == 1
    assert sorted(rel for rel, _ in hf[0].entries) == [
        "hf_grpo/checkpoint-100/trainer_state.json",
        "hf_grpo/checkpoint-200/trainer_state.json",
    ]


def test_plan_of_a_missing_path_is_the_same_error_as_a_serial_read(tmp_path):
    missing = tmp_path / "nope"
    assert sweep_json([missing], executor="serial") == json.loads(render_json(analyze_runs(load([missing]))))


def test_plan_of_an_empty_logdir_is_the_same_error_as_a_serial_read(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "notes.txt").write_text("hello")
    out = sweep_json([tmp_path / "logs"], executor="serial")
    assert out == json.loads(render_json(analyze_runs(load([tmp_path / "logs"]))))
    assert out["runs"] == [] and len(out["errors"]) == 1


# --------------------------------------------------------------------------- identity across executors
def test_serial_sweep_report_is_identical_to_the_serial_api(sweep_dir, serial_json):
    assert sweep_json([sweep_dir], executor="serial") == serial_json


def test_serial_sweep_text_output_is_identical_to_the_serial_api(sweep_dir):
    expected = render_text(analyze_runs(load([sweep_dir])))
    assert render_text(triage_sweep([sweep_dir], executor="serial")) == expected


def test_process_pool_report_is_identical_to_the_serial_api(sweep_dir, serial_json):
    assert sweep_json([sweep_dir], executor="process", workers=2) == serial_json


@pytest.fixture(scope="module")
def dask_scheduler():
    """A small LocalCluster standing in for a remote Dask cluster; its scheduler's address."""
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    yield cluster.scheduler_address
    cluster.close()


def test_dask_cluster_report_is_identical_to_the_serial_api(sweep_dir, serial_json, dask_scheduler):
    assert sweep_json([sweep_dir], executor="dask", scheduler=dask_scheduler) == serial_json


def test_cli_dask_executor_connects_to_a_scheduler_address(sweep_dir, serial_json, dask_scheduler, capsys):
    main(["triage", str(sweep_dir), "--scheduler", dask_scheduler, "--format", "json"])
    assert json.loads(capsys.readouterr().out) == serial_json


def test_sweep_keeps_read_errors_naming_the_broken_files(sweep_dir):
    out = sweep_json([sweep_dir], executor="process", workers=2)
    paths = [e["path"] for e in out["errors"]]
    assert any(p.endswith("broken/events.out.tfevents.1.host") for p in paths)
    assert any(p.endswith("empty/events.out.tfevents.2.host") for p in paths)


def test_sweep_keeps_the_readable_points_of_a_corrupt_file_and_names_it(sweep_dir):
    out = sweep_json([sweep_dir], executor="process", workers=2)
    corrupt = next(r for r in out["runs"] if r["run"] == "corrupt")
    assert 0 < corrupt["points"] < STEPS * 6
    problems = corrupt["notes"] + [e["path"] + e["message"] for e in out["errors"]]
    assert any(str(sweep_dir / "corrupt" / "events.out.tfevents") in p for p in problems)


def test_sweep_reads_a_sweep_of_the_expected_runs(sweep_dir, serial_json):
    names = [r["run"] for r in serial_json["runs"]]
    assert {f"lr_{i // 4}/seed_{i % 4}" for i in range(SWEEP_RUNS)} <= set(names)
    assert "restarted" in names and "csv_run" in names


def test_duplicate_run_names_across_inputs_are_numbered_like_a_serial_read(sweep_dir):
    inputs = [sweep_dir / "lr_0", sweep_dir / "lr_0"]
    expected = json.loads(render_json(analyze_runs(load(inputs))))
    out = sweep_json(inputs, executor="process", workers=2)
    assert out == expected
    assert "seed_0 (2)" in [r["run"] for r in out["runs"]]


def test_sweep_report_runs_carry_no_scalars(sweep_dir):
    report = triage_sweep([sweep_dir / "lr_0"], executor="serial")
    assert report.runs and all(isinstance(run, RunSummary) for run in report.runs)


def test_keep_runs_returns_whole_runs_from_worker_processes(sweep_dir):
    report = triage_sweep([sweep_dir / "lr_0"], executor="process", workers=2, keep_runs=True)
    assert [run.points for run in report.runs] == [STEPS * 6] * 4
    assert report.runs[0].series("train/kl").index[-1] == STEPS - 1


# --------------------------------------------------------------------------- streaming and failures
def test_progress_callback_is_called_once_per_run_unit(sweep_dir):
    plan = plan_sweep([sweep_dir])
    calls = []
    run_sweep(plan, executor="process", workers=2, on_result=lambda result, done, total: calls.append((result.unit.index, done, total)))
    assert sorted(index for index, _, _ in calls) == list(range(len(plan.units)))
    assert [done for _, done, _ in calls] == list(range(1, len(plan.units) + 1))
    assert {total for _, _, total in calls} == {len(plan.units)}


def test_results_stream_back_one_per_unit_with_runs_and_findings(sweep_dir):
    plan = plan_sweep([sweep_dir / "lr_0"])
    results = list(iter_results(plan.units, SweepOptions(), executor="process", workers=2))
    assert sorted(r.unit.index for r in results) == [0, 1, 2, 3]
    assert all(len(r.outcomes) == 1 and r.outcomes[0].run is None for r in results)


@pytest.mark.parametrize("executor", ["serial", "process"])
def test_a_worker_exception_becomes_an_error_entry_not_a_crash(sweep_dir, executor):
    plan = plan_sweep([sweep_dir / "lr_0", sweep_dir / "lr_1"])
    report = run_sweep(plan, executor=executor, workers=2, task=explode_on_seed_2)
    names = [run.name for run in report.runs]
    assert names == ["seed_0", "seed_1", "seed_3", "seed_0 (2)", "seed_1 (2)", "seed_3 (2)"]
    failures = [e for e in report.all_errors() if "simulated worker failure" in e["message"]]
    assert [e["path"] for e in failures] == [str(sweep_dir / "lr_0" / "seed_2"), str(sweep_dir / "lr_1" / "seed_2")]


def test_a_dead_worker_process_becomes_an_error_entry_and_the_sweep_goes_on(sweep_dir):
    plan = plan_sweep([sweep_dir / "lr_0", sweep_dir / "lr_1", sweep_dir / "lr_2"])
    report = run_sweep(plan, executor="process", workers=1, task=die_on_seed_2)
    errors = report.all_errors()
    assert any(e["path"] == str(sweep_dir / "lr_0" / "seed_2") and "worker process died" in e["message"] for e in errors)
    assert len(report.runs) + len(errors) == len(plan.units)
    after_the_crash = [run for run in report.runs if run.sources[0].startswith(str(sweep_dir / "lr_2"))]
    assert len(after_the_crash) == 4  # a new pool took over


def test_progress_bar_draws_in_place_and_ends_the_line():
    stream = io.StringIO()
    bar = ProgressBar(total=3, stream=stream)
    for done in (1, 2, 3):
        bar(None, done, 3)  # type: ignore[arg-type]
    text = stream.getvalue()
    assert text.count("\r") == 3 and "3/3 runs" in text and text.endswith("\n")


# --------------------------------------------------------------------------- CLI
@pytest.mark.parametrize("executor", ["serial", "process"])
def test_cli_json_is_identical_whichever_executor_runs(sweep_dir, serial_json, executor, capsys):
    main(["triage", str(sweep_dir), "--format", "json", "--executor", executor, "--workers", "2"])
    assert json.loads(capsys.readouterr().out) == serial_json


def test_cli_text_is_identical_with_the_default_process_executor(sweep_dir, capsys):
    main(["triage", str(sweep_dir), "--executor", "serial"])
    serial = capsys.readouterr().out
    main(["triage", str(sweep_dir)])
    assert capsys.readouterr().out == serial


def test_cli_dask_executor_without_a_scheduler_starts_a_local_cluster(sweep_dir, serial_json):
    proc = subprocess.run(
        [sys.executable, "-m", "analyzers", "triage", str(sweep_dir), "--executor", "dask", "--workers", "2", "--format", "json"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert json.loads(proc.stdout) == serial_json
    assert "triage [" not in proc.stderr  # no progress bar when stderr is not a terminal


def test_cli_scheduler_with_a_process_executor_is_a_usage_error(sweep_dir, capsys):
    code = main(["triage", str(sweep_dir), "--executor", "process", "--scheduler", "tcp://127.0.0.1:8786"])
    assert code == 2 and "--scheduler needs --executor dask" in capsys.readouterr().err


def test_cli_zero_workers_is_a_usage_error(sweep_dir, capsys):
    code = main(["triage", str(sweep_dir), "--workers", "0"])
    assert code == 2 and "--workers" in capsys.readouterr().err


def test_cli_exit_code_follows_findings_on_the_process_executor(sweep_dir):
    serial = main(["triage", str(sweep_dir), "--executor", "serial", "--fail-on", "info", "-o", "/dev/null"])
    parallel = main(["triage", str(sweep_dir), "--executor", "process", "--fail-on", "info", "-o", "/dev/null"])
    assert serial == parallel
