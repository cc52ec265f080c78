"""A local stand-in for the Hugging Face Hub: a threaded HTTP server on 127.0.0.1 serving model folders.

It answers what huggingface_hub and embedlab.models.hub ask (read from huggingface_hub 2.x):

- ``GET /api/models/{repo}/revision/{rev}``: model info with ``sha`` and ``siblings`` (with ``?blobs=true``, as
  ``model_info(files_metadata=True)`` asks, each sibling also carries its ``size`` and ``blobId``, and an
  ``lfs`` entry for large files, as the Hub's);
- ``GET /api/models/{repo}/tree/{rev}``: the file listing (one page);
- ``HEAD`` / ``GET /{repo}/resolve/{rev}/{file}``: ``X-Repo-Commit``, ``ETag`` (sha256 of the content),
  ``Content-Length``, ``Accept-Ranges``; ``Range: bytes=N-`` gets ``206`` with ``Content-Range``;
- unknown repository: ``404`` with ``X-Error-Code: RepoNotFound``; unknown file: ``404`` ``EntryNotFound``.

Each repository has a mode:

- ``normal``;
- ``slow``: file bodies are sent in ``SLOW_CHUNK`` pieces, one every ``pause_s`` seconds;
- ``hang``: every request about the repository is accepted and never answered (until the server stops);
- ``drop``: the first ``drops`` GETs of a ``.safetensors`` file send half of what they promised, then close;
- ``stall``: GETs of a ``.safetensors`` file send half of it, then nothing more (until the server stops);
- ``hold``: GETs of a ``.safetensors`` file send half of it, then wait until the test sets ``Repo.release`` (or the
  server stops), then send the rest: a download that is certainly still running until the test lets it finish.

Every request is logged in ``StandIn.requests`` (method, path, Range header, body bytes sent).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

SLOW_CHUNK = 64 * 1024
SLOW_PAUSE_S = 0.02
_INFO = re.compile(r"^/api/models/(?P<repo>.+?)/(?P<kind>revision|tree)/(?P<rev>[^/?]+)")
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+(?:/[^/]+)?)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")


@dataclass
class Repo:
    files: dict[str, bytes]
    mode: str = "normal"  # normal | slow | hang | drop | stall | hold
    drops: int = 1  # drop mode: how many GETs of a .safetensors file are cut in half
    pause_s: float = SLOW_PAUSE_S  # slow mode: pause before each SLOW_CHUNK
    commit: str = ""
    release: threading.Event = field(default_factory=threading.Event)  # hold mode: set it to send the second half

    def __post_init__(self) -> None:
        if not self.commit:
            digest = hashlib.sha1()
            for name in sorted(self.files):
                digest.update(name.encode() + b"\0" + self.files[name])
            self.commit = digest.hexdigest()


@dataclass
class Request:
    method: str
    path: str
    range: str | None
    sent: int = 0  # body bytes written


@dataclass
class StandIn:
    repos: dict[str, Repo]
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    stopping: threading.Event = field(default_factory=threading.Event)

    def gets(self, file: str) -> list[Request]:
        """The GET requests of one file, in order."""
        return [r for r in self.requests if r.method == "GET" and "/resolve/" in r.path and r.path.endswith("/" + file)]


def folder_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by its relative path (forward slashes)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _sibling(name: str, data: bytes, blobs: bool) -> dict:
    """One ``siblings`` entry of the model info; sizes only when asked for (``?blobs=true``), as on the Hub."""
    if not blobs:
        return {"rfilename": name}
    entry = {"rfilename": name, "size": len(data), "blobId": hashlib.sha1(data).hexdigest()}
    if name.endswith(".safetensors"):
        entry["lfs"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "pointerSize": 134}
    return entry


def _handler(hub: StandIn):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: a dropped or hung one affects nothing else

        def log_message(self, *args) -> None:  # quiet
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if body and self.command == "GET":
                self.wfile.write(body)

        def _not_found(self, code: str) -> None:
            body = json.dumps({"error": code}).encode()
            headers = {"X-Error-Code": code, "Content-Type": "application/json", "Content-Length": str(len(body))}
            self._send(404, headers, body)

        def _serve(self, body: bool) -> None:
            record = Request(self.command, unquote(self.path), self.headers.get("Range"))
            hub.requests.append(record)
            path = record.path.split("?", 1)[0]
            info, resolve = _INFO.match(path), _RESOLVE.match(path)
            match = info or resolve
            repo = hub.repos.get(match["repo"]) if match else None
            if repo is None:
                self._not_found("RepoNotFound")
                return
            if repo.mode == "hang":
                hub.stopping.wait()
                return
            if info:
                self._info(match["repo"], repo, info["kind"], blobs="blobs=true" in record.path.lower())
            else:
                self._file(repo, resolve["file"], record)

        def _info(self, repo_id: str, repo: Repo, kind: str, blobs: bool) -> None:
            if kind == "revision":
                payload = {
                    "id": repo_id,
                    "modelId": repo_id,
                    "sha": repo.commit,
                    "private": False,
                    "siblings": [_sibling(name, data, blobs) for name, data in repo.files.items()],
                }
            else:
                payload = [
                    {"type": "file", "path": name, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}
                    for name, data in repo.files.items()
                ]
            data = json.dumps(payload).encode()
            self._send(200, {"Content-Type": "application/json", "Content-Length": str(len(data))}, data)

        def _file(self, repo: Repo, name: str, record: Request) -> None:
            if name not in repo.files:
                self._not_found("EntryNotFound")
                return
            data = repo.files[name]
            start = 0
            if record.range and (found := re.fullmatch(r"bytes=(\d+)-", record.range)):
                start = min(int(found[1]), len(data))
            headers = {
                "X-Repo-Commit": repo.commit,
                "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
                "Accept-Ranges": "bytes",
                "Content-Type": "application/octet-stream",
                "Content-Length": str(len(data) - start),
            }
            if start:
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            if self.command == "HEAD":
                self._send(200, headers)
                return
            self._send(206 if start else 200, headers)
            payload = data[start:]
            if repo.mode == "drop" and name.endswith(".safetensors") and repo.drops > 0:
                repo.drops -= 1
                payload = payload[: len(payload) // 2]
            stall = repo.mode == "stall" and name.endswith(".safetensors")
            if stall:
                payload = payload[: len(payload) // 2]
            if repo.mode == "hold" and name.endswith(".safetensors"):
                half = len(payload) // 2
                self.wfile.write(payload[:half])
                self.wfile.flush()
                record.sent += half
                payload = payload[half:]
                while not repo.release.wait(0.05):  # a short wait, so a stopping server ends it too
                    if hub.stopping.is_set():
                        return
            step = SLOW_CHUNK if repo.mode == "slow" else 1 << 20
            for offset in range(0, len(payload), step):
                if repo.mode == "slow" and hub.stopping.wait(repo.pause_s):
                    return
                self.wfile.write(payload[offset : offset + step])
                record.sent += len(payload[offset : offset + step])
            self.wfile.flush()
            if stall:
                hub.stopping.wait()

    return Handler


class running_standin:  # noqa: N801 - used as a context manager, like a function
    """``with running_standin({"org/model": Repo(...)}) as hub:`` -> a StandIn serving at ``hub.url``."""

    def __init__(self, repos: dict[str, Repo]) -> None:
        self.hub = StandIn(repos)

    def __enter__(self) -> StandIn:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.hub))
        self.server.daemon_threads = True
        self.hub.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self.hub

    def __exit__(self, *exc) -> None:
        self.hub.stopping.set()  # releases hanging and slow handlers
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def point_hub_at(server: StandIn, monkeypatch, home: Path) -> None:
    """Put the Hub libraries online, at the stand-in, with an empty cache under ``home`` (undone by monkeypatch).

    ``huggingface_hub.constants`` reads the environment once, at import: the module's values are patched.
    """
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", server.url)
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))


def wait_for(condition, timeout_s: float = 30.0, what: str = "condition"):
    """Poll ``condition()`` until it returns something true; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    poll = threading.Event()  # never set: waiting on it is the polling interval, and the deadline bounds the loop
    while time.monotonic() < deadline:
        if value := condition():
            return value
        poll.wait(0.01)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
