"""rlhf-triage dashboard: `streamlit run dashboard/app.py`.

Opens on the bundled sample runs; upload logs or open a server path to triage your own. Pages:
Start, Triage overview, Run view, Metrics explorer, Metric mapping, Compare. Reports download as
self-contained HTML, Markdown or JSON, or are stored for a link (``?report=<id>``) that opens
them read-only.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the repository root.
_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

import json  # noqa: E402
from typing import Callable  # noqa: E402

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from analyzers import share  # noqa: E402
from analyzers.api import Report  # noqa: E402
from analyzers.model import LoadResult  # noqa: E402
from analyzers.report import render  # noqa: E402
from dashboard import paths, views, workspace  # noqa: E402
from dashboard.views import md  # noqa: E402

# Stated on the page; keep in step with server.maxUploadSize in .streamlit/config.toml.
UPLOAD_LIMIT_MB = 1024
PAGES = ("Start", "Triage overview", "Run view", "Metrics explorer", "Metric mapping", "Compare")

# No page_icon: a material-icon favicon is fetched from fonts.gstatic.com; the default is served locally.
st.set_page_config(page_title="rlhf-triage", layout="wide")
state = st.session_state


# --------------------------------------------------------------------------- callbacks
def open_run(name: str | None = None) -> None:
    # Read the picker at click time, so the latest choice is opened.
    state["run_name"] = state.get("overview_pick", name) if name is None else name
    state["page"] = "Run view"


def uploader_key() -> str:
    return f"uploads-{state.get('uploader_generation', 0)}"


def take_uploads() -> None:
    """Keep uploaded files in the session: the uploader's own state is dropped off the Start page."""
    files = state.get(uploader_key()) or []
    if files:
        uploads = [(f.name, f.getvalue()) for f in files]
        label = f"{len(uploads)} uploaded files" if len(uploads) > 1 else f"uploaded file {uploads[0][0]}"
        state["upload_files"] = uploads
        state["source"] = workspace.Source("upload", label, upload_key=workspace.upload_key(uploads))
    elif state.get("source") is not None and state["source"].kind == "upload":
        use_samples()


def use_samples() -> None:
    state["source"] = None
    state.pop("upload_files", None)
    state["uploader_generation"] = state.get("uploader_generation", 0) + 1  # clears the uploader


def load_server_path() -> None:
    text = state.get("server_path", "")
    try:
        real = paths.resolve_under_root(text)
    except paths.PathNotAllowed as exc:
        state["path_error"] = f"{text}: {exc}"
        return
    state["path_error"] = None
    state["source"] = workspace.Source("path", f"server path {real.name or real}", paths=(str(real),))


def apply_binding() -> None:
    # Read the pickers at click time (not render time), so the latest choice is applied.
    concept = state["mapping_concept"]
    tag = None if state["mapping_tag"] == views.AUTOMATIC else state["mapping_tag"]
    mapping: workspace.Mapping = state.setdefault("mapping", workspace.Mapping())
    concepts = dict(mapping.concepts)
    if tag is None:
        concepts.pop(concept, None)
    else:
        concepts[concept] = tag
    state["mapping"] = workspace.Mapping(concepts, mapping.behaviour)
    state["mapping_notice"] = True


def set_behaviour(tags: list[str]) -> None:
    mapping: workspace.Mapping = state.setdefault("mapping", workspace.Mapping())
    state["mapping"] = workspace.Mapping(dict(mapping.concepts), tuple(tags))
    state["mapping_notice"] = True


def reset_mapping() -> None:
    state["mapping"] = workspace.Mapping()
    state.pop("mapping_behaviour", None)
    state["mapping_notice"] = True


# --------------------------------------------------------------------------- shared link view
def shared_view(report_id: str) -> None:
    stored = share.load(report_id)
    st.title("rlhf-triage · shared report")
    if stored is None:
        st.error("No stored report has this link. It may have been made on another server, or mistyped.")
        st.button("Open the dashboard", on_click=st.query_params.clear)
        return
    st.caption(f"Read-only report stored {stored.created}. Findings are as they were when the link was created.")
    try:
        contract = json.loads(stored.json) if stored.json else {"runs": [], "errors": []}
    except ValueError:
        contract = {"runs": [], "errors": []}
    rows = [{"run": r["run"], "severity": f["severity"], "finding": f"{f['code']} {f['title']}", "onset step": f.get("onset_step")}
            for r in contract.get("runs", []) for f in r.get("findings", [])]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="shared_findings")
    cols = st.columns(3)
    cols[0].download_button("Download HTML report", stored.html, file_name="rlhf-triage-report.html",
                            mime="text/html", on_click="ignore", key="shared_html")
    cols[1].download_button("Download JSON", stored.json, file_name="rlhf-triage-report.json",
                            mime="application/json", on_click="ignore", key="shared_json")
    cols[2].button("Open the dashboard", on_click=st.query_params.clear, key="shared_back")
    # The stored HTML was produced by analyzers.report.html, which escapes every user string.
    st.iframe(stored.html, height=1600)


# --------------------------------------------------------------------------- sidebar: sharing
def toml_for(report: Report, mapping: workspace.Mapping, full: Callable[[Report], Report] = lambda r: r) -> str:
    from dashboard.mapping_file import metric_map_toml

    name = state.get("mapping_run")
    chosen = [a for a in report.analyses if a.run.name == name] or report.analyses[:1]
    return metric_map_toml(full(Report(analyses=chosen)), mapping.concepts, mapping.behaviour, name)


