"""The evaluation harness: scoring on a hand-made corpus, label loading, and the synthetic targets."""

import json

import numpy as np
import pytest

from analyzers.evaluate import (
    TARGET_ONSET_ERROR_PCT,
    TARGET_RECALL,
    evaluate_synthetic,
    markdown_table,
    real_cases,
    render_markdown,
    rules_by_kind,
    run_cases,
    score,
)
from analyzers.findings import KINDS, Finding
from analyzers.rules import Analysis
from analyzers.scenarios import ExpectedFinding, LabelledRun, synthetic_corpus
from analyzers.synthetic import make_run


def _case(name, healthy, expected=(), tolerated=()):
    run = make_run({"x": np.zeros(101)}, name=name, resolve_aliases=False)  # steps 0..100: length 100
    return LabelledRun(name, run, healthy, [ExpectedFinding(k, s) for k, s in expected], tolerated=tuple(tolerated))


def _finding(kind, onset, severity="warning"):
    return Finding(code="T001", kind=kind, severity=severity, title="t", summary="s", onset_step=onset)


CANNED = {
    "broken-hit": [_finding("kl_blowup", 55)],  # 5 steps late on a 100-step run: 5 %
    "broken-late": [_finding("kl_blowup", 80), _finding("kl_blowup", 40)],  # closest one counts: 10 %
    "broken-miss": [_finding("entropy_collapse", 10)],  # wrong kind: a miss and one unexpected finding
    "broken-tolerated": [_finding("kl_blowup", 50), _finding("reward_hacking", 50)],
    "healthy-quiet": [],
    "healthy-info": [_finding("kl_blowup", 5, "info")],
    "healthy-alarm": [_finding("kl_blowup", 5, "critical")],
}


@pytest.fixture
def tiny_score():
    cases = [
        _case("broken-hit", False, [("kl_blowup", 50)]),
        _case("broken-late", False, [("kl_blowup", 50)]),
        _case("broken-miss", False, [("kl_blowup", 50)]),
        _case("broken-tolerated", False, [("kl_blowup", 50)], tolerated=["reward_hacking"]),
        _case("healthy-quiet", True),
        _case("healthy-info", True),
        _case("healthy-alarm", True),
    ]
    outcomes = run_cases(cases, analyze_fn=lambda run: Analysis(run=run, findings=list(CANNED[run.name])))
    return score("tiny", outcomes, rules={"kl_blowup": ["T001"]})


def test_recall_counts_labelled_pairs_with_a_finding_of_that_kind(tiny_score):
    kl = tiny_score.kinds["kl_blowup"]
    assert (kl.positives, kl.detected) == (4, 3)
    assert kl.recall == pytest.approx(0.75)
    assert kl.missed and kl.missed[0].startswith("broken-miss")


def test_false_alarms_count_healthy_runs_with_warning_or_worse_only(tiny_score):
    kl = tiny_score.kinds["kl_blowup"]
    assert kl.healthy_runs == 3
    assert kl.false_alarms == 1 and kl.false_alarm_runs[0].startswith("healthy-alarm")
    assert kl.info_on_healthy == 1


def test_onset_error_uses_the_closest_finding_as_a_share_of_run_length(tiny_score):
    kl = tiny_score.kinds["kl_blowup"]
    assert sorted(kl.onset_errors_pct) == pytest.approx([0.0, 5.0, 10.0])
    assert kl.onset_error_max == pytest.approx(10.0)


def test_unexpected_kinds_on_broken_runs_are_counted_unless_tolerated(tiny_score):
    assert tiny_score.kinds["entropy_collapse"].unexpected == 1
    assert tiny_score.kinds["reward_hacking"].unexpected == 0


def test_a_kind_without_a_rule_has_no_verdict(tiny_score):
    assert tiny_score.kinds["entropy_collapse"].meets_targets is None
    assert tiny_score.kinds["kl_blowup"].meets_targets is False


def test_markdown_table_has_a_row_per_kind(tiny_score):
    table = markdown_table(tiny_score)
    assert len(table.splitlines()) == 2 + len(KINDS)
    assert "| kl_blowup | T001 | 4 | 3 | 0.75 | 3 | 1 | 1 |" in table


def test_json_output_is_strict_json(tiny_score):
    json.dumps(tiny_score.to_dict(), allow_nan=False)


def test_missing_labels_file_gives_an_empty_corpus_and_a_note(tmp_path):
    cases, note = real_cases(tmp_path / "labels.json")
    assert cases == [] and "not found" in note


def test_unreadable_labelled_path_is_reported_not_raised(tmp_path):
    (tmp_path / "labels.json").write_text(json.dumps(
        {"runs": {"missing/run.csv": {"healthy": False, "findings": [{"kind": "kl_blowup", "onset_step": 10}]}}}))
    cases, _ = real_cases(tmp_path / "labels.json")
    result = score("real", run_cases(cases))
    assert result.runs == 0 and result.load_errors and result.load_errors[0].startswith("missing/run.csv")
    assert "unreadable" in render_markdown([result])


