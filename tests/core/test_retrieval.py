"""Retrieval engine: the data and its refusals, the bundled STS recipe, BM25 against bm25s and the formula, the
metrics by hand, the order ties take, the paired test against exact cases and scipy, re-ranking."""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_RETRIEVAL_MB
from embedlab.retrieval.data import (
    RetrievalData,
    bundled_sts,
    from_pairs,
    parse_beir,
    read_folder,
    read_zip,
    sts_paraphrases,
    write_folder,
)
from embedlab.retrieval.evaluation import build_report, query_detail
from embedlab.retrieval.metrics import per_query
from embedlab.retrieval.paired import paired_test
from embedlab.retrieval.systems import SystemRun, bm25_run, bm25_tokens, ranked, rerank_run

CORPUS = [
    {"_id": "d1", "title": "Cats", "text": "The cat sat on the mat."},
    {"_id": "d2", "title": "", "text": "A dog barked at the mailman all morning."},
    {"_id": "d3", "title": "", "text": "Stock markets fell sharply on Monday."},
    {"_id": "d4", "title": "", "text": "The cat chased the dog around the garden."},
]
QUERIES = [{"_id": "q1", "text": "Where did the cat sit?"}, {"_id": "q2", "text": "Which dog barked?"}]
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td4\t1\nq2\td2\t1\n"


def jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(record) + "\n" for record in records).encode()


def beir_files(corpus=CORPUS, queries=QUERIES, qrels=QRELS) -> dict[str, bytes]:
    return {"corpus.jsonl": jsonl(corpus), "queries.jsonl": jsonl(queries), "qrels/test.tsv": qrels.encode()}


