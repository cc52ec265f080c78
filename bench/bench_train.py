"""Training benchmark: what each method costs on this CPU and what it changes on the STS dev split.

Run from the repository root:  python bench/bench_train.py [--quick] [--runs cosine,cosent,...]

For each run (packaged all-MiniLM-L6-v2 backbone, 1 epoch, batch 16 unless noted; each with its target cost and score):
    steps, seconds of the training loop alone, seconds per step, the cost as a ratio to ONE plain
    ``SentenceTransformer.encode`` of the same texts (the unique sentences of the training rows, batch 32),
    STS dev Spearman x 100 before -> after, and the random-pair cosine (bundled reference sentences) before -> after.
Peak memory is the process's peak resident set so far (it only grows: read it per run in order).

SimCSE and TSDAE train on 2,000 of the STS train split's distinct sentences drawn with a fixed seed: the file is
ordered by genre, and its first 2,000 sentences are almost all short video captions (MSRvid).
Each method trains with the app's defaults: its learning rate (``default_learning_rate``: 2e-5; SimCSE 5e-5, TSDAE
3e-5), batches grouped by length, and the precision ``auto`` resolves to (bf16 autocast on a CPU with native
bfloat16, except for in-batch-negative losses). ``--precision fp32`` and ``--no-grouping`` compare.

``--quick`` runs every method for 5 steps on the first 400 train pairs and 200 dev pairs: a check that the script
works (minutes).
Needs ../shared/data/stsbenchmark/ (sts-train.csv and sts-dev.csv).
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from functools import partial

import _common  # first: puts the Hugging Face libraries offline and the repository root on sys.path
import torch

from embedlab.embedding.encoder import Encoder
from embedlab.embedding.scoring import random_pair_baseline
from embedlab.embedding.specs import EmbedSpec
from embedlab.models.loading import PACKAGED, load_model
from embedlab.tasks.sts import read_scored_pairs
from embedlab.training.compose import Composition, compose
from embedlab.training.data import from_pairs, from_scored, from_sentences
from embedlab.training.run import (
    PRECISIONS,
    TrainSettings,
    as_loaded,
    default_learning_rate,
    spearman_of,
    train,
)

STS_TRAIN = _common.STS_DEV.parent / "sts-train.csv"
POSITIVE_SCORE = 4.0  # STS train pairs at or above this gold score are the "positive pairs" of the pitfall run
UNSUPERVISED_SENTENCES = 2000
SAMPLE_SEED = 0


@dataclass(frozen=True)
class Run:
    name: str
    method: str
    composition: Composition
    batch_size: int = 16
    target: str = ""


RUNS = (
    Run("cosine", "cosine", Composition(PACKAGED, pooling="cls"), target="<= 8x; 79.7 -> >= 84"),
    Run("cosent", "cosent", Composition(PACKAGED, pooling="cls"), target="<= 9x; 79.7 -> >= 86"),
    Run("simcse", "simcse", Composition(PACKAGED, pooling="cls"), batch_size=32, target="<= 8x; 79.7 -> >= 83.5"),
    Run("tsdae", "tsdae", Composition(PACKAGED, pooling="cls"), target="<= 12x; no gain expected"),
    Run(
        "pitfall",
        "pitfall-random-labels",
        Composition(PACKAGED, pooling="mean", normalize=True),  # the shipped pipeline
        target="86.7 -> ~84.1; random-pair 0.02 -> ~0.20",
    ),
    Run(
        "mean+dense",
        "cosine",
        Composition(PACKAGED, pooling="mean", dense_out=256, activation="tanh"),
        target="<= 8x; 86.1 -> >= 88",
    ),
    Run(
        "cross-encoder",
        "cross-encoder",  # the pair classifier on [CLS]: a new head on the packaged backbone, scores / 5
        Composition(PACKAGED),
        target="untrained head ~0 -> >= 85 (its own scores, not cosines)",
    ),
)
CROSS_LEARNING_RATE = 5e-5  # the prototype's, measured 85.6 after one epoch


def training_data(run: Run, train_pairs):
    if run.method in ("cosine", "cosent", "cross-encoder"):
        return from_scored(train_pairs.sentence1, train_pairs.sentence2, train_pairs.gold, run.method, "sts-train")
    if run.method == "pitfall-random-labels":
        keep = [i for i, score in enumerate(train_pairs.gold) if score >= POSITIVE_SCORE]
        firsts = [train_pairs.sentence1[i] for i in keep]
        seconds = [train_pairs.sentence2[i] for i in keep]
        return from_pairs(firsts, seconds, run.method, f"sts-train pairs with score >= {POSITIVE_SCORE:g}")
    sentences = train_pairs.unique_sentences()
    sentences = random.Random(SAMPLE_SEED).sample(sentences, min(UNSUPERVISED_SENTENCES, len(sentences)))
    return from_sentences(sentences, run.method, "sts-train sentences")


def texts_of(data) -> list[str]:
    """The distinct texts one epoch encodes (TSDAE: the originals)."""
    columns = [values for name, values in data.columns.items() if name not in ("score", "damaged")]
    return list(dict.fromkeys(text for values in columns for text in values))


def baseline_mean(st_model) -> float:
    encoder = Encoder(as_loaded(st_model, "bench"))
    return random_pair_baseline(encoder, EmbedSpec("bench", "model")).mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 steps per run, 200 dev pairs: check the script")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS, help="training precision (default auto)")
    parser.add_argument("--no-grouping", action="store_true", help="random batches, not grouped by length")
    parser.add_argument("--runs", default=",".join(run.name for run in RUNS), help="comma list of run names")
    args = parser.parse_args()
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # TSDAE's decoder loads with a bar otherwise
    if not STS_TRAIN.is_file() or not _common.STS_DEV.is_file():
        raise SystemExit(f"needs {STS_TRAIN} and {_common.STS_DEV}")

    wanted = [name.strip() for name in args.runs.split(",") if name.strip()]
    runs = [run for run in RUNS if run.name in wanted]
    train_pairs = read_scored_pairs(STS_TRAIN)
    dev = read_scored_pairs(_common.STS_DEV)
    if args.quick:
        dev = dev.head(200)
        train_pairs = train_pairs.head(400)
    loaded = load_model(PACKAGED)
    batches = "in random order" if args.no_grouping else "grouped by length"
    print(
        f"STS train {train_pairs.n_pairs} pairs, dev {dev.n_pairs} pairs; torch threads {torch.get_num_threads()}; "
        f"batches {batches}" + ("; QUICK: 5 steps per run" if args.quick else "")
    )
    print()
    print(
        "| run | rows | batch | precision | steps | seconds | s/step | encode s | cost vs encode "
        "| dev Spearman before -> after "
        "| random-pair cosine before -> after | peak RSS MB | target |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        if run.method == "cross-encoder":
            cross_row(run, train_pairs, dev, loaded, args)
            continue
        data = training_data(run, train_pairs)
        texts = texts_of(data)
        start_model = compose(run.composition, loaded)
        encode_seconds = _common.seconds(partial(start_model.encode, texts, batch_size=32))
        before = spearman_of(start_model, dev)
        before_baseline = baseline_mean(start_model)
        settings = TrainSettings(
            epochs=1,
            max_steps=5 if args.quick else None,
            batch_size=run.batch_size,
            learning_rate=default_learning_rate(run.method),
            precision=args.precision,
            group_by_length=not args.no_grouping,
        )
        result = train(run.composition, data, settings, loaded=loaded, measure_before_after=False)
        after = spearman_of(result.model, dev)
        after_baseline = baseline_mean(result.model)
        per_step = result.seconds / max(1, result.steps)
        # The cost of the epoch against one encode of its texts (quick runs: scaled to the rows seen).
        epoch_fraction = min(1.0, result.steps * run.batch_size / data.n_examples)
        ratio = result.seconds / (encode_seconds * epoch_fraction)
        print(
            f"| {run.name} | {data.n_examples} | {run.batch_size} | {result.precision} | {result.steps} | "
            f"{result.seconds:.1f} | "
            f"{per_step:.2f} | {encode_seconds:.1f} | {ratio:.1f}x | {before:.1f} -> {after:.1f} | "
            f"{before_baseline:.2f} -> {after_baseline:.2f} | {_common.peak_rss_mb():.0f} | {run.target} |",
            flush=True,
        )


def cross_row(run: Run, train_pairs, dev, loaded, args) -> None:
    """The cross-encoder's row: the same columns, its Spearman from its own scores, and in the random-pair column
    the mean score of random pairs (a sigmoid in 0-1, not a cosine)."""
    from embedlab.training.cross import measure_cross, train_cross_encoder

    data = training_data(run, train_pairs)
    texts = texts_of(data)
    encode_seconds = _common.seconds(partial(loaded.st_model.encode, texts, batch_size=32))
    settings = TrainSettings(
        epochs=1,
        max_steps=5 if args.quick else None,
        batch_size=run.batch_size,
        learning_rate=CROSS_LEARNING_RATE,
        precision=args.precision,
    )
    result = train_cross_encoder(PACKAGED, data, settings, progress=_progress_line, measure_before_after=False)
    after = measure_cross(result.model, dev)
    from sentence_transformers.cross_encoder import CrossEncoder

    torch.manual_seed(settings.seed)
    untrained = measure_cross(CrossEncoder(_packaged_folder(), num_labels=1, device="cpu"), dev)
    per_step = result.seconds / max(1, result.steps)
    epoch_fraction = min(1.0, result.steps * run.batch_size / data.n_examples)
    ratio = result.seconds / (encode_seconds * epoch_fraction)
    before = "undefined" if untrained.spearman is None else f"{untrained.spearman:.1f}"
    after_text = "undefined" if after.spearman is None else f"{after.spearman:.1f}"
    print(
        f"| {run.name} | {data.n_examples} | {run.batch_size} | {result.precision} | {result.steps} | "
        f"{result.seconds:.1f} | {per_step:.2f} | {encode_seconds:.1f} | {ratio:.1f}x | {before} -> {after_text} | "
        f"{untrained.baseline_mean:.2f} -> {after.baseline_mean:.2f} (scores) | {_common.peak_rss_mb():.0f} | "
        f"{run.target} |",
        flush=True,
    )


def _progress_line(report) -> None:
    """Every 20th step on stderr (step, rate, ETA): a long run under load shows how far it got."""
    if report.step % 20 == 0 or report.step == report.total:
        eta = "?" if report.eta_seconds is None else f"{report.eta_seconds:.0f} s"
        print(
            f"step {report.step}/{report.total}, {report.elapsed_seconds:.0f} s, ETA {eta}, loss {report.loss}",
            file=sys.stderr,
            flush=True,
        )


def _packaged_folder() -> str:
    from embedlab.models.loading import packaged_model_path

    return packaged_model_path()


if __name__ == "__main__":
    main()