def test_labelled_csv_run_is_loaded_and_scored(tmp_path):
    rows = "\n".join(f"{s},{v}" for s, v in zip(range(0, 100), np.linspace(0, 1, 100)))
    (tmp_path / "run.csv").write_text("step,objective/kl\n" + rows + "\n")
    (tmp_path / "labels.json").write_text(json.dumps({"runs": {"run.csv": {"healthy": True, "findings": []}}}))
    cases, _ = real_cases(tmp_path / "labels.json")
    assert len(cases) == 1 and cases[0].run is not None and cases[0].healthy


def test_weak_labels_are_reported_separately_and_do_not_count_for_recall():
    cases = [
        LabelledRun("weak-found", make_run({"x": np.zeros(101)}, name="weak-found", resolve_aliases=False), False,
                    [ExpectedFinding("kl_blowup", 50, weak=True)]),
        LabelledRun("weak-missed", make_run({"x": np.zeros(101)}, name="weak-missed", resolve_aliases=False), False,
                    [ExpectedFinding("kl_blowup", 50, weak=True)]),
    ]
    canned = {"weak-found": [_finding("kl_blowup", 60)], "weak-missed": []}
    result = score("tiny", run_cases(cases, analyze_fn=lambda run: Analysis(run=run, findings=list(canned[run.name]))),
                   rules={"kl_blowup": ["T001"]})
    kl = result.kinds["kl_blowup"]
    assert (kl.positives, kl.missed, kl.onset_errors_pct) == (0, [], [])
    assert (kl.weak_positives, kl.weak_detected) == (2, 1)
    assert "Weak labels" in render_markdown([result]) and "weak-missed (onset 50): not found" in render_markdown([result])


def test_weak_flag_is_read_from_labels_json(tmp_path):
    rows = "\n".join(f"{s},{v}" for s, v in zip(range(0, 100), np.linspace(0, 1, 100)))
    (tmp_path / "run.csv").write_text("step,objective/kl\n" + rows + "\n")
    (tmp_path / "labels.json").write_text(json.dumps({"runs": {"run.csv": {"healthy": False, "findings": [
        {"kind": "reward_hacking", "onset_step": 40, "weak": True, "weak_reason": "within the noise"}]}}}))
    cases, _ = real_cases(tmp_path / "labels.json")
    assert [e.weak for e in cases[0].expected] == [True]


# ----------------------------------------------------------------------------- synthetic corpus


def test_synthetic_corpus_is_seeded():
    first = synthetic_corpus(3, healthy_per_flavour=1)
    again = synthetic_corpus(3, healthy_per_flavour=1)
    assert [c.name for c in first] == [c.name for c in again]
    assert first[-1].run.scalars["value"].equals(again[-1].run.scalars["value"])


def test_synthetic_corpus_covers_every_kind_with_several_broken_variants():
    corpus = synthetic_corpus(0, healthy_per_flavour=1)
    for kind in KINDS:
        assert sum(1 for c in corpus for e in c.expected if e.kind == kind) >= 3, kind


def test_synthetic_corpus_has_healthy_runs_for_every_flavour():
    corpus = synthetic_corpus(0)
    flavours = {c.flavour for c in corpus if c.healthy}
    assert flavours == {"trl-ppo", "trl-ppo-legacy", "trl-grpo", "verl", "openrlhf", "stable-baselines3"}


@pytest.fixture(scope="module")
def synthetic_score():
    return evaluate_synthetic(seed=0, repeats=1)


KINDS_WITH_RULES = [k for k, codes in rules_by_kind().items() if codes]


@pytest.mark.parametrize("kind", KINDS_WITH_RULES)
def test_synthetic_corpus_meets_the_targets(synthetic_score, kind):
    ks = synthetic_score.kinds[kind]
    assert ks.false_alarms == 0, ks.false_alarm_runs
    assert ks.recall is not None and ks.recall >= TARGET_RECALL, ks.missed
    assert ks.onset_error_max is not None and ks.onset_error_max <= TARGET_ONSET_ERROR_PCT, ks.late_onsets


def test_no_rule_raises_on_the_synthetic_corpus(synthetic_score):
    assert synthetic_score.rule_errors == []


# ----------------------------------------------------------------------------- real labelled corpus

from analyzers.evaluate import DEFAULT_LABELS, TARGET_FALSE_ALARMS, evaluate_real  # noqa: E402


@pytest.fixture(scope="module")
def real_score():
    if not DEFAULT_LABELS.exists():
        pytest.skip("sample_logs/labels.json is absent: no labelled real-run corpus")
    return evaluate_real(DEFAULT_LABELS)


@pytest.mark.parametrize("kind", KINDS_WITH_RULES)
def test_real_corpus_meets_the_targets(real_score, kind):
    ks = real_score.kinds[kind]
    assert ks.false_alarms <= TARGET_FALSE_ALARMS, ks.false_alarm_runs
    if ks.positives:
        assert ks.recall >= TARGET_RECALL, ks.missed
        assert ks.onset_error_max <= TARGET_ONSET_ERROR_PCT, ks.late_onsets


def test_every_labelled_real_run_is_readable_and_no_rule_raises(real_score):
    assert real_score.load_errors == []
    assert real_score.rule_errors == []
