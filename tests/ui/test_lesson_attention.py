"""AppTest of the Lesson's attention step: its numbers are [CLS]'s attention from plain transformers (eager), and its
button opens Tokens & layers on the step's sentence."""

from __future__ import annotations

import torch

from components.lesson.lesson_view import TITLES
from components.shared import state
from embedlab.embedding.specs import EmbedSpec
from embedlab.models.loading import PACKAGED, UNTRAINED, packaged_model_path
from embedlab.tasks.lesson import TENSOR_TEXT
from tests.ui.apptest import ok, page_test


def plain_cls_shares() -> dict[str, torch.Tensor]:
    """The packaged model's [CLS] attention per layer (averaged over heads) on itself and on [SEP] + punctuation,
    straight from transformers with eager attention."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(packaged_model_path())
    plain = AutoModel.from_pretrained(packaged_model_path(), attn_implementation="eager")
    plain.eval()
    inputs = tokenizer(TENSOR_TEXT, return_tensors="pt")
    with torch.inference_mode():
        attentions = torch.stack(plain(**inputs, output_attentions=True).attentions)[:, 0].mean(dim=1)[:, 0]
    tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    sep_punct = [i for i, token in enumerate(tokens) if token in ("[SEP]", "?", ".", ",", "!")]
    return {"self": attentions[:, 0], "sep_punct": attentions[:, sep_punct].sum(dim=1)}


def metric(at, label: str) -> str:
    return next(m for m in at.metric if m.label == label).value


def test_attention_step_numbers_and_its_button():
    at = ok(page_test().run())  # the whole app, so the button can switch pages
    at.switch_page("app_pages/lesson.py")
    ok(at.run())
    assert TITLES["attention"] in [header.value for header in at.header]
    assert at.session_state[state.RAW_SPEC].model == PACKAGED  # offline, the raw model is the packaged one
    expected = plain_cls_shares()
    assert metric(at, "[CLS] on itself, last layer") == f"{float(expected['self'][-1]):.0%}"
    assert metric(at, "[CLS] on itself, layers 1…L (mean)") == f"{float(expected['self'].mean()):.0%}"
    assert metric(at, "[SEP] + punctuation, at most") == f"{float(expected['sep_punct'].max()):.0%}"
    assert any("[CLS] of “" in block.value and "Clark et al. 2019" in block.value for block in at.markdown)
    at.button(key="lesson.open.attention.0").click()
    ok(at.run())
    assert at.title[0].value == "Tokens & layers"
    assert at.session_state["tokens.sentences"] == (TENSOR_TEXT,)


def test_attention_step_with_the_untrained_control_compares_with_the_trained_model():
    at = page_test("lesson")
    at.session_state[state.RAW_SPEC] = EmbedSpec(UNTRAINED, "cls", "-1")
    ok(at.run())
    text = next(block.value for block in at.markdown if "[CLS] of “" in block.value)
    assert text.startswith(f"In {UNTRAINED}") and "In all-MiniLM-L6-v2, [CLS] keeps" in text
