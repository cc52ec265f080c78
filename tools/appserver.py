"""Start `streamlit run app.py` on a free loopback port, for the browser tests, the screenshots and the benchmarks.

    with running_app() as app:
        ...  # app.url answers /_stcore/health with "ok"; app.pid, app.started, app.log_lines

Also the headless Chromium every one of them drives: CHROMIUM and CHROMIUM_ARGS.
"""

from __future__ import annotations

import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from embedlab.replicas import free_port, replica_command
from tools.offline import offline_environment

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LOG_TAIL_CHARS = 3000
STOP_TIMEOUT_S = 20


@dataclass
class AppServer:
    """A running app: its base URL, its process, and what it has printed so far."""

    url: str
    process: subprocess.Popen[str]
    started: float  # time.perf_counter() just before the process was launched
    listening: float | None = None  # time.perf_counter() when the server printed its URL
    log_lines: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        return "".join(self.log_lines)[-chars:]


@contextmanager
def running_app(env_overrides: dict[str, str] | None = None, start_timeout_s: float = 180) -> Iterator[AppServer]:
    """Start the app (offline unless env_overrides says otherwise) and stop it on exit.

    Yields once the server has printed its URL and /_stcore/health answers "ok"; raises RuntimeError with the end of
    the server's log when that does not happen within start_timeout_s. On exit: terminate, then kill after 20 s.
    """
    port = free_port()
    env = offline_environment(**(env_overrides or {}))
    command = replica_command(port)  # the same command `serve` runs for each replica
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server = AppServer(url=f"http://127.0.0.1:{port}", process=process, started=started)
    ready = threading.Event()

    def follow() -> None:  # the server prints its URL once it listens
        for line in process.stdout:
            server.log_lines.append(line)
            if server.listening is None and f":{port}" in line:
                server.listening = time.perf_counter()
                ready.set()
        ready.set()  # exited: let the waiter see it

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    try:
        if not ready.wait(timeout=start_timeout_s) or process.poll() is not None:
            raise RuntimeError(f"streamlit did not start within {start_timeout_s:g} s:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=30) as answer:
                health = answer.read().decode().strip()
        except OSError as error:
            health = f"no answer ({error})"
        if health != "ok":
            raise RuntimeError(f"streamlit's /_stcore/health answered {health!r}, not 'ok':\n{server.log_tail()}")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)
        follower.join(timeout=5)  # the pipe reaches its end once the server has exited
        if not follower.is_alive():
            process.stdout.close()
