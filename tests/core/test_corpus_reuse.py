"""Texts whose vectors a finished corpus job stored are read, not encoded again: by ``Encoder.embed`` (every page
and command that asks a model's own vectors), for the whole corpus or any subset, only under the same model
revision and the same pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab.corpus.encode import encode_corpus
from embedlab.corpus.store import prepare_corpus
from embedlab.corpus.texts import Corpus
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.specs import EmbedSpec
from embedlab.models.identity import resolve_model
from embedlab.models.loading import load_model
from embedlab.scorers.registry import open_scorer

TEXTS = tuple(f"{topic} number {n}" for n in range(12) for topic in ("a harbour", "tax forms", "a violin"))


@pytest.fixture
def stored_model(tmp_path, monkeypatch, make_tiny_st):
    """(model folder, stored vectors of TEXTS) with a finished corpus job in a temporary models directory."""
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(tmp_path / "models"))
    folder = make_tiny_st(tmp_path / "tiny-st", 1)
    stored = prepare_corpus(str(folder), Corpus(TEXTS, "texts.txt"), chunk=8)
    assert encode_corpus(stored, load_model(str(folder))).finished
    return folder, stored.vectors()


def test_stored_texts_are_read_with_zero_forward_passes_and_equal_vectors(stored_model):
    folder, vectors = stored_model
    encoder = Encoder(load_model(str(folder)))
    spec = EmbedSpec(resolve_model(str(folder)))
    subset = [TEXTS[20], TEXTS[3], TEXTS[20], TEXTS[35]]  # out of order, a repeat, across chunks
    got = encoder.embed(subset, spec)
    assert encoder.forward_passes == 0
    np.testing.assert_array_equal(got, vectors[[20, 3, 20, 35]])
    assert encoder.unseen(subset, spec) == []
    # what the model gives itself for them, to float32 rounding: the store holds the same pipeline
    np.testing.assert_allclose(got, encoder.model.st_model.encode(subset), atol=1e-5)
    # the whole corpus through the scorer interface (what the CLI and the pages call)
    scorer = open_scorer(str(folder))
    np.testing.assert_array_equal(scorer.encode(list(TEXTS)), vectors)
    assert scorer.engine.forward_passes == 0


def test_only_the_texts_not_stored_are_encoded(stored_model):
    folder, vectors = stored_model
    encoder = Encoder(load_model(str(folder)))
    spec = EmbedSpec(resolve_model(str(folder)))
    assert encoder.unseen([TEXTS[0], "a new sentence"], spec) == ["a new sentence"]
    got = encoder.embed([TEXTS[0], "a new sentence", TEXTS[1]], spec)
    assert encoder.texts_encoded == 1
    np.testing.assert_array_equal(got[[0, 2]], vectors[[0, 1]])
    np.testing.assert_allclose(got[1], encoder.model.st_model.encode(["a new sentence"])[0], atol=1e-5)


def test_other_poolings_and_smaller_precisions_run_the_model(stored_model):
    folder, _ = stored_model
    encoder = Encoder(load_model(str(folder)))
    model_id = resolve_model(str(folder))
    for spec in (
        EmbedSpec(model_id, "mean"),
        EmbedSpec(model_id, precision="int8"),
        EmbedSpec(model_id, post="center"),
    ):
        assert encoder.unseen(TEXTS[:4], spec) == list(TEXTS[:4])
    encoder.embed(TEXTS[:4], EmbedSpec(model_id, "mean"))
    assert encoder.texts_encoded == 4
    assert encoder.stored.vectors_read == 0


def test_a_model_retrained_in_place_encodes_again(stored_model, make_tiny_st):
    folder, vectors = stored_model
    make_tiny_st(folder, 2)  # new weights in the same folder: a new revision
    encoder = Encoder(load_model(str(folder)))
    got = encoder.embed(TEXTS[:3], EmbedSpec(resolve_model(str(folder))))
    assert encoder.texts_encoded == 3
    assert not np.allclose(got, vectors[:3], atol=1e-3)


def test_token_counts_need_no_forward_pass(stored_model):
    folder, _ = stored_model
    encoder = Encoder(load_model(str(folder)))
    counts = encoder.token_counts(["a harbour", "🙂🙂"])
    assert encoder.forward_passes == 0
    states = encoder.states(["a harbour", "🙂🙂"])
    assert [(c.n_content, c.n_unknown) for c in counts] == [(s.n_content, s.n_unknown) for s in states]
    assert counts[1].n_unknown > 0


def test_the_embed_command_reads_a_subset_of_a_stored_corpus_and_encodes_only_new_texts(
    stored_model, tmp_path, monkeypatch
):
    from sentence_transformers import SentenceTransformer

    from embedlab import cli

    folder, vectors = stored_model
    encoded: list[str] = []
    plain_encode = SentenceTransformer.encode

    def counted(self, sentences, *args, **kwargs):
        encoded.extend(sentences)
        return plain_encode(self, sentences, *args, **kwargs)

    monkeypatch.setattr(SentenceTransformer, "encode", counted)
    subset = tmp_path / "subset.txt"
    subset.write_text("\n".join([TEXTS[30], TEXTS[2], "a sentence never stored", TEXTS[17]]) + "\n")
    out = tmp_path / "out"
    assert cli.main(["embed", str(subset), "--model", str(folder), "--out", str(out), "--chunk", "2"]) == 0
    assert encoded == ["a sentence never stored"]
    got = np.load(out / "vectors.npy")
    np.testing.assert_array_equal(got[[0, 1, 3]], vectors[[30, 2, 17]])
    np.testing.assert_allclose(
        got[2], plain_encode(load_model(str(folder)).st_model, ["a sentence never stored"])[0], atol=1e-5
    )


@pytest.fixture
def command_encoder(stored_model, monkeypatch):
    """One Encoder of the stored model that the commands run here use (its forward passes counted)."""
    from embedlab.cli import common

    folder, _ = stored_model
    encoder = Encoder(load_model(str(folder)))
    monkeypatch.setattr(common, "load_engine", lambda kind, model_id: encoder)
    return encoder


def test_the_score_command_reads_stored_vectors_and_judges_its_notes_without_a_forward_pass(
    stored_model, command_encoder, tmp_path, capsys
):
    import json

    from embedlab import cli
    from embedlab.embedding.scoring import random_pair_baseline

    folder, vectors = stored_model
    encoder = command_encoder
    random_pair_baseline(encoder, EmbedSpec(resolve_model(str(folder))))  # the baseline's own texts, beforehand
    passes, encoded = encoder.forward_passes, encoder.texts_encoded
    pairs = [(0, 1), (5, 30), (12, 12), (35, 2)]
    path = tmp_path / "pairs.csv"
    path.write_text("sentence1,sentence2\n" + "".join(f"{TEXTS[a]},{TEXTS[b]}\n" for a, b in pairs), encoding="utf-8")
    assert cli.main(["score", str(path), "--model", str(folder), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["pairs"]
    assert (encoder.forward_passes, encoder.texts_encoded) == (passes, encoded)  # scores and notes: none
    assert encoder.stored.vectors_read == len({n for pair in pairs for n in pair})  # each distinct text, read once
    normed = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert [pair["cosine"] for pair in found] == pytest.approx([float(normed[a] @ normed[b]) for a, b in pairs], 1e-5)
    counts = encoder.token_counts([TEXTS[a] for a, _ in pairs])  # what the notes were judged from
    assert [pair["unknown_tokens"]["sentence1"] for pair in found] == [
        round(c.n_unknown / c.n_content, 4) for c in counts
    ]
    assert all(pair["truncated"] == [] and pair["note"] == "" for pair in found)
    assert encoder.forward_passes == passes


def test_the_retrieve_command_reads_stored_vectors_without_a_forward_pass(
    stored_model, command_encoder, tmp_path, capsys
):
    import json

    from embedlab import cli

    folder, _ = stored_model
    path = tmp_path / "pairs.csv"
    rows = [(TEXTS[n], TEXTS[n + 3]) for n in range(0, 30, 6)]
    path.write_text("query,relevant\n" + "".join(f"{q},{d}\n" for q, d in rows), encoding="utf-8")
    assert cli.main(["retrieve", "--data", str(path), "--model", str(folder), "--json"]) == 0
    (system,) = json.loads(capsys.readouterr().out)["systems"]
    assert command_encoder.forward_passes == 0 and command_encoder.texts_encoded == 0
    assert command_encoder.stored.vectors_read == len({text for row in rows for text in row})
    assert system["passes"] == 0
