"""The reference sentences' states on disk: read back after a restart, never across revisions, texts or bad files."""

from __future__ import annotations

import numpy as np

from embedlab.embedding import reference_cache, scoring
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.reference_cache import load_states, states_file, warm_reference_states
from embedlab.embedding.scoring import random_pair_baseline
from embedlab.embedding.specs import EmbedSpec
from embedlab.models.identity import resolve_model
from embedlab.models.loading import load_model
from tests.helpers import SHORT_REFERENCE

CORPUS = SHORT_REFERENCE
RAW = EmbedSpec("all-MiniLM-L6-v2", "cls", "-1")
TRAINED = EmbedSpec("all-MiniLM-L6-v2", "model")


def test_a_restarted_encoder_reads_the_states_from_disk_without_running_the_model(packaged_model, tmp_path):
    first = Encoder(packaged_model)
    assert warm_reference_states(first, CORPUS, tmp_path) == "encoded"
    assert len(list(tmp_path.glob("*.npz"))) == 1
    assert warm_reference_states(first, CORPUS, tmp_path) == "memory"

    restarted = Encoder(packaged_model)  # a new server process: an empty cache
    assert warm_reference_states(restarted, CORPUS, tmp_path) == "disk"
    assert restarted.forward_passes == 0 and all(restarted.cached(text) for text in CORPUS)
    for spec in (RAW, TRAINED, EmbedSpec("all-MiniLM-L6-v2", "mean_max", "first-last")):
        np.testing.assert_array_equal(restarted.embed(CORPUS, spec), first.embed(CORPUS, spec))
    before, after = first.states(CORPUS)[2], restarted.states(CORPUS)[2]
    assert (after.n_tokens, after.n_read, after.n_content, after.truncated) == (
        before.n_tokens,
        before.n_read,
        before.n_content,
        before.truncated,
    )
    assert restarted.forward_passes == 0


def test_the_baselines_read_the_disk_cache_of_the_reference_sentences(packaged_model, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_VECTOR_CACHE_DIR", str(tmp_path))
    for module in (scoring, reference_cache):  # a short reference set: the same code path, a fraction of the time
        monkeypatch.setattr(module, "reference_sentences", lambda: tuple(CORPUS))
    first = Encoder(packaged_model)
    expected = random_pair_baseline(first, RAW)
    assert first.texts_encoded == len(CORPUS)  # the reference sentences, encoded once and written
    restarted = Encoder(packaged_model)
    again = random_pair_baseline(restarted, RAW)
    assert restarted.forward_passes == 0
    assert (again.mean, again.p95) == (expected.mean, expected.p95)
    monkeypatch.setenv("EMBEDLAB_VECTOR_CACHE_DIR", "none")  # switched off: nothing read
    assert random_pair_baseline(Encoder(packaged_model), RAW).mean == expected.mean
    assert len(list(tmp_path.glob("*.npz"))) == 1


def test_other_texts_or_another_revision_of_a_folder_miss_the_cache(make_tiny_st, tmp_path):
    folder = make_tiny_st(tmp_path / "model", seed=1)
    cache = tmp_path / "cache"
    old = Encoder(load_model(str(folder)))
    assert warm_reference_states(old, CORPUS, cache) == "encoded"
    assert warm_reference_states(Encoder(old.model), CORPUS[:-1], cache) == "encoded"  # another text set
    assert warm_reference_states(Encoder(old.model), CORPUS[::-1], cache) == "encoded"  # another order
    assert len(list(cache.glob("*.npz"))) == 3

    make_tiny_st(folder, seed=2)  # retrained in place: a new revision
    assert resolve_model(str(folder)).revision != old.model.model_id.revision
    new = Encoder(load_model(str(folder)))
    assert warm_reference_states(new, CORPUS, cache) == "encoded"
    assert new.forward_passes > 0
    assert not np.allclose(new.embed(CORPUS, TRAINED), old.embed(CORPUS, TRAINED))


def test_a_corrupt_or_foreign_file_is_ignored_and_replaced(packaged_model, tmp_path):
    path = states_file(Encoder(packaged_model), CORPUS, tmp_path)
    path.write_bytes(b"PK\x03\x04 not really a zip")
    fresh = Encoder(packaged_model)
    assert warm_reference_states(fresh, CORPUS, tmp_path) == "encoded"
    assert load_states(path, CORPUS) is not None  # rewritten whole
    assert load_states(path, CORPUS[:-1]) is None  # a file of other texts under this name is not used

    path.write_bytes(path.read_bytes()[:5000])  # cut short (a full disk, a killed writer without os.replace)
    assert load_states(path, CORPUS) is None
    assert warm_reference_states(Encoder(packaged_model), CORPUS, tmp_path) == "encoded"


def test_random_weights_are_never_kept_on_disk(untrained_model, tmp_path):
    encoder = Encoder(untrained_model)
    assert warm_reference_states(encoder, CORPUS, tmp_path) == "not cached"
    assert not tmp_path.exists() or not list(tmp_path.iterdir())
