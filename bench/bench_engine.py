"""Engine benchmark: the cost of keeping every layer, and of changing pooling or layers afterwards.

Run from the repository root:  python bench/bench_engine.py [--rounds 3] [--threads N]

Figures, all measured in this one run on the unique sentences of the STS benchmark dev split:
    1. one all-hidden-states pass (``Encoder.states`` on a fresh encoder) against plain
       ``SentenceTransformer.encode(batch_size=32)`` of the same model: medians of interleaved rounds and their ratio,
       in wall time and in CPU time (on a busy machine the CPU-time ratio at --threads 1 is the steadier figure);
    2. re-scoring 100 cached pairs after a pooling or layer change (``pair_cosines`` with a new spec): median ms;
    3. peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from itertools import cycle

import _common  # first: puts the Hugging Face libraries offline and the repository root on sys.path
import torch

from embedlab.data.pairfiles import read_pairs
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.scoring import pair_cosines
from embedlab.embedding.specs import EmbedSpec
from embedlab.models.loading import PACKAGED, load_model

RATIO_TARGET = 1.15
RESCORE_TARGET_MS = 50.0
RESCORE_PAIRS = 100
RESCORE_REPEATS = 30
CHANGED_SPECS = [
    EmbedSpec(PACKAGED, "cls", "first-last"),
    EmbedSpec(PACKAGED, "mean", "2:4"),
    EmbedSpec(PACKAGED, "max", "-2"),
    EmbedSpec(PACKAGED, "mean", "1,3,-1"),
    EmbedSpec(PACKAGED, "cls", "0"),
    EmbedSpec(PACKAGED, "model"),
]


def timed(run) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of each encoding run")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--data", default=str(_common.STS_DEV), help="STS-format file (default: the dev split)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    pairs = read_pairs(args.data)
    sentences = _common.unique_sentences(pairs)
    model = load_model(PACKAGED)
    st_model = model.st_model
    load_before = os.getloadavg()[0]
    print(
        f"{len(pairs)} pairs, {len(sentences)} unique sentences; torch threads: {torch.get_num_threads()} "
        f"of {os.cpu_count()} cores; load average before: {load_before:.2f}"
    )

    warm_up = sentences[:40]
    Encoder(model).states(warm_up)
    st_model.encode(warm_up, batch_size=32)

    runs_of: dict[str, list[tuple[float, float]]] = {"states": [], "encode": []}
    encoder = Encoder(model)
    for round_number in range(args.rounds):
        encoder = Encoder(model)  # fresh: every text needs its forward pass
        runs = [
            ("states", lambda encoder=encoder: encoder.states(sentences)),
            ("encode", lambda: st_model.encode(sentences, batch_size=32)),
        ]
        if round_number % 2:  # alternate which one goes first
            runs.reverse()
        for name, run in runs:
            runs_of[name].append(timed(run))
        (states_wall, states_cpu), (encode_wall, encode_cpu) = runs_of["states"][-1], runs_of["encode"][-1]
        print(
            f"round {round_number + 1}: all hidden states {states_wall:.2f} s (cpu {states_cpu:.2f} s), "
            f"SentenceTransformer.encode {encode_wall:.2f} s (cpu {encode_cpu:.2f} s), "
            f"ratio {states_wall / encode_wall:.3f}"
        )
    states_median = statistics.median(wall for wall, _ in runs_of["states"])
    encode_median = statistics.median(wall for wall, _ in runs_of["encode"])
    ratio = states_median / encode_median
    best_ratio = min(wall for wall, _ in runs_of["states"]) / min(wall for wall, _ in runs_of["encode"])
    cpu_ratio = statistics.median(cpu for _, cpu in runs_of["states"]) / statistics.median(
        cpu for _, cpu in runs_of["encode"]
    )

    rescore_pairs = list(zip(pairs["sentence1"], pairs["sentence2"], strict=True))[:RESCORE_PAIRS]
    passes_before = encoder.forward_passes
    rescore_ms = []
    for _, spec in zip(range(RESCORE_REPEATS), cycle(CHANGED_SPECS), strict=False):
        rescore_ms.append(1000 * _common.seconds(lambda spec=spec: pair_cosines(encoder, rescore_pairs, spec)))
    rescore_ms.sort()
    rescore_median = statistics.median(rescore_ms)
    assert encoder.forward_passes == passes_before, "re-scoring cached pairs must not run the model"

    peak_mb = _common.peak_rss_mb()
    load_after = os.getloadavg()[0]

    print()
    print("| figure | value | target | met? |")
    print("|---|---|---|---|")
    print(f"| all-hidden-states pass, median of {args.rounds} | {states_median:.2f} s | | |")
    print(f"| SentenceTransformer.encode(batch_size=32), median of {args.rounds} | {encode_median:.2f} s | | |")
    print(
        f"| ratio (all hidden states / encode) | {ratio:.3f} | <= {RATIO_TARGET} "
        f"| {_common.yes(ratio <= RATIO_TARGET)} |"
    )
    print(f"| ratio of the fastest runs (other load only ever adds time) | {best_ratio:.3f} | | |")
    print(f"| ratio of median CPU times | {cpu_ratio:.3f} | | |")
    print(
        f"| re-score {RESCORE_PAIRS} cached pairs after a pooling/layer change, median of {RESCORE_REPEATS} "
        f"| {rescore_median:.1f} ms (max {rescore_ms[-1]:.1f}) | < {RESCORE_TARGET_MS:.0f} ms "
        f"| {_common.yes(rescore_median < RESCORE_TARGET_MS)} |"
    )
    print(f"| peak resident memory (ru_maxrss) | {peak_mb:.0f} MB | | |")
    if max(load_before, load_after) > torch.get_num_threads() + 0.5:
        print(
            f"\nWarning: the machine was busy (load average {load_before:.2f} before, {load_after:.2f} after, "
            f"{os.cpu_count()} cores): wall times are unreliable; rerun on an idle machine or with --threads 1."
        )


if __name__ == "__main__":
    main()
