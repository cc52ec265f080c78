"""``tokens``: the word pieces and, per layer, where the attention of one token goes."""

from __future__ import annotations

import argparse
import json

from embedlab.cli.common import load_encoder
from embedlab.errors import EmbedLabError


def add_tokens_command(commands) -> None:
    """The ``tokens`` subcommand."""
    tokens = commands.add_parser("tokens", help="word pieces and, per layer, where [CLS]'s attention goes")
    tokens.add_argument("text", help="one sentence")
    tokens.add_argument(
        "--model", default="all-MiniLM-L6-v2", help="all-MiniLM-L6-v2 (default), untrained-bert, a Hub id or a folder"
    )
    tokens.add_argument("--token", type=int, default=0, metavar="N", help="whose attention: token N (default 0, [CLS])")
    tokens.add_argument("--json", action="store_true", help="print one JSON object")


def run_tokens(args: argparse.Namespace) -> int:
    from embedlab.tasks.attention import SHARE_KINDS, attention_maps, attention_summary, eager_backbone

    if not args.text.strip():
        raise EmbedLabError("TEXT is empty: give one sentence.")
    from embedlab.scorers.registry import kind_of

    kind_of(args.model).refuse_unless(args.model.strip(), "tokens", "the token view")
    model = load_encoder(args.model).model
    maps = attention_maps(eager_backbone(model), model, [args.text])[0]
    summary = attention_summary(maps, args.token)
    if args.json:
        print(json.dumps({"model": model.facts.ref, **summary}, ensure_ascii=False))
        return 0
    print(f"{model.facts.ref}: {len(maps.tokens)} tokens, {maps.n_layers} layers x {maps.n_heads} heads")
    print(f"attention from token {args.token} ({maps.tokens[args.token]}), averaged over heads:")
    width = max(7, *(len(token) for token in maps.tokens))
    share_names = "".join(f"{'on ' + kind:>15s}" for kind in SHARE_KINDS)
    print("layer  " + " ".join(f"{token:>{width}s}" for token in maps.tokens) + "  " + share_names)
    for row in summary["layers"]:
        cells = " ".join(f"{value:>{width}.3f}" for value in row["attention"])
        shares = "".join(f"{row[f'share_{kind}']:>15.2f}" for kind in SHARE_KINDS)
        print(f"{row['layer']:>5d}  {cells}  {shares}")
    return 0
