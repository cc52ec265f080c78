"""``retrieve``: rank a corpus for every query with each system (bi-encoders, BM25, a re-ranker), the metrics
per system and the paired test of every two systems (``embedlab.retrieval``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import embedlab.cli.common as common  # ``common.load_engine`` read when called: tests replace it to share an engine
from embedlab.cli.common import layer_spec, note_texts_sent, say, whole_number
from embedlab.embedding.specs import DEFAULT_LAYERS, POOLINGS, EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_MINED_NEGATIVES, MAX_RETRIEVAL_RERANK_K
from embedlab.retrieval.metrics import MAIN_METRIC, METRICS


def add_retrieve_command(commands) -> None:
    """The ``retrieve`` subcommand."""
    retrieve = commands.add_parser("retrieve", help="nDCG/MRR/Recall/MAP of bi-encoders, BM25 and a re-ranker")
    retrieve.add_argument(
        "--data",
        help="a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv) or its zip, or a CSV/TSV of (query, "
        "relevant text) rows; default: the STS dev paraphrase set",
    )
    retrieve.add_argument("--model", action="append", default=[], help="a model with sentence vectors (repeatable)")
    retrieve.add_argument("--pooling", default="model", choices=POOLINGS, help="for every --model (default: own)")
    retrieve.add_argument("--layers", default=DEFAULT_LAYERS, type=layer_spec, help="for every --model (default -1)")
    retrieve.add_argument("--bm25", action="store_true", help="add BM25 (bm25s)")
    retrieve.add_argument("--rerank", metavar="CROSS_DIR", help="re-rank the first --model's top k with this model")
    retrieve.add_argument(
        "--top-k",
        type=whole_number("--top-k", 1, MAX_RETRIEVAL_RERANK_K),
        default=MAX_RETRIEVAL_RERANK_K,
        help="candidates re-ranked per query",
    )
    retrieve.add_argument("--metric", default=MAIN_METRIC, choices=list(METRICS), help="what the paired tests compare")
    retrieve.add_argument("--json", action="store_true", help="print one JSON object")
    retrieve.add_argument(
        "--mine-negatives",
        metavar="OUT.csv",
        help="also mine hard negatives with the first --model: write (sentence1, sentence2, negative) triplets "
        "that `train --method mnrl` reads",
    )
    retrieve.add_argument(
        "--negatives",
        type=whole_number("--negatives", 1, MAX_MINED_NEGATIVES),
        default=1,
        help="negatives mined per (query, relevant document) pair",
    )
    retrieve.add_argument(
        "--range-min", type=whole_number("--range-min", 0, 1000), default=0, help="skip the first candidates"
    )
    retrieve.add_argument(
        "--held-out",
        type=float,
        default=0.0,
        help="share of the queries kept out of the mined triplets (0 to below 1; default 0)",
    )


def read_data(data: str | None):
    """The data set ``--data`` names (bundled STS paraphrases when None).

    Raises:
        EmbedLabError: anything wrong with it (one line).
    """
    from embedlab.retrieval.data import bundled_sts, check_size, read_folder, read_upload

    if data is None:
        return bundled_sts()
    path = Path(data)
    if not path.exists():
        raise EmbedLabError(
            f"{data!r} not found: give a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv), its zip, or a "
            "CSV/TSV of (query, relevant text) rows."
        )
    if path.is_dir():
        return read_folder(path)
    from embedlab.data.paths import read_data_file

    if path.suffix.lower() == ".zip" and path.is_file():
        check_size(path.stat().st_size, path.name)  # before a byte of it is read
        return read_upload(path.read_bytes(), path.name)
    raw, name = read_data_file(path)  # only .csv/.tsv/.txt files are opened
    return read_upload(raw, name)


def run_retrieve(args: argparse.Namespace) -> int:
    from embedlab.retrieval.evaluation import build_report, report_json
    from embedlab.retrieval.systems import bm25_run, rerank_run, vector_run
    from embedlab.scorers.registry import kind_of, open_scorer

    if not args.model and not args.bm25:
        raise EmbedLabError("retrieve needs a system: --model REF (repeatable) and/or --bm25.")
    if args.rerank and not args.model:
        raise EmbedLabError("--rerank re-ranks the first --model's candidates: give a --model too.")
    for ref in args.model:  # a model without vectors is refused before the data is read or anything loaded
        kind_of(ref).refuse_unless(ref.strip(), "vectors", "retrieval by sentence vectors (give it to --rerank)")
    mining = _mining_settings(args)
    data = read_data(args.data)  # bad data fails before any model loads
    for note in data.notes:
        say(f"note: {note}")
    runs = []
    if args.bm25:
        runs.append(bm25_run(data))
    first_vector_run = None
    for ref in args.model:
        spec = EmbedSpec(model=ref.strip(), pooling=args.pooling, layers=args.layers)
        scorer = open_scorer(spec, engine=common.load_engine)
        run = vector_run(data, scorer, progress=_progress("encoding"))
        note_texts_sent(scorer)
        first_vector_run = first_vector_run or run
        runs.append(run)
    if args.rerank:
        cross = open_scorer(args.rerank.strip(), engine=common.load_engine)
        runs.append(rerank_run(data, first_vector_run, cross, args.top_k, _progress("re-ranking")))
    report = build_report(data, runs, args.metric)
    mined = _mine(data, args.model[0].strip(), mining, Path(args.mine_negatives)) if mining else None
    if args.json:
        found = report_json(report)
        if mined is not None:
            found["mined_negatives"] = {
                "out": str(Path(args.mine_negatives).resolve()),
                "triplets": len(mined.table),
                "pairs": mined.n_pairs,
                "pairs_without_negative": mined.without_negative,
                "held_out_queries": list(mined.held_out),
                "model": mined.model,
                "cost": mined.cost,
            }
        print(json.dumps(found, ensure_ascii=False))
        return 0
    print(f"{data.name}: {data.describe()}")
    print(report.table.round(4).to_string())
    for run in report.runs:
        print(f"cost of {run.name}: {run.cost}; {run.passes:,} model passes here, {run.seconds:.1f} s")
    for test in report.tests:
        print(test.sentence)
    if mined is not None:
        print(
            f"mined {len(mined.table):,} triplets from {mined.n_pairs:,} pairs with {mined.model} "
            f"({mined.without_negative:,} pairs without a negative, {len(mined.held_out):,} queries held out) "
            f"into {args.mine_negatives}; cost: {mined.cost}"
        )
    return 0


def _mining_settings(args: argparse.Namespace):
    """The mining settings when ``--mine-negatives`` is given (checked before anything is read), else None.

    Raises:
        EmbedLabError: no --model, an output that exists or is not a .csv, a bad share.
    """
    from embedlab.retrieval.hardneg import MiningSettings
    from embedlab.scorers.registry import kind_of

    if not args.mine_negatives:
        return None
    if not args.model:
        raise EmbedLabError("--mine-negatives mines with the first --model: give a --model (a local model).")
    ref = args.model[0].strip()
    kind_of(ref).refuse_unless(ref, "layers", "mining hard negatives (a model loaded here)")
    out = Path(args.mine_negatives)
    if out.suffix.lower() != ".csv":
        raise EmbedLabError(f"--mine-negatives writes a CSV: give a path ending in .csv, not {out.name!r}.")
    if out.exists():
        raise EmbedLabError(f"{str(out)!r} exists: give a new path for the mined triplets.")
    if not out.parent.is_dir():
        raise EmbedLabError(f"{str(out.parent)!r} is not a folder: create it first.")
    return MiningSettings(num_negatives=args.negatives, range_min=args.range_min, held_out=args.held_out)


def _mine(data, ref: str, settings, out: Path):
    """Mine with ``ref`` (loaded as a SentenceTransformer) and write the triplets to ``out`` (partial file, then
    rename)."""
    import os

    from embedlab.models.loading import load_model
    from embedlab.retrieval.hardneg import mine_negatives

    loaded = load_model(ref)
    mined = mine_negatives(data, loaded.st_model, loaded.facts.ref, settings, _progress("mining"))
    partial = out.with_name(out.name + ".partial")
    partial.write_bytes(mined.csv())
    os.replace(partial, out)
    return mined


def _progress(doing: str):
    if not sys.stderr.isatty():
        return None

    def progress(done: int, total: int) -> None:
        print(f"\r{doing} {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)

    return progress
