"""The packaged model run in numpy (``embedlab.models.numpy_bert``): the library's states and scores to float32
rounding, what it refuses, and Compare's first look computed without importing torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embedlab.embedding import reference_cache, scoring
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.reference_cache import warm_reference_states
from embedlab.embedding.scoring import random_pair_baseline
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.models.identity import resolve_model
from embedlab.models.loading import packaged_model_path
from embedlab.models.numpy_bert import NumpyBert, NumpyEncoder
from embedlab.tasks import first_look as first_look_module
from embedlab.tasks.compare import Scored, check_pairs, compare_table, example_pairs, score_rows
from embedlab.tasks.first_look import first_look, first_look_specs
from tests.helpers import SHORT_REFERENCE

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "How old are you?",
    "What is your age?",
    "你几岁了？",  # mostly [UNK] for this tokenizer: the readability counts
    "A man is playing a guitar.",
    "",
    "Ünïcödé, punctuation — and numbers: 3.14!",
    "word " * 300,  # longer than max_seq_length (256): cut as the library cuts it
]
CORPUS = SHORT_REFERENCE
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def numpy_encoder() -> NumpyEncoder:
    return NumpyEncoder.load(resolve_model("all-MiniLM-L6-v2"), packaged_model_path())


def test_every_state_equals_the_library_encoder_to_float32_rounding(numpy_encoder, packaged_model):
    library = Encoder(packaged_model).states(TEXTS)
    ours = numpy_encoder.states(TEXTS)
    for theirs, mine in zip(library, ours, strict=True):
        assert set(mine.pooled) == set(theirs.pooled)
        for name, values in theirs.pooled.items():
            np.testing.assert_allclose(mine.pooled[name], values, atol=TOLERANCE, err_msg=name)
        np.testing.assert_allclose(mine.model, theirs.model, atol=TOLERANCE)
        np.testing.assert_allclose(mine.pooler, theirs.pooler, atol=TOLERANCE)
        assert (mine.n_tokens, mine.truncated, mine.n_content, mine.n_unknown, mine.n_read) == (
            theirs.n_tokens,
            theirs.truncated,
            theirs.n_content,
            theirs.n_unknown,
            theirs.n_read,
        )
    assert ours[-1].truncated and ours[-1].n_read == 256
    assert ours[2].n_unknown > 0
    assert numpy_encoder.token_counts(TEXTS) == Encoder(packaged_model).token_counts(TEXTS)


def test_the_pipeline_vector_and_hidden_states_equal_plain_library_code(numpy_encoder, reference_st, reference_hf):
    texts = TEXTS[:4]
    np.testing.assert_allclose(
        np.stack([state.model for state in numpy_encoder.states(texts)]),
        reference_st.encode(texts, convert_to_numpy=True),
        atol=TOLERANCE,
    )
    import torch

    tokenizer, model = reference_hf
    with torch.inference_mode():
        hidden = model(**tokenizer(texts[0], return_tensors="pt"), output_hidden_states=True).hidden_states
    expected_cls = torch.stack([layer[0, 0] for layer in hidden]).numpy()
    np.testing.assert_allclose(numpy_encoder.states(texts[:1])[0].pooled["cls"], expected_cls, atol=TOLERANCE)


def test_a_batch_gives_each_text_what_it_gets_alone(numpy_encoder):
    together = numpy_encoder.model.bert.run(TEXTS)
    for text, state in zip(TEXTS, together, strict=True):
        alone = numpy_encoder.model.bert.run([text])[0]
        np.testing.assert_allclose(state.pooled["mean"], alone.pooled["mean"], atol=TOLERANCE)
        np.testing.assert_allclose(state.model, alone.model, atol=TOLERANCE)


def test_a_seeded_random_mean_pooling_model_matches_the_library(tmp_path, tiny_model_dir):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    transformer = Transformer(str(tiny_model_dir), max_seq_length=64)
    folder = tmp_path / "tiny-mean"
    SentenceTransformer(
        modules=[transformer, Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")]
    ).save(str(folder))
    library = SentenceTransformer(str(folder), device="cpu")
    bert = NumpyBert.load(folder)
    texts = [*TEXTS[:4], "word " * 100]  # the last one cut at 64 tokens
    expected = library.encode(texts, convert_to_numpy=True)
    np.testing.assert_allclose(np.stack([state.model for state in bert.run(texts)]), expected, atol=TOLERANCE)
    assert not bert.normalize  # no Normalize module: vectors as pooled


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda root: _edit(root / "config.json", model_type="roberta"), "not BERT"),
        (lambda root: _edit(root / "config.json", hidden_act="relu"), "not BERT with GELU"),
        (lambda root: _edit(root / "1_Pooling" / "config.json", pooling_mode_cls_token=True), "not a plain mean"),
        (lambda root: (root / "model.safetensors").unlink(), "no model.safetensors"),
        (lambda root: (root / "modules.json").write_text("[]"), "not a Transformer -> Pooling"),
        (lambda root: (root / "config.json").write_text("{"), "config.json cannot be read"),
        (lambda root: _edit(root / "config.json", num_hidden_layers=12), "does not hold the BERT encoder"),
    ],
)
def test_a_model_it_does_not_run_is_refused_saying_why(tmp_path, change, words):
    root = tmp_path / "model"
    shutil.copytree(packaged_model_path(), root, ignore=shutil.ignore_patterns("model.safetensors"))
    (root / "model.safetensors").symlink_to(Path(packaged_model_path()) / "model.safetensors")
    change(root)
    with pytest.raises(EmbedLabError, match=words):
        NumpyBert.load(root)


def test_a_cls_pooling_sentence_transformer_is_refused(tiny_st_dir):
    with pytest.raises(EmbedLabError, match="pools with cls, not a plain mean"):
        NumpyBert.load(tiny_st_dir)


def _edit(path: Path, **changes) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def test_it_reads_the_library_reference_file_and_never_writes_one(numpy_encoder, packaged_model, tmp_path):
    fresh = NumpyEncoder(numpy_encoder.model)
    assert warm_reference_states(fresh, CORPUS, tmp_path) == "not cached"
    assert list(tmp_path.iterdir()) == []  # nothing written by this engine
    assert warm_reference_states(Encoder(packaged_model), CORPUS, tmp_path) == "encoded"  # the library writes
    assert warm_reference_states(fresh, CORPUS, tmp_path) == "disk"
    assert fresh.forward_passes == 0 and all(fresh.cached(text) for text in CORPUS)


def test_the_first_look_equals_the_table_the_page_computes_with_the_library(numpy_encoder, packaged_model, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_VECTOR_CACHE_DIR", "none")
    for module in (scoring, reference_cache):  # a short reference set: the same code path, a fraction of the time
        monkeypatch.setattr(module, "reference_sentences", lambda: tuple(CORPUS))
    table = pd.concat([example_pairs(), pd.DataFrame({"sentence1": ["   "], "sentence2": ["x"]}, index=[7])])
    ours = first_look(NumpyEncoder(numpy_encoder.model), table)

    library = Encoder(packaged_model)
    check = check_pairs(table)
    raw, trained = first_look_specs()
    expected = compare_table(
        table,
        check,
        Scored(*score_rows(library, raw, table, check.scorable), random_pair_baseline(library, raw)),
        Scored(*score_rows(library, trained, table, check.scorable), random_pair_baseline(library, trained)),
    )
    assert list(ours.columns) == list(expected.columns) and list(ours.index) == list(expected.index)
    numbers = [column for column in expected if column not in ("sentence1", "sentence2", "note")]
    percentiles = [column for column in numbers if column.endswith("percentile")]
    others = [column for column in numbers if column not in percentiles]
    np.testing.assert_allclose(ours[others].astype(float), expected[others].astype(float), atol=TOLERANCE)
    # a percentile counts baseline cosines below the score: equal unless one sits within float32 rounding of it
    np.testing.assert_allclose(ours[percentiles].astype(float), expected[percentiles].astype(float), atol=0.05)
    assert list(ours["note"]) == list(expected["note"])
    assert "does not read this script" in ours.at[2, "note"]
    assert np.isnan(ours.at[7, "trained_cosine"])  # the blank row is not scored, as on the page
    assert raw == EmbedSpec(resolve_model("all-MiniLM-L6-v2"), "cls", "-1")


def test_no_scorable_row_gives_no_first_look(numpy_encoder):
    assert first_look(numpy_encoder, pd.DataFrame({"sentence1": [""], "sentence2": ["x"]}, index=[1])) is None


def test_the_raw_model_is_the_packaged_one_only_without_bert_base(monkeypatch):
    monkeypatch.setattr(first_look_module, "maybe_cached", lambda repo: False)
    monkeypatch.setattr(first_look_module, "hub_unreachable_reason", lambda: "HF_HUB_OFFLINE is set")
    assert first_look_module.raw_model_is_packaged()
    monkeypatch.setattr(first_look_module, "hub_unreachable_reason", lambda: None)  # the Hub answers: a download
    assert not first_look_module.raw_model_is_packaged()
    monkeypatch.setattr(first_look_module, "hub_unreachable_reason", lambda: "offline")
    monkeypatch.setattr(first_look_module, "maybe_cached", lambda repo: True)
    assert not first_look_module.raw_model_is_packaged()


def test_the_first_look_runs_without_importing_torch(tmp_path):
    script = (
        "import sys\n"
        "from embedlab.tasks.first_look import first_look, first_look_engine, raw_model_is_packaged\n"
        "from embedlab.tasks.compare import example_pairs\n"
        "assert raw_model_is_packaged()\n"
        "table = first_look(first_look_engine(), example_pairs())\n"
        "print(round(float(table.at[1, 'trained_cosine']), 6), round(float(table.at[1, 'trained_typical']), 6))\n"
        "heavy = [name for name in ('torch', 'transformers', 'sentence_transformers') if name in sys.modules]\n"
        "print(','.join(heavy) or 'none')\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EMBEDLAB_VECTOR_CACHE_DIR": str(tmp_path), "HF_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    cosine, typical, heavy = result.stdout.split()
    assert heavy == "none"
    assert 0.5 < float(cosine) < 1.0 and abs(float(typical)) < 0.2  # a paraphrase well above the random pairs


def test_a_cached_bert_base_is_seen_from_its_cache_folder(tmp_path, monkeypatch):
    from huggingface_hub import constants

    from embedlab.models.hub import maybe_cached

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    assert not maybe_cached("bert-base-uncased")
    snapshots = tmp_path / "models--google-bert--bert-base-uncased" / "snapshots"
    snapshots.mkdir(parents=True)
    assert not maybe_cached("google-bert/bert-base-uncased")  # a folder with no snapshot in it
    (snapshots / "86b5e0934494bd15c9632b12f734a8a67f723594").mkdir()
    assert maybe_cached("google-bert/bert-base-uncased")
    assert not maybe_cached("bert-base-uncased")
