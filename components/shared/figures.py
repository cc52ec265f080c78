"""Every page's figure builders: each returns a plotly Figure and never shows it.

The builders a page draws on every run are shared (``_shared``): a figure is built once per distinct input and
every session gets the same object, since thirty sessions opening a page draw the same figures of the same cached
results and building one costs more than the rest of the run. So a returned figure is never changed in place:
``present`` and ``st.plotly_chart`` copy it.

Sections: Compare (cosine bars, layer chart), Negative tests (score distributions), Projection (scatter of
projected sentences), STS evaluation (Spearman heatmap, cosine scatter), Tokens & layers (token heatmaps,
word in context, anisotropy), Train (loss curve).
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from components.shared.services import PICKLED_KEYS
from embedlab.data.pairtable import row_list
from embedlab.embedding.precision import NOISE_STD
from embedlab.embedding.scoring import PROFILE_POOLINGS
from embedlab.embedding.specs import RAW_POOLINGS
from embedlab.tasks.anisotropy import VECTOR_KINDS
from embedlab.tasks.explain import Explanation
from embedlab.tasks.negtest import NegTestResult
from embedlab.tasks.sts import FIRST_LAST, UNDEFINED, Evaluation, ScoredPairs, describe_row, rank_gaps

RAW_COLOR = "#e8590c"
TRAINED_COLOR = "#3b5bdb"
CROSS_COLOR = "#2f9e44"  # green: the cross-encoder, a score rather than a cosine
POOLING_COLORS = {
    "cls": "#c2255c",
    "mean": "#2b8a3e",
    "max": "#1971c2",
    "mean_max": "#5f3dc4",
    "weightedmean": "#e67700",
    "lasttoken": "#0c8599",
}


def _shared(builder):
    """``builder``, its figures cached on the content of its arguments and shared by every session (64 per builder)."""
    return st.cache_resource(show_spinner=False, max_entries=64, hash_funcs=PICKLED_KEYS)(builder)


def _short(text: str, width: int = 28) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@_shared
def cosine_bars(table: pd.DataFrame, raw_label: str, trained_label: str, cross_label: str | None = None) -> go.Figure:
    """Grouped bars: raw and trained cosine per pair, with each configuration's typical (baseline) cosine; with
    ``cross_label``, the cross-encoder's score per pair beside them (a score, not a cosine) and its typical score.

    Args:
        table: the Compare table (sentence1, sentence2, raw_cosine, raw_typical, trained_cosine, trained_typical;
            cross_score and cross_typical for the cross-encoder).
    """
    names = [row_list([row]) for row in table.index]
    hover = [f"{_short(a, 60)}<br>{_short(b, 60)}" for a, b in zip(table.sentence1, table.sentence2, strict=True)]
    figure = go.Figure()
    series = [
        ("raw_cosine", "raw_typical", raw_label, RAW_COLOR, "cosine"),
        ("trained_cosine", "trained_typical", trained_label, TRAINED_COLOR, "cosine"),
    ]
    if cross_label is not None and "cross_score" in table:
        series.append(("cross_score", "cross_typical", cross_label, CROSS_COLOR, "score"))
    for column, typical, label, color, what in series:
        figure.add_bar(
            x=names,
            y=table[column],
            name=label,
            marker_color=color,
            customdata=hover,
            hovertemplate="%{x}: %{customdata}<br>" + what + " %{y:.3f}<extra>" + label + "</extra>",
        )
        if len(table):
            figure.add_hline(
                y=float(table[typical].iloc[0]),
                line_dash="dot",
                line_color=color,
                annotation_text=f"typical: {float(table[typical].iloc[0]):.2f}",
                annotation_font_color=color,
            )
    columns = [column for column, *_ in series]
    lowest = float(table[columns].min().min()) if len(table) else 0.0
    figure.update_layout(
        barmode="group",
        yaxis_title="cosine · cross-encoder score" if len(series) == 3 else "cosine",
        yaxis_range=[min(-0.1, lowest - 0.05), 1.05],
        legend={"orientation": "h", "y": 1.12},
        margin={"t": 40, "b": 10, "l": 10, "r": 10},
        height=380,
    )
    return figure


NOISE_COLOR = "#868e96"  # grey: a configuration whose cosines are float32 noise (embedlab.embedding.precision)
NOISE_FILL = "#dee2e6"  # heatmap cells of undefined configurations
POOLING_NAMES = {"cls": "CLS", "mean": "mean", "max": "max"}


def _noise_column(typical: pd.DataFrame, pooling: str) -> pd.Series:
    """Per layer, why the random-pair cosines of ``pooling`` are noise ("" where they vary enough)."""
    column = f"{pooling}_noise"
    if column not in typical.columns:
        return pd.Series([""] * len(typical), index=typical.index)
    return typical[column].fillna("").astype(str)


def _layer_ranges(layers: Sequence[int]) -> str:
    """[0, 1, 2, 3, 5] -> "layers 0-3 and 5"; [4] -> "layer 4"."""
    runs: list[list[int]] = []
    for layer in sorted(layers):
        if runs and layer == runs[-1][-1] + 1:
            runs[-1].append(layer)
        else:
            runs.append([layer])
    parts = [f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs]
    listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    return f"{'layer' if len(layers) == 1 else 'layers'} {listed}"


@_shared
def noisy_layers_text(typical: pd.DataFrame) -> str:
    """One sentence per pooling whose random-pair cosines are float32 noise at some layers, "" when none are.

    Example: "CLS at layers 0-3: every random-pair cosine is 0.99999x: the ranking is noise (float32 rounding,
    spread below 1e-05)."
    """
    sentences = []
    for pooling in RAW_POOLINGS:
        noisy = _noise_column(typical, pooling) != ""
        if not noisy.any():
            continue
        layers = [int(layer) for layer in typical.layer[noisy]]
        low = float(typical[pooling][noisy].min())
        sentences.append(
            f"{POOLING_NAMES[pooling]} at {_layer_ranges(layers)}: every random-pair cosine is {low:.5f} or more, "
            f"with a spread below {NOISE_STD:.0e}: float32 rounding noise, so the ranking of pairs there is noise."
        )
    return " ".join(sentences)


@_shared
def layer_chart(profile: pd.DataFrame, typical: pd.DataFrame, trained_cosine: float | None, title: str) -> go.Figure:
    """Cosine of one pair by layer for each pooling of ``profile``, each with its dotted random-pair mean.

    cls, mean and max are drawn; the other poolings (mean_max, weightedmean, lasttoken) are in the legend, one
    click away (``visible="legendonly"``), so the chart stays readable. Layers where a pooling's random-pair
    cosines are float32 noise (``typical``'s ``<pooling>_noise`` set, from
    ``embedlab.embedding.scoring.layer_baselines``) get a hollow grey marker whose hover gives the reason: the
    pair's cosine there ranks nothing.
    """
    figure = go.Figure()
    for pooling in [name for name in PROFILE_POOLINGS if name in profile.columns and name in typical.columns]:
        color = POOLING_COLORS[pooling]
        shown = True if pooling in RAW_POOLINGS else "legendonly"
        figure.add_scatter(
            x=profile.layer,
            y=profile[pooling],
            mode="lines+markers",
            name=pooling,
            line={"color": color},
            visible=shown,
            hovertemplate="layer %{x}: %{y:.3f}<extra>" + pooling + "</extra>",
        )
        figure.add_scatter(
            x=typical.layer,
            y=typical[pooling],
            mode="lines",
            name=f"{pooling}, typical",
            line={"color": color, "dash": "dot", "width": 1},
            opacity=0.7,
            visible=shown,
            hovertemplate="layer %{x}: random pairs %{y:.3f}<extra>" + pooling + "</extra>",
        )
        reasons = _noise_column(typical, pooling)
        noisy = (reasons != "").to_numpy()
        if noisy.any():
            layers = typical.layer.to_numpy()[noisy]
            on_profile = profile.set_index("layer")[pooling].reindex(layers)
            figure.add_scatter(
                x=[int(layer) for layer in layers],
                y=[float(value) for value in on_profile],
                mode="markers",
                name=f"{pooling}: noise",
                visible=shown,
                marker={"symbol": "circle-open", "size": 14, "color": NOISE_COLOR, "line": {"width": 2}},
                customdata=[_hover_text(reason, 60) for reason in reasons[noisy]],
                hovertemplate="layer %{x}: %{y:.5f}<br><b>noise</b>: %{customdata}<extra>" + pooling + "</extra>",
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


# ---------------------------------------------------------------- Negative tests

POSITIVE_COLOR = "#2b8a3e"
NEGATIVE_COLOR = "#c92a2a"


@_shared
def score_distributions(result: NegTestResult, color: str = TRAINED_COLOR) -> go.Figure:
    """Overlaid histograms of the cosines of should-match and should-not-match pairs, a strip of every pair
    below (hover: the sentences), the threshold and the random-pair baseline (mean, 95th percentile)."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.03)
    pairs = result.pairs
    low = float(min(result.scores.min(), result.baseline.mean, result.threshold))
    size = 0.025
    groups = ((1, "should match (1)", POSITIVE_COLOR), (0, "should not match (0)", NEGATIVE_COLOR))
    for label, name, group_color in groups:
        chosen = (pairs["label"] == label).to_numpy()
        scores = result.scores[chosen]
        figure.add_histogram(
            x=scores,
            name=name,
            marker_color=group_color,
            opacity=0.6,
            xbins={"start": np.floor(low / size) * size, "end": 1.0 + size, "size": size},
            hovertemplate=f"{result.score_name} %{{x}}<br>%{{y}} pairs<extra>{name}</extra>",
            row=1,
            col=1,
        )
        texts = [
            f"{first}<br>{second}" + (f"<br>[{category}]" if category else "")
            for first, second, category in zip(
                pairs["sentence1"][chosen], pairs["sentence2"][chosen], pairs["category"][chosen], strict=True
            )
        ]
        jitter = np.random.default_rng(label).uniform(-0.3, 0.3, len(scores))
        figure.add_scatter(
            x=scores,
            y=np.full(len(scores), float(label)) + jitter,
            mode="markers",
            marker={"color": group_color, "size": 7, "opacity": 0.8},
            text=texts,
            hovertemplate=f"%{{text}}<br>{result.score_name} %{{x:.3f}}<extra></extra>",
            showlegend=False,
            row=2,
            col=1,
        )
    for x, dash, line_color, text in (
        (result.threshold, "solid", "#212529", f"threshold {result.threshold:.2f}"),
        (result.baseline.mean, "dot", color, f"random pairs: mean {result.baseline.mean:.2f}"),
        (result.baseline.p95, "dash", color, f"random pairs: 95% below {result.baseline.p95:.2f}"),
    ):
        figure.add_vline(x=x, line_dash=dash, line_color=line_color, row="all", col=1)
        figure.add_annotation(
            x=x, y=1.0, yref="paper", text=text, showarrow=False, textangle=-90, xanchor="right", yanchor="top",
            font={"color": line_color, "size": 11},
        )  # fmt: skip
    figure.update_layout(
        barmode="overlay",
        legend={"orientation": "h", "y": 1.1},
        margin={"t": 40, "b": 10, "l": 10, "r": 10},
        height=420,
    )
    figure.update_yaxes(title_text="pairs", row=1, col=1)
    figure.update_yaxes(tickvals=[0, 1], ticktext=["0", "1"], title_text="label", range=[-0.6, 1.6], row=2, col=1)
    figure.update_xaxes(title_text=result.score_name, row=2, col=1)
    return figure


