"""``negtest``: labelled pairs judged (AUC, threshold, failures); exit 1 when any pair fails."""

from __future__ import annotations

import argparse
import json
import math

from embedlab.cli.common import (
    add_model_options,
    add_post_options,
    json_number,
    note_texts_sent,
    note_unreadable,
    open_model,
    text_notes,
)
from embedlab.errors import EmbedLabError

CANARY_FAILED = 3  # exit status when --canary finds no signal in the model's scores


def add_negtest_command(commands) -> None:
    """The ``negtest`` subcommand."""
    negtest = commands.add_parser("negtest", help="labelled pairs: AUC, threshold, failures; exit 1 if any fails")
    negtest.add_argument(
        "file",
        nargs="?",
        help="CSV or TSV with sentence1, sentence2 and label (1 = similar, 0 = not); optional with --canary",
    )
    add_model_options(negtest)
    add_post_options(negtest)
    negtest.add_argument(
        "--threshold", type=float, help="cosine (cross-encoder: score) at or above which a pair matches (default: best)"
    )
    negtest.add_argument("--json", action="store_true", help="print one JSON object")
    negtest.add_argument(
        "--skip-unreadable", action="store_true", help="leave out pairs the model cannot read (mostly [UNK] tokens)"
    )
    negtest.add_argument(
        "--canary",
        action="store_true",
        help="first check that the scores carry a signal (paraphrases beat random pairs, not constant or NaN); "
        "exit 3 when they do not",
    )


def run_negtest(args: argparse.Namespace) -> int:
    from embedlab.tasks.negtest import THRESHOLD_HOW, read_labelled_pairs, run_scorer_negtest
    from embedlab.tasks.negtest import run_negtest as negative_test

    if args.file is None and not args.canary:
        raise EmbedLabError("negtest needs FILE (labelled pairs), or --canary to check the model alone.")
    pairs = read_labelled_pairs(args.file) if args.file is not None else None  # bad input fails before the model loads
    if args.threshold is not None and not math.isfinite(args.threshold):
        raise EmbedLabError(f"--threshold must be a number, not {args.threshold}.")
    scorer = open_model(args)
    canary = check_canary(scorer, args.json, finished=pairs is None) if args.canary else None
    if canary is not None and (not canary.passed or pairs is None):
        return 0 if canary.passed else CANARY_FAILED
    baseline = canary.baseline if canary is not None else None
    if not scorer.can("vectors"):  # its own score of each pair, against its own random-pair baseline
        result = run_scorer_negtest(scorer, pairs, args.threshold, baseline)
        notes = [{} for _ in pairs.index]
    else:
        spec, encoder = scorer.spec, scorer.encoder
        encoder.vectors([], spec)  # validates layers and post-processing before scoring
        result = negative_test(encoder, spec, pairs, args.threshold, baseline, skip_unreadable=args.skip_unreadable)
        notes = text_notes(encoder, list(zip(pairs["sentence1"], pairs["sentence2"], strict=True)))
    full = None
    if scorer.spec.compressed:  # the full float32 vectors' AUC beside the stored-smaller one's
        full = negative_test(encoder, spec.full, pairs, args.threshold, skip_unreadable=args.skip_unreadable)
    head = scorer.report()
    if full is not None:
        head.update(auc_float32=json_number(full.auc), failed_float32=int(full.failed.sum()))
    failed = result.failed
    position = {row: i for i, row in enumerate(pairs.index)}  # row label -> file order
    judged = result.pairs  # every pair, or those the model can read with --skip-unreadable
    if result.unreadable:
        note_unreadable(len(result.unreadable), len(pairs), left_out=result.left_out)
    if args.json:
        print(
            json.dumps(
                {
                    **head,
                    "auc": json_number(result.auc),
                    **({"auc_reason": result.auc_reason} if result.auc_reason else {}),
                    "threshold": json_number(result.threshold),
                    "baseline": {"mean": json_number(result.baseline.mean), "p95": json_number(result.baseline.p95)},
                    "pairs": [
                        {
                            "sentence1": first,
                            "sentence2": second,
                            "label": int(label),
                            result.score_name: json_number(cosine),
                            "failed": bool(flag),
                            **notes[position[row]],
                        }
                        for row, first, second, label, cosine, flag in zip(
                            judged.index,
                            judged["sentence1"],
                            judged["sentence2"],
                            judged["label"],
                            result.scores,
                            failed,
                            strict=True,
                        )
                    ],
                    "unreadable_pairs": len(result.unreadable),
                    **({"canary": canary.as_dict()} if canary is not None else {}),
                    "left_out": [
                        {
                            "sentence1": pairs.at[row, "sentence1"],
                            "sentence2": pairs.at[row, "sentence2"],
                            "label": int(pairs.at[row, "label"]),
                            **notes[position[row]],
                        }
                        for row in result.left_out
                    ],
                },
                ensure_ascii=False,
            )
        )
    else:
        note_texts_sent(scorer)
        print(result.label)
        auc = "undefined" if result.auc_reason else f"{result.auc:.3f}"
        print(
            f"ROC AUC {auc} · threshold {result.threshold:.4f} ({THRESHOLD_HOW[result.threshold_how]}) · "
            f"random-pair baseline: mean {result.baseline.mean:.3f}, p95 {result.baseline.p95:.3f}"
        )
        if full is not None:
            full_auc = "undefined" if full.auc_reason else f"{full.auc:.3f}"
            print(f"full float32 vectors: ROC AUC {full_auc}, {int(full.failed.sum())} of {len(pairs)} pairs failed")
        print(result.verdict())
        print(f"{len(result.failures)} of {len(pairs)} pairs failed" + (", worst first:" if failed.any() else "."))
        for line in result.failures.itertuples():
            note = f"  [{line.note}]" if line.note else ""
            print(f"{line.cosine:7.4f}  label {line.label}  {line.kind}:  {line.sentence1}  |  {line.sentence2}{note}")
    return 1 if failed.any() else 0


def check_canary(scorer, as_json: bool, finished: bool):
    """Run the canary (``embedlab.tasks.canary``) and say what it saw: a line on stdout, or the JSON object when it
    is the last word (it failed, or there is no FILE); a line on stderr when the JSON of the test follows."""
    import sys

    from embedlab.tasks.canary import run_canary

    canary = run_canary(scorer)
    if as_json and (finished or not canary.passed):
        print(json.dumps({**scorer.report(), "canary": canary.as_dict()}, ensure_ascii=False))
    elif as_json:
        print(f"canary: {canary.saw}", file=sys.stderr)
    else:
        print(f"canary: {canary.label}: {canary.saw}")
    return canary
