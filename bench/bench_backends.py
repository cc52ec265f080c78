"""Every faster or smaller variant of a model against PyTorch fp32, in one run: encode speed at 1 and 2 threads
(rounds interleaved, best of each), STS dev Spearman and the largest cosine change, and whether the server may use a
backend for the trained model's encodes (EMBEDLAB_FAST_BACKEND: only an fp32 engine that keeps every score to
1e-4 and is faster at the server's thread setting; int8 is never chosen here).

    python bench/bench_backends.py [--model all-MiniLM-L6-v2] [--sentences 1000] [--rounds 3] [--threads 1 2]
        [--static DIR]   # also a static model distilled from it (python -m embedlab distill --model M --out DIR)

Exports go to the app's cache ($XDG_CACHE_HOME/embedlab/backends) and are reused by the app.
"""

from __future__ import annotations

import argparse
import time

import _common  # noqa: F401  (offline, repository root on sys.path)
import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

import embedlab.scorers  # noqa: F401  (registers the kinds: 'MODEL (ONNX)' is a reference from here on)
from embedlab.corpora import reference_sentences
from embedlab.embedding.compression import bytes_per_vector, compress
from embedlab.models.backends import BackendModel, backend_ref
from embedlab.models.identity import resolve_model
from embedlab.models.loading import load_model
from embedlab.settings import get_settings

BACKENDS = [("onnx", "fp32"), ("onnx", "int8"), ("openvino", "fp32"), ("openvino", "int8")]
KEEPS = 1e-4  # the largest cosine change a variant the server may use silently is allowed


def encode_speed(encode, texts: list[str]) -> tuple[float, np.ndarray]:
    encode(texts[:16])  # warm-up
    start = time.perf_counter()
    vectors = encode(texts)
    return len(texts) / (time.perf_counter() - start), np.asarray(vectors, dtype=np.float32)


def cosines(vectors: np.ndarray, index: dict[str, int], pairs: pd.DataFrame) -> np.ndarray:
    first = vectors[[index[text] for text in pairs["sentence1"]]]
    second = vectors[[index[text] for text in pairs["sentence2"]]]
    first = first / np.maximum(np.linalg.norm(first, axis=1, keepdims=True), 1e-12)
    second = second / np.maximum(np.linalg.norm(second, axis=1, keepdims=True), 1e-12)
    return (first * second).sum(axis=1)


def markdown_table(table: pd.DataFrame) -> str:
    """The table as Markdown (blank where not measured), for docs/benchmarks.md."""

    def cell(value) -> str:
        if isinstance(value, float):
            return "" if np.isnan(value) else f"{value:.2g}" if abs(value) < 0.01 else f"{value:g}"
        return str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--sentences", type=int, default=1000, help="STS dev sentences timed (all for Spearman)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--static", help="a static model folder distilled from --model: timed and scored beside it")
    args = parser.parse_args()
    from embedlab.data.pairfiles import read_pairs

    pairs = read_pairs(_common.STS_DEV)
    texts = _common.unique_sentences(pairs)
    index = {text: i for i, text in enumerate(texts)}
    gold = pairs["score"].astype(float).to_numpy()
    timed = texts[: args.sentences]
    st_model = load_model(args.model).st_model
    refs = {"PyTorch fp32": None}
    for backend, quantize in BACKENDS:
        ref = backend_ref(args.model, backend, "int8" if quantize == "int8" else None)
        refs[ref.removeprefix(args.model).strip(" ()")] = ref
    static = None
    if args.static:  # what the app's static kind runs: SentenceTransformer(folder).encode (embedlab/models/static.py)
        from sentence_transformers import SentenceTransformer

        static = SentenceTransformer(args.static, device="cpu")
        refs[f"static ({static.get_sentence_embedding_dimension()} dims)"] = "static"
    encoders = {}  # (name, threads) -> encode
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name, ref in refs.items():
            if ref == "static":
                encoders[(name, threads)] = lambda texts: static.encode(texts, batch_size=64, show_progress_bar=False)
            elif ref is None:
                encoders[(name, threads)] = lambda texts: st_model.encode(texts, batch_size=64, show_progress_bar=False)
            else:  # the engine's own threads: set when its session opens
                encoders[(name, threads)] = BackendModel(resolve_model(ref), threads=threads).encode_uncached
    speeds: dict[tuple[str, int], list[float]] = {}
    for round_ in range(args.rounds):  # interleaved: the machine's load falls on every variant alike
        for threads in args.threads:
            torch.set_num_threads(threads)
            for name in refs:
                speed, _ = encode_speed(encoders[(name, threads)], timed)
                speeds.setdefault((name, threads), []).append(speed)
        print(f"round {round_ + 1}/{args.rounds} done", flush=True)
    torch.set_num_threads(1)
    vectors = {name: np.asarray(encoders[(name, args.threads[0])](texts), dtype=np.float32) for name in refs}
    reference = cosines(vectors["PyTorch fp32"], index, pairs)
    best_torch = max(max(speeds[("PyTorch fp32", threads)]) for threads in args.threads)
    server = get_settings().server_threads
    rows = []
    for name in refs:
        scores = cosines(vectors[name], index, pairs)
        row = {"variant": name}
        for threads in args.threads:
            row[f"{threads} thread(s), sentences/s"] = round(max(speeds[(name, threads)]))
            row[f"{threads} thread(s) vs PyTorch best"] = round(max(speeds[(name, threads)]) / best_torch, 2)
        row["STS dev Spearman"] = round(100 * spearmanr(scores, gold).statistic, 2)
        row["largest cosine change"] = float(np.abs(scores - reference).max())
        rows.append(row)
    calibration = load_model(args.model).st_model.encode(reference_sentences(), show_progress_bar=False)
    width = vectors["PyTorch fp32"].shape[1]
    for precision, dims in (("int8", None), ("binary", None), ("float32", 128), ("float32", 64)):
        codes = compress(vectors["PyTorch fp32"], precision, dims, calibration)
        scores = cosines(codes, index, pairs)
        name = " · ".join([f"{precision} vectors"] * (precision != "float32") + [f"first {dims} dims"] * bool(dims))
        rows.append(
            {
                "variant": f"{name} ({bytes_per_vector(precision, dims or width)} bytes)",
                "STS dev Spearman": round(100 * spearmanr(scores, gold).statistic, 2),
                "largest cosine change": float(np.abs(scores - reference).max()),
            }
        )
    table = pd.DataFrame(rows)
    print(f"\n{args.model}, STS dev ({len(texts)} sentences; {len(timed)} timed), best of {args.rounds} rounds")
    print(markdown_table(table))
    torch_speed = max(speeds[("PyTorch fp32", server)]) if ("PyTorch fp32", server) in speeds else None
    allowed = [
        name
        for name in ("ONNX", "OpenVINO")
        if torch_speed
        and float(table.set_index("variant").loc[name, "largest cosine change"]) <= KEEPS
        and max(speeds[(name, server)]) > torch_speed
    ]
    print(
        f"\nServer threads {server}: "
        + (
            f"EMBEDLAB_FAST_BACKEND={allowed[0].lower()} keeps every score to {KEEPS:g} and is faster here."
            if allowed
            else f"no fp32 engine is faster than PyTorch at {server} thread(s) while keeping scores to {KEEPS:g}: "
            "leave EMBEDLAB_FAST_BACKEND empty."
        )
    )


if __name__ == "__main__":
    main()
