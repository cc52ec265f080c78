"""Why this score benchmark: what taking a score apart costs beside the score itself.

Run from the repository root:  python bench/bench_explain.py [--pairs 20] [--ig-pairs 3]

Figures, measured in this one run on the web server's torch threads with the packaged model loaded and its
centering fitted (as on the Compare page, where the random-pair baseline has already encoded the reference
sentences):
    1. exact decomposition (the trained model's own pipeline, mean pooling): for each bundled pair new to the
       encoder, the seconds of ``scorer.score([pair])`` (one forward pass) and of ``explain_pair`` right after it
       (no pass: the score's kept token states), and the ratio (score + explanation) / score; also the model
       passes counted by the encoder during the explanations (0 expected);
    2. raw mean pooling of layers 0:3, the same;
    3. integrated gradients (raw CLS of the last layer) at the default steps: sentence passes (forward and backward)
       per pair, seconds, and the completeness error;
    4. a cross-encoder (the packaged backbone with a seeded random head scaled x30, saved in a temp folder: no
       trained cross-encoder is available offline): the seconds of its score (one pass of the pair), of the
       per-token integrated gradients at 8, 16 and the default steps, the passes and the completeness error.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from dataclasses import replace

import _common  # first: puts the Hugging Face libraries offline and the repository root on sys.path

from embedlab.embedding.encoder import Encoder
from embedlab.embedding.forward import limit_server_threads
from embedlab.embedding.specs import EmbedSpec
from embedlab.models.loading import PACKAGED, load_model
from embedlab.scorers.registry import open_scorer
from embedlab.tasks.explain import DEFAULT_STEPS, explain_pair


def bundled_pairs() -> list[tuple[str, str]]:
    with (_common.REPO_ROOT / "assets" / "negtest_pairs.csv").open(encoding="utf-8") as handle:
        return [(row["sentence1"], row["sentence2"]) for row in csv.DictReader(handle)]


def exact_cost(model, spec: EmbedSpec, pairs: list[tuple[str, str]]) -> None:
    encoder = Encoder(model)
    scorer = open_scorer(spec, engine=lambda kind, model_id: encoder)
    encoder.post_transform(replace(spec, post="center"))  # the split's fit, done once per configuration
    score_s, explain_s = [], []
    for pair in pairs:
        score_s.append(_common.seconds(lambda pair=pair: scorer.score([pair])))
        passes = encoder.forward_passes
        explain_s.append(_common.seconds(lambda pair=pair: explain_pair(scorer, pair)))
        assert encoder.forward_passes == passes, "the exact explanation ran the model"
    ratio = (sum(score_s) + sum(explain_s)) / sum(score_s)
    print(
        f"{spec.label}: {len(pairs)} pairs, score median {statistics.median(score_s) * 1000:.1f} ms, explanation "
        f"median {statistics.median(explain_s) * 1000:.1f} ms, (score + explanation) / score = {ratio:.2f}x, "
        "model passes during the explanations: 0"
    )


def ig_cost(model, pairs: list[tuple[str, str]]) -> None:
    encoder = Encoder(model)
    scorer = open_scorer(EmbedSpec(PACKAGED, "cls"), engine=lambda kind, model_id: encoder)
    encoder.post_transform(replace(scorer.spec, post="center"))
    for pair in pairs:
        scorer.score([pair])
        start = time.perf_counter()
        one = explain_pair(scorer, pair)
        took = time.perf_counter() - start
        print(
            f"integrated gradients, {scorer.spec.label}, {len(one.tokens[0])} x {len(one.tokens[1])} tokens: "
            f"{one.passes} sentence passes at {DEFAULT_STEPS} steps, {took:.1f} s, completeness error "
            f"{one.completeness_error:.4f}"
        )


def cross_cost(pairs: list[tuple[str, str]], scale: float = 30.0) -> None:
    import torch
    from sentence_transformers import CrossEncoder

    from embedlab.models.loading import packaged_model_path

    torch.manual_seed(0)
    model = CrossEncoder(packaged_model_path(), num_labels=1, device="cpu")
    with torch.no_grad():
        for name, parameter in model.model.named_parameters():
            if name.startswith("classifier.") and name.endswith("weight"):
                parameter.mul_(scale)
    with tempfile.TemporaryDirectory() as folder:
        model.save(folder)
        scorer = open_scorer(folder)
        for pair in pairs:
            score_s = _common.seconds(lambda pair=pair: scorer.score([pair]))
            for steps in (8, 16, DEFAULT_STEPS):
                start = time.perf_counter()
                one = explain_pair(scorer, pair, steps)
                took = time.perf_counter() - start
                print(
                    f"cross-encoder, {len(one.tokens[0])} + {len(one.tokens[1])} content tokens: score "
                    f"{score_s * 1000:.1f} ms (one pass); integrated gradients at {steps} steps: {one.passes} passes "
                    f"of the pair, {took:.2f} s ({took / score_s:.0f}x the score), score - reference "
                    f"{one.score - one.reference:+.3f}, completeness error {one.completeness_error:.4f}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--ig-pairs", type=int, default=3)
    parser.add_argument("--cross-pairs", type=int, default=4)
    args = parser.parse_args()
    print(f"torch threads: {limit_server_threads()} (the web server's count)")
    model = load_model(PACKAGED)
    pairs = bundled_pairs()
    exact_cost(model, EmbedSpec(PACKAGED, "model"), pairs[: args.pairs])
    exact_cost(model, EmbedSpec(PACKAGED, "mean", "0:3"), pairs[args.pairs : 2 * args.pairs])
    ig_cost(model, pairs[:: max(1, len(pairs) // args.ig_pairs)][: args.ig_pairs])
    cross_cost(pairs[:: max(1, len(pairs) // args.cross_pairs)][: args.cross_pairs])


if __name__ == "__main__":
    main()
