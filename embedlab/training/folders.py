"""Picking the folder a trained model goes into: a free name, and a save that never throws a trained model away.

A name can be free when a run starts and taken when it ends (another process, the command line, a folder made by
hand): ``save_where_free`` then saves under the next free name rather than discarding the run, and the job's
``saved_to`` says where it went.

Example:
    >>> free_name("cosine-cls")  # "cosine-cls-2" when models_dir()/cosine-cls is taken  # doctest: +SKIP
    'cosine-cls'
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from embedlab.models.names import models_dir

MAX_SUFFIX = 10_000


def is_taken(folder: str | Path) -> bool:
    """Whether saving into ``folder`` would be refused: it exists and is a file or a non-empty folder."""
    path = Path(folder).expanduser()
    try:
        return path.exists() and (not path.is_dir() or any(path.iterdir()))
    except OSError:
        return True


def free_name(stem: str, directory: str | Path | None = None) -> str:
    """``stem``, or ``stem-2``, ``stem-3``...: the first name whose folder under ``directory`` (default: the
    models directory) is not taken (``is_taken``)."""
    root = Path(directory).expanduser() if directory is not None else models_dir()
    candidates = (stem if n == 1 else f"{stem}-{n}" for n in range(1, MAX_SUFFIX))
    return next((name for name in candidates if not is_taken(root / name)), f"{stem}-{MAX_SUFFIX}")


def free_folder(folder: str | Path) -> Path:
    """``folder`` itself when it is not taken, else its first free sibling ``<name>-2``, ``<name>-3``..."""
    path = Path(folder).expanduser()
    return path.parent / free_name(path.name, path.parent)


def save_where_free(result, folder: str | Path, save: Callable | None = None) -> Path:
    """Save ``result`` into ``folder``, or, when that was taken while the run trained, into ``free_folder(folder)``.

    Args:
        result: a ``TrainResult``.
        save: ``(result, folder) -> Path`` (default ``embedlab.training.save.save_trained``).

    Returns:
        The folder the model was saved in: compare it with ``folder`` to tell the user about a new name.
    """
    if save is None:
        from embedlab.training.save import save_trained

        save = save_trained
    return Path(save(result, free_folder(folder)))
