"""Markdown report: findings a colleague can read in a GitHub issue, with user strings inert."""

from __future__ import annotations

from _report_fixtures import HOSTILE_RUN, HOSTILE_TAG, hostile_report

from analyzers.report import render
from analyzers.report.markdown import escape_markdown


def test_escape_markdown_makes_markup_literal():
    assert escape_markdown("**bold**|pipe") == r"\*\*bold\*\*\|pipe"


def test_escape_markdown_leaves_no_html_tag():
    assert "<" not in escape_markdown(HOSTILE_TAG) and ">" not in escape_markdown(HOSTILE_TAG)


def test_escape_markdown_keeps_table_cells_on_one_line():
    assert "\n" not in escape_markdown("two\nlines")


def test_report_lists_the_finding_with_its_onset_and_confidence():
    text = render(hostile_report(), "markdown")
    assert "CRITICAL · KL001 KL to the reference model runs away" in text
    assert "onset step 300" in text and "confidence 0.85" in text


def test_report_includes_explanation_actions_and_references():
    text = render(hostile_report(), "markdown")
    assert "**Why it matters.**" in text and "- Raise the KL coefficient" in text and "arXiv:1909.08593" in text


def test_rule_text_keeps_its_code_spans_but_not_raw_html():
    from analyzers.report.markdown import rule_text

    assert rule_text("Raise `kl_coef` <b>now</b>") == "Raise `kl_coef` &lt;b&gt;now&lt;/b&gt;"


def test_overview_ranks_the_broken_run_first():
    lines = [l for l in render(hostile_report(), "markdown").splitlines() if l.startswith("| ")]
    assert escape_markdown(HOSTILE_RUN) in lines[1] and "healthy" in lines[2]


def test_hostile_run_name_cannot_add_table_cells():
    row = next(l for l in render(hostile_report(), "markdown").splitlines() if l.startswith("| \\*\\*bold"))
    unescaped_pipes = row.replace("\\|", "").count("|")
    assert unescaped_pipes == 9  # 8 cells


def test_no_raw_html_from_user_strings():
    text = render(hostile_report(), "markdown")
    assert "<img" not in text and "<script" not in text


def test_read_errors_name_the_file():
    assert "## Errors" in render(hostile_report(), "markdown")
    assert escape_markdown(HOSTILE_TAG + ".csv") in render(hostile_report(), "markdown")


def test_mapping_used_is_listed():
    assert "| kl\\.coef | objective/kl\\_coef | identity | user |" in render(hostile_report(), "markdown")


def test_the_cli_writes_the_markdown_report(tmp_path):
    from analyzers.cli import main

    log = tmp_path / "run.csv"
    log.write_text("step,objective/kl\n" + "".join(f"{s},{0.5 if s < 300 else 0.5 + (s - 300) * 0.4}\n" for s in range(400)))
    out = tmp_path / "report.md"
    main(["triage", str(log), "--format", "markdown", "-o", str(out)])
    assert out.read_text().startswith("# rlhf-triage report") and "KL001" in out.read_text()


def test_timing_phrases_are_shared_by_every_renderer():
    from analyzers.findings import Finding
    from analyzers.report.overview import timing

    f = Finding(code="KL001", kind="kl_blowup", severity="critical", title="t", summary="s",
                onset_step=1200, peak_step=1300, end_step=None)
    assert timing(f) == ["onset step 1,200", "ongoing at the end of the log", "peak at step 1,300"]
    assert timing(f, "<b>{:,}</b>")[0] == "onset step <b>1,200</b>"
