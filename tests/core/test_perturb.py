"""Perturbations of the user's sentences: each kind's edit, the sentences it skips, the `perturb` command, and pairs
that `negtest` reads back."""

from __future__ import annotations

import json
import random

import pandas as pd
import pytest

from embedlab import cli
from embedlab.embedding.encoder import Encoder
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_PERTURB_SENTENCES
from embedlab.tasks.negtest import read_labelled_pairs
from embedlab.tasks.perturb import (
    EXPECTED,
    KINDS,
    RULES,
    kind_results,
    lexicon,
    perturb,
    sentences_from_text,
)

M = "all-MiniLM-L6-v2"


def one_edit(kind: str, sentence: str) -> str | None:
    """The edit ``kind`` makes of ``sentence`` (seed 0), or None when it does not apply."""
    return RULES[kind](sentence, random.Random(0), lexicon())


# ---------------------------------------------------------------- each kind


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("The door is open.", "The door is not open."),
        ("She runs every morning.", "She does not run every morning."),
        ("He passed the exam.", "He did not pass the exam."),
        ("The kids play outside.", "The kids do not play outside."),
        ("I have seen this movie before.", "I have not seen this movie before."),
        ("The meeting has been moved to Thursday.", "The meeting has not been moved to Thursday."),
        ("He has a car.", "He does not have a car."),
        ("You can swim here.", "You cannot swim here."),
        # a negative sentence loses its negation
        ("She does not like spicy food.", "She likes spicy food."),
        ("He didn't pass the exam.", "He passed the exam."),
        ("The door isn't open.", "The door is open."),
        ("I have never seen it.", "I have seen it."),
        ("There is no milk in the fridge.", "There is milk in the fridge."),
        ("Nobody came to the party.", "Everybody came to the party."),
    ],
)
def test_negation_adds_or_removes_with_the_auxiliary(sentence, expected):
    assert one_edit("negation", sentence) == expected


@pytest.mark.parametrize(
    ("kind", "sentence", "expected"),
    [
        ("antonym", "The water is hot.", "The water is cold."),
        ("antonym", "Prices increased sharply.", "Prices decreased sharply."),
        ("antonym", "Cheap flights sell out.", "Expensive flights sell out."),  # a capital letter is kept
        ("role_reversal", "The cat chased the dog.", "The dog chased the cat."),
        ("role_reversal", "Alice sent Bob a letter.", "Bob sent Alice a letter."),
        ("role_reversal", "She called him yesterday.", "He called her yesterday."),
        ("role_reversal", "The teacher has praised the student.", "The student has praised the teacher."),
        ("contraction", "It is not ready.", "It's not ready."),
        ("contraction", "They don't know.", "They do not know."),
        ("contraction", "I am late.", "I'm late."),
    ],
)
def test_fixed_edits(kind, sentence, expected):
    assert one_edit(kind, sentence) == expected


@pytest.mark.parametrize(
    ("kind", "sentence"),
    [
        ("negation", "Can you help me carry this box?"),  # a question
        ("negation", "Beautiful weather."),  # no verb the lexicon knows
        ("negation", "I do not zorble."),  # "do not" before an unknown word is left alone
        ("antonym", "The committee met on a weekday."),
        ("number", "The committee met on a weekday."),
        ("role_reversal", "The door is open."),  # a copula: nothing to swap
        ("role_reversal", "The dogs chase the cat."),  # the verb would not agree after the swap
        ("role_reversal", "The cat was chased by the dog."),  # passive: the object is not after the verb
        ("role_reversal", "She runs every morning."),  # "every morning" is not an object
        ("role_reversal", "He has a car."),  # possession
        ("entity_swap", "The cat chased the dog."),
        ("typo", "I am at it."),  # no word of five letters
        ("case_punctuation", "1234 5678"),  # no letters
        ("contraction", "The cat chased the dog."),
        # sentences the rules once mangled
        ("negation", "Turn left at the second traffic light."),  # an imperative, not "Turn did not leave"
        ("negation", "Close the window before you leave."),  # "you leave" is not the sentence's clause
        ("negation", "She has visited thirty countries but never been to Canada."),
        ("negation", "Honestly, I have no clue what he was talking about."),  # not "I have clue"
        ("negation", "The committee has not yet reached a consensus."),  # not "has yet reached"
        ("negation", "Wir gehen am Wochenende im Wald wandern."),  # German "am" is not "I am"
        ("negation", "Nous avons visité trois musées."),
        ("role_reversal", "The surgeon explained the risks of the procedure."),  # the phrase runs on with "of"
        ("role_reversal", "She wrote a script that renames files."),
        ("role_reversal", "Nobody warned us about the trail."),  # "Nobody" is not a name
        ("role_reversal", "My sister just started her first job."),
    ],
)
def test_a_kind_skips_sentences_it_cannot_apply_to(kind, sentence):
    assert one_edit(kind, sentence) is None
    result = perturb([sentence, "Another sentence, also skipped or not."], kinds=[kind, "case_punctuation"])
    assert sentence not in set(result.pairs.loc[result.pairs["category"] == kind, "sentence1"])
    assert result.skipped[kind] >= 1


