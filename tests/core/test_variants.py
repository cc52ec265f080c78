"""The cost table (``embedlab.tasks.variants``): the reference first, an fp32 engine keeps every score to 1e-4,
binary vectors take 1/32 of the bytes and their changes are counted against the user's threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.models import backends
from embedlab.scorers.registry import open_scorer
from embedlab.tasks.sts import ScoredPairs
from embedlab.tasks.variants import cost_table

STS = ScoredPairs(
    "eight pairs",
    (
        "A man is playing a guitar.",
        "A woman is slicing an onion.",
        "Kittens are eating food.",
        "A man is driving a car.",
        "The cat sat on the mat.",
        "A girl is singing.",
        "Two dogs run in a field.",
        "He bought a new phone.",
    ),
    (
        "A man plays the guitar.",
        "Someone is cutting an onion.",
        "Kittens are eating from dishes.",
        "A woman is riding a horse.",
        "Stock markets fell on Monday.",
        "A girl sings into a microphone.",
        "A cat sleeps on the sofa.",
        "He purchased a new mobile phone.",
    ),
    (4.8, 4.2, 4.4, 0.8, 0.0, 3.9, 0.6, 4.6),
    5.0,
)
SUITE = pd.DataFrame(
    {
        "sentence1": ["How old are you?", "The dog bit the man.", "I love this film.", "It is raining."],
        "sentence2": ["What is your age?", "The man bit the dog.", "I hate this film.", "Water falls from clouds."],
        "label": [1, 0, 0, 1],
    }
)


@pytest.fixture(scope="module")
def export_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield backends.cache_root()


ENGINES: dict = {}


def shared(kind, model_id):
    """One engine per model for this module (the table's and the test's own scorers)."""
    if (kind, model_id) not in ENGINES:
        ENGINES[(kind, model_id)] = kind.load_engine(model_id)
    return ENGINES[(kind, model_id)]


def test_variants_beside_the_reference(export_cache):
    variants = [EmbedSpec("all-MiniLM-L6-v2 (ONNX)"), EmbedSpec("all-MiniLM-L6-v2", precision="binary")]
    table = cost_table("all-MiniLM-L6-v2", variants, STS, SUITE, threshold=0.5, engine=shared)
    rows = table.rows.set_index("variant")
    assert list(rows.index) == [
        "all-MiniLM-L6-v2 · PyTorch fp32",
        "all-MiniLM-L6-v2 (ONNX)",
        "all-MiniLM-L6-v2 · binary vectors",
    ]
    reference, onnx, binary = (rows.iloc[i] for i in range(3))
    assert reference.speed_x == 1 and reference.largest_change == 0 and reference.bytes_per_vector == 384 * 4
    assert onnx.largest_change < 1e-4 and onnx.crossed == 0 and onnx.spearman == pytest.approx(reference.spearman)
    assert onnx.sentences_per_s > 0 and binary.sentences_per_s == reference.sentences_per_s  # same model: timed once
    assert binary.bytes_per_vector == 48
    full = open_scorer("all-MiniLM-L6-v2", engine=shared).score(list(zip(STS.sentence1, STS.sentence2, strict=True)))
    bits = open_scorer(variants[1], engine=shared).score(list(zip(STS.sentence1, STS.sentence2, strict=True)))
    assert binary.largest_change == pytest.approx(np.abs(bits - full).max())
    assert binary.crossed == int(((bits >= 0.5) != (full >= 0.5)).sum())
    changed = table.changed["all-MiniLM-L6-v2 · binary vectors"]
    assert list(np.abs(changed["change"])) == sorted(np.abs(changed["change"]), reverse=True)
    np.testing.assert_allclose(changed["variant"] - changed["reference"], changed["change"])


def test_a_variant_of_another_model_is_refused():
    with pytest.raises(EmbedLabError, match="is not a variant of all-MiniLM-L6-v2"):
        cost_table("all-MiniLM-L6-v2", [EmbedSpec("untrained-bert", precision="int8")], STS, SUITE)
