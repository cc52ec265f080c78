"""Command line: ``python -m embedlab score FILE --model REF [--pooling ...] [--layers ...] [--json]``.

Exit status: 0 done, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence

from embedlab.errors import EmbedLabError
from embedlab.specs import DEFAULT_LAYERS, POOLINGS, EmbedSpec


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other bad input
        self.exit(2, f"{self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m embedlab", description="Score sentence pairs with any pooling of any model.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    score = commands.add_parser("score", help="cosine of each pair in a CSV/TSV/STS file")
    score.add_argument("file", help="CSV or TSV with sentence1 and sentence2 columns, or an STS-format file")
    add_model_options(score)
    score.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The options that pick one configuration: shared by every subcommand."""
    parser.add_argument("--model", required=True, help="all-MiniLM-L6-v2, untrained-bert, a Hub id or a folder")
    parser.add_argument("--pooling", default="model", choices=POOLINGS, help="default: the model's own pipeline")
    parser.add_argument("--layers", default=DEFAULT_LAYERS, help="index, first-last, a:b or a comma list (default -1)")


def load_encoder(ref: str):
    from embedlab.encoder import Encoder
    from embedlab.models import load_model

    return Encoder(load_model(ref))


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


def run_score(args: argparse.Namespace) -> int:
    from embedlab.pairfiles import read_pairs
    from embedlab.scoring import pair_cosines, random_pair_baseline

    pairs = read_pairs(args.file)
    spec = EmbedSpec(model=args.model, pooling=args.pooling, layers=args.layers)
    encoder = load_encoder(args.model)
    encoder.vectors([], spec)  # validates the layer spec against this model before any work
    texts = list(zip(pairs["sentence1"], pairs["sentence2"], strict=True))
    scorable = [i for i, (first, second) in enumerate(texts) if first.strip() and second.strip()]
    cosines = [float("nan")] * len(texts)
    for i, value in zip(scorable, pair_cosines(encoder, [texts[i] for i in scorable], spec), strict=True):
        cosines[i] = float(value)
    baseline = random_pair_baseline(encoder, spec)
    if args.json:
        print(
            json.dumps(
                {
                    "model": args.model,
                    "pooling": spec.pooling,
                    "layers": spec.layers,
                    "baseline": {"mean": _number(baseline.mean), "p95": _number(baseline.p95)},
                    "pairs": [
                        {"sentence1": first, "sentence2": second, "cosine": _number(cosine)}
                        for (first, second), cosine in zip(texts, cosines, strict=True)
                    ],
                },
                ensure_ascii=False,
            )
        )
        return 0
    print(f"{spec.label}  (random-pair baseline: mean {baseline.mean:.3f}, p95 {baseline.p95:.3f})")
    for (first, second), cosine in zip(texts, cosines, strict=True):
        shown = "  empty" if math.isnan(cosine) else f"{cosine:7.4f}"
        print(f"{shown}  {first}  |  {second}")
    return 0


COMMANDS = {"score": run_score}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        return COMMANDS[args.command](args)
    except EmbedLabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
