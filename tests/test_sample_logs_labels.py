"""sample_logs/labels.json is a usable evaluation corpus: it names real files, uses the fixed
vocabulary of finding kinds, and covers every bundled run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analyzers.findings import KINDS, SEVERITY_RANK

SAMPLE_LOGS = Path(__file__).resolve().parent.parent / "sample_logs"
LABELS = json.loads((SAMPLE_LOGS / "labels.json").read_text(encoding="utf-8"))["runs"]
MAX_FOLDER_BYTES = 10 * 1024 * 1024  # issue 2: keep sample_logs/ under 10 MB


def _run_folders() -> list[str]:
    return sorted(f"{group}/{run.name}" for group in ("sb3", "trl")
                  for run in (SAMPLE_LOGS / group).iterdir() if run.is_dir())


@pytest.mark.parametrize("path", sorted(LABELS))
def test_every_labelled_path_exists(path):
    assert (SAMPLE_LOGS / path).exists()


@pytest.mark.parametrize("path", sorted(LABELS))
def test_labelled_kinds_and_severities_are_from_the_fixed_vocabulary(path):
    label = LABELS[path]
    for finding in label["findings"]:
        assert finding["kind"] in KINDS
        assert finding["severity_at_least"] in SEVERITY_RANK
        assert isinstance(finding["onset_step"], int)
    assert set(label["tolerated"]) <= set(KINDS)


@pytest.mark.parametrize("path", sorted(LABELS))
def test_a_healthy_run_has_no_expected_finding(path):
    label = LABELS[path]
    if label["healthy"]:
        assert label["findings"] == []


@pytest.mark.parametrize("folder", _run_folders())
def test_every_real_run_is_labelled_with_its_event_files_and_its_own_log(folder):
    own_log = "progress.csv" if folder.startswith("sb3/") else "trainer_state.json"
    assert folder in LABELS
    assert f"{folder}/{own_log}" in LABELS
    assert LABELS[folder]["derived"] is False


def test_the_corpus_holds_healthy_and_broken_runs_of_both_trainers():
    trainers = {label["trainer"].split()[0] for label in LABELS.values()}
    healthy = {label["healthy"] for label in LABELS.values() if not label["derived"]}
    assert {"stable-baselines3", "TRL"} <= trainers
    assert healthy == {True, False}


def test_sample_logs_stays_under_ten_megabytes():
    size = sum(p.stat().st_size for p in SAMPLE_LOGS.rglob("*") if p.is_file())
    assert size < MAX_FOLDER_BYTES


def test_no_model_weights_are_bundled():
    weights = [p for p in SAMPLE_LOGS.rglob("*")
               if p.suffix in {".safetensors", ".bin", ".pt", ".pth", ".ckpt"}]
    assert weights == []
