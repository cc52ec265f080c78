"""The corpus map drawn by Plotly alone in a component frame, with the rows a box or lasso selection picked.

Why not ``st.plotly_chart``: its chart element passes the whole figure through ``JSON.stringify``, forty string
replacements and ``JSON.parse`` to apply its theme, and draws it again after mounting; for a 100,000-sentence map
(1.7 MB of figure) that made the app take twice Plotly's own time (bench/bench_corpus.py). The frame
(``assets/map_chart/index.html``) draws the figure's JSON once with ``Plotly.react`` and does not redraw it when a
rerun sends the same map.

The frame's files are the page in ``assets/`` and ``plotly.min.js`` from the installed plotly package, copied once
per process into a folder named by their content (no JavaScript bundle in git; every replica agrees on the folder).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from functools import cache
from pathlib import Path

import plotly
import plotly.graph_objects as go
import streamlit.components.v1 as components

from embedlab.corpus.mapping import selected_rows

PAGE = Path(__file__).resolve().parents[2] / "assets" / "map_chart" / "index.html"
BUNDLE = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def _folder() -> Path:
    """The component's folder: index.html and plotly.min.js, written once (atomically: replicas may race)."""
    page = PAGE.read_bytes()
    digest = hashlib.sha256(page + plotly.__version__.encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"embedlab-map-chart-{digest}"
    if (folder / "index.html").is_file() and (folder / "plotly.min.js").is_file():
        return folder
    staging = Path(tempfile.mkdtemp(prefix="embedlab-map-chart-", dir=folder.parent))
    shutil.copyfile(BUNDLE, staging / "plotly.min.js")
    (staging / "index.html").write_bytes(page)  # last: its presence means the folder is whole
    try:
        os.replace(staging, folder)
    except OSError:  # another process put it there first (a non-empty folder cannot be replaced)
        shutil.rmtree(staging, ignore_errors=True)
    return folder


@cache
def _component():
    return components.declare_component("corpus_map", path=str(_folder()))


def map_chart(figure: go.Figure, key: str, n_rows: int, height: int = 560) -> list[int]:
    """Draw ``figure`` (its points' customdata = row numbers) and return the rows of the current selection, read
    from what the browser sent by ``embedlab.corpus.mapping.selected_rows`` (untrusted input)."""
    value = _component()(spec=figure.to_json(), height=height, key=key, default=None)
    return selected_rows(value, n_rows)
