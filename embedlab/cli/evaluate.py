"""``eval``: Spearman and Pearson x 100 of a model's scores against gold scores (one row, or the ``--grid``)."""

from __future__ import annotations

import argparse
import json
import sys

from embedlab.cli.common import add_model_options, add_post_options, note_texts_sent, note_unreadable, open_model
from embedlab.embedding.specs import parse_layers


def add_eval_command(commands) -> None:
    """The ``eval`` subcommand."""
    evaluate = commands.add_parser("eval", help="Spearman/Pearson x 100 against gold scores (STS or CSV/TSV)")
    evaluate.add_argument("file", help="STS-format file, or CSV/TSV with sentence1, sentence2, score (0-5 or 0-1)")
    add_model_options(evaluate)
    add_post_options(evaluate, default_fit="the file's own sentences, as in the grid")
    evaluate.add_argument(
        "--grid", action="store_true", help="own pipeline, cls/mean/max at every layer + first-last, post-processings"
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON object, null where undefined")
    evaluate.add_argument(
        "--skip-unreadable", action="store_true", help="leave out pairs the model cannot read (mostly [UNK] tokens)"
    )


def run_eval(args: argparse.Namespace) -> int:
    from embedlab.tasks.sts import (
        evaluate,
        evaluate_scorer,
        fit_on_pairs,
        grid_specs,
        read_scored_pairs,
        text_report,
        unreadable_pairs,
        without_pairs,
    )

    pairs = read_scored_pairs(args.file)  # bad input fails before the model loads
    scorer = open_model(args)
    progress = None
    if sys.stderr.isatty():

        def progress(done: int, total: int) -> None:
            doing = "encoding" if scorer.can("vectors") else "scoring pairs"
            print(f"\r{doing} {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)

    report = {}
    if not scorer.can("vectors"):  # its own score, pair by pair: one row
        evaluation = evaluate_scorer(scorer, pairs, progress)
    else:
        spec, encoder = scorer.spec, scorer.encoder
        facts = encoder.model.facts
        if args.grid:
            specs = grid_specs(
                facts.ref, facts.n_layers, pairs.unique_sentences(), facts.hidden_size, encoder.has_pooler
            )
        else:
            specs = [fit_on_pairs(spec, pairs, facts.hidden_size)]  # without --fit: the file's sentences
            if spec.compressed:  # the full float32 vectors' row first: never the stored-smaller one alone
                specs.insert(0, fit_on_pairs(spec.full, pairs, facts.hidden_size))
            if spec.pooling != "model":
                parse_layers(spec.layers, facts.n_layers + 1)  # a bad layer spec fails before any work
        unreadable = unreadable_pairs(encoder, pairs)  # the tokenizer alone
        if unreadable:
            note_unreadable(len(unreadable), pairs.n_pairs, left_out=args.skip_unreadable)
            if args.skip_unreadable:
                pairs = without_pairs(pairs, unreadable)
        evaluation = evaluate(encoder, pairs, specs, progress)  # the one encode, reported as it goes
        report = {
            "unreadable_pairs": len(unreadable),
            "unreadable_left_out": bool(unreadable and args.skip_unreadable),
        }
    report = {"model": args.model, **scorer.report(), **report}  # after the work: the passes and texts it took
    if args.json:
        print(json.dumps({**report, "n_pairs": evaluation.n_pairs, "results": evaluation.records()}))
        return 0
    note_texts_sent(scorer)
    print("\n".join(text_report(evaluation)))
    return 0
