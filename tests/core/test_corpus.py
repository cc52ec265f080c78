"""A whole corpus encoded by the queue's workers: chunks written as they finish, a killed worker's job resumed by the
next one with vectors equal to a plain ``SentenceTransformer.encode``, one job for two askers, the bounds on bad
files, the neighbour index's recall and the corpus map.

The worker is a real ``python -m embedlab worker`` subprocess on the test's own queue (a SQLite file in a temporary
models directory), killed with SIGKILL; every wait is bounded, every worker is stopped by the test that started it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from embedlab import cli
from embedlab.corpus import mapping
from embedlab.corpus.encode import count_truncated, encode_corpus
from embedlab.corpus.neighbours import NeighbourIndex, exact_neighbours, measure_recall, recall_at_k
from embedlab.corpus.store import find_corpus, open_corpus, prepare_corpus, stored_vectors
from embedlab.corpus.texts import Corpus, corpus_from_bytes, read_corpus
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_CORPUS_LINES
from embedlab.models.loading import PACKAGED, load_model
from embedlab.training.queue import ADMIN_ENV, EncodeRequest, JobQueue, MapRequest, Worker
from tests.helpers import one_line_error, wait_for, worker_processes, write
from tools.offline import offline_environment

REPO = Path(__file__).resolve().parents[2]
WAIT = 300.0
TOPICS = ("the harbour at dawn", "a violin concerto", "tax returns", "mountain goats", "a broken laptop screen")


@pytest.fixture
def models(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(folder))
    monkeypatch.delenv("EMBEDLAB_QUEUE", raising=False)
    monkeypatch.delenv(ADMIN_ENV, raising=False)
    return folder


@pytest.fixture
def workers(models, tmp_path):
    """start() -> a worker process on the test's queue; every one is ended afterwards."""
    env = offline_environment()
    env.update(EMBEDLAB_MODELS_DIR=str(models), PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    env.pop(ADMIN_ENV, None)
    env.pop("EMBEDLAB_QUEUE", None)
    with worker_processes(tmp_path, WAIT) as start:
        yield lambda *command: start(env, *command)


def request_for(stored, model: str = PACKAGED) -> EncodeRequest:
    return EncodeRequest(model, stored.key, stored.source, stored.n_texts, stored.n_chunks)


def test_a_killed_encode_resumes_where_it_stopped_and_equals_a_plain_encode(models, workers, tiny_model_dir, tmp_path):
    model = str(tiny_model_dir)
    texts = [f"Sentence {i} is about {TOPICS[i % 5]}, on day {i}." for i in range(300)]
    stored = prepare_corpus(model, Corpus(tuple(texts), "corpus.txt"), chunk=32)
    assert stored.n_chunks == 10 and stored.done_chunks() == [] and stored_vectors(model, texts) is None
    jobs = JobQueue()
    first = jobs.submit_encode(request_for(stored, model), owner="tab-1")
    assert jobs.submit_encode(request_for(stored, model), owner="tab-2") == first  # a second tab shares the job
    assert len([view for view in jobs.views() if view.active]) == 1

    written = tmp_path / "written"
    worker = workers(sys.executable, str(REPO / "tests" / "core" / "paused_encoder.py"), "4", str(written))
    wait_for(written.exists, "four chunks to be written")
    worker.kill()  # half-way through the corpus
    worker.wait(timeout=WAIT)
    kept = {index: stored.chunk_path(index).stat().st_mtime_ns for index in stored.done_chunks()}
    assert sorted(kept) == [0, 1, 2, 3]
    view = wait_for(lambda: (v := jobs.view(first)) is not None and not v.active and v, "the job to be interrupted")
    assert view.state == "interrupted" and "after chunk 4 of 10: the chunks done are kept" in view.message

    again = jobs.submit_encode(request_for(stored, model), owner="tab-2")  # an ended job is not shared: a new one
    assert again != first
    workers()
    done = wait_for(lambda: (v := jobs.view(again, "tab-2")) is not None and not v.active and v, "the resumed job")
    assert done.state == "finished", done.message
    assert done.message.startswith("resumed after chunk 4") and done.steps == 10
    assert jobs.record(again).save_to == str(stored.folder.resolve()) and done.saved_to is None  # not a model
    assert {i: stored.chunk_path(i).stat().st_mtime_ns for i in kept} == kept  # the kept chunks were not redone

    vectors = stored_vectors(model, texts)
    plain = load_model(model).st_model.encode(texts, convert_to_numpy=True)
    assert vectors.dtype == np.float32 and vectors.shape == plain.shape
    np.testing.assert_allclose(vectors, plain, atol=2e-5)
    assert find_corpus(model, texts[:-1]) is None  # other texts: another folder


def test_embed_here_counts_lines_over_the_models_length_and_writes_vectors(models, tmp_path, capsys, reference_st):
    texts = ["A short sentence.", "word " * 400, "Another short one.", "tokens " * 300]
    source = write(tmp_path, "corpus.txt", "\n".join(texts[:2]) + "\n\n" + "\n".join(texts[2:]) + "\n")
    out = tmp_path / "out"
    assert cli.main(["embed", str(source), "--model", PACKAGED, "--out", str(out), "--chunk", "3"]) == 0
    printed, said = capsys.readouterr()
    assert "2 of 4 texts were longer than the model's 256 tokens and were cut" in said
    assert printed.startswith("4 vectors written to")
    vectors = np.load(out / "vectors.npy")
    np.testing.assert_allclose(vectors, reference_st.encode(texts, convert_to_numpy=True), atol=2e-5)
    stored = find_corpus(PACKAGED, texts)
    assert stored.complete and stored.truncated() == 2 and stored.n_chunks == 2
    assert (out / "texts.jsonl").read_text().count("\n") == 4
    # the same command again finds every chunk stored and encodes nothing
    again = tmp_path / "again"
    assert cli.main(["embed", str(source), "--model", PACKAGED, "--out", str(again)]) == 0
    assert "2 of 2 chunks already stored" in capsys.readouterr().err
    np.testing.assert_array_equal(np.load(again / "vectors.npy"), vectors)


def test_count_truncated_matches_the_tokenizer(packaged_model):
    st_model = packaged_model.st_model
    assert count_truncated(st_model, ["short", "a " * 254, "a " * 255]) == 1  # 254 + [CLS] + [SEP] = 256 fits


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"", "holds no text"),
        ("blank.txt", b"\n  \n\n", "holds no text"),
        ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        ("latin.txt", "caf\xe9\n".encode("latin-1"), "not UTF-8"),
        ("table.csv", b"text,label\nhello,a\n", "no column 'sentence'"),
        ("empty.csv", b"", "holds no text"),
    ],
)
def test_bad_corpus_files_are_one_clear_line(models, tmp_path, capsys, name, content, message):
    path = write(tmp_path, name, content)
    column = ["--column", "sentence"] if name == "table.csv" else []
    assert cli.main(["embed", str(path), "--model", PACKAGED, "--out", str(tmp_path / "out"), *column]) == 2
    assert message in one_line_error(capsys)
    assert not (tmp_path / "out").exists()


