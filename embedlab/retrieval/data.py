"""Retrieval data: a corpus, queries and graded relevance judgements (qrels), in BEIR's folder format.

BEIR folder: ``corpus.jsonl`` (one ``{"_id", "title", "text"}`` per line), ``queries.jsonl`` (``{"_id", "text"}``)
and ``qrels/test.tsv`` (``query-id<TAB>corpus-id<TAB>score``, a header line, integer grades; 0 means judged not
relevant). A document's text is its title and text joined by a space, as BEIR's own evaluation does. The same
three files may come as a zip (one folder level inside is fine), as the app's upload does.

What is refused, in one message that says what to do (``EmbedLabError``): a missing file, a line that is not a JSON
object with an ``_id`` and a ``text``, duplicate ids, an empty corpus, a qrels row naming an id the corpus or the
queries do not have, a grade that is not a whole number, files over ``limits.MAX_RETRIEVAL_MB`` together (checked
before they are read; a zip by its unpacked size) and more documents or queries than the limits.

What is left out with a note (``RetrievalData.notes``), as sentence-transformers' InformationRetrievalEvaluator
and trec_eval do: queries the qrels do not name (a BEIR ``queries.jsonl`` holds every split's queries) and
queries whose every judgement is 0 (no relevant document). A set left with no query is refused.

The two-column alternative (``from_pairs``): a CSV/TSV whose first two columns are a query and a relevant text;
every distinct text is a document, and a query repeated on several rows has several relevant documents.

The bundled set (``bundled_sts``) is built at run time from the STS benchmark's dev split beside the repository
(never copied into it): the queries are the distinct ``sentence1`` of pairs scored at least 4.0 whose
``sentence2`` differs, their relevant documents those partners; the corpus is every other distinct sentence of the
split (no query text in it), and a query left with no relevant document is dropped.

Example:
    >>> data = bundled_sts()  # doctest: +SKIP
    >>> len(data.queries), len(data.corpus)  # doctest: +SKIP
    (279, 2615)
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from embedlab.corpora import STS_DEV_FILE
from embedlab.errors import EmbedLabError
from embedlab.limits import (
    MAX_RETRIEVAL_DOCS,
    MAX_RETRIEVAL_MB,
    MAX_RETRIEVAL_QUERIES,
    MAX_RETRIEVAL_TEXT_CHARS,
)

CORPUS_FILE = "corpus.jsonl"
QUERIES_FILE = "queries.jsonl"
QRELS_FILE = "qrels/test.tsv"
BEIR_FILES: tuple[str, ...] = (CORPUS_FILE, QUERIES_FILE, QRELS_FILE)
STS_MIN_SCORE = 4.0  # a pair scored at least this is a query and its relevant document
BUNDLED_NAME = "STS dev paraphrases (built from the STS benchmark's dev split)"
MAX_NAMED = 3  # ids quoted in one message
Qrels = dict[str, dict[str, int]]  # query id -> {document id: grade}


@dataclass(frozen=True)
class RetrievalData:
    """A corpus, the queries to evaluate and their judgements.

    Attributes:
        name: where it came from, in words.
        corpus: {document id: text}, in file order.
        queries: {query id: text}: only the queries evaluated (each has at least one grade above 0).
        qrels: {query id: {document id: grade}}; every id is in ``corpus`` and ``queries``.
        notes: what was left out and why, one sentence each.
        fingerprint: a digest of the texts and judgements: the cache key of a run.
    """

    name: str
    corpus: dict[str, str]
    queries: dict[str, str]
    qrels: Qrels
    notes: tuple[str, ...] = ()
    fingerprint: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.fingerprint:
            digest = hashlib.sha1()
            for part in (self.corpus, self.queries, self.qrels):
                digest.update(json.dumps(part, sort_keys=True, ensure_ascii=False).encode())
            object.__setattr__(self, "fingerprint", digest.hexdigest()[:16])

    def relevant(self, query_id: str) -> dict[str, int]:
        """The documents judged relevant (grade above 0) to ``query_id``: {document id: grade}."""
        return {doc_id: grade for doc_id, grade in self.qrels[query_id].items() if grade > 0}

    def describe(self) -> str:
        """ "279 queries, 2,615 documents": the size, as the pages and the command line say it."""
        return f"{len(self.queries):,} queries, {len(self.corpus):,} documents"


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def check_size(size: int, name: str) -> None:
    if size > MAX_RETRIEVAL_MB * 1024 * 1024:
        raise EmbedLabError(
            f"{name} is {_mb(size)} of retrieval data; the limit is {MAX_RETRIEVAL_MB} MB: keep fewer documents "
            "(the queries' relevant ones and a sample of the rest)."
        )


def _named(ids: list[str]) -> str:
    shown = ", ".join(repr(one) for one in ids[:MAX_NAMED])
    return shown + (f" and {len(ids) - MAX_NAMED} more" if len(ids) > MAX_NAMED else "")


def read_folder(folder: str | Path) -> RetrievalData:
    """The BEIR folder ``folder`` (its three files' sizes are checked before any is read).

    Raises:
        EmbedLabError: not a folder, a file missing, too large, or bad content (see the module docstring).
    """
    path = Path(folder)
    if not path.is_dir():
        raise EmbedLabError(f"{str(folder)!r} is not a folder: give a BEIR folder ({', '.join(BEIR_FILES)}).")
    missing = [name for name in BEIR_FILES if not (path / name).is_file()]
    if missing:
        raise EmbedLabError(f"{path.name} has no {', '.join(missing)}: a BEIR folder holds {', '.join(BEIR_FILES)}.")
    check_size(sum((path / name).stat().st_size for name in BEIR_FILES), path.name)
    return parse_beir({name: (path / name).read_bytes() for name in BEIR_FILES}, path.name)


def read_zip(data: bytes, name: str) -> RetrievalData:
    """A BEIR folder uploaded as a zip: the three files at its top or inside one folder; their unpacked size is
    checked before any is read.

    Raises:
        EmbedLabError: not a zip, a file missing, too large, or bad content.
    """
    check_size(len(data), name)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise EmbedLabError(f"{name} is not a zip file: zip a BEIR folder ({', '.join(BEIR_FILES)}).") from None
    with archive:
        members = {info.filename: info for info in archive.infolist() if not info.is_dir()}
        found = {}
        for wanted in BEIR_FILES:
            matches = [member for member in members if member == wanted or member.endswith("/" + wanted)]
            matches = [member for member in matches if member.count("/") <= wanted.count("/") + 1]
            if len(matches) == 1:
                found[wanted] = members[matches[0]]
        missing = [wanted for wanted in BEIR_FILES if wanted not in found]
        if missing:
            raise EmbedLabError(f"{name} has no {', '.join(missing)}: zip a BEIR folder ({', '.join(BEIR_FILES)}).")
        check_size(sum(info.file_size for info in found.values()), name)
        files = {wanted: archive.read(info) for wanted, info in found.items()}
    return parse_beir(files, name)


def _decode(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise EmbedLabError(f"{file} is not UTF-8 text (bad byte at position {error.start}).") from None


def _read_jsonl(data: bytes, file: str, limit: int, what: str) -> dict[str, str]:
    """{id: text} of a BEIR jsonl file (a document's title joined to its text)."""
    texts: dict[str, str] = {}
    for number, line in enumerate(_decode(data, file).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if not isinstance(record, dict) or "_id" not in record or not isinstance(record.get("text"), str):
            raise EmbedLabError(f'{file} line {number} is not a JSON object with "_id" and "text".')
        item_id = str(record["_id"]).strip()
        title = record.get("title") if isinstance(record.get("title"), str) else ""
        text = f"{title.strip()} {record['text'].strip()}".strip()
        if not item_id or not text:
            raise EmbedLabError(f"{file} line {number} has an empty _id or text.")
        if item_id in texts:
            raise EmbedLabError(f"{file} has the _id {item_id!r} twice (line {number}): ids must be unique.")
        if len(text) > MAX_RETRIEVAL_TEXT_CHARS:
            raise EmbedLabError(f"{file} line {number} is over {MAX_RETRIEVAL_TEXT_CHARS:,} characters: cut it.")
        texts[item_id] = text
        if len(texts) > limit:
            raise EmbedLabError(f"{file} has more than {limit:,} {what}: keep fewer.")
    return texts


def _read_qrels(data: bytes, file: str) -> list[tuple[str, str, int]]:
    rows = []
    reader = csv.reader(io.StringIO(_decode(data, file)), delimiter="\t", quoting=csv.QUOTE_NONE)
    for number, fields in enumerate(reader, start=1):
        if not fields or not "".join(fields).strip():
            continue
        if len(fields) != 3:
            raise EmbedLabError(f"{file} line {number} has {len(fields)} fields: give query-id, corpus-id, score.")
        query_id, doc_id, grade = (part.strip() for part in fields)
        if number == 1 and not grade.lstrip("-").isdigit():  # the header line
            continue
        if not grade.lstrip("-").isdigit():
            raise EmbedLabError(f"{file} line {number}: the score must be a whole number (a grade), not {grade!r}.")
        rows.append((query_id, doc_id, int(grade)))
    return rows


def parse_beir(files: Mapping[str, bytes], name: str) -> RetrievalData:
    """RetrievalData from the bytes of the three BEIR files ({"corpus.jsonl": ..., ...}).

    Raises:
        EmbedLabError: bad content (see the module docstring).
    """
    corpus = _read_jsonl(files[CORPUS_FILE], CORPUS_FILE, MAX_RETRIEVAL_DOCS, "documents")
    if not corpus:
        raise EmbedLabError(f"{CORPUS_FILE} is empty: a corpus needs at least one document.")
    queries = _read_jsonl(files[QUERIES_FILE], QUERIES_FILE, 10 * MAX_RETRIEVAL_QUERIES, "queries")
    qrels: Qrels = {}
    for query_id, doc_id, grade in _read_qrels(files[QRELS_FILE], QRELS_FILE):
        qrels.setdefault(query_id, {})[doc_id] = grade
    return _checked(name, corpus, queries, qrels)


def _checked(name: str, corpus: dict[str, str], queries: dict[str, str], qrels: Qrels) -> RetrievalData:
    """The data with its ids checked, the queries without judgements and those with no relevant one left out."""
    unknown_queries = [query_id for query_id in qrels if query_id not in queries]
    if unknown_queries:
        raise EmbedLabError(
            f"{QRELS_FILE} names {len(unknown_queries)} query id(s) {QUERIES_FILE} does not have: "
            f"{_named(unknown_queries)}."
        )
    unknown_docs = list(dict.fromkeys(doc for judged in qrels.values() for doc in judged if doc not in corpus))
    if unknown_docs:
        raise EmbedLabError(
            f"{QRELS_FILE} names {len(unknown_docs)} corpus id(s) {CORPUS_FILE} does not have: {_named(unknown_docs)}."
        )
    notes = []
    unjudged = [query_id for query_id in queries if query_id not in qrels]
    if unjudged:
        notes.append(f"{len(unjudged):,} queries have no judgement in {QRELS_FILE}: left out.")
    no_relevant = [query_id for query_id, judged in qrels.items() if not any(grade > 0 for grade in judged.values())]
    if no_relevant:
        notes.append(
            f"{len(no_relevant):,} queries have no relevant document (every grade is 0): left out, as "
            f"InformationRetrievalEvaluator and trec_eval do ({_named(no_relevant)})."
        )
    kept = [query_id for query_id in queries if query_id in qrels and query_id not in no_relevant]
    if not kept:
        raise EmbedLabError(f"{name} has no query with a relevant document: nothing to evaluate.")
    if len(kept) > MAX_RETRIEVAL_QUERIES:
        raise EmbedLabError(f"{name} has {len(kept):,} queries to evaluate; the limit is {MAX_RETRIEVAL_QUERIES:,}.")
    return RetrievalData(
        name=name,
        corpus=corpus,
        queries={query_id: queries[query_id] for query_id in kept},
        qrels={query_id: dict(qrels[query_id]) for query_id in kept},
        notes=tuple(notes),
    )


def from_pairs(frame: pd.DataFrame, name: str) -> RetrievalData:
    """The two-column alternative: column 0 a query, column 1 a text relevant to it (grade 1), one pair per row.

    Every distinct text of column 1 is a document (ids d1, d2, ... in order of first appearance) and every
    distinct query a query (q1, q2, ...); a query on several rows has several relevant documents.

    Raises:
        EmbedLabError: fewer than two columns, an empty cell (row numbers from 1 below the header), too many rows.
    """
    if frame.shape[1] < 2:
        raise EmbedLabError(f"{name} needs two columns: a query and a text relevant to it.")
    corpus: dict[str, str] = {}
    doc_ids: dict[str, str] = {}
    queries: dict[str, str] = {}
    query_ids: dict[str, str] = {}
    qrels: Qrels = {}
    for row, (query, relevant) in enumerate(zip(frame.iloc[:, 0], frame.iloc[:, 1], strict=True), start=1):
        query, relevant = (
            str(query if isinstance(query, str) else "").strip(),
            str(relevant if isinstance(relevant, str) else "").strip(),
        )
        if not query or not relevant:
            raise EmbedLabError(f"{name} row {row} has an empty query or relevant text: fill both or delete the row.")
        if relevant not in doc_ids:
            doc_ids[relevant] = f"d{len(doc_ids) + 1}"
            corpus[doc_ids[relevant]] = relevant
        if query not in query_ids:
            query_ids[query] = f"q{len(query_ids) + 1}"
            queries[query_ids[query]] = query
        qrels.setdefault(query_ids[query], {})[doc_ids[relevant]] = 1
        if len(corpus) > MAX_RETRIEVAL_DOCS:
            raise EmbedLabError(f"{name} has more than {MAX_RETRIEVAL_DOCS:,} distinct texts: keep fewer rows.")
    if not corpus:
        raise EmbedLabError(f"{name} is empty: give one query and one relevant text per row.")
    return _checked(name, corpus, queries, qrels)


def read_upload(data: bytes, name: str) -> RetrievalData:
    """An uploaded file: a BEIR folder as a ``.zip``, else a CSV/TSV of (query, relevant text) rows with a header.

    Raises:
        EmbedLabError: too large, not UTF-8, or bad content.
    """
    if name.lower().endswith(".zip"):
        return read_zip(data, name)
    from embedlab.data.pairfiles import decode_text, read_delimited

    check_size(len(data), name)
    text = decode_text(data, name)
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not first:
        raise EmbedLabError(f"{name} is empty: give a header row, then one query and one relevant text per row.")
    return from_pairs(read_delimited(text, "\t" if "\t" in first else ",", name), name)


def sts_paraphrases(frame: pd.DataFrame, name: str = BUNDLED_NAME) -> RetrievalData:
    """The bundled recipe applied to STS-format pairs (``sentence1``, ``sentence2``, ``score`` columns); see the
    module docstring."""
    scores = pd.to_numeric(frame["score"], errors="coerce")
    first = [str(text).strip() for text in frame["sentence1"]]
    second = [str(text).strip() for text in frame["sentence2"]]
    partners: dict[str, list[str]] = {}
    for query, partner, score in zip(first, second, scores, strict=True):
        if score >= STS_MIN_SCORE and query != partner and query:
            partners.setdefault(query, [])
            if partner not in partners[query]:
                partners[query].append(partner)
    query_texts = set(partners)
    sentences = [text for pair in zip(first, second, strict=True) for text in pair if text]
    corpus_texts = [text for text in dict.fromkeys(sentences) if text not in query_texts]
    doc_ids = {text: f"d{number}" for number, text in enumerate(corpus_texts, start=1)}
    queries: dict[str, str] = {}
    qrels: Qrels = {}
    for query, relevant in partners.items():
        judged = {doc_ids[text]: 1 for text in relevant if text in doc_ids}
        if judged:  # a partner that is itself a query is not in the corpus: it cannot be found
            query_id = f"q{len(queries) + 1}"
            queries[query_id] = query
            qrels[query_id] = judged
    return RetrievalData(
        name=name, corpus={doc_id: text for text, doc_id in doc_ids.items()}, queries=queries, qrels=qrels
    )


def bundled_sts(path: str | Path = STS_DEV_FILE) -> RetrievalData:
    """The bundled set, built from the STS dev split beside the repository.

    Raises:
        EmbedLabError: the split is not there (a plain clone): give a BEIR folder instead.
    """
    from embedlab.data.pairfiles import read_pairs

    if not Path(path).is_file():
        raise EmbedLabError(
            "The bundled retrieval set is built from the STS benchmark's dev split, which is not beside the "
            "repository (../shared/data/stsbenchmark/): give a BEIR folder or a two-column file instead."
        )
    return sts_paraphrases(read_pairs(path, ("sentence1", "sentence2", "score")))


def subset(data: RetrievalData, n_queries: int, n_documents: int) -> RetrievalData:
    """The first ``n_queries`` queries, a corpus of their relevant documents and the first other documents up to
    ``n_documents`` (tests and benchmarks use a small, still honest, slice)."""
    queries = dict(list(data.queries.items())[:n_queries])
    needed = {doc_id for query_id in queries for doc_id in data.qrels[query_id]}
    others = [doc_id for doc_id in data.corpus if doc_id not in needed]
    kept = needed | set(others[: max(0, n_documents - len(needed))])
    return RetrievalData(
        name=f"{data.name} (first {len(queries)} queries, {len(kept)} documents)",
        corpus={doc_id: text for doc_id, text in data.corpus.items() if doc_id in kept},
        queries=queries,
        qrels={query_id: data.qrels[query_id] for query_id in queries},
        notes=data.notes,
    )


def write_folder(data: RetrievalData, folder: str | Path) -> Path:
    """``data`` as a BEIR folder (the command line reads it back; tests and the bundled set's export use it)."""
    path = Path(folder)
    (path / "qrels").mkdir(parents=True, exist_ok=True)
    with (path / CORPUS_FILE).open("w", encoding="utf-8") as corpus:
        for doc_id, text in data.corpus.items():
            corpus.write(json.dumps({"_id": doc_id, "title": "", "text": text}, ensure_ascii=False) + "\n")
    with (path / QUERIES_FILE).open("w", encoding="utf-8") as queries:
        for query_id, text in data.queries.items():
            queries.write(json.dumps({"_id": query_id, "text": text}, ensure_ascii=False) + "\n")
    lines = ["query-id\tcorpus-id\tscore"]
    lines += [f"{q}\t{d}\t{grade}" for q, judged in data.qrels.items() for d, grade in judged.items()]
    (path / QRELS_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