def test_number_changes_the_number_and_only_it():
    for sentence in ["We bought 3 apples.", "The store closes at nine.", "It was built in 1999."]:
        changed = one_edit("number", sentence)
        assert changed is not None and changed != sentence
        same = [a == b for a, b in zip(sentence.split(), changed.split(), strict=True)]
        assert same.count(False) == 1  # one word differs, the rest is kept


def test_number_words_are_replaced_within_their_group():
    for seed in range(20):
        changed = RULES["number"]("Preheat the oven to two hundred degrees.", random.Random(seed), lexicon())
        word = changed.split()[4]
        assert word in lexicon().numbers[0] and word != "two" and changed.split()[5] == "hundred"


def test_entity_swap_keeps_the_entity_type():
    lex = lexicon()
    for sentence, name in [("Alice lives in Paris.", "Alice"), ("They flew to Japan.", "Japan")]:
        changed = one_edit("entity_swap", sentence)
        words = dict(zip(sentence.split(), changed.split(), strict=True))
        replacement = words.get(name) or words.get(name + ".")
        replacement = replacement.rstrip(".")
        assert replacement != name and lex.entity_type[replacement] == lex.entity_type[name]


def test_typo_swaps_two_inner_letters_of_one_word():
    sentence = "The restaurant closes early."
    changed = one_edit("typo", sentence)
    differing = [(a, b) for a, b in zip(sentence.split(), changed.split(), strict=True) if a != b]
    assert len(differing) == 1
    original, typo = differing[0]
    assert sorted(original) == sorted(typo) and original[0] == typo[0] and original[-1] == typo[-1]


def test_case_punctuation_changes_only_case_and_the_final_stop():
    assert one_edit("case_punctuation", "The Cat sat.") == "the cat sat"
    assert one_edit("case_punctuation", "the cat sat") == "The cat sat."


# ---------------------------------------------------------------- a list of sentences

SENTENCES = [
    "The cat chased the dog.",
    "She does not like spicy food.",
    "We bought 3 apples in Paris.",
    "The water is hot.",
    "Can you help me carry this box?",
]


def test_pairs_carry_their_kind_and_label_and_skips_are_counted():
    result = perturb(SENTENCES)
    assert list(result.pairs.columns) == ["sentence1", "sentence2", "label", "category"]
    assert list(result.pairs.index) == list(range(1, len(result.pairs) + 1))
    assert set(result.pairs["category"]) <= set(KINDS)
    assert all(result.pairs["label"] == result.pairs["category"].map(EXPECTED))
    assert (result.pairs["sentence1"] != result.pairs["sentence2"]).all()
    made = result.pairs["category"].value_counts()
    for kind in KINDS:  # every sentence is either made into a pair or counted as skipped, once per kind
        assert made.get(kind, 0) + result.skipped[kind] == len(SENTENCES)
    assert result.skipped["role_reversal"] == 4 and result.skipped["entity_swap"] == 4
    assert "skipped: " in result.summary()


def test_output_is_deterministic_and_seeded_per_sentence():
    first = perturb(SENTENCES, seed=3).pairs
    assert first.equals(perturb(SENTENCES, seed=3).pairs)
    reordered = perturb(list(reversed(SENTENCES)), seed=3).pairs
    key = ["sentence1", "category"]
    assert first.sort_values(key).reset_index(drop=True).equals(reordered.sort_values(key).reset_index(drop=True))
    many = [f"We bought {n} apples in Paris in 2019." for n in range(4, 40)]
    changed = {seed: perturb(many, kinds=["number"], seed=seed).pairs["sentence2"].tolist() for seed in (0, 1)}
    assert changed[0] != changed[1]


@pytest.mark.parametrize(
    ("sentences", "message"),
    [
        ([], "has no sentences"),
        (["", "   "], "has no sentences"),
        (["Just one sentence."], "has one sentence"),
        (["Same.", "Same."], "has one sentence"),  # repeats count once
        ([f"Sentence number {n}." for n in range(10_000)], f"at most {MAX_PERTURB_SENTENCES:,}"),
    ],
    ids=["empty", "blank", "one sentence", "one repeated", "10,000 sentences"],
)
def test_bad_lists_get_a_clear_message(sentences, message):
    with pytest.raises(EmbedLabError, match=message):
        perturb(sentences)


def test_unknown_kind_and_no_kind_applying_are_refused():
    with pytest.raises(EmbedLabError, match="Unknown kind 'negations': choose from negation, antonym"):
        perturb(SENTENCES, kinds=["negations"])
    with pytest.raises(EmbedLabError, match="None of the kinds chosen"):
        perturb(["Nice.", "Hello there."], kinds=["role_reversal", "entity_swap"])


def test_sentences_from_files():
    assert sentences_from_text("One, two.\nThree.\n", "list.txt") == ["One, two.", "Three."]
    assert sentences_from_text('id,sentence\n1,"One, two."\n2,Three.\n', "list.csv") == ["One, two.", "Three."]
    assert sentences_from_text("sentence1\tsentence2\nA.\tB.\n", "pairs.tsv") == ["A.", "B."]
    with pytest.raises(EmbedLabError, match="no sentence column: name one column sentence or text.*'id', 'score'"):
        sentences_from_text("id,score\n1,2\n", "numbers.csv")


