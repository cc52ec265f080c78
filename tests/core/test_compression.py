"""Vectors stored smaller (``embedlab.embedding.compression``, ``EmbedSpec.precision`` / ``dims``): int8 codes as the
library makes them from the reference sentences, binary scores as Hamming, truncation keeps the first dimensions,
a model without vectors refuses, and the command line shows the full float32 numbers beside the smaller ones."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sentence_transformers.util.quantization import quantize_embeddings

from embedlab import cli
from embedlab.corpora import reference_sentences
from embedlab.embedding.compression import bytes_per_vector, compress
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.scorers.registry import open_scorer
from tests.helpers import one_line_error

PAIRS = [
    ("How old are you?", "What is your age?"),
    ("A man is playing a guitar.", "A man plays the guitar loudly."),
    ("The cat sat on the mat.", "Stock markets fell sharply on Monday."),
    ("Volcanoes erupt at night.", "The night is dark and cold."),
    ("She bought a new car.", "She purchased a new automobile."),
]
TEXTS = [text for pair in PAIRS for text in pair]


@pytest.fixture(scope="module")
def full_scorer():
    return open_scorer("all-MiniLM-L6-v2")


def test_binary_codes_score_one_minus_twice_the_hamming_share():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(6, 40)).astype(np.float32)
    codes = compress(vectors, "binary")
    assert codes.shape == (6, 40) and set(np.unique(codes)) == {-1.0, 1.0}
    bits = vectors > 0
    hamming = (bits[0] != bits[1]).sum()
    cosine = codes[0] @ codes[1] / 40
    assert cosine == pytest.approx(1 - 2 * hamming / 40)
    assert compress(vectors, "binary", dims=16).shape == (6, 16)
    assert bytes_per_vector("binary", 384) == 48 and bytes_per_vector("int8", 384) == 384
    assert bytes_per_vector("float32", 128) == 512


def test_int8_codes_are_the_librarys_calibrated_ones_and_truncation_keeps_the_first_dims():
    rng = np.random.default_rng(1)
    vectors, calibration = rng.normal(size=(5, 12)), rng.normal(size=(50, 12))
    expected = quantize_embeddings(vectors[:, :8], "int8", calibration_embeddings=calibration[:, :8])
    np.testing.assert_array_equal(compress(vectors, "int8", 8, calibration), expected.astype(np.float32))
    np.testing.assert_array_equal(compress(vectors, "float32", 3), vectors[:, :3].astype(np.float32))
    with pytest.raises(EmbedLabError, match="have 12 dimensions: keep at most that many"):
        compress(vectors, "float32", 13)
    with pytest.raises(EmbedLabError, match="Unknown vector precision 'int4'"):
        EmbedSpec("all-MiniLM-L6-v2", precision="int4")
    with pytest.raises(EmbedLabError, match="at least 1"):
        EmbedSpec("all-MiniLM-L6-v2", dims=0)


def test_a_model_scores_its_stored_vectors(full_scorer):
    spec = full_scorer.spec
    full = full_scorer.encode(TEXTS)
    int8 = full_scorer.as_spec(EmbedSpec(spec.model, precision="int8"))
    assert int8.label == "all-MiniLM-L6-v2 · own pipeline · int8 vectors"
    calibration = full_scorer.encode(reference_sentences())
    np.testing.assert_array_equal(int8.encode(TEXTS), compress(full, "int8", None, calibration))
    drift = np.abs(int8.score(PAIRS) - full_scorer.score(PAIRS))
    assert 0 < drift.max() < 0.15  # codes, not the float32 numbers, but close (the issue saw 0.11 on STS dev)
    short = full_scorer.as_spec(EmbedSpec(spec.model, dims=64))
    assert short.encode(TEXTS).shape == (len(TEXTS), 64)
    np.testing.assert_allclose(short.encode(TEXTS), full[:, :64], atol=1e-6)


def test_a_service_can_store_its_vectors_as_bits(service):
    ref = f"{service.base_url}#all-MiniLM-L6-v2"
    scorer = open_scorer(ref, EmbedSpec(ref, precision="binary", dims=128))
    codes = scorer.encode(TEXTS[:4])
    assert codes.shape == (4, 128) and set(np.unique(codes)) == {-1.0, 1.0}


def test_a_cross_encoder_has_no_vectors_to_store_smaller(cross_dir, tmp_path, capsys):
    with pytest.raises(EmbedLabError, match=r"is a cross-encoder.* so --vectors int8 cannot apply"):
        open_scorer(str(cross_dir), EmbedSpec(str(cross_dir), precision="int8"))
    pairs_file = tmp_path / "pairs.csv"
    pairs_file.write_text("sentence1,sentence2\na,b\n", encoding="utf-8")
    assert cli.main(["score", str(pairs_file), "--model", str(cross_dir), "--dims", "64"]) == 2
    assert "--dims 64 cannot apply" in one_line_error(capsys)


def test_the_command_line_shows_float32_beside_the_stored_numbers(full_scorer, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli.common, "load_engine", lambda kind, model_id: full_scorer.engine)  # its cached states
    pairs_file = tmp_path / "pairs.csv"
    pairs_file.write_text("sentence1,sentence2\n" + "".join(f'"{a}","{b}"\n' for a, b in PAIRS), encoding="utf-8")
    assert cli.main(["score", str(pairs_file), "--model", "all-MiniLM-L6-v2", "--vectors", "binary", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["precision"] == "binary" and report["dims"] is None
    np.testing.assert_allclose(
        [pair["cosine_float32"] for pair in report["pairs"]], full_scorer.score(PAIRS), atol=1e-6
    )
    binary = full_scorer.as_spec(EmbedSpec("all-MiniLM-L6-v2", precision="binary"))
    np.testing.assert_allclose([pair["cosine"] for pair in report["pairs"]], binary.score(PAIRS), atol=1e-6)
    sts_file = tmp_path / "sts.csv"
    sts_file.write_text(
        "sentence1,sentence2,score\n" + "".join(f'"{a}","{b}",{5 - i}\n' for i, (a, b) in enumerate(PAIRS)),
        encoding="utf-8",
    )
    assert cli.main(["eval", str(sts_file), "--model", "all-MiniLM-L6-v2", "--dims", "32", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [record.get("stored") for record in results] == [None, "first 32 dims"]
