"""Post-processing (center, abtt, whiten): the formulas, the refusals, and how the engine fits and caches them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import percentileofscore
from sklearn.decomposition import PCA

from embedlab.embedding.encoder import Encoder, cosine_rows
from embedlab.embedding.postprocess import (
    MIN_FIT_SENTENCES,
    default_abtt_dims,
    default_whiten_dims,
    fit_postprocess,
)
from embedlab.embedding.scoring import (
    Baseline,
    random_pair_baseline,
    random_pair_indices,
    reference_sentences,
    score_percentiles,
)
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError

M = "all-MiniLM-L6-v2"
TEXTS = ["What is your age?", "How old are you?", "The cat chased the dog.", "Volcanoes form at plate edges."]


@pytest.fixture(scope="module")
def cone() -> np.ndarray:
    """(300, 40) anisotropic vectors: a large shared offset, two strong directions, then noise of falling scale."""
    rng = np.random.default_rng(7)
    scales = np.concatenate([[6.0, 4.0], np.linspace(1.0, 0.1, 38)])
    return 10.0 + rng.normal(size=(300, 40)) * scales


@pytest.fixture(scope="module")
def shared(packaged_model) -> Encoder:
    """One encoder for the module: the reference corpus is encoded once. Tests on it must not depend on what other
    tests fitted or encoded before them (counters: use a fresh Encoder)."""
    return Encoder(packaged_model)


def unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# ---------------------------------------------------------------- the formulas


def test_center_gives_zero_mean_and_unit_vectors(cone):
    transform = fit_postprocess(cone, "center")
    centred = transform.linear(cone)
    assert np.abs(centred.mean(axis=0)).max() < 1e-10
    np.testing.assert_allclose(centred, cone - cone.mean(axis=0), atol=1e-12)
    out = transform.apply(cone)
    assert out.dtype == np.float32 and out.shape == cone.shape
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(out, unit_rows(cone - cone.mean(axis=0)), atol=1e-6)
    # the raw cone scores every pair ~1; centred, random pairs average ~0
    first, second = random_pair_indices(len(cone))
    assert cosine_rows(cone[first], cone[second]).mean() > 0.9
    assert abs(cosine_rows(out[first], out[second]).mean()) < 0.05


def test_abtt_removes_the_top_principal_directions(cone):
    transform = fit_postprocess(cone, "abtt", dims=2)
    assert transform.basis.shape == (40, 2) and transform.dims == 2
    pca = PCA(n_components=2).fit(cone)
    np.testing.assert_allclose(np.abs(np.sum(transform.basis.T * pca.components_, axis=1)), 1.0, atol=1e-8)
    for vectors in (cone, np.random.default_rng(1).normal(size=(5, 40))):  # fitting corpus and new vectors
        out = transform.linear(vectors)
        assert np.abs(out @ transform.basis).max() < 1e-9
        assert np.abs(transform.apply(vectors) @ transform.basis).max() < 1e-5
    # the rest of the centred vector is untouched
    centred = cone - cone.mean(axis=0)
    rest = centred - centred @ pca.components_.T @ pca.components_
    np.testing.assert_allclose(transform.linear(cone), rest, atol=1e-8)


def test_abtt_default_dims_is_about_hidden_over_100():
    assert default_abtt_dims(40) == 1
    assert default_abtt_dims(384) == 4
    assert default_abtt_dims(768) == 8
    x = np.random.default_rng(0).normal(size=(100, 384))
    assert fit_postprocess(x, "abtt").dims == 4


def test_whitening_gives_identity_covariance_on_its_corpus(cone):
    transform = fit_postprocess(cone, "whiten", dims=20)
    whitened = transform.linear(cone)
    assert whitened.shape == (300, 20)
    np.testing.assert_allclose(np.cov(whitened.T), np.eye(20), atol=1e-8)
    assert np.abs(whitened.mean(axis=0)).max() < 1e-10
    out = transform.apply(cone)
    assert out.shape == (300, 20)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
    # k = d: the full whitening, also identity
    full = fit_postprocess(cone, "whiten")
    assert full.dims == default_whiten_dims(40, 300) == 40
    np.testing.assert_allclose(np.cov(full.linear(cone).T), np.eye(40), atol=1e-8)


def test_whitening_default_dims_copes_with_wide_vectors():
    assert default_whiten_dims(768, 320) == 256
    assert default_whiten_dims(384, 120) == 119
    assert default_whiten_dims(32, 320) == 32
    wide = np.random.default_rng(3).normal(size=(120, 300))  # more dimensions than sentences
    transform = fit_postprocess(wide, "whiten")
    assert transform.dims == 119
    np.testing.assert_allclose(np.cov(transform.linear(wide).T), np.eye(119), atol=1e-6)


def test_whitening_regularises_directions_without_variance():
    rng = np.random.default_rng(4)
    flat = np.hstack([rng.normal(size=(80, 10)), np.ones((80, 5))])  # 5 constant dimensions: zero variance
    transform = fit_postprocess(flat, "whiten", dims=15)
    out = transform.apply(np.vstack([flat, rng.normal(size=(3, 15))]))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(np.cov(transform.linear(flat)[:, :10].T), np.eye(10), atol=1e-8)


def test_none_is_the_identity(cone):
    transform = fit_postprocess(cone[:3], "none")  # no corpus size needed
    np.testing.assert_array_equal(transform.apply(cone), cone.astype(np.float32))


@pytest.mark.parametrize("method", ["center", "abtt", "whiten"])
def test_a_tiny_corpus_is_refused(method):
    tiny = np.random.default_rng(0).normal(size=(MIN_FIT_SENTENCES - 1, 16))
    with pytest.raises(EmbedLabError, match=rf"at least {MIN_FIT_SENTENCES} different sentences, got 49"):
        fit_postprocess(tiny, method)


@pytest.mark.parametrize(
    ("method", "dims", "message"),
    [
        ("whiten", 60, "fewer than the 60 fitting sentences"),
        ("whiten", 41, "at most 40"),
        ("abtt", 40, "choose fewer than 40"),
        ("abtt", 0, "positive whole number"),
        ("whiten", -3, "positive whole number"),
        ("sphere", None, "Unknown post-processing 'sphere': choose one of none, center, abtt, whiten"),
    ],
)
def test_impossible_settings_are_refused_with_a_clear_message(method, dims, message):
    x = np.random.default_rng(0).normal(size=(60, 40))
    with pytest.raises(EmbedLabError, match=message):
        fit_postprocess(x, method, dims)


def test_non_finite_vectors_are_refused():
    x = np.random.default_rng(0).normal(size=(60, 8))
    x[3, 2] = np.nan
    with pytest.raises(EmbedLabError, match="non-finite"):
        fit_postprocess(x, "center")


def test_transform_checks_the_width(cone):
    with pytest.raises(EmbedLabError, match=r"takes \(n, 40\) vectors"):
        fit_postprocess(cone, "center").apply(np.ones((2, 39)))


# ---------------------------------------------------------------- EmbedSpec


def test_spec_carries_post_processing_in_its_label():
    assert EmbedSpec(M, "cls", "-1").label == f"{M} · cls · layers -1"  # unchanged without post-processing
    assert EmbedSpec(M, "cls", "-1", post="center").label == f"{M} · cls · layers -1 · centred"
    assert EmbedSpec(M, "mean", "2", post="whiten", post_dims=64).label.endswith("· whitened to 64")
    assert EmbedSpec(M, post="abtt").label == f"{M} · own pipeline · all-but-the-top"
    assert "fitted on 2 own sentences" in EmbedSpec(M, post="center", post_corpus=["a", " b ", "a"]).label


def test_spec_canonicalises_post_fields():
    assert EmbedSpec(M, post="center", post_dims=7) == EmbedSpec(M, post="center")  # dims mean nothing there
    assert EmbedSpec(M, post_corpus=("x",)).post_corpus is None  # no post-processing: no corpus
    spec = EmbedSpec(M, post="abtt", post_corpus=["b", " a", "b", ""])
    assert spec.post_corpus == ("b", "a") and hash(spec) == hash(EmbedSpec(M, post="abtt", post_corpus=("b", "a")))
    with pytest.raises(EmbedLabError, match="Unknown post-processing"):
        EmbedSpec(M, post="sphereize")
    with pytest.raises(EmbedLabError, match="positive whole number"):
        EmbedSpec(M, post="whiten", post_dims=0)


# ---------------------------------------------------------------- through the encoder


def test_switching_post_processing_on_cached_texts_runs_no_forward_pass(packaged_model):
    """A fresh encoder: on the module's shared one another test may already have fitted one of these specs."""
    encoder = Encoder(packaged_model)
    reference = list(reference_sentences())
    encoder.states(reference + TEXTS)
    encoded = encoder.texts_encoded
    raw = encoder.embed(TEXTS, EmbedSpec(M, "cls", "-1"))
    for post, dims in (("center", None), ("abtt", None), ("abtt", 3), ("whiten", None), ("whiten", 32)):
        spec = EmbedSpec(M, "cls", "-1", post=post, post_dims=dims)
        fitted = encoder.transforms_fitted
        vectors = encoder.embed(TEXTS, spec)
        assert encoder.transforms_fitted == fitted + 1
        again = encoder.embed(list(reversed(TEXTS)), spec)
        assert encoder.transforms_fitted == fitted + 1  # fitted once, then reused
        np.testing.assert_allclose(again[::-1], vectors, atol=1e-7)
        assert vectors.shape == (len(TEXTS), (dims or 256) if post == "whiten" else 384)
        assert not np.allclose(unit_rows(vectors[:, :3]), unit_rows(raw[:, :3]), atol=1e-3)
    assert encoder.texts_encoded == encoded  # no text went through the model again


