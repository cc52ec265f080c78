"""Access to the Hugging Face Hub: is it reachable, and the local folder of a Hub model (cache first).

Only safetensors weights are fetched (``HUB_FILES``); remote code is never fetched or run. A repository whose
weights exist only as ``pytorch_model.bin`` (a pickle) is refused with ``NO_SAFETENSORS``.

Downloads go into the ordinary Hugging Face cache layout (``blobs/``, ``snapshots/<commit>/``, ``refs/main``),
so ``snapshot_download(local_files_only=True)`` and every library find them later. They are done here, not by
``snapshot_download``, for three reasons the library does not cover in the installed version:

- every request is bounded: ``hub_timeout_s()`` seconds without a byte (connect, model info, file headers, each
  read of a file body) ends the download with the same message as an unreachable Hub;
- progress is reported per file (name, bytes done / total, rate) to a callback and to a process-wide registry
  (``download_progress(repo_id)``), so a second session waiting on the same model sees the same progress;
- a partial file is kept as ``blobs/<etag>.incomplete`` and the next attempt resumes it with a ``Range`` request
  (the library deletes its partial file on failure); a dropped connection is also retried at once, from where it
  stopped, a few times.

In served mode a download is refused before any file is requested when its files pass ``EMBEDLAB_MAX_DOWNLOAD_MB``
(the sizes ``model_info(files_metadata=True)`` lists, else the files' headers), and only the Hub ids of
``EMBEDLAB_HUB_MODELS`` are downloaded (``identity.served_model_gate`` refuses the others first).
"""

from __future__ import annotations

import fnmatch
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlparse

from embedlab.errors import EmbedLabError
from embedlab.models.names import PACKAGED, UNTRAINED
from embedlab.served import served_mode
from embedlab.settings import env_name, get_settings

HUB_FILES = ["*.json", "*.txt", "*.model", "*.safetensors"]
HUB_CONNECT_TIMEOUT_S = 3.0
RESUME_ATTEMPTS = 3  # attempts per file within one download when the connection drops after some bytes
CHUNK_BYTES = 1 << 16
NO_SAFETENSORS = "this model has no safetensors weights; Embedding Lab loads only safetensors"


@dataclass(frozen=True)
class DownloadProgress:
    """Where a download stands: the file being fetched and the whole model."""

    repo_id: str
    file: str  # file being fetched now
    file_done: int  # bytes of that file on disk
    file_total: int
    done: int  # bytes of the whole download on disk (files before this one included)
    total: int
    files_done: int
    n_files: int
    rate: float  # bytes per second over this download so far (resumed bytes not counted)

    def describe(self) -> str:
        """One line: 'model.safetensors: 12.3 / 87.6 MB at 2.1 MB/s (file 3 of 7)' (kB below 1 MB)."""
        unit, scale = ("MB", 1_000_000) if self.file_total >= 1_000_000 else ("kB", 1_000)
        return (
            f"{self.file}: {self.file_done / scale:.1f} / {self.file_total / scale:.1f} {unit} at "
            f"{self.rate / 1_000_000:.1f} MB/s (file {min(self.files_done + 1, self.n_files)} of {self.n_files})"
        )


ProgressCallback = Callable[[DownloadProgress], None]

_registry_lock = threading.Lock()
_progress: dict[str, DownloadProgress] = {}  # repo id -> latest progress, while a download runs
_repo_locks: dict[str, threading.Lock] = {}


def download_progress(repo_id: str) -> DownloadProgress | None:
    """The latest progress of a download of ``repo_id`` running in this process, or None."""
    with _registry_lock:
        return _progress.get(repo_id)


def _repo_lock(repo_id: str) -> threading.Lock:
    with _registry_lock:
        return _repo_locks.setdefault(repo_id, threading.Lock())


def hub_timeout_s() -> float:
    """Seconds without a byte from the Hub before a request gives up (EMBEDLAB_HUB_TIMEOUT_S, default 15).

    Raises:
        SettingsError: the variable is not a number above 0.
    """
    return get_settings().hub_timeout_s