# ---------------------------------------------------------------- Projection

PALETTE = plotly.colors.qualitative.Dark24 + plotly.colors.qualitative.Light24
UNLABELLED_COLOR = "#495057"
MAX_LEGEND_LABELS = 24  # above this, one trace coloured by label and no legend
WEBGL_ABOVE = 1500  # 2D plots with more points use WebGL (SVG slows the browser down)


def label_colors(labels: Sequence[str]) -> dict[str, str]:
    """One colour per distinct label, the same in every plot (sorted labels, palette in order)."""
    return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(sorted(set(labels)))}


def _hover_text(sentence: str, width: int = 70) -> str:
    return "<br>".join(textwrap.wrap(html.escape(sentence), width)) or "(empty)"


@_shared
def projection_figure(
    coords: npt.NDArray[np.floating],
    sentences: Sequence[str],
    labels: Sequence[str],
    title: str,
    highlight: npt.NDArray[np.bool_] | None = None,
    picked: int | None = None,
    neighbours: Sequence[int] = (),
    marks: Sequence[str] | None = None,
    placed: tuple[npt.NDArray[np.floating], Sequence[str]] | None = None,
) -> go.Figure:
    """Scatter of already projected points (2D or 3D), coloured by label, hover = the full sentence.

    Args:
        coords: (n, 2|3) coordinates; row i is sentences[i].
        highlight: (n,) bool, search matches: drawn on top, everything else faded.
        picked: a sentence to mark with a star; ``neighbours``: indices to ring (its nearest in the original space).
        marks: (n,) per sentence "" or a warning added to its hover (a text the model cannot read).
        placed: (coordinates (m, 2|3), texts) of sentences placed on the fitted map: drawn as labelled crosses.
    """
    coords = np.asarray(coords, dtype=np.float64)
    three_d = coords.shape[1] == 3
    n = len(coords)
    marks = marks if marks is not None else [""] * n
    hover = np.array(
        [
            _hover_text(sentence) + (f"<br><b>⚠ {html.escape(mark)}: its place means nothing</b>" if mark else "")
            for sentence, mark in zip(sentences, marks, strict=True)
        ],
        dtype=object,
    )
    label_array = np.array(list(labels), dtype=object)
    colors = label_colors(labels)
    searching = highlight is not None and bool(highlight.any())
    size = (3.5 if n > 1000 else 5) if three_d else (5 if n > 1000 else 8)
    grow = 0.5 if three_d else 1.0  # 3D markers look larger: enlarge the marked points less
    figure = go.Figure()

    def add(rows: npt.NDArray[np.int64], name: str, marker: dict, showlegend: bool = True, **extra) -> None:
        if three_d:
            trace = go.Scatter3d(x=coords[rows, 0], y=coords[rows, 1], z=coords[rows, 2], mode="markers")
        else:
            kind = go.Scattergl if n > WEBGL_ABOVE else go.Scatter
            trace = kind(x=coords[rows, 0], y=coords[rows, 1], mode="markers")
        trace.update(
            name=name,
            marker=marker,
            showlegend=showlegend,
            customdata=np.stack([hover[rows], label_array[rows]], axis=1) if len(rows) else None,
            hovertemplate="%{customdata[0]}<br><i>%{customdata[1]}</i><extra></extra>",
            **extra,
        )
        figure.add_trace(trace)

    faded = 0.25 if searching else 0.85
    distinct = sorted(set(labels))
    if len(distinct) <= MAX_LEGEND_LABELS:
        for label in distinct:
            rows = np.flatnonzero(label_array == label)
            add(
                rows,
                label or "no label",
                {"color": colors[label] if label else UNLABELLED_COLOR, "size": size},
                showlegend=bool(label),
                opacity=faded,
                legendgroup=label,
            )
    else:
        add(
            np.arange(n),
            "sentences",
            {"color": [colors[label] for label in labels], "size": size},
            showlegend=False,
            opacity=faded,
        )
    if searching:
        rows = np.flatnonzero(highlight)
        add(
            rows,
            f"search: {len(rows)} match{'es' if len(rows) != 1 else ''}",
            {
                "color": [colors[label_array[i]] if label_array[i] else UNLABELLED_COLOR for i in rows],
                "size": size + 5 * grow,
                "line": {"color": "black", "width": 2},
            },
        )
    if neighbours:
        rows = np.asarray(list(neighbours), dtype=np.int64)
        add(
            rows,
            f"its {len(rows)} nearest (cosine, original space)",
            {"color": "rgba(0,0,0,0)", "size": size + 8 * grow, "line": {"color": "black", "width": 2}},
        )
    if picked is not None:
        add(
            np.array([picked]),
            "picked sentence",
            {
                "color": "gold",
                "size": size + 12 * grow,
                "symbol": "diamond" if three_d else "star",
                "line": {"color": "black", "width": 1},
            },
        )
    if placed is not None and len(placed[1]):
        points = np.asarray(placed[0], dtype=np.float64)
        names = [f"P{number}" for number in range(1, len(placed[1]) + 1)]
        marker = {"color": "black", "size": size + 8 * grow, "symbol": "x", "line": {"color": "white", "width": 1}}
        common = {
            "mode": "markers+text",
            "text": names,
            "textposition": "top center",
            "name": "your sentences (placed)",
            "marker": marker,
            "customdata": [_hover_text(text) for text in placed[1]],
            "hovertemplate": "%{text}: %{customdata}<br><i>placed on the fitted map</i><extra></extra>",
        }
        if three_d:
            figure.add_trace(go.Scatter3d(x=points[:, 0], y=points[:, 1], z=points[:, 2], **common))
        else:
            figure.add_trace(go.Scatter(x=points[:, 0], y=points[:, 1], **common))
    axis = {"showticklabels": False, "title": "", "zeroline": False}
    figure.update_layout(
        title={"text": title, "font": {"size": 14}},
        height=560,
        margin={"t": 50, "b": 10, "l": 10, "r": 10},
        legend={"orientation": "h", "y": -0.02, "yanchor": "top"},
        hoverlabel={"align": "left"},
        uirevision=title,
    )
    if three_d:
        figure.update_layout(scene={"xaxis": axis, "yaxis": axis, "zaxis": axis})
    else:
        figure.update_xaxes(**axis)
        figure.update_yaxes(**axis, scaleanchor="x", scaleratio=1)
    return figure


