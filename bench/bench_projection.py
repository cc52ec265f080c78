"""Projection benchmark: the first-run cost of UMAP, then whole projections with encoding included.

Run from the repository root:  python bench/bench_projection.py [--rounds 1]

Figures, all measured in this one run:
    1. first-run cost, in a fresh interpreter: ``import umap``, then the first fit (``warm_up``: numba compilation);
    2. after warm-up, for the bundled set (400 sentences) and 2,000 unique STS benchmark dev sentences, with a fresh
       Encoder each round (the model itself is loaded once, as the app does): encoding (one forward pass serves
       both configurations), then per configuration UMAP 2D, label agreement (bundled set only) and PCA;
       "page" = encoding + raw and trained UMAP, what the Projection page waits for on a new sentence set;
    3. UMAP's own cosine path (no precomputed neighbour graph) against the engine's, same 2,000 vectors;
    4. placing 3 typed sentences on the fitted 2,000-sentence map (encoding them + UMAP's transform), against
       fitting the map again: what "your own sentence on the map" costs instead of a refit.
Target: 2,000 sentences, one configuration, encoding included, under 10 s after warm-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import warnings

import _common  # first: puts the Hugging Face libraries offline and the repository root on sys.path
import numpy as np

from embedlab.data.pairfiles import read_pairs
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.specs import EmbedSpec
from embedlab.models.loading import PACKAGED, load_model
from embedlab.tasks.projection import (
    ProjectionSettings,
    bundled_sentences,
    fit_projection,
    label_agreement,
    project,
    unit_rows,
    warm_up,
)

N_STS = 2000
TARGET_S = 10.0
RAW = EmbedSpec(PACKAGED, "cls", "-1")  # the page's offline default raw configuration
TRAINED = EmbedSpec(PACKAGED, "model")
FIRST_RUN = """
import time
start = time.perf_counter()
import umap
imported = time.perf_counter()
from embedlab.tasks.projection import warm_up
warm_up()
print(imported - start, time.perf_counter() - imported)
"""


CPU_SECONDS: dict[str, float] = {}  # process CPU time of the last call of each figure, all threads


def seconds(run, name: str = "") -> tuple[float, object]:
    """Wall seconds of run() (and its CPU seconds in CPU_SECONDS[name]: less sensitive to a busy machine)."""
    start, cpu = time.perf_counter(), time.process_time()
    result = run()
    CPU_SECONDS[name] = time.process_time() - cpu
    return time.perf_counter() - start, result


def first_run_cost() -> tuple[float, float]:
    """(import umap, first fit) in a fresh interpreter that has already imported the engine, as the app has."""
    code = "import embedlab.embedding.encoder, embedlab.models.loading\n" + FIRST_RUN
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=_common.REPO_ROOT, capture_output=True, text=True, check=True, timeout=600
    )
    imported, fitted = (float(value) for value in done.stdout.split()[-2:])
    return imported, fitted


def sts_sentences() -> list[str]:
    return _common.unique_sentences(read_pairs(_common.STS_DEV))[:N_STS]


def one_round(model, sentences: list[str], labels: list[str] | None) -> tuple[dict[str, float], np.ndarray]:
    """Figures of one round, and the trained vectors."""
    encoder = Encoder(model)  # fresh: every sentence goes through the model
    figures: dict[str, float] = {}
    figures["encode"], states = seconds(lambda: encoder.states(sentences), "encode")
    figures["encode cpu"] = CPU_SECONDS["encode"]
    passes = encoder.forward_passes
    for name, spec in (("raw", RAW), ("trained", TRAINED)):
        vectors = encoder.vectors(states, spec)
        figures[f"{name} umap"], _ = seconds(lambda v=vectors: project(v, ProjectionSettings()), "umap")
        figures[f"{name} umap cpu"] = CPU_SECONDS["umap"]
        figures[f"{name} pca"], _ = seconds(lambda v=vectors: project(v, ProjectionSettings(method="pca")))
        if labels is not None:
            figures[f"{name} agreement"], found = seconds(lambda v=vectors: label_agreement(v, labels))
            figures[f"{name} agreement value"] = found.rate
    assert encoder.forward_passes == passes, "a configuration change ran the model again"
    figures["one configuration"] = figures["encode"] + figures["trained umap"]
    figures["page"] = figures["encode"] + figures["raw umap"] + figures["trained umap"]
    return figures, encoder.vectors(states, TRAINED)


def umap_own_path(vectors: np.ndarray) -> float:
    import umap

    reducer = umap.UMAP(n_neighbors=15, min_dist=0.1, metric="cosine", random_state=42)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        elapsed, _ = seconds(lambda: reducer.fit_transform(unit_rows(vectors)))
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="rounds per set (medians are printed)")
    args = parser.parse_args()

    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other work slows every figure)")
    imported, fitted = first_run_cost()
    print(f"first run (fresh interpreter): import umap {imported:.1f} s + first fit (numba) {fitted:.1f} s")
    print(f"                               = {imported + fitted:.1f} s, paid once per server, in the background")

    warm_seconds, _ = seconds(warm_up)
    print(f"warm-up in this process: {warm_seconds:.1f} s")
    model = load_model(PACKAGED)
    Encoder(model).states(["Warm the model up once."])

    bundled = bundled_sentences()
    sets = {
        f"bundled ({len(bundled)})": (list(bundled.sentences), list(bundled.labels)),
        f"STS dev ({N_STS})": (sts_sentences(), None),
    }
    results: dict[str, dict[str, float]] = {}
    for name, (sentences, labels) in sets.items():
        rounds = [one_round(model, sentences, labels) for _ in range(args.rounds)]
        results[name] = {key: statistics.median(r[key] for r, _ in rounds) for key in rounds[0][0]}
        vectors = rounds[-1][1]  # the last set's (STS) trained vectors, for the UMAP comparison

    keys = [
        "encode",
        "encode cpu",
        "raw umap",
        "raw umap cpu",
        "trained umap",
        "trained umap cpu",
        "raw pca",
        "trained pca",
        "one configuration",
        "page",
    ]
    load = os.getloadavg()[0]
    print(f"\nafter warm-up, medians of {args.rounds} round(s), wall seconds unless 'cpu' (process CPU seconds, all")
    print(f"threads); fresh Encoder: encoding included; load average at the end: {load:.1f} on {os.cpu_count()} cores")
    print(f"{'':24}" + "".join(f"{name:>18}" for name in results))
    for key in keys:
        print(f"{key:24}" + "".join(f"{figures[key]:>18.2f}" for figures in results.values()))
    bundled_figures = results[f"bundled ({len(bundled)})"]
    print(
        f"label agreement, bundled set: raw {bundled_figures['raw agreement value']:.0%}, "
        f"trained {bundled_figures['trained agreement value']:.0%} "
        f"(computed in {bundled_figures['trained agreement']:.2f} s)"
    )

    sts = results[f"STS dev ({N_STS})"]
    verdict = "met" if sts["one configuration"] < TARGET_S else "MISSED"
    print(
        f"\ntarget: {N_STS} sentences, one configuration, encoding included < {TARGET_S:.0f} s: "
        f"{sts['one configuration']:.1f} s, {verdict}"
    )
    page_verdict = "met" if sts["page"] < TARGET_S else "missed"
    print(f"        whole page (encoding + both UMAPs): {sts['page']:.1f} s, {page_verdict}")

    fitted = fit_projection(vectors, ProjectionSettings())
    typed = ["How old are you?", "A man is playing a guitar.", "The stock market fell sharply today."]
    encoder = Encoder(model)
    fitted.place(encoder.embed(typed[:1], TRAINED))  # first transform compiles its numba code (not counted)
    placing = [seconds(lambda: fitted.place(Encoder(model).embed(typed, TRAINED)))[0] for _ in range(3)]
    refit, _ = seconds(lambda: fit_projection(vectors, ProjectionSettings()))
    place_median = statistics.median(placing)
    print(
        f"\nplacing {len(typed)} typed sentences on the fitted {N_STS}-sentence map (encoding included): "
        f"{place_median:.2f} s; fitting the map again: {refit:.2f} s ({refit / place_median:.0f}x)"
    )

    own = umap_own_path(vectors)
    engine, _ = seconds(lambda: project(vectors, ProjectionSettings()))
    print(
        f"\nUMAP on {N_STS} vectors: its own cosine path {own:.2f} s, engine (exact cosine graph handed over) "
        f"{engine:.2f} s: {own / engine:.1f}x"
    )


if __name__ == "__main__":
    main()
