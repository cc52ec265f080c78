"""A whole corpus on this machine: encoding as a queued job against a plain ``SentenceTransformer.encode``, the map's
fit, the map drawn in headless Chromium by the app's figure against Plotly alone, and neighbour queries (exact, and
the approximate index with its recall@10).

The sentences are the STS benchmark's (train + dev, ../shared/data/stsbenchmark/, each once), grown to the size
asked with simple perturbations of them (a word dropped, two neighbouring words swapped, a prefix added, the case
changed; seeded), so the corpus has the benchmark's lengths and vocabulary but is mostly near-duplicates.

    python bench/bench_corpus.py --size 10000 [--parts encode,map,browser,neighbours] [--threads 1]

Every figure is measured in one run; ratios compare two measurements made one after the other on the same
(busy) machine. Quoted in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import REPO_ROOT, yes

STS_DIR = REPO_ROOT.parent / "shared/data/stsbenchmark"
MODEL = "all-MiniLM-L6-v2"
PREFIXES = ("Also, ", "In short, ", "Reportedly, ", "Meanwhile, ", "Indeed, ")


def sts_sentences() -> list[str]:
    sentences: list[str] = []
    for split in ("sts-train.csv", "sts-dev.csv"):
        table = pd.read_csv(STS_DIR / split, sep="\t", header=None, quoting=3, dtype=str, on_bad_lines="skip")
        sentences += [*table[5].dropna(), *table[6].dropna()]
    return list(dict.fromkeys(s.strip() for s in sentences if s.strip()))


def perturbed(sentence: str, rng: random.Random) -> str:
    words = sentence.split()
    kind = rng.randrange(4)
    if kind == 0 and len(words) > 3:
        del words[rng.randrange(len(words))]
    elif kind == 1 and len(words) > 2:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    elif kind == 2:
        return rng.choice(PREFIXES) + sentence[0].lower() + sentence[1:]
    else:
        return sentence.upper() if rng.random() < 0.2 else sentence.lower()
    return " ".join(words)


def corpus(size: int) -> tuple[list[str], int]:
    """``size`` distinct texts: the STS sentences, then perturbations of them; (texts, how many are original)."""
    base = sts_sentences()
    rng = random.Random(0)
    texts = list(base[:size])
    seen = set(texts)
    while len(texts) < size:
        candidate = perturbed(rng.choice(base), rng)
        if candidate not in seen:
            seen.add(candidate)
            texts.append(candidate)
    return texts, min(size, len(base))


def bench_encode(texts: list[str], threads: int) -> dict:
    """One queued job encodes the texts (a Worker in this process, its model loaded before, as a worker that has
    encoded before holds it); right after each chunk it writes, a plain ``SentenceTransformer.encode`` encodes the
    same chunk's texts. So the two take turns every few seconds and the machine's drifting load falls alike on both:
    a job chunk's time runs from the end of the previous plain encode to the end of the chunk's report (its record
    write included); the plain encodes are timed on their own."""
    import torch
    from sentence_transformers import SentenceTransformer

    from embedlab.corpus.store import prepare_corpus
    from embedlab.corpus.texts import Corpus
    from embedlab.models.loading import packaged_model_path
    from embedlab.training.queue import EncodeRequest, JobQueue, Worker

    torch.set_num_threads(threads)
    plain_model = SentenceTransformer(packaged_model_path(), device="cpu")
    plain_model.encode(texts[:64])
    stored = prepare_corpus(MODEL, Corpus(tuple(texts), "bench"))
    if stored.done_chunks():
        raise SystemExit(f"{stored.folder} holds chunks already: use a fresh --models-dir")
    jobs = JobQueue()
    job = jobs.submit_encode(EncodeRequest(MODEL, stored.key, "bench", stored.n_texts, stored.n_chunks), owner="bench")
    plain_parts: list[np.ndarray] = []
    plain_times: list[float] = []
    job_times: list[float] = []
    resumed = [0.0]

    def after_chunk(_job_id: str, done: int) -> None:
        job_times.append(time.perf_counter() - resumed[0])
        first, end = stored.chunk_rows(done - 1)
        start = time.perf_counter()
        plain_parts.append(plain_model.encode(texts[first:end], convert_to_numpy=True))
        plain_times.append(time.perf_counter() - start)
        resumed[0] = time.perf_counter()

    worker = Worker(jobs, threads=threads, after_chunk=after_chunk)
    worker._load(MODEL)  # loaded before, as a worker that has encoded before holds it
    resumed[0] = time.perf_counter()
    worker.run(until_idle=True)
    record = jobs.record(job)
    assert record.state == "finished", record.message
    assert len(job_times) == stored.n_chunks, "a chunk went untimed"
    vectors, plain = stored.vectors(), np.concatenate(plain_parts)
    plain_s, job_s = sum(plain_times), sum(job_times)
    return {
        "texts": len(texts),
        "threads": threads,
        "chunks": stored.n_chunks,
        "plain_s": round(plain_s, 2),
        "job_s": round(job_s, 2),
        "job_record_s": round(record.seconds, 2),  # the job's own clock: includes the plain encodes between chunks
        "plain_texts_per_s": round(len(texts) / plain_s, 1),
        "job_texts_per_s": round(len(texts) / job_s, 1),
        "throughput_ratio": round(plain_s / job_s, 3),
        "chunk_ratio_range": [round(float(q), 3) for q in np.quantile(np.divide(plain_times, job_times), [0.1, 0.9])],
        "max_abs_diff": float(np.abs(vectors - plain).max()),
        "folder": str(stored.folder),
    }


def stored_vectors_of(texts: list[str]) -> np.ndarray:
    """The stored vectors of these texts; for a prefix of the 100,000-text corpus (--size 10000 after a 100,000
    encode), the first rows of that corpus's vectors (a text's vector does not depend on the others encoded beside
    it, up to float32 rounding)."""
    from embedlab.corpus.store import stored_vectors

    vectors = stored_vectors(MODEL, texts)
    if vectors is None and len(texts) < 100_000:
        larger, _ = corpus(100_000)
        if larger[: len(texts)] == texts and (whole := stored_vectors(MODEL, larger)) is not None:
            print(f"vectors: the first {len(texts):,} rows of the stored 100,000-text corpus")
            vectors = whole[: len(texts)]
    if vectors is None:
        raise SystemExit("encode first (--parts encode): the vectors are read from the corpus store")
    return vectors


def grown_vectors(base: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """``size`` rows: row i is base[i % len(base)] plus Gaussian noise of 0.2 times the rows' typical spread per
    dimension (a near-duplicate, as the perturbed texts are)."""
    rng = np.random.default_rng(seed)
    rows = base[np.arange(size) % len(base)]
    noise = rng.normal(size=rows.shape).astype(np.float32) * (0.2 * base.std(axis=0, keepdims=True))
    return (rows + noise).astype(np.float32)


def bench_map(vectors: np.ndarray) -> tuple[dict, np.ndarray]:
    from embedlab.corpus.mapping import corpus_map
    from embedlab.tasks.projection import warm_up

    start = time.perf_counter()
    warm_up()
    warm_s = time.perf_counter() - start
    start = time.perf_counter()
    drawn = corpus_map(vectors, "auto")
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    pca = corpus_map(vectors, "pca")
    pca_s = time.perf_counter() - start
    figures = {
        "umap_warm_up_s": round(warm_s, 2),
        "map_fit_s": round(fit_s, 2),
        "map_method": drawn.method,
        "fitted_on": drawn.fitted_on,
        "pca_s": round(pca_s, 2),
        "note": drawn.note,
    }
    del pca
    return figures, drawn.coords


def bench_neighbours(vectors: np.ndarray) -> dict:
    from embedlab.corpus.neighbours import NeighbourIndex, measure_recall

    exact = NeighbourIndex(vectors, approximate=False)
    exact_recall = measure_recall(exact, k=10, queries=200)
    approximate = NeighbourIndex(vectors, approximate=True)
    recall = measure_recall(approximate, k=10, queries=200)
    return {
        "exact_ms_per_query": round(exact_recall.exact_ms, 3),
        "approx_build_s": round(approximate.build_seconds, 2),
        "approx_ms_per_query": round(recall.index_ms, 3),
        "recall_at_10": round(recall.recall, 4),
    }


BARE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><script src="plotly.min.js"></script></head>
<body><div id="map" style="width:900px;height:560px"></div><script>
fetch("figure.json").then(r => r.json()).then(f => Plotly.newPlot("map", f.data, f.layout));
</script></body></html>"""

