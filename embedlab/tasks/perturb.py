"""Labelled pairs generated from the user's own sentences: small edits that should, or should not, change the meaning.

CheckList's idea (Ribeiro et al., ACL 2020) brought to similarity scores: each sentence is paired with an edited
copy of itself, and the pair is labelled with what a person would say about it.

Kinds that change the meaning (label 0, "should not be similar"):
    negation: add "not" after the first auxiliary ("is" -> "is not", "has seen" -> "has not seen"), or
        "does/did/do not" before a main verb ("runs" -> "does not run", "ran" -> "did not run"); a sentence that
        is already negative loses its negation instead ("isn't" -> "is", "never" dropped, "does not run" -> "runs").
        The verb needs its subject before it: questions, imperatives and verbs in a later clause are skipped.
    antonym: the first word with an antonym in the lexicon swapped for it ("hot" -> "cold").
    number: the first number (digits or a number word) changed to another.
    role_reversal: the two noun phrases around the verb swapped ("The cat chased the dog" -> "The dog chased the
        cat"), only where the verb agrees with both (past tense, or both singular or both plural).
    entity_swap: the first known name, city, country, company, weekday or month replaced by another of its type.
Kinds that keep it (label 1, "should be similar", invariance controls):
    typo: two neighbouring letters of a word of five letters or more swapped.
    case_punctuation: the sentence lower-cased (or capitalised) and its final stop dropped (or added).
    contraction: "is not" -> "isn't", "it is" -> "it's", ... or the reverse.

No maintained library does this offline here: CheckList, nlpaug and lemminflect need spaCy models or WordNet data,
which cannot be downloaded. So the rules are small and written out, with their words in
``assets/perturb_lexicon.json``; a kind that finds nothing it knows in a sentence skips it (counted in
``Perturbation.skipped``), it never guesses. Output is deterministic: a choice (a number, an entity, a typo's
place) is drawn from a generator seeded by the seed, the kind and the sentence, so the same sentence gets the
same edit whatever else is in the list.

The pairs have the columns of the bundled suite (sentence1, sentence2, label, category = the kind), so
``negtest`` reads a saved file as it is.

Example:
    >>> result = perturb(["The cat chased the dog.", "She runs every morning."], kinds=("negation", "role_reversal"))
    >>> result.pairs[["sentence2", "category"]].values.tolist()
    [['The cat did not chase the dog.', 'negation'], ['The dog chased the cat.', 'role_reversal'],
     ['She does not run every morning.', 'negation']]
    >>> result.skipped
    {'negation': 0, 'role_reversal': 1}
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, get_args

import numpy as np
import pandas as pd

from embedlab.corpora import ASSETS
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_PERTURB_SENTENCES

LEXICON_FILE = ASSETS / "perturb_lexicon.json"
Kind = Literal[
    "negation", "antonym", "number", "role_reversal", "entity_swap", "typo", "case_punctuation", "contraction"
]
KINDS: tuple[str, ...] = get_args(Kind)
CHANGES_MEANING = ("negation", "antonym", "number", "role_reversal", "entity_swap")  # label 0
KEEPS_MEANING = ("typo", "case_punctuation", "contraction")  # label 1
EXPECTED = {kind: 0 if kind in CHANGES_MEANING else 1 for kind in KINDS}
KIND_WORDS = {
    "negation": "negation added or removed",
    "antonym": "a word swapped for its antonym",
    "number": "a number changed",
    "role_reversal": "the two noun phrases around the verb swapped",
    "entity_swap": "a name or place swapped for another",
    "typo": "a typo (two letters swapped)",
    "case_punctuation": "case and final punctuation changed",
    "contraction": "a contraction made or expanded",
}
MIN_SENTENCES = 2
PAIR_COLUMNS = ["sentence1", "sentence2", "label", "category"]

AUXILIARIES = {"am", "is", "are", "was", "were", "can", "could", "will", "would", "should", "must", "may", "might"}
HAVE_FORMS = {"has", "have", "had"}
DO_FORMS = {"do", "does", "did"}
NEGATED_AUX = {
    "isn't": "is",
    "aren't": "are",
    "wasn't": "was",
    "weren't": "were",
    "can't": "can",
    "cannot": "can",
    "couldn't": "could",
    "won't": "will",
    "wouldn't": "would",
    "shouldn't": "should",
    "mustn't": "must",
    "hasn't": "has",
    "haven't": "have",
    "hadn't": "had",
}
NEGATED_DO = {"don't": "do", "doesn't": "does", "didn't": "did"}
NEGATIVE_PRONOUNS = {"nobody": "everybody", "nothing": "something", "noone": "someone"}
DETERMINERS = {
    "the", "a", "an", "this", "that", "these", "those", "my", "your", "his", "her", "its", "our", "their",
}  # fmt: skip
SUBJECT_TO_OBJECT = {"i": "me", "he": "him", "she": "her", "we": "us", "they": "them"}
OBJECT_TO_SUBJECT = {value: key for key, value in SUBJECT_TO_OBJECT.items()}
SUBJECT_PRONOUNS = {*SUBJECT_TO_OBJECT, "you", "it"}
STOP_WORDS = {
    "in", "on", "at", "with", "for", "to", "from", "by", "of", "after", "before", "during", "about", "into", "over",
    "under", "and", "or", "but", "because", "while", "when", "that", "which", "who", "yesterday", "today", "again",
    "last", "every", "very", "not", "than", "as", "since", "until", "through", "out", "up", "down", "off", "away",
    "back", "around", "across", "along", "behind", "near", "without", "within", "whom", "whose", "so", "then",
    "just", "already", "always", "often", "still", "also", "finally", "never", "only", "even", "if", "where", "how",
    "why", "what", "although", "though", "unless", "once", "whether",
}  # fmt: skip
CONTINUES_PHRASE = {"of", "that", "which", "who", "whom", "whose"}
CONTRACTIONS = [
    ("is not", "isn't"),
    ("are not", "aren't"),
    ("was not", "wasn't"),
    ("were not", "weren't"),
    ("do not", "don't"),
    ("does not", "doesn't"),
    ("did not", "didn't"),
    ("has not", "hasn't"),
    ("have not", "haven't"),
    ("had not", "hadn't"),
    ("will not", "won't"),
    ("would not", "wouldn't"),
    ("should not", "shouldn't"),
    ("could not", "couldn't"),
    ("cannot", "can't"),
    ("it is", "it's"),
    ("that is", "that's"),
    ("there is", "there's"),
    ("he is", "he's"),
    ("she is", "she's"),
    ("what is", "what's"),
    ("i am", "i'm"),
    ("you are", "you're"),
    ("we are", "we're"),
    ("they are", "they're"),
    ("i will", "i'll"),
    ("you will", "you'll"),
    ("we will", "we'll"),
    ("they will", "they'll"),
    ("let us", "let's"),
]
TOKEN = re.compile(r"\s+|[^\W\d_]+(?:['’][^\W\d_]+)?|\d+(?:[.,:]\d+)*|[^\w\s]|_")  # letters of any script


# ---------------------------------------------------------------- the lexicon


@dataclass(frozen=True)
class Lexicon:
    """The words the rules know: verb forms, antonyms, number words, entities by type."""

    verb_forms: dict[str, tuple[str, str]]  # inflected or base form -> (base, "present3" | "past" | "base")
    past: dict[str, str]  # base -> simple past
    participles: frozenset[str]
    antonyms: dict[str, str]
    numbers: tuple[tuple[str, ...], ...]  # groups of number words that replace one another
    entities: dict[str, tuple[str, ...]]  # type -> names
    entity_type: dict[str, str] = field(default_factory=dict)  # name -> type


def third_person(base: str) -> str:
    """ "run" -> "runs", "watch" -> "watches", "carry" -> "carries", "have" -> "has"."""
    if base == "have":
        return "has"
    if base.endswith(("s", "x", "z", "ch", "sh", "o")):
        return base + "es"
    if base.endswith("y") and base[-2:-1] not in "aeiou":
        return base[:-1] + "ies"
    return base + "s"


def regular_past(base: str) -> str:
    """ "walk" -> "walked", "close" -> "closed", "carry" -> "carried" (doubling verbs are listed in the lexicon)."""
    if base.endswith("e"):
        return base + "d"
    if base.endswith("y") and base[-2:-1] not in "aeiou":
        return base[:-1] + "ied"
    return base + "ed"


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The lexicon in ``assets/perturb_lexicon.json``, read once."""
    raw = json.loads(LEXICON_FILE.read_text(encoding="utf-8"))
    irregular: dict[str, list[str]] = raw["irregular"]
    past = {base: regular_past(base) for base in raw["verbs"]}
    past.update(raw["double"])
    participles = set(past.values()) | {"been"}
    for base, (simple_past, participle) in irregular.items():
        past[base] = simple_past
        participles.add(participle)
    forms: dict[str, tuple[str, str]] = {}
    for base, simple_past in past.items():
        forms.setdefault(third_person(base), (base, "present3"))
        forms.setdefault(simple_past, (base, "past"))
        forms.setdefault(base, (base, "base"))
    entities = {kind: tuple(names) for kind, names in raw["entities"].items()}
    entity_type = {name: kind for kind, names in entities.items() for name in names}
    return Lexicon(
        verb_forms=forms,
        past=past,
        participles=frozenset(participles),
        antonyms=dict(raw["antonyms"]),
        numbers=tuple(tuple(group) for group in raw["numbers"]),
        entities=entities,
        entity_type=entity_type,
    )