def hub_unreachable_reason() -> str | None:
    """Why the Hugging Face Hub cannot be used now, or None when it answers within a few seconds."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    endpoint = urlparse(constants.ENDPOINT)
    host, port = endpoint.hostname or "", endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=HUB_CONNECT_TIMEOUT_S).close()
    except OSError:
        return "the Hugging Face Hub cannot be reached (no network?)"
    return None


def _not_available(repo_id: str, reason: str) -> EmbedLabError:
    return EmbedLabError(
        f"Model {repo_id!r} is not in the local Hugging Face cache and {reason}: download it once with a "
        f"network, or use {PACKAGED} / {UNTRAINED} or a local folder."
    )


def hub_snapshot(repo_id: str, progress: ProgressCallback | None = None) -> str:
    """Local folder of a Hub model: the cache first, then a download if the Hub answers.

    ``progress`` is called (from this thread) as bytes arrive; ``download_progress(repo_id)`` gives the same
    from any other thread. Two callers asking for the same model at once: the second waits for the first.

    Raises:
        EmbedLabError: not cached and the Hub cannot be reached or stops answering; no such public model;
            no safetensors weights; a download that failed (the partial file is kept for the next attempt).
    """
    if cached := _cached_snapshot(repo_id):
        return cached
    with _repo_lock(repo_id):
        if cached := _cached_snapshot(repo_id):  # another caller downloaded it while this one waited
            return cached
        if served_mode() and repo_id not in get_settings().hub_model_list:
            raise unlisted_refusal(repo_id)  # in the cache only in part: served mode downloads listed ids only
        if reason := hub_unreachable_reason():
            raise _not_available(repo_id, reason)
        try:
            return _download(repo_id, progress, hub_timeout_s())
        finally:
            with _registry_lock:
                _progress.pop(repo_id, None)


def is_cached(repo_id: str) -> bool:
    """Whether the local Hugging Face cache holds a snapshot of ``repo_id`` with safetensors weights (a few file
    looks, no request; ``hub_snapshot`` still decides whether anything is missing). ``repo_id`` is a Hub id
    (``identity`` checked its form): it names a folder of the cache, nothing else."""
    from huggingface_hub import constants

    storage = Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"
    try:
        commit = (storage / "refs" / "main").read_text(encoding="utf-8").strip()
        return bool(commit) and any((storage / "snapshots" / commit).glob("*.safetensors"))
    except (OSError, ValueError):
        return False


def unlisted_refusal(repo_id: str) -> EmbedLabError:
    """Served mode's refusal of a Hub id the teacher did not list (``EMBEDLAB_HUB_MODELS``) and the cache lacks."""
    return EmbedLabError(
        f"This server is in served mode: it downloads only the Hub models its teacher listed in "
        f"{env_name('hub_models')}, and {repo_id!r} is neither listed nor already downloaded: pick a model from "
        "the list, all-MiniLM-L6-v2 or untrained-bert."
    )


def download_limit_bytes() -> int | None:
    """The largest download (bytes, all files) a served app starts: ``EMBEDLAB_MAX_DOWNLOAD_MB``; None outside
    served mode."""
    return int(get_settings().max_download_mb * 1_000_000) if served_mode() else None


def check_download_size(repo_id: str, total_bytes: int, limit_bytes: int | None) -> None:
    """Refuse a download over the limit, before any weights are fetched.

    Raises:
        EmbedLabError: ``total_bytes`` is over ``limit_bytes``.
    """
    if limit_bytes is not None and total_bytes > limit_bytes:
        raise EmbedLabError(
            f"Model {repo_id!r} is {total_bytes / 1e6:,.1f} MB to download, more than this server's limit of "
            f"{limit_bytes / 1e6:,.1f} MB ({env_name('max_download_mb')}): nothing was downloaded; pick a smaller "
            "model, or ask whoever runs the server."
        )


