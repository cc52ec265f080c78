"""``embed``: encode a whole corpus (a text file, one text per line, or a CSV column) into float32 vectors.

``python -m embedlab embed FILE --model REF --out DIR [--column C] [--chunk N]`` encodes here, chunk by chunk, into
the corpus store (``embedlab.corpus.store``: vectors kept once per model revision and texts, so running it again
resumes or reuses them), then writes ``DIR/vectors.npy`` (float32, row i = text i), ``DIR/texts.jsonl`` and
``DIR/meta.json``. With ``--queue`` the corpus is queued for the workers instead (the same job as an app tab asking
for it) and the job's id and the store folder are printed.

``--map METHOD`` fits the corpus's 2-D map too (``embedlab.corpus.mapping``: kept in the corpus folder, where the
Projection page reads it), here after the encoding (also written as ``DIR/map.npy``), or with ``--queue`` as a map
job (the same job as a Projection tab asking for that map) once the corpus is stored: a corpus still to encode gets
its encoding job, and the same command run again once it has finished queues the map.
"""

from __future__ import annotations

import argparse
import json
import shutil
import threading
from pathlib import Path

from embedlab.cli.common import INTERRUPTED, say, stop_on_interrupt, whole_number
from embedlab.errors import EmbedLabError


def add_embed_command(commands) -> None:
    """The ``embed`` subcommand."""
    embed = commands.add_parser("embed", help="encode a corpus (one text per line, or a CSV column) into vectors")
    embed.add_argument("file", help="a text file (one text per line) or a CSV file")
    embed.add_argument("--model", required=True, help="a sentence-transformers model: a Hub name or a saved folder")
    embed.add_argument("--out", help="folder to write vectors.npy, texts.jsonl and meta.json into")
    embed.add_argument("--column", default="", help="the CSV column that holds the texts (default: the first)")
    embed.add_argument(
        "--chunk", type=whole_number("a chunk size", 1, 1_000_000), default=None, metavar="N",
        help="texts per chunk written (default 1024; a corpus already stored keeps its own)",
    )  # fmt: skip
    embed.add_argument(
        "--queue",
        action="store_true",
        help="queue the corpus for a worker (python -m embedlab worker) and print the job's id instead of encoding",
    )
    embed.add_argument(
        "--map",
        default=None,
        metavar="METHOD",
        help="fit the corpus's 2-D map too: auto (UMAP, PCA above 100,000 texts), umap or pca; kept for the "
        "Projection page and written as DIR/map.npy, or queued with --queue",
    )


def run_embed(args: argparse.Namespace) -> int:
    from embedlab.corpus.store import DEFAULT_CHUNK, prepare_corpus
    from embedlab.corpus.texts import read_corpus

    if args.queue and args.out:
        raise EmbedLabError(
            "--out is written by an encoding done here: leave out --queue, or read the vectors from the folder "
            "printed once the job has finished."
        )
    if not args.queue and not args.out:
        raise EmbedLabError("give --out DIR (where vectors.npy goes), or --queue to have a worker encode the corpus.")
    if args.map is not None:
        from embedlab.corpus.mapping import check_map

        check_map(args.map, 0)  # the method's name, before any work
    corpus = read_corpus(args.file, args.column)
    stored = prepare_corpus(args.model, corpus, args.chunk or DEFAULT_CHUNK)
    if args.queue:
        return _queue(args.model, stored, args.map)
    out = Path(args.out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise EmbedLabError(f"{out} exists and is not an empty folder: choose another --out.")
    from embedlab.corpus.encode import encode_corpus
    from embedlab.models.loading import load_model

    model = load_model(args.model)
    stop = threading.Event()

    def progress(report) -> None:
        eta = f", about {report.eta_seconds:.0f} s left" if report.eta_seconds is not None else ""
        encoded = f"{report.rows_done:,} texts encoded in {report.elapsed_seconds:.1f} s{eta}"
        say(f"chunk {report.done}/{report.total} ({encoded})")

    if stored.done_chunks():
        say(f"{len(stored.done_chunks())} of {stored.n_chunks} chunks already stored in {stored.folder}: resuming")
    with stop_on_interrupt(stop):
        result = encode_corpus(stored, model, progress=progress, stop=stop)
    if not result.finished:
        say(f"stopped after chunk {result.done} of {result.total}: run the same command again to resume")
        return INTERRUPTED
    if result.truncated:
        say(
            f"{result.truncated:,} of {stored.n_texts:,} texts were longer than the model's "
            f"{model.st_model.max_seq_length} tokens and were cut"
        )
    import numpy as np

    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "vectors.npy", stored.vectors())
    shutil.copyfile(stored.folder / "texts.jsonl", out / "texts.jsonl")
    meta = json.loads((stored.folder / "meta.json").read_text(encoding="utf-8"))
    meta["truncated"] = result.truncated
    if args.map:
        fitted = _fit_map(stored, args.map, stop)
        if fitted is None:
            say("stopped while fitting the map: nothing was kept; the vectors are stored, run the command again")
            return INTERRUPTED
        np.save(out / "map.npy", fitted.coords)
        meta["map"] = {"method": fitted.method, "fitted_on": fitted.fitted_on, "note": fitted.note}
    (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    print(f"{stored.n_texts:,} vectors written to {out / 'vectors.npy'} (stored in {stored.folder})")
    if args.map:
        print(f"the map written to {out / 'map.npy'}: {meta['map']['note']}")
    return 0


def _fit_map(stored, method: str, stop: threading.Event):
    """The corpus's map, read when kept, else fitted here with its progress said and kept; None when Ctrl-C
    stopped it."""
    from embedlab.corpus.mapping import check_map, kept_corpus_map
    from embedlab.tasks.projection import DEFAULT_SEED

    check_map(method, stored.n_texts)
    said = [0.0]

    def progress(done: int, total: int) -> None:
        if done >= total or done / total - said[0] >= 0.1:
            said[0] = done / total
            say(f"map: {done:,}/{total:,} points placed")

    say(f"fitting the {method} map of {stored.n_texts:,} points (kept in {stored.folder})")
    with stop_on_interrupt(stop):
        fitted, fitted_now = kept_corpus_map(stored.folder, stored.vectors(), method, DEFAULT_SEED, progress, stop)
    if fitted is not None and not fitted_now:
        say("the map was kept already: read, not fitted again")
    return fitted


def _queue(model: str, stored, method: str | None = None) -> int:
    import secrets

    from embedlab.tasks.projection import DEFAULT_SEED
    from embedlab.training.queue import EncodeRequest, JobQueue, MapRequest, command_line_label

    jobs = JobQueue()
    owner, label = secrets.token_hex(16), command_line_label()
    if method is not None and stored.complete:  # encoded already: its map is the job
        request = MapRequest(stored.key, method, DEFAULT_SEED, model, stored.source, stored.n_texts)
        print(jobs.submit_map(request, owner=owner, label=label))
        say(f"the map goes to {stored.folder / 'maps'}")
    else:
        request = EncodeRequest(model, stored.key, stored.source, stored.n_texts, stored.n_chunks)
        print(jobs.submit_encode(request, owner=owner, label=label))
        say(f"the vectors go to {stored.folder}")
        if method is not None:
            say("the map is queued once the corpus is stored: run the same command again when this job has finished")
    if not jobs.live_workers():
        say("queued; no worker is running: start one with `python -m embedlab worker`")
    return 0
