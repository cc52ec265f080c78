"""Whether a process is alive, as the models directory's clean-up sees it (psutil)."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil

from embedlab.training.save import PARTIAL_MARK, process_alive, remove_stale_partials

EXIT_NOW = [sys.executable, "-c", "pass"]


def test_a_running_process_is_alive_and_an_ended_one_is_not():
    assert process_alive(os.getpid())
    child = subprocess.Popen(EXIT_NOW)
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # waits for its end, leaves it unreaped
    assert psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE
    assert not process_alive(child.pid)
    child.wait()
    assert not process_alive(child.pid)


def test_partials_of_ended_processes_are_removed_and_live_ones_kept(tmp_path):
    child = subprocess.Popen(EXIT_NOW)
    child.wait()
    dead = tmp_path / f".model{PARTIAL_MARK}{child.pid}-abcd"
    live = tmp_path / f".other{PARTIAL_MARK}{os.getppid()}-efgh"
    for folder in (dead, live):
        folder.mkdir()
    assert remove_stale_partials(tmp_path) == [dead.name]
    assert live.is_dir() and not dead.exists()