def test_a_beir_folder_and_its_zip_read_the_same(tmp_path: Path):
    folder = tmp_path / "toy"
    (folder / "qrels").mkdir(parents=True)
    for name, data in beir_files(queries=[*QUERIES, {"_id": "q9", "text": "a train query"}]).items():
        (folder / name).write_bytes(data)
    data = read_folder(folder)
    assert data.corpus["d1"] == "Cats The cat sat on the mat."  # title and text, as BEIR joins them
    assert data.qrels == {"q1": {"d1": 2, "d4": 1}, "q2": {"d2": 1}}
    assert list(data.queries) == ["q1", "q2"] and "1 queries have no judgement" in data.notes[0]
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
            archive.write(folder / name, f"toy/{name}")  # one folder level inside the zip
    assert read_zip(packed.getvalue(), "toy") == data


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (beir_files(qrels=QRELS + "q7\td1\t1\n"), "query id(s) queries.jsonl does not have: 'q7'"),
        (beir_files(qrels=QRELS + "q1\td99\t1\n"), "corpus id(s) corpus.jsonl does not have: 'd99'"),
        (beir_files(corpus=[]), "corpus.jsonl is empty"),
        (beir_files(corpus=[*CORPUS, {"_id": "d2", "text": "again"}]), "the _id 'd2' twice (line 5)"),
        (beir_files(queries=[*QUERIES, {"_id": "q1", "text": "again"}]), "the _id 'q1' twice"),
        (beir_files(qrels="query-id\tcorpus-id\tscore\nq1\td1\t0\n"), "no query with a relevant document"),
        (beir_files(qrels=QRELS + "q2\td3\thigh\n"), "must be a whole number"),
        ({**beir_files(), "corpus.jsonl": b'{"_id": "d1"}\n'}, 'line 1 is not a JSON object with "_id" and "text"'),
    ],
    ids=["unknown-query", "unknown-doc", "empty-corpus", "dup-doc", "dup-query", "no-relevant", "grade", "json"],
)
def test_bad_beir_data_is_refused_in_one_message(files, message):
    with pytest.raises(EmbedLabError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_beir(files, "toy")


def test_a_query_with_no_relevant_document_is_left_out_with_a_note():
    data = parse_beir(beir_files(qrels=QRELS + "q3\td3\t0\n", queries=[*QUERIES, {"_id": "q3", "text": "x"}]), "t")
    assert list(data.queries) == ["q1", "q2"]
    assert any("1 queries have no relevant document" in note and "'q3'" in note for note in data.notes)


def test_oversized_data_is_refused_before_it_is_read(tmp_path: Path):
    folder = write_folder(parse_beir(beir_files(), "toy"), tmp_path / "big")
    with (folder / "corpus.jsonl").open("r+b") as corpus:
        corpus.truncate(50 * 1024 * 1024)  # a 50 MB file (sparse: nothing is written)
    with pytest.raises(EmbedLabError, match=f"50.0 MB of retrieval data; the limit is {MAX_RETRIEVAL_MB} MB"):
        read_folder(folder)
    with pytest.raises(EmbedLabError, match=f"the limit is {MAX_RETRIEVAL_MB} MB"):
        read_zip(bytes(50 * 1024 * 1024), "upload.zip")  # a 50 MB upload
    packed = io.BytesIO()  # small packed, large unpacked: refused by the unpacked size, before it is read
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in beir_files().items():
            archive.writestr(name, data + (b" " * (25 * 1024 * 1024) if name == "corpus.jsonl" else b""))
    assert len(packed.getvalue()) < 1024 * 1024
    with pytest.raises(EmbedLabError, match="of retrieval data"):
        read_zip(packed.getvalue(), "bomb.zip")
    with pytest.raises(EmbedLabError, match="has no corpus.jsonl"):
        (folder / "corpus.jsonl").unlink()
        read_folder(folder)


def test_two_columns_become_a_corpus_queries_and_judgements():
    frame = pd.DataFrame(
        {"query": ["How old are you?", "How old are you?", "Where is it?"], "relevant": ["Your age?", "Age?", "Here."]}
    )
    data = from_pairs(frame, "pairs.csv")
    assert data.queries == {"q1": "How old are you?", "q2": "Where is it?"}
    assert data.corpus == {"d1": "Your age?", "d2": "Age?", "d3": "Here."}
    assert data.qrels == {"q1": {"d1": 1, "d2": 1}, "q2": {"d3": 1}}
    with pytest.raises(EmbedLabError, match="row 2 has an empty query or relevant text"):
        from_pairs(pd.DataFrame({"query": ["a", "b"], "relevant": ["x", ""]}), "pairs.csv")


def test_the_sts_recipe():
    frame = pd.DataFrame(
        [
            ("A man plays guitar.", "A man is playing a guitar.", "4.6"),  # a query and its partner
            ("A man plays guitar.", "Someone plays the guitar.", "4.0"),  # a second partner, at the threshold
            ("A cat sleeps.", "A cat sleeps.", "5.0"),  # identical: not a query
            ("A dog runs.", "The dog is running.", "3.9"),  # below 4.0: both sentences are corpus
            ("Kids swim.", "A man plays guitar.", "4.2"),  # its partner is a query: not in the corpus, dropped
        ],
        columns=["sentence1", "sentence2", "score"],
    )
    data = sts_paraphrases(frame)
    assert list(data.queries.values()) == ["A man plays guitar."]
    relevant = {data.corpus[doc_id] for doc_id in data.qrels["q1"]}
    assert relevant == {"A man is playing a guitar.", "Someone plays the guitar."}
    # "Kids swim." was a query (dropped afterwards): never in the corpus
    assert set(data.corpus.values()) == relevant | {"A cat sleeps.", "A dog runs.", "The dog is running."}


def test_the_bundled_set_from_the_dev_split(sts_dev):
    data = bundled_sts(sts_dev)
    assert 200 < len(data.queries) < len(data.corpus) < 3000
    assert not set(data.queries.values()) & set(data.corpus.values())  # no query text in the corpus
    frame = pd.read_csv(sts_dev, sep="\t", header=None, quoting=3, usecols=[4, 5, 6], names=["s", "a", "b"])
    strong = {(a.strip(), b.strip()) for a, b, s in zip(frame.a, frame.b, frame.s, strict=True) if s >= 4.0}
    for query_id, query in data.queries.items():
        assert all((query, data.corpus[doc_id]) in strong for doc_id in data.qrels[query_id])


def test_bm25_is_the_librarys_own_and_lucene_formula():
    import bm25s

    data = parse_beir(beir_files(), "toy")
    run = bm25_run(data)
    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize(list(data.corpus.values()), stopwords="en", show_progress=False), show_progress=False
    )
    documents = bm25_tokens(list(data.corpus.values()))
    for query_id, query in data.queries.items():
        library = dict(zip(data.corpus, retriever.get_scores(bm25_tokens([query])[0]), strict=True))
        assert dict(run.ranking[query_id]) == pytest.approx({d: s for d, s in library.items() if s > 0}, abs=1e-6)
        # Lucene BM25 by hand: idf = ln(1 + (N - df + 0.5) / (df + 0.5)), k1 = 1.5, b = 0.75
        mean_length = np.mean([len(tokens) for tokens in documents])
        for doc_id, tokens in zip(data.corpus, documents, strict=True):
            expected = 0.0
            for term in set(bm25_tokens([query])[0]):
                df = sum(term in other for other in documents)
                tf = tokens.count(term)
                idf = math.log(1 + (len(documents) - df + 0.5) / (df + 0.5))
                expected += idf * tf / (tf + 1.5 * (1 - 0.75 + 0.75 * len(tokens) / mean_length)) if df else 0.0
            assert library[doc_id] == pytest.approx(expected, rel=1e-5)
    assert run.ranking["q1"][0][0] in {"d1", "d4"} and run.passes == 0


