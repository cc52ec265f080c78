"""``score``: each pair's score (a cosine, or a cross-encoder's own) beside the random-pair baseline; ``--code``
prints the script of a configuration."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence

from embedlab.cli.calibrate import fit_calibration, read_calibration
from embedlab.cli.common import (
    add_model_options,
    add_post_options,
    check_options,
    json_number,
    note_texts_sent,
    open_model,
    scored,
    text_notes,
    warn_notes,
)
from embedlab.errors import EmbedLabError


def add_score_command(commands) -> None:
    """The ``score`` subcommand."""
    score = commands.add_parser("score", help="cosine of each pair in a CSV/TSV/STS file")
    score.add_argument("file", nargs="?", help="CSV or TSV with sentence1 and sentence2 columns, or an STS-format file")
    add_model_options(score)
    add_post_options(score)
    score.add_argument("--json", action="store_true", help="print one JSON object")
    score.add_argument(
        "--calibration",
        metavar="LABELLED",
        help="labelled pairs (see calibrate --data): add each pair's probability of 'same meaning' for this model",
    )
    score.add_argument(
        "--code", action="store_true", help="print the transformers script that reproduces these vectors (no FILE)"
    )


def run_score(args: argparse.Namespace) -> int:
    from embedlab.data.pairfiles import read_pairs

    check_options(args)
    if args.code:
        return print_code(args)
    if not args.file:
        raise EmbedLabError("score needs a FILE of sentence pairs (or --code to print the script of a configuration).")
    pairs = read_pairs(args.file)
    texts = list(zip(pairs["sentence1"], pairs["sentence2"], strict=True))
    calibration_data = read_calibration(args.calibration) if args.calibration else None  # before the model loads
    scorer = open_model(args)
    if scorer.can("vectors"):
        scorer.encoder.vectors([], scorer.spec)  # validates the layer spec against this model before any work
    values = scored(texts, scorer.score)
    probabilities = [None] * len(texts)
    if calibration_data is not None:
        probabilities = list(fit_calibration(scorer, calibration_data).probability(values))
    baseline = scorer.random_pair_baseline()
    # what a sentence vector tells of its texts (unknown tokens, truncation); a pair scorer reads pairs only
    notes = text_notes(scorer.encoder, texts) if scorer.can("vectors") else [{} for _ in texts]
    warn_notes(texts, notes)
    if args.json:
        configuration = {"pooling": scorer.spec.pooling, "layers": scorer.spec.layers} if scorer.can("vectors") else {}
        print(
            json.dumps(
                {
                    "model": args.model,
                    **scorer.report(),
                    **configuration,
                    "baseline": {"mean": json_number(baseline.mean), "p95": json_number(baseline.p95)},
                    "pairs": [
                        {
                            "sentence1": first,
                            "sentence2": second,
                            scorer.score_name: json_number(value),
                            **({} if probability is None else {"probability": json_number(probability)}),
                            **found,
                        }
                        for (first, second), value, probability, found in zip(
                            texts, values, probabilities, notes, strict=True
                        )
                    ],
                },
                ensure_ascii=False,
            )
        )
        return 0
    note_texts_sent(scorer)
    print(scorer.headline(baseline))
    print_scores(texts, values, [found.get("note", "") for found in notes], probabilities)
    return 0


def print_scores(
    texts: Sequence[tuple[str, str]],
    values: Sequence[float],
    notes: Sequence[str],
    probabilities: Sequence[float | None] | None = None,
) -> None:
    """One line per pair: its score (or "empty"), with ``--calibration`` its probability of "same meaning", the two
    sentences, the note if any."""
    probabilities = probabilities or [None] * len(texts)
    for (first, second), value, note, probability in zip(texts, values, notes, probabilities, strict=True):
        shown = "  empty" if math.isnan(value) else f"{value:7.4f}"
        if probability is not None:
            shown += "     " if math.isnan(probability) else f" {probability:4.0%}"
        print(f"{shown}  {first}  |  {second}" + (f"  [{note}]" if note else ""))


def print_code(args: argparse.Namespace) -> int:
    from embedlab.codegen import code_for

    scorer = open_model(args)
    scorer.encoder.vectors([], scorer.spec)  # a bad layer spec or a post-processing that cannot be fitted fails here
    print(code_for(scorer.spec, scorer.encoder.model.facts), end="")
    return 0
