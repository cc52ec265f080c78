"""Names of the models every part of the app knows without loading anything."""

from __future__ import annotations

import os
from pathlib import Path

from embedlab.settings import get_settings

PACKAGED = "all-MiniLM-L6-v2"
PREFERRED_RAW_MODEL = "bert-base-uncased"  # a new session's raw model when it is cached or the Hub answers
UNTRAINED = "untrained-bert"
UNTRAINED_SEED = 0
# The packaged model with its backbone in an exported engine, int8 (embedlab.models.backends: any model takes
# " (ONNX)", " (ONNX int8)", " (OpenVINO)", " (OpenVINO int8)"); offered outside served mode only.
PACKAGED_VARIANTS: tuple[str, ...] = (f"{PACKAGED} (ONNX int8)", f"{PACKAGED} (OpenVINO int8)")
SUGGESTED_MODELS: tuple[str, ...] = (
    "bert-base-uncased",
    "bert-base-multilingual-cased",
    PACKAGED,
    UNTRAINED,
    *PACKAGED_VARIANTS,
)
PACKAGED_ALIASES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}

MODELS_DIR_ENV = "EMBEDLAB_MODELS_DIR"
MODEL_MARKERS = ("modules.json", "config.json")  # a sentence-transformers folder, or a plain transformers one


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


def saved_model_folder(ref: str | Path, root: Path | None = None) -> Path | None:
    """The saved model ``ref`` names, or None: the one test behind both the model boxes' list
    (``registry.saved_models``) and what served mode accepts (``identity.served_model_gate``), so a box never
    offers a model the server then refuses.

    A saved model is a folder directly in ``root`` (default: the models directory) that is not hidden (a save in
    progress is a hidden ``.NAME.partial-...`` folder), is not a symbolic link and is not reached through one or
    through ``..`` (its resolved path is the path as written), can be read, and holds ``modules.json`` or
    ``config.json``.

    Example:
        >>> saved_model_folder(models_dir() / "my-model")  # doctest: +SKIP
        PosixPath('/home/me/.cache/embedlab/models/my-model')
    """
    root = models_dir() if root is None else Path(root).expanduser().resolve()
    try:
        written = Path(ref).expanduser()
        written = written if written.is_absolute() else Path.cwd() / written
        folder = written.resolve()
        if folder != written or folder.parent != root or folder.name.startswith("."):
            return None
        readable = folder.is_dir() and os.access(folder, os.R_OK | os.X_OK)
        if readable and any(
            (folder / marker).is_file() and os.access(folder / marker, os.R_OK) for marker in MODEL_MARKERS
        ):
            return folder
    except (OSError, ValueError, RuntimeError):
        pass
    return None
