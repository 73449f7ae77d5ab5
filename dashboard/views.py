"""The dashboard's pages. Each takes what it shows as arguments and only lays it out.

Every string from a user's files goes through :func:`md` before any Streamlit call that renders
Markdown (titles, captions, alerts); tables and charts get plain text (charts escape their own).
"""

from __future__ import annotations

import re
from typing import Callable

import pandas as pd
import streamlit as st

from analyzers import charts
from analyzers.api import Report
from analyzers.findings import SEVERITY_RANK, Finding
from analyzers.metrics.concepts import BY_ID, CONCEPTS
from analyzers.model import Run
from analyzers.report.markdown import escape_markdown, rule_text
from analyzers.report.overview import overview_rows, ranked, severity_counts, timing
from analyzers.rules import Analysis

# Gives an analysis with its run's scalars (a sweep keeps only summaries; see dashboard.workspace).
WithScalars = Callable[[Analysis], Analysis]


def _as_is(a: Analysis) -> Analysis:
    return a

AUTOMATIC = "(automatic)"
SEVERITY_COLOUR = {"critical": "red", "warning": "orange", "info": "blue", "none": "green"}
SEVERITY_LABEL = {"critical": "CRITICAL", "warning": "WARNING", "info": "info"}
# The explorer draws at most this many charts at once (one per tag); narrow the filter for more.
MAX_EXPLORER_CHARTS = 12
# Key metrics overlaid on the Compare page, in the order a reviewer reads them.
COMPARE_CONCEPTS = ("reward.score", "eval.reward", "kl.ref", "entropy", "adv.std", "len.mean", "value.ev",
                    "clipfrac", "kl.step", "grad_norm")


def md(text: object, inline: bool = True) -> str:
    """A user string made literal for Streamlit Markdown (no HTML, links, LaTeX or colours)."""
    return escape_markdown(text, inline=inline)


def show_chart(build: Callable[[], object], key: str) -> None:
    """Draw a figure; a chart that cannot be drawn is a caption, never a crashed page."""
    try:
        fig = build()
    except Exception as exc:  # a display problem must not hide the findings around it
        st.caption(f"This chart could not be drawn ({md(type(exc).__name__)}: {md(exc)}).")
        return
    if fig is None:
        st.caption("No series of this finding is in the run, so there is no chart.")
        return
    st.plotly_chart(fig, key=key, config={"displaylogo": False})


def show_errors(report: Report) -> None:
    """Read errors and rule errors as messages naming the file; never a traceback."""
    for err in report.all_errors():
        st.error(f"**{md(err['path'])}**: {md(err['message'])}", icon=":material/error:")


# --------------------------------------------------------------------------- overview
def overview_table(report: Report, key: str = "overview_table") -> None:
    rows = overview_rows(report.analyses)
    if not rows:
        st.info("No run could be read from this source.")
        return
    frame = pd.DataFrame(rows, columns=["run", "worst", "framework", "steps", "critical", "warning", "info", "headline"])
    st.dataframe(
        frame,
        hide_index=True,
        column_config={
            "run": st.column_config.TextColumn("Run", width="medium"),
            "worst": st.column_config.TextColumn("Worst"),
            "framework": st.column_config.TextColumn("Framework"),
            "steps": st.column_config.NumberColumn("Steps", format="localized"),
            "critical": st.column_config.NumberColumn("Critical"),
            "warning": st.column_config.NumberColumn("Warning"),
            "info": st.column_config.NumberColumn("Info"),
            "headline": st.column_config.TextColumn("Headline finding", width="large"),
        },
        key=key,
    )


def totals_line(report: Report) -> str:
    c = severity_counts(report.findings)
    return (f"{len(report.analyses)} run(s) · **{c['critical']} critical**, {c['warning']} warning, {c['info']} info"
            f" · {len(report.all_errors())} error(s)")


def page_overview(report: Report, open_run: Callable[[], None]) -> None:
    st.header("Triage overview")
    st.markdown(totals_line(report))
    overview_table(report)
    names = [a.run.name for a in ranked(report.analyses)]
    if names:
        cols = st.columns([3, 1], vertical_alignment="bottom")
        cols[0].selectbox("Open a run", names, key="overview_pick")
        cols[1].button("Open run view", on_click=open_run, key="overview_open")
    show_errors(report)


# --------------------------------------------------------------------------- run view
def finding_card(a: Analysis, f: Finding, index: int, smoothing: float) -> None:
    with st.container(border=True):
        head = st.columns([1, 8], vertical_alignment="center")
        with head[0]:
            st.badge(SEVERITY_LABEL[f.severity], color=SEVERITY_COLOUR[f.severity])
        head[1].markdown(f"#### {md(f.code)} · {md(f.title)}")
        st.markdown(md(f.summary, inline=False))
        facts = timing(f, "**{:,}**")
        facts[0] = facts[0][0].upper() + facts[0][1:]
        facts.append(f"confidence **{f.confidence:.2f}**")
        st.markdown(" · ".join(facts))
        with st.expander("Why it matters · what to try · references"):
            if f.explanation:
                st.markdown(rule_text(f.explanation))  # the rule's own doc text: its code spans render
            if f.actions:
                st.markdown("**What to try**\n\n" + "\n".join(f"- {rule_text(x)}" for x in f.actions))
            if f.references:
                st.markdown("**References**\n\n" + "\n".join(f"- {rule_text(x)}" for x in f.references))
            if not (f.explanation or f.actions or f.references):
                st.caption("This rule gives no further explanation.")
        show_chart(lambda: charts.evidence_figure(a.run, f, smoothing=smoothing), key=f"evidence-{index}")