# ---------------------------------------------------------------- words of a sentence


class Words:
    """A sentence as tokens (words, numbers, punctuation and the spaces between, so it joins back exactly) and the
    positions of its words."""

    def __init__(self, text: str) -> None:
        self.tokens = TOKEN.findall(text)
        self.words = [i for i, token in enumerate(self.tokens) if token[0].isalpha()]

    def text(self) -> str:
        return "".join(self.tokens)

    def lower(self, n: int) -> str:
        """The n-th word, lower-cased, with a curly apostrophe made straight."""
        return self.tokens[self.words[n]].lower().replace("’", "'")

    def adjacent(self, first: int, second: int) -> bool:
        """Whether only spaces stand between word ``first`` and word ``second`` (no punctuation)."""
        between = self.tokens[self.words[first] + 1 : self.words[second]]
        return all(token.isspace() for token in between)

    def replace(self, n: int, new: str) -> None:
        self.tokens[self.words[n]] = like(new, self.tokens[self.words[n]])

    def delete(self, n: int) -> None:
        """Drop the n-th word and the space after it (before it, at the end)."""
        position = self.words[n]
        if position + 1 < len(self.tokens) and self.tokens[position + 1].isspace():
            del self.tokens[position : position + 2]
        elif position > 0 and self.tokens[position - 1].isspace():
            del self.tokens[position - 1 : position + 1]
        else:
            del self.tokens[position]
        self.words = [i for i, token in enumerate(self.tokens) if token[0].isalpha()]


