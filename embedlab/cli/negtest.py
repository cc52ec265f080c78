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


def add_negtest_command(commands) -> None:
    """The ``negtest`` subcommand."""
    negtest = commands.add_parser("negtest", help="labelled pairs: AUC, threshold, failures; exit 1 if any fails")
    negtest.add_argument("file", help="CSV or TSV with sentence1, sentence2 and label (1 = similar, 0 = not)")
    add_model_options(negtest)
    add_post_options(negtest)
    negtest.add_argument(
        "--threshold", type=float, help="cosine (cross-encoder: score) at or above which a pair matches (default: best)"
    )
    negtest.add_argument("--json", action="store_true", help="print one JSON object")
    negtest.add_argument(
        "--skip-unreadable", action="store_true", help="leave out pairs the model cannot read (mostly [UNK] tokens)"
    )


def run_negtest(args: argparse.Namespace) -> int:
    from embedlab.tasks.negtest import THRESHOLD_HOW, read_labelled_pairs, run_scorer_negtest
    from embedlab.tasks.negtest import run_negtest as negative_test

    pairs = read_labelled_pairs(args.file)  # bad input fails before the model loads
    if args.threshold is not None and not math.isfinite(args.threshold):
        raise EmbedLabError(f"--threshold must be a number, not {args.threshold}.")
    scorer = open_model(args)
    if not scorer.can("vectors"):  # its own score of each pair, against its own random-pair baseline
        result = run_scorer_negtest(scorer, pairs, args.threshold)
        notes = [{} for _ in pairs.index]
    else:
        spec, encoder = scorer.spec, scorer.encoder
        encoder.vectors([], spec)  # validates layers and post-processing before scoring
        result = negative_test(encoder, spec, pairs, args.threshold, skip_unreadable=args.skip_unreadable)
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
