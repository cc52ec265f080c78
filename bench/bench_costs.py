"""What each score costs: a cross-encoder against the packaged bi-encoder, on fresh work (the table the README quotes).

Run from the repository root:  python bench/bench_costs.py --cross FOLDER [--rounds 3]

FOLDER is a saved cross-encoder (``python -m embedlab train ... --method cross-encoder --out FOLDER``); without
one, the packaged backbone with a new, untrained head is used (same architecture, so the same cost).

Figures, all measured in this one run with ``embedlab.tasks.costs`` (the functions the Compare and Projection pages
and the Lesson call), medians of ``--rounds`` rounds, each on empty caches:
    1. every pair among 16 reference sentences (120 pairs): pairs per second and forward passes, cross-encoder
       (120 passes) against bi-encoder (16 passes: each sentence once, its vector reused);
    2. one query against the 400 sentences of the Projection set: 400 cross-encoder passes against 1 bi-encoder
       pass (+ 400 dot products), and the one-off encoding of the 400 sentences;
    3. retrieve and re-rank: the bi-encoder's top 10 of 400, then 10 cross-encoder passes.
The machine's load average is printed with them: the times depend on it, the pass counts do not.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile

import _common  # noqa: F401  (first: puts the Hugging Face libraries offline and the repository root on sys.path)
import torch

from embedlab.corpora import reference_sentences
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.specs import EmbedSpec
from embedlab.models.cross import CrossScorer
from embedlab.models.loading import PACKAGED, load_model, packaged_model_path
from embedlab.tasks.costs import (
    COST_SENTENCES,
    DEFAULT_QUERY,
    RERANK_K,
    measure_pair_costs,
    measure_query_cost,
    retrieve_and_rerank,
)
from embedlab.tasks.projection import bundled_sentences


def untrained_cross(folder: str) -> str:
    from sentence_transformers import CrossEncoder

    torch.manual_seed(0)
    CrossEncoder(packaged_model_path(), num_labels=1, device="cpu").save(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cross", help="a saved cross-encoder folder (default: an untrained head on the backbone)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each on empty caches")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-costs-") as scratch:
        folder = args.cross or untrained_cross(scratch)
        scorer = CrossScorer(folder)
        model = load_model(PACKAGED)
        spec = EmbedSpec(PACKAGED, "model")
        found = bundled_sentences()
        sentences = reference_sentences()[:COST_SENTENCES]
        print(f"cross-encoder: {folder}; bi-encoder: {PACKAGED}; torch threads: {torch.get_num_threads()}")
        pairs_runs, query_runs, rerank_runs = [], [], []
        for _ in range(args.rounds):
            encoder = Encoder(model)
            pairs_runs.append(measure_pair_costs(scorer, encoder, spec, sentences))
            query_runs.append(measure_query_cost(scorer, encoder, spec, DEFAULT_QUERY, found.sentences))
            vectors = encoder.embed(found.sentences, spec)
            rerank_runs.append(
                retrieve_and_rerank(
                    encoder, spec, found.sentences, found.labels, vectors, scorer.uncached(), DEFAULT_QUERY, RERANK_K
                )
            )
        load = os.getloadavg()

    def median(values) -> float:
        return statistics.median(values)

    pairs, query, rerank = pairs_runs[0], query_runs[0], rerank_runs[0]
    cross_pps = median([run.cross_pairs_per_second for run in pairs_runs])
    bi_pps = median([run.bi_pairs_per_second for run in pairs_runs])
    print(f"load average (1, 5, 15 min) at the end: {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}; rounds: {args.rounds}")
    print()
    print("| measure | cross-encoder | bi-encoder |")
    print("|---|---|---|")
    print(
        f"| all {pairs.n_pairs} pairs of {pairs.n_sentences} sentences: pairs per second | {cross_pps:,.0f} "
        f"| {bi_pps:,.0f} ({bi_pps / cross_pps:.1f}x) |"
    )
    print(f"| forward passes for those pairs | {pairs.cross_passes} | {pairs.bi_passes} (one per sentence) |")
    print(
        f"| one query against the {query.n_sentences} Projection sentences: passes | {query.cross_passes} "
        f"| {query.bi_passes} (+ {query.n_sentences} dot products) |"
    )
    print(
        f"| one query against the {query.n_sentences}: time | "
        f"{median([run.cross_seconds for run in query_runs]) * 1000:,.0f} ms "
        f"| {median([run.bi_seconds for run in query_runs]) * 1000:,.1f} ms (+ "
        f"{median([run.index_seconds for run in query_runs]) * 1000:,.0f} ms once to encode the {query.index_passes}) |"
    )
    print(
        f"| retrieve top {rerank.k} of {rerank.n_sentences}, then re-rank | "
        f"{median([run.rerank_seconds for run in rerank_runs]) * 1000:,.0f} ms ({rerank.pairs_scored} passes) "
        f"| {median([run.retrieve_seconds for run in rerank_runs]) * 1000:,.1f} ms ({rerank.query_passes} pass) |"
    )


if __name__ == "__main__":
    main()