# ---------------------------------------------------------------- STS evaluation


# ------------------------------------------------------------------------------------------------ attention


ATTENTION_SHARE_COLORS = {"cls": "#c2255c", "sep": "#f08c00", "punctuation": "#868e96", "other": "#2b8a3e"}


MAX_MAP_GROUPS = 48  # colours on a corpus map; the smaller groups beyond share "other"
DENSITY_BINS = 160  # the density of a corpus too big to draw: a 160 x 160 grid of counts
HOVER_CHARS = 120  # of each text in a corpus map's hover (the hover texts are most of the figure's bytes)


def corpus_map_figure(
    coords: npt.NDArray[np.floating],
    texts: Sequence[str],
    groups: Sequence[str],
    highlight: npt.NDArray[np.bool_],
    region: tuple[tuple[float, float], tuple[float, float]] | None,
    max_points: int,
) -> go.Figure:
    """A big corpus's map in WebGL (``Scattergl``), one trace per group (customdata = the row, for selections).

    Args:
        coords: (n, 2); row i is texts[i], in groups[i].
        highlight: (n,) search matches, drawn on top (at most ``max_points`` of them).
        region: None: draw every point (n <= max_points). Else ((x0, x1), (y0, y1)): draw the density of all the
            points (counts on a grid, computed here: a few kB sent instead of every point) and the points inside
            the region (a fixed random sample of ``max_points`` when more lie there).
    """
    coords = np.asarray(coords, dtype=np.float32)
    n = len(coords)
    figure = go.Figure()
    shown = np.arange(n)
    if region is not None:
        counts, x_edges, y_edges = np.histogram2d(coords[:, 0], coords[:, 1], bins=DENSITY_BINS)
        shade = np.log1p(counts.T)
        figure.add_trace(
            go.Heatmap(  # one image in the browser (a filled contour traces its paths there: seconds at 100k)
                x=((x_edges[:-1] + x_edges[1:]) / 2).astype(np.float32),
                y=((y_edges[:-1] + y_edges[1:]) / 2).astype(np.float32),
                z=np.round(255 * shade / max(float(shade.max()), 1e-9)).astype(np.uint8),  # 1 byte a cell sent
                colorscale=[[0, "rgba(255,255,255,0)"], [1, "rgba(60,60,60,0.6)"]],
                showscale=False,
                hoverinfo="skip",
                name="density",
            )
        )
        (x0, x1), (y0, y1) = region
        inside = (coords[:, 0] >= x0) & (coords[:, 0] <= x1) & (coords[:, 1] >= y0) & (coords[:, 1] <= y1)
        shown = np.flatnonzero(inside)
    if len(shown) > max_points:
        shown = np.sort(np.random.default_rng(0).choice(shown, size=max_points, replace=False))
    group_array = np.asarray(list(groups), dtype=object)
    sizes = pd.Series(group_array[shown]).value_counts()
    kept = set(sizes.index[:MAX_MAP_GROUPS])
    named = np.array([group if group in kept else "other" for group in group_array[shown]], dtype=object)
    colors = label_colors(sorted(kept))
    searching = bool(highlight.any())
    for group in sorted(set(named.tolist())):
        rows = shown[named == group]
        figure.add_trace(
            go.Scattergl(
                x=coords[rows, 0],
                y=coords[rows, 1],
                mode="markers",
                name=_short(str(group)),
                marker={"size": 4, "color": colors.get(group, "#999999"), "opacity": 0.25 if searching else 0.7},
                customdata=rows[:, None].astype(np.int32),
                hovertext=[html.escape(texts[i][:HOVER_CHARS]) for i in rows],
                hoverinfo="text",
            )
        )
    if searching:
        rows = np.flatnonzero(highlight)[:max_points]
        figure.add_trace(
            go.Scattergl(
                x=coords[rows, 0],
                y=coords[rows, 1],
                mode="markers",
                name="search matches",
                marker={"size": 8, "color": "#d62728", "line": {"width": 1, "color": "white"}},
                customdata=rows[:, None].astype(np.int32),
                hovertext=[html.escape(texts[i][:HOVER_CHARS]) for i in rows],
                hoverinfo="text",
            )
        )
    figure.update_layout(height=560, margin={"l": 10, "r": 10, "t": 30, "b": 10}, dragmode="zoom")
    figure.update_xaxes(showticklabels=False)
    figure.update_yaxes(showticklabels=False)
    return figure


