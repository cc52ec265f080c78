"""STS evaluation benchmark: the full grid in about the time of one plain encode.

Run from the repository root:  python bench/bench_eval.py [--rounds 3]

Figures, all measured in this one run on the STS benchmark dev split (1500 pairs):
    1. the full grid of all-MiniLM-L6-v2 (own pipeline + cls/mean/max/mean_max/weightedmean/lasttoken at every
       layer + first-last, pooler, post-processings; Spearman and Pearson each) on a fresh encoder, against ONE
       plain ``SentenceTransformer.encode(batch_size=32)`` of the same unique sentences: medians of interleaved
       rounds and their ratio (target <= 1.3);
    2. the naive way, one encode per configuration: estimated as (number of configurations) x the encode median;
    3. the grid's correlations alone, once the sentences are cached: median ms;
    4. the best configurations and the own-pipeline Spearman on dev for all-MiniLM-L6-v2 and untrained-bert.
"""

from __future__ import annotations

import argparse
import statistics

import _common  # first: puts the Hugging Face libraries offline and the repository root on sys.path
import torch

from embedlab.embedding.encoder import Encoder
from embedlab.models.loading import PACKAGED, UNTRAINED, load_model
from embedlab.tasks.sts import Evaluation, describe_row, evaluate_grid, read_scored_pairs

RATIO_TARGET = 1.3
CORRELATION_REPEATS = 5


def best_lines(evaluation: Evaluation) -> list[str]:
    table = evaluation.table
    own = evaluation.row_of("model", "-1")
    ranked = table.dropna(subset=["spearman"]).sort_values("spearman", ascending=False).head(3)
    lines = [f"| {evaluation.model} | own pipeline | {table.spearman[own]:.2f} | {table.pearson[own]:.2f} |"]
    for row in ranked.index:
        lines.append(
            f"| {evaluation.model} | best: {describe_row(evaluation, row)} | {table.spearman[row]:.2f} "
            f"| {table.pearson[row]:.2f} |"
        )
    undefined = table.index[table.spearman.isna()].tolist()
    if undefined:
        shown = ", ".join(describe_row(evaluation, row) for row in undefined)
        lines.append(f"| {evaluation.model} | undefined (constant or float32 noise) | {shown} | |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of grid and encode")
    parser.add_argument("--data", default=str(_common.STS_DEV), help="STS-format file (default: the dev split)")
    args = parser.parse_args()

    pairs = read_scored_pairs(args.data)
    sentences = pairs.unique_sentences()
    model = load_model(PACKAGED)
    st_model = model.st_model
    print(f"{pairs.n_pairs} pairs, {len(sentences)} unique sentences; torch threads: {torch.get_num_threads()}")

    warm_up = sentences[:40]
    Encoder(model).states(warm_up)
    st_model.encode(warm_up, batch_size=32)

    grid_times: list[float] = []
    encode_times: list[float] = []
    evaluation = None
    encoder = Encoder(model)
    for round_number in range(args.rounds):
        encoder = Encoder(model)  # fresh: every sentence needs its forward pass
        results: dict[str, Evaluation] = {}

        def grid(encoder=encoder, results=results) -> None:
            results["grid"] = evaluate_grid(encoder, pairs)

        runs = [(grid_times, grid), (encode_times, lambda: st_model.encode(sentences, batch_size=32))]
        if round_number % 2:  # alternate which one goes first
            runs.reverse()
        for times, run in runs:
            times.append(_common.seconds(run))
        evaluation = results["grid"]
        assert encoder.texts_encoded == len(sentences), "one forward pass per unique sentence"
        print(
            f"round {round_number + 1}: full grid {grid_times[-1]:.2f} s "
            f"({len(evaluation.table)} configurations), SentenceTransformer.encode {encode_times[-1]:.2f} s"
        )
    assert evaluation is not None
    grid_median = statistics.median(grid_times)
    encode_median = statistics.median(encode_times)
    ratio = grid_median / encode_median
    n_configurations = len(evaluation.table)
    naive = n_configurations * encode_median

    passes = encoder.forward_passes
    correlation_ms = sorted(
        1000 * _common.seconds(lambda: evaluate_grid(encoder, pairs)) for _ in range(CORRELATION_REPEATS)
    )
    assert encoder.forward_passes == passes, "a cached grid must not run the model"

    untrained = evaluate_grid(Encoder(load_model(UNTRAINED)), pairs)
    peak_mb = _common.peak_rss_mb()

    print()
    print("| figure | value | target | met? |")
    print("|---|---|---|---|")
    print(f"| full grid ({n_configurations} configurations), median of {args.rounds} | {grid_median:.2f} s | | |")
    print(f"| SentenceTransformer.encode(batch_size=32), median of {args.rounds} | {encode_median:.2f} s | | |")
    print(
        f"| ratio (full grid / one encode) | {ratio:.3f} | <= {RATIO_TARGET} | {_common.yes(ratio <= RATIO_TARGET)} |"
    )
    print(
        f"| naive way, one encode per configuration (estimate: {n_configurations} x encode) | {naive:.0f} s "
        f"= {naive / grid_median:.1f}x the grid | | |"
    )
    print(
        f"| the grid's correlations alone, sentences cached, median of {CORRELATION_REPEATS} "
        f"| {statistics.median(correlation_ms):.0f} ms | | |"
    )
    print(f"| peak resident memory (ru_maxrss) | {peak_mb:.0f} MB | | |")
    print()
    print(f"Spearman / Pearson x 100 on {pairs.name} ({pairs.n_pairs} pairs):")
    print("| model | configuration | Spearman | Pearson |")
    print("|---|---|---|---|")
    for line in best_lines(evaluation) + best_lines(untrained):
        print(line)


if __name__ == "__main__":
    main()
