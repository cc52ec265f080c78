"""``distill``: make a static model from a sentence embedder (``embedlab.training.distill``) here, or queue it."""

from __future__ import annotations

import argparse
import json
import sys
import threading

from embedlab.cli.common import INTERRUPTED, load_encoder, stop_on_interrupt
from embedlab.errors import EmbedLabError


def add_distill_command(commands) -> None:
    """The ``distill`` subcommand."""
    from embedlab.training.distill import DEFAULT_PCA_DIMS

    distill = commands.add_parser(
        "distill", help="distil a static model (a table of token vectors) from a sentence embedder, offline"
    )
    distill.add_argument("--model", required=True, help="start model: all-MiniLM-L6-v2, a Hub id or a folder")
    distill.add_argument("--out", required=True, help="folder to save the static model in (must not exist or be empty)")
    distill.add_argument(
        "--dims", type=int, default=DEFAULT_PCA_DIMS, help=f"its width after PCA (default {DEFAULT_PCA_DIMS})"
    )
    distill.add_argument("--eval", metavar="STSFILE", help="STS-format or scored CSV/TSV: Spearman before and after")
    distill.add_argument("--json", action="store_true", help="print one JSON object")
    distill.add_argument("--queue", action="store_true", help="queue it for a worker and print its id")


def run_distill(args: argparse.Namespace) -> int:
    from pathlib import Path

    from embedlab.cli.train import print_before_after, queue_run
    from embedlab.tasks.sts import read_scored_pairs
    from embedlab.training.compose import Composition
    from embedlab.training.distill import METHOD, DistillMethod, distill_data, distill_settings, save_static
    from embedlab.training.methods import start_problem
    from embedlab.training.run import run_method

    # Every bad input fails before the model loads; the start model by the rule the Train page uses.
    if problem := start_problem(args.model, METHOD):
        raise EmbedLabError(problem)
    data = distill_data(args.dims)
    out = Path(args.out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise EmbedLabError(f"--out {args.out} already exists and is not empty: give a new folder.")
    eval_pairs = read_scored_pairs(args.eval) if args.eval else None
    composition = Composition(args.model)
    method = DistillMethod(composition, data)  # refuses here when model2vec or skeletoken is missing
    if args.queue:
        from embedlab.training.queue import TrainRequest

        return queue_run(TrainRequest(composition, data, distill_settings(), str(out), eval_pairs, False))
    method.loaded = load_encoder(args.model).model
    print(f"distilling {args.model}: {data.source}", file=sys.stderr)
    stop = threading.Event()
    with stop_on_interrupt(stop):
        result = run_method(method, distill_settings(), eval_pairs, stop=stop)
    if stop.is_set():
        print("interrupted: nothing saved", file=sys.stderr)
        return INTERRUPTED
    folder = save_static(result, out)
    dims = int(result.model[0].embedding_dim)
    if args.json:
        keep = ("spearman", "baseline_mean", "baseline_p95", "negtest_auc", "negtest_failures")
        payload = {
            "out": str(folder),
            "kind": "static",
            "method": METHOD,
            "dims": dims,
            "seconds": round(result.seconds, 3),
            "before": {key: result.before.as_dict()[key] for key in keep},
            "after": {key: result.after.as_dict()[key] for key in keep},
        }
        print(json.dumps(payload))
        return 0
    print(f"saved to {folder} ({dims} dimensions, {result.seconds:.1f} s): SentenceTransformer(dir) loads it")
    print_before_after(result.before, result.after)
    return 0
