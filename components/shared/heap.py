"""The server's long-lived objects, kept out of the garbage collector's full passes.

Streamlit runs a full collection (``gc.collect(2)``, its ``runner.postScriptGC``) after every script run, so that a
session's cyclic garbage goes at once. A full pass walks every tracked object of the process, and once torch,
transformers, pandas, plotly and UMAP are imported and a model is loaded there are about 770,000 of them: 0.25-0.3 s
of CPU after every run, half of what a new session cost on every page. Nearly all of them live as long as the
process (modules, classes, models, cached results), so after the first run of each page (its imports done, its
shared caches filled) they are moved once into the permanent generation (``gc.freeze``), which collections skip.
Later garbage is collected as before; a frozen object is still freed when its last reference goes, and only a frozen
reference cycle would stay (at most what one first run of each page kept alive).

Even so, a full pass per run does not scale with a class: it holds the GIL while it walks every object of every
session still running, so 100 sessions opened at once paid 100 passes over 100 sessions' objects one after the other
(py-spy on the server during ``bench/bench_classroom.py --sessions 100``: 59 % of the time the GIL was held went to
that pass, and the sessions all finished together). So the app turns Streamlit's pass off (``runner.postScriptGC =
false`` in ``.streamlit/config.toml``) and ``collect_now_and_then`` runs one at the end of a run only when none has
run for ``COLLECT_EVERY_S``: a lone session still gets its garbage collected at once, a class gets a pass every
``COLLECT_EVERY_S`` at most instead of one per session (and Python's own generational collections run as usual).
With a class open a pass itself grows slow, so the interval also stretches until passes take at most ``GC_SHARE``
of the time.
"""

from __future__ import annotations

import gc
import threading
import time

COLLECT_EVERY_S = 2.0  # at most one full collection per this many seconds, whatever the number of sessions
GC_SHARE = 0.05  # full collections take at most this share of the time, however many sessions are open
YOUNG_THRESHOLD = 50_000  # allocations between young-generation collections (Python's default: 700)

_frozen: set[str] = set()  # the first runs (page names, "umap") after which the heap was frozen
_lock = threading.Lock()
_collecting = threading.Lock()
_next_collection = [float("-inf")]  # time.monotonic() before which no full collection starts here


def fewer_young_collections() -> None:
    """Collect the young generation every ``YOUNG_THRESHOLD`` allocations instead of every 700. A class's sessions
    allocate millions of short-lived objects (protobuf messages, frames, figures), and every tenth young collection
    promotes into the next: the collections cascade and the oldest are walked again and again. With a hundred
    Compare sessions at once on one server this took p95 from 9.1 and 8.1 s to 7.6 and 7.4 s (alternated runs,
    same hour) at the same resident memory. Idempotent."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def freeze_once(name: str) -> bool:
    """The first time ``name`` is seen in this process: collect, then freeze every object alive now. True if it did."""
    with _lock:
        if name in _frozen:
            return False
        _frozen.add(name)
        gc.collect()
        gc.freeze()
        return True


def collect_now_and_then(every_s: float = COLLECT_EVERY_S, now: float | None = None, share: float = GC_SHARE) -> bool:
    """At the end of a run: a full collection when the last one here is ``every_s`` seconds old, and old enough that
    full collections take at most ``share`` of the time (a pass that took 0.3 s waits 6 s at 5 %), and no other
    session is collecting (that one does not wait). True if this call collected.

    A pass walks every object of every session still open, so its cost grows with the class: with a hundred sessions
    at once the fixed 2 s interval alone spent 13 % of the server's time in these passes (py-spy, GIL samples)."""
    now = time.monotonic() if now is None else now
    if now < _next_collection[0] or not _collecting.acquire(blocking=False):
        return False
    try:
        if now < _next_collection[0]:  # another session collected between the look and the lock
            return False
        _next_collection[0] = now + every_s  # while this pass runs, no other session starts one
        started = time.perf_counter()
        gc.collect()
        _next_collection[0] = now + max(every_s, (time.perf_counter() - started) / share)
        return True
    finally:
        _collecting.release()
