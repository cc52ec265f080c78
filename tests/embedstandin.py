"""A stand-in embeddings service on 127.0.0.1: the OpenAI-compatible ``POST /v1/embeddings`` serving the packaged
all-MiniLM-L6-v2 through plain sentence-transformers, with switchable failures (slow, hanging, 401, 404 for an
unknown model, 429 a few times, 500, the wrong number of vectors).

    with EmbeddingStandIn(model="all-MiniLM-L6-v2", key="sk-test-secret") as service:
        service.base_url  # http://127.0.0.1:PORT/v1
        service.fail = "429"; service.fail_times = 2  # the next two requests answer 429, then normal again
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAILURES = ("slow", "hang", "401", "429", "500", "wrong_count")


class EmbeddingStandIn:
    def __init__(self, model: str = "all-MiniLM-L6-v2", key: str | None = None, encode=None) -> None:
        """``encode(texts) -> (n, d) array``: defaults to the packaged model's own ``SentenceTransformer.encode``."""
        self.model = model
        self.key = key
        self.fail: str | None = None
        self.fail_times: int | None = None  # None: every request fails while ``fail`` is set
        self.delay_s = 0.0
        self.release = threading.Event()  # a hanging request waits for this (set on close)
        self.requests: list[dict] = []  # {"model", "n_texts", "authorization"}
        self._lock = threading.Lock()
        if encode is None:
            from sentence_transformers import SentenceTransformer

            from embedlab.models.loading import packaged_model_path

            st_model = SentenceTransformer(packaged_model_path(), device="cpu")
            encode = st_model.encode
        self._encode = encode
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def ref(self, model: str | None = None) -> str:
        return f"{self.base_url}#{model or self.model}"

    def __enter__(self) -> EmbeddingStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _take_failure(self) -> str | None:
        with self._lock:
            if self.fail is None:
                return None
            if self.fail_times is not None:
                if self.fail_times <= 0:
                    return None
                self.fail_times -= 1
            return self.fail

    def _handler(self):
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _answer(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, message: str, kind: str) -> None:
                self._answer(status, {"error": {"message": message, "type": kind, "code": None}}, {"retry-after": "0"})

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length) or b"{}")
                texts = payload.get("input", [])
                texts = [texts] if isinstance(texts, str) else list(texts)
                authorization = self.headers.get("Authorization", "")
                with service._lock:
                    service.requests.append(
                        {"model": payload.get("model"), "n_texts": len(texts), "authorization": authorization}
                    )
                if self.path.rstrip("/") != "/v1/embeddings":
                    self._error(404, f"no route {self.path}", "not_found")
                    return
                failure = service._take_failure()
                if failure == "hang":
                    service.release.wait(timeout=120)
                    return
                if failure == "slow":
                    service.release.wait(timeout=service.delay_s)
                if service.key is not None and authorization != f"Bearer {service.key}":
                    given = authorization.removeprefix("Bearer ")
                    self._error(401, f"Incorrect API key provided: {given}.", "invalid_request_error")
                    return
                if failure == "401":
                    self._error(401, "Invalid key.", "invalid_request_error")
                    return
                if failure == "429":
                    self._error(429, "Rate limit reached.", "rate_limit_error")
                    return
                if failure == "500":
                    self._error(500, "The server had an error.", "server_error")
                    return
                if payload.get("model") != service.model:
                    self._error(404, f"The model `{payload.get('model')}` does not exist.", "invalid_request_error")
                    return
                vectors = service._encode(texts)
                if failure == "wrong_count":
                    vectors = vectors[:-1]
                data = [
                    {"object": "embedding", "index": index, "embedding": [float(x) for x in vector]}
                    for index, vector in enumerate(vectors)
                ]
                usage = {"prompt_tokens": 0, "total_tokens": 0}
                self._answer(200, {"object": "list", "data": data, "model": service.model, "usage": usage})

        return Handler