def test_a_million_and_one_lines_are_refused_in_served_mode_only(monkeypatch):
    raw = b"x\n" * (MAX_CORPUS_LINES + 1)
    assert len(corpus_from_bytes(raw, "big.txt")) == MAX_CORPUS_LINES + 1
    monkeypatch.setenv("EMBEDLAB_SERVED", "1")
    with pytest.raises(EmbedLabError, match="1,000,001 lines; a corpus is limited to 1,000,000"):
        corpus_from_bytes(raw, "big.txt")
    assert len(corpus_from_bytes(b"x\n" * MAX_CORPUS_LINES, "big.txt")) == MAX_CORPUS_LINES


def test_a_csv_column_is_read_with_the_other_columns_kept(tmp_path):
    path = write(tmp_path, "tickets.csv", 'title,team\n"Printer, jammed",ops\n,ops\nLogin fails,web\n')
    corpus = read_corpus(path, "title")
    assert corpus.texts == ("Printer, jammed", "Login fails") and corpus.columns == {"team": ("ops", "web")}


def test_the_queue_and_the_command_line_refuse_what_they_cannot_do(models, tmp_path, capsys):
    path = write(tmp_path, "c.txt", "one\ntwo\n")
    assert cli.main(["embed", str(path), "--model", PACKAGED, "--queue", "--out", str(tmp_path / "o")]) == 2
    assert "leave out --queue" in one_line_error(capsys)
    assert cli.main(["embed", str(path), "--model", PACKAGED]) == 2
    assert "give --out DIR" in one_line_error(capsys)
    with pytest.raises(EmbedLabError, match="No corpus in"):
        open_corpus(tmp_path / "nowhere")


