"""``train``: train a sentence embedder (or a cross-encoder) here, or queue the run with ``--queue``."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from dataclasses import replace

from embedlab.cli.common import INTERRUPTED, load_encoder, say, stop_on_interrupt
from embedlab.errors import EmbedLabError


def add_train_command(commands) -> None:
    """The ``train`` subcommand (see ``embedlab.training``)."""
    from embedlab.training.compose import ACTIVATIONS, TRAIN_POOLINGS
    from embedlab.training.cross import METHOD as CROSS_METHOD
    from embedlab.training.data import METHODS
    from embedlab.training.run import PRECISIONS

    train = commands.add_parser("train", help="train a sentence embedder and save it as a folder")
    train.add_argument(
        "data",
        help="CSV/TSV/STS file (pairs: sentence1, sentence2[, score]) or a text file with one sentence per line; "
        "'bundled' for the project's own small sets",
    )
    train.add_argument(
        "--model", required=True, help="start model: all-MiniLM-L6-v2, untrained-bert, a Hub id or folder"
    )
    train.add_argument("--pooling", default="cls", choices=TRAIN_POOLINGS, help="Pooling mode (default cls)")
    train.add_argument("--max-seq-length", type=int, help="Transformer truncation (default: the start model's)")
    train.add_argument("--dense", type=int, metavar="N", help="add Dense(hidden -> N) after pooling")
    train.add_argument("--activation", default="tanh", choices=ACTIVATIONS, help="Dense activation (default tanh)")
    train.add_argument("--normalize", action="store_true", help="add Normalize at the end")
    train.add_argument(
        "--method",
        required=True,
        choices=(*METHODS, CROSS_METHOD),
        help="loss and data kind; cross-encoder: a classifier head on [CLS] of the pair (scored or 0/1 pairs)",
    )
    train.add_argument(
        "--matryoshka-dims",
        metavar="DIMS",
        help="wrap the method's loss in MatryoshkaLoss so the first k dims work alone: widths such as 256,128,64 "
        "(the full width is always trained too), or auto (up to three of 512/256/128/64/32/16 below it); "
        "cosine, cosent, mnrl, simcse, pitfall-random-labels; --eval reports the Spearman at each width",
    )
    length = train.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=float, default=1.0, help="passes over the data (default 1)")
    length.add_argument("--max-steps", type=int, help="stop after N steps instead")
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument("--lr", type=float, help="learning rate (default 2e-5; simcse 5e-5, tsdae 3e-5)")
    train.add_argument("--warmup", type=float, default=0.1, help="warmup as a ratio of the steps (default 0.1)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--no-grouping", action="store_true", help="batches in random order, not grouped by length (more padding)"
    )
    train.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
        help="bf16 autocast halves the step time on a CPU with native bfloat16; auto (default) uses it there, "
        "except for mnrl and simcse (in-batch negatives lose accuracy in bf16)",
    )
    train.add_argument("--out", required=True, help="folder to save the model in (must not exist or be empty)")
    train.add_argument("--eval", metavar="STSFILE", help="STS-format or scored CSV/TSV: Spearman before and after")
    train.add_argument(
        "--keep-partial", action="store_true", help="on Ctrl-C, save the model trained so far (default: save nothing)"
    )
    train.add_argument("--json", action="store_true", help="print one JSON object")
    train.add_argument(
        "--queue",
        action="store_true",
        help="queue the run for a worker (python -m embedlab worker) and print its id, instead of training here",
    )


def run_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from embedlab.tasks.sts import read_scored_pairs
    from embedlab.training.compose import Composition
    from embedlab.training.cross import METHOD as CROSS_METHOD
    from embedlab.training.data import bundled_data, read_training_file
    from embedlab.training.matryoshka import parse_dims
    from embedlab.training.methods import composition_problem, matryoshka_problem, start_problem
    from embedlab.training.run import (
        ProgressReport,
        TrainSettings,
        default_learning_rate,
        matryoshka_dims,
        resolve_precision,
        train,
    )
    from embedlab.training.save import save_trained

    # Every bad input fails before the model loads; the start model by the rule the Train page uses.
    if problem := start_problem(args.model, args.method):
        raise EmbedLabError(problem)
    composition = Composition(
        args.model,
        pooling=args.pooling,
        max_seq_length=args.max_seq_length,
        dense_out=args.dense,
        activation=args.activation,
        normalize=args.normalize,
    )
    settings = TrainSettings(
        epochs=args.epochs,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        learning_rate=args.lr if args.lr is not None else default_learning_rate(args.method),
        warmup_ratio=args.warmup,
        seed=args.seed,
        precision=args.precision,
        group_by_length=not args.no_grouping,
    )
    if problem := composition_problem(composition, args.method):
        raise EmbedLabError(problem)
    matryoshka = parse_dims(args.matryoshka_dims) if args.matryoshka_dims is not None else None
    if problem := matryoshka_problem(args.method, matryoshka, composition):
        raise EmbedLabError(problem)
    if args.method == CROSS_METHOD:
        return run_train_cross(args, settings, composition)
    if args.data == "bundled":
        data = bundled_data(args.method, args.seed)
    else:
        data = read_training_file(args.data, args.method, args.seed)
    data = replace(data, matryoshka=matryoshka)
    eval_pairs = read_scored_pairs(args.eval) if args.eval else None
    out = Path(args.out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise EmbedLabError(f"--out {args.out} already exists and is not empty: give a new folder.")
    if args.queue:
        from embedlab.training.queue import TrainRequest

        return queue_run(TrainRequest(composition, data, settings, str(out), eval_pairs, args.keep_partial))
    loaded = load_encoder(args.model).model
    hidden_size = loaded.facts.hidden_size
    if problem := composition_problem(composition, data.method, hidden_size) or matryoshka_problem(
        data.method, matryoshka, composition, hidden_size
    ):
        raise EmbedLabError(problem)
    for warning in composition.warnings():
        print(f"warning: {warning}", file=sys.stderr)
    if matryoshka is not None and eval_pairs is None:
        print("note: give --eval to see the STS Spearman at each Matryoshka width before and after", file=sys.stderr)
    print(
        f"training {data.method_label} ({data.loss_name}) on {data.source} (learning rate "
        f"{settings.learning_rate:g}, {resolve_precision(settings.precision, data.method)} precision)",
        file=sys.stderr,
    )

    def progress(report: ProgressReport) -> None:
        if report.step == 0:
            return
        eta = f", ETA {report.eta_seconds:.0f} s" if report.eta_seconds is not None else ""
        loss = f" loss {report.loss:.4f}" if report.loss is not None else ""
        line = f"step {report.step}/{report.total}{loss} · {report.steps_per_second:.2f} steps/s{eta}\n"
        print(line, end="", file=sys.stderr, flush=True)  # one write: a Ctrl-C message never splits the line

    stop = threading.Event()
    with stop_on_interrupt(stop):
        result = train(
            composition,
            data,
            settings,
            loaded=loaded,
            eval_pairs=eval_pairs,
            progress=progress,
            stop=stop,
            keep=lambda: args.keep_partial,  # else a stopped run ends without its 'after' measurement
        )
    if result.stopped and not args.keep_partial:
        print(
            f"interrupted at step {result.steps} of {result.total_steps}: nothing saved (--keep-partial keeps the "
            "partial model)",
            file=sys.stderr,
        )
        return INTERRUPTED
    folder = save_trained(result, out)
    widths = matryoshka_dims(result.model, data.matryoshka) if data.matryoshka is not None else ()
    if args.json:
        keep = ("spearman", "baseline_mean", "baseline_p95", "negtest_auc", "negtest_failures", "by_dims")
        print(
            json.dumps(
                {
                    "out": str(folder),
                    "method": data.method,
                    "loss": data.loss_name,
                    **({"matryoshka_dims": list(widths)} if widths else {}),
                    "steps": result.steps,
                    "seconds": round(result.seconds, 3),
                    "examples": data.n_examples,
                    "precision": result.precision,
                    "before": {key: result.before.as_dict()[key] for key in keep if key in result.before.as_dict()},
                    "after": {key: result.after.as_dict()[key] for key in keep if key in result.after.as_dict()},
                }
            )
        )
        return INTERRUPTED if result.stopped else 0
    partial = f" (a partial model: interrupted at step {result.steps} of {result.total_steps})" * result.stopped
    print(f"saved to {folder} ({result.steps} steps, {result.seconds:.1f} s of training){partial}")
    if widths:
        print(f"{data.loss_name} at widths {', '.join(map(str, widths))}: truncate to any of them")
    print_before_after(result.before, result.after)
    return INTERRUPTED if result.stopped else 0


def print_before_after(
    before, after, spearman: str = "STS Spearman", baseline: str = "random-pair cosine (mean)"
) -> None:
    """The run's numbers before -> after (two ``Scores``), one line each; "n/a" where a number is missing or NaN."""
    rows = [
        (spearman, before.spearman, after.spearman, ".1f"),
        (baseline, before.baseline_mean, after.baseline_mean, ".3f"),
        ("negative-test AUC", before.negtest_auc, after.negtest_auc, ".3f"),
        ("negative-test failures", before.negtest_failures, after.negtest_failures, "d"),
    ]
    after_dims = dict(after.by_dims)
    rows += [(f"STS Spearman, first {k} dims", value, after_dims.get(k), ".1f") for k, value in before.by_dims]
    for name, first, second, form in rows:
        shown = [("n/a" if value is None or value != value else format(value, form)) for value in (first, second)]
        print(f"{name:28s} {shown[0]:>8s} -> {shown[1]}")


