"""What a retrieval run costs against one encode of its corpus, and what the bundled set shows (docs/benchmarks.md).

Run from the repository root:  python bench/bench_retrieval.py [--queries 100 --documents 1000] [--rounds 3]
                               python bench/bench_retrieval.py --contrast

Cost (default): a slice of the bundled STS dev paraphrase set (``--queries`` queries, their relevant documents and
other documents up to ``--documents``; 0 and 0 for the whole set), all-MiniLM-L6-v2. Interleaved rounds, each on
empty caches, medians:
    1. one encode of the corpus: plain ``SentenceTransformer.encode(corpus, batch_size=32)``;
    2. a bi-encoder retrieval run as the app and ``retrieve`` do it (``embedlab.retrieval``: a fresh Encoder encodes
       the corpus and the queries, every cosine, the top 100 per query, the six metrics): its time over (1), target
       at most 1.2x;
    3. the same run re-ranked by a cross-encoder (the packaged backbone with a new head: the cost of any
       cross-encoder of that size) over the top ``--top-k``: its time over (1) and its model passes (N + Q + Q x k).
Contrast (``--contrast``): the whole bundled set, nDCG@10, MRR@10 and Recall@1/10 for BM25, the packaged model's own
pipeline, raw pooling of the same model (CLS of the last layer, mean of the embedding layer) and a random-weight
BERT (``untrained-bert``, mean of the last layer), with the paired test of the own pipeline against each.
The machine's load average is printed: the seconds depend on it, the passes and the metrics do not.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import _common  # noqa: F401  (first: puts the Hugging Face libraries offline and the repository root on sys.path)

from embedlab.embedding.encoder import Encoder
from embedlab.embedding.specs import EmbedSpec
from embedlab.models.loading import PACKAGED, UNTRAINED, load_model, packaged_model_path
from embedlab.retrieval.data import bundled_sts, subset
from embedlab.retrieval.evaluation import build_report
from embedlab.retrieval.systems import bm25_run, rerank_run, vector_run
from embedlab.scorers.registry import open_scorer


def timed(run) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process, the value)."""
    start, cpu = time.perf_counter(), time.process_time()
    value = run()
    return time.perf_counter() - start, time.process_time() - cpu, value


def cost(args: argparse.Namespace) -> None:
    from sentence_transformers import CrossEncoder, SentenceTransformer

    data = bundled_sts(_common.STS_DEV)
    if args.queries:
        data = subset(data, args.queries, args.documents)
    corpus = list(data.corpus.values())
    model = load_model(PACKAGED)
    plain = SentenceTransformer(packaged_model_path(), device="cpu")
    cross_dir = tempfile.mkdtemp(prefix="bench-cross-")
    CrossEncoder(packaged_model_path(), num_labels=1, device="cpu").save(cross_dir)
    encode_s, run_s, rerank_s, passes = [], [], [], []
    encode_cpu, run_cpu, rerank_cpu = [], [], []
    for _ in range(args.rounds):
        wall, cpu, _ = timed(lambda: plain.encode(corpus, batch_size=32))
        encode_s.append(wall)
        encode_cpu.append(cpu)
        engine = Encoder(model)
        scorer = open_scorer(PACKAGED, engine=lambda kind, model_id, engine=engine: engine)
        cross = open_scorer(cross_dir)  # loaded before the clock starts, fresh each round: its pair cache is empty
        start, cpu = time.perf_counter(), time.process_time()
        run = vector_run(data, scorer)
        build_report(data, [run])
        run_s.append(time.perf_counter() - start)
        run_cpu.append(time.process_time() - cpu)
        reranked = rerank_run(data, run, cross, args.top_k)
        build_report(data, [reranked])
        rerank_s.append(time.perf_counter() - start)
        rerank_cpu.append(time.process_time() - cpu)
        passes.append((run.passes, reranked.passes))
    encode, retrieve, rerank = (statistics.median(values) for values in (encode_s, run_s, rerank_s))
    print(f"{data.describe()}; load average {os.getloadavg()[0]:.1f}; {args.rounds} rounds (medians)")
    print(f"one encode of the corpus (SentenceTransformer.encode): {encode:.2f} s")
    print(
        f"bi-encoder retrieval run: {retrieve:.2f} s = {retrieve / encode:.2f}x one corpus encode "
        f"(rounds {', '.join(f'{r / e:.2f}' for r, e in zip(run_s, encode_s, strict=True))}); "
        f"{passes[0][0]:,} passes (N + Q)"
    )
    print(
        "CPU time of this process (less sensitive to other load): retrieval run "
        f"{statistics.median(r / e for r, e in zip(run_cpu, encode_cpu, strict=True)):.2f}x, re-ranked "
        f"{statistics.median(r / e for r, e in zip(rerank_cpu, encode_cpu, strict=True)):.2f}x one corpus encode"
    )
    print(
        f"re-ranked by a cross-encoder, top {args.top_k}: {rerank:.2f} s = {rerank / encode:.2f}x one corpus encode; "
        f"{passes[0][1]:,} passes (N + Q + Q x {args.top_k})"
    )


def contrast() -> None:
    data = bundled_sts(_common.STS_DEV)
    packaged = Encoder(load_model(PACKAGED))
    untrained = Encoder(load_model(UNTRAINED))
    engines = {PACKAGED: packaged, UNTRAINED: untrained}

    def scorer(spec: EmbedSpec):
        return open_scorer(spec, engine=lambda kind, model_id: engines[model_id.key])

    systems = [
        EmbedSpec(PACKAGED),
        EmbedSpec(PACKAGED, "cls", "-1"),
        EmbedSpec(PACKAGED, "mean", "0"),
        EmbedSpec(UNTRAINED, "mean", "-1"),
    ]
    runs = [bm25_run(data)] + [vector_run(data, scorer(spec)) for spec in systems]
    report = build_report(data, runs)
    print(f"{data.name}: {data.describe()}; load average {os.getloadavg()[0]:.1f}")
    print(report.table[["nDCG@10", "MRR@10", "Recall@1", "Recall@10"]].round(3).to_markdown())
    own = runs[1].name
    for test in report.tests:
        if own in (test.system_a, test.system_b):
            print(test.sentence)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=100, help="0: the whole bundled set")
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--top-k", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--contrast", action="store_true")
    args = parser.parse_args()
    contrast() if args.contrast else cost(args)


if __name__ == "__main__":
    main()