def test_a_queued_corpus_is_printed_and_shared_with_the_app(models, tmp_path, capsys):
    path = write(tmp_path, "c.txt", "one\ntwo\nthree\n")
    assert cli.main(["embed", str(path), "--model", PACKAGED, "--queue"]) == 0
    job_id = capsys.readouterr().out.strip()
    stored = find_corpus(PACKAGED, ["one", "two", "three"])
    assert JobQueue().submit_encode(request_for(stored), owner="a browser tab") == job_id
    view, record = JobQueue().view(job_id), JobQueue().record(job_id)
    assert view.method == "encode" and view.state == "queued" and not view.mine  # another owner's: redacted
    assert record.save_to == str(stored.folder.resolve()) and record.planned_steps == 1


# ---------------------------------------------------------------------------------------------------- neighbours


def clustered(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim))
    return (centres[rng.integers(0, 20, n)] + 0.3 * rng.normal(size=(n, dim))).astype(np.float32)


def test_recall_at_k_counts_the_true_neighbours_found():
    truth = np.array([[0, 1, 2], [3, 4, 5]])
    assert recall_at_k(truth, truth) == 1.0
    assert recall_at_k(np.array([[0, 2, 9], [8, 7, 6]]), truth) == pytest.approx(2 / 6)


def test_the_exact_index_agrees_with_a_full_sort_and_the_approximate_one_is_measured():
    vectors = clustered(3000)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    indices, scores = exact_neighbours(unit, unit[:5], 10)
    full = np.argsort(-(unit[:5] @ unit.T), axis=1)[:, :10]
    assert (indices == full).all() and np.all(np.diff(scores, axis=1) <= 1e-6)
    exact = NeighbourIndex(vectors)
    assert exact.kind == "exact" and measure_recall(exact).recall == 1.0
    approximate = NeighbourIndex(vectors, approximate=True, threads=1)
    recall = measure_recall(approximate, k=10, queries=200)
    assert approximate.kind == "approximate" and 0.95 <= recall.recall <= 1.0 and recall.queries == 200
    found, cosines = approximate.query(vectors[:3], 5)
    assert found[:, 0].tolist() == [0, 1, 2] and np.allclose(cosines[:, 0], 1.0, atol=1e-5)


# ---------------------------------------------------------------------------------------------------- the map


def test_a_big_corpus_map_fits_umap_on_a_sample_and_places_the_rest(monkeypatch):
    vectors = clustered(400)
    monkeypatch.setattr(mapping, "UMAP_SAMPLE", 150)
    monkeypatch.setattr(mapping, "PLACE_BATCH", 100)
    steps = []
    drawn = mapping.corpus_map(vectors, "auto", progress=lambda done, total: steps.append((done, total)))
    assert drawn.method == "umap" and drawn.fitted_on == 150 and "the other 250 placed by transform" in drawn.note
    assert steps == [(150, 400), (250, 400), (350, 400), (400, 400)]
    assert drawn.coords.shape == (400, 2) and np.isfinite(drawn.coords).all()
    monkeypatch.setattr(mapping, "UMAP_MAX_POINTS", 300)
    flat = mapping.corpus_map(vectors, "auto")
    assert flat.method == "pca" and flat.fitted_on == 400 and flat.note.startswith("PCA of 400 points")
    with pytest.raises(EmbedLabError, match="UMAP maps at most 300 points"):
        mapping.corpus_map(vectors, "umap")


