"""Command line: ``python -m embedlab score FILE --model REF [--pooling ...] [--layers ...] [--json]``;
``python -m embedlab score --model REF [--pooling ...] [--layers ...] [--post ...] --code`` prints the plain Python
script that reproduces the configuration's vectors (no FILE needed).
``python -m embedlab eval FILE --model REF [--pooling ...] [--layers ...] [--post ...] [--grid] [--json]``: STS
correlations (post-processing fitted on the file's own sentences unless --fit is given).
``python -m embedlab negtest FILE --model REF [...] [--post none|center|abtt|whiten] [--threshold T] [--json]``:
negative testing of labelled pairs; exit 1 when any pair fails (a CI gate). ``--canary`` first checks that the model's
scores carry a signal at all (exit 3 when they do not; FILE is optional then).
``python -m embedlab perturb FILE --out PAIRS.csv [--kinds ...] [--seed N] [--json]``: labelled pairs generated from
a file of sentences (negation, antonym, number, role reversal, entity swap; typo, case and punctuation, contraction),
written as a file ``negtest`` reads.
``python -m embedlab train DATA --model REF --pooling cls|mean|max [--dense N --activation tanh|identity]
[--normalize] --method cosine|cosent|mnrl|pitfall-random-labels|simcse|tsdae [--epochs N | --max-steps N]
[--batch-size 16] [--lr 2e-5] [--warmup 0.1] [--seed 0] [--precision auto|fp32|bf16] [--no-grouping] --out DIR
[--eval STSFILE] [--keep-partial] [--json] [--queue]``: train a sentence-transformers model (progress on stderr) and
save it as a folder that ``--model DIR`` loads. Ctrl-C stops after the current step (a second Ctrl-C quits at once);
the partial model is saved only with ``--keep-partial``. With ``--queue`` the run is queued for a worker instead and
its id printed (``embedlab.training.queue``).
``python -m embedlab worker [--threads N]``: train queued runs one at a time. ``python -m embedlab jobs [--json]``
lists the runs; ``python -m embedlab jobs stop ID`` stops one (needs the server's ``EMBEDLAB_ADMIN_TOKEN``).
``python -m embedlab embed FILE --model REF (--out DIR | --queue) [--column C] [--chunk N]``: encode a corpus (one
text per line, or a CSV column) chunk by chunk into the corpus store (resumable), then ``DIR/vectors.npy``; with
``--queue`` a worker encodes it (``embedlab.corpus``).
``python -m embedlab distill --model REF --out DIR [--dims 256] [--eval STSFILE] [--json] [--queue]``: a static model
(model2vec's distillation from the model's own vocabulary) saved as a folder ``--model DIR`` loads.
``python -m embedlab tokens TEXT [--model REF] [--token N] [--json]``: the word pieces, and per layer the head-averaged
attention from [CLS] (or token N) to every token, with the shares on [CLS], [SEP] and punctuation.
``python -m embedlab retrieve [--data FOLDER|ZIP|CSV] --model REF [--model REF2 ...] [--bm25] [--rerank CROSS_DIR
--top-k 100] [--json]``: nDCG@10, MRR@10, Recall@1/10/100, MAP@100 per system and a paired test of every two
(``embedlab.retrieval``); without --data, the STS dev paraphrase set.
``python -m embedlab calibrate --model REF --data LABELLED [--held-out FILE] [--method auto|isotonic|platt]
[--precision 0.9] [--json]``: the probability that a pair is "same meaning" given its score, fitted on labelled pairs
and judged on pairs left out of the fit (Brier, ECE, the threshold for a precision); ``score FILE --calibration
LABELLED`` adds that probability to each pair.
``python -m embedlab serve [--replicas N] [--workers K] [--port P] [--host H] [--served|--no-served] [--print-config
[--upstream IP:PORT ...]]``: N app replicas behind nginx on one port (see ``embedlab.replicas``); Ctrl-C stops them.

``score``, ``negtest`` and ``eval`` also take a cross-encoder folder as ``--model DIR`` (recognised by its files): its
own score of each pair, ``"kind": "cross-encoder"`` in the JSON; options that need sentence vectors are refused.
They also take ``--backend onnx|openvino [--quantize int8]``: the model's backbone exported and run in that engine.

Exit status: 0 done, 2 bad input (one line on stderr), 130 interrupted by Ctrl-C (one line on stderr, whether or not
a partial model was saved); negtest: 1 when any pair failed, 3 when --canary finds no signal.

One module per command (``score``, ``evaluate``, ``negtest``, ``perturb``, ``calibrate``, ``train``, ``tokens``,
``serve``, ``worker``, ``jobs``, ``retrieve``, ``embed``, ``distill``), what they share in ``common``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from embedlab.cli.calibrate import add_calibrate_command, run_calibrate
from embedlab.cli.common import INTERRUPTED, Parser, apply_backend
from embedlab.cli.distill import add_distill_command, run_distill
from embedlab.cli.embed import add_embed_command, run_embed
from embedlab.cli.evaluate import add_eval_command, run_eval
from embedlab.cli.jobs import add_jobs_command, run_jobs
from embedlab.cli.negtest import add_negtest_command, run_negtest
from embedlab.cli.perturb import add_perturb_command, run_perturb
from embedlab.cli.retrieve import add_retrieve_command, run_retrieve
from embedlab.cli.score import add_score_command, run_score
from embedlab.cli.serve import add_serve_command, run_serve
from embedlab.cli.tokens import add_tokens_command, run_tokens
from embedlab.cli.train import add_train_command, run_train
from embedlab.cli.worker import add_worker_command, run_worker
from embedlab.errors import EmbedLabError


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m embedlab", description="Score sentence pairs with any pooling of any model.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for add_command in (
        add_score_command,
        add_eval_command,
        add_negtest_command,
        add_perturb_command,
        add_calibrate_command,
        add_train_command,
        add_tokens_command,
        add_serve_command,
        add_worker_command,
        add_jobs_command,
        add_retrieve_command,
        add_embed_command,
        add_distill_command,
    ):
        add_command(commands)
    return parser


COMMANDS = {
    "score": run_score,
    "eval": run_eval,
    "negtest": run_negtest,
    "perturb": run_perturb,
    "calibrate": run_calibrate,
    "train": run_train,
    "tokens": run_tokens,
    "serve": run_serve,
    "worker": run_worker,
    "jobs": run_jobs,
    "retrieve": run_retrieve,
    "embed": run_embed,
    "distill": run_distill,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        apply_backend(args)
        return COMMANDS[args.command](args)
    except EmbedLabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing saved", file=sys.stderr)
        return INTERRUPTED
