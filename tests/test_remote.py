"""Logs behind fsspec URLs (memory://, file://; s3:// and gs:// when their packages are installed)."""

from __future__ import annotations

import importlib.util
import io
import json
import uuid
import zipfile
from pathlib import Path

import fsspec
import numpy as np
import pytest
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from analyzers.api import analyze_runs, load
from analyzers.ingest import read_path
from analyzers.ingest.remote import list_tree
from analyzers.report import render_json
from analyzers.sweep import triage_sweep

STEPS = 60


def write_events(folder: Path, seed: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    writer = EventFileWriter(str(folder))
    for step in range(STEPS):
        values = [
            summary_pb2.Summary.Value(tag="train/reward", simple_value=float(rng.normal())),
            summary_pb2.Summary.Value(tag="train/kl", simple_value=float(abs(rng.normal(0.01, 0.001)))),
        ]
        writer.add_event(event_pb2.Event(wall_time=1.7e9 + step, step=step, summary=summary_pb2.Summary(value=values)))
    writer.close()
    return folder


@pytest.fixture()
def local_logdir(tmp_path: Path) -> Path:
    root = tmp_path / "logs"
    write_events(root / "run_a", seed=0)
    write_events(root / "group" / "run_b", seed=1)
    (root / "metrics.csv").write_text("step,reward\n" + "".join(f"{s},{s * 0.1}\n" for s in range(STEPS)))
    return root


@pytest.fixture()
def memory_logdir(local_logdir: Path):
    """The same logdir copied into fsspec's in-memory filesystem (removed afterwards)."""
    fs = fsspec.filesystem("memory")
    root = f"/{uuid.uuid4().hex}/logs"
    for path in sorted(local_logdir.rglob("*")):
        if path.is_file():
            fs.pipe_file(f"{root}/{path.relative_to(local_logdir).as_posix()}", path.read_bytes())
    yield f"memory://{root}"
    fs.rm(root.rsplit("/", 1)[0], recursive=True)


def run_view(report_json: dict) -> list[tuple]:
    """What must not depend on where the files live: everything but the source paths."""
    return [(r["run"], r["steps"], r["points"], r["tags"], r["metrics"], r["findings"]) for r in report_json["runs"]]


def test_a_memory_logdir_reads_like_the_same_logdir_on_disk(local_logdir, memory_logdir):
    remote = read_path(memory_logdir)
    local = read_path(local_logdir)
    assert not remote.errors
    assert [(r.name, r.points, r.tags) for r in remote.runs] == [(r.name, r.points, r.tags) for r in local.runs]


def test_remote_sources_are_named_by_their_url(memory_logdir):
    result = read_path(memory_logdir)
    run_a = next(r for r in result.runs if r.name == "run_a")
    assert run_a.sources[0].startswith(memory_logdir + "/run_a/events.out.tfevents.")


def test_a_single_remote_event_file_is_a_run_named_after_its_folder(memory_logdir):
    fs = fsspec.filesystem("memory")
    event_file = fs.find(memory_logdir.removeprefix("memory://") + "/run_a")[0]
    result = read_path(f"memory://{event_file}")
    assert [r.name for r in result.runs] == ["run_a"] and result.runs[0].points == 2 * STEPS


def test_a_remote_zip_is_read_as_a_logdir(local_logdir):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in sorted(local_logdir.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(local_logdir).as_posix())
    url = f"memory:///{uuid.uuid4().hex}/logs.zip"
    fsspec.filesystem("memory").pipe_file(url.removeprefix("memory://"), buffer.getvalue())
    try:
        result = read_path(url)
    finally:
        fsspec.filesystem("memory").rm(url.removeprefix("memory://"))
    assert sorted(r.name for r in result.runs) == ["group/run_b", "metrics", "run_a"]


def test_a_file_url_sweep_on_a_process_pool_matches_the_local_serial_read(local_logdir):
    remote = json.loads(render_json(triage_sweep([local_logdir.as_uri()], executor="process", workers=2)))
    local = json.loads(render_json(analyze_runs(load([local_logdir]))))
    assert remote["errors"] == local["errors"] == []
    assert run_view(remote) == run_view(local)


def test_a_memory_url_sweep_matches_the_remote_serial_read(memory_logdir):
    swept = json.loads(render_json(triage_sweep([memory_logdir], executor="serial")))
    assert swept == json.loads(render_json(analyze_runs(load([memory_logdir]))))


def test_remote_listing_follows_the_local_walk_order(memory_logdir):
    root_name, files = list_tree(memory_logdir)
    rels = [rel for rel, _ in files]
    assert root_name == "logs"
    assert rels[0] == "metrics.csv"  # a folder's own files come before its subfolders, like os.walk
    assert rels[1].startswith("group/run_b/") and rels[2].startswith("run_a/")


def test_a_missing_remote_path_is_an_error_naming_it():
    url = f"memory:///{uuid.uuid4().hex}/nothing"
    result = read_path(url)
    assert not result.runs
    assert [(e.path, e.message) for e in result.errors] == [(url, "no such file or directory")]


def test_an_unknown_protocol_is_a_clear_error():
    result = read_path("nosuchproto://bucket/logs")
    assert not result.runs
    assert "cannot read nosuchproto:// URLs" in result.errors[0].message


@pytest.mark.skipif(importlib.util.find_spec("s3fs") is not None, reason="s3fs is installed")
def test_an_s3_url_without_s3fs_names_the_package_to_install():
    result = read_path("s3://some-bucket/logs")
    assert not result.runs
    assert result.errors[0].path == "s3://some-bucket/logs"
    assert "'s3fs' package is not installed" in result.errors[0].message


@pytest.mark.skipif(importlib.util.find_spec("gcsfs") is not None, reason="gcsfs is installed")
def test_a_gs_url_in_a_sweep_without_gcsfs_is_an_error_entry_not_a_crash():
    report = triage_sweep(["gs://some-bucket/logs"], executor="serial")
    assert not report.runs
    assert "'gcsfs' package is not installed" in report.all_errors()[0]["message"]
