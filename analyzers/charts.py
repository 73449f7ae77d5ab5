"""Plotly figures for findings and metrics: the evidence chart per finding, the metrics explorer.

Shared by the Streamlit page and the HTML report, so both show the same pictures. Figures never
hide a spike: series longer than :data:`MAX_DISPLAY_POINTS` are downsampled with min/max-
preserving LTTB (``tsdownsample.MinMaxLTTBDownsampler``), which keeps every bucket's extremes.
Every string that comes from a user's files (run names, tags) is HTML-escaped before it goes
into a figure, because plotly renders a subset of HTML in names, titles and hover text.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy.signal import lfilter

from .findings import Finding
from .model import Run

# Above this many points a series is downsampled for display; a browser draws ~4k points per
# trace instantly, and MinMaxLTTB keeps each bucket's min and max so outliers survive.
MAX_DISPLAY_POINTS = 4000
# MinMaxLTTB pre-selects min/max in this many times n_out buckets before LTTB (tsdownsample's default).
MINMAX_RATIO = 4
# TensorBoard's default smoothing weight in its scalar dashboard.
DEFAULT_SMOOTHING = 0.6
# Non-finite points are marked individually; beyond this many, only the first ones are marked.
MAX_NON_FINITE_MARKERS = 500
# Figure size used in the printable HTML report: fits an A4 page with 12 mm margins (~703 px).
REPORT_FIGURE_WIDTH = 680
REPORT_FIGURE_HEIGHT = 340

# Evidence charts stack one panel per scale: two series share a y axis only when the axis they
# need is at most this many times either one's own range (Heuristic: each then fills at least a
# third of the panel's height instead of lying flat at the bottom).
SHARED_AXIS_SPAN_FACTOR = 3.0
# More panels than this make a card taller than a screen; further series join the closest scale.
MAX_EVIDENCE_PANELS = 5
# Each panel after the first adds this many pixels (plot area plus the label above it).
EXTRA_PANEL_HEIGHT = 130
# Vertical room between stacked panels for the next panel's label, in pixels.
PANEL_GAP = 26
# Room above the first panel for the onset/peak labels, in pixels (its own label goes above them).
ONSET_LABEL_HEIGHT = 16
# A peak label past this fraction of the step range is written left of its line (room on the right).
PEAK_LABEL_FLIP_FRACTION = 0.9
EVIDENCE_MARGIN = {"l": 60, "r": 24, "t": 52, "b": 40}

SHADE_COLOUR = {"critical": "rgba(214, 39, 40, 0.13)", "warning": "rgba(255, 127, 14, 0.14)", "info": "rgba(31, 119, 180, 0.10)"}
ONSET_COLOUR = {"critical": "#d62728", "warning": "#ff7f0e", "info": "#1f77b4"}
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")

# The metrics that make the case for each kind of finding, beside the finding's own metrics:
# reward with the eval metric (hacking shows as divergence), KL with its coefficient (an
# adaptive controller fighting a blow-up), advantage std with the reward spread, and so on.
COMPANIONS: dict[str, tuple[str, ...]] = {
    "kl_blowup": ("kl.ref", "kl.coef"),
    "negative_kl": ("kl.ref", "kl.coef"),
    "policy_step_too_large": ("kl.step", "clipfrac"),
    "advantage_variance_spike": ("adv.std", "reward.score_std"),
    "value_failure": ("value.ev", "value.loss", "return.mean"),
    "entropy_collapse": ("entropy", "reward.score"),
    "entropy_explosion": ("entropy", "reward.score"),
    "reward_hacking": ("reward.score", "eval.reward"),
    "length_exploitation": ("len.mean", "reward.score"),
    "reward_saturation": ("reward.score", "reward.score_std"),
    "zero_learning_signal": ("grpo.frac_zero_std", "reward.score_std"),
    "non_finite": (),
    "gradient_spike": ("grad_norm", "lr"),
    "lr_schedule": ("lr",),
    "train_inference_mismatch": ("ratio.is_mean", "mismatch.logp_diff"),
}


def plot_text(text: object) -> str:
    """A user string made safe for plotly's HTML-subset text (names, titles, hover)."""
    return html.escape(str(text), quote=True)


