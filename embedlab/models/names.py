"""Names of the models every part of the app knows without loading anything."""

from __future__ import annotations

import os
from pathlib import Path

from embedlab.settings import get_settings

PACKAGED = "all-MiniLM-L6-v2"
UNTRAINED = "untrained-bert"
UNTRAINED_SEED = 0
SUGGESTED_MODELS: tuple[str, ...] = (
    "bert-base-uncased",
    "bert-base-multilingual-cased",
    PACKAGED,
    UNTRAINED,
)
PACKAGED_ALIASES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}

MODELS_DIR_ENV = "EMBEDLAB_MODELS_DIR"


def models_dir() -> Path:
    """Where models trained in Embedding Lab are saved (one sentence-transformers folder each).

    ``$EMBEDLAB_MODELS_DIR`` when set, else ``embedlab/models`` under the user's cache (``$XDG_CACHE_HOME`` or
    ``~/.cache``). Not created here: whoever saves creates it.
    """
    configured = get_settings().models_dir
    if configured is not None:
        return configured.expanduser().resolve()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return (Path(cache).expanduser() / "embedlab" / "models").resolve()
