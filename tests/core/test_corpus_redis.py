"""The queue's Redis backend for real: a ``redis-server`` on a free loopback port, and workers that share nothing
with the app but Redis and the models directory (each runs in its own working folder).

A worker whose models directory is not the app's fails the corpus it takes, with a message that says to share it;
a worker on the shared models directory then trains a tiny run and encodes the corpus, both queued by the app's
code (``JobQueue.submit`` / ``submit_encode``). redis-server and every worker are stopped by the fixtures, always.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from embedlab.corpus.mapping import corpus_map, load_map
from embedlab.corpus.store import prepare_corpus
from embedlab.corpus.texts import Corpus
from embedlab.models.loading import load_model
from embedlab.replicas import free_port
from embedlab.settings import get_settings
from embedlab.training.compose import Composition
from embedlab.training.data import read_training_file
from embedlab.training.queue import ADMIN_ENV, EncodeRequest, JobQueue, MapRequest, TrainRequest
from embedlab.training.run import TrainSettings
from tests.helpers import wait_for, worker_processes, write
from tools.offline import offline_environment

REPO = Path(__file__).resolve().parents[2]
WAIT = 300.0
TEXTS = tuple(f"Line {i} of the shared corpus, about {('boats', 'bread', 'birds')[i % 3]}." for i in range(40))
SHORT = TrainSettings(max_steps=2, batch_size=4, learning_rate=1e-3, warmup_ratio=0.0)


@pytest.fixture
def redis_url(tmp_path):
    """A redis-server of its own on a free loopback port, nothing saved to disk; stopped afterwards."""
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if binary is None:
        if get_settings().require_redis:
            pytest.fail("redis-server is missing (EMBEDLAB_REQUIRE_REDIS=1): apt-get install redis-server")
        pytest.skip("redis-server is missing: apt-get install redis-server")
    import redis

    port = free_port()
    folder = tmp_path / "redis"
    folder.mkdir()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.exceptions.ConnectionError:
            assert server.poll() is None, "redis-server exited"
            return False

    try:
        wait_for(answers, "redis-server to answer", timeout=30)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)


@pytest.fixture
def workers(tmp_path, redis_url):
    """start(models) -> a worker on Redis, in a working folder of its own, with ``models`` as its models directory."""
    homes = iter(range(1_000))

    with worker_processes(tmp_path, WAIT) as spawn:

        def start(models: Path) -> subprocess.Popen:
            home = tmp_path / f"worker-home-{next(homes)}"
            home.mkdir()
            env = offline_environment()
            env.update(EMBEDLAB_MODELS_DIR=str(models), EMBEDLAB_QUEUE=redis_url, PYTHONPATH=str(REPO))
            env.update(PYTHONUNBUFFERED="1", HOME=str(home))
            env.pop(ADMIN_ENV, None)
            return spawn(env, cwd=home)

        yield start


def ended(jobs: JobQueue, job_id: str):
    view = jobs.view(job_id, "app")
    return view if view is not None and not view.active else None


def test_workers_on_redis_train_and_encode_with_only_redis_and_the_models_directory_shared(
    tmp_path, monkeypatch, redis_url, workers, tiny_model_dir
):
    shared = tmp_path / "shared-models"
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(shared))
    monkeypatch.setenv("EMBEDLAB_QUEUE", redis_url)
    monkeypatch.delenv(ADMIN_ENV, raising=False)
    model = str(tiny_model_dir)
    jobs = JobQueue()
    assert jobs.location == redis_url
    stored = prepare_corpus(model, Corpus(TEXTS, "shared.txt"), chunk=16)
    request = EncodeRequest(model, stored.key, "shared.txt", stored.n_texts, stored.n_chunks)

    # A worker whose models directory is not the app's cannot find the corpus: the job fails and says why.
    lonely_job = jobs.submit_encode(request, owner="app")
    lonely = workers(tmp_path / "not-shared")
    failed = wait_for(lambda: ended(jobs, lonely_job), "the unshared worker to take the corpus", timeout=WAIT)
    assert failed.state == "failed" and "needs the same models directory" in failed.message
    lonely.terminate()
    lonely.wait(timeout=WAIT)

    data = read_training_file(write(tmp_path, "train.txt", "\n".join(TEXTS[:12])), "simcse", 0)
    run = jobs.submit(TrainRequest(Composition(model), data, SHORT, save_to=str(shared / "tiny-run")), owner="app")
    encode = jobs.submit_encode(request, owner="app")
    assert encode != lonely_job
    workers(shared)
    trained = wait_for(lambda: ended(jobs, run), "the run to be trained", timeout=WAIT)
    assert trained.state == "finished", trained.message
    assert trained.saved_to == str(shared / "tiny-run") and (shared / "tiny-run" / "config.json").exists()
    encoded = wait_for(lambda: ended(jobs, encode), "the corpus to be encoded", timeout=WAIT)
    assert encoded.state == "finished", encoded.message
    plain = load_model(model).st_model.encode(list(TEXTS), convert_to_numpy=True)
    np.testing.assert_allclose(stored.vectors(), plain, atol=2e-5)

    # its map, fitted by the same worker and kept in the shared folder, is the map fitted here
    mapping = jobs.submit_map(MapRequest(stored.key, "pca", 42, model, "shared.txt", stored.n_texts), owner="app")
    mapped = wait_for(lambda: ended(jobs, mapping), "the corpus's map to be fitted", timeout=WAIT)
    assert mapped.state == "finished", mapped.message
    kept = load_map(stored.folder, "pca", stored.n_texts, seed=42)
    np.testing.assert_allclose(kept.coords, corpus_map(stored.vectors(), "pca", seed=42).coords, atol=1e-5)
