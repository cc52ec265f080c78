"""``perturb``: labelled pairs generated from a file of sentences, written as a file ``negtest`` reads."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from embedlab.errors import EmbedLabError


def add_perturb_command(commands) -> None:
    """The ``perturb`` subcommand."""
    perturb = commands.add_parser(
        "perturb", help="labelled pairs from your sentences (negation, antonym, role reversal, typo, ...)"
    )
    perturb.add_argument(
        "file", help="a text file (one sentence per line), or a CSV/TSV with a sentence or text column"
    )
    perturb.add_argument("--out", required=True, help="CSV to write: sentence1, sentence2, label, category (= kind)")
    perturb.add_argument(
        "--kinds",
        nargs="+",
        metavar="KIND",
        help="kinds of edit (default: all): negation, antonym, number, role_reversal, entity_swap, typo, "
        "case_punctuation, contraction",
    )
    perturb.add_argument("--seed", type=int, default=0, help="seeds the choices (a number, a name, a typo's place)")
    perturb.add_argument("--json", action="store_true", help="print one JSON object instead of a line")


def run_perturb(args: argparse.Namespace) -> int:
    from embedlab.data.csvsafe import csv_bytes
    from embedlab.data.pairfiles import decode_text
    from embedlab.data.paths import read_data_file
    from embedlab.tasks.perturb import EXPECTED, KINDS, check_kinds, perturb, sentences_from_text

    kinds = check_kinds(args.kinds if args.kinds is not None else KINDS)
    data, name = read_data_file(args.file)
    result = perturb(sentences_from_text(decode_text(data, name), name), kinds, seed=args.seed, name=name)
    out = Path(args.out)
    if out.suffix.lower() not in {".csv"}:
        raise EmbedLabError(f"--out {args.out} must end in .csv (negtest reads it back).")
    if out.is_dir() or not out.parent.is_dir():
        raise EmbedLabError(f"--out {args.out}: give a file in an existing folder.")
    partial = out.with_name(f".{out.name}.partial")
    partial.write_bytes(csv_bytes(result.pairs))
    os.replace(partial, out)  # a reader never sees half a file
    labels = set(result.pairs["label"])
    if args.json:
        counts = result.pairs["category"].value_counts()
        print(
            json.dumps(
                {
                    "out": str(out),
                    "sentences": result.sentences,
                    "pairs": len(result.pairs),
                    "kinds": {
                        kind: {"pairs": int(counts.get(kind, 0)), "skipped": skipped, "label": EXPECTED[kind]}
                        for kind, skipped in result.skipped.items()
                    },
                },
                ensure_ascii=False,
            )
        )
    else:
        print(f"{out}: {result.summary()}")
    if len(labels) < 2:
        which = "should differ (label 0)" if labels == {0} else "should stay similar (label 1)"
        print(
            f"note: every pair {which}; negtest needs both labels: add a kind of the other label "
            "(typo, case_punctuation, contraction keep the meaning; the others change it).",
            file=sys.stderr,
        )
    return 0
