"""Post-processing benchmark: what centring, all-but-the-top and whitening do to baselines, the bundled negative
test suite and STS correlations, for the packaged model and the untrained control.

Run from the repository root:  python bench/bench_postprocess.py [--sts-pairs 1500]

Figures, all measured in this one run (transforms fitted on the bundled reference sentences):
    1. random-pair baseline (mean, p95) scored out of sample (5 folds, as the app shows it) and in sample (pairs
       scored by a transform fitted on those very sentences), to show why the app does not use the latter;
    2. ROC AUC and failures at the best threshold (Youden's J) on assets/negtest_pairs.csv;
    3. Spearman x 100 on the first --sts-pairs pairs of the STS benchmark dev split;
    4. the time to fit each transform once, and to re-score the suite afterwards (no forward pass).
"""

from __future__ import annotations

import argparse
import time

import _common  # first: puts the Hugging Face libraries offline and the repository root on sys.path
import numpy as np
from scipy.stats import spearmanr

from embedlab.corpora import reference_sentences
from embedlab.data.pairfiles import read_pairs
from embedlab.embedding.encoder import Encoder, cosine_rows
from embedlab.embedding.scoring import pair_cosines, random_pair_baseline, random_pair_indices
from embedlab.embedding.specs import EmbedSpec
from embedlab.models.loading import PACKAGED, UNTRAINED, load_model
from embedlab.tasks.negtest import bundled_suite, run_negtest

POSTS = (("none", None), ("center", None), ("abtt", None), ("whiten", None), ("whiten", 128))
CONFIGS = ((PACKAGED, "cls", "-1"), (PACKAGED, "model", "-1"), (UNTRAINED, "cls", "-1"), (UNTRAINED, "mean", "-1"))


def in_sample(encoder: Encoder, spec: EmbedSpec) -> tuple[float, float]:
    corpus = list(reference_sentences())
    vectors = encoder.embed(corpus, spec)
    first, second = random_pair_indices(len(corpus))
    cosines = cosine_rows(vectors[first], vectors[second])
    return float(cosines.mean()), float(np.percentile(cosines, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sts-pairs", type=int, default=1500)
    args = parser.parse_args()
    sts = read_pairs(_common.STS_DEV, ("sentence1", "sentence2", "score")).iloc[: args.sts_pairs]
    sts_pairs = list(zip(sts.sentence1, sts.sentence2, strict=True))
    gold = sts.score.astype(float).to_numpy()
    suite = bundled_suite()
    print(f"{len(reference_sentences())} reference sentences; suite {len(suite)} pairs; STS dev {len(sts)} pairs\n")
    print(
        "| configuration | baseline mean / p95 (held out) | in sample | suite AUC | failures | STS Spearman "
        "| fit s | re-score ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for model, pooling, layers in CONFIGS:
        encoder = Encoder(load_model(model))
        encoder.states(list(reference_sentences()) + list(suite.sentence1) + list(suite.sentence2))
        encoder.states([text for pair in sts_pairs for text in pair])
        for post, dims in POSTS:
            spec = EmbedSpec(model, pooling, layers, post=post, post_dims=dims)
            passes = encoder.forward_passes
            start = time.perf_counter()
            if post != "none":
                encoder.post_transform(spec)
            fit_s = time.perf_counter() - start
            baseline = random_pair_baseline(encoder, spec)
            start = time.perf_counter()
            result = run_negtest(encoder, spec, suite, baseline=baseline)
            rescore_ms = (time.perf_counter() - start) * 1000
            spearman = spearmanr(pair_cosines(encoder, sts_pairs, spec), gold).statistic * 100
            inside = in_sample(encoder, spec)
            assert encoder.forward_passes == passes, "post-processing must not run the model"
            print(
                f"| {spec.label} | {baseline.mean:.3f} / {baseline.p95:.3f} | {inside[0]:.3f} / {inside[1]:.3f} "
                f"| {result.auc:.3f} | {len(result.failures)}/{len(suite)} | {spearman:.2f} | {fit_s:.2f} "
                f"| {rescore_ms:.0f} |"
            )


if __name__ == "__main__":
    main()