def like(new: str, old: str) -> str:
    """``new`` with ``old``'s capital first letter (if it has one)."""
    if old[:1].isupper() and new:
        return new[0].upper() + new[1:]
    return new


def _rng(seed: int, kind: str, sentence: str) -> random.Random:
    return random.Random(f"{seed}\x00{kind}\x00{sentence}")  # str seeds are hashed with SHA-512: stable


def _is_question(words: Words) -> bool:
    return bool(words.words) and (words.lower(0) in AUXILIARIES | HAVE_FORMS | DO_FORMS) or "?" in words.text()


# ---------------------------------------------------------------- the verb of a sentence


@dataclass(frozen=True)
class VerbGroup:
    """Words start..end-1 of a sentence are its verb group; ``tense``: "present3", "past", "base" (a main verb
    alone), "aux" (an auxiliary, maybe with "not"), "copula" (a form of "be" with no verb after it)."""

    start: int
    end: int
    tense: str
    present: bool  # whether the verb must agree with its subject (present tense, or was/were)


def verb_group(words: Words, lex: Lexicon) -> VerbGroup | None:
    """The first verb group after the first word, or None when no word is a verb the lexicon knows or the words
    before it do not read as its subject (``_subject_before``)."""
    group = _first_verb_group(words, lex)
    if group is None or not _subject_before(words, group):
        return None
    return group


def _subject_before(words: Words, group: VerbGroup) -> bool:
    """Whether words 0..start-1 can be the subject of the verb group: at most five words with nothing but spaces
    between them, none a preposition or conjunction ("Close the window before you leave": "you" is not the
    sentence's subject); before a bare base form ("play"), a pronoun or a phrase that starts with a determiner."""
    start = group.start
    if not 1 <= start <= 5 or not all(words.adjacent(n, n + 1) for n in range(start)):
        return False
    before = [words.lower(n) for n in range(start)]
    if any(word in STOP_WORDS or word in AUXILIARIES for word in before):
        return False
    if group.tense == "base":
        return before[0] in DETERMINERS or (start == 1 and before[0] in {"i", "you", "we", "they"})
    return True


