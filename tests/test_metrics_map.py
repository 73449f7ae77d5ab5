"""The user's metric map (--metric-map map.toml): parsing, errors, round trip, precedence."""

import pytest

from analyzers.metrics import MetricMap, resolve
from analyzers.model import MetricBinding
from analyzers.synthetic import make_run

EXAMPLE = """
[metrics]
"kl.ref" = "my/kl_to_ref"                     # short form
"entropy" = { tag = "train/entropy_loss", transform = "negate", unit = "nats/token" }
[behaviour]
"eval/win_rate" = "higher"
"eval/loss" = "lower"
"""


def write(tmp_path, text, name="map.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ parsing
def test_short_form_binds_a_concept_to_a_tag(tmp_path):
    mm = MetricMap.from_file(write(tmp_path, EXAMPLE))
    assert mm.bindings["kl.ref"] == MetricBinding("kl.ref", "my/kl_to_ref", source="user")


def test_table_form_carries_transform_and_unit(tmp_path):
    mm = MetricMap.from_file(write(tmp_path, EXAMPLE))
    b = mm.bindings["entropy"]
    assert (b.tag, b.transform, b.unit, b.source) == ("train/entropy_loss", "negate", "nats/token", "user")


def test_behaviour_section_gives_directions(tmp_path):
    mm = MetricMap.from_file(write(tmp_path, EXAMPLE))
    assert mm.behaviour == {"eval/win_rate": "higher", "eval/loss": "lower"}


def test_concepts_property_keeps_the_old_concept_to_tag_shape(tmp_path):
    mm = MetricMap.from_file(write(tmp_path, EXAMPLE))
    assert mm.concepts == {"kl.ref": "my/kl_to_ref", "entropy": "train/entropy_loss"}


def test_constructor_accepts_plain_tags_like_the_skeleton_did():
    mm = MetricMap({"kl.ref": "kl"}, {"eval_loss": "lower"})
    assert mm.concepts == {"kl.ref": "kl"}


def test_framework_key_is_read_and_normalised():
    assert MetricMap.from_toml('framework = "sb3"\n').framework == "stable-baselines3"


def test_american_spelling_of_behaviour_section_is_accepted():
    assert MetricMap.from_toml('[behavior]\n"eval_acc" = "higher"\n').behaviour == {"eval_acc": "higher"}


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "text, message",
    [
        ('[metrics]\n"kl.reference" = "kl"\n', "unknown concept 'kl.reference'"),
        ('[metrics]\n"kl.ref" = { tag = "kl", transform = "sqrt" }\n', "transform must be one of"),
        ('[metrics]\n"kl.ref" = { tag = "kl", estimator = "k4" }\n', "estimator must be one of"),
        ('[metrics]\n"kl.ref" = { transform = "negate" }\n', "missing tag"),
        ('[metrics]\n"kl.ref" = { tag = "kl", colour = "red" }\n', "unknown field 'colour'"),
        ('[metrics]\n"kl.ref" = 3\n', "expected a tag string"),
        ('[metrics]\n"kl.ref" = ""\n', "non-empty string"),
        ('[behaviour]\n"eval/acc" = "up"\n', 'must be "higher" or "lower"'),
        ('[mertics]\n"kl.ref" = "kl"\n', "unknown key or section 'mertics'"),
        ('metrics = "kl"\n', "[metrics] must be a table"),
        ('framework = "keras"\n', "unknown framework 'keras'"),
        ('[metrics\n', "not valid TOML"),
    ],
)
def test_invalid_map_raises_value_error_saying_what_is_wrong(text, message):
    with pytest.raises(ValueError) as info:
        MetricMap.from_toml(text)
    assert message in str(info.value)


def test_unknown_concept_error_suggests_the_closest_ids():
    with pytest.raises(ValueError, match="did you mean kl.ref"):
        MetricMap.from_toml('[metrics]\n"kl_ref" = "kl"\n')


def test_non_utf8_file_is_a_value_error(tmp_path):
    path = tmp_path / "map.toml"
    path.write_bytes(b'[metrics]\n"kl.ref" = "\xff"\n')
    with pytest.raises(ValueError, match="not UTF-8"):
        MetricMap.from_file(path)


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        MetricMap.from_file(tmp_path / "absent.toml")


