"""The run model: tidy scalars, restart resolution, canonical metric transforms."""

import numpy as np
import pandas as pd
import pytest

from analyzers.model import MetricBinding, Run, resolve_restarts
from analyzers.synthetic import make_run


def test_points_in_increasing_order_all_survive():
    assert resolve_restarts(np.array([0, 1, 2, 5])).all()


def test_restart_discards_earlier_points_at_and_after_the_resumed_step():
    # A run wrote 0..4, crashed, resumed from its step-2 checkpoint and wrote 2..5 again.
    steps = np.array([0, 1, 2, 3, 4, 2, 3, 4, 5])
    keep = resolve_restarts(steps)
    assert keep.tolist() == [True, True, False, False, False, True, True, True, True]


def test_repeated_step_without_regression_keeps_the_later_write():
    assert resolve_restarts(np.array([0, 1, 1, 2])).tolist() == [True, False, True, True]


def test_empty_steps_give_empty_mask():
    assert resolve_restarts(np.zeros(0, np.int64)).shape == (0,)


def _restarted_run() -> Run:
    frame = pd.DataFrame(
        {
            "tag": ["loss"] * 6 + ["kl"] * 2,
            "step": [0, 1, 2, 1, 2, 3, 0, 1],
            "value": [9.0, 8.0, 7.0, 1.0, 2.0, 3.0, 0.1, float("nan")],
            "wall_time": [10, 11, 12, 20, 21, 22, 10, 11],
        }
    )
    return Run.from_long("resumed", frame)


def test_series_resolves_restarts_but_raw_keeps_every_point():
    run = _restarted_run()
    assert run.series("loss").to_dict() == {0: 9.0, 1: 1.0, 2: 2.0, 3: 3.0}
    assert len(run.raw("loss")) == 6
    assert run.points == 8


def test_nan_values_are_kept_as_data():
    run = _restarted_run()
    assert np.isnan(run.series("kl").loc[1])


def test_frame_keeps_wall_time_of_the_surviving_write():
    run = _restarted_run()
    assert run.frame("loss")["wall_time"].tolist() == [10, 20, 21, 22]


def test_steps_counts_distinct_steps_across_tags():
    assert _restarted_run().steps == 4


def test_tags_are_sorted_and_only_those_with_points():
    assert _restarted_run().tags == ["kl", "loss"]


@pytest.mark.parametrize(
    ("transform", "expected"),
    [("identity", [-0.5, -0.25]), ("negate", [0.5, 0.25]), ("square", [0.25, 0.0625])],
)
def test_metric_applies_the_binding_transform(transform, expected):
    run = make_run({"train/entropy_loss": [-0.5, -0.25]}, resolve_aliases=False)
    run.metrics["entropy"] = MetricBinding("entropy", "train/entropy_loss", transform=transform)
    assert run.metric("entropy").tolist() == expected


def test_metric_of_an_unbound_concept_is_none():
    assert make_run({"x": [1.0]}, resolve_aliases=False).metric("kl.ref") is None


def test_concat_merges_files_in_write_order_so_the_later_file_wins():
    first = make_run({"reward": [0.0, 1.0, 2.0]}, resolve_aliases=False)
    second = make_run({"reward": pd.Series([5.0, 6.0], index=[1, 2])}, resolve_aliases=False)
    merged = Run.concat("merged", [first, second])
    assert merged.series("reward").to_dict() == {0: 0.0, 1: 5.0, 2: 6.0}
    assert merged.points == 5


def test_summary_has_the_json_contract_fields():
    run = make_run({"objective/kl": [1.0, 2.0]}, metrics={"kl.ref": "objective/kl"}, resolve_aliases=False)
    summary = run.summary()
    assert set(summary) == {"run", "source", "framework", "steps", "points", "tags", "metrics", "notes"}
    assert summary["metrics"] == {"kl.ref": "objective/kl"}
    assert summary["points"] == 2 and summary["tags"] == 1