def _first_verb_group(words: Words, lex: Lexicon) -> VerbGroup | None:
    for n in range(1, len(words.words)):
        word = words.lower(n)
        if word == "am" and words.lower(n - 1) != "i":
            return None  # "am" after anything but "I" is not English's "am" ("Wir gehen am Wochenende")
        if word in AUXILIARIES or word in HAVE_FORMS or word in NEGATED_AUX or word in NEGATED_DO or word in DO_FORMS:
            end = n + 1
            if end < len(words.words) and words.lower(end) in {"not", "never"}:
                end += 1
            has_verb = end < len(words.words) and _verb_after(word, words.lower(end), lex)
            if word in HAVE_FORMS and not has_verb:  # "has a car": the main verb
                _, tense = lex.verb_forms[word]
                return VerbGroup(n, n + 1, tense, tense != "past")
            present = word not in {"did", "didn't", "had", "hadn't"} and word not in {
                "could", "would", "should", "might", "must", "can", "will", "may", "cannot", "can't", "won't",
            }  # fmt: skip
            if not has_verb and word in {"am", "is", "are", "was", "were"} | {"isn't", "aren't", "wasn't", "weren't"}:
                return VerbGroup(n, end, "copula", present)
            return VerbGroup(n, end + has_verb, "aux", present)
        if word in lex.verb_forms:
            base, tense = lex.verb_forms[word]
            if tense == "base" and words.lower(n - 1) not in SUBJECT_PRONOUNS and not _plural(words.lower(n - 1)):
                continue  # a base form after a singular subject is a noun or an infinitive, not this sentence's verb
            return VerbGroup(n, n + 1, tense, tense != "past")
    return None


def _verb_after(auxiliary: str, word: str, lex: Lexicon) -> bool:
    """Whether ``word`` is the verb an auxiliary carries: a participle after "has" or "is" ("has seen", "was
    chased"; "is playing"), a base form after "does" or "can" ("does run"); "is open" is a copula and an adjective."""
    base_of = AUXILIARIES | DO_FORMS | set(NEGATED_DO) | {"cannot", "can't", "won't", "wouldn't", "shouldn't"}
    base_of -= {"am", "is", "are", "was", "were"}
    if auxiliary in base_of:
        return lex.verb_forms.get(word, ("", ""))[1] == "base"
    return word in lex.participles or (len(word) > 4 and word.endswith("ing"))


def _verbish(word: str) -> bool:
    """A word that reads as a participle ("chained", "running"): it ends a noun phrase."""
    return len(word) > 4 and word.endswith(("ed", "ing"))


def _plural(word: str) -> bool:
    return word in {"we", "they", "people", "children", "men", "women", "police"} or (
        word.isalpha() and word.endswith("s") and not word.endswith(("ss", "us", "is"))
    )


# ---------------------------------------------------------------- the kinds


def negation(sentence: str, rng: random.Random, lex: Lexicon) -> str | None:
    """Remove the sentence's negation if it has one, else add one; None when neither applies."""
    words = Words(sentence)
    if not words.words or _is_question(words):
        return None
    removed = _remove_negation(words, lex)
    if removed is not None:
        return removed
    if any(_negative(words.lower(n)) for n in range(len(words.words))):
        return None  # negative already, in a way the rules cannot undo: adding a second "not" would mangle it
    if lex.verb_forms.get(words.lower(0), ("", ""))[1] == "base":
        return None  # an imperative ("Turn left at the light"): its subject is not written
    group = verb_group(words, lex)
    if group is None or group.start == 0:
        return None
    word = words.lower(group.start)
    if word in AUXILIARIES or (word in HAVE_FORMS and group.tense == "aux"):
        words.replace(group.start, "cannot" if word == "can" else f"{words.tokens[words.words[group.start]]} not")
        return words.text()
    if word in lex.verb_forms or word in HAVE_FORMS:
        base, tense = lex.verb_forms.get(word, ("have", "present3" if word != "had" else "past"))
        helper = {"present3": "does", "past": "did", "base": "do"}.get(tense)
        if helper is None:
            return None
        words.replace(group.start, f"{helper} not {base}")
        return words.text()
    return None


def _negative(word: str) -> bool:
    return word in {"not", "never", "no", "none", "neither", "nor", *NEGATIVE_PRONOUNS} or word.endswith("n't")


