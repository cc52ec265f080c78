"""Run `python -m embedlab serve` as a subprocess for a test, and see which processes it started (Linux /proc)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tools.offline import offline_environment

ROOT = Path(__file__).resolve().parents[1]
READY_LINE = "Ctrl-C stops everything."
START_TIMEOUT_S = 240
STOP_TIMEOUT_S = 60


def process_table() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, state letter, command line) of every process now (zombies included)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # exited meanwhile
            continue
        after_name = stat[stat.rindex(")") + 2 :].split()  # the name may hold spaces and parentheses
        table[int(entry.name)] = (int(after_name[1]), after_name[0], command)
    return table


def descendants(pid: int) -> dict[int, str]:
    """Every living descendant of ``pid`` (pid -> command line); zombies are left out."""
    table = process_table()
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, state, command) in table.items():
            if ppid == parent and child not in found:
                if state != "Z":
                    found[child] = command
                frontier.append(child)
    return found


def living(pids) -> dict[int, str]:
    """Those of ``pids`` still running (not exited, not a zombie), with their command lines."""
    table = process_table()
    return {pid: table[pid][2] for pid in pids if pid in table and table[pid][1] != "Z"}


def environment(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(pair.decode(errors="replace").split("=", 1) for pair in pairs if b"=" in pair)


@dataclass
class ServeRun:
    """A running `python -m embedlab serve`: its process, what it printed, and the processes it started."""

    process: subprocess.Popen[str]
    url: str
    lines: list[str] = field(default_factory=list)
    children: dict[int, str] = field(default_factory=dict)  # pid -> command line, once it was ready

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def replicas(self) -> dict[int, str]:
        return {pid: command for pid, command in self.children.items() if "streamlit run" in command}


@contextmanager
def running_serve(arguments: list[str], port: int, env_overrides: dict[str, str] | None = None) -> Iterator[ServeRun]:
    """Start `python -m embedlab serve --port PORT ARGUMENTS...`; yield once it says it is ready. Always stopped on
    exit (SIGINT, then SIGKILL of it and of everything it started, if it did not stop within the bound)."""
    env = offline_environment(**(env_overrides or {}))
    command = [sys.executable, "-m", "embedlab", "serve", "--port", str(port), *arguments]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    run = ServeRun(process, f"http://127.0.0.1:{port}")
    ready = threading.Event()

    def follow() -> None:
        for line in process.stdout:
            run.lines.append(line)
            if READY_LINE in line:
                ready.set()
        ready.set()  # exited: let the waiter see it

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    try:
        if not ready.wait(timeout=START_TIMEOUT_S) or process.poll() is not None:
            raise RuntimeError(f"serve was not ready within {START_TIMEOUT_S} s:\n{run.output[-3000:]}")
        run.children = descendants(process.pid)
        yield run
    finally:
        started = set(run.children) | set(descendants(process.pid))
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in living(started):  # never leave a test's server behind, even when the code under test failed
            os.kill(pid, signal.SIGKILL)
        follower.join(timeout=10)


def stop_queue_workers(models_dir: Path, timeout_s: float = STOP_TIMEOUT_S) -> list[int]:
    """End the training workers of the queue in ``models_dir`` that run on this machine (the app starts them
    detached, so they outlive the server a test stopped): SIGTERM, then SIGKILL after ``timeout_s``. Only processes
    whose command line is an embedlab worker are signalled. Returns their pids."""
    import time

    from embedlab.training.queue import HOST, JobQueue

    database = Path(models_dir) / ".queue" / "queue.db"
    if not database.is_file():
        return []
    jobs = JobQueue(str(database))
    records = [entry.model_dump() for entry in jobs.store.snapshot().workers.values()]
    records.append(jobs.store.starting())
    pids = {int(r["pid"]) for r in records if r.get("host") == HOST and r.get("pid")}
    ours = [pid for pid in pids if "embedlab worker" in process_table().get(pid, (0, "", ""))[2]]
    for pid in ours:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while time.monotonic() < deadline and any(_running(pid) for pid in ours):
        pause.wait(0.2)
    for pid in ours:
        if _running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return ours


def _running(pid: int) -> bool:
    entry = process_table().get(pid)
    return entry is not None and entry[1] != "Z"