def print_progress(report) -> None:
    """One stderr line per training step (a ``ProgressReport``), written in one go."""
    if report.step == 0:
        return
    eta = f", ETA {report.eta_seconds:.0f} s" if report.eta_seconds is not None else ""
    loss = f" loss {report.loss:.4f}" if report.loss is not None else ""
    line = f"step {report.step}/{report.total}{loss} · {report.steps_per_second:.2f} steps/s{eta}\n"
    print(line, end="", file=sys.stderr, flush=True)  # one write: a Ctrl-C message never splits the line


def run_train_cross(args: argparse.Namespace, settings, composition) -> int:
    """``train --method cross-encoder``: a new head on [CLS] of the start model, trained on scored or 0/1 pairs."""
    from pathlib import Path

    from embedlab.tasks.sts import read_scored_pairs
    from embedlab.training.cross import METHOD, CrossEncoderMethod, save_cross
    from embedlab.training.data import read_training_file
    from embedlab.training.run import run_method

    if args.data == "bundled":
        raise EmbedLabError(
            "A cross-encoder needs scored or 0/1-labelled pairs: give a file (sts-train.csv, or sentence1, sentence2, "
            "score); the bundled data holds only positive pairs and plain sentences."
        )
    data = read_training_file(args.data, "cosine")
    eval_pairs = read_scored_pairs(args.eval) if args.eval else None
    out = Path(args.out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise EmbedLabError(f"--out {args.out} already exists and is not empty: give a new folder.")
    if args.queue:
        from embedlab.training.queue import TrainRequest

        return queue_run(TrainRequest(composition, data, settings, str(out), eval_pairs, args.keep_partial, True))
    print(f"training a cross-encoder on {data.source} (learning rate {settings.learning_rate:g})", file=sys.stderr)
    stop = threading.Event()
    with stop_on_interrupt(stop):
        method = CrossEncoderMethod(composition, data)
        result = run_method(
            method,
            settings,
            eval_pairs,
            progress=print_progress,
            stop=stop,
            keep=lambda: args.keep_partial,  # else a stopped run ends without its 'after' measurement
        )
    if result.stopped and not args.keep_partial:
        print(f"interrupted at step {result.steps} of {result.total_steps}: nothing saved", file=sys.stderr)
        return INTERRUPTED
    folder = save_cross(result, out)
    keep = ("spearman", "baseline_mean", "baseline_p95", "negtest_auc", "negtest_failures")
    if args.json:
        payload = {
            "out": str(folder),
            "kind": "cross-encoder",
            "method": METHOD,
            "steps": result.steps,
            "seconds": round(result.seconds, 3),
            "examples": data.n_examples,
            "precision": result.precision,
            "before": {key: result.before.as_dict()[key] for key in keep},
            "after": {key: result.after.as_dict()[key] for key in keep},
        }
        print(json.dumps(payload))
        return INTERRUPTED if result.stopped else 0
    print(f"saved to {folder} ({result.steps} steps, {result.seconds:.1f} s of training): CrossEncoder(dir) loads it")
    print_before_after(result.before, result.after, "STS Spearman (its scores)", "random-pair score (mean)")
    return INTERRUPTED if result.stopped else 0


def queue_run(request) -> int:
    """``train --queue``: queue ``request`` and print its id."""
    import secrets

    from embedlab.training.queue import JobQueue, command_line_label

    jobs = JobQueue()
    job_id = jobs.submit(request, owner=secrets.token_hex(16), label=command_line_label())
    print(job_id)
    if not jobs.live_workers():
        say("queued; no worker is running: start one with `python -m embedlab worker`")
    return 0
