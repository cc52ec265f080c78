"""Which models the app offers: the suggested ones, then every model saved in the models directory.

One function feeds every model box, so a model the Train page saves under ``names.models_dir()`` shows up on
every page at the next rerun. A saved model is offered as its folder's absolute path: that is a reference every
loader takes, and it cannot clash with a Hub id. ``model_label`` gives the short name a box shows for it.
"""

from __future__ import annotations

import functools
import os
import re
import time
from pathlib import Path

from embedlab.models.cross import is_cross_encoder_folder
from embedlab.models.identity import hub_model_allowed
from embedlab.models.names import PACKAGED, SUGGESTED_MODELS, UNTRAINED, models_dir, saved_model_folder
from embedlab.served import served_mode
from embedlab.settings import get_settings

BACKEND_SUFFIX = re.compile(r"^(/.+?) \(((?:ONNX|OpenVINO)(?: int8)?)\)$")  # a folder's key through a backend


def saved_models(directory: Path | None = None) -> tuple[str, ...]:
    """Absolute paths of the model folders directly under ``directory`` (default: the models directory), by name.

    A missing or unreadable directory gives nothing, and so do entries that are not saved models by
    ``names.saved_model_folder`` (hidden, unreadable, holding no model, or a symbolic link): the same test served
    mode applies when one is chosen.
    """
    root = models_dir() if directory is None else Path(directory).expanduser().resolve()
    try:
        with os.scandir(root) as listing:
            stamp = tuple(sorted((entry.name, _changed(entry)) for entry in listing))
    except OSError:
        return ()
    settled = time.time_ns() - UNSETTLED_NS
    if any(changed > settled for _, changed in stamp):  # being written now: a file system's clock is coarse
        return _tested_models(root, stamp)
    return _kept_models(root, stamp)


def _changed(entry: os.DirEntry) -> int:
    """The entry's change time (ns), or -1 when it went between the listing and the look (then the test says)."""
    try:
        return entry.stat(follow_symlinks=False).st_ctime_ns
    except OSError:
        return -1


def _tested_models(root: Path, stamp: tuple[tuple[str, int], ...]) -> tuple[str, ...]:
    entries = sorted((root / name for name, _ in stamp), key=lambda path: path.name.lower())
    return tuple(str(entry) for entry in entries if saved_model_folder(entry, root) is not None)


# The test of every entry, once per state of the directory: ``stamp`` holds each entry's name and change time, which
# a save (a hidden folder renamed into place), a deletion, a file written into a folder or a change of its permissions
# all move. Every page's model boxes list the directory on every run; the listing is one system call per entry, the
# test several. An entry changed in the last UNSETTLED_NS is tested afresh: two changes within one tick of the file
# system's clock leave the same change time.
_kept_models = functools.lru_cache(maxsize=16)(_tested_models)
UNSETTLED_NS = 2_000_000_000


def available_models() -> tuple[str, ...]:
    """The suggested models, then every model saved in the models directory (absolute paths), without repeats;
    cross-encoders are left out (they give no sentence vectors: see ``available_cross_encoders``).

    In served mode the Hub ids are those the server takes (``identity.hub_model_allowed``): the suggested ones it
    allows, then the rest of the teacher's ``EMBEDLAB_HUB_MODELS``, so a box offers no Hub id the server refuses.
    """
    suggested: list[str] = list(SUGGESTED_MODELS)
    if served_mode():
        hub_ids = dict.fromkeys([*SUGGESTED_MODELS, *get_settings().hub_model_list])
        suggested = [ref for ref in hub_ids if ref in (PACKAGED, UNTRAINED) or hub_model_allowed(ref)]
    bi_encoders = (ref for ref in saved_models() if not is_cross_encoder_folder(ref))
    return tuple(dict.fromkeys([*suggested, *bi_encoders]))


def available_cross_encoders() -> tuple[str, ...]:
    """The cross-encoders saved in the models directory (absolute paths), by name."""
    return tuple(ref for ref in saved_models() if is_cross_encoder_folder(ref))


def model_label(ref: str) -> str:
    """How a model box names ``ref``: a folder in the models directory by its name ("my-model (saved)"), through a
    backend "my-model (saved, ONNX int8)"."""
    variant = BACKEND_SUFFIX.match(ref)
    if variant is not None:  # a saved model through a backend: "my-model (saved, ONNX int8)"
        base = model_label(variant.group(1))
        return f"{base[:-1]}, {variant.group(2)})" if base.endswith(")") else ref
    try:
        path = Path(ref)
        if path.is_absolute() and path.parent == models_dir():
            return f"{path.name} (saved cross-encoder)" if is_cross_encoder_folder(path) else f"{path.name} (saved)"
    except (OSError, ValueError):
        pass
    return ref