def sharing(report: Report, full: Callable[[Report], Report] = lambda r: r) -> None:
    """Downloads and the share link; ``full`` gives the report with scalars (the HTML and Markdown chart them)."""
    st.sidebar.subheader("Share")
    st.sidebar.download_button("Download HTML report", data=lambda: render(full(report), "html"),
                               file_name="rlhf-triage-report.html", mime="text/html", on_click="ignore",
                               key="dl_html", icon=":material/download:")
    st.sidebar.download_button("Download Markdown", data=lambda: render(full(report), "markdown"),
                               file_name="rlhf-triage-report.md", mime="text/markdown", on_click="ignore", key="dl_md")
    st.sidebar.download_button("Download JSON", data=lambda: render(report, "json"),
                               file_name="rlhf-triage-report.json", mime="application/json", on_click="ignore", key="dl_json")
    if st.sidebar.button("Create shareable link", key="share_link", icon=":material/link:"):
        with st.sidebar:
            with st.spinner("Storing the report…"):
                report_id = share.save(render(full(report), "html"), render(report, "json"))
        state["own_report_id"] = report_id
        st.query_params["report"] = report_id
    own = state.get("own_report_id")
    if own and st.query_params.get("report") == own:
        base = ""
        try:
            base = (st.context.url or "").split("?")[0]
        except Exception:  # outside a browser session (tests) there is no URL
            base = ""
        st.sidebar.success("Link created. Anyone who can reach this server can open it:")
        st.sidebar.code(f"{base.rstrip('/')}/?report={own}", language=None, wrap_lines=True)


# --------------------------------------------------------------------------- start page
def start_page(source: workspace.Source, report: Report) -> None:
    st.title("rlhf-triage")
    st.markdown("Find what went wrong in a PPO/RLHF training run, **since which step**, and what to try. "
                "Reads TensorBoard event files, CSV, Hugging Face `trainer_state.json`, verl JSONL and zips of logdirs.")
    st.markdown(f"Showing **{md(source.label)}** · {views.totals_line(report)}")
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Upload logs")
        st.file_uploader(
            f"Event files, CSV, trainer_state.json, verl JSONL or a zip of a logdir — several at once, "
            f"up to {UPLOAD_LIMIT_MB // 1024} GB per file",
            accept_multiple_files=True,
            key=uploader_key(),
            max_upload_size=UPLOAD_LIMIT_MB,
            on_change=take_uploads,
        )
        st.caption(f"Upload limit: {UPLOAD_LIMIT_MB // 1024} GB ({UPLOAD_LIMIT_MB:,} MB) per file; uploads are held in memory while read. "
                   "For bigger logdirs use a server path.")
    with right:
        st.subheader("Open a server path")
        root = paths.server_root()
        st.text_input("Path under the server root", key="server_path", placeholder="e.g. sb3/cartpole_lr_too_high")
        st.caption(f"Server root: {md(str(root))} (set RLHF\\_TRIAGE\\_ROOT to change it). Paths outside it are refused.")
        st.button("Load path", on_click=load_server_path, key="load_path")
        if state.get("path_error"):
            st.error(f"Cannot open **{md(state['path_error'])}**")
        if source.kind != "samples":
            st.button("Back to the bundled sample runs", on_click=use_samples, key="use_samples")
    st.subheader("Runs, worst first")
    views.overview_table(report)
    views.show_errors(report)


# --------------------------------------------------------------------------- main
def current_source() -> tuple[workspace.Source, list[tuple[str, bytes]]]:
    chosen = state.get("source")
    if chosen is not None and chosen.kind == "upload":
        return chosen, state.get("upload_files", [])
    if chosen is not None and chosen.kind == "path":
        return chosen, []
    samples = paths.samples_dir()
    return workspace.Source("samples", "the bundled sample runs", paths=workspace.sample_paths(samples)), []


def main() -> None:
    report_id = st.query_params.get("report")
    if report_id and report_id != state.get("own_report_id"):
        shared_view(report_id)
        return

    state.setdefault("page", "Start")
    state.setdefault("mapping", workspace.Mapping())
    st.sidebar.title("rlhf-triage")
    page = st.sidebar.radio("Page", PAGES, key="page")
    preview = st.sidebar.checkbox("Include preview rules", key="preview",
                                  help="Rules whose false-alarm rate is not measured yet.")

    source, uploads = current_source()
    if source.kind == "samples" and not source.paths:
        loaded = workspace.Loaded(LoadResult(), Report())
        st.sidebar.info("The bundled sample_logs/ folder is missing; upload logs to begin.")
    else:
        loaded = workspace.load_source(source, uploads=uploads, preview=preview)
    mapping: workspace.Mapping = state["mapping"]
    report = workspace.with_mapping(loaded, mapping, preview=preview)
    if state.pop("mapping_notice", False) and not mapping.empty:
        st.toast(f"Re-analysed {len(report.analyses)} run(s) with your mapping: {len(report.findings)} finding(s) "
                 f"(automatic mapping: {len(loaded.report.findings)}).")
    st.sidebar.caption(f"Source: {md(source.label)} · {len(report.analyses)} run(s)")
    def full(a):  # the analysis with its run's scalars (read on demand for a sweep)
        return workspace.with_scalars(loaded, a, mapping, preview=preview)

    def full_report(r: Report) -> Report:
        return workspace.report_with_scalars(loaded, r, mapping, preview=preview)

    sharing(report, full_report)

    if page == "Start":
        start_page(source, report)
    elif page == "Triage overview":
        views.page_overview(report, open_run)
    elif page == "Run view":
        views.page_run(report, full)
    elif page == "Metrics explorer":
        views.page_explorer(report, full)
    elif page == "Metric mapping":
        views.page_mapping(report, mapping.concepts, mapping.behaviour, apply_binding, set_behaviour, reset_mapping,
                           lambda: toml_for(report, state["mapping"], full_report), full)
    else:
        views.page_compare(report, full)


main()