def _remove_negation(words: Words, lex: Lexicon) -> str | None:
    for n in range(len(words.words)):
        word = words.lower(n)
        if word in NEGATED_AUX:
            words.replace(n, NEGATED_AUX[word])
            return words.text()
        if word in NEGATIVE_PRONOUNS:
            words.replace(n, NEGATIVE_PRONOUNS[word])
            return words.text()
        negated_do = NEGATED_DO.get(word) or (
            word if word in DO_FORMS and n + 1 < len(words.words) and words.lower(n + 1) == "not" else None
        )
        if negated_do is not None:
            verb_at = n + (2 if word in DO_FORMS else 1)
            if verb_at >= len(words.words) or words.lower(verb_at) not in lex.past:
                return None  # "do not" before a word the lexicon does not know as a verb: leave it
            base = words.lower(verb_at)
            form = {"does": third_person(base), "did": lex.past[base], "do": base}[negated_do]
            words.replace(verb_at, form)
            for _ in range(verb_at - n):
                words.delete(n)
            if n == 0:
                words.replace(0, words.tokens[words.words[0]].capitalize())
            return words.text()
        following = words.lower(n + 1) if n + 1 < len(words.words) else ""
        if word == "not" and n > 0 and words.lower(n - 1) in AUXILIARIES | HAVE_FORMS:
            if following == "yet":
                return None  # "has not yet reached" -> "has yet reached" is not English
            words.delete(n)
            return words.text()
        if word == "never" and 0 < n <= 5 and all(words.adjacent(m, m + 1) for m in range(n)):
            if any(words.lower(m) in STOP_WORDS for m in range(n)):
                return None  # "... but never been to Canada": dropping it leaves no verb
            words.delete(n)
            return words.text()
        if (
            word == "no"
            and n >= 2
            and words.lower(n - 2) == "there"
            and words.lower(n - 1) in {"is", "are", "was", "were"}
        ):
            words.delete(n)  # "There is no milk" -> "There is milk"; elsewhere "no" cannot simply go ("I have no clue")
            return words.text()
    return None


def antonym(sentence: str, rng: random.Random, lex: Lexicon) -> str | None:
    words = Words(sentence)
    for n in range(len(words.words)):
        word = words.lower(n)
        if word in lex.antonyms:
            words.replace(n, lex.antonyms[word])
            return words.text()
    return None


def number(sentence: str, rng: random.Random, lex: Lexicon) -> str | None:
    tokens = TOKEN.findall(sentence)
    for position, token in enumerate(tokens):
        if re.fullmatch(r"\d+", token):
            value = int(token)
            if 1900 <= value <= 2100:  # a year: another year
                new = value + rng.choice([-9, -5, -3, -2, -1, 1, 2, 3, 5, 9])
            else:
                new = (
                    max(0, value + rng.choice([-3, -2, -1, 1, 2, 3, 5, 10])) if value > 3 else value + rng.randint(1, 5)
                )
                if new == value:
                    new = value + 1
            tokens[position] = str(new)
            return "".join(tokens)
        if any(token.lower() in group for group in lex.numbers):
            group = next(group for group in lex.numbers if token.lower() in group)
            other = rng.choice(
                [word for word in group if word != token.lower()]
            )  # "two" for "six", "twenty" for "forty"
            tokens[position] = like(other, token)
            return "".join(tokens)
    return None


def _noun_phrase(words: Words, start: int, stop: int, lex: Lexicon) -> int | None:
    """The end (exclusive) of a noun phrase from word ``start`` that ends by ``stop``: a determiner and up to three
    words, a run of capitalised names, or one pronoun; None when the words there are none of these."""
    if start >= stop:
        return None
    first = words.lower(start)
    if first in DETERMINERS:
        end = start + 1
        while end < stop and end - start <= 3 and words.adjacent(end - 1, end):
            word = words.lower(end)
            after_head = end > start + 1
            if word in STOP_WORDS or word in DETERMINERS or after_head and (word in lex.verb_forms or _verbish(word)):
                break
            end += 1
        return end if end > start + 1 else None
    token = words.tokens[words.words[start]]
    if token[0].isupper() and first not in SUBJECT_PRONOUNS | set(OBJECT_TO_SUBJECT):
        if start == 0 and token not in lex.entity_type:
            return None  # a capital at the start of a sentence may be any word ("Nobody", "Cyclists")
        end = start + 1
        while end < stop and words.tokens[words.words[end]][0].isupper() and words.adjacent(end - 1, end):
            end += 1
        return end
    if first in SUBJECT_PRONOUNS or first in OBJECT_TO_SUBJECT:
        return start + 1
    return None