def maybe_cached(repo_id: str) -> bool:
    """Whether the local Hugging Face cache may hold a snapshot of ``repo_id``: its folder has one. A look at the
    folder, without importing the download code (0.2 s); ``hub_snapshot`` says for sure."""
    from huggingface_hub import constants

    snapshots = Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    return snapshots.is_dir() and any(snapshots.iterdir())


def _cached_snapshot(repo_id: str) -> str | None:
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo_id, allow_patterns=HUB_FILES, local_files_only=True)
    except Exception:  # noqa: BLE001 - not cached, or a broken cache entry: both mean "fetch it"
        return None


def _listed_sizes(info) -> dict[str, int]:
    """File name -> size from a ``model_info(files_metadata=True)`` answer (files without a size left out)."""
    return {sibling.rfilename: int(sibling.size) for sibling in info.siblings or [] if sibling.size is not None}


def _wanted(files: list[str], repo_id: str) -> list[str]:
    wanted = [name for name in files if any(fnmatch.fnmatch(name, pattern) for pattern in HUB_FILES)]
    if not any(name.endswith(".safetensors") for name in wanted):
        if any(name.endswith((".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack")) for name in files):
            raise EmbedLabError(f"{repo_id!r}: {NO_SAFETENSORS}.")
        raise EmbedLabError(f"{repo_id!r} has no weights files on the Hugging Face Hub: it is not a model to load.")
    return wanted


def _download(repo_id: str, progress: ProgressCallback | None, timeout_s: float) -> str:
    import httpx2
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        api = HfApi(endpoint=constants.ENDPOINT)
        info = api.model_info(repo_id, revision="main", timeout=timeout_s, files_metadata=True)
        commit = info.sha
        files = _wanted([sibling.rfilename for sibling in info.siblings or []], repo_id)
        limit = download_limit_bytes()
        listed = _listed_sizes(info)
        check_download_size(repo_id, sum(listed.get(name, 0) for name in files), limit)  # before any file request
        storage = Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"
        snapshot = storage / "snapshots" / commit
        tracker = _Tracker(repo_id, len(files), progress)
        targets = [_file_target(repo_id, commit, name, timeout_s) for name in files]
        tracker.total = sum(size for _, _, size in targets)
        check_download_size(repo_id, tracker.total, limit)  # the files' own headers, in case the listing had no sizes
        for name, (url, etag, size) in zip(files, targets, strict=True):
            blob = storage / "blobs" / etag
            if not (blob.is_file() and blob.stat().st_size == size):
                _fetch(url, blob, size, name, tracker, timeout_s)
            tracker.file_finished(size)
            _link(snapshot / name, blob)
        (storage / "refs").mkdir(parents=True, exist_ok=True)
        (storage / "refs" / "main").write_text(commit, encoding="utf-8")  # last: the snapshot is complete
        return str(snapshot)
    except (RepositoryNotFoundError, RevisionNotFoundError, GatedRepoError):
        raise EmbedLabError(
            f"No public model {repo_id!r} on the Hugging Face Hub: check the spelling (e.g. bert-base-uncased)."
        ) from None
    except httpx2.TimeoutException:
        raise _not_available(
            repo_id, f"the Hugging Face Hub cannot be reached (no answer within {timeout_s:g} s)"
        ) from None
    except (httpx2.ConnectError, httpx2.NetworkError):
        raise _not_available(repo_id, "the Hugging Face Hub cannot be reached (no network?)") from None
    except EmbedLabError:
        raise
    except Exception as error:  # noqa: BLE001 - HTTP and file errors come in many types
        raise EmbedLabError(f"Downloading {repo_id!r} failed: {error}".splitlines()[0]) from None


def _file_target(repo_id: str, commit: str, name: str, timeout_s: float) -> tuple[str, str, int]:
    """(url, etag, size) of one file, from a bounded HEAD request."""
    from urllib.parse import quote

    from huggingface_hub import constants, get_hf_file_metadata

    url = f"{constants.ENDPOINT}/{repo_id}/resolve/{commit}/{quote(name)}"
    meta = get_hf_file_metadata(url, timeout=timeout_s)
    if not meta.etag or meta.size is None:
        raise EmbedLabError(f"Downloading {repo_id!r} failed: the Hub sent no ETag or size for {name}.")
    return url, meta.etag, int(meta.size)