# --------------------------------------------------------------------------- numerics for display
def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's debiased exponential moving average; non-finite points pass through as-is.

    ``weight`` is the slider value in [0, 1): 0 is no smoothing. The debiasing (divide by
    ``1 - weight**k`` after ``k`` finite points) keeps the start of the curve from being pulled
    toward zero, as in TensorBoard's scalar dashboard.
    """
    values = np.asarray(values, dtype=np.float64)
    if weight <= 0 or len(values) == 0:
        return values.copy()
    weight = min(float(weight), 0.999)
    out = values.copy()
    finite = np.isfinite(values)
    x = values[finite]
    if len(x) == 0 or np.all(x == x[0]):
        return out  # a constant stays exactly constant (the debiasing division adds float noise)
    accumulated = lfilter([1.0 - weight], [1.0, -weight], x)
    debias = 1.0 - weight ** np.arange(1, len(x) + 1)
    out[finite] = accumulated / debias
    return out


def display_indices(x: np.ndarray, y: np.ndarray, max_points: int = MAX_DISPLAY_POINTS) -> np.ndarray:
    """Indices of the finite points to draw: all of them, or a min/max-preserving LTTB subset."""
    finite = np.flatnonzero(np.isfinite(y))
    if len(finite) <= max_points:
        return finite
    from tsdownsample import MinMaxLTTBDownsampler

    xs = np.ascontiguousarray(np.asarray(x, dtype=np.float64)[finite])
    ys = np.ascontiguousarray(np.asarray(y, dtype=np.float64)[finite])
    chosen = MinMaxLTTBDownsampler().downsample(xs, ys, n_out=max_points, minmax_ratio=MINMAX_RATIO)
    return finite[np.asarray(chosen, dtype=np.int64)]


@dataclass
class Curve:
    """One line to draw: a label and its x/y values (x is steps, or datetimes for wall time)."""

    label: str
    x: np.ndarray
    y: np.ndarray


def _add_curve(
    fig: go.Figure,
    curve: Curve,
    *,
    colour: str,
    smoothing: float,
    max_points: int,
    dash: str | None = None,
    legendgroup: str | None = None,
    row: int | None = None,
) -> None:
    """Draw ``curve`` raw (always) and, with smoothing, its EMA on top; mark non-finite points.

    ``row`` puts the traces in that panel of a figure made with ``make_subplots`` (one column).
    """
    y = np.asarray(curve.y, dtype=np.float64)
    x = np.asarray(curve.x)
    name = plot_text(curve.label)
    group = legendgroup or name
    where = {"row": row, "col": 1} if row is not None else {}
    # LTTB needs increasing x; wall-clock axes can step backwards, so those use the point index.
    numeric_sorted = x.dtype.kind in "iuf" and bool(np.all(np.diff(x) >= 0))
    idx = display_indices(x if numeric_sorted else np.arange(len(x)), y, max_points)
    smoothed = smoothing > 0
    fig.add_trace(
        go.Scatter(
            x=x[idx], y=y[idx], mode="lines", name=name if not smoothed else f"{name} (raw)",
            legendgroup=group, showlegend=not smoothed,
            line={"color": colour, "width": 1.2 if smoothed else 1.6, "dash": dash},
            opacity=0.35 if smoothed else 1.0,
            hovertemplate=f"{name}<br>%{{x}}: %{{y:.6g}}<extra></extra>",
        ),
        **where,
    )
    if smoothed:
        sy = ema(y, smoothing)
        fig.add_trace(
            go.Scatter(
                x=x[idx], y=sy[idx], mode="lines", name=name, legendgroup=group,
                line={"color": colour, "width": 2, "dash": dash},
                hovertemplate=f"{name} (smoothed)<br>%{{x}}: %{{y:.6g}}<extra></extra>",
            ),
            **where,
        )
    bad = np.flatnonzero(~np.isfinite(y))
    if len(bad):
        bad = bad[:MAX_NON_FINITE_MARKERS]
        finite_y = y[np.isfinite(y)]
        top = float(finite_y.max()) if len(finite_y) else 0.0
        labels = np.where(np.isnan(y[bad]), "NaN", np.where(y[bad] > 0, "+Inf", "-Inf"))
        fig.add_trace(
            go.Scatter(
                x=x[bad], y=np.full(len(bad), top), mode="markers", name=f"{name} non-finite",
                legendgroup=group, marker={"symbol": "x", "size": 9, "color": colour},
                text=labels, hovertemplate=f"{name}<br>%{{x}}: %{{text}}<extra></extra>",
            ),
            **where,
        )


def _base_layout(fig: go.Figure, title: str | None, *, width: int | None, height: int, x_title: str, log_y: bool = False) -> None:
    fig.update_layout(
        title={"text": title, "font": {"size": 14}} if title else None,
        width=width,
        height=height,
        margin={"l": 60, "r": 60, "t": 48 if title else 36, "b": 40},
        hovermode="x unified",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0, "font": {"size": 11}},
        template="plotly_white",
    )
    fig.update_xaxes(title_text=x_title)
    if log_y:
        fig.update_yaxes(type="log")


# --------------------------------------------------------------------------- evidence per finding
def _series_for(run: Run, name: str) -> tuple[str, pd.Series] | None:
    """A finding's metric name as a series: a canonical concept bound in the run, or a raw tag."""
    if name in run.metrics:
        series = run.metric(name)
        if series is not None:
            return f"{run.metrics[name].tag}", series
    if run.has(name):
        return name, run.series(name)
    return None


