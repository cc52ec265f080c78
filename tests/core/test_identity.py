"""Model identity: one canonical key per model whatever the spelling, a new revision when a folder is rewritten,
and every cache (the shared encoder, the baseline) keyed on it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from components.shared.services import baseline, get_encoder
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.scoring import random_pair_baseline
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.models.identity import ModelId, resolve_model
from embedlab.models.loading import PACKAGED, UNTRAINED, hub_id_of, load_model

TEXTS = ["A man is playing a guitar.", "The cat sleeps on the sofa.", "Stocks fell sharply on Monday."]


def st_encode(folder: Path, texts: list[str]) -> np.ndarray:
    """Ground truth: a fresh SentenceTransformer straight from the folder."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu").encode(texts)


def rewrite(make_tiny_st, folder: Path, seed: int) -> None:
    """Save differently seeded weights into ``folder`` and move the weights' mtimes on (a coarse clock must not hide
    the rewrite)."""
    before = {path: path.stat().st_mtime_ns for path in folder.rglob("*.safetensors")}
    make_tiny_st(folder, seed)
    for path in folder.rglob("*.safetensors"):
        mtime = max(path.stat().st_mtime_ns, before.get(path, 0) + 10**9)
        os.utime(path, ns=(mtime, mtime))


@pytest.fixture
def model_folder(tmp_path: Path, make_tiny_st, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path/m holding a tiny sentence-transformer; the working directory is tmp_path."""
    monkeypatch.chdir(tmp_path)
    return make_tiny_st(tmp_path / "m", seed=11)


# ---------------------------------------------------------------- canonical keys


def test_spellings_of_one_folder_are_one_key(model_folder: Path):
    ids = {resolve_model(ref) for ref in ("m", "./m", "m/", str(model_folder), f"{model_folder}/../m")}
    assert len(ids) == 1
    (model_id,) = ids
    assert model_id.key == str(model_folder.resolve()) and hub_id_of(str(model_folder)) is None
    assert model_id.revision not in ("", "none")


@pytest.mark.parametrize("ref", ["all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", " ALL-minilm-l6-V2 "])
def test_packaged_aliases_are_one_key(ref: str):
    assert resolve_model(ref) == ModelId(PACKAGED, "")
    assert hub_id_of(ref) is None  # the packaged copy: never fetched


def test_untrained_and_hub_ids():
    assert resolve_model(" Untrained-BERT ") == ModelId(UNTRAINED, "")
    assert resolve_model("bert-base-uncased") == ModelId("bert-base-uncased", "")
    assert hub_id_of("bert-base-uncased") == "bert-base-uncased"


@pytest.mark.parametrize(
    ("ref", "message"),
    [("", "No model given"), ("./no/such/folder", "does not exist"), ("bad model!", "is not a model reference")],
)
def test_bad_references_raise_before_anything_loads(ref: str, message: str):
    with pytest.raises(EmbedLabError, match=message):
        resolve_model(ref)


def test_revision_follows_the_weights_files(model_folder: Path, make_tiny_st):
    first = resolve_model("m")
    assert resolve_model("m") == first  # nothing changed: same revision
    (model_folder / "README.md").write_text("notes\n", encoding="utf-8")
    assert resolve_model("m") == first  # not a weights file
    rewrite(make_tiny_st, model_folder, seed=12)
    second = resolve_model("m")
    assert second.key == first.key and second.revision != first.revision
    sub = model_folder / "2_Dense"
    sub.mkdir()
    (sub / "model.safetensors").write_bytes(b"0" * 16)
    assert resolve_model("m").revision != second.revision  # a module sub-folder's weights count too


def test_spec_carries_the_revision_but_not_in_its_label(model_folder: Path):
    model_id = resolve_model("./m")
    spec = EmbedSpec(model_id, "cls", "-1")
    assert (spec.model, spec.revision, spec.model_id) == (model_id.key, model_id.revision, model_id)
    other = EmbedSpec(ModelId(model_id.key, "another"), "cls", "-1")
    assert spec != other and hash(spec) != hash(other)
    assert spec.label == other.label and "another" not in other.label


def test_load_model_labels_the_model_with_its_identity(model_folder: Path):
    loaded = load_model("./m")
    assert loaded.model_id == resolve_model("m")
    assert loaded.facts.ref == str(model_folder.resolve())


# ---------------------------------------------------------------- caches keyed on the identity


def test_two_spellings_share_one_encoder(model_folder: Path):
    get_encoder.clear()
    encoders = [get_encoder(ref) for ref in ("m", "./m", str(model_folder))]
    assert encoders[0] is encoders[1] is encoders[2]
    encoders[0].embed(TEXTS, EmbedSpec("m", "model"))
    encoded = encoders[0].texts_encoded
    get_encoder(str(model_folder)).embed(TEXTS, EmbedSpec(str(model_folder), "model"))
    assert encoders[0].texts_encoded == encoded  # one cache: the other spelling finds the texts there


def test_rewritten_folder_serves_the_new_weights_everywhere(model_folder: Path, make_tiny_st):
    get_encoder.clear()
    baseline.clear()
    old_id = resolve_model("m")
    old_encoder = get_encoder("m")
    old_vectors = old_encoder.embed(TEXTS, EmbedSpec(old_id, "model"))
    np.testing.assert_allclose(old_vectors, st_encode(model_folder, TEXTS), atol=1e-5)
    old_baseline = baseline(EmbedSpec(old_id, "mean", "0"))

    rewrite(make_tiny_st, model_folder, seed=99)
    new_id = resolve_model("./m")
    assert new_id.revision != old_id.revision
    new_encoder = get_encoder(str(model_folder))
    assert new_encoder is not old_encoder and new_encoder.model.model_id == new_id
    expected = st_encode(model_folder, TEXTS)
    np.testing.assert_allclose(new_encoder.embed(TEXTS, EmbedSpec(new_id, "model")), expected, atol=1e-5)
    assert not np.allclose(old_vectors, expected, atol=1e-3)  # the rewrite really changed the weights

    # Mean pooling of the embedding layer: the random tiny BERT's last layers score every pair near 1.
    new_baseline = baseline(EmbedSpec(new_id, "mean", "0"))
    fresh = random_pair_baseline(Encoder(load_model(str(model_folder))), EmbedSpec(new_id, "mean", "0"))
    assert (new_baseline.mean, new_baseline.p95) == pytest.approx((fresh.mean, fresh.p95), abs=1e-6)
    assert new_baseline.mean != pytest.approx(old_baseline.mean, abs=1e-3)
