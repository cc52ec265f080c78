"""The server's long-lived objects, kept out of the garbage collector's full passes.

Streamlit runs a full collection (``gc.collect(2)``, its ``runner.postScriptGC``) after every script run, so that a
session's cyclic garbage goes at once. A full pass walks every tracked object of the process, and once torch,
transformers, pandas, plotly and UMAP are imported and a model is loaded there are about 770,000 of them: 0.25-0.3 s
of CPU after every run, half of what a new session cost on every page. Nearly all of them live as long as the
process (modules, classes, models, cached results), so after the first run of each page (its imports done, its
shared caches filled) they are moved once into the permanent generation (``gc.freeze``), which collections skip.
Later garbage is collected as before; a frozen object is still freed when its last reference goes, and only a frozen
reference cycle would stay (at most what one first run of each page kept alive).
"""

from __future__ import annotations

import gc
import threading

_frozen: set[str] = set()  # the first runs (page names, "umap") after which the heap was frozen
_lock = threading.Lock()


def freeze_once(name: str) -> bool:
    """The first time ``name`` is seen in this process: collect, then freeze every object alive now. True if it did."""
    with _lock:
        if name in _frozen:
            return False
        _frozen.add(name)
        gc.collect()
        gc.freeze()
        return True