def evidence_series(run: Run, finding: Finding) -> tuple[list[tuple[str, pd.Series]], list[tuple[str, pd.Series]]]:
    """The finding's own series and the companion series that make its case (no duplicates)."""
    primary: list[tuple[str, pd.Series]] = []
    seen: set[str] = set()
    for name in finding.metrics:
        got = _series_for(run, name)
        if got and got[0] not in seen:
            primary.append(got)
            seen.add(got[0])
    companions: list[tuple[str, pd.Series]] = []
    extra = list(COMPANIONS.get(finding.kind, ()))
    if finding.kind == "reward_hacking":
        extra += [b.tag for b in run.behaviour]
    for name in extra:
        got = _series_for(run, name)
        if not got or got[0] in seen:
            continue
        if not primary:
            primary.append(got)
        else:
            companions.append(got)
        seen.add(got[0])
    return primary, companions


@dataclass
class Panel:
    """One stacked subplot of an evidence chart: series on a common scale, and that scale.

    ``low``/``high`` bound every finite point of the panel's series; ``narrowest_span`` is the
    smallest range of any one of them. A panel holding only non-finite points has ``finite``
    False and takes no other series.
    """

    series: list[tuple[str, pd.Series]]
    low: float = 0.0
    high: float = 0.0
    narrowest_span: float = 0.0
    finite: bool = True

    def union_span(self, low: float, high: float) -> float:
        return max(self.high, high) - min(self.low, low)

    def fits(self, low: float, high: float) -> bool:
        """Whether a series spanning ``low..high`` can share this panel's y axis and stay readable."""
        if not self.finite:
            return False
        return self.union_span(low, high) <= SHARED_AXIS_SPAN_FACTOR * min(self.narrowest_span, high - low)

    def add(self, label: str, values: pd.Series, low: float, high: float) -> None:
        self.series.append((label, values))
        self.low, self.high = min(self.low, low), max(self.high, high)
        self.narrowest_span = min(self.narrowest_span, high - low)