def role_reversal(sentence: str, rng: random.Random, lex: Lexicon) -> str | None:
    words = Words(sentence)
    if not words.words or _is_question(words):
        return None
    group = verb_group(words, lex)
    if group is None or group.tense in {"copula", "aux"} and group.end - group.start < 2 or group.start == 0:
        return None  # no verb, or "is" + adjective
    if words.lower(group.start) in HAVE_FORMS and group.tense != "aux":
        return None  # "has a car": possession, not an action with two roles
    if _noun_phrase(words, 0, group.start, lex) != group.start or not words.adjacent(group.start - 1, group.start):
        return None
    if group.end >= len(words.words) or not words.adjacent(group.end - 1, group.end):
        return None
    object_end = _noun_phrase(words, group.end, len(words.words), lex)
    if object_end is None:
        return None
    after = (
        words.tokens[words.words[object_end - 1] + 1 : words.words[object_end]] if object_end < len(words.words) else []
    )
    if object_end < len(words.words) and all(token.isspace() for token in after):
        following = words.lower(object_end)
        if following not in STOP_WORDS and following not in DETERMINERS or following in CONTINUES_PHRASE:
            return None  # the object phrase runs on ("the risks of ...", "a script that ..."): not a clean swap
    subject = [words.lower(n) for n in range(group.start)]
    obj = [words.lower(n) for n in range(group.end, object_end)]
    if group.present:
        pronouns = {"i", "you", "me"}
        if pronouns & {subject[0], obj[0]} or _plural(subject[-1]) != _plural(obj[-1]):
            return None  # "The dogs chase the cat" -> "The cat chase the dogs": the verb would not agree
    if subject[0] in SUBJECT_PRONOUNS and len(subject) == 1 and subject[0] not in SUBJECT_TO_OBJECT:
        return None  # "it", "you": same form either side; "It hit it" says nothing new
    subject_text = _phrase(words, 0, group.start, as_object=True)
    object_text = _phrase(words, group.end, object_end, as_object=False)
    first, last = words.words[0], words.words[object_end - 1]
    middle = "".join(words.tokens[words.words[group.start - 1] + 1 : words.words[group.end]])
    new = object_text[0].upper() + object_text[1:] + middle + subject_text
    swapped = "".join(words.tokens[:first]) + new + "".join(words.tokens[last + 1 :])
    return None if swapped.lower() == sentence.lower() else swapped


def _phrase(words: Words, start: int, end: int, as_object: bool) -> str:
    """Words start..end-1 as they read in their new place: a pronoun in its subject or object form, a determiner
    lower-cased away from the start of the sentence."""
    text = "".join(words.tokens[words.words[start] : words.words[end - 1] + 1])
    first = words.lower(start)
    if end - start == 1 and as_object and first in SUBJECT_TO_OBJECT:
        return SUBJECT_TO_OBJECT[first]
    if end - start == 1 and not as_object and first in OBJECT_TO_SUBJECT:
        return OBJECT_TO_SUBJECT[first]
    if as_object and (first in DETERMINERS or first in SUBJECT_PRONOUNS):
        return text[0].lower() + text[1:]
    return text


def entity_swap(sentence: str, rng: random.Random, lex: Lexicon) -> str | None:
    words = Words(sentence)
    for n in range(len(words.words)):
        token = words.tokens[words.words[n]]
        kind = lex.entity_type.get(token)
        if kind is not None:
            others = [name for name in lex.entities[kind] if name != token and name not in sentence]
            if not others:
                return None
            words.tokens[words.words[n]] = rng.choice(others)
            return words.text()
    return None


def typo(sentence: str, rng: random.Random, lex: Lexicon) -> str | None:
    words = Words(sentence)
    candidates = [
        n
        for n in range(len(words.words))
        if len(token := words.tokens[words.words[n]]) >= 5
        and token.isalpha()
        and any(token[i] != token[i + 1] for i in range(1, len(token) - 2))
    ]
    if not candidates:
        return None
    n = rng.choice(candidates)
    token = words.tokens[words.words[n]]
    places = [i for i in range(1, len(token) - 2) if token[i] != token[i + 1]]  # inner letters: first and last kept
    i = rng.choice(places)
    words.tokens[words.words[n]] = token[:i] + token[i + 1] + token[i] + token[i + 2 :]
    return words.text()