@_shared
def attention_heatmap(
    attention: npt.NDArray[np.floating], tokens: Sequence[str], from_label: str, rows: str = "layer"
) -> go.Figure:
    """Heatmap of one token's attention over the tokens (columns); each row sums to 1.

    Args:
        attention: (layers, T) from ``AttentionMaps.from_token`` (averaged over heads; rows = "layer", numbered
            from 1), or (heads, T) from ``heads_from_token`` (rows = "head", numbered from 0).
    """
    labels = [f"{position} {token}" for position, token in enumerate(tokens)]
    n_rows = attention.shape[0]
    first = 1 if rows == "layer" else 0
    figure = go.Figure(
        go.Heatmap(
            z=attention,
            x=list(range(len(tokens))),
            y=list(range(first, first + n_rows)),
            zmin=0,
            zmax=1,
            colorscale="Magma",
            reversescale=True,
            colorbar={"title": {"text": "attention"}},
            customdata=np.array([labels] * n_rows),
            hovertemplate=f"{rows} %{{y}}: {html.escape(from_label)} → %{{customdata}}: %{{z:.3f}}<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis={"tickmode": "array", "tickvals": list(range(len(tokens))), "ticktext": labels, "tickangle": -45},
        yaxis={"title": rows, "dtick": 1, "autorange": "reversed"},
        margin={"t": 30, "b": 20, "l": 10, "r": 10},
        height=max(260, 60 + 24 * n_rows),
    )
    return figure


@_shared
def attention_shares_chart(shares: dict[str, npt.NDArray[np.floating]], labels: dict[str, str]) -> go.Figure:
    """Lines per kind of token ([CLS], [SEP], punctuation, words): the share of attention landing on it, by layer.

    Args:
        shares: kind -> (layers,) from ``AttentionMaps.shares``.
        labels: kind -> legend text.
    """
    figure = go.Figure()
    for kind, values in shares.items():
        figure.add_scatter(
            x=list(range(1, len(values) + 1)),
            y=values,
            mode="lines+markers",
            name=labels.get(kind, kind),
            line={"color": ATTENTION_SHARE_COLORS.get(kind)},
            hovertemplate=f"layer %{{x}}: %{{y:.0%}} on {html.escape(labels.get(kind, kind))}<extra></extra>",
        )
    figure.update_layout(
        xaxis={"title": "layer", "dtick": 1},
        yaxis={"title": "share of attention", "range": [0, 1.02], "tickformat": ".0%"},
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 30, "b": 10, "l": 10, "r": 10},
        height=320,
    )
    return figure


