"""End to end in a real browser: upload a broken run, see what went wrong and since when, and
send a colleague a report that opens offline or a link that opens the same findings."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from playwright.sync_api import Page, expect

REPO = Path(__file__).resolve().parents[2]
ONSET = 600
TIMEOUT = 30_000


def write_events(path: Path, series: dict[str, np.ndarray]) -> Path:
    """An event file as torch's SummaryWriter writes it (one simple_value per event)."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    path.mkdir(parents=True, exist_ok=True)
    writer = EventFileWriter(str(path))
    n = len(next(iter(series.values())))
    for step in range(n):
        for tag, values in series.items():
            summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=float(values[step]))])
            writer.add_event(event_pb2.Event(wall_time=1.7e9 + step, step=step, summary=summary))
    writer.close()
    return next(path.glob("events.out.tfevents.*"))


@pytest.fixture(scope="session")
def broken_run(tmp_path_factory) -> Path:
    """A TRL PPO run whose KL to the reference blows up from step 600 on."""
    n = 800
    steps = np.arange(n)
    kl = 0.5 + 0.02 * np.sin(steps / 7.0)
    kl[ONSET:] = np.linspace(0.5, 45.0, n - ONSET)
    return write_events(tmp_path_factory.mktemp("broken"), {
        "objective/kl": kl,
        "objective/kl_coef": np.full(n, 0.05),
        "env/reward_mean": np.linspace(0.0, 2.0, n),
        "objective/entropy": np.linspace(2.0, 1.7, n),
    })


@pytest.fixture(scope="session")
def broken_onset(broken_run) -> int:
    """The onset step the analysis dates for ``broken_run`` (about ONSET; the rule tests bound the error)."""
    import analyzers

    (run,) = analyzers.load([str(broken_run)]).runs
    return next(f for f in analyzers.analyze(run).findings if f.code == "KL001").onset_step


@pytest.fixture(scope="session")
def million_points(tmp_path_factory) -> Path:
    """A 1M-point event file (40 TRL/verl tags x 25k steps) from the benchmark generator."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import gen_logs
    finally:
        sys.path.pop(0)
    existing = REPO / "benchmarks" / "data" / "1M" / "simple"
    if (existing.parent / ".complete").exists():
        return next(existing.glob("events.out.tfevents.*"))
    steps, wall_times, values = gen_logs.make_data(1_000_000)
    path = tmp_path_factory.mktemp("million") / "events.out.tfevents.1700000000.million"
    gen_logs.write_events(path, steps, wall_times, values, "simple")
    return path


def local_requests(page: Page) -> list[str]:
    """Record every request the page makes, to prove nothing leaves the machine."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    return seen


def off_machine(urls: list[str]) -> list[str]:
    return [u for u in urls if urlparse(u).scheme not in ("file", "data", "blob", "about")
            and urlparse(u).hostname not in ("127.0.0.1", "localhost")]


def upload(page: Page, app_url: str, *files: Path) -> None:
    page.goto(app_url)
    expect(page.get_by_text("Upload logs")).to_be_visible(timeout=TIMEOUT)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(f) for f in files])
    expect(page.get_by_text(re.compile(r"Showing uploaded file"))).to_be_visible(timeout=TIMEOUT)


def open_page(page: Page, name: str) -> None:
    page.get_by_test_id("stSidebar").get_by_text(name, exact=True).click()
    expect(page.get_by_role("heading", name=name)).to_be_visible(timeout=TIMEOUT)


def test_start_page_shows_the_bundled_samples_findings(page: Page, app_url, artifacts):
    requests = local_requests(page)
    page.goto(app_url)
    expect(page.get_by_text("Showing the bundled sample runs")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text(re.compile(r"\d+ critical"))).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("stFileUploaderDropzoneInput")).to_be_attached(timeout=TIMEOUT)
    page.screenshot(path=artifacts / "e2e-start-samples.png")
    assert off_machine(requests) == []


def test_uploaded_broken_run_shows_the_critical_finding_and_its_shaded_chart(page: Page, app_url, broken_run,
                                                                            broken_onset, artifacts):
    requests = local_requests(page)
    upload(page, app_url, broken_run)
    expect(page.get_by_text("1 critical").first).to_be_visible(timeout=TIMEOUT)
    page.screenshot(path=artifacts / "e2e-upload-overview.png")
    open_page(page, "Run view")
    expect(page.get_by_text(re.compile(r"KL001 · KL to the reference"))).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text(re.compile(rf"Onset step {broken_onset:,}"))).to_be_visible(timeout=TIMEOUT)
    chart = page.locator(".js-plotly-plot").first
    expect(chart).to_be_visible(timeout=TIMEOUT)
    expect(chart.locator(".shapelayer path").first).to_be_attached(timeout=TIMEOUT)  # the shaded onset window
    expect(chart.get_by_text(f"onset {broken_onset:,}")).to_be_visible(timeout=TIMEOUT)
    page.get_by_text("Why it matters · what to try · references").first.click()
    expect(page.get_by_text("What to try").first).to_be_visible(timeout=TIMEOUT)
    page.screenshot(path=artifacts / "e2e-run-view.png")
    assert off_machine(requests) == []