def page_run(report: Report, with_scalars: WithScalars = _as_is) -> None:
    st.header("Run view")
    analyses = ranked(report.analyses)
    if not analyses:
        st.info("No run is loaded. Open the Start page to upload logs.")
        return
    names = [a.run.name for a in analyses]
    if st.session_state.get("run_name") not in names:
        st.session_state["run_name"] = names[0]
    name = st.selectbox("Run", names, key="run_name")
    a = with_scalars(next(x for x in analyses if x.run.name == name))
    run = a.run
    c = severity_counts(a.findings)
    st.markdown(
        f"**{md(run.name)}** · {md(run.framework or 'unknown framework')} · {run.steps:,} steps · "
        f"{len(run.tags):,} tags · {run.points:,} points · {c['critical']} critical, {c['warning']} warning, {c['info']} info"
    )
    with st.expander(f"Sources ({len(run.sources)})"):
        st.text("\n".join(run.sources) or "(none)")
    for note in run.notes:
        st.info(md(note, inline=False), icon=":material/info:")
    smoothing = st.slider("Smoothing (EMA, raw series always shown)", 0.0, 0.99, 0.0, 0.01, key="run_smoothing")
    if not a.findings:
        st.success("No findings: every rule that could run on this run's metrics stayed silent.")
    for i, f in enumerate(a.findings):
        finding_card(a, f, i, smoothing)
    if a.skipped:
        with st.expander(f"Rules skipped for missing metrics ({len(a.skipped)})"):
            st.dataframe(pd.DataFrame(a.skipped, columns=["rule", "reason"]), hide_index=True)
    for err in a.errors:
        st.error(f"Rule **{md(err['rule'])}** failed on this run: {md(err['message'])}")


# --------------------------------------------------------------------------- metrics explorer
def page_explorer(report: Report, with_scalars: WithScalars = _as_is) -> None:
    st.header("Metrics explorer")
    analyses = ranked(report.analyses)
    if not analyses:
        st.info("No run is loaded.")
        return
    names = [a.run.name for a in analyses]
    chosen = st.multiselect("Runs", names, default=names[: min(3, len(names))], key="explorer_runs")
    selected = [with_scalars(a).run for a in analyses if a.run.name in chosen]
    pattern = st.text_input("Filter tags (regular expression)", value="", key="explorer_regex",
                            placeholder="e.g. kl|reward")
    all_tags = sorted({t for r in selected for t in r.tags})
    try:
        regex = re.compile(pattern) if pattern else None
    except re.error as exc:
        st.warning(f"That filter is not a valid regular expression ({md(exc)}); showing every tag.")
        regex = None
    matching = [t for t in all_tags if regex is None or regex.search(t)]
    st.caption(f"{len(matching)} of {len(all_tags)} tag(s) match.")
    previous = [t for t in st.session_state.get("explorer_tags", []) if t in matching]
    if not previous:
        previous = matching[:4]
    st.session_state["explorer_tags"] = previous
    tags = st.multiselect("Tags", matching, key="explorer_tags")
    cols = st.columns(3)
    smoothing = cols[0].slider("Smoothing", 0.0, 0.99, charts.DEFAULT_SMOOTHING, 0.01, key="explorer_smoothing")
    log_y = cols[1].checkbox("Log scale", key="explorer_log")
    x_axis = cols[2].radio("X axis", charts.X_AXES, format_func=charts.X_TITLES.get, horizontal=True, key="explorer_x")
    if len(tags) > MAX_EXPLORER_CHARTS:
        st.caption(f"Showing the first {MAX_EXPLORER_CHARTS} of {len(tags)} tags.")
    grid = st.columns(2)
    for i, tag in enumerate(tags[:MAX_EXPLORER_CHARTS]):
        with grid[i % 2]:
            if x_axis != "step" and not any(tag_has_wall_times(r, tag) for r in selected):
                st.caption(f"{md(tag)}: no wall times in these files; use the step axis.")
            show_chart(lambda: charts.explorer_figure(selected, tag, smoothing=smoothing, log_y=log_y, x_axis=x_axis),
                       key=f"explorer-{i}")


def tag_has_wall_times(run: Run, tag: str) -> bool:
    if not isinstance(run, Run):  # a sweep run whose scalars could not be read again
        return False
    return charts.tag_curve(run, tag, "relative") is not None