def _layer_label(layers: str) -> str:
    if layers == "0":
        return "0 (embeddings)"
    if layers == FIRST_LAST:
        return "first-last"
    return f"layer {layers}"


def undefined_kind(note: str) -> str:
    """Cell word for an undefined configuration: "constant" (every cosine the same) or "noise" (float32 rounding)."""
    return "constant" if note == UNDEFINED else "noise"


@_shared
def spearman_heatmap(evaluation: Evaluation) -> go.Figure:
    """Spearman x 100 by layer (rows, 0 at the top, first-last last) and pooling (columns); best raw cell boxed.

    Undefined cells (every cosine the same, or float32 noise: the table's ``note``) are drawn grey, labelled
    "constant" or "noise", with the reason on hover; the box never lands on them.
    """
    table = evaluation.table
    raw = table[table.pooling.isin(PROFILE_POOLINGS)]
    if "post" in raw.columns:
        raw = raw[raw.post == "none"]
    poolings = [pooling for pooling in PROFILE_POOLINGS if pooling in set(raw.pooling)] or list(RAW_POOLINGS)
    layer_order = [str(layer) for layer in range(evaluation.n_layers + 1)] + [FIRST_LAST]
    grid = raw.pivot(index="layers", columns="pooling", values="spearman").reindex(index=layer_order, columns=poolings)
    notes = (
        raw.pivot(index="layers", columns="pooling", values="note")
        .reindex(index=layer_order, columns=poolings)
        .astype(object)  # an empty grid pivots to float64 NaN: fill with text only once it holds objects
        .fillna("")
        .to_numpy(dtype=object)
    )
    values = grid.to_numpy(dtype=float)
    undefined = np.isnan(values)
    text = [
        [undefined_kind(note) if np.isnan(v) else f"{v:.1f}" for v, note in zip(line, note_line, strict=True)]
        for line, note_line in zip(values, notes, strict=True)
    ]
    hover = [
        [_hover_text(note or UNDEFINED, 60) if np.isnan(v) else "" for v, note in zip(line, note_line, strict=True)]
        for line, note_line in zip(values, notes, strict=True)
    ]
    labels = [_layer_label(layers) for layers in layer_order]
    figure = go.Figure(
        go.Heatmap(
            z=values,
            x=poolings,
            y=labels,
            text=text,
            texttemplate="%{text}",
            textfont={"size": 13},
            colorscale="Viridis",
            colorbar={"title": "Spearman"},
            hovertemplate="%{x} · %{y}: %{text}<extra></extra>",
        )
    )
    if undefined.any():
        figure.add_heatmap(
            z=np.where(undefined, 1.0, np.nan),
            x=poolings,
            y=labels,
            text=text,
            customdata=hover,
            texttemplate="<i>%{text}</i>",
            textfont={"size": 12, "color": "#343a40"},
            colorscale=[[0, NOISE_FILL], [1, NOISE_FILL]],
            showscale=False,
            name="undefined",
            hovertemplate="%{x} · %{y}: <b>%{text}</b><br>%{customdata}<extra></extra>",
            xgap=2,
            ygap=2,
        )
    if not undefined.all():
        best_row, best_col = np.unravel_index(np.nanargmax(values), values.shape)
        figure.add_shape(
            type="rect",
            x0=best_col - 0.5,
            x1=best_col + 0.5,
            y0=best_row - 0.5,
            y1=best_row + 0.5,
            line={"color": "#e8590c", "width": 4},
        )
    own = evaluation.row_of("model", "-1")
    own_text = "" if own is None else f" · own pipeline {evaluation.table.spearman.iloc[own]:.1f}"
    pooler = evaluation.row_of("pooler", "-1")  # last layer only: in the title, not a column
    if pooler is not None:
        value = evaluation.table.spearman.iloc[pooler]
        own_text += " · pooler " + ("undefined" if np.isnan(value) else f"{value:.1f}")
    figure.update_layout(
        title=f"{evaluation.model}{own_text}",
        xaxis_title="pooling",
        yaxis={"type": "category", "autorange": "reversed", "title": "layers"},
        margin={"t": 50, "b": 10, "l": 10, "r": 10},
        height=120 + 32 * len(layer_order),
    )
    return figure