# ------------------------------------------------------------------ writing
def test_to_toml_round_trips(tmp_path):
    mm = MetricMap.from_file(write(tmp_path, EXAMPLE))
    assert MetricMap.from_toml(mm.to_toml()) == mm


def test_round_trip_keeps_estimator_note_framework_and_awkward_strings():
    mm = MetricMap(
        {
            "kl.ref": {"tag": 'we"ird\\tag\tname ü', "estimator": "k3", "unit": "nats/token", "note": "a\nb\x7f"},
            "lr": "learning_rate",
        },
        {"eval/loss": "lower", "eval/win rate": "higher"},
        framework="verl",
    )
    assert MetricMap.from_toml(mm.to_toml()) == mm


def test_to_toml_uses_the_short_form_for_a_plain_tag():
    assert '"lr" = "learning_rate"' in MetricMap({"lr": "learning_rate"}).to_toml()


def test_from_run_captures_the_resolution_and_reproduces_it():
    run = make_run({"train/entropy_loss": [-1.0, -0.9], "rollout/ep_rew_mean": [1.0, 2.0], "eval/mean_reward": [1.0, 1.5]})
    mm = MetricMap.from_run(run)
    assert mm.framework == "stable-baselines3"
    assert mm.bindings["entropy"].transform == "negate"
    assert mm.behaviour == {"eval/mean_reward": "higher"}
    again = make_run({"train/entropy_loss": [-1.0, -0.9], "rollout/ep_rew_mean": [1.0, 2.0], "eval/mean_reward": [1.0, 1.5]}, resolve_aliases=False)
    resolve(again, MetricMap.from_toml(mm.to_toml()))
    assert {c: b.tag for c, b in again.metrics.items()} == {c: b.tag for c, b in run.metrics.items()}
    assert again.metric("entropy").tolist() == [1.0, 0.9]


# ------------------------------------------------------------------ precedence in resolve
def test_user_binding_overrides_the_alias_table():
    run = make_run({"objective/kl": [1.0], "my/kl_to_ref": [0.1], "objective/scores": [1.0]}, resolve_aliases=False)
    resolve(run, MetricMap({"kl.ref": {"tag": "my/kl_to_ref", "unit": "nats/token"}}))
    b = run.metrics["kl.ref"]
    assert (b.tag, b.source, b.unit) == ("my/kl_to_ref", "user", "nats/token")


def test_user_transform_is_applied_by_run_metric():
    run = make_run({"custom/neg_entropy": [-2.0, -1.0]}, resolve_aliases=False)
    resolve(run, MetricMap({"entropy": {"tag": "custom/neg_entropy", "transform": "negate"}}))
    assert run.metric("entropy").tolist() == [2.0, 1.0]


def test_user_tag_matches_with_a_train_prefix():
    run = make_run({"train/my/kl": [0.1]}, resolve_aliases=False)
    resolve(run, MetricMap({"kl.ref": "my/kl"}))
    assert run.metrics["kl.ref"].tag == "train/my/kl"


def test_mapped_tag_absent_from_the_run_is_noted_and_the_alias_table_used():
    run = make_run({"objective/kl": [1.0], "objective/scores": [1.0]}, resolve_aliases=False)
    resolve(run, MetricMap({"kl.ref": "my/kl_to_ref"}))
    assert run.metrics["kl.ref"].tag == "objective/kl"
    assert any("my/kl_to_ref" in n and "not in this run" in n for n in run.notes)


def test_framework_in_the_map_overrides_detection():
    run = make_run({"reward": [1.0], "kl": [0.1]}, resolve_aliases=False)
    resolve(run, MetricMap(framework="trl-grpo"))
    assert run.framework == "trl-grpo"
    assert (run.metrics["kl.ref"].unit, run.metrics["kl.ref"].estimator) == ("nats/token", "k3")


def test_behaviour_from_the_map_is_used_with_its_direction():
    run = make_run({"reward": [1.0, 2.0], "holdout/ppl": [5.0, 6.0]}, resolve_aliases=False)
    resolve(run, MetricMap(behaviour={"holdout/ppl": "lower"}))
    assert [(b.tag, b.transform, b.source) for b in run.behaviour] == [("holdout/ppl", "negate", "user")]