def test_clusters_follow_the_groups_and_bad_counts_are_refused():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(3), 50)
    vectors = np.eye(8)[groups] * 5 + 0.1 * rng.normal(size=(150, 8))
    labels = mapping.cluster_labels(vectors, 3)
    assert len({tuple(np.flatnonzero(labels == c)) for c in range(3)}) == 3
    assert all(len(set(labels[groups == g])) == 1 for g in range(3))
    with pytest.raises(EmbedLabError, match="between 2 and"):
        mapping.cluster_labels(vectors, 1)


def test_a_stop_between_chunks_keeps_the_finished_ones(models, packaged_model):
    import threading

    texts = tuple(f"text number {i}" for i in range(10))
    stored = prepare_corpus(PACKAGED, Corpus(texts, "c.txt"), chunk=4)
    stop = threading.Event()
    result = encode_corpus(stored, packaged_model, progress=lambda report: stop.set(), stop=stop)
    assert result.stopped and result.done == 1 and stored.done_chunks() == [0]
    rest = encode_corpus(stored, packaged_model)
    assert rest.finished and rest.resumed_from == 1 and stored.complete


def test_a_fitted_map_is_kept_in_the_corpus_folder_and_read_not_refitted(tmp_path, monkeypatch):
    vectors = np.random.default_rng(3).normal(size=(200, 16)).astype(np.float32)
    first, fitted_now = mapping.kept_corpus_map(tmp_path, vectors, "pca")
    assert fitted_now and mapping.map_path(tmp_path, "pca").is_file()
    calls = []
    monkeypatch.setattr(mapping, "corpus_map", lambda *args, **kwargs: calls.append(args))
    again, fitted_now = mapping.kept_corpus_map(tmp_path, vectors, "pca")
    assert not fitted_now and not calls
    np.testing.assert_array_equal(again.coords, first.coords)
    assert (again.method, again.fitted_on, again.note) == (first.method, first.fitted_on, first.note)
    assert mapping.load_map(tmp_path, "pca", 201) is None  # another corpus size: not this map
    mapping.map_path(tmp_path, "pca").write_bytes(b"damaged")
    assert mapping.load_map(tmp_path, "pca", 200) is None


def stored_random_corpus(n: int, chunk: int = 64, seed: int = 5):
    """A complete stored corpus of ``n`` texts whose chunks are clustered random vectors (no model call)."""
    texts = tuple(f"text {i} about {TOPICS[i % 5]}" for i in range(n))
    stored = prepare_corpus(PACKAGED, Corpus(texts, "random.txt"), chunk=chunk)
    vectors = clustered(n, dim=16, seed=seed)
    for index in range(stored.n_chunks):
        first, end = stored.chunk_rows(index)
        stored.write_chunk(index, vectors[first:end], 0)
    assert stored.complete
    return stored, vectors


def map_request(stored, projection: str = "umap", seed: int = 42) -> MapRequest:
    return MapRequest(stored.key, projection, seed, PACKAGED, stored.source, stored.n_texts)


def test_a_queued_map_is_shared_fitted_by_a_worker_equal_to_one_fitted_here_and_then_only_read(models, monkeypatch):
    monkeypatch.setattr(mapping, "UMAP_SAMPLE", 120)  # a fit on a sample, the rest placed in batches
    monkeypatch.setattr(mapping, "PLACE_BATCH", 50)
    stored, vectors = stored_random_corpus(200)
    jobs = JobQueue()
    first = jobs.submit_map(map_request(stored), owner="tab-1")
    assert jobs.submit_map(map_request(stored), owner="tab-2", browser="another") == first  # one job for both
    other = jobs.submit_map(map_request(stored, "pca"), owner="tab-2")  # another projection: its own job
    assert other != first and len([view for view in jobs.views() if view.active]) == 2
    record = jobs.record(first)
    assert record.method == "map" and record.save_to == str(mapping.map_path(stored.folder.resolve(), "umap", 42))

    assert Worker(jobs, threads=1).run(until_idle=True) == 2
    done = jobs.view(first, "tab-1")
    assert done.state == "finished", done.message
    assert (done.latest.step, done.latest.total, done.steps) == (200, 200, 200)
    kept = mapping.load_map(stored.folder, "umap", 200, seed=42)
    here = mapping.corpus_map(vectors, "umap", seed=42)
    np.testing.assert_allclose(kept.coords, here.coords, atol=1e-5)  # the same data and seed: the same map
    assert (kept.method, kept.fitted_on, kept.note) == (here.method, here.fitted_on, here.note)
    assert mapping.load_map(stored.folder, "pca", 200, seed=42).method == "pca"

    written = mapping.map_path(stored.folder, "umap", 42).stat().st_mtime_ns
    again = jobs.submit_map(map_request(stored), owner="tab-3")  # an ended job is not shared; the map is read
    assert again != first and Worker(jobs, threads=1).run(until_idle=True) == 1
    assert jobs.view(again, "tab-3").message == "the map was kept already: read, not fitted again"
    assert mapping.map_path(stored.folder, "umap", 42).stat().st_mtime_ns == written