def test_metrics_by_hand_and_in_the_order_given():
    data = parse_beir(beir_files(), "toy")
    # q1: d1 (grade 2) and d4 (grade 1) relevant, ranked 2nd and 3rd; q2 retrieved nothing
    values = per_query(data, {"q1": [("d2", 0.9), ("d1", 0.8), ("d4", 0.7)], "q2": []})
    dcg, ideal = 2 / math.log2(3) + 1 / math.log2(4), 2 + 1 / math.log2(3)
    assert values.loc["q1", "nDCG@10"] == pytest.approx(dcg / ideal)
    assert values.loc["q1", "MRR@10"] == pytest.approx(0.5)
    assert values.loc["q1", ["Recall@1", "Recall@10"]].tolist() == [0.0, 1.0]
    assert values.loc["q1", "MAP@100"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert values.loc["q2"].tolist() == [0.0] * 6  # counted in the mean, as IRE does
    # ir-measures keeps the order given, whatever the scores say (all equal here)
    tied = per_query(data, {"q1": [("d3", 0.5), ("d1", 0.5)], "q2": [("d2", 0.5)]})
    assert tied.loc["q1", "MRR@10"] == 0.5
    assert ranked(["d3", "d1", "d2"], np.array([0.5, 0.5, 0.9]), 3) == [("d2", 0.9), ("d1", 0.5), ("d3", 0.5)]


def test_paired_test_known_cases_and_scipy():
    from scipy import stats

    # five queries, B better by 1 on each: of the 32 sign patterns, 2 are as extreme (all + and all -)
    test = paired_test([0.0] * 5, [1.0] * 5, "nDCG@10", "A", "B")
    assert test.exact and test.p_value == pytest.approx(2 / 32)
    assert (test.difference, test.ci_low, test.ci_high, test.b_better) == (1.0, 1.0, 1.0, 5)
    assert not test.significant and "cannot tell" in test.sentence
    same = paired_test([0.3, 0.7], [0.3, 0.7], "nDCG@10", "A", "B")
    assert (same.p_value, same.difference, same.ci_low, same.ci_high) == (1.0, 0.0, 0.0, 0.0)
    rng = np.random.default_rng(3)
    a = rng.random(12)
    b = np.clip(a + rng.normal(0.15, 0.2, 12), 0, 1)
    reference = stats.permutation_test(  # the same test, written as swapping each query's two systems
        (b, a), lambda x, y: np.mean(x - y), permutation_type="samples", n_resamples=np.inf
    )
    test = paired_test(a, b, "MRR@10", "A", "B")
    assert test.p_value == pytest.approx(reference.pvalue, abs=1e-12)
    assert test.ci_low < test.difference < test.ci_high
    better = np.full(200, 0.1) + rng.normal(0, 0.05, 200)
    big = paired_test(np.zeros(200), better, "nDCG@10", "BM25", "MiniLM")
    assert not big.exact and big.significant and big.ci_low > 0
    assert "MiniLM does better than BM25 on this data" in big.sentence
    assert paired_test(np.zeros(200), better, "nDCG@10", "BM25", "MiniLM") == big  # seeded draws: the same numbers


class PairScorer:
    """Anything with a pair score: here, word overlap (the re-ranker interface needs no model)."""

    label, score_name = "overlap", "score"

    def __init__(self):
        self.work_done = 0

    def score(self, pairs, progress=None):
        self.work_done += len(pairs)
        return np.array([len(set(a.lower().split()) & set(b.lower().split())) for a, b in pairs], dtype=float)


def test_rerank_rescores_the_top_k_of_another_run_and_the_report():
    data = parse_beir(beir_files(), "toy")
    base = SystemRun("reverse", {"q1": [("d3", 3), ("d2", 2), ("d1", 1)], "q2": [("d3", 2), ("d2", 1)]}, "x", 0, 0, "")
    run = rerank_run(data, base, PairScorer(), top_k=2)
    assert run.passes == 4 and [d for d, _ in run.ranking["q1"]] == ["d2", "d3"]  # d1 was below the top 2
    assert [d for d, _ in run.ranking["q2"]] == ["d2", "d3"]
    with pytest.raises(EmbedLabError, match="between 1 and"):
        rerank_run(data, base, PairScorer(), top_k=0)
    report = build_report(data, [base, run, base])
    assert list(report.table.index) == ["reverse", run.name, "reverse (2)"] and len(report.tests) == 3
    assert report.ranks.loc["q2", run.name] == 1 and report.ranks.loc["q2", "reverse"] == 2
    assert list(report.worst_first("reverse").index) == ["q1", "q2"]  # q1's best relevant is 3rd
    detail = query_detail(data, base, "q1", shown=1)
    assert detail["document"].tolist() == ["d3", "d1", "d4"]  # the first, then every relevant one
    assert detail["rank"].tolist()[:2] == [1, 3] and pd.isna(detail["rank"].iloc[2])


def test_same_data_same_fingerprint():
    assert parse_beir(beir_files(), "a").fingerprint == parse_beir(beir_files(), "b").fingerprint
    other = RetrievalData("c", {"d1": "x"}, {"q1": "y"}, {"q1": {"d1": 1}})
    assert other.fingerprint != parse_beir(beir_files(), "a").fingerprint
