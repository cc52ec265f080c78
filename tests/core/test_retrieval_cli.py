"""``python -m embedlab retrieve``: its metrics equal sentence-transformers' InformationRetrievalEvaluator on a slice
of the bundled STS set, the re-ranker's scores are the cross-encoder's own, and bad input exits 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedlab import cli
from embedlab.embedding.encoder import Encoder
from embedlab.retrieval.data import bundled_sts, read_folder, subset, write_folder
from tests.helpers import one_line_error

M = "all-MiniLM-L6-v2"
IRE_KEYS = {"nDCG@10": "ndcg@10", "MRR@10": "mrr@10", "Recall@1": "recall@1", "Recall@10": "recall@10"}
IRE_KEYS |= {"Recall@100": "recall@100", "MAP@100": "map@100"}


@pytest.fixture(scope="module")
def slice_folder(sts_dev, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 16 queries of the bundled set with their relevant documents and other documents up to 90."""
    return write_folder(subset(bundled_sts(sts_dev), 16, 90), tmp_path_factory.mktemp("retrieval") / "slice")


@pytest.fixture(scope="module")
def module_encoder(packaged_model) -> Encoder:
    """One Encoder for the file: the first run encodes the slice, later runs find every text in its cache."""
    return Encoder(packaged_model)


@pytest.fixture
def shared_engines(module_encoder, monkeypatch):
    """In-process runs reuse the session model through ``module_encoder``."""
    from embedlab.cli import common

    original = common.load_engine
    monkeypatch.setattr(
        common, "load_engine", lambda kind, model_id: module_encoder if model_id.key == M else original(kind, model_id)
    )


def run_json(capsys, *args: str) -> dict:
    assert cli.main(["retrieve", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_metrics_equal_information_retrieval_evaluator(slice_folder, shared_engines, reference_st, capsys):
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    found = run_json(capsys, "--data", str(slice_folder), "--model", M, "--bm25")
    data = read_folder(slice_folder)
    evaluator = InformationRetrievalEvaluator(
        data.queries,
        data.corpus,
        {query_id: set(data.relevant(query_id)) for query_id in data.queries},
        mrr_at_k=[10],
        ndcg_at_k=[10],
        accuracy_at_k=[1, 10],
        precision_recall_at_k=[1, 10, 100],
        map_at_k=[100],
        write_csv=False,
    )
    expected = evaluator(reference_st)
    bm25, model = found["systems"]
    # the first test of the file: every text is encoded once (later runs of the same texts cost no pass)
    assert bm25["name"] == "BM25" and model["passes"] == len(data.corpus) + len(data.queries)
    for label, key in IRE_KEYS.items():
        assert model["metrics"][label] == pytest.approx(expected[f"cosine_{key}"], abs=1e-4), label
    assert 0.5 < model["metrics"]["nDCG@10"] <= 1.0
    (test,) = found["paired_tests"]
    assert (test["system_a"], test["system_b"], test["metric"]) == ("BM25", model["name"], "nDCG@10")
    assert test["difference"] == pytest.approx(model["metrics"]["nDCG@10"] - bm25["metrics"]["nDCG@10"], abs=1e-5)
    assert len(found["per_query"]) == 16 and found["queries"] == 16 and found["documents"] == 90


def test_rerank_scores_are_the_cross_encoders_own(slice_folder, shared_engines, cross_dir, capsys):
    from sentence_transformers import CrossEncoder

    assert (
        cli.main(["retrieve", "--data", str(slice_folder), "--model", M, "--rerank", str(cross_dir), "--top-k", "3"])
        == 0
    )
    out = capsys.readouterr().out
    assert "re-ranked by" in out and "3 pair passes per query (48 here)" in out and "for " in out and "CI" in out
    # the re-ranked order of one query is the cross-encoder's predict order over the bi-encoder's top 3
    from embedlab.retrieval.systems import rerank_run, vector_run
    from embedlab.scorers.registry import open_scorer

    data = read_folder(slice_folder)
    base = vector_run(data, open_scorer(M, engine=cli.common.load_engine))
    run = rerank_run(data, base, open_scorer(str(cross_dir)), 3)
    query_id = next(iter(data.queries))
    candidates = [doc_id for doc_id, _ in base.ranking[query_id][:3]]
    predicted = CrossEncoder(str(cross_dir), device="cpu").predict(
        [(data.queries[query_id], data.corpus[d]) for d in candidates]
    )
    expected = sorted(zip(candidates, predicted, strict=True), key=lambda item: -item[1])
    assert [d for d, _ in run.ranking[query_id]] == [d for d, _ in expected]
    assert [s for _, s in run.ranking[query_id]] == pytest.approx([float(s) for _, s in expected], abs=1e-5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "needs a system"),
        (["--rerank", "x", "--bm25"], "give a --model too"),
        (["--bm25", "--data", "/no/such/folder"], "not found"),
        (["--bm25", "--data", "EMPTY"], "corpus.jsonl is empty"),
        (["--bm25", "--data", "PAIRS"], "row 1 has an empty query"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message, tmp_path, capsys):
    (tmp_path / "empty" / "qrels").mkdir(parents=True)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        (tmp_path / "empty" / name).write_text("", encoding="utf-8")
    (tmp_path / "pairs.csv").write_text("query,relevant\n,text\n", encoding="utf-8")
    args = [{"EMPTY": str(tmp_path / "empty"), "PAIRS": str(tmp_path / "pairs.csv")}.get(a, a) for a in args]
    assert cli.main(["retrieve", *args]) == 2
    assert message in one_line_error(capsys)


def test_a_model_without_vectors_is_refused_before_the_data_is_read(cross_dir, capsys):
    assert cli.main(["retrieve", "--model", str(cross_dir), "--data", "/no/such/folder"]) == 2
    assert "give it to --rerank" in one_line_error(capsys)


def test_top_k_out_of_range_exits_2(capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["retrieve", "--bm25", "--model", M, "--rerank", "x", "--top-k", "0"])
    assert stopped.value.code == 2 and "--top-k" in capsys.readouterr().err


def test_two_column_csv(tmp_path, capsys):
    (tmp_path / "pairs.csv").write_text(
        "query,relevant\nWhere did the cat sit?,The cat sat on the mat.\nWhich dog barked?,A dog barked.\n"
        "Which dog barked?,The old dog barked loudly.\n",
        encoding="utf-8",
    )
    found = run_json(capsys, "--data", str(tmp_path / "pairs.csv"), "--bm25")
    assert (found["queries"], found["documents"]) == (2, 3)
    assert found["systems"][0]["metrics"]["Recall@10"] == 1.0


def test_an_embeddings_service_retrieves_like_the_same_model_here(service, shared_engines, tmp_path, capsys):
    (tmp_path / "pairs.csv").write_text(
        "query,relevant\nHow old are you?,What is your age?\nWhere did the cat sit?,The cat sat on the mat.\n"
        "Who plays the guitar?,A man is playing a guitar.\nIs the market down?,Stock prices fell sharply today.\n",
        encoding="utf-8",
    )
    found = run_json(capsys, "--data", str(tmp_path / "pairs.csv"), "--model", service.ref(), "--model", M)
    remote, local = found["systems"]
    assert remote["metrics"] == pytest.approx(local["metrics"], abs=1e-6) and remote["metrics"]["MRR@10"] > 0.5
    assert sum(request["n_texts"] for request in service.requests) == 8  # 4 documents and 4 queries, once each
    assert [row["rank"][remote["name"]] for row in found["per_query"]] == [
        row["rank"][local["name"]] for row in found["per_query"]
    ]