def _finite_range(series: pd.Series) -> tuple[float, float] | None:
    values = series.to_numpy(dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return None
    return float(values.min()), float(values.max())


def scale_panels(series: Sequence[tuple[str, pd.Series]], max_panels: int = MAX_EVIDENCE_PANELS) -> list[Panel]:
    """Group series into panels, in order: each joins the first panel whose scale it shares.

    Two series share a y axis only when the axis they would need is at most
    :data:`SHARED_AXIS_SPAN_FACTOR` times either one's own range, so neither is drawn as a flat
    line (response length 0-24 and a clip ratio 0-1 get two panels; mean and max length, or a
    reward and its eval metric on one 0-1 scale, share one). Once there are ``max_panels``
    panels, a series joins the one whose range is closest to its own. A series with no finite
    point gets a panel of its own (its non-finite markers still show).
    """
    panels: list[Panel] = []
    for label, values in series:
        bounds = _finite_range(values)
        if bounds is None:
            panels.append(Panel([(label, values)], finite=False))
            continue
        low, high = bounds
        home = next((p for p in panels if p.fits(low, high)), None)
        finite_panels = [p for p in panels if p.finite]
        if home is None and len(panels) >= max_panels and finite_panels:
            home = min(finite_panels, key=lambda p: p.union_span(low, high) / max(min(p.narrowest_span, high - low), 1e-300))
        if home is None:
            panels.append(Panel([(label, values)], low, high, high - low))
        else:
            home.add(label, values, low, high)
    return panels


def _axis_name(row: int) -> str:
    return "yaxis" if row == 1 else f"yaxis{row}"


def _panel_label(panel: Panel, colours: dict[str, str]) -> str:
    """The panel's series names, each in its line's colour (names escaped; the spans are ours)."""
    return " · ".join(f'<span style="color:{colours[label]}">{plot_text(label)}</span>' for label, _ in panel.series)


def evidence_figure(
    run: Run,
    finding: Finding,
    *,
    smoothing: float = 0.0,
    width: int | None = None,
    height: int = REPORT_FIGURE_HEIGHT,
    max_points: int = MAX_DISPLAY_POINTS,
) -> go.Figure | None:
    """The chart that shows a finding: its series and companions, onset-to-end window shaded.

    Series whose ranges differ a lot get their own stacked panel on a shared step axis (see
    :func:`scale_panels`): the first panel holds the finding's first metric and is ``height``
    tall on its own; every further panel adds :data:`EXTRA_PANEL_HEIGHT`. Each panel is labelled
    with its series' names in their line colours (there is no legend); the finding's own metrics
    are solid, a companion is dotted where it shares a panel with them. Returns None when the run
    holds none of the finding's metrics.
    """
    primary, companions = evidence_series(run, finding)
    if not primary:
        return None
    drawn = primary + companions
    companion_labels = {label for label, _ in companions}
    colours = {label: PALETTE[i % len(PALETTE)] for i, (label, _) in enumerate(drawn)}
    panels = scale_panels(drawn)
    rows = len(panels)
    plot_height = height - EVIDENCE_MARGIN["t"] - EVIDENCE_MARGIN["b"] + (rows - 1) * EXTRA_PANEL_HEIGHT
    gap = PANEL_GAP / plot_height if rows > 1 else 0.0
    first_share = height - EVIDENCE_MARGIN["t"] - EVIDENCE_MARGIN["b"]
    row_heights = [first_share] + [EXTRA_PANEL_HEIGHT - PANEL_GAP] * (rows - 1)
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=gap, row_heights=row_heights)
    for row, panel in enumerate(panels, 1):
        # A companion is dotted where it shares a panel with the finding's own metric; alone in
        # its panel it is solid (a lone dotted line is hard to read), its label says what it is.
        mixed = any(label not in companion_labels for label, _ in panel.series)
        for label, series in panel.series:
            _add_curve(fig, Curve(label, series.index.to_numpy(), series.to_numpy()), colour=colours[label],
                       smoothing=smoothing, max_points=max_points,
                       dash="dot" if mixed and label in companion_labels else None, row=row)
        _pad_flat_axis(fig, _axis_name(row), [s for _, s in panel.series])
        y_ref = "y" if row == 1 else f"y{row}"
        fig.add_annotation(
            text=_panel_label(panel, colours), xref="x domain", yref=f"{y_ref} domain", x=0.0, y=1.0,
            xanchor="left", yanchor="bottom", showarrow=False, font={"size": 11},
            # The top panel's label sits above the onset/peak labels, which are drawn at its top edge.
            yshift=ONSET_LABEL_HEIGHT if row == 1 else 0,
        )
    _shade_window(fig, run, finding, drawn, rows)
    # No chart title or legend: the card above names the finding, and the panel labels name
    # each line in its colour (a legend of long tag names collides with the onset label).
    fig.update_layout(
        width=width,
        height=height + (rows - 1) * EXTRA_PANEL_HEIGHT,
        margin=dict(EVIDENCE_MARGIN),
        hovermode="x unified",
        showlegend=False,
        template="plotly_white",
    )
    fig.update_yaxes(tickfont={"size": 10}, nticks=6 if rows > 1 else None)
    fig.update_xaxes(title_text="step", row=rows, col=1)
    return fig


def _pad_flat_axis(fig: go.Figure, axis: str, series: Sequence[pd.Series]) -> None:
    """Give an axis whose series are all one constant a range around it (plotly's default of
    value +- 1 puts a KL coefficient of 0.05 on an axis from -0.95 to 1.05)."""
    values = np.concatenate([s.to_numpy(dtype=np.float64) for s in series]) if series else np.zeros(0)
    values = values[np.isfinite(values)]
    if len(values) == 0 or values.min() != values.max():
        return
    centre = float(values[0])
    half = abs(centre) * 0.5 or 1.0
    fig.update_layout({axis: {"range": [centre - half, centre + half]}})


