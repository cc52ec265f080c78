"""Hub downloads against a local stand-in (tests/hubstandin.py): progress, bounds, refusals, resume, the CLI.

No test reaches the real Hub: ``huggingface_hub.constants`` (read once, at import) is pointed at the stand-in on
127.0.0.1, with a fresh cache in tmp, and put online only inside these tests.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
import torch

from embedlab.errors import EmbedLabError
from embedlab.models import hub
from embedlab.models.hub import NO_SAFETENSORS, RESUME_ATTEMPTS, download_progress, hub_snapshot
from embedlab.models.loading import load_model
from embedlab.served import SERVED_ENV
from embedlab.settings import SettingsError
from tests.hubstandin import Repo, folder_files, point_hub_at, running_standin, wait_for

REPO = "embedlab-tests/tiny-bert"
WEIGHTS = "model.safetensors"
HANG_GUARD_S = 20.0  # a hang guard, not a speed test
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def standin(monkeypatch, tmp_path):
    """start(repos) -> a running stand-in; the Hub libraries point at it with an empty cache, online."""
    stack = ExitStack()

    def start(repos: dict[str, Repo]):
        server = stack.enter_context(running_standin(repos))
        point_hub_at(server, monkeypatch, tmp_path / "hf")
        return server

    yield start
    stack.close()


@pytest.fixture(scope="module")
def tiny_files(tiny_model_dir) -> dict[str, bytes]:
    files = folder_files(tiny_model_dir)
    assert WEIGHTS in files and "config.json" in files
    return files


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    state_a, state_b = a.state_dict(), b.state_dict()
    return state_a.keys() == state_b.keys() and all(torch.equal(state_a[k], state_b[k]) for k in state_a)


def test_download_reports_progress_and_loads_the_served_weights(standin, tiny_files, tiny_model_dir):
    server = standin({REPO: Repo(dict(tiny_files))})
    events = []
    loaded = load_model(REPO, progress=events.append)

    total = sum(len(data) for data in tiny_files.values())
    assert {event.file for event in events} == set(tiny_files)
    assert all(event.total == total and event.n_files == len(tiny_files) for event in events)
    weights = [event for event in events if event.file == WEIGHTS]
    assert weights[-1].file_done == weights[-1].file_total == len(tiny_files[WEIGHTS])
    assert [event.done for event in events] == sorted(event.done for event in events)
    assert events[-1].done == total and events[-1].rate > 0
    assert weights[-1].describe().startswith(f"{WEIGHTS}: ") and " MB at " in weights[-1].describe()

    facts = loaded.facts
    assert (facts.n_layers, facts.hidden_size, facts.kind) == (2, 32, "transformers")
    assert same_weights(loaded.backbone, load_model(str(tiny_model_dir)).backbone)
    assert download_progress(REPO) is None  # the registry forgets finished downloads

    asked = len(server.requests)
    again = load_model(REPO)  # from the cache: not one request
    assert len(server.requests) == asked
    assert same_weights(again.backbone, loaded.backbone)


def test_only_safetensors_and_config_files_are_fetched(standin, tiny_files):
    files = dict(tiny_files, **{"pytorch_model.bin": b"pickle" * 100, "flax_model.msgpack": b"x" * 10})
    server = standin({REPO: Repo(files)})
    folder = Path(hub_snapshot(REPO))
    assert sorted(p.name for p in folder.iterdir()) == sorted(tiny_files)
    assert not server.gets("pytorch_model.bin") and not server.gets("flax_model.msgpack")
    for name, data in tiny_files.items():
        assert (folder / name).read_bytes() == data


def test_slow_download_reports_progress_to_every_waiting_caller(standin, tiny_files):
    server = standin({REPO: Repo(dict(tiny_files), mode="slow")})
    size = len(tiny_files[WEIGHTS])
    events, folders, errors = [], [], []

    def first():
        try:
            folders.append(hub_snapshot(REPO, progress=events.append))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    downloader = threading.Thread(target=first)
    downloader.start()
    # Another session, while the download runs: the shared registry shows the same progress...
    seen = wait_for(
        lambda: (p := download_progress(REPO)) and p.file == WEIGHTS and 0 < p.file_done < size and p,
        what="progress of the weights file in the registry",
    )
    assert seen.file_total == size
    # ...and asking for the same model waits for that download instead of starting another.
    second = hub_snapshot(REPO)
    downloader.join(timeout=HANG_GUARD_S)
    assert not errors and folders == [second]
    assert len(server.gets(WEIGHTS)) == 1

    partial = [e.file_done for e in events if e.file == WEIGHTS and 0 < e.file_done < size]
    assert len(partial) >= 3 and partial == sorted(partial)  # many steps, in order
    assert Path(second, WEIGHTS).read_bytes() == tiny_files[WEIGHTS]


def test_hanging_hub_gives_the_unreachable_message_within_the_bound(standin, tiny_files, monkeypatch):
    standin({REPO: Repo(dict(tiny_files), mode="hang")})
    monkeypatch.setenv("EMBEDLAB_HUB_TIMEOUT_S", "0.5")
    start = time.monotonic()
    with pytest.raises(EmbedLabError, match="cannot be reached") as caught:
        load_model(REPO)
    assert time.monotonic() - start < HANG_GUARD_S
    assert "0.5 s" in str(caught.value) and "all-MiniLM-L6-v2" in str(caught.value)


def test_a_download_that_stops_sending_ends_within_the_bound_and_keeps_its_part(standin, tiny_files, monkeypatch):
    from huggingface_hub import constants

    server = standin({REPO: Repo(dict(tiny_files), mode="stall")})
    monkeypatch.setenv("EMBEDLAB_HUB_TIMEOUT_S", "0.5")
    start = time.monotonic()
    with pytest.raises(EmbedLabError, match=r"cannot be reached \(no answer within 0.5 s\)"):
        hub_snapshot(REPO)
    assert time.monotonic() - start < HANG_GUARD_S
    (part,) = Path(constants.HF_HUB_CACHE).glob("models--*/blobs/*.incomplete")
    assert 0 < part.stat().st_size <= server.gets(WEIGHTS)[0].sent < len(tiny_files[WEIGHTS])


@pytest.mark.parametrize(("value", "expected"), [(None, 15.0), ("", 15.0), ("2.5", 2.5)])
def test_timeout_setting(monkeypatch, value, expected):
    monkeypatch.delenv("EMBEDLAB_HUB_TIMEOUT_S", raising=False)
    if value is not None:
        monkeypatch.setenv("EMBEDLAB_HUB_TIMEOUT_S", value)
    assert hub.hub_timeout_s() == expected


@pytest.mark.parametrize("value", ["nonsense", "0", "-1"])
def test_a_bad_timeout_is_an_error_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("EMBEDLAB_HUB_TIMEOUT_S", value)
    with pytest.raises(SettingsError, match=rf"^EMBEDLAB_HUB_TIMEOUT_S='{value}': ") as caught:
        hub.hub_timeout_s()
    assert "\n" not in str(caught.value)


def test_missing_repository(standin, tiny_files):
    standin({REPO: Repo(dict(tiny_files))})
    with pytest.raises(EmbedLabError, match="No public model 'embedlab-tests/no-such-model'"):
        load_model("embedlab-tests/no-such-model")


def test_bin_only_repository_is_refused_before_any_download(standin, tiny_files):
    files = {name: data for name, data in tiny_files.items() if name != WEIGHTS}
    files["pytorch_model.bin"] = b"a pickle that must never be fetched or loaded"
    server = standin({REPO: Repo(files)})
    with pytest.raises(EmbedLabError) as caught:
        load_model(REPO)
    assert NO_SAFETENSORS in str(caught.value)
    assert not any("/resolve/" in request.path for request in server.requests)


def test_dropped_connection_resumes_within_one_download(standin, tiny_files):
    server = standin({REPO: Repo(dict(tiny_files), mode="drop", drops=1)})
    folder = hub_snapshot(REPO)
    size = len(tiny_files[WEIGHTS])
    first, second = server.gets(WEIGHTS)
    assert first.range is None and 0 < first.sent < size
    resumed_at = int(second.range.removeprefix("bytes=").removesuffix("-"))
    assert 0 < resumed_at <= first.sent  # from what reached the disk (the last chunk may be lost with the link)
    assert second.sent == size - resumed_at
    assert Path(folder, WEIGHTS).read_bytes() == tiny_files[WEIGHTS]


def test_interrupted_download_keeps_the_part_and_the_next_attempt_resumes(standin, tiny_files):
    from huggingface_hub import constants

    server = standin({REPO: Repo(dict(tiny_files), mode="drop", drops=RESUME_ATTEMPTS)})
    size = len(tiny_files[WEIGHTS])
    with pytest.raises(EmbedLabError, match="try again to resume"):
        load_model(REPO)
    first_try = server.gets(WEIGHTS)
    assert len(first_try) == RESUME_ATTEMPTS
    (part,) = Path(constants.HF_HUB_CACHE).glob("models--*/blobs/*.incomplete")
    kept = part.stat().st_size
    assert 0 < kept <= sum(request.sent for request in first_try) < size

    folder = hub_snapshot(REPO)  # the retry
    retry = server.gets(WEIGHTS)[len(first_try) :]
    assert [request.range for request in retry] == [f"bytes={kept}-"]
    assert retry[0].sent == size - kept < size
    data = Path(folder, WEIGHTS).read_bytes()
    assert hashlib.sha256(data).digest() == hashlib.sha256(tiny_files[WEIGHTS]).digest()
    assert not list(Path(folder).parent.parent.glob("blobs/*.incomplete"))


def test_cli_downloads_with_progress_on_stderr(standin, tiny_files, tmp_path):
    server = standin({REPO: Repo(dict(tiny_files))})
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("sentence1,sentence2\nA cat sits.,A cat is sitting.\n", encoding="utf-8")
    env = dict(
        os.environ,
        HF_ENDPOINT=server.url,
        HF_HOME=str(tmp_path / "cli-hf"),
        HF_HUB_CACHE=str(tmp_path / "cli-hf" / "hub"),
        HF_HUB_OFFLINE="0",
        TRANSFORMERS_OFFLINE="0",
        PYTHONPATH=str(ROOT),
    )
    result = subprocess.run(
        [sys.executable, "-m", "embedlab", "score", str(pairs), "--model", REPO, "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    size_mb = f"{len(tiny_files[WEIGHTS]) / 1e6:.1f} / {len(tiny_files[WEIGHTS]) / 1e6:.1f} MB"
    assert f"downloading {WEIGHTS}: {size_mb}" in result.stderr
    assert '"model": "embedlab-tests/tiny-bert"' in result.stdout
    assert server.gets(WEIGHTS)


@pytest.fixture
def served(monkeypatch):
    """Served mode on, with only ``REPO`` listed."""
    monkeypatch.setenv(SERVED_ENV, "1")
    monkeypatch.setenv("EMBEDLAB_HUB_MODELS", f"bert-base-uncased, {REPO}")


def test_served_mode_refuses_an_unlisted_hub_id_before_asking_the_hub(standin, tiny_files, served, monkeypatch):
    """Issue 31 item 12: served mode let every Hub id through, so any browser could make the server download any
    repository."""
    other = "embedlab-tests/unlisted"
    server = standin({REPO: Repo(dict(tiny_files)), other: Repo(dict(tiny_files))})
    with pytest.raises(EmbedLabError) as caught:
        load_model(other)
    message = str(caught.value)
    assert message.startswith("This server is in served mode") and f"{other!r} is neither listed" in message
    assert "EMBEDLAB_HUB_MODELS" in message
    assert server.requests == []  # not even the model info was asked for
    monkeypatch.setenv("EMBEDLAB_HUB_MODELS", "none")
    with pytest.raises(EmbedLabError, match="neither listed nor already downloaded"):
        load_model(REPO)
    assert server.requests == []


def test_served_mode_takes_listed_and_already_cached_hub_ids(standin, tiny_files, served, monkeypatch):
    server = standin({REPO: Repo(dict(tiny_files))})
    assert load_model(REPO).facts.n_layers == 2  # listed: downloaded
    monkeypatch.setenv("EMBEDLAB_HUB_MODELS", "none")  # no longer listed, but in the cache: nothing to download
    asked = len(server.requests)
    assert load_model(REPO).facts.n_layers == 2
    assert len(server.requests) == asked


def test_served_mode_refuses_a_listed_download_over_the_size_before_any_file_is_requested(
    standin, tiny_files, served, monkeypatch
):
    total = sum(len(data) for name, data in tiny_files.items() if not name.endswith(".bin"))
    limit_mb = total / 2 / 1e6
    monkeypatch.setenv("EMBEDLAB_MAX_DOWNLOAD_MB", f"{limit_mb}")
    server = standin({REPO: Repo(dict(tiny_files))})
    with pytest.raises(EmbedLabError) as caught:
        load_model(REPO)
    message = str(caught.value)
    assert f"{REPO!r} is {total / 1e6:,.1f} MB to download" in message and "EMBEDLAB_MAX_DOWNLOAD_MB" in message
    assert not any("/resolve/" in request.path for request in server.requests)  # no file: no HEAD, no GET
    assert [request.path.split("?")[0] for request in server.requests] == [f"/api/models/{REPO}/revision/main"]
    assert not list(Path(hub_cache_dir()).glob("models--*/blobs/*"))

    monkeypatch.delenv(SERVED_ENV)  # outside served mode the command line downloads what it is asked for
    assert load_model(REPO).facts.n_layers == 2
    assert server.gets(WEIGHTS)


def test_the_size_check_falls_back_to_the_files_headers(standin, tiny_files, served, monkeypatch):
    """A Hub that lists no sizes: the HEAD requests' sizes are checked before any GET of a file."""
    monkeypatch.setenv("EMBEDLAB_MAX_DOWNLOAD_MB", "0.000001")
    server = standin({REPO: Repo(dict(tiny_files))})
    monkeypatch.setattr(hub, "_listed_sizes", lambda info: {}, raising=True)
    with pytest.raises(EmbedLabError, match="MB to download, more than this server's limit"):
        load_model(REPO)
    assert not [request for request in server.requests if request.method == "GET" and "/resolve/" in request.path]


def hub_cache_dir() -> str:
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE
