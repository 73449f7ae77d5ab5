"""The rule registry and the documentation every rule carries (ruff-style doc blocks)."""

import json

import numpy as np
import pytest

from analyzers.findings import KINDS
from analyzers.rules import all_rules, analyze, get_rule
from analyzers.rules.base import Rule, parse_doc
from analyzers.synthetic import make_run

MY_CODES = {"KL001", "KL002", "PS001", "PS002", "ADV001", "VAL001", "ENT001", "ENT002", "NUM001", "GRD001"}


def test_every_catalogue_code_is_registered_once():
    codes = [r.code for r in all_rules()]
    assert MY_CODES <= set(codes)
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_every_rule_has_a_kind_and_the_four_doc_sections(rule):
    assert rule.kind in KINDS
    assert rule.explanation, f"{rule.code}: empty 'Why it matters'"
    assert rule.actions, f"{rule.code}: no 'What to try' bullets"
    assert rule.references, f"{rule.code}: no references"
    assert rule.detects, f"{rule.code}: empty 'What it detects'"


def test_get_rule_accepts_code_or_name():
    assert get_rule("KL001") is not None and get_rule("kl-blowup").code == "KL001"
    with pytest.raises(KeyError):
        get_rule("XX999")


def test_describe_contains_every_section_for_the_rule_command():
    text = get_rule("KL001").describe()
    for heading in ("What it detects", "Why it matters", "What to try", "References"):
        assert heading in text
    assert text.startswith("KL001 kl-blowup")


def test_parse_doc_reads_underlined_and_colon_headings():
    title, sections = parse_doc("Title.\n\n    What it detects\n    ---\n    A thing.\n\n    What to try:\n    - one\n      continued\n    - two\n")
    assert title == "Title."
    assert sections["What it detects"] == "A thing."
    rule = Rule("T001", "t", "non_finite", doc="Title.\n\nWhat to try:\n- one\n  continued\n- two\n")
    assert rule.actions == ["one continued", "two"]


def test_finding_helper_fills_identity_and_makes_evidence_json_safe():
    rule = get_rule("GRD001")
    finding = rule.finding(
        severity="warning", summary="s", onset_step=np.int64(5), metrics=["a", None, "a"],
        evidence={"x": np.float32(1.5), "nan": float("nan"), "arr": np.array([1, 2])},
    )
    assert finding.code == "GRD001" and finding.kind == "gradient_spike" and finding.rule == "gradient-spike"
    assert finding.onset_step == 5 and isinstance(finding.onset_step, int)
    assert finding.metrics == ["a"]
    assert finding.evidence == {"x": 1.5, "nan": None, "arr": [1, 2]}
    assert finding.actions == rule.actions and finding.explanation == rule.explanation
    json.dumps(finding.to_dict(), allow_nan=False)


def test_a_rule_whose_metrics_are_absent_is_skipped_with_the_reason():
    run = make_run({"something/else": np.ones(50)}, resolve_aliases=False)
    skipped = {s["rule"]: s["reason"] for s in analyze(run).skipped}
    assert skipped["KL001"] == "needs kl.ref; none found"
    assert skipped["PS001"].startswith("needs one of kl.step")


def test_findings_of_every_rule_serialise_to_strict_json():
    rng = np.random.default_rng(80)
    n = 1_000
    kl = 2 + rng.standard_normal(n)
    kl[600:] += np.linspace(0, 60, 400)
    grad = np.abs(1 + 0.1 * rng.standard_normal(n))
    grad[[300, 500, 700]] = 40
    grad[900:] = np.nan
    run = make_run(
        {"objective/kl": kl, "grad_norm": grad},
        metrics={"kl.ref": "objective/kl", "grad_norm": "grad_norm"},
        framework="trl-ppo",
        resolve_aliases=False,
    )
    analysis = analyze(run)
    assert not analysis.errors
    assert {"KL001", "GRD001", "NUM001"} <= {f.code for f in analysis.findings}
    json.dumps([f.to_dict() for f in analysis.findings], allow_nan=False)