def test_kind_results_name_the_kinds_that_fail():
    pairs = pd.DataFrame(
        {
            "label": [0, 0, 1, 1, 0],
            "category": ["role_reversal", "role_reversal", "typo", "typo", "negation"],
        }
    )
    table = kind_results(pairs, [0.99, 0.98, 0.9, 0.3, 0.2], [True, True, False, True, False])
    assert table["kind"].tolist() == ["role_reversal", "typo", "negation"]  # worst share first
    assert table["verdict"].tolist() == ["fails", "fails", "passes"]
    assert table.loc[0, "expected"] == "should differ" and table.loc[1, "expected"] == "should stay similar"
    assert table.loc[0, "mean_score"] == pytest.approx(0.985)


# ---------------------------------------------------------------- the command


def run_cli(argv: list[str]) -> int:
    try:
        return cli.main(argv)
    except SystemExit as exit_:
        return int(exit_.code)


@pytest.fixture(scope="module")
def shared_encoder(packaged_model) -> Encoder:
    return Encoder(packaged_model)


def test_perturb_writes_pairs_that_negtest_reads_back(tmp_path, shared_encoder, monkeypatch, capsys):
    source = tmp_path / "mine.txt"
    source.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    out = tmp_path / "pairs.csv"
    assert run_cli(["perturb", str(source), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    written = read_labelled_pairs(out)
    assert report["pairs"] == len(written) and report["sentences"] == len(SENTENCES)
    assert report["kinds"]["role_reversal"] == {"pairs": 1, "skipped": 4, "label": 0}
    expected = perturb(SENTENCES).pairs
    assert written[["sentence1", "sentence2", "label", "category"]].equals(expected)

    monkeypatch.setattr(cli.common, "load_engine", lambda kind, model_id: shared_encoder)
    code = run_cli(["negtest", str(out), "--model", M, "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code in (0, 1)
    assert [(pair["sentence1"], pair["sentence2"], pair["label"]) for pair in result["pairs"]] == list(
        zip(expected["sentence1"], expected["sentence2"], expected["label"], strict=True)
    )
    role = next(pair for pair in result["pairs"] if pair["sentence2"] == "The dog chased the cat.")
    assert role["cosine"] > 0.95  # the bi-encoder's blind spot the issue names


def test_perturb_kinds_option_and_one_label_note(tmp_path, capsys):
    source = tmp_path / "mine.csv"
    source.write_text("sentence\nThe cat chased the dog.\nThe water is hot.\n", encoding="utf-8")
    out = tmp_path / "pairs.csv"
    assert run_cli(["perturb", str(source), "--out", str(out), "--kinds", "negation", "antonym"]) == 0
    captured = capsys.readouterr()
    assert set(pd.read_csv(out)["category"]) == {"negation", "antonym"}
    assert captured.out.startswith(f"{out}: 3 pairs from 2 sentences")
    assert "negtest needs both labels" in captured.err


@pytest.mark.parametrize(
    ("content", "name", "extra", "message"),
    [
        ("", "empty.txt", [], "has no sentences"),
        ("Only one.\n", "one.txt", [], "has one sentence"),
        ("\n".join(f"Sentence {n}." for n in range(10_000)), "big.txt", [], f"at most {MAX_PERTURB_SENTENCES:,}"),
        ("id,score\n1,2\n", "cols.csv", [], "has no sentence column"),
        ("A cat.\nA dog.\n", "ok.txt", ["--kinds", "negatoin"], "Unknown kind 'negatoin'"),
    ],
    ids=["empty", "one sentence", "10,000 sentences", "no sentence column", "unknown kind"],
)
def test_perturb_bad_input_exits_2_with_one_line(tmp_path, capsys, content, name, extra, message):
    source = tmp_path / name
    source.write_text(content, encoding="utf-8")
    out = tmp_path / "pairs.csv"
    assert run_cli(["perturb", str(source), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not out.exists()


def test_perturb_refuses_an_out_it_cannot_write(tmp_path, capsys):
    source = tmp_path / "ok.txt"
    source.write_text("A cat sat.\nA dog ran.\n", encoding="utf-8")
    assert run_cli(["perturb", str(source), "--out", str(tmp_path / "pairs.json")]) == 2
    assert run_cli(["perturb", str(source), "--out", str(tmp_path / "missing" / "pairs.csv")]) == 2
    assert "must end in .csv" in capsys.readouterr().err


def test_lexicon_forms():
    lex = lexicon()
    assert lex.verb_forms["runs"] == ("run", "present3") and lex.verb_forms["ran"] == ("run", "past")
    assert lex.verb_forms["carries"] == ("carry", "present3") and lex.verb_forms["stopped"] == ("stop", "past")
    assert lex.past["feed"] == "fed" and "been" in lex.participles
    assert lex.antonyms["hot"] == "cold" and lex.antonyms["cold"] == "hot"
    assert lex.entity_type["Paris"] == "city" and "May" not in lex.entity_type  # "may" is a modal verb