def _shade_window(fig: go.Figure, run: Run, finding: Finding, drawn: Sequence[tuple[str, pd.Series]], rows: int) -> None:
    """Shade onset..end (end of data when the finding is ongoing) and mark the onset step.

    Every one of the ``rows`` stacked panels is shaded and marked; the onset and peak labels are
    written once, above the first panel.
    """
    if finding.onset_step is None:
        return
    onset = finding.onset_step
    end = finding.end_step
    if end is None:
        last_steps = [int(s.index[-1]) for _, s in drawn if len(s)]
        end = max(last_steps) if last_steps else run.last_step
    peak = finding.peak_step if finding.peak_step is not None and finding.peak_step != onset else None
    for row in range(1, rows + 1):
        where = {"row": row, "col": 1}
        if end is not None and end > onset:
            fig.add_vrect(x0=onset, x1=end, fillcolor=SHADE_COLOUR[finding.severity], line_width=0, layer="below",
                          **where)
        fig.add_vline(x=onset, line={"color": ONSET_COLOUR[finding.severity], "width": 1.5, "dash": "dash"}, **where)
        if peak is not None:
            fig.add_vline(x=peak, line={"color": "#555", "width": 1, "dash": "dot"}, **where)
    # The labels sit just above the first panel, outside the data: onset to the left of its line,
    # peak to the right of its own, so the two never overlap each other or a curve at the top.
    fig.add_annotation(x=onset, xref="x", yref="y domain", y=1.0, xanchor="right", yanchor="bottom",
                       text=f"onset {onset:,}", showarrow=False,
                       font={"size": 11, "color": ONSET_COLOUR[finding.severity]})
    if peak is not None:
        # Near the right edge a label right of the line would be cut off by the figure's border.
        start = min((int(s.index[0]) for _, s in drawn if len(s)), default=onset)
        stop = max((int(s.index[-1]) for _, s in drawn if len(s)), default=peak)
        near_right_edge = stop > start and (peak - start) / (stop - start) > PEAK_LABEL_FLIP_FRACTION
        fig.add_annotation(x=peak, xref="x", yref="y domain", y=1.0, xanchor="right" if near_right_edge else "left",
                           yanchor="bottom", text=f"peak {peak:,}", showarrow=False, font={"size": 10, "color": "#555"})


# --------------------------------------------------------------------------- explorer and compare
X_AXES = ("step", "wall_time", "relative")
X_TITLES = {"step": "step", "wall_time": "wall time", "relative": "hours since first point"}


def tag_curve(run: Run, tag: str, x_axis: str = "step", label: str | None = None) -> Curve | None:
    """One run's tag as a curve on the chosen x axis (None when the tag or its wall times are absent)."""
    if not run.has(tag):
        return None
    frame = run.frame(tag)
    label = label if label is not None else run.name
    if x_axis == "step":
        return Curve(label, frame["step"].to_numpy(), frame["value"].to_numpy())
    wall = frame["wall_time"].to_numpy()
    keep = np.isfinite(wall)
    if not keep.any():
        return None
    if x_axis == "wall_time":
        return Curve(label, pd.to_datetime(wall[keep], unit="s").to_numpy(), frame["value"].to_numpy()[keep])
    start = float(np.nanmin(run.scalars["wall_time"].to_numpy()))
    return Curve(label, (wall[keep] - start) / 3600.0, frame["value"].to_numpy()[keep])


def overlay_figure(
    title: str,
    curves: Iterable[Curve],
    *,
    smoothing: float = 0.0,
    log_y: bool = False,
    x_axis: str = "step",
    width: int | None = None,
    height: int = 320,
    max_points: int = MAX_DISPLAY_POINTS,
) -> go.Figure:
    """Several curves on one chart (runs overlaid on one tag, or two runs on one concept)."""
    fig = go.Figure()
    for i, curve in enumerate(curves):
        _add_curve(fig, curve, colour=PALETTE[i % len(PALETTE)], smoothing=smoothing, max_points=max_points)
    _base_layout(fig, plot_text(title), width=width, height=height, x_title=X_TITLES.get(x_axis, x_axis), log_y=log_y)
    # Run names are long: the legend goes under the chart, where it cannot cover the title.
    fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.28, "xanchor": "left", "x": 0.0},
                      margin={"b": 90}, height=height + 50)
    return fig


def explorer_figure(
    runs: Sequence[Run],
    tag: str,
    *,
    smoothing: float = 0.0,
    log_y: bool = False,
    x_axis: str = "step",
    width: int | None = None,
    height: int = 320,
) -> go.Figure:
    """The metrics explorer's chart for one tag: every given run that logs it, overlaid."""
    curves = [c for c in (tag_curve(run, tag, x_axis) for run in runs) if c is not None]
    return overlay_figure(tag, curves, smoothing=smoothing, log_y=log_y, x_axis=x_axis, width=width, height=height)


def concept_figure(runs: Sequence[Run], concept: str, title: str, *, smoothing: float = 0.0, width: int | None = None) -> go.Figure | None:
    """Compare view: one canonical metric of several runs overlaid (None if no run has it)."""
    curves = []
    for run in runs:
        series = run.metric(concept)
        if series is not None:
            curves.append(Curve(f"{run.name} ({series.name})", series.index.to_numpy(), series.to_numpy()))
    if not curves:
        return None
    return overlay_figure(title, curves, smoothing=smoothing, width=width)
