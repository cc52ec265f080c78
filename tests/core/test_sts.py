"""STS evaluation: scored-pair parsing, the grid against independent computations, one pass, the eval command."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr, spearmanr

from embedlab import cli
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.precision import NOISE_STD, noise_reason
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.replicas import free_port
from embedlab.tasks import sts
from tests.helpers import one_line_error, write

M = "all-MiniLM-L6-v2"
SUBSET = 200  # dev pairs used for the correctness tests: enough to rank, quick to encode


def sts_lines(sts_dev: Path, n: int) -> str:
    """The first n lines of the dev split, as text (the file itself stays in shared/)."""
    return "".join(sts_dev.read_text(encoding="utf-8").splitlines(keepends=True)[:n])


def cosine_pairs(vectors: dict[str, np.ndarray], pairs: sts.ScoredPairs) -> np.ndarray:
    out = []
    for first, second in zip(pairs.sentence1, pairs.sentence2, strict=True):
        a, b = vectors[first].astype(np.float64), vectors[second].astype(np.float64)
        out.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
    return np.array(out)


@pytest.fixture(scope="module")
def dev_subset(sts_dev) -> sts.ScoredPairs:
    return sts.read_scored_pairs(sts_dev).head(SUBSET)


@pytest.fixture(scope="module")
def grid_run(packaged_model, dev_subset):
    """The full grid of all-MiniLM-L6-v2 on the dev subset, on a fresh encoder.

    Returns:
        (encoder, evaluation, texts the grid encoded, progress reports).
    """
    encoder = Encoder(packaged_model)
    progress = []
    evaluation = sts.evaluate_grid(encoder, dev_subset, lambda done, total: progress.append((done, total)))
    return encoder, evaluation, encoder.texts_encoded, progress


# ---------------------------------------------------------------- parsing


def test_sts_format_quirks_and_licence_fields(tmp_path):
    rows = [
        ["main-news", "MSRpar", "2012test", "0001", "4.200", 'He said "no" to the offer.', "He refused the offer."],
        ["main-forums", "answers-forums", "2015", "0013", "0.000", '"Quote that never closes', "Another one."],
        ["main-news", "headlines", "2016", "0042", "2.5", 'A 5" pipe burst.', 'Water "everywhere".', "CC BY-SA", "x"],
        ["main-captions", "MSRvid", "2012test", "0007", "3", "It's raining.", "It rains.", "licence text"],
    ]
    pairs = sts.read_scored_pairs(write(tmp_path, "crafted.csv", "\n".join("\t".join(r) for r in rows) + "\n"))
    assert pairs.n_pairs == 4  # no rows merged by the unbalanced quote
    assert pairs.sentence1 == tuple(row[5] for row in rows)
    assert pairs.sentence2 == tuple(row[6] for row in rows)  # licence fields after sentence2 are not part of it
    assert pairs.gold == (4.2, 0.0, 2.5, 3.0)
    assert pairs.scale == 5.0
    assert pairs.name == "crafted.csv"


def test_csv_and_tsv_with_scores_0_to_1(tmp_path):
    csv_pairs = sts.read_scored_pairs(
        write(
            tmp_path,
            "unit.csv",
            'Sentence1,sentence2,SCORE\n"He said ""hi"", then left.",He greeted and left.,0.9\n'
            "A cat.,A dog.,0.25\nRain.,Stock prices.,0\n",
        )
    )
    assert csv_pairs.sentence1[0] == 'He said "hi", then left.'
    assert csv_pairs.gold == (0.9, 0.25, 0.0)
    assert csv_pairs.scale == 1.0
    tsv_pairs = sts.read_scored_pairs(
        write(tmp_path, "unit.tsv", 'sentence1\tsentence2\tscore\n"Odd quote\tx" y\t4.5\nA.\tB.\t1\nC.\tD.\t0\n')
    )
    assert tsv_pairs.sentence1[0] == '"Odd quote' and tsv_pairs.sentence2[0] == 'x" y'
    assert tsv_pairs.scale == 5.0


def test_same_scores_on_both_scales_give_the_same_correlations(encoder, sts_dev):
    five = sts.parse_scored_text(sts_lines(sts_dev, 40), "five")
    one = sts.ScoredPairs("one", five.sentence1, five.sentence2, tuple(g / 5 for g in five.gold), 1.0)
    assert one.fingerprint != five.fingerprint
    specs = [EmbedSpec(M, "model"), EmbedSpec(M, "mean", "2")]
    on_five, on_one = sts.evaluate(encoder, five, specs), sts.evaluate(encoder, one, specs)
    np.testing.assert_allclose(on_five.table.spearman, on_one.table.spearman, atol=1e-9)
    np.testing.assert_allclose(on_five.table.pearson, on_one.table.pearson, atol=1e-9)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("sentence1,sentence2,score\nA.,B.,4\nC.,D.,high\nE.,F.,1\n", "pair 2: the score is not a number"),
        ("sentence1,sentence2,score\nA.,B.,4\nC.,D.,\nE.,F.,1\n", "pair 2: the score is empty"),
        ("sentence1,sentence2,score\nA.,B.,4\nC.,D.,nan\nE.,F.,1\n", "pair 2: the score is not a number"),
        ("sentence1,sentence2,score\nA.,B.,4\nC.,D.,1\nE.,F.,7.5\n", "pair 3: score 7.5 is outside 0-5"),
        ("sentence1,sentence2,score\nA.,B.,-1\nC.,D.,1\nE.,F.,2\n", "pair 1: score -1 is outside 0-5"),
        ("sentence1,sentence2,score\nA.,B.,3\nC.,D.,3\nE.,F.,3\n", "every pair has the gold score 3"),
        ("sentence1,sentence2,score\nA.,B.,3\nC.,D.,1\n", "a correlation needs at least 3"),
        ("sentence1,sentence2,score\n", "has a header but no rows"),
        ("sentence1,sentence2,score\nA.,,3\nC.,D.,1\nE.,F.,2\n", "pair 1: a sentence is empty"),
        ("sentence1,sentence2\nA.,B.\n", "no score column"),
        ("g\tf\t2012\t1\t4.0\tA.\tB.\ng\tf\t2012\t2\tn/a\tC.\tD.\n", "row 2 is not in STS format"),
        ("g\tf\t2012\t1\t4.0\tA.\tB.\ng\tf\t2012\t2\t6.0\tC.\tD.\tlicence\n", "pair 2: score 6 is outside"),
    ],
)
def test_bad_scored_files(tmp_path, content, message):
    with pytest.raises(EmbedLabError, match=message):
        sts.read_scored_pairs(write(tmp_path, "bad.csv", content))


def test_dev_split_and_bundled_set(sts_dev):
    dev = sts.read_scored_pairs(sts_dev)
    assert dev.n_pairs == 1500 and dev.scale == 5.0
    assert len(dev.unique_sentences()) < 2 * dev.n_pairs  # some sentences repeat: encoded once
    assert dev.fingerprint == sts.read_scored_pairs(sts_dev).fingerprint
    assert dev.head(10).fingerprint != dev.fingerprint
    bundled = sts.bundled_pairs()
    assert bundled.n_pairs == 60 and "not the benchmark" in bundled.name


def test_hub_offline_fails_fast_with_a_clear_message(monkeypatch):
    import datasets

    def no_cache(*args, **kwargs):  # what datasets raises offline with nothing cached
        raise ConnectionError("Couldn't reach 'sentence-transformers/stsb' on the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr(datasets, "load_dataset", no_cache)
    with pytest.raises(EmbedLabError, match="not in the local datasets cache and HF_HUB_OFFLINE is set"):
        sts.load_hub_benchmark("validation")
    with pytest.raises(EmbedLabError, match="Unknown split"):
        sts.load_hub_benchmark("dev")


def test_hub_unreachable_is_detected_before_datasets_retries(monkeypatch):
    import datasets
    from huggingface_hub import constants

    closed_port = free_port()  # nothing listens there
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{closed_port}")
    # datasets (which retries a missing network for about 25 s) is never reached: the probe answered first
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("datasets must not be called"))
    with pytest.raises(EmbedLabError, match="cannot be reached"):
        sts.load_hub_benchmark("test")


def test_hub_table_becomes_scored_pairs(monkeypatch):
    import datasets
    import pandas as pd

    class FakeDataset:
        def to_pandas(self):
            return pd.DataFrame(
                {"sentence1": ["A.", "B.", "C."], "sentence2": ["a.", "b.", "c."], "score": [1.0, 0.5, 0.0]}
            )

    seen = {}
    monkeypatch.setattr(
        datasets, "load_dataset", lambda name, split: seen.update(name=name, split=split) or FakeDataset()
    )
    pairs = sts.load_hub_benchmark("test", "mteb/stsbenchmark-sts")
    assert seen == {"name": "mteb/stsbenchmark-sts", "split": "test"}
    assert pairs.name == "mteb/stsbenchmark-sts (test)" and pairs.scale == 1.0 and pairs.gold == (1.0, 0.5, 0.0)


# ---------------------------------------------------------------- the grid against independent computations


def test_grid_encodes_each_unique_sentence_once(grid_run, dev_subset, packaged_model):
    encoder, evaluation, encoded, progress = grid_run
    unique = dev_subset.unique_sentences()
    # every unique sentence is cached and as many were encoded: each exactly once (post-processing fits on the
    # evaluated sentences re-read the cache)
    assert encoded == len(unique) and all(encoder.cached(text) for text in unique)
    assert progress[-1] == (len(unique), len(unique))
    assert evaluation.n_sentences == len(unique) and evaluation.n_pairs == SUBSET
    before = encoder.texts_encoded
    again = sts.evaluate(encoder, dev_subset, [EmbedSpec(M, "mean", "2:4"), EmbedSpec(M, "max", "-2")])
    assert encoder.texts_encoded == before  # any other configuration: no model call
    assert again.table.spearman.notna().all()


def test_grid_shape_and_best(grid_run):
    _, evaluation, _, _ = grid_run
    n_layers = evaluation.n_layers
    per_layer = len(sts.GRID_POOLINGS) * (n_layers + 2)  # cls, mean, max, mean_max, weightedmean, lasttoken
    assert len(sts.GRID_POOLINGS) == 6 and "mean_sqrt_len_tokens" not in sts.GRID_POOLINGS
    assert len(evaluation.table) == 1 + per_layer + 1 + len(sts.GRID_POSTS)  # + pooler: MiniLM has its weights
    assert len(sts.grid_specs(M, n_layers)) == 1 + per_layer  # no sentences to fit on: no post rows; no pooler
    assert sts.grid_specs(M, n_layers, has_pooler=True)[-1] == EmbedSpec(M, "pooler")  # once, last layer
    assert list(evaluation.table.post[-len(sts.GRID_POSTS) :]) == [post for _, _, post in sts.GRID_POSTS]
    assert evaluation.cosines.shape == (len(evaluation.table), SUBSET)
    assert list(evaluation.table.pooling[:2]) == ["model", "cls"]
    per_layer_rows = evaluation.table[evaluation.table.pooling.isin(sts.GRID_POOLINGS)]
    assert set(per_layer_rows.layers) == {str(i) for i in range(n_layers + 1)} | {"first-last"}
    best = evaluation.best()
    assert best.spearman == evaluation.table.spearman.max()
    assert evaluation.row_of("mean", "-1") == evaluation.row_of("mean", str(n_layers))
    assert evaluation.row_of("cls", "first-last") == evaluation.row_of("cls", "1,6")
    assert evaluation.row_of("mean", "-1", "whiten") == len(evaluation.table) - 1
    assert evaluation.table.pooling[evaluation.table.pooling == "pooler"].size == 1
    assert len(sts.grid_specs("bert-base-uncased", 12)) == 1 + 6 * 14


def test_own_pipeline_equals_sentence_transformer_encode(grid_run, dev_subset, reference_st):
    _, evaluation, _, _ = grid_run
    texts = dev_subset.unique_sentences()
    by_text = dict(zip(texts, reference_st.encode(texts, batch_size=32), strict=True))
    cosines = cosine_pairs(by_text, dev_subset)
    row = evaluation.row_of("model", "-1")
    assert evaluation.table.spearman[row] == pytest.approx(
        100 * spearmanr(cosines, dev_subset.gold).statistic, abs=1e-3
    )
    assert evaluation.table.pearson[row] == pytest.approx(100 * pearsonr(cosines, dev_subset.gold).statistic, abs=1e-3)
    assert evaluation.table.spearman[row] > 75  # a trained model ranks STS pairs well


@torch.inference_mode()
def test_raw_entries_equal_hand_pooling_with_transformers(grid_run, dev_subset, reference_hf):
    """mean at layer 3, cls first-last and max at layer 5, pooled by hand over padded batches (padding masked)."""
    _, evaluation, _, _ = grid_run
    tokenizer, model = reference_hf
    texts = dev_subset.unique_sentences()
    vectors: dict[str, dict[str, np.ndarray]] = {"mean3": {}, "cls_fl": {}, "max5": {}}
    for start in range(0, len(texts), 64):
        batch = texts[start : start + 64]
        inputs = tokenizer(batch, padding=True, truncation=True, max_length=256, return_tensors="pt")
        hidden = model(**inputs, output_hidden_states=True).hidden_states  # 7 x (batch, seq, 384)
        mask = inputs["attention_mask"].unsqueeze(-1).float()
        mean3 = (hidden[3] * mask).sum(1) / mask.sum(1)
        cls_fl = (hidden[1][:, 0] + hidden[6][:, 0]) / 2
        max5 = hidden[5].masked_fill(mask == 0, -1e9).max(1).values
        for i, text in enumerate(batch):
            vectors["mean3"][text] = mean3[i].numpy()
            vectors["cls_fl"][text] = cls_fl[i].numpy()
            vectors["max5"][text] = max5[i].numpy()
    for name, pooling, layers in (("mean3", "mean", "3"), ("cls_fl", "cls", "first-last"), ("max5", "max", "5")):
        cosines = cosine_pairs(vectors[name], dev_subset)
        row = evaluation.row_of(pooling, layers)
        np.testing.assert_allclose(evaluation.cosines[row], cosines, atol=1e-5)
        expected = 100 * spearmanr(cosines, dev_subset.gold).statistic
        assert evaluation.table.spearman[row] == pytest.approx(expected, abs=1e-3), name


FEW_PAIRS = 8


@torch.inference_mode()
def test_new_pooling_rows_equal_the_pooling_module_and_pooler_output(grid_run, dev_subset, reference_hf):
    """weightedmean, lasttoken, mean+max (sentence-transformers' Pooling module) and pooler (pooler_output), for a
    few pairs encoded by hand in one padded batch."""
    from sentence_transformers.sentence_transformer.modules import Pooling

    _, evaluation, _, _ = grid_run
    tokenizer, model = reference_hf
    few = dev_subset.head(FEW_PAIRS)
    texts = few.unique_sentences()
    inputs = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    assert (inputs["attention_mask"] == 0).any()  # padded
    output = model(**inputs, output_hidden_states=True)

    def pooled(mode, layer: int) -> np.ndarray:
        features = {"token_embeddings": output.hidden_states[layer], "attention_mask": inputs["attention_mask"]}
        return Pooling(384, pooling_mode=mode)(features)["sentence_embedding"].numpy()

    expected = {
        ("weightedmean", "4"): pooled("weightedmean", 4),
        ("lasttoken", "first-last"): (pooled("lasttoken", 1) + pooled("lasttoken", 6)) / 2,
        ("mean_max", "2"): pooled(("mean", "max"), 2),
        ("pooler", "-1"): output.pooler_output.numpy(),
    }
    for (pooling, layers), vectors in expected.items():
        cosines = cosine_pairs(dict(zip(texts, vectors, strict=True)), few)
        row = evaluation.row_of(pooling, layers)
        assert row is not None, pooling
        np.testing.assert_allclose(evaluation.cosines[row][:FEW_PAIRS], cosines, atol=1e-5, err_msg=pooling)
        full = 100 * spearmanr(evaluation.cosines[row], dev_subset.gold).statistic
        assert evaluation.table.spearman[row] == pytest.approx(full, abs=1e-6)


def test_mean_sqrt_len_tokens_ranks_exactly_as_mean_so_is_not_a_grid_row(grid_run, dev_subset):
    encoder, evaluation, _, _ = grid_run
    before = encoder.texts_encoded
    for layers in ("3", "first-last"):
        both = sts.evaluate(
            encoder, dev_subset, [EmbedSpec(M, "mean_sqrt_len_tokens", layers), EmbedSpec(M, "mean", layers)]
        )
        np.testing.assert_allclose(both.cosines[0], both.cosines[1], atol=1e-6)
        np.testing.assert_allclose(both.cosines[1], evaluation.cosines[evaluation.row_of("mean", layers)], atol=0)
    assert encoder.texts_encoded == before


def test_cls_at_layer_0_is_one_vector_so_undefined(grid_run, dev_subset):
    encoder, evaluation, _, _ = grid_run
    states = encoder.states(dev_subset.unique_sentences()[:50])
    cls_layer_0 = np.stack([state.pooled["cls"][0] for state in states])
    assert np.array_equal(cls_layer_0, np.broadcast_to(cls_layer_0[0], cls_layer_0.shape))  # same for every text
    row = evaluation.row_of("cls", "0")
    assert math.isnan(evaluation.table.spearman[row]) and math.isnan(evaluation.table.pearson[row])
    assert evaluation.table.note[row] == sts.UNDEFINED
    record = evaluation.records()[row]
    assert record == {
        "pooling": "cls",
        "layers": "0",
        "post": "none",
        "spearman": None,
        "pearson": None,
        "reason": sts.UNDEFINED,
    }
    assert "NaN" not in json.dumps(evaluation.records())
    assert (evaluation.table.note == sts.UNDEFINED).sum() == 1  # the only exactly constant configuration
    assert evaluation.best() is not None


def test_cls_cosines_that_are_float32_noise_are_undefined_never_best(grid_run):
    """CLS at layers 1-3 of all-MiniLM-L6-v2: every cosine 0.9999x, spread far below 1e-5: undefined, not ranked."""
    _, evaluation, _, _ = grid_run
    for layer in ("1", "2", "3"):
        row = evaluation.row_of("cls", layer)
        cosines = evaluation.cosines[row]
        assert cosines.std() < NOISE_STD and cosines.min() > 0.999  # measured, not assumed
        assert math.isnan(evaluation.table.spearman[row]), layer
        assert "float32 rounding noise" in evaluation.table.note[row]
        assert evaluation.records()[row]["spearman"] is None and "noise" in evaluation.records()[row]["reason"]
    best = evaluation.best()
    assert best is not None and evaluation.cosines[int(best.name)].std() >= NOISE_STD
    defined = evaluation.table.spearman.notna()
    assert all(evaluation.cosines[row].std() >= NOISE_STD for row in np.flatnonzero(defined))


def test_noise_reason_threshold():
    assert noise_reason([0.3, 0.3, 0.3]) == sts.UNDEFINED
    assert noise_reason([0.5]) == sts.UNDEFINED
    just_noise = 0.99999 + np.array([-1, 1, -1, 1]) * 0.9 * NOISE_STD  # std 0.9e-5
    assert "float32 rounding noise" in noise_reason(just_noise)
    assert noise_reason(0.99999 + np.array([-1, 1, -1, 1]) * 1.1 * NOISE_STD) is None
    assert sts.correlate(just_noise, np.array([1.0, 2.0, 3.0, 4.0])).spearman is None
    assert sts.correlate(np.array([0.1, 0.2, 0.4]), np.array([2.0, 2.0, 2.0])).reason == sts.GOLD_CONSTANT


def test_correlate_constant_and_monotone():
    gold = np.array([0.0, 1.0, 2.0, 5.0])
    assert sts.correlate(np.full(4, 0.7), gold) == sts.Correlation(None, None, sts.UNDEFINED)
    noise = sts.correlate(np.array([0.9, 0.9 + 1e-9, 0.9, 0.9]), gold)  # rounding noise
    assert noise.spearman is None and noise.pearson is None and "noise" in noise.reason
    monotone = sts.correlate(np.array([0.1, 0.2, 0.3, 0.35]), gold)
    assert monotone.spearman == pytest.approx(100.0) and 0 < monotone.pearson < 100


def test_rank_disagreements_lists_the_worst_ranked_pairs(grid_run, dev_subset):
    _, evaluation, _, _ = grid_run
    row = evaluation.row_of("mean", "1")
    worst = sts.rank_disagreements(evaluation, row, dev_subset, n=5)
    assert len(worst) == 5
    gaps = worst.rank_gap.abs().to_numpy()
    assert (np.diff(gaps) <= 0).all()
    pair = int(worst.pair[0])
    assert worst.sentence1[0] == dev_subset.sentence1[pair] and worst.cosine[0] == evaluation.cosines[row, pair]


def test_post_rows_equal_hand_centering_and_whitening(grid_run, dev_subset):
    """center and whiten of mean first-last, fitted by hand (numpy) on the subset's own sentences."""
    encoder, evaluation, _, _ = grid_run
    before = encoder.texts_encoded
    texts = dev_subset.unique_sentences()
    x = encoder.embed(texts, EmbedSpec(M, "mean", "first-last")).astype(np.float64)  # (n, 384), verified above
    mu = x.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(x - mu, rowvar=False))
    k = sts.self_fit_whiten_dims(len(texts), 384)
    assert k == min(len(texts) // sts.WHITEN_FIT_RATIO, 256)
    top = np.argsort(eigenvalues)[::-1][:k]
    by_hand = {
        "center": x - mu,
        "whiten": (x - mu) @ (eigenvectors[:, top] / np.sqrt(eigenvalues[top])),
    }
    for post, vectors in by_hand.items():
        cosines = cosine_pairs(dict(zip(texts, vectors, strict=True)), dev_subset)
        row = evaluation.row_of("mean", "first-last", post)
        np.testing.assert_allclose(evaluation.cosines[row], cosines, atol=1e-4)
        expected = 100 * spearmanr(cosines, dev_subset.gold).statistic
        assert evaluation.table.spearman[row] == pytest.approx(expected, abs=0.05), post
    assert evaluation.table.post_dims[evaluation.row_of("mean", "first-last", "whiten")] == k
    assert encoder.texts_encoded == before  # fitting on the evaluated sentences needs no model call


def test_whitening_to_n_minus_1_on_its_own_sentences_is_degenerate(encoder):
    """Why the grid keeps k <= n / 8: whitened to full rank, the fitted sentences are equidistant."""
    pairs = sts.bundled_pairs()
    corpus = tuple(pairs.unique_sentences())
    full = EmbedSpec(M, "mean", "first-last", post="whiten", post_dims=len(corpus) - 1, post_corpus=corpus)
    default = sts.fit_on_pairs(EmbedSpec(M, "mean", "first-last", post="whiten"), pairs, 384)
    evaluation = sts.evaluate(encoder, pairs, [full, default])
    assert evaluation.table.note[0].startswith("undefined: every")  # constant, or equal up to float32 noise
    assert np.allclose(evaluation.cosines[0], -1 / (len(corpus) - 1), atol=1e-4)
    assert evaluation.table.post_dims[1] == len(corpus) // sts.WHITEN_FIT_RATIO
    assert evaluation.table.spearman[1] > 50


def test_published_numbers_matched_to_measurements(grid_run):
    _, evaluation, _, _ = grid_run
    table = sts.published_comparison([evaluation]).set_index("configuration")
    assert set(sts.PUBLISHED_SPLIT.split()) >= {"STS", "test"}
    assert table.loc["all-MiniLM-L6-v2, its own pipeline", "published"] == 82.03
    own = evaluation.table.spearman[evaluation.row_of("model", "-1")]
    assert table.loc["all-MiniLM-L6-v2, its own pipeline", "measured"] == own
    assert table.loc["BERT-base, CLS of last layer", "measured_on"] == "select bert-base-uncased to measure"
    assert table.loc["average GloVe embeddings", "measured_on"] == "no such model here"
    assert all(table.source.str.len() > 0)
    # The BERT-base rows find their configuration in any grid named bert-base-uncased (here a renamed one).
    as_bert = sts.published_comparison([replace(evaluation, model="bert-base-uncased")]).set_index("configuration")
    spearman = evaluation.table.spearman
    n = evaluation.n_layers
    assert as_bert.loc["BERT-base, CLS of last layer", "measured"] == spearman[evaluation.row_of("cls", str(n))]
    assert as_bert.loc["BERT-base first-last average", "measured"] == spearman[evaluation.row_of("mean", "first-last")]
    whitened = as_bert.loc["BERT-base first-last average + whitening (fitted on NLI)"]
    assert whitened.measured == spearman[evaluation.row_of("mean", "first-last", "whiten")]
    assert sts.FIT_NOTE in whitened.measured_on
    assert "mean · layers first-last" in as_bert.loc["BERT-base first-last average", "measured_on"]


# ---------------------------------------------------------------- the eval command


@pytest.fixture
def session_encoder(packaged_model, monkeypatch):
    """In-process runs reuse the session model instead of loading their own."""
    monkeypatch.setattr(cli.common, "load_engine", lambda kind, model_id: Encoder(packaged_model))


@pytest.fixture(scope="module")
def small_sts_file(tmp_path_factory, sts_dev) -> Path:
    return write(tmp_path_factory.mktemp("eval"), "dev40.csv", sts_lines(sts_dev, 40))


def test_eval_grid_json(session_encoder, small_sts_file, capsys, packaged_model):
    assert cli.main(["eval", str(small_sts_file), "--model", M, "--grid", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"model", "n_pairs", "results", "unreadable_pairs", "unreadable_left_out"}
    assert result["model"] == M and result["n_pairs"] == 40
    assert result["unreadable_pairs"] == 0 and result["unreadable_left_out"] is False  # English benchmark pairs
    for row in result["results"]:  # "reason" exactly where the numbers are null
        assert set(row) - {"reason"} == {"pooling", "layers", "post", "spearman", "pearson"}
        assert ("reason" in row) == (row["spearman"] is None) == (row["pearson"] is None)
    expected = sts.evaluate_grid(Encoder(packaged_model), sts.read_scored_pairs(small_sts_file))
    assert len(result["results"]) == len(expected.table)
    for row, (_, line) in zip(result["results"], expected.table.iterrows(), strict=True):
        assert (row["pooling"], row["layers"], row["post"]) == (line.pooling, line.layers, line.post)
        if math.isnan(line.spearman):
            assert row["spearman"] is None and row["pearson"] is None
        else:
            assert row["spearman"] == pytest.approx(line.spearman, abs=1e-5)
            assert row["pearson"] == pytest.approx(line.pearson, abs=1e-5)
    cls_0 = {"pooling": "cls", "layers": "0", "post": "none", "spearman": None, "pearson": None}
    cls_0["reason"] = sts.UNDEFINED
    assert cls_0 in result["results"]
    whiten = [row for row in result["results"] if row["post"] == "whiten"]
    assert len(whiten) == 2 and all(row["spearman"] is not None for row in whiten)


def test_eval_one_configuration(session_encoder, small_sts_file, capsys, packaged_model):
    assert cli.main(["eval", str(small_sts_file), "--model", M, "--pooling", "mean", "--layers", "2:4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [(r["pooling"], r["layers"], r["post"]) for r in result["results"]] == [("mean", "2:4", "none")]
    pairs = sts.read_scored_pairs(small_sts_file)
    vectors = Encoder(packaged_model).embed(pairs.unique_sentences(), EmbedSpec(M, "mean", "2:4"))
    cosines = cosine_pairs(dict(zip(pairs.unique_sentences(), vectors, strict=True)), pairs)
    assert result["results"][0]["spearman"] == pytest.approx(100 * spearmanr(cosines, pairs.gold).statistic, abs=1e-4)


def test_eval_one_post_processed_configuration_matches_the_grid(session_encoder, small_sts_file, capsys):
    argv = ["eval", str(small_sts_file), "--model", M, "--pooling", "mean", "--layers", "first-last"]
    assert cli.main([*argv, "--post", "whiten", "--json"]) == 0
    single = json.loads(capsys.readouterr().out)["results"]
    assert cli.main([*argv, "--grid", "--json"]) == 0
    grid = json.loads(capsys.readouterr().out)["results"]
    match = [row for row in grid if (row["pooling"], row["layers"], row["post"]) == ("mean", "first-last", "whiten")]
    assert single == match


def test_eval_text_output(session_encoder, small_sts_file, capsys):
    assert cli.main(["eval", str(small_sts_file), "--model", M, "--grid"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{M} on dev40.csv: 40 pairs")
    assert sum(line.endswith("<- best") for line in lines) == 1
    assert any(line.startswith("cls · layers 0") and line.endswith(sts.UNDEFINED) for line in lines)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("sentence1,sentence2,score\nA.,B.,4\nC.,D.,9\nE.,F.,1\n", "outside 0-5"),
        ("sentence1,sentence2\nA.,B.\n", "no score column"),
    ],
)
def test_eval_bad_file_exits_2_before_loading_a_model(tmp_path, capsys, monkeypatch, content, message):
    monkeypatch.setattr(cli.common, "load_engine", lambda kind, model_id: pytest.fail("the file is checked first"))
    assert cli.main(["eval", str(write(tmp_path, "bad.csv", content)), "--model", M]) == 2
    assert message in one_line_error(capsys)


def test_eval_bad_layer_and_missing_file_exit_2(session_encoder, small_sts_file, capsys):
    assert cli.main(["eval", str(small_sts_file), "--model", M, "--pooling", "cls", "--layers", "9"]) == 2
    assert "Layer 9 does not exist" in one_line_error(capsys)
    assert cli.main(["eval", "no-such-file.csv", "--model", M]) == 2
    assert "not found" in one_line_error(capsys)
    with pytest.raises(SystemExit) as caught:
        cli.main(["eval", str(small_sts_file), "--model", M, "--pooling", "median"])
    assert caught.value.code == 2