def case_punctuation(sentence: str, rng: random.Random, lex: Lexicon) -> str | None:
    text = sentence.strip()
    if not any(character.isalpha() for character in text):
        return None
    changed = text.lower() if any(character.isupper() for character in text) else text[0].upper() + text[1:]
    changed = changed[:-1].rstrip() if changed[-1] in ".!" else changed + ("." if changed[-1].isalnum() else "")
    return changed if changed and changed != sentence else None


def contraction(sentence: str, rng: random.Random, lex: Lexicon) -> str | None:
    matches = []
    for long, short in CONTRACTIONS:
        for source, target in ((long, short), (short, long)):
            pattern = r"\b" + re.escape(source).replace("'", "['’]") + r"\b"
            if found := re.search(pattern, sentence, flags=re.IGNORECASE):
                if source == short and short.endswith("'s"):
                    rest = sentence[found.end() :].split()
                    if rest and rest[0].lower() in {"been", "got", "had"}:
                        continue  # "it's been" is "it has been", not "it is been"
                matches.append((found.start(), found.end(), target))
    if not matches:
        return None
    start, end, target = min(matches)
    found = sentence[start:end]
    target = target.replace("i'", "I'").replace("i am", "I am").replace("i will", "I will")
    return sentence[:start] + like(target, found) + sentence[end:]


RULES: dict[str, Callable[[str, random.Random, Lexicon], str | None]] = {
    "negation": negation,
    "antonym": antonym,
    "number": number,
    "role_reversal": role_reversal,
    "entity_swap": entity_swap,
    "typo": typo,
    "case_punctuation": case_punctuation,
    "contraction": contraction,
}


# ---------------------------------------------------------------- a list of sentences


@dataclass(frozen=True)
class Perturbation:
    """What ``perturb`` made.

    Attributes:
        pairs: sentence1 (the user's sentence), sentence2 (the edit), label (0/1: ``EXPECTED``), category (the kind),
            index 1..n; sentence by sentence in input order, kinds in ``KINDS`` order within a sentence.
        skipped: kind -> how many sentences it did not apply to (nothing it knows in them), in the kinds' order.
        sentences: how many distinct sentences were used.
    """

    pairs: pd.DataFrame
    skipped: dict[str, int]
    sentences: int

    def summary(self) -> str:
        """One line: pairs per kind, and the kinds that skipped sentences."""
        counts = self.pairs["category"].value_counts()
        made = ", ".join(f"{kind} {int(counts.get(kind, 0))}" for kind in self.skipped)
        text = f"{len(self.pairs)} pairs from {self.sentences} sentences ({made})"
        skipped = [f"{kind} {count}" for kind, count in self.skipped.items() if count]
        if skipped:
            text += f"; sentences a kind did not apply to, skipped: {', '.join(skipped)}"
        return text + "."


def check_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    """The kinds asked, in ``KINDS`` order.

    Raises:
        EmbedLabError: an unknown kind (naming the valid ones), or none.
    """
    asked = [kind.strip() for kind in kinds if kind.strip()]
    unknown = [kind for kind in asked if kind not in KINDS]
    if unknown:
        raise EmbedLabError(f"Unknown kind {unknown[0]!r}: choose from {', '.join(KINDS)}.")
    if not asked:
        raise EmbedLabError(f"No kind chosen: choose one or more of {', '.join(KINDS)}.")
    return tuple(kind for kind in KINDS if kind in asked)


def clean_sentences(sentences: Iterable[str], name: str = "the list") -> list[str]:
    """Distinct non-blank sentences, stripped, in order.

    Raises:
        EmbedLabError: fewer than ``MIN_SENTENCES`` or more than ``limits.MAX_PERTURB_SENTENCES``.
    """
    cleaned = list(dict.fromkeys(" ".join(str(sentence).split()) for sentence in sentences))
    cleaned = [sentence for sentence in cleaned if sentence]
    if not cleaned:
        raise EmbedLabError(f"{name} has no sentences: give one sentence per line.")
    if len(cleaned) < MIN_SENTENCES:
        raise EmbedLabError(
            f"{name} has one sentence: give at least {MIN_SENTENCES}, so that the pairs can say which kinds of "
            "edit the model misses."
        )
    if len(cleaned) > MAX_PERTURB_SENTENCES:
        raise EmbedLabError(
            f"{name} has {len(cleaned):,} sentences; at most {MAX_PERTURB_SENTENCES:,} are perturbed at once "
            "(each gives up to eight pairs): split the list."
        )
    return cleaned