def test_transform_is_fitted_on_the_reference_corpus_not_the_compared_sentences(shared: Encoder):
    spec = EmbedSpec(M, "mean", "first-last", post="abtt", post_dims=2)
    reference_vectors = shared.embed(list(reference_sentences()), EmbedSpec(M, "mean", "first-last"))
    expected = fit_postprocess(reference_vectors, "abtt", 2).apply(shared.embed(TEXTS, EmbedSpec(M, "mean", "1,-1")))
    np.testing.assert_allclose(shared.embed(TEXTS, spec), expected, atol=1e-5)
    # the same texts compared in another company get the same vectors: nothing is fitted on them
    np.testing.assert_allclose(shared.embed(TEXTS[:1], spec), expected[:1], atol=1e-6)


def test_own_fitting_corpus_is_used_and_cached_separately(shared: Encoder):
    own = [f"Sentence number {i} is about {topic}." for i, topic in enumerate(["cats", "rain", "taxes"] * 20)]
    assert len(own) >= MIN_FIT_SENTENCES
    mine = EmbedSpec(M, "model", post="center", post_corpus=own)
    bundled = EmbedSpec(M, "model", post="center")
    own_mean = shared.embed(own, EmbedSpec(M, "model")).astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(shared.post_transform(mine).mean, own_mean, atol=1e-6)
    assert not np.allclose(shared.post_transform(bundled).mean, own_mean, atol=1e-3)
    assert shared.post_transform(mine).n_fit == len(own)
    assert shared.post_transform(bundled).n_fit == len(reference_sentences())