def test_a_map_job_refuses_what_it_cannot_map_and_a_stop_keeps_nothing(models, monkeypatch):
    import threading

    stored, vectors = stored_random_corpus(130)
    monkeypatch.setattr(mapping, "UMAP_MAX_POINTS", 100)
    with pytest.raises(EmbedLabError, match="UMAP maps at most 100 points"):
        JobQueue().submit_map(map_request(stored), owner="tab-1")  # refused before anything is queued
    assert JobQueue().views() == []
    stop = threading.Event()
    stop.set()
    assert mapping.kept_corpus_map(stored.folder, vectors, "pca", stop=stop) == (None, False)
    assert not mapping.map_path(stored.folder, "pca").exists()

    unfinished = prepare_corpus(PACKAGED, Corpus(("one", "two", "three"), "c.txt"), chunk=2)
    jobs = JobQueue()
    job = jobs.submit_map(map_request(unfinished, "pca"), owner="tab-1")
    cancelled = jobs.submit_map(map_request(stored, "pca"), owner="tab-1")
    assert jobs.stop(cancelled, owner="tab-1")
    assert Worker(jobs, threads=1).run(until_idle=True) == 2
    failed = jobs.view(job, "tab-1")
    assert failed.state == "failed" and "not encoded yet (0 of 2 chunks): encode it first" in failed.message
    assert jobs.view(cancelled, "tab-1").state == "stopped"
    assert not mapping.map_path(stored.folder, "pca").exists()


def test_embed_fits_the_map_here_or_queues_it_once_the_corpus_is_stored(models, tmp_path, capsys):
    import json

    texts = [f"Sentence {i} is about {TOPICS[i % 5]}." for i in range(12)]
    source = str(write(tmp_path, "c.txt", "\n".join(texts) + "\n"))
    assert cli.main(["embed", source, "--model", PACKAGED, "--map", "tsne", "--queue"]) == 2
    assert "Unknown map 'tsne': choose one of auto, umap, pca." in one_line_error(capsys)

    assert cli.main(["embed", source, "--model", PACKAGED, "--queue", "--map", "pca"]) == 0
    printed, said = capsys.readouterr()
    assert JobQueue().record(printed.strip()).method == "encode"  # a corpus still to encode: its encoding first
    assert "run the same command again when this job has finished" in said

    out = tmp_path / "out"
    assert cli.main(["embed", source, "--model", PACKAGED, "--out", str(out), "--map", "pca"]) == 0
    printed, said = capsys.readouterr()
    stored = find_corpus(PACKAGED, texts)
    kept = mapping.load_map(stored.folder, "pca", 12)
    assert kept is not None and "map: 12/12 points placed" in said and "the map written to" in printed
    np.testing.assert_array_equal(np.load(out / "map.npy"), kept.coords)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["map"] == {"method": "pca", "fitted_on": 12, "note": kept.note}

    assert cli.main(["embed", source, "--model", PACKAGED, "--queue", "--map", "umap"]) == 0
    map_job = capsys.readouterr().out.strip()  # stored now: the map is the job, the one a Projection tab shares
    assert JobQueue().submit_map(map_request(stored, "umap"), owner="a browser tab") == map_job
