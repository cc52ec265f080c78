"""Which models the app offers: the suggested ones, then every model saved in the models directory.

One function feeds every model box, so a model the Train page saves under ``names.models_dir()`` shows up on
every page at the next rerun. A saved model is offered as its folder's absolute path: that is a reference every
loader takes, and it cannot clash with a Hub id. ``model_label`` gives the short name a box shows for it.
"""

from __future__ import annotations

import os
from pathlib import Path

from embedlab.models.cross import is_cross_encoder_folder
from embedlab.models.names import SUGGESTED_MODELS, models_dir

MODEL_MARKERS = ("modules.json", "config.json")  # a sentence-transformers folder, or a plain transformers one


def _is_model_folder(folder: Path) -> bool:
    """A readable folder holding a sentence-transformers or transformers model; False for anything unreadable and
    for hidden folders (a save in progress, or killed half-way, is a hidden ``.NAME.partial-...`` folder)."""
    try:
        return (
            not folder.name.startswith(".")
            and folder.is_dir()
            and os.access(folder, os.R_OK | os.X_OK)
            and any((folder / marker).is_file() and os.access(folder / marker, os.R_OK) for marker in MODEL_MARKERS)
        )
    except OSError:
        return False


def saved_models(directory: Path | None = None) -> tuple[str, ...]:
    """Absolute paths of the model folders directly under ``directory`` (default: the models directory), by name.

    A missing or unreadable directory, and sub-folders that are hidden, unreadable or hold no model, give nothing.
    """
    root = models_dir() if directory is None else Path(directory).expanduser().resolve()
    try:
        entries = sorted(root.iterdir(), key=lambda path: path.name.lower())
    except OSError:
        return ()
    return tuple(str(entry) for entry in entries if _is_model_folder(entry))


def available_models() -> tuple[str, ...]:
    """The suggested models, then every model saved in the models directory (absolute paths), without repeats;
    cross-encoders are left out (they give no sentence vectors: see ``available_cross_encoders``)."""
    bi_encoders = (ref for ref in saved_models() if not is_cross_encoder_folder(ref))
    return tuple(dict.fromkeys([*SUGGESTED_MODELS, *bi_encoders]))


def available_cross_encoders() -> tuple[str, ...]:
    """The cross-encoders saved in the models directory (absolute paths), by name."""
    return tuple(ref for ref in saved_models() if is_cross_encoder_folder(ref))


def model_label(ref: str) -> str:
    """How a model box names ``ref``: a folder in the models directory by its name ("my-model (saved)")."""
    try:
        path = Path(ref)
        if path.is_absolute() and path.parent == models_dir():
            return f"{path.name} (saved cross-encoder)" if is_cross_encoder_folder(path) else f"{path.name} (saved)"
    except (OSError, ValueError):
        pass
    return ref
