"""Figure builders: each returns a plotly Figure and never shows it."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

RAW_COLOR = "#e8590c"
TRAINED_COLOR = "#3b5bdb"
POOLING_COLORS = {"cls": "#c2255c", "mean": "#2b8a3e", "max": "#1971c2"}


def _short(text: str, width: int = 28) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def cosine_bars(table: pd.DataFrame, raw_label: str, trained_label: str) -> go.Figure:
    """Grouped bars: raw and trained cosine per pair, with each configuration's typical (baseline) cosine.

    Args:
        table: the Compare table (sentence1, sentence2, raw_cosine, raw_typical, trained_cosine, trained_typical).
    """
    names = [f"row {row}" for row in table.index]
    hover = [f"{_short(a, 60)}<br>{_short(b, 60)}" for a, b in zip(table.sentence1, table.sentence2, strict=True)]
    figure = go.Figure()
    for column, typical, label, color in (
        ("raw_cosine", "raw_typical", raw_label, RAW_COLOR),
        ("trained_cosine", "trained_typical", trained_label, TRAINED_COLOR),
    ):
        figure.add_bar(
            x=names,
            y=table[column],
            name=label,
            marker_color=color,
            customdata=hover,
            hovertemplate="%{x}: %{customdata}<br>cosine %{y:.3f}<extra>" + label + "</extra>",
        )
        if len(table):
            figure.add_hline(
                y=float(table[typical].iloc[0]),
                line_dash="dot",
                line_color=color,
                annotation_text=f"typical: {float(table[typical].iloc[0]):.2f}",
                annotation_font_color=color,
            )
    lowest = float(table[["raw_cosine", "trained_cosine"]].min().min()) if len(table) else 0.0
    figure.update_layout(
        barmode="group",
        yaxis_title="cosine",
        yaxis_range=[min(-0.1, lowest - 0.05), 1.05],
        legend={"orientation": "h", "y": 1.12},
        margin={"t": 40, "b": 10, "l": 10, "r": 10},
        height=380,
    )
    return figure


def layer_chart(profile: pd.DataFrame, typical: pd.DataFrame, trained_cosine: float | None, title: str) -> go.Figure:
    """Cosine of one pair by layer for cls, mean and max, each with its dotted random-pair mean."""
    figure = go.Figure()
    for pooling, color in POOLING_COLORS.items():
        figure.add_scatter(
            x=profile.layer,
            y=profile[pooling],
            mode="lines+markers",
            name=pooling,
            line={"color": color},
            hovertemplate="layer %{x}: %{y:.3f}<extra>" + pooling + "</extra>",
        )
        figure.add_scatter(
            x=typical.layer,
            y=typical[pooling],
            mode="lines",
            name=f"{pooling}, typical",
            line={"color": color, "dash": "dot", "width": 1},
            opacity=0.7,
            hovertemplate="layer %{x}: random pairs %{y:.3f}<extra>" + pooling + "</extra>",
        )
    if trained_cosine is not None:
        figure.add_hline(
            y=trained_cosine,
            line_dash="dash",
            line_color=TRAINED_COLOR,
            annotation_text=f"trained model: {trained_cosine:.2f}",
            annotation_font_color=TRAINED_COLOR,
        )
    figure.update_layout(
        title=title,
        xaxis_title="layer (0 = embeddings)",
        yaxis_title="cosine",
        xaxis={"dtick": 1},
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 50, "b": 10, "l": 10, "r": 10},
        height=420,
    )
    return figure