# The app's own chart (components/projection/map_chart.py) showing the saved figure: its JSON is read as a figure
# without validation, as the page hands over the figure it built.
APP_SCRIPT = """import sys
import plotly.graph_objects as go
from components.projection.map_chart import map_chart
figure = go.Figure()
figure.to_json = lambda: open(sys.argv[1]).read()
map_chart(figure, "map", 100_000_000)
"""

# The map asked for in a page that is already open (Plotly's code loaded by an earlier chart, as the app's first page
# loads it): the cost of the map itself, without either page's start.
OPEN_BARE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><script src="plotly.min.js"></script></head>
<body><button id="draw">Draw</button><div id="map" style="width:900px;height:560px"></div><script>
Plotly.newPlot("map", [{type: "scattergl", x: [0], y: [0], mode: "markers"}]);
document.getElementById("draw").onclick = () =>
  fetch("figure.json").then(r => r.json()).then(f => Plotly.newPlot("map", f.data, f.layout));
</script></body></html>"""

OPEN_APP_SCRIPT = """import sys
import plotly.graph_objects as go
import streamlit as st
from components.projection.map_chart import map_chart
figure = go.Figure(go.Scattergl(x=[0.0], y=[0.0], mode="markers"))
if st.button("Draw"):
    figure.to_json = lambda: open(sys.argv[1]).read()
