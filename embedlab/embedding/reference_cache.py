"""The reference sentences' hidden states on disk, per model revision, so a restarted server skips encoding them.

Every random-pair baseline, layer baseline and default post-processing fit reads the states of the same few hundred
reference sentences (``corpora.reference_sentences``): on a 2-core machine encoding them is the largest part of a
cold start after the model load (~2.5 s for all-MiniLM-L6-v2). ``warm_reference_states`` puts them into an
``Encoder``'s in-memory cache from one ``.npz`` file when it exists, else encodes them and writes that file.

The file's name is a digest of everything the states depend on: the model identity (key and revision), the weights
actually loaded (the packaged model's files, a Hub snapshot's commit), the library versions that computed them, the
format, and the texts themselves (order included). Another revision or another text set is another file; a file
that cannot be read, or whose arrays do not match, is ignored (and replaced by a fresh one). Writes go to a partial
file, then ``os.replace``, so a reader never sees half a file. At most ``MAX_FILES`` files are kept (oldest go).

Example:
    >>> warm_reference_states(encoder)  # doctest: +SKIP
    'disk'
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Literal

import numpy as np

from embedlab.corpora import reference_sentences
from embedlab.embedding.encoder import Encoder, TextStates
from embedlab.embedding.pooling import LAYER_POOLERS
from embedlab.settings import get_settings

FORMAT = 1  # bump when TextStates or the file's arrays change
MAX_FILES = 16  # model revisions kept on disk (each: ~17 MB for all-MiniLM-L6-v2, ~64 MB for bert-base)
Outcome = Literal["memory", "disk", "encoded", "not cached"]


def cache_folder() -> Path | None:
    """``$EMBEDLAB_VECTOR_CACHE_DIR``, else ``embedlab/reference-states`` under the user's cache folder; None when
    that variable is ``none`` (the tests set it: each counts its own model calls)."""
    configured = get_settings().vector_cache_dir
    if configured.lower() == "none":
        return None
    if configured:
        return Path(configured).expanduser().resolve()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return (Path(cache).expanduser() / "embedlab" / "reference-states").resolve()


def weights_fingerprint(encoder: Encoder) -> str | None:
    """What identifies the weights the encoder runs, beyond its ``ModelId``; None when nothing does (random
    weights, a model that is not a plain Encoder): such states are never kept on disk."""
    model_id = encoder.model.model_id
    kind = model_id.kind
    if kind == "folder":
        return model_id.revision or None
    if kind == "packaged":
        from embedlab.models.identity import folder_revision
        from embedlab.models.loading import packaged_model_path

        return folder_revision(Path(packaged_model_path()))
    if kind == "hub":
        config = getattr(encoder.model.backbone, "config", None)
        commit = getattr(config, "_commit_hash", None)  # the snapshot transformers read
        return str(commit) if commit else None
    return None  # untrained (random weights), services


def states_file(encoder: Encoder, texts: Sequence[str], folder: Path | None = None) -> Path | None:
    """Where the states of ``texts`` under ``encoder``'s weights are kept, or None when they are not kept."""
    fingerprint = weights_fingerprint(encoder)
    folder = folder or cache_folder()
    if fingerprint is None or folder is None:
        return None
    model_id = encoder.model.model_id
    digest = hashlib.sha256()
    versions = [metadata.version(package) for package in ("torch", "transformers")]  # read, not imported
    for part in (FORMAT, model_id.key, model_id.revision, fingerprint, *versions):
        digest.update(f"{part}\n".encode())
    digest.update("\0".join(texts).encode("utf-8"))
    return folder / f"{digest.hexdigest()[:32]}.npz"