# --------------------------------------------------------------------------- metric mapping
def page_mapping(report: Report, mapping_concepts: dict[str, str], behaviour: tuple[str, ...],
                 apply: Callable[[], None], set_behaviour: Callable[[list[str]], None],
                 reset: Callable[[], None], toml_text: Callable[[], str],
                 with_scalars: WithScalars = _as_is) -> None:
    st.header("Metric mapping")
    st.markdown("Each rule reads canonical metrics (KL to reference, entropy, advantage std, …). Here is what each "
                "resolved to in each run. Change a binding and every run is re-analysed at once; download the "
                "mapping as the TOML file `python -m analyzers triage --metric-map` reads.")
    analyses = ranked(report.analyses)
    if not analyses:
        st.info("No run is loaded.")
        return
    names = [a.run.name for a in analyses]
    name = st.selectbox("Run", names, key="mapping_run")
    run = with_scalars(next(a for a in analyses if a.run.name == name)).run
    rows = []
    for concept in CONCEPTS:
        b = getattr(run, "metrics", {}).get(concept.id)  # none if a sweep run could not be read again
        rows.append({"concept": concept.id, "meaning": concept.label, "tag": b.tag if b else "",
                     "transform": b.transform if b else "", "unit": (b.unit or "") if b else "",
                     "source": b.source if b else "not found"})
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="mapping_table")
    watched = ", ".join(md(b.tag) for b in getattr(run, "behaviour", [])) or "none"
    st.caption(f"Behaviour (held-out/eval) metrics watched for reward hacking in this run: {watched}")
    st.subheader("Change a binding")
    cols = st.columns([3, 3, 2], vertical_alignment="bottom")
    concept = cols[0].selectbox("Concept", [c.id for c in CONCEPTS], format_func=lambda c: f"{c} ({BY_ID[c].label})",
                                key="mapping_concept")
    options = [AUTOMATIC] + sorted({t for a in analyses for t in a.run.tags})
    tag = cols[1].selectbox("Tag", options, key="mapping_tag")
    cols[2].button("Apply and re-analyse", key="mapping_apply", type="primary",
                   on_click=apply)
    all_tags = sorted({t for a in analyses for t in a.run.tags})
    st.multiselect("Behaviour / eval metrics to watch for reward hacking", all_tags,
                   default=[t for t in behaviour if t in all_tags], key="mapping_behaviour",
                   on_change=lambda: set_behaviour(list(st.session_state["mapping_behaviour"])))
    if mapping_concepts or behaviour:
        st.markdown("**Your edits:** " + ", ".join(f"{md(c)} → {md(t)}" for c, t in sorted(mapping_concepts.items()))
                    + (f"; behaviour: {', '.join(md(t) for t in behaviour)}" if behaviour else ""))
        st.button("Reset to the automatic mapping", on_click=reset, key="mapping_reset")
    st.download_button("Download metric map (TOML)", data=toml_text, file_name="metric-map.toml",
                       mime="application/toml", on_click="ignore", key="mapping_download")


# --------------------------------------------------------------------------- compare
def _finding_key(f: Finding) -> str:
    return f"{f.code} {f.title}"


def page_compare(report: Report, with_scalars: WithScalars = _as_is) -> None:
    st.header("Compare two runs")
    analyses = ranked(report.analyses)
    if len(analyses) < 2:
        st.info("Load at least two runs to compare them (for example a run before and after a change).")
        return
    names = [a.run.name for a in analyses]
    cols = st.columns(2)
    name_a = cols[0].selectbox("Run A", names, index=0, key="compare_a")
    name_b = cols[1].selectbox("Run B", names, index=1, key="compare_b")
    a = with_scalars(next(x for x in analyses if x.run.name == name_a))
    b = with_scalars(next(x for x in analyses if x.run.name == name_b))
    keys_a = {_finding_key(f): f for f in a.findings}
    keys_b = {_finding_key(f): f for f in b.findings}
    rows = []
    for key in sorted(set(keys_a) | set(keys_b),
                      key=lambda k: -SEVERITY_RANK[(keys_a.get(k) or keys_b[k]).severity]):
        fa, fb = keys_a.get(key), keys_b.get(key)
        where = "both" if fa and fb else ("only A" if fa else "only B")
        rows.append({"finding": key, "severity": (fa or fb).severity, "in": where,
                     "onset in A": fa.onset_step if fa else None, "onset in B": fb.onset_step if fb else None})
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="compare_table")
        only_a = sum(1 for r in rows if r["in"] == "only A")
        only_b = sum(1 for r in rows if r["in"] == "only B")
        st.markdown(f"{only_a} finding(s) only in A, {only_b} only in B, {len(rows) - only_a - only_b} in both.")
    else:
        st.success("Neither run has findings.")
    smoothing = st.slider("Smoothing", 0.0, 0.99, charts.DEFAULT_SMOOTHING, 0.01, key="compare_smoothing")
    shown = 0
    grid = st.columns(2)
    for concept in COMPARE_CONCEPTS:
        fig = charts.concept_figure([a.run, b.run], concept, BY_ID[concept].label, smoothing=smoothing)
        if fig is None:
            continue
        with grid[shown % 2]:
            st.plotly_chart(fig, key=f"compare-{concept}", config={"displaylogo": False})
        shown += 1
    if not shown:
        st.caption("Neither run has any of the key metrics resolved.")
