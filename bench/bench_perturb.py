"""Perturbations and the canary, measured: what the rules make of the 320 reference sentences, how long that takes,
which kinds of edit each model fails, and what the canary sees (the figures docs/benchmarks.md quotes).

Run from the repository root:  python bench/bench_perturb.py

Figures, all from this one run:
    1. pairs per kind and sentences skipped per kind for the 320 reference sentences, and the time for 320 and for
       1,000 sentences (the limit);
    2. the negative test of those pairs with all-MiniLM-L6-v2 and untrained-bert (own pipelines): ROC AUC,
       threshold, and per kind the failed share and the mean cosine (``embedlab.tasks.perturb.kind_results``);
    3. the canary of both (``embedlab.tasks.canary``): ROC AUC of the bundled paraphrases against the random pairs.
"""

from __future__ import annotations

import _common  # noqa: F401  (first: puts the Hugging Face libraries offline and the repository root on sys.path)
import pandas as pd

from embedlab.corpora import reference_sentences
from embedlab.models.loading import PACKAGED, UNTRAINED
from embedlab.scorers.registry import open_scorer
from embedlab.tasks.canary import run_canary
from embedlab.tasks.negtest import run_negtest
from embedlab.tasks.perturb import kind_results, perturb


def main() -> None:
    sentences = list(reference_sentences())
    result = perturb(sentences)
    print(result.summary())
    print(f"perturb: {len(sentences)} sentences in {_common.seconds(lambda: perturb(sentences)):.2f} s")
    many = [f"{sentence} ({copy})" for copy in range(4) for sentence in sentences][:1000]
    print(f"perturb: {len(many)} sentences in {_common.seconds(lambda: perturb(many)):.2f} s")
    pd.set_option("display.width", 160)
    for ref in (PACKAGED, UNTRAINED):
        scorer = open_scorer(ref)
        tested = run_negtest(scorer.encoder, scorer.spec, result.pairs)
        print(f"\n{scorer.label}: ROC AUC {tested.auc:.3f}, threshold {tested.threshold:.3f}")
        table = kind_results(tested.pairs, tested.scores, tested.failed)
        print(table.to_string(index=False, float_format=lambda value: f"{value:.3f}"))
        canary = run_canary(scorer, tested.baseline)
        print(f"canary: {canary.saw}")


if __name__ == "__main__":
    main()