def perturb(
    sentences: Sequence[str], kinds: Iterable[str] = KINDS, seed: int = 0, name: str = "the list"
) -> Perturbation:
    """Labelled pairs from each sentence and each kind that applies to it (see the module's docstring).

    Raises:
        EmbedLabError: bad sentences (``clean_sentences``) or kinds (``check_kinds``), or no kind applied to any
            sentence.
    """
    chosen = check_kinds(kinds)
    cleaned = clean_sentences(sentences, name)
    lex = lexicon()
    rows = []
    skipped = dict.fromkeys(chosen, 0)
    for sentence in cleaned:
        for kind in chosen:
            edited = RULES[kind](sentence, _rng(seed, kind, sentence), lex)
            if edited is None or edited == sentence:
                skipped[kind] += 1
                continue
            rows.append((sentence, edited, EXPECTED[kind], kind))
    if not rows:
        raise EmbedLabError(
            f"None of the kinds chosen ({', '.join(chosen)}) applies to the {len(cleaned)} sentences: add "
            "case_punctuation or typo, which apply to almost any sentence, or other sentences."
        )
    pairs = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    pairs.index = pd.RangeIndex(1, len(pairs) + 1)
    return Perturbation(pairs, skipped, len(cleaned))


# ---------------------------------------------------------------- reading sentences

SENTENCE_COLUMNS = ("sentence", "text", "sentences")


def sentences_from_text(text: str, name: str = "file") -> list[str]:
    """The sentences of a file's text: a table's (CSV or TSV, by its name) sentence or text column, or
    sentence1 and sentence2 (a pairs file); a plain text file's lines.

    Raises:
        EmbedLabError: a table with none of those columns (naming its columns), or a table that cannot be read.
    """
    from embedlab.data.pairfiles import read_delimited

    suffix = name.lower().rsplit(".", 1)[-1] if "." in name else ""
    if suffix not in {"csv", "tsv"}:
        return text.splitlines()
    if not text.strip():
        raise EmbedLabError(f"{name} is empty: give one sentence per row under a header named sentence.")
    frame = read_delimited(text, "\t" if suffix == "tsv" else ",", name)
    frame.columns = [str(column).strip().lower() for column in frame.columns]
    for column in SENTENCE_COLUMNS:
        if column in frame.columns:
            return frame[column].tolist()
    if {"sentence1", "sentence2"} <= set(frame.columns):
        return [*frame["sentence1"], *frame["sentence2"]]
    columns = ", ".join(repr(column) for column in frame.columns[:6])
    raise EmbedLabError(
        f"{name} has no sentence column: name one column sentence or text (or give sentence1 and sentence2); "
        f"its columns are {columns}."
    )


# ---------------------------------------------------------------- results by kind


def kind_results(pairs: pd.DataFrame, scores: Sequence[float], failed: Sequence[bool]) -> pd.DataFrame:
    """Per kind of edit (the pairs' category), how the model did: the kinds it fails first.

    Args:
        pairs: judged pairs (label, category); scores[i] and failed[i] belong to pairs.iloc[i].

    Returns:
        DataFrame: kind, expected ("should differ" / "should stay similar"), pairs, failed, failed_share, mean_score,
        verdict ("fails" when half or more of its pairs fail, else "passes"); only kinds of ``KINDS`` present, the
        worst share first.
    """
    # plain arrays: filtering the frame once per kind cost 10 ms a call, and a page asks twice per configuration
    categories = pairs["category"].to_numpy(dtype=object)
    scores = np.asarray(scores, dtype=np.float64)
    failed = np.asarray(failed, dtype=bool)
    rows = []
    for kind in KINDS:
        mask = categories == kind
        count = int(mask.sum())
        if not count:
            continue
        share = float(failed[mask].mean())
        rows.append(
            {
                "kind": kind,
                "expected": "should differ" if EXPECTED[kind] == 0 else "should stay similar",
                "pairs": count,
                "failed": int(failed[mask].sum()),
                "failed_share": share,
                "mean_score": float(scores[mask].mean()),
                "verdict": "fails" if share >= 0.5 else "passes",
            }
        )
    columns = ["kind", "expected", "pairs", "failed", "failed_share", "mean_score", "verdict"]
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values("failed_share", ascending=False, kind="stable").reset_index(drop=True)