class _Tracker:
    """Adds up bytes, computes the rate, and publishes progress to the callback and the registry."""

    def __init__(self, repo_id: str, n_files: int, callback: ProgressCallback | None) -> None:
        self.repo_id, self.n_files, self.callback = repo_id, n_files, callback
        self.total = 0
        self.files_done = 0
        self.bytes_before = 0  # bytes of finished files
        self.fetched = 0  # bytes received over the network in this download
        self.started = time.monotonic()

    def report(self, name: str, file_done: int, file_total: int, received: int = 0) -> None:
        self.fetched += received
        elapsed = max(time.monotonic() - self.started, 1e-6)
        state = DownloadProgress(
            repo_id=self.repo_id,
            file=name,
            file_done=file_done,
            file_total=file_total,
            done=self.bytes_before + file_done,
            total=self.total,
            files_done=self.files_done,
            n_files=self.n_files,
            rate=self.fetched / elapsed,
        )
        with _registry_lock:
            _progress[self.repo_id] = state
        if self.callback is not None:
            self.callback(state)

    def file_finished(self, size: int) -> None:
        self.files_done += 1
        self.bytes_before += size
        with _registry_lock:
            if latest := _progress.get(self.repo_id):
                _progress[self.repo_id] = replace(latest, files_done=self.files_done, done=self.bytes_before)


def _fetch(url: str, blob: Path, size: int, name: str, tracker: _Tracker, timeout_s: float) -> None:
    """Download ``url`` into ``blob``, resuming ``blob.incomplete`` when it is there; kept if this fails."""
    import httpx2
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    blob.parent.mkdir(parents=True, exist_ok=True)
    partial = blob.with_name(blob.name + ".incomplete")
    partial.touch()
    for attempt in range(1, RESUME_ATTEMPTS + 1):
        have = partial.stat().st_size if partial.is_file() else 0
        if have > size:
            partial.unlink()
            have = 0
        tracker.report(name, have, size)
        if have == size:
            break
        headers = build_hf_headers()
        headers["Accept-Encoding"] = "identity"
        if have:
            headers["Range"] = f"bytes={have}-"
        before = have
        try:
            with get_session().stream("GET", url, headers=headers, timeout=timeout_s) as response:
                hf_raise_for_status(response)
                mode = "ab" if have and response.status_code == 206 else "wb"
                if mode == "wb":
                    have = 0
                with partial.open(mode) as out:
                    for chunk in response.iter_bytes(CHUNK_BYTES):
                        out.write(chunk)
                        have += len(chunk)
                        tracker.report(name, have, size, len(chunk))
        except (httpx2.RemoteProtocolError, httpx2.ReadError) as error:
            if have == before or attempt == RESUME_ATTEMPTS:
                raise EmbedLabError(
                    f"Downloading {name} of {tracker.repo_id!r} stopped at {have / 1e6:.1f} of {size / 1e6:.1f} MB "
                    f"({type(error).__name__}); the part is kept: try again to resume."
                ) from None
            continue
        if have == size:
            break
        if have > size or attempt == RESUME_ATTEMPTS:
            partial.unlink(missing_ok=True)
            raise EmbedLabError(
                f"Downloading {name} of {tracker.repo_id!r} failed: {have} bytes received, {size} expected."
            )
    os.replace(partial, blob)


def _link(pointer: Path, blob: Path) -> None:
    """snapshots/<commit>/<file> -> blobs/<etag>, as a relative symlink (a copy where symlinks fail)."""
    pointer.parent.mkdir(parents=True, exist_ok=True)
    if pointer.exists() or pointer.is_symlink():
        pointer.unlink()
    try:
        pointer.symlink_to(os.path.relpath(blob, pointer.parent))
    except OSError:
        import shutil

        shutil.copyfile(blob, pointer)