def save_states(path: Path, texts: Sequence[str], states: Sequence[TextStates]) -> None:
    """Write ``states`` (row i is ``texts[i]``) to ``path``: a partial file, then ``os.replace``."""
    arrays: dict[str, np.ndarray] = {
        f"pooled_{name}": np.stack([state.pooled[name] for state in states]) for name in LAYER_POOLERS
    }
    arrays["model"] = np.stack([state.model for state in states])
    for field in ("n_tokens", "n_content", "n_unknown", "n_read"):
        arrays[field] = np.array([getattr(state, field) for state in states], dtype=np.int64)
    arrays["truncated"] = np.array([state.truncated for state in states], dtype=bool)
    if all(state.pooler is not None for state in states):
        arrays["pooler"] = np.stack([state.pooler for state in states])
    arrays["texts"] = np.frombuffer(json.dumps(list(texts)).encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as output:
            np.savez(output, **arrays)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    _prune(path.parent)


def load_states(path: Path, texts: Sequence[str]) -> list[TextStates] | None:
    """The states kept in ``path`` for ``texts``, or None: no file, a file that cannot be read, or one that does
    not hold exactly these texts with every array of the right length."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            if json.loads(stored["texts"].tobytes().decode("utf-8")) != list(texts):
                return None
            pooled = {name: stored[f"pooled_{name}"] for name in LAYER_POOLERS}
            model = stored["model"]
            counts = {field: stored[field] for field in ("n_tokens", "n_content", "n_unknown", "n_read")}
            truncated = stored["truncated"]
            pooler = stored["pooler"] if "pooler" in stored.files else None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # missing, truncated or not ours
        return None
    columns = [*pooled.values(), model, *counts.values(), truncated, *([] if pooler is None else [pooler])]
    if any(len(column) != len(texts) for column in columns):
        return None
    return [
        TextStates(
            pooled={name: np.ascontiguousarray(pooled[name][row], dtype=np.float32) for name in LAYER_POOLERS},
            model=np.ascontiguousarray(model[row], dtype=np.float32),
            n_tokens=int(counts["n_tokens"][row]),
            truncated=bool(truncated[row]),
            n_content=int(counts["n_content"][row]),
            n_unknown=int(counts["n_unknown"][row]),
            pooler=None if pooler is None else np.ascontiguousarray(pooler[row], dtype=np.float32),
            n_read=int(counts["n_read"][row]),
        )
        for row in range(len(texts))
    ]


def _prune(folder: Path) -> None:
    """Keep the ``MAX_FILES`` most recently written files (another process may be pruning too)."""
    kept = []
    for path in folder.glob("*.npz"):
        try:
            kept.append((path.stat().st_mtime_ns, path))
        except OSError:
            continue
    for _, path in sorted(kept, reverse=True)[MAX_FILES:]:
        path.unlink(missing_ok=True)


def warm_reference_states(encoder: object, texts: Sequence[str] | None = None, folder: Path | None = None) -> Outcome:
    """Make sure ``encoder`` holds the states of ``texts`` (default: the reference sentences) in memory.

    Returns where they came from: ``memory`` (already held), ``disk`` (read from the cache file), ``encoded``
    (the model ran; the file is written for the next start), or ``not cached`` (an engine or weights whose states
    are not kept on disk, or an engine that only reads them and found no file: nothing done here, the caller's own
    call encodes them). A cache that cannot be written
    (read-only disk, ...) only costs the next start its 2.5 s.
    """
    corpus = list(dict.fromkeys(texts if texts is not None else reference_sentences()))
    if not isinstance(encoder, Encoder):
        return "not cached"
    if all(encoder.cached(text) for text in corpus):
        return "memory"
    path = states_file(encoder, corpus, folder)
    if path is None:
        return "not cached"
    stored = load_states(path, corpus)
    if stored is not None:
        encoder.hold(corpus, stored)
        return "disk"
    if not encoder.writes_reference_states:  # an engine other than the library's reads the file, never writes it
        return "not cached"
    states = encoder.states(corpus)
    try:
        save_states(path, corpus, states)
    except OSError:
        pass
    return "encoded"
