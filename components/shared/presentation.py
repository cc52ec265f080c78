"""Presentation mode: bigger scores, text and chart fonts for a projector, the same content.

One toggle (``state.PRESENTATION``, in app.py's sidebar). Pages render every plotly figure through
``plotly_chart`` (or ``present``), which scales the figure's fonts when the toggle is on, and app.py calls
``inject_css`` once per run, which enlarges metric values and text. Per session: another user's toggle never
changes what this session sees (no global plotly template).
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from components.shared import state

SCALE = 1.5  # chart fonts and metric values
TEXT_SCALE = 1.25  # body text: larger, but long explanations still fit
PLOTLY_FONT_SIZE = 12  # plotly's default layout font size
THEME_SIZES = {"tick": 12, "axis_title": 14, "title": 16}  # px, as Streamlit's chart theme sets them
CARTESIAN = {"scatter", "scattergl", "bar", "heatmap", "histogram", "box", "violin"}

# Streamlit's own sizes: metric value 2.25rem, label and delta 0.875rem / 1rem, body text 1rem. Metric values and
# labels are markdown inside, so their rules come after the text rule and are more specific.
MAIN = '[data-testid="stMain"]'
# Streamlit draws one-line labels (metric labels and deltas, button and expander labels) in an element of this class
# and cuts what does not fit with "…". Enlarged, at 1366 px, many no longer fit ("100th percentil…", "Open in STS
# evalu…"): in presentation mode they wrap instead, so every label is read in full.
ELLIPSIS = "stMarkdownEllipsis"
METRIC_REM = 2.25 * SCALE
CSS = f"""
<style>
{MAIN} [data-testid="stMarkdownContainer"] p,
{MAIN} [data-testid="stMarkdownContainer"] li,
{MAIN} [data-testid="stCaptionContainer"] {{ font-size: {TEXT_SCALE}rem !important; }}
{MAIN} [data-testid="stMetricValue"],
{MAIN} [data-testid="stMetricValue"] div,
{MAIN} [data-testid="stMetricValue"] [data-testid="stMarkdownContainer"] p {{ font-size: {METRIC_REM}rem !important; }}
{MAIN} [data-testid="stMetricLabel"] [data-testid="stMarkdownContainer"] p,
{MAIN} [data-testid="stMetricDelta"] div,
{MAIN} [data-testid="stMetricDelta"] [data-testid="stMarkdownContainer"] p {{ font-size: {1.0 * SCALE}rem !important; }}
{MAIN} .{ELLIPSIS},
{MAIN} .{ELLIPSIS} p {{ white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
    overflow-wrap: anywhere; }}
</style>
"""


def presenting() -> bool:
    return bool(st.session_state.get(state.PRESENTATION, False))


def scale_fonts(figure: go.Figure, factor: float) -> go.Figure:
    """A copy of ``figure`` with every font size multiplied by ``factor``; what is drawn does not change.

    Every ``size`` inside a ``*font`` property is scaled (layout, title, legend, axes, annotations, traces' text
    fonts). Streamlit's chart theme sets the axis, legend and title fonts itself (ticks 12 px, axis titles 14 px,
    ...), so those are given explicitly too, scaled from ``THEME_SIZES``. The top margin grows with the title.
    """

    def walk(node):
        if isinstance(node, dict):
            return {
                key: (_scaled_font(value, factor) if key.endswith("font") and isinstance(value, dict) else walk(value))
                for key, value in node.items()
            }
        if isinstance(node, list | tuple):
            return [walk(item) for item in node]
        return node

    data = walk(figure.to_dict())
    layout = data.setdefault("layout", {})
    _default_size(layout, ("font",), PLOTLY_FONT_SIZE * factor)
    _default_size(layout, ("title", "font"), THEME_SIZES["title"] * factor)
    _default_size(layout, ("legend", "font"), THEME_SIZES["tick"] * factor)
    traces = data.get("data", [])
    axes = [key for key in layout if key.startswith(("xaxis", "yaxis"))]
    if any(trace.get("type", "scatter") in CARTESIAN for trace in traces):
        axes = list(dict.fromkeys(["xaxis", "yaxis", *axes]))
    containers = [layout.setdefault(axis, {}) for axis in axes]
    if any(trace.get("type") == "scatter3d" for trace in traces):
        scene = layout.setdefault("scene", {})
        containers += [scene.setdefault(axis, {}) for axis in ("xaxis", "yaxis", "zaxis")]
    containers += [trace.setdefault("colorbar", {}) for trace in traces if trace.get("type") == "heatmap"]
    for container in containers:
        _default_size(container, ("tickfont",), THEME_SIZES["tick"] * factor)
        _default_size(container, ("title", "font"), THEME_SIZES["axis_title"] * factor)
    margin = layout.get("margin")
    if isinstance(margin, dict) and "t" in margin:
        margin["t"] = margin["t"] * factor
    return go.Figure(data)


def _default_size(node: dict, path: tuple[str, ...], size: float) -> None:
    """Set node[path...]["size"] unless a size is there already (then it was scaled with the rest)."""
    for key in path:
        value = node.get(key)
        if isinstance(value, str):  # a title given as plain text
            value = {"text": value}
        node[key] = value if isinstance(value, dict) else {}
        node = node[key]
    node.setdefault("size", size)


def _scaled_font(font: dict, factor: float) -> dict:
    scaled = dict(font)
    if isinstance(scaled.get("size"), int | float):
        scaled["size"] = scaled["size"] * factor
    return scaled


def present(figure: go.Figure) -> go.Figure:
    """``figure`` as this session should see it: fonts scaled in presentation mode, else unchanged."""
    return scale_fonts(figure, SCALE) if presenting() else figure


def plotly_chart(figure: go.Figure, **kwargs):
    """``st.plotly_chart`` through ``present``: the one way pages show a figure."""
    return st.plotly_chart(present(figure), **kwargs)


def inject_css() -> None:
    """Enlarge metric values and text in presentation mode (nothing otherwise)."""
    if presenting():
        st.html(CSS)


def toggle() -> None:
    """The sidebar switch."""
    st.toggle(
        "Presentation mode",
        key=state.PRESENTATION,
        help="Larger scores, text and chart fonts for a projector; the same content.",
    )
