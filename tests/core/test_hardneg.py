"""Hard negatives: mined by sentence-transformers' ``mine_hard_negatives`` from a retrieval set, never a relevant
document of their query, written as triplets that ``train --method mnrl`` reads, and trained on as
(anchor, positive, negative) by MultipleNegativesRankingLoss."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embedlab import cli
from embedlab.errors import EmbedLabError
from embedlab.models.loading import load_model
from embedlab.retrieval.data import RetrievalData, write_folder
from embedlab.retrieval.hardneg import MiningSettings, held_out_data, mine_negatives, split_queries
from embedlab.training.compose import Composition
from embedlab.training.data import parse_training_text, read_training_file
from embedlab.training.run import TrainSettings, train
from embedlab.training.script import python_script
from tests.helpers import one_line_error, write

M = "all-MiniLM-L6-v2"
ROUTER = "How do I reset my router?"
CORPUS = {
    "d1": "Restart the router to restore the connection.",
    "d2": "Turn the router off and on again to fix the internet.",
    "d3": "Reboot your modem and router when the connection drops.",
    "d4": "Tomorrow brings heavy rain showers.",
    "d5": "The home team won the match in the final minute.",
    "d6": "Knead the dough for ten minutes until it becomes elastic.",
    "d7": "The router's warranty covers two years.",
    "d8": "Internet connection speeds vary by provider.",
    "d9": "The weather forecast predicts sunshine all week.",
    "d10": "The away team lost the game badly.",
    "d11": "Bake the bread at 220 degrees.",
    "d12": "Stock prices plunged after the earnings report.",
    "d13": "The band released a new album on Friday.",
    "d14": "Our flight was delayed by three hours.",
}
QUERIES = {
    "q1": ROUTER,
    "q2": "Is it going to rain tomorrow?",
    "q3": "Who won the football match?",
    "q4": "How long should I knead bread dough?",
}
QRELS = {"q1": {"d1": 1, "d2": 1, "d3": 2, "d8": 0}, "q2": {"d4": 1}, "q3": {"d5": 1}, "q4": {"d6": 1}}
DATA = RetrievalData("router set", CORPUS, QUERIES, QRELS)
ALL_PAIRS = MiningSettings(num_negatives=2, relative_margin=None, held_out=0.0)
FAST = TrainSettings(max_steps=2, batch_size=4, learning_rate=1e-3, warmup_ratio=0.0)


@pytest.fixture(scope="module")
def mined(packaged_model):
    return mine_negatives(DATA, packaged_model.st_model, M, ALL_PAIRS)


def test_mined_negative_is_the_best_ranked_document_not_relevant_to_its_query(mined, packaged_model):
    doc_ids = list(CORPUS)
    documents = packaged_model.st_model.encode(list(CORPUS.values()), normalize_embeddings=True)
    queries = packaged_model.st_model.encode(list(QUERIES.values()), normalize_embeddings=True)
    cosines = queries @ documents.T  # (queries, documents)
    # the router query's nearest documents are its relevant ones: unmasked, the "negative" would be a positive
    assert doc_ids[int(np.argmax(cosines[0]))] in DATA.relevant("q1")
    assert mined.dropped == 0 and mined.held_out == () and mined.n_pairs == 6  # grade 0 (d8) is no pair
    for row, (query_id, query) in enumerate(QUERIES.items()):
        relevant = {CORPUS[doc_id] for doc_id in DATA.relevant(query_id)}
        order = [CORPUS[doc_ids[i]] for i in np.argsort(-cosines[row], kind="stable")]
        expected = [text for text in order if text not in relevant][:2]
        negatives = mined.table.loc[mined.table["sentence1"] == query, "negative"]
        assert not set(negatives) & relevant
        assert set(negatives) == set(expected)
        assert len(negatives) == 2 * len(relevant)  # every pair of the query got its two negatives
    cosine = {(q, d): cosines[i, j] for i, q in enumerate(QUERIES.values()) for j, d in enumerate(CORPUS.values())}
    for row in mined.table.itertuples(index=False):
        assert row[3] == pytest.approx(cosine[row[0], row[1]], abs=1e-5)  # the model's own cosines
        assert row[4] == pytest.approx(cosine[row[0], row[2]], abs=1e-5)


def test_a_negative_too_close_to_the_positive_is_dropped_by_the_margin(packaged_model):
    def too_close(table):  # the library's rule: above the query's lowest positive cosine less 90% of it
        lowest = table.groupby("sentence1")["positive cosine"].transform("min")
        return table["negative cosine"] > lowest - 0.9 * lowest.abs() + 1e-6

    wide = mine_negatives(DATA, packaged_model.st_model, M, MiningSettings(relative_margin=None, held_out=0.0))
    strict = mine_negatives(DATA, packaged_model.st_model, M, MiningSettings(relative_margin=0.9, held_out=0.0))
    assert too_close(wide.table).any() and not too_close(strict.table).any()


def test_held_out_queries_are_kept_out_of_the_triplets(packaged_model):
    train_ids, held = split_queries(DATA, 0.5, seed=3)
    assert len(held) == 2 and set(train_ids) | set(held) == set(QUERIES) and not set(train_ids) & set(held)
    mined = mine_negatives(DATA, packaged_model.st_model, M, MiningSettings(held_out=0.5, seed=3))
    assert mined.held_out == tuple(held)
    assert set(mined.table["sentence1"]) <= {QUERIES[q] for q in train_ids}
    measured = held_out_data(DATA, mined.held_out)
    assert list(measured.queries) == held and measured.corpus == CORPUS
    assert [len(part) for part in split_queries(DATA, 0.9)] == [2, 2]  # two queries are left to train on
    assert [len(part) for part in split_queries(DATA, 0.01)] == [3, 1] and split_queries(DATA, 0.0)[1] == []


def test_bad_mining_settings_are_refused(packaged_model):
    for bad in ({"num_negatives": 0}, {"num_negatives": 11}, {"range_min": -1}, {"held_out": 1.0}):
        with pytest.raises(EmbedLabError):
            MiningSettings(**bad)
    with pytest.raises(EmbedLabError, match="too few"):
        mine_negatives(DATA, packaged_model.st_model, M, MiningSettings(range_min=12, num_negatives=3))


def test_triplets_train_mnrl_with_the_negative_reaching_the_loss(mined, tiny_model_dir, monkeypatch):
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    data = parse_training_text(mined.csv().decode(), "mnrl", "mined.csv")
    assert list(data.columns) == ["anchor", "positive", "negative"] and data.n_examples == len(mined.table)
    assert data.columns["negative"] == list(mined.table["negative"])
    assert data.dataset().column_names == ["anchor", "positive", "negative"]
    seen = []
    forward = MultipleNegativesRankingLoss.forward

    def spy(self, sentence_features, labels=None):
        seen.append(len(sentence_features))
        return forward(self, sentence_features, labels)

    monkeypatch.setattr(MultipleNegativesRankingLoss, "forward", spy)
    result = train(Composition(str(tiny_model_dir), pooling="mean"), data, FAST, measure_before_after=False)
    assert result.steps == 2 and seen == [3, 3]  # anchor, positive and the hard negative in every step
    pairs = parse_training_text(mined.csv().decode(), "pitfall-random-labels", "mined.csv")
    assert "negative" not in pairs.columns  # only mnrl reads it


def test_an_empty_negative_is_refused():
    text = "sentence1,sentence2,negative\nA cat.,A kitten.,Taxes.\nA dog.,A puppy.,\n"
    with pytest.raises(EmbedLabError, match="pair 2: the negative is empty"):
        parse_training_text(text, "mnrl", "t.csv")


def test_generated_script_trains_on_triplets(mined, tiny_model_dir, tmp_path):
    data = write(tmp_path, "triplets.csv", mined.csv())
    spec = Composition(str(tiny_model_dir), pooling="mean")
    code = python_script(spec, "mnrl", FAST, data_path=str(data), out_dir=str(tmp_path / "by-hand"))
    code = code.replace("trainer.train()", 'print("columns", train_dataset.column_names)\ntrainer.train()')
    done = subprocess.run(
        [sys.executable, str(write(tmp_path, "train.py", code))],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "columns ['anchor', 'positive', 'negative']" in done.stdout
    assert (tmp_path / "by-hand" / "modules.json").is_file()


@pytest.fixture
def beir_folder(tmp_path: Path) -> Path:
    return write_folder(DATA, tmp_path / "router")


@pytest.fixture
def shared_model(packaged_model, monkeypatch):
    """The command's mining loads the session's packaged model instead of a second copy."""
    from embedlab.models import loading

    monkeypatch.setattr(loading, "load_model", lambda ref: packaged_model)


def test_retrieve_mine_negatives_writes_triplets_train_reads(beir_folder, shared_model, tmp_path, capsys):
    out = tmp_path / "mined.csv"
    args = ["retrieve", "--data", str(beir_folder), "--model", M, "--mine-negatives", str(out), "--negatives", "2"]
    assert cli.main([*args, "--held-out", "0.25", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["mined_negatives"]
    assert report["out"] == str(out.resolve()) and len(report["held_out_queries"]) == 1
    data = read_training_file(out, "mnrl")
    held_query = QUERIES[report["held_out_queries"][0]]
    assert data.n_examples == report["triplets"] > 0 and held_query not in data.columns["anchor"]
    for anchor, negative in zip(data.columns["anchor"], data.columns["negative"], strict=True):
        query_id = next(q for q, text in QUERIES.items() if text == anchor)
        assert negative not in {CORPUS[d] for d in DATA.relevant(query_id)}
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--bm25", "--mine-negatives", "OUT"], "give a --model"),
        (["--model", M, "--mine-negatives", "TAKEN"], "exists"),
        (["--model", M, "--mine-negatives", "mined.txt"], "ending in .csv"),
        (["--model", M, "--mine-negatives", "OUT", "--held-out", "1.5"], "Hold out"),
    ],
)
def test_retrieve_mine_negatives_bad_input_exits_2_with_one_line(extra, message, beir_folder, tmp_path, capsys):
    taken = write(tmp_path, "taken.csv", "x")
    extra = [{"OUT": str(tmp_path / "new.csv"), "TAKEN": str(taken)}.get(arg, arg) for arg in extra]
    assert cli.main(["retrieve", "--data", str(beir_folder), *extra]) == 2
    assert message in one_line_error(capsys)
    assert not (tmp_path / "new.csv").exists() and taken.read_text() == "x"


def test_retrieve_refuses_a_negative_count_out_of_range(capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["retrieve", "--model", M, "--mine-negatives", "x.csv", "--negatives", "0"])
    assert stopped.value.code == 2 and "--negatives" in capsys.readouterr().err


def test_held_out_retrieval_scores_are_the_retrieval_runs_own(packaged_model):
    from embedlab.embedding.encoder import Encoder
    from embedlab.retrieval.evaluation import build_report
    from embedlab.retrieval.hardneg import HELD_OUT_METRICS, retrieval_scores
    from embedlab.retrieval.systems import vector_run
    from embedlab.scorers.registry import open_scorer

    encoder = Encoder(packaged_model)
    scorer = open_scorer(M, engine=lambda kind, model_id: encoder)
    expected = build_report(DATA, [vector_run(DATA, scorer)]).table.iloc[0]
    found = retrieval_scores(lambda texts: packaged_model.st_model.encode(texts), DATA)
    assert list(found) == list(HELD_OUT_METRICS)
    assert all(found[label] == pytest.approx(expected[label], abs=1e-6) for label in HELD_OUT_METRICS)


def test_a_run_on_mined_triplets_measures_retrieval_on_the_held_out_queries(packaged_model, tiny_model_dir):
    from dataclasses import replace

    from embedlab.retrieval.hardneg import retrieval_scores
    from embedlab.training.compose import compose
    from embedlab.training.report import score_rows
    from embedlab.training.run import measure

    mined = mine_negatives(DATA, packaged_model.st_model, M, MiningSettings(held_out=0.25, seed=1))
    assert list(mined.held_out_set.queries) == list(mined.held_out) and mined.held_out_set.corpus == CORPUS
    data = replace(parse_training_text(mined.csv().decode(), "mnrl", "mined.csv"), retrieval=mined.held_out_set)
    spec = Composition(str(tiny_model_dir), pooling="mean")
    result = train(spec, data, FAST)
    start = compose(spec, load_model(str(tiny_model_dir)))
    start.eval()
    before = retrieval_scores(lambda texts: start.encode(texts), mined.held_out_set)
    after = retrieval_scores(lambda texts: result.model.encode(texts), mined.held_out_set)
    assert result.before.retrieval == pytest.approx(before, abs=1e-5)
    assert result.after.retrieval == pytest.approx(after, abs=1e-5)
    rows = {row[0]: row[1:] for row in score_rows(result.before, result.after)}
    assert rows["nDCG@10 on held-out queries"] == (f"{before['nDCG@10']:.3f}", f"{after['nDCG@10']:.3f}")
    assert result.before.as_dict()["retrieval"].keys() == before.keys()
    assert measure(start).retrieval is None  # data not mined from a retrieval set: no retrieval measured
    plain = replace(result.before, retrieval=None)
    assert not any("held-out" in row[0] for row in score_rows(plain, plain))


def test_retrieval_scores_survive_the_job_record():
    from embedlab.training.queue.records import JobRecord
    from embedlab.training.run import Scores

    before = Scores(None, 0.1, 0.2, 0.9, 1, 10, {"nDCG@10": 0.5, "MRR@10": 0.4, "Recall@10": 0.75})
    record = JobRecord(id="a", seq=1, name="n", method="mnrl", created=1.0, before=before, after=before)
    assert JobRecord.model_validate_json(record.model_dump_json()).before == before