map_chart(figure, "map", 100_000_000)
"""


def bench_browser(coords: np.ndarray, texts: list[str], rounds: int = 5) -> dict:
    """Time from navigation to a drawn map (Plotly's figure data in place and its WebGL canvas created): the app's
    figure (``corpus_map_figure``, clusters as colours) shown by the Projection page's chart (``map_chart``), and
    the same figure's JSON drawn by Plotly alone in a bare page served from disk, both in one headless Chromium.

    Two ways, each page a new browser tab: from a link (the page's own start included: Streamlit's frontend and
    session, or the bare page's ``plotly.min.js``), and in an open page (the page has drawn a one-point chart, so
    Plotly's code is loaded, as the app's first page loads it; the time runs from the click that asks for the map).
    The pages take turns, ``rounds`` times, so that the machine's drifting load falls alike on each."""
    import plotly
    import plotly.graph_objects as go
    from playwright.sync_api import sync_playwright

    from components.shared.figures import corpus_map_figure
    from embedlab.limits import MAX_DRAWN_POINTS
    from embedlab.replicas import free_port

    groups = [f"cluster {i % 8}" for i in range(len(texts))]
    region = None
    if len(texts) > MAX_DRAWN_POINTS:
        low, high = coords.min(axis=0), coords.max(axis=0)
        region = ((float(low[0]), float(high[0])), (float(low[1]), float(high[1])))
    figure = corpus_map_figure(coords, texts, groups, np.zeros(len(texts), bool), region, MAX_DRAWN_POINTS)
    folder = Path(tempfile.mkdtemp(prefix="bench-corpus-"))
    (folder / "figure.json").write_text(figure.to_json())
    (folder / "index.html").write_text(BARE_PAGE)
    # the fixed cost of each page: the same pages drawing a one-point map (Streamlit's frontend and session, or
    # plotly.min.js alone), to tell it from the cost that grows with the figure
    tiny = go.Figure(go.Scattergl(x=[0.0], y=[0.0], mode="markers"))
    (folder / "tiny.json").write_text(tiny.to_json())
    (folder / "tiny.html").write_text(BARE_PAGE.replace("figure.json", "tiny.json"))
    bundle = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    (folder / "plotly.min.js").write_bytes(bundle.read_bytes())
    (folder / "app.py").write_text(APP_SCRIPT)
    size_mb = (folder / "figure.json").stat().st_size / 1e6

    (folder / "open.html").write_text(OPEN_BARE_PAGE)
    (folder / "open_app.py").write_text(OPEN_APP_SCRIPT)

    def streamlit_app(script: str, figure_file: str, port: int) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(folder / script), "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--", str(folder / figure_file)],
            cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},  # the app's chart imported as the app does
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    bare_port, app_port, tiny_port, open_port = free_port(), free_port(), free_port(), free_port()
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "http.server", str(bare_port), "--bind", "127.0.0.1"],
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        streamlit_app("app.py", "figure.json", app_port),
        streamlit_app("app.py", "tiny.json", tiny_port),
        streamlit_app("open_app.py", "figure.json", open_port),
    ]
    points = """() => { const d = document.querySelector('.js-plotly-plot');
        return !!(d && d._fullData && d._fullData.length && d.querySelector('.gl-container canvas')); }"""
    whole_map = """() => { const d = document.querySelector('.js-plotly-plot');
        return !!(d && d._fullData && d._fullData.reduce((n, t) => n + (t.x ? t.x.length : 0), 0) > 1
                  && d.querySelector('.gl-container canvas')); }"""
    pages = {  # name -> (url, whether the map is asked for in the open page)
        "bare": (f"http://127.0.0.1:{bare_port}/index.html", False),
        "app": (f"http://127.0.0.1:{app_port}/", False),
        "bare_fixed": (f"http://127.0.0.1:{bare_port}/tiny.html", False),
        "app_fixed": (f"http://127.0.0.1:{tiny_port}/", False),
        "bare_open": (f"http://127.0.0.1:{bare_port}/open.html", True),
        "app_open": (f"http://127.0.0.1:{open_port}/", True),
    }
    times: dict[str, list[float]] = {name: [] for name in pages}

    def wait_in_frames(page, condition: str, timeout_s: float = 180) -> None:
        """Until ``condition`` holds in the page or one of its frames (the app draws in a component frame)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for frame in page.frames:
                try:
                    if frame.evaluate(condition):
                        return
                except Exception:  # a frame navigating or gone meanwhile
                    pass
            time.sleep(0.03)
        raise TimeoutError(f"not drawn within {timeout_s:g} s")

    def timed(browser, url: str, in_open_page: bool) -> float:
        page = browser.new_page(viewport={"width": 1200, "height": 900}, device_scale_factor=1)
        try:
            deadline = time.monotonic() + 120
            while True:  # the servers start in the background: navigate once they answer
                try:
                    start = time.perf_counter()
                    page.goto(url, timeout=60_000)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    page.wait_for_timeout(500)
            if in_open_page:  # the page has drawn its one point; now the map is asked for
                wait_in_frames(page, points)
                button = page.get_by_role("button", name="Draw")
                button.wait_for()
                start = time.perf_counter()
                button.click()
                wait_in_frames(page, whole_map)
            else:
                wait_in_frames(page, points)
            return time.perf_counter() - start
        finally:
            page.close()

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--use-gl=swiftshader", "--enable-unsafe-swiftshader"]
            )
            for url, in_open_page in pages.values():  # once each, not timed: every server has started
                timed(browser, url, in_open_page)
            for _ in range(rounds):  # round-robin: the machine's load drifts alike for every page
                for name, (url, in_open_page) in pages.items():
                    times[name].append(timed(browser, url, in_open_page))
            browser.close()
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=30)
    median = {name: float(np.median(runs)) for name, runs in times.items()}
    return {
        "figure_json_mb": round(size_mb, 1),
        "points_drawn": int(sum(len(trace.x) for trace in figure.data if trace.type == "scattergl")),
        "density": region is not None,
        "rounds": rounds,
        "bare_plotly_s": round(median["bare"], 2),
        "app_s": round(median["app"], 2),
        "app_over_bare": round(median["app"] / median["bare"], 2),
        "bare_fixed_s": round(median["bare_fixed"], 2),  # the bare page drawing one point
        "app_fixed_s": round(median["app_fixed"], 2),  # Streamlit drawing one point: its frontend, session, element
        "app_over_bare_beyond_fixed": round(
            (median["app"] - median["app_fixed"]) / max(median["bare"] - median["bare_fixed"], 1e-9), 2
        ),
        "bare_open_s": round(median["bare_open"], 2),  # the map asked for in an open page: the map's own cost
        "app_open_s": round(median["app_open"], 2),
        "app_open_over_bare_open": round(median["app_open"] / median["bare_open"], 2),
        "runs": {name: [round(t, 2) for t in runs] for name, runs in times.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--parts", default="encode,map,browser,neighbours")
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument("--rounds", type=int, default=5, help="browser: times each page is drawn (median)")
    parser.add_argument("--models-dir", default=str(Path(tempfile.gettempdir()) / "bench-corpus-models"))
    parser.add_argument(
        "--vectors-from",
        type=int,
        default=0,
        metavar="N",
        help="for map, browser and neighbours without encoding SIZE texts: the stored vectors of the first N texts "
        "(encoded before with --size N), repeated to SIZE rows with small Gaussian noise (said in the output)",
    )
    args = parser.parse_args()
    os.environ["EMBEDLAB_MODELS_DIR"] = args.models_dir
    os.environ["EMBEDLAB_AUTO_WORKER"] = "0"
    os.environ["EMBEDLAB_QUEUE"] = ""  # empty: the SQLite queue in the models dir, whatever the shell set
    parts = args.parts.split(",")
    texts, original = corpus(args.size)
    print(f"{len(texts):,} texts: {original:,} STS sentences, {len(texts) - original:,} perturbations of them")
    results: dict = {"size": len(texts), "original": original}
    if "encode" in parts:
        results["encode"] = figures = bench_encode(texts, args.threads)
        print("encode:", json.dumps(figures))
        print(f"  job vs plain throughput {figures['throughput_ratio']:.3f} (target >= 0.95: "
              f"{yes(figures['throughput_ratio'] >= 0.95)})")  # fmt: skip
    vectors = None
    if {"map", "browser", "neighbours"} & set(parts):
        if args.vectors_from:
            vectors = grown_vectors(stored_vectors_of(texts[: args.vectors_from]), len(texts))
            print(f"vectors: the {args.vectors_from:,} encoded ones repeated to {len(texts):,} rows with noise")
            results["vectors_from"] = args.vectors_from
        else:
            vectors = stored_vectors_of(texts)
    coords = None
    if "map" in parts or "browser" in parts:
        results["map"], coords = bench_map(vectors)
        print("map:", json.dumps(results["map"]))
    if "browser" in parts:
        results["browser"] = figures = bench_browser(coords, texts, args.rounds)
        print("browser:", json.dumps(figures))
        print(f"  app vs bare Plotly, from a link: {figures['app_over_bare']:.2f}x (target <= 1.5: "
              f"{yes(figures['app_over_bare'] <= 1.5)}); in an open page: {figures['app_open_over_bare_open']:.2f}x "
              f"(target <= 1.5: {yes(figures['app_open_over_bare_open'] <= 1.5)})")  # fmt: skip
    if "neighbours" in parts:
        results["neighbours"] = figures = bench_neighbours(vectors)
        print("neighbours:", json.dumps(figures))
        print(f"  recall@10 {figures['recall_at_10']:.4f} (target >= 0.95: {yes(figures['recall_at_10'] >= 0.95)})")


if __name__ == "__main__":
    main()