def test_too_small_own_corpus_is_refused(shared: Encoder):
    spec = EmbedSpec(M, "cls", "-1", post="whiten", post_corpus=TEXTS)
    with pytest.raises(EmbedLabError, match="at least 50"):
        shared.embed(TEXTS, spec)


def test_raw_untrained_bert_baseline_drops_near_zero(untrained_model):
    encoder = Encoder(untrained_model)
    raw = random_pair_baseline(encoder, EmbedSpec("untrained-bert", "cls", "-1"))
    assert raw.mean > 0.9  # every pair looks alike
    for post in ("center", "abtt", "whiten"):
        spec = EmbedSpec("untrained-bert", "cls", "-1", post=post)
        calibrated = random_pair_baseline(encoder, spec)
        assert abs(calibrated.mean) < 0.1, (post, calibrated)
        assert calibrated.p95 < 0.5 < raw.mean - 0.3
        assert calibrated.n_pairs == len(calibrated.cosines) >= 1995


def test_post_processed_baseline_is_measured_out_of_sample(shared: Encoder):
    """Scored with the transform fitted on the same sentences, whitened random pairs look far too unrelated."""
    spec = EmbedSpec(M, "cls", "-1", post="whiten")
    corpus = list(reference_sentences())
    in_sample = shared.embed(corpus, spec)
    first, second = random_pair_indices(len(corpus))
    in_sample_p95 = np.percentile(cosine_rows(in_sample[first], in_sample[second]), 95)
    held_out = random_pair_baseline(shared, spec)
    assert in_sample_p95 < 0.1 < held_out.p95
    # a corpus the transform never saw takes the plain path: same numbers as scoring it directly
    other = [f"{text} Really." for text in corpus[:60]]
    plain = random_pair_baseline(shared, spec, other)
    vectors = shared.embed(other, spec)
    first, second = random_pair_indices(len(other))
    assert plain.mean == pytest.approx(cosine_rows(vectors[first], vectors[second]).mean(), abs=1e-9)


def test_percentiles_match_scipy():
    rng = np.random.default_rng(5)
    cosines = np.round(rng.normal(0.3, 0.2, 500), 2)  # ties on purpose
    baseline = Baseline(float(cosines.mean()), float(np.percentile(cosines, 95)), 500, np.sort(cosines))
    scores = np.array([-1.0, 0.0, 0.3, 0.31, 0.55, 2.0, np.nan])
    expected = [percentileofscore(cosines, score, kind="mean") for score in scores[:-1]]
    got = score_percentiles(scores, baseline)
    np.testing.assert_allclose(got[:-1], expected, atol=1e-9)
    assert np.isnan(got[-1]) and got[0] == 0 and got[-2] == 100
    assert np.isnan(score_percentiles([0.5], Baseline(0.1, 0.2, 0))).all()  # no distribution kept


def test_real_baseline_keeps_its_distribution_for_percentiles(shared: Encoder):
    baseline = random_pair_baseline(shared, EmbedSpec(M, "model"))
    assert len(baseline.cosines) == baseline.n_pairs and (np.diff(baseline.cosines) >= 0).all()
    assert score_percentiles([baseline.p95], baseline)[0] == pytest.approx(95, abs=0.1)
    assert score_percentiles([baseline.cosines[0] - 0.01], baseline)[0] == 0
