"""`python -m analyzers triage`: output formats, the JSON contract, exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from analyzers.cli import main

REPO = Path(__file__).resolve().parents[1]


def write_events(folder: Path, series: dict[str, np.ndarray], start_step: int = 0) -> Path:
    """An event file as torch's SummaryWriter writes it (simple_value scalars)."""
    folder.mkdir(parents=True, exist_ok=True)
    writer = EventFileWriter(str(folder))
    n = len(next(iter(series.values())))
    for i in range(n):
        values = [summary_pb2.Summary.Value(tag=tag, simple_value=float(v[i])) for tag, v in series.items()]
        writer.add_event(event_pb2.Event(wall_time=1.7e9 + i, step=start_step + i, summary=summary_pb2.Summary(value=values)))
    writer.close()
    return folder


def healthy_grpo(n: int = 400, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return {
        "train/reward": 0.2 + 0.5 * (1 - np.exp(-t / 150)) + rng.normal(0, 0.03, n),
        "train/reward_std": 0.3 + rng.normal(0, 0.02, n),
        "train/kl": 0.002 + 0.0001 * np.sqrt(t) + np.abs(rng.normal(0, 0.0003, n)),
        "train/entropy": 1.2 - 0.1 * (1 - np.exp(-t / 300)) + rng.normal(0, 0.01, n),
        "train/grad_norm": 0.5 + np.abs(rng.normal(0, 0.05, n)),
        "train/learning_rate": np.full(n, 1e-6),
        "train/completions/mean_length": 40 + rng.normal(0, 1, n),
        "train/frac_reward_zero_std": np.clip(0.1 + rng.normal(0, 0.02, n), 0, 1),
    }


def kl_blowup_grpo(n: int = 400, onset: int = 250, seed: int = 1) -> dict[str, np.ndarray]:
    series = healthy_grpo(n, seed)
    t = np.arange(n)
    ramp = np.where(t >= onset, np.expm1((t - onset) / 25.0), 0.0)
    series["train/kl"] = series["train/kl"] + 0.01 * ramp
    return series


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analyzers", *args], capture_output=True, text=True, cwd=REPO, timeout=300)


@pytest.fixture()
def logdir(tmp_path: Path) -> Path:
    root = tmp_path / "sweep"
    write_events(root / "healthy", healthy_grpo())
    write_events(root / "blowup", kl_blowup_grpo())
    (root / "broken").mkdir()
    (root / "broken" / "events.out.tfevents.1.host").write_bytes(b"\x00garbage that is not a TFRecord" * 3)
    return root


def test_json_output_follows_the_contract(logdir, capsys):
    code = main(["triage", str(logdir), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"runs", "errors"}
    names = sorted(r["run"] for r in out["runs"])
    assert names == ["blowup", "healthy"]
    for run in out["runs"]:
        assert {"run", "source", "framework", "steps", "points", "tags", "metrics", "notes", "findings"} <= set(run)
        assert run["steps"] == 400 and run["tags"] == 8 and run["points"] == 3200
        assert isinstance(run["source"], list) and "tfevents" in run["source"][0]
    assert any("broken" in e["path"] for e in out["errors"])
    assert code in (0, 1)


def test_a_kl_blowup_exits_1_and_names_its_onset(logdir, capsys):
    code = main(["triage", str(logdir / "blowup"), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    kinds = {f["kind"]: f for f in out["runs"][0]["findings"]}
    assert "kl_blowup" in kinds
    assert kinds["kl_blowup"]["severity"] == "critical"
    assert abs(kinds["kl_blowup"]["onset_step"] - 250) <= 40
    assert code == 1


def test_a_healthy_run_exits_0_with_no_warning_or_worse(logdir, capsys):
    code = main(["triage", str(logdir / "healthy"), "--format", "json", "--fail-on", "warning"])
    out = json.loads(capsys.readouterr().out)
    assert [f for f in out["runs"][0]["findings"] if f["severity"] != "info"] == []
    assert code == 0


def test_fail_on_info_is_stricter_than_the_default(logdir):
    assert main(["triage", str(logdir / "blowup"), "--format", "json", "--fail-on", "info"]) == 1


def test_nothing_readable_exits_2_and_says_why(tmp_path, capsys):
    code = main(["triage", str(tmp_path / "missing"), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 2
    assert out["runs"] == [] and "no such file" in out["errors"][0]["message"]


def test_usage_error_exits_2():
    assert main(["triage"]) == 2
    assert main(["triage", "x", "--format", "yaml"]) == 2


def test_bad_metric_map_exits_2_naming_the_file(tmp_path, logdir, capsys):
    bad = tmp_path / "map.toml"
    bad.write_text("[metrics]\n'no.such.concept' = 'x'\n")
    assert main(["triage", str(logdir), "--metric-map", str(bad)]) == 2
    assert "map.toml" in capsys.readouterr().err


def test_text_output_names_runs_findings_and_errors(logdir):
    proc = run_cli("triage", str(logdir))
    assert proc.returncode == 1, proc.stderr
    assert "== blowup" in proc.stdout and "== healthy" in proc.stdout
    assert "KL" in proc.stdout and "Errors:" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_output_file_option_writes_the_report(logdir, tmp_path):
    target = tmp_path / "out.json"
    main(["triage", str(logdir / "healthy"), "--format", "json", "-o", str(target)])
    assert json.loads(target.read_text())["runs"][0]["run"] == "healthy"


def test_rule_command_lists_rules():
    proc = run_cli("rule")
    assert proc.returncode == 0
    assert "KL001" in proc.stdout