def test_downloaded_html_report_opens_offline_with_its_charts(page: Page, app_url, broken_run, artifacts, tmp_path):
    upload(page, app_url, broken_run)
    with page.expect_download(timeout=TIMEOUT) as download:
        page.get_by_role("button", name="Download HTML report").click()
    report = tmp_path / "report.html"
    download.value.save_as(report)
    assert report.stat().st_size > 1_000_000  # plotly.js is inside

    offline = page.context.browser.new_context(offline=True, viewport={"width": 1000, "height": 1400})
    viewer = offline.new_page()
    requests = local_requests(viewer)
    viewer.goto(report.as_uri())
    expect(viewer.locator(".js-plotly-plot")).to_have_count(1, timeout=TIMEOUT)
    expect(viewer.locator(".js-plotly-plot .main-svg").first).to_be_visible(timeout=TIMEOUT)
    expect(viewer.get_by_role("heading", name=re.compile(r"CRITICAL KL001 KL to the reference"))).to_be_visible()
    viewer.screenshot(path=artifacts / "e2e-html-report-offline.png")
    viewer.pdf(path=artifacts / "e2e-html-report.pdf", format="A4", print_background=True)
    offline.close()
    assert off_machine(requests) == []


def test_shareable_link_opens_the_same_findings_in_a_new_page(page: Page, app_url, broken_run, artifacts):
    upload(page, app_url, broken_run)
    page.get_by_role("button", name="Create shareable link").click()
    expect(page).to_have_url(re.compile(r"\?report=[A-Za-z0-9_-]{22}$"), timeout=TIMEOUT)
    expect(page.get_by_text("Link created")).to_be_visible(timeout=TIMEOUT)
    page.screenshot(path=artifacts / "e2e-share-created.png")

    colleague = page.context.browser.new_context(viewport={"width": 1280, "height": 1600})
    shared = colleague.new_page()
    shared.goto(page.url)
    expect(shared.get_by_text("Read-only report")).to_be_visible(timeout=TIMEOUT)
    frame = shared.frame_locator("iframe").first
    expect(frame.get_by_text(re.compile(r"KL001 KL to the reference")).first).to_be_visible(timeout=TIMEOUT)
    expect(frame.locator(".js-plotly-plot")).to_have_count(1, timeout=TIMEOUT)
    expect(shared.get_by_test_id("stFileUploader")).to_have_count(0)
    shared.screenshot(path=artifacts / "e2e-share-opened.png")
    colleague.close()


HOSTILE = "<img src=x onerror=alert(1)>"


def test_hostile_run_and_tag_names_stay_text_in_the_browser(page: Page, app_url, tmp_path, artifacts):
    import pandas as pd

    n = 400
    kl = np.r_[np.full(300, 0.5), np.linspace(0.5, 40.0, n - 300)]
    frame = pd.DataFrame({"step": np.arange(n), "objective/kl": kl, "objective/kl_coef": np.full(n, 0.05),
                          HOSTILE: np.linspace(0, 1, n), "**bold**|pipe": np.zeros(n)})
    hostile_file = tmp_path / f"{HOSTILE}.csv"
    frame.to_csv(hostile_file, index=False)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    upload(page, app_url, hostile_file)
    expect(page.get_by_text(f"Showing uploaded file {HOSTILE}.csv")).to_be_visible(timeout=TIMEOUT)
    open_page(page, "Metrics explorer")
    page.get_by_label("Filter tags (regular expression)").fill("img|bold")
    page.keyboard.press("Enter")
    expect(page.locator(".js-plotly-plot")).to_have_count(2, timeout=TIMEOUT)
    expect(page.locator(".js-plotly-plot .gtitle").filter(has_text=HOSTILE)).to_have_count(1, timeout=TIMEOUT)
    open_page(page, "Run view")
    expect(page.get_by_text(re.compile(r"KL001 · KL to the reference"))).to_be_visible(timeout=TIMEOUT)
    page.screenshot(path=artifacts / "e2e-hostile-names.png")
    assert page.locator('img[src="x"]').count() == 0
    assert dialogs == []


@pytest.mark.slow
def test_upload_to_findings_time_for_a_million_point_event_file(page: Page, app_url, million_points, artifacts):
    page.goto(app_url)
    expect(page.get_by_text("Upload logs")).to_be_visible(timeout=TIMEOUT)
    size_mb = million_points.stat().st_size / 1e6
    started = time.perf_counter()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(million_points))
    expect(page.get_by_text(re.compile(r"Showing uploaded file .* · 1 run\(s\)"))).to_be_visible(timeout=120_000)
    expect(page.get_by_text(re.compile(r"Read and analysed 1 run\(s\)"))).to_be_visible(timeout=120_000)
    elapsed = time.perf_counter() - started
    page.screenshot(path=artifacts / "e2e-million-points.png")
    print(f"\nupload-to-findings in the browser: {elapsed:.2f} s for 1,000,000 points ({size_mb:.1f} MB event file)")
    open_page(page, "Run view")
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)
    print(f"upload-to-first-evidence-chart: {time.perf_counter() - started:.2f} s")
