"""Our event-file reader returns exactly what tensorboard's EventAccumulator returns.

For every event file under ``sample_logs/`` and ``tests/fixtures/`` (found when the tests are
collected, so new sample logs are covered automatically), every scalar tag's steps, values and
wall times equal EventAccumulator's with ``size_guidance`` 0 (every point, no reservoir
sampling) and ``purge_orphaned_data=False`` (raw write order, as in ``Run.raw``). TF2 tensor
scalars are compared with EventAccumulator's tensors of the ``scalars`` plugin.
"""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest

from analyzers.ingest import tfevents
from analyzers.ingest.source import Source

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVENT_FILES = sorted(
    os.path.relpath(path, ROOT)
    for folder in ("sample_logs", "tests/fixtures")
    for path in glob.glob(os.path.join(ROOT, folder, "**", "*tfevents*"), recursive=True)
    if os.path.isfile(path)
)


def reference_points(path: str) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """tag -> (steps, values, wall_times) as EventAccumulator reads them."""
    from tensorboard.backend.event_processing import event_accumulator as ea
    from tensorboard.util import tensor_util

    acc = ea.EventAccumulator(
        path,
        size_guidance={kind: 0 for kind in (ea.SCALARS, ea.TENSORS, ea.HISTOGRAMS, ea.IMAGES, ea.AUDIO, ea.COMPRESSED_HISTOGRAMS)},
        purge_orphaned_data=False,
    )
    acc.Reload()
    points: dict[str, list[tuple[int, float, float]]] = {}
    for tag in acc.Tags()[ea.SCALARS]:
        points[tag] = [(e.step, e.value, e.wall_time) for e in acc.Scalars(tag)]
    for tag in acc.Tags()[ea.TENSORS]:
        meta = acc.summary_metadata.get(tag)
        if meta is None or meta.plugin_data.plugin_name != "scalars":
            continue
        rows = []
        for e in acc.Tensors(tag):
            if e.tensor_proto.dtype == 14:  # bfloat16: tensorboard's make_ndarray cannot decode it
                continue
            rows.append((e.step, float(tensor_util.make_ndarray(e.tensor_proto).reshape(-1)[0]), e.wall_time))
        points.setdefault(tag, []).extend(rows)
    return {
        tag: (
            np.array([r[0] for r in rows], np.int64),
            np.array([r[1] for r in rows], np.float64),
            np.array([r[2] for r in rows], np.float64),
        )
        for tag, rows in points.items()
        if rows
    }


def test_there_are_event_files_to_compare():
    assert EVENT_FILES, "no event files found under sample_logs/ or tests/fixtures/"


@pytest.mark.parametrize("relpath", EVENT_FILES)
def test_scalars_equal_event_accumulator(relpath):
    path = os.path.join(ROOT, relpath)
    expected = reference_points(path)
    result = tfevents.read(Source(display=path, path=path), "reference")
    assert not result.errors
    (run,) = result.runs
    assert sorted(run.tags) == sorted(expected)
    for tag, (steps, values, walls) in expected.items():
        ours = run.raw(tag)
        np.testing.assert_array_equal(ours["step"].to_numpy(), steps, err_msg=f"{relpath} {tag!r} steps")
        np.testing.assert_array_equal(ours["value"].to_numpy(), values, err_msg=f"{relpath} {tag!r} values")
        np.testing.assert_array_equal(ours["wall_time"].to_numpy(), walls, err_msg=f"{relpath} {tag!r} wall times")
