"""``calibrate``: what a score means for one model and configuration, fitted on labelled pairs and judged on pairs
not used for the fit (``embedlab.tasks.calibration``); ``calibration_for`` serves ``score --calibration``."""

from __future__ import annotations

import argparse
import json
import math

from embedlab.cli.common import add_model_options, add_post_options, check_options, open_model, say
from embedlab.errors import EmbedLabError


def add_calibrate_command(commands) -> None:
    """The ``calibrate`` subcommand (its defaults are the engine's, applied when it runs: importing the engine here
    would slow every command's start)."""
    calibrate = commands.add_parser(
        "calibrate", help="probability of 'same meaning' given a score, fitted on labelled pairs"
    )
    calibrate.add_argument(
        "--data",
        required=True,
        help="CSV/TSV with sentence1, sentence2 and label (1 = same meaning, 0 = not), or STS-scored pairs "
        "(a score of 4.0 or more of 5 counts as same meaning)",
    )
    calibrate.add_argument(
        "--held-out",
        dest="held_out",
        help="pairs to judge the fit on (same formats); default: a seeded, stratified 30%% of --data, left out "
        "of the fit",
    )
    add_model_options(calibrate)
    add_post_options(calibrate)
    calibrate.add_argument(
        "--method",
        default="auto",
        help="auto (default: isotonic regression from 1,000 fit pairs on, Platt scaling below), isotonic or platt",
    )
    calibrate.add_argument(
        "--precision",
        type=float,
        help="the precision whose score threshold is reported, with a bootstrap interval (default 0.9)",
    )
    calibrate.add_argument("--json", action="store_true", help="print one JSON object")


def check_precision(precision: float | None) -> None:
    if precision is not None and not (math.isfinite(precision) and 0.0 < precision <= 1.0):
        raise EmbedLabError(f"--precision must be above 0 and at most 1 (0.9 = 90%), not {precision}.")


def run_calibrate(args: argparse.Namespace) -> int:
    from embedlab.tasks.calibration import (
        DEFAULT_PRECISION,
        calibrate,
        check_labels,
        chosen_method,
        held_out,
        read_labelled_data,
    )

    check_options(args)
    check_precision(args.precision)
    precision = DEFAULT_PRECISION if args.precision is None else args.precision
    chosen_method(args.method, 0)  # an unknown method is refused before anything is read
    data = read_labelled_data(args.data)  # bad input fails before the model loads
    if args.held_out:
        fit, held = data, read_labelled_data(args.held_out)
    else:
        fit, held = held_out(data)
    for pairs in (fit, held):
        check_labels(pairs.labels, pairs.name)
    scorer = open_model(args)
    if scorer.can("vectors"):
        scorer.encoder.vectors([], scorer.spec)  # validates layers and post-processing before scoring
    say(f"scoring {len(fit):,} fit pairs and {len(held):,} held-out pairs with {scorer.label}")
    report = calibrate(scorer, fit, held, args.method, precision)
    if args.json:
        print(json.dumps({"model": args.model, **scorer.report(), **report.as_json()}, ensure_ascii=False))
    else:
        print("\n".join(report.text_lines()))
    return 0


def read_calibration(path: str):
    """``score --calibration FILE``'s pairs, read and checked before the model loads (``LabelledPairs``)."""
    from embedlab.tasks.calibration import check_labels, read_labelled_data

    data = read_labelled_data(path)
    check_labels(data.labels, data.name)
    return data


def fit_calibration(scorer, data):
    """The calibration ``score --calibration`` applies: fitted on every pair of the file, none held out (the file
    is the user's own judgement of "same meaning"; ``calibrate`` reports how well such a fit holds on other pairs).
    The method is ``auto``'s choice for the file's size."""
    from embedlab.tasks.calibration import check_scores, chosen_method, fit_calibrator

    scores = check_scores(scorer.score(data.pairs), data.name)
    return fit_calibrator(scores, data.labels, chosen_method("auto", len(data)))
