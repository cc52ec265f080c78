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
    whole_number,
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
        "--explain",
        action="store_true",
        help="take each score apart into token x token contributions (exact for mean pooling, else integrated "
        "gradients; per token for a cross-encoder); with --json adds an 'explain' object per pair",
    )
    score.add_argument(
        "--steps",
        type=whole_number("--steps", 1, 512),
        default=None,
        help="integration steps for --explain when the pooling has no exact decomposition (default: 24)",
    )
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
    if args.explain:
        from embedlab.tasks.explain import require_explainable

        require_explainable(scorer, "--explain (a token-by-token explanation of its score)")
    if scorer.can("vectors"):
        scorer.encoder.vectors([], scorer.spec)  # validates the layer spec against this model before any work
    values = scored(texts, scorer.score)
    full = scored(texts, scorer.as_spec(scorer.spec.full).score) if scorer.spec.compressed else None
    probabilities = [None] * len(texts)
    if calibration_data is not None:
        probabilities = list(fit_calibration(scorer, calibration_data).probability(values))
    baseline = scorer.random_pair_baseline()
    # what a sentence vector tells of its texts (unknown tokens, truncation); a pair scorer reads pairs only
    notes = text_notes(scorer.encoder, texts) if scorer.can("vectors") else [{} for _ in texts]
    warn_notes(texts, notes)
    explained = explain_pairs(scorer, texts, args.steps) if args.explain else [{} for _ in texts]
    if args.json:
        configuration = {"pooling": scorer.spec.pooling, "layers": scorer.spec.layers} if scorer.can("vectors") else {}
        if scorer.spec.compressed:  # the full float32 cosine always beside the stored-smaller one
            configuration.update(precision=scorer.spec.precision, dims=scorer.spec.dims)
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
                            **({"cosine_float32": json_number(full[row])} if full is not None else {}),
                            **({} if probability is None else {"probability": json_number(probability)}),
                            **found,
                            **why,
                        }
                        for row, ((first, second), value, probability, found, why) in enumerate(
                            zip(texts, values, probabilities, notes, explained, strict=True)
                        )
                    ],
                },
                ensure_ascii=False,
            )
        )
        return 0
    note_texts_sent(scorer)
    print(scorer.headline(baseline))
    print_scores(texts, values, [found.get("note", "") for found in notes], full, probabilities)
    for row, why in enumerate(explained, start=1):
        if why:
            print(f"why pair {row}: " + (why["explain"]["in_words"] if why["explain"] else why["explain_note"]))
    return 0


def explain_pairs(scorer, texts: Sequence[tuple[str, str]], steps: int | None) -> list[dict]:
    """Per pair ``{"explain": {...}}`` (``Explanation.as_json``), or ``{"explain": null, "explain_note": why}`` for
    a pair that cannot be taken apart (an empty sentence, a sentence too long for integrated gradients)."""
    from embedlab.tasks.explain import DEFAULT_STEPS, explain_pair

    found = []
    for pair in texts:
        try:
            explanation = explain_pair(scorer, pair, steps or DEFAULT_STEPS)
        except EmbedLabError as error:
            found.append({"explain": None, "explain_note": str(error)})
            continue
        found.append({"explain": explanation.as_json()})
    return found


def print_scores(
    texts: Sequence[tuple[str, str]],
    values: Sequence[float],
    notes: Sequence[str],
    full: Sequence[float] | None = None,
    probabilities: Sequence[float | None] | None = None,
) -> None:
    """One line per pair: its score (or "empty"), the full float32 cosine beside it when the vectors are stored
    smaller, with ``--calibration`` its probability of "same meaning", the two sentences, the note if any."""
    probabilities = probabilities or [None] * len(texts)
    for row, ((first, second), value, note, probability) in enumerate(
        zip(texts, values, notes, probabilities, strict=True)
    ):
        shown = "  empty" if math.isnan(value) else f"{value:7.4f}"
        if full is not None:
            shown += "  (float32   empty)" if math.isnan(full[row]) else f"  (float32 {full[row]:7.4f})"
        if probability is not None:
            shown += "     " if math.isnan(probability) else f" {probability:4.0%}"
        print(f"{shown}  {first}  |  {second}" + (f"  [{note}]" if note else ""))


def print_code(args: argparse.Namespace) -> int:
    from embedlab.codegen import code_for

    scorer = open_model(args)
    scorer.encoder.vectors([], scorer.spec)  # a bad layer spec or a post-processing that cannot be fitted fails here
    print(code_for(scorer.spec, scorer.encoder.model.facts), end="")
    return 0