@_shared
def cosine_scatter(evaluation: Evaluation, row: int, pairs: ScoredPairs) -> go.Figure:
    """Cosine against gold score for one configuration; colour = rank gap (where the ranking disagrees)."""
    cosines = evaluation.cosines[row]
    gap = rank_gaps(evaluation, row)
    hover = [f"{a}<br>{b}" for a, b in zip(pairs.sentence1, pairs.sentence2, strict=True)]
    value = evaluation.table.spearman.iloc[row]
    shown = (evaluation.table.note.iloc[row] or UNDEFINED) if np.isnan(value) else f"Spearman {value:.2f}"
    figure = go.Figure(
        go.Scattergl(
            x=evaluation.gold,
            y=cosines,
            mode="markers",
            text=hover,
            marker={
                "color": gap,
                "colorscale": "RdBu",
                "cmid": 0,
                "size": 7,
                "opacity": 0.75,
                "colorbar": {"title": "rank gap"},
            },
            hovertemplate=f"gold %{{x:.2f}} · {evaluation.score_name} %{{y:.3f}}<br>%{{text}}<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"{evaluation.model} · {describe_row(evaluation, row)}: {shown}",
        xaxis_title=f"gold score (0-{evaluation.scale:g})",
        yaxis_title=evaluation.score_name,
        margin={"t": 50, "b": 10, "l": 10, "r": 10},
        height=440,
    )
    return figure


# ---------------------------------------------------------------- Tokens & layers

KIND_COLORS = {"tokens": "#868e96", "cls": "#c2255c", "mean": "#2b8a3e", "max": "#1971c2"}


def _token_labels(tokens: tuple[str, ...]) -> list[str]:
    return [f"{position} {token}" for position, token in enumerate(tokens)]


@_shared
def token_layer_heatmap(
    matrix: np.ndarray, tokens: tuple[str, ...], measure: str, layers: tuple[int, ...]
) -> go.Figure:
    """Heatmap of one number per (layer, token), with what CLS, mean and max pooling take marked.

    Args:
        matrix: (n_hidden_states, T) from ``token_layer_matrix``.
        layers: the hidden-state indices the configuration in force pools (outlined rows).
    """
    labels = _token_labels(tokens)
    n_states, n_tokens = matrix.shape
    figure = go.Figure(
        go.Heatmap(
            z=matrix,
            x=list(range(n_tokens)),
            y=list(range(n_states)),
            colorscale="Viridis",
            colorbar={"title": {"text": measure.replace("_", " ")}},
            customdata=np.array([labels] * n_states),
            hovertemplate="layer %{y}, token %{customdata}: %{z:.3f}<extra></extra>",
        )
    )
    figure.add_shape(  # CLS pooling: column 0
        type="rect", x0=-0.5, x1=0.5, y0=-0.5, y1=n_states - 0.5, line={"color": "#c2255c", "width": 3}
    )
    figure.add_annotation(x=0, y=n_states - 0.5, text="CLS takes this column", showarrow=False, yshift=12)
    figure.add_shape(  # mean / max pooling: every real token
        type="line",
        x0=-0.5,
        x1=n_tokens - 0.5,
        y0=-0.9,
        y1=-0.9,
        line={"color": "#2b8a3e", "width": 4},
    )
    figure.add_annotation(
        x=(n_tokens - 1) / 2,
        y=-0.9,
        text="mean averages all these columns; max takes each dimension's largest (padding excluded)",
        showarrow=False,
        yshift=-14,
    )
    for layer in layers:
        figure.add_shape(
            type="rect",
            x0=-0.5,
            x1=n_tokens - 0.5,
            y0=layer - 0.5,
            y1=layer + 0.5,
            line={"color": "#f08c00", "width": 2, "dash": "dot"},
        )
    figure.update_layout(
        xaxis={"tickmode": "array", "tickvals": list(range(n_tokens)), "ticktext": labels, "tickangle": -45},
        yaxis={"title": "layer (0 = embeddings)", "dtick": 1},
        margin={"t": 40, "b": 20, "l": 10, "r": 10},
        height=380,
    )
    return figure


@_shared
def token_cosine_heatmap(matrix: np.ndarray, first: tuple[str, ...], second: tuple[str, ...], layer: int) -> go.Figure:
    """(T1, T2) cosine of every token of sentence 1 with every token of sentence 2 at one layer."""
    figure = go.Figure(
        go.Heatmap(
            z=matrix,
            x=_token_labels(second),
            y=_token_labels(first),
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            reversescale=True,
            colorbar={"title": {"text": "cosine"}},
            hovertemplate="%{y} · %{x}: %{z:.3f}<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"Token-to-token cosine at layer {layer}",
        xaxis={"title": "sentence 2", "tickangle": -45},
        yaxis={"title": "sentence 1", "autorange": "reversed"},
        margin={"t": 40, "b": 10, "l": 10, "r": 10},
        height=420,
    )
    return figure


# ---------------------------------------------------------------- Why this score


def _escaped_labels(tokens: Sequence[str], positions: Sequence[int]) -> list[str]:
    return [f"{position} {html.escape(tokens[position])}" for position in positions]


@_shared
def contribution_heatmap(explanation: Explanation, rows: Sequence[int], cols: Sequence[int]) -> go.Figure:
    """Token x token contributions to a score (``embedlab.tasks.explain``), for the rows and columns given (all of
    them for a short pair, the tokens that add the most for a long one). Hover: both tokens, the contribution and
    its share of the matrix's sum."""
    matrix = explanation.matrix[np.ix_(list(rows), list(cols))]
    total = float(explanation.matrix.sum())
    share = matrix / total if total else np.full_like(matrix, np.nan)
    first = _escaped_labels(explanation.tokens[0], rows)
    second = _escaped_labels(explanation.tokens[1], cols)
    limit = float(np.abs(matrix).max()) or 1.0
    figure = go.Figure(
        go.Heatmap(
            z=matrix,
            x=list(range(len(cols))),
            y=list(range(len(rows))),
            zmin=-limit,
            zmax=limit,
            colorscale="RdBu",
            reversescale=True,
            colorbar={"title": {"text": "adds"}},
            customdata=[
                [[a, b, 100 * float(x)] for b, x in zip(second, line, strict=True)]
                for a, line in zip(first, share, strict=True)
            ],
            hovertemplate="%{customdata[0]} · %{customdata[1]}: adds %{z:.4f} (%{customdata[2]:.1f}% of the sum)"
            "<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis={
            "title": "sentence 2",
            "tickmode": "array",
            "tickvals": list(range(len(cols))),
            "ticktext": second,
            "tickangle": -45,
        },
        yaxis={
            "title": "sentence 1",
            "tickmode": "array",
            "tickvals": list(range(len(rows))),
            "ticktext": first,
            "autorange": "reversed",
        },
        margin={"t": 20, "b": 10, "l": 10, "r": 10},
        height=max(300, 22 * len(rows) + 140),
    )
    return figure


@_shared
def token_strip(tokens: Sequence[str], totals: npt.NDArray[np.floating], per_row: int = 12) -> go.Figure:
    """A sentence's tokens in reading order, each coloured by how much it adds to the score (rows of
    ``per_row`` tokens, so a long sentence wraps instead of shrinking)."""
    n_rows = max(1, -(-len(tokens) // per_row))
    z = np.full((n_rows, per_row), np.nan)
    text = np.full((n_rows, per_row), "", dtype=object)
    z.flat[: len(tokens)] = totals
    text.flat[: len(tokens)] = [html.escape(token) for token in tokens]
    limit = float(np.nanmax(np.abs(totals))) if len(tokens) else 1.0
    figure = go.Figure(
        go.Heatmap(
            z=z,
            text=text,
            texttemplate="%{text}",
            zmin=-(limit or 1.0),
            zmax=limit or 1.0,
            colorscale="RdBu",
            reversescale=True,
            showscale=False,
            hovertemplate="%{text}: adds %{z:.4f}<extra></extra>",
            xgap=2,
            ygap=2,
        )
    )
    figure.update_layout(
        xaxis={"visible": False},
        yaxis={"visible": False, "autorange": "reversed"},
        margin={"t": 0, "b": 0, "l": 0, "r": 0},
        height=34 * n_rows + 10,
    )
    return figure


@_shared
def word_in_context_chart(table: pd.DataFrame, word: str) -> go.Figure:
    """Per layer: same-sense, different-sense and unrelated-word cosines of one word."""
    figure = go.Figure()
    for column, name, color, dash in (
        ("same_sense", "same sense", "#2b8a3e", "solid"),
        ("different_sense", "different sense", "#e8590c", "solid"),
        ("unrelated", "unrelated words", "#868e96", "dot"),
    ):
        figure.add_scatter(
            x=table.layer,
            y=table[column],
            mode="lines+markers",
            name=name,
            line={"color": color, "dash": dash},
            hovertemplate="layer %{x}: %{y:.3f}<extra>" + name + "</extra>",
        )
    figure.update_layout(
        title=f"'{word}' in context: cosine of its vectors at every layer",
        xaxis={"title": "layer (0 = embeddings)", "dtick": 1},
        yaxis={"title": "mean cosine"},
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 50, "b": 10, "l": 10, "r": 10},
        height=400,
    )
    return figure


@_shared
def anisotropy_chart(table: pd.DataFrame, post: str) -> go.Figure:
    """Mean cosine of random pairs by layer: solid without post-processing, dashed with ``post``."""
    figure = go.Figure()
    for kind in VECTOR_KINDS:
        for shown_post, dash in (("none", "solid"), (post, "dash")):
            if shown_post == "none" and dash == "dash":
                continue
            rows = table[(table.vectors == kind) & (table.post == shown_post)]
            name = kind if shown_post == "none" else f"{kind}, {shown_post}"
            figure.add_scatter(
                x=rows.layer,
                y=rows.mean_cosine,
                mode="lines+markers",
                name=name,
                line={"color": KIND_COLORS[kind], "dash": dash},
                hovertemplate="layer %{x}: %{y:.3f}<extra>" + name + "</extra>",
            )
    figure.update_layout(
        title="Anisotropy: mean cosine of random pairs, by layer",
        xaxis={"title": "layer (0 = embeddings)", "dtick": 1},
        yaxis={"title": "mean cosine of random pairs", "range": [-0.1, 1.05]},
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 50, "b": 10, "l": 10, "r": 10},
        height=420,
    )
    return figure


# ---------------------------------------------------------------- Train


def loss_figure(losses: Sequence[tuple[int, float]], evals: Sequence[tuple[int, float | None]] = ()) -> go.Figure:
    """A run's training loss by step, with the STS Spearman of the evaluation slice on a second axis.

    Args:
        losses: (step, loss) as the run logged them.
        evals: (step, Spearman x 100) of the evaluations during the run (None where it was undefined).
    """
    steps, values = [step for step, _ in losses], [loss for _, loss in losses]
    figure = go.Figure(go.Scatter(x=steps, y=values, mode="lines", name="training loss"))
    if evals:
        figure.add_trace(
            go.Scatter(
                x=[step for step, _ in evals],
                y=[value for _, value in evals],
                mode="lines+markers",
                name="STS Spearman (eval slice)",
                yaxis="y2",
            )
        )
    figure.update_layout(
        height=280,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis_title="step",
        yaxis_title="loss",
        yaxis2={"title": "Spearman x 100", "overlaying": "y", "side": "right"},
        legend={"orientation": "h", "y": 1.15},
    )
    return figure


# ---------------------------------------------------------------- Compare: what a score means (calibration)

BEFORE_COLOR = "#868e96"  # grey: the raw score read as a probability


@_shared
def reliability_diagram(
    before: tuple[tuple[float, ...], tuple[float, ...], tuple[int, ...]],
    after: tuple[tuple[float, ...], tuple[float, ...], tuple[int, ...]],
    curve: tuple[tuple[float, ...], tuple[float, ...]],
    score_name: str,
    color: str = TRAINED_COLOR,
) -> go.Figure:
    """Left: the reliability diagram on held-out pairs (mean probability given vs fraction that are "same meaning",
    one marker per non-empty bin, sized by its pairs; the diagonal is perfect calibration), before (the raw score
    read as a probability) and after calibration. Right: the fitted map from a score to P(same meaning).

    Args:
        before, after: (mean probability per bin, fraction same meaning per bin, pairs per bin).
        curve: (scores, probabilities) of the fitted map, scores ascending.
    """
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("Reliability on held-out pairs", f"P(same meaning) given the {score_name}"),
        horizontal_spacing=0.12,
    )
    figure.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#adb5bd"}, name="perfect", row=1, col=1
    )
    for (mean, fraction, counts), name, line_color in (
        (before, f"before: raw {score_name} as a probability", BEFORE_COLOR),
        (after, "after: calibrated", color),
    ):
        sizes = [6 + 18 * (n / max(1, max(counts, default=1))) ** 0.5 for n in counts]
        figure.add_scatter(
            x=list(mean),
            y=list(fraction),
            mode="lines+markers",
            name=name,
            marker={"size": sizes, "color": line_color},
            line={"color": line_color},
            customdata=list(counts),
            hovertemplate="given %{x:.2f} · observed %{y:.2f} · %{customdata} pairs<extra>" + name + "</extra>",
            row=1,
            col=1,
        )
    figure.add_scatter(
        x=list(curve[0]),
        y=list(curve[1]),
        mode="lines",
        line={"color": color, "shape": "hv"},
        name="fitted map",
        showlegend=False,
        hovertemplate=score_name + " %{x:.2f} -> %{y:.0%} same meaning<extra></extra>",
        row=1,
        col=2,
    )
    figure.update_xaxes(title_text="probability given", range=[-0.02, 1.02], row=1, col=1)
    figure.update_yaxes(title_text="fraction same meaning", range=[-0.02, 1.02], row=1, col=1)
    figure.update_xaxes(title_text=score_name, row=1, col=2)
    figure.update_yaxes(title_text="P(same meaning)", range=[-0.02, 1.02], tickformat=".0%", row=1, col=2)
    figure.update_layout(
        legend={"orientation": "h", "y": -0.2}, margin={"t": 40, "b": 10, "l": 10, "r": 10}, height=400
    )
    return figure
