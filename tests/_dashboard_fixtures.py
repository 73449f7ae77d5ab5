"""Sample logs and an AppTest factory for the dashboard tests (no browser)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
HOSTILE = "<img src=x onerror=alert(1)>"
PIPE = "**bold**|pipe"
STEPS = 500


def trl_csv(kl_blows_up: bool, extra: dict[str, np.ndarray] | None = None) -> bytes:
    """A TRL-style CSV (objective/kl, objective/kl_coef, env/reward_mean); KL runs away from step 300."""
    steps = np.arange(STEPS)
    kl = np.full(STEPS, 0.5) + 0.01 * np.sin(steps)
    if kl_blows_up:
        kl[300:] = np.linspace(0.5, 40.0, STEPS - 300)
    columns = {"step": steps, "objective/kl": kl, "objective/kl_coef": np.full(STEPS, 0.05),
               "env/reward_mean": np.linspace(0.0, 1.0, STEPS), "objective/entropy": np.linspace(2.0, 1.8, STEPS)}
    columns.update(extra or {})
    return pd.DataFrame(columns).to_csv(index=False).encode()


@pytest.fixture
def samples(tmp_path, monkeypatch):
    """A samples dir (one broken run, one healthy), a server root around it, and a report store."""
    root = tmp_path / "root"
    sample_dir = root / "samples"
    sample_dir.mkdir(parents=True)
    (sample_dir / "broken.csv").write_bytes(trl_csv(True))
    (sample_dir / "healthy.csv").write_bytes(trl_csv(False))
    (tmp_path / "outside.csv").write_bytes(trl_csv(True))
    monkeypatch.setenv("RLHF_TRIAGE_SAMPLES", str(sample_dir))
    monkeypatch.setenv("RLHF_TRIAGE_ROOT", str(root))
    monkeypatch.setenv("RLHF_TRIAGE_DB", str(tmp_path / "reports.db"))
    return sample_dir


@pytest.fixture
def app(samples) -> AppTest:
    """The dashboard after its first run, on the sample runs."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    return at


def goto(at: AppTest, page: str) -> AppTest:
    at.sidebar.radio(key="page").set_value(page).run()
    assert not at.exception, at.exception
    return at


def sample_finding(sample_dir: Path, run: str, code: str):
    """The finding ``code`` that ``analyzers`` reports on a sample run (what the page must show).

    Onsets are dated by the rules (their own tests bound the error); the page tests check that
    the page shows exactly what the analysis found, so they take the step from the same call.
    """
    import analyzers

    loaded = analyzers.load([str(sample_dir / f"{run}.csv")])
    (only,) = loaded.runs
    return next(f for f in analyzers.analyze(only).findings if f.code == code)


def page_text(at: AppTest) -> str:
    """Every markdown-ish text element on the page, joined (what a reader sees, roughly)."""
    parts = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "header", "subheader", "title"):
        parts += [str(e.value) for e in at.get(kind)]
    return "\n".join(parts)


# ----------------------------------------------------------------------------- a sweep logdir
SWEEP_RUNS = 20
SWEEP_BROKEN = ("run_03", "run_11", "run_17")  # these runs' KL to the reference blows up


def trl_columns(kl_blows_up: bool) -> dict[str, np.ndarray]:
    """The columns of :func:`trl_csv`, as arrays (step first)."""
    frame = pd.read_csv(io.BytesIO(trl_csv(kl_blows_up)))
    return {c: frame[c].to_numpy() for c in frame.columns}


def write_event_run(directory: Path, kl_blows_up: bool) -> None:
    """One TRL-style run as a TensorBoard event file (simple_value scalars) in ``directory``."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    directory.mkdir(parents=True)
    columns = trl_columns(kl_blows_up)
    steps = columns.pop("step")
    writer = EventFileWriter(str(directory))
    for i, step in enumerate(steps):
        values = [summary_pb2.Summary.Value(tag=tag, simple_value=float(series[i])) for tag, series in columns.items()]
        writer.add_event(event_pb2.Event(wall_time=1.7e9 + i, step=int(step), summary=summary_pb2.Summary(value=values)))
    writer.close()


@pytest.fixture
def sweep_logdir(samples, monkeypatch) -> Path:
    """A logdir of SWEEP_RUNS event-file runs under the server root; the sweep runs serially."""
    logdir = samples.parent / "sweep"
    for i in range(SWEEP_RUNS):
        name = f"run_{i:02d}"
        write_event_run(logdir / name, kl_blows_up=name in SWEEP_BROKEN)
    monkeypatch.setenv("RLHF_TRIAGE_EXECUTOR", "serial")  # AppTest runs the script in-process
    return logdir
