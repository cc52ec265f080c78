"""What the commands share: the parser, the model options, opening a scorer (its options checked), notes on
texts, and Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import signal
import sys
import threading
from collections.abc import Sequence

from embedlab.embedding.compression import PRECISIONS
from embedlab.embedding.specs import DEFAULT_LAYERS, POOLINGS, EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.models.backends import BACKENDS, backend_ref
from embedlab.models.identity import resolve_model

INTERRUPTED = 130  # exit status after Ctrl-C, the shell's convention (128 + SIGINT)


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # argparse reads "-1e-5" as an option (its negative-number pattern has no exponent), so "--lr -1e-5" failed
        # with "expected one argument": negative numbers in every notation are values, and the settings then say
        # what is wrong with them. No option of this command looks like a number, so nothing is shadowed.
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

    def error(self, message: str) -> None:  # one line, exit 2, like every other bad input
        self.exit(2, f"{self.prog}: {message}\n")


def whole_number(what: str, low: int, high: int):
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


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The options that pick one configuration: shared by every subcommand."""
    parser.add_argument(
        "--model",
        required=True,
        help="all-MiniLM-L6-v2, untrained-bert, a Hub id or a folder (a cross-encoder folder: its own pair scores)",
    )
    parser.add_argument("--pooling", default="model", choices=POOLINGS, help="default: the model's own pipeline")
    parser.add_argument(
        "--layers", default=DEFAULT_LAYERS, type=layer_spec, help="index, first-last, a:b or a comma list (default -1)"
    )
    parser.add_argument(
        "--backend", choices=BACKENDS, help="run the model's backbone in ONNX Runtime or OpenVINO (exported here)"
    )
    parser.add_argument("--quantize", choices=("int8",), help="with --backend: int8 weights (fp32 by default)")
    parser.add_argument(
        "--vectors",
        default="float32",
        choices=PRECISIONS,
        help="store vectors as int8/uint8 codes or bits (the float32 numbers are printed beside)",
    )
    parser.add_argument("--dims", type=whole_number("--dims", 1, 100_000), help="keep the first N dimensions")


def apply_backend(args: argparse.Namespace) -> None:
    """``--model M --backend onnx --quantize int8`` becomes ``--model "M (ONNX int8)"``: the reference every model
    box shows (``models.backends``); nothing for a command without these options.

    Raises:
        EmbedLabError: ``--quantize`` without ``--backend``.
    """
    if getattr(args, "backend", None) or getattr(args, "quantize", None):
        args.model = backend_ref(args.model, args.backend, args.quantize)


def layer_spec(text: str) -> str:
    """An --layers value: refused when blank (checked against the model once it is loaded)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the layer spec is empty: give an index, first-last, a:b or a list")
    return text.strip()


def load_engine(kind, model_id):
    """The engine ``open_scorer`` gives a scorer here: loaded fresh, a Hub download reported on stderr. Tests
    replace it to share an engine between commands."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no "Loading weights" bar: stderr is one line, the error if any
    return kind.load_engine(model_id, progress=_DownloadPrinter())


def check_options(args: argparse.Namespace) -> None:
    """Refuse the options the kind of ``--model`` cannot honour (``inapplicable_options``; and
    ``--skip-unreadable``, which reads the [UNK] shares of single sentences, for a kind without sentence vectors),
    before any file is read or model loaded (exit 2).

    Raises:
        EmbedLabError: such an option was given.
    """
    from embedlab.scorers.registry import kind_of

    kind = kind_of(args.model)
    asked = inapplicable_options(args)
    if "vectors" not in kind.capabilities and getattr(args, "skip_unreadable", False):
        asked.append("--skip-unreadable")
    if "vectors" not in kind.capabilities:
        asked += [f"--vectors {args.vectors}"] * (getattr(args, "vectors", "float32") != "float32")
        asked += [f"--dims {args.dims}"] * (getattr(args, "dims", None) is not None)
    kind.refuse_options(args.model.strip(), asked)


def open_model(args: argparse.Namespace):
    """The scorer of ``--model`` with the configuration options given (``spec_from_args``), its options checked.

    Raises:
        EmbedLabError: an option its kind cannot honour (``check_options``), or the model cannot be loaded.
    """
    from embedlab.scorers.registry import open_scorer

    check_options(args)
    return open_scorer(spec_from_args(args), engine=load_engine)


def load_encoder(ref):
    """The engine of ``ref``'s sentence vectors (an ``Encoder`` for a model loaded here): the token view's.

    Raises:
        EmbedLabError: the model has none (a cross-encoder).
    """
    from embedlab.scorers.registry import kind_of, open_scorer

    kind_of(ref).refuse_unless(str(ref).strip(), "vectors", "sentence vectors")
    return open_scorer(ref, engine=load_engine).engine


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


def note_texts_sent(scorer) -> None:
    """One stderr line with the texts a service was sent (they cost money); nothing for other models."""
    report = scorer.report()
    if "texts_sent" in report:
        print(f"note: {report['texts_sent']} texts sent to {scorer.ref}", file=sys.stderr)


def json_number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


def text_notes(encoder, texts: Sequence[tuple[str, str]]) -> list[dict]:
    """Per pair, what the user must know about its texts: unknown-token shares, truncation, and the note.

    Returns dicts with "unknown_tokens" ({"sentence1": share, "sentence2": share}; None for a pair with an empty
    sentence, which is not scored), "truncated" (the sentences cut at the model's limit) and "note" ("" when
    nothing is wrong). From ``encoder.token_counts``: tokenization alone, never a model pass (texts whose vectors
    were read from a stored corpus are not encoded for their notes either).
    """
    from embedlab.embedding.readability import unknown_share, unreadable_note

    limit = encoder.model.facts.max_seq_length
    scored = [i for i, (first, second) in enumerate(texts) if first.strip() and second.strip()]
    found = [{"unknown_tokens": None, "truncated": [], "note": ""} for _ in texts]
    counts = encoder.token_counts([text for i in scored for text in texts[i]])
    for i, first, second in zip(scored, counts[0::2], counts[1::2], strict=True):
        named = [("sentence1", first), ("sentence2", second)]
        note = unreadable_note([first, second])
        cut = [f"{name} cut to {limit} of {count.n_tokens} tokens" for name, count in named if count.truncated]
        found[i] = {
            "unknown_tokens": {name: round(unknown_share(count), 4) for name, count in named},
            "truncated": [name for name, count in named if count.truncated],
            "note": "; ".join([note, *cut] if note else cut),
        }
    return found


def warn_notes(texts: Sequence[tuple[str, str]], notes: Sequence[dict]) -> None:
    """One stderr line per pair with a note (row numbers from 1 below the header, as the pages count)."""
    for row, ((first, second), found) in enumerate(zip(texts, notes, strict=True), start=1):
        if found.get("note"):
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
        precision=getattr(args, "vectors", "float32"),
        dims=getattr(args, "dims", None),
    )


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
