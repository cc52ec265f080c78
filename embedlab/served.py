"""Served mode: the app serves a class, whose students must not read the server's files, within per-session limits.

On with ``EMBEDLAB_SERVED=1`` (read at every call, never at import, so a test or a server can switch it). Then no
server path is read because of anything a browser sends (a typed field, a link, an uploaded view file):

- data only as uploads, the bundled sets (``assets/``) and the STS benchmark splits the server was started with
  (``corpora.STS_TRAIN_FILE`` / ``STS_DEV_FILE``): the gate is ``embedlab.data.paths.served_data_gate``;
- models only from the models directory, the packaged ones, and Hub ids: the gate is
  ``embedlab.models.identity.served_model_gate``;
- rows per table or upload, upload size and training steps are capped by ``embedlab.limits``, checked where the
  data enters (``check_rows``, ``check_upload``, ``check_steps``).

Example (a server started with ``EMBEDLAB_SERVED=1``):
    >>> served_mode()  # doctest: +SKIP
    True
    >>> check_steps(1_001)  # doctest: +SKIP
    EmbedLabError: This server is in served mode: this run would take 1,001 training steps; a run is limited to ...
"""

from __future__ import annotations

from embedlab import limits
from embedlab.errors import EmbedLabError
from embedlab.settings import get_settings

SERVED_ENV = "EMBEDLAB_SERVED"

PREFIX = "This server is in served mode"


def served_mode() -> bool:
    """Whether ``$EMBEDLAB_SERVED`` is on (1, true, yes, on), read now.

    Raises:
        SettingsError: the variable is neither on nor off (0, false, no, off, empty).
    """
    return get_settings().served


def path_refusal(path: str, what: str = "file", instead: str = "upload the file instead") -> str:
    """The message for a server path refused in served mode; it names the path typed, never what is there."""
    shown = path if len(path) <= 120 else path[:117] + "..."
    return f"{PREFIX}: it opens no {what} named by a path on the server ({shown!r}): {instead}."


def check_rows(n_rows: int, what: str = "the data") -> None:
    """Refuse more than ``limits.MAX_ROWS`` rows in served mode (outside it: no limit here).

    Raises:
        EmbedLabError: served mode and ``n_rows > limits.MAX_ROWS``.
    """
    if served_mode() and n_rows > limits.MAX_ROWS:
        raise EmbedLabError(
            f"{PREFIX}: {what} has {n_rows:,} rows; a table or file is limited to {limits.MAX_ROWS:,} rows here. "
            "Keep the rows you need, or run the command line (`python -m embedlab ...`) on your own machine."
        )


def check_upload(size_bytes: int, name: str) -> None:
    """Refuse an upload over the limit in force: ``limits.SERVED_MAX_UPLOAD_MB`` in served mode, else
    ``limits.MAX_UPLOAD_MB``. The message quotes that limit, and points to the command line only outside served
    mode (a student of a served app cannot give it a path).

    Raises:
        EmbedLabError: the file is larger than the limit in force.
    """
    if served_mode():
        if size_bytes > limits.SERVED_MAX_UPLOAD_MB * 1024 * 1024:
            raise EmbedLabError(
                f"{PREFIX}: {name} is {size_bytes / 1024 / 1024:.1f} MB; uploads are limited to "
                f"{limits.SERVED_MAX_UPLOAD_MB} MB here. Keep the rows you need."
            )
    elif size_bytes > limits.MAX_UPLOAD_MB * 1024 * 1024:
        raise EmbedLabError(
            f"{name} is {size_bytes / 1024 / 1024:.1f} MB; uploads are limited to {limits.MAX_UPLOAD_MB} MB: "
            "keep the rows you need, or give the file's path to the command line (`python -m embedlab ...`)."
        )


def check_steps(steps: int) -> None:
    """Refuse a training run of more than ``limits.SERVED_MAX_TRAIN_STEPS`` optimizer steps in served mode.

    Raises:
        EmbedLabError: served mode and ``steps > limits.SERVED_MAX_TRAIN_STEPS``.
    """
    if served_mode() and steps > limits.SERVED_MAX_TRAIN_STEPS:
        raise EmbedLabError(
            f"{PREFIX}: this run would take {steps:,} training steps; a run is limited to "
            f"{limits.SERVED_MAX_TRAIN_STEPS:,} here. Lower the epochs or max steps, raise the batch size, or use "
            "fewer rows."
        )


def limits_text() -> str:
    """The limits in one sentence, for the sidebar."""
    return (
        "Served mode: no file on this server is opened by a path (upload your data; models come from the list, "
        "the packaged ones or the Hub). "
        f"Limits per session: {limits.MAX_ROWS:,} rows per table or file, uploads up to "
        f"{limits.SERVED_MAX_UPLOAD_MB} MB, {limits.SERVED_MAX_TRAIN_STEPS:,} training steps per run."
    )
