"""Access to the Hugging Face Hub: is it reachable, and the local folder of a Hub model (cache first).

Only safetensors weights are fetched (``HUB_FILES``); remote code is never fetched or run.
"""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from embedlab.errors import EmbedLabError
from embedlab.models.names import PACKAGED, UNTRAINED

HUB_FILES = ["*.json", "*.txt", "*.model", "*.safetensors"]
HUB_CONNECT_TIMEOUT_S = 3.0


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


def hub_snapshot(repo_id: str) -> str:
    """Local folder of a Hub model: the cache first, then a download if the Hub answers quickly."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        return snapshot_download(repo_id, allow_patterns=HUB_FILES, local_files_only=True)
    except Exception:  # noqa: BLE001 - not cached, or a broken cache entry: both mean "fetch it"
        pass
    if reason := hub_unreachable_reason():
        raise EmbedLabError(
            f"Model {repo_id!r} is not in the local Hugging Face cache and {reason}: download it once with a "
            f"network, or use {PACKAGED} / {UNTRAINED} or a local folder."
        )
    try:
        return snapshot_download(repo_id, allow_patterns=HUB_FILES, etag_timeout=10)
    except (RepositoryNotFoundError, RevisionNotFoundError, GatedRepoError):
        raise EmbedLabError(
            f"No public model {repo_id!r} on the Hugging Face Hub: check the spelling (e.g. bert-base-uncased)."
        ) from None
    except Exception as error:  # noqa: BLE001 - network errors come in many types
        raise EmbedLabError(f"Downloading {repo_id!r} failed: {error}".splitlines()[0]) from None
