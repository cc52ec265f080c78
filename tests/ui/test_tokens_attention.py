"""AppTest of the Tokens & layers page's attention section: the heatmap holds the attention plain transformers
gives with eager attention, a picked token and the trained side switch it, and the choices survive a rerun."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from components.shared import state
from components.tokens import attention_view, tokens_view
from embedlab.embedding.specs import EmbedSpec
from embedlab.models.loading import packaged_model_path
from tests.ui.apptest import ok, page_test


@pytest.fixture(scope="module")
def plain_eager():
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(packaged_model_path(), attn_implementation="eager")
    model.eval()
    return AutoTokenizer.from_pretrained(packaged_model_path()), model


def plain_from_token(plain_eager, text: str, position: int) -> np.ndarray:
    tokenizer, model = plain_eager
    with torch.inference_mode():
        output = model(**tokenizer(text, return_tensors="pt"), output_attentions=True)
    return torch.stack(output.attentions)[:, 0, :, position, :].mean(dim=1).numpy()  # (layers, T)


def chart(at: AppTest, key: str) -> dict:
    found = [c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id or f'"{key}"' in str(c.proto)]
    assert found, f"no chart {key}"
    return json.loads(found[0].proto.spec)


def decode(values) -> np.ndarray:
    """A plotly JSON array: a list, or a typed array {"dtype", "bdata" (base64), "shape"}."""
    if isinstance(values, dict):
        array = np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
        if "shape" in values:
            array = array.reshape([int(n) for n in str(values["shape"]).split(",")])
        return array.astype(np.float64)
    return np.array(values, dtype=np.float64)


def heatmap_z(at: AppTest, key: str = "attention.heatmap") -> np.ndarray:
    return decode(chart(at, key)["data"][0]["z"])


@pytest.fixture()
def app() -> AppTest:
    return ok(page_test("tokens").run())


def test_cls_attention_heatmap_equals_plain_transformers(app, plain_eager):
    text = tokens_view.DEFAULT_SENTENCES[0]
    np.testing.assert_allclose(heatmap_z(app), plain_from_token(plain_eager, text, 0), atol=1e-5)
    assert any("What [CLS] looks at" in header.value for header in app.subheader)
    assert any("eager attention on a private copy" in caption.value for caption in app.caption)


def test_a_picked_token_and_the_second_sentence(app, plain_eager):
    app.selectbox(key=attention_view.TOKEN_WIDGET).set_value(4).run()
    ok(app)
    np.testing.assert_allclose(
        heatmap_z(app), plain_from_token(plain_eager, tokens_view.DEFAULT_SENTENCES[0], 4), atol=1e-5
    )
    assert app.session_state[attention_view.TOKEN] == 4
    app.radio(key=attention_view.SENTENCE_WIDGET).set_value(1).run()
    ok(app)
    np.testing.assert_allclose(
        heatmap_z(app), plain_from_token(plain_eager, tokens_view.DEFAULT_SENTENCES[1], 4), atol=1e-5
    )


def test_per_head_view(app, plain_eager):
    app.toggle(key=attention_view.PER_HEAD_WIDGET).set_value(True).run()
    ok(app)
    heads = heatmap_z(app, "attention.heads")
    tokenizer, model = plain_eager
    with torch.inference_mode():
        output = model(**tokenizer(tokens_view.DEFAULT_SENTENCES[0], return_tensors="pt"), output_attentions=True)
    np.testing.assert_allclose(heads, output.attentions[-1][0, :, 0, :].numpy(), atol=1e-5)


def test_the_trained_side_uses_the_trained_model(app):
    app.session_state[state.TRAINED_SPEC] = EmbedSpec("untrained-bert", "model")
    app.run()
    raw = heatmap_z(app)
    app.segmented_control(key=attention_view.SIDE_WIDGET).set_value("trained").run()
    ok(app)
    assert app.session_state[attention_view.SIDE] == "trained"
    assert any("untrained-bert" in caption.value for caption in app.caption)
    trained = heatmap_z(app)
    assert trained.shape[1] == raw.shape[1]  # the same tokenizer, the same tokens
    assert not np.allclose(trained, raw, atol=1e-3)
