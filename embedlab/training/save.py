"""Save a trained model as a standard sentence-transformers folder, with this app's own model card.

``SentenceTransformer.save`` would write a card that quotes training rows word for word and, online, look a base
model up on the Hub by a name guessed from the local path. Users may train on private text, so the library's
card is switched off (``create_model_card=False``) and ``README.md`` is written here: method, data size,
settings and before/after numbers, never a training row. Nothing here touches the network.

The folder reloads with plain ``SentenceTransformer(folder)`` and with ``--model FOLDER`` in every command.
``training.json`` next to it holds the same facts for the app.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import stat
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import psutil

from embedlab.errors import EmbedLabError
from embedlab.models.names import models_dir
from embedlab.training.data import METHOD_LABELS
from embedlab.training.report import score_rows
from embedlab.training.run import Scores, TrainResult, matryoshka_dims

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
CARD_FILE = "README.md"
FACTS_FILE = "training.json"


def check_model_name(name: str) -> str:
    """A folder name for ``models_dir()``: letters, digits, ``.``, ``_``, ``-``; at most 80 characters."""
    name = (name or "").strip()
    if not _NAME.match(name) or name in (".", ".."):
        raise EmbedLabError(
            f"{name!r} is not a usable model name: use letters, digits, '.', '_' or '-' (e.g. my-sts-model)."
        )
    return name


def model_folder(name: str) -> Path:
    """Where a model named ``name`` is saved: ``models_dir() / name``."""
    return models_dir() / check_model_name(name)


PARTIAL_MARK = ".partial-"  # ".NAME.partial-PID-XXXX": a save in progress (or killed) beside its target


def save_trained(result: TrainResult, folder: str | Path) -> Path:
    """Write the model, README.md (the card) and training.json into ``folder`` and return its path (atomically:
    see ``save_atomically``).

    Raises:
        EmbedLabError: ``folder`` exists and is not empty, or cannot be written.
    """

    def write(partial: Path) -> None:
        result.model.save(str(partial), create_model_card=False)
        (partial / CARD_FILE).write_text(model_card(result, Path(folder).name), encoding="utf-8")
        (partial / FACTS_FILE).write_text(json.dumps(training_facts(result), indent=2), encoding="utf-8")

    return save_atomically(folder, write)


def save_atomically(folder: str | Path, write) -> Path:
    """Call ``write(partial)`` to fill a hidden sibling folder (``.NAME.partial-PID-...``), then rename it to
    ``folder``: a save killed half-way leaves only that hidden folder, which no listing shows
    (``embedlab.models.registry`` skips dot-folders), the name stays free, and the next save in the same directory
    removes it (``remove_stale_partials``). Every trained model (sentence-transformer or cross-encoder) saves so.

    Raises:
        EmbedLabError: ``folder`` exists and is not empty, or cannot be written.
    """
    folder = Path(folder).expanduser().resolve()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise EmbedLabError(f"{folder} already exists and is not empty: choose another name or folder.")
    partial = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(folder.parent)
        partial = _new_partial(folder)
        write(partial)
        give_usual_modes(partial)
        if folder.is_dir():
            folder.rmdir()  # an empty folder given as the target (rename cannot replace it on every system)
        partial.rename(folder)  # atomic on one file system: the folder appears complete or not at all
        partial = None
    except OSError as error:
        raise EmbedLabError(f"Could not save the model to {folder}: {error.strerror or error}.") from None
    finally:
        if partial is not None:  # an error or an interruption (KeyboardInterrupt too) half-way: nothing is left
            shutil.rmtree(partial, ignore_errors=True)
    return folder


def _new_partial(folder: Path) -> Path:
    """A new hidden sibling folder of ``folder``, made as any ``mkdir`` makes one (``0o777`` less the umask), not
    owner-only as ``tempfile.mkdtemp`` makes it."""
    while True:
        partial = folder.parent / f".{folder.name}{PARTIAL_MARK}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            partial.mkdir()
            return partial
        except FileExistsError:
            continue


def give_usual_modes(folder: Path) -> None:
    """Give every folder under ``folder`` the mode of ``folder`` itself (a plain ``mkdir``'s) and every file the
    mode a plain ``open`` gives a new file here (``0o666`` less the umask), read from a probe file so the umask is
    never changed. The libraries write some files owner-only (transformers writes the weights through a temporary
    file: 0600), which workers and replicas running as other users, or on other machines, could not read."""
    folder_mode = stat.S_IMODE(folder.stat().st_mode)
    probe = folder / f".mode-probe-{secrets.token_hex(4)}"
    descriptor = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        file_mode = stat.S_IMODE(os.fstat(descriptor).st_mode)
    finally:
        os.close(descriptor)
        probe.unlink()
    for root, folders, files in os.walk(folder):
        for name in folders:
            os.chmod(os.path.join(root, name), folder_mode)
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, file_mode)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host runs (a zombie, exited and not yet reaped, does not). The one process
    check of the engine: the partial folders here and the queue's workers (``training.queue``) both use it."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True  # someone else's live process


def remove_stale_partials(directory: str | Path) -> list[str]:
    """Remove the hidden partial folders of saves whose process is gone (killed mid-save); return their names.

    A partial folder of a live process (another save under way, here or in another process) is left alone.
    """
    removed = []
    try:
        entries = list(Path(directory).iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(".") and PARTIAL_MARK in entry.name and entry.is_dir()):
            continue
        pid_text = entry.name.rsplit(PARTIAL_MARK, 1)[1].split("-", 1)[0]
        if pid_text.isdigit() and (int(pid_text) == os.getpid() or process_alive(int(pid_text))):
            continue  # a save under way, in this process or another
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry.name)
    return removed


def training_facts(result: TrainResult) -> dict:
    """What the run was, as JSON: no training rows."""
    settings = result.settings
    composition = result.composition
    return {
        "saved": datetime.now(UTC).isoformat(timespec="seconds"),
        "start_model": composition.model,
        "modules": list(composition.order),
        "pooling": composition.pooling,
        "dense_out": composition.dense_out,
        "activation": composition.activation if composition.dense_out else None,
        "normalize": composition.normalize,
        "method": result.data.method,
        "loss": result.data.loss_name,
        **({"matryoshka_dims": list(_matryoshka_widths(result))} if result.data.matryoshka is not None else {}),
        "data": result.data.source,
        "examples": result.data.n_examples,
        "settings": {
            "epochs": settings.epochs if settings.max_steps is None else None,
            "max_steps": settings.max_steps,
            "batch_size": settings.batch_size,
            "learning_rate": settings.learning_rate,
            "warmup_ratio": settings.warmup_ratio,
            "seed": settings.seed,
            "precision": result.precision,
            "group_by_length": settings.group_by_length,
        },
        "steps": result.steps,
        "planned_steps": result.total_steps,
        "stopped_early": result.stopped,
        "seconds": round(result.seconds, 2),
        "evaluation": result.eval_name,
        "before": result.before.as_dict() if result.before else None,
        "after": result.after.as_dict() if result.after else None,
    }


def _matryoshka_widths(result: TrainResult) -> tuple[int, ...]:
    """The widths a Matryoshka run trained (the full one first), as it measured them, else from its model."""
    measured = result.after or result.before
    if measured is not None and measured.by_dims:
        return tuple(k for k, _ in measured.by_dims)
    return matryoshka_dims(result.model, result.data.matryoshka)


def _score_rows(before: Scores | None, after: Scores | None) -> list[str]:
    if before is None or after is None:
        return ["Not measured."]
    rows = [f"| {measure} | {first} | {second} |" for measure, first, second in score_rows(before, after)]
    return ["| measure | before | after |", "|---|---|---|", *rows]


def model_card(result: TrainResult, name: str) -> str:
    """The README.md of a saved model: what was trained, how, on how much, and what changed. No training rows."""
    facts = training_facts(result)
    settings = facts["settings"]
    length = f"{settings['max_steps']} steps" if settings["max_steps"] else f"{settings['epochs']:g} epoch(s)"
    lines = [
        "---",
        "library_name: sentence-transformers",
        "tags:",
        "- sentence-transformers",
        "- embedding-lab",
        "---",
        "",
        f"# {name}",
        "",
        "A sentence-transformers model trained in Embedding Lab. Load it with:",
        "",
        "```python",
        "from sentence_transformers import SentenceTransformer",
        f'model = SentenceTransformer("path/to/{name}")',
        "```",
        "",
        "## Training",
        "",
        f"- start model: `{facts['start_model']}`",
        f"- modules: {' -> '.join(facts['modules'])} (pooling {facts['pooling']}"
        + (f", Dense to {facts['dense_out']} with {facts['activation']}" if facts["dense_out"] else "")
        + ")",
        f"- method: {METHOD_LABELS[facts['method']]}",
        *(
            [
                f"- loss: {facts['loss']} at widths {', '.join(map(str, facts['matryoshka_dims']))} (the first k "
                "dimensions trained to work alone: truncate to any of them)"
            ]
            if "matryoshka_dims" in facts
            else []
        ),
        f"- data: {facts['data']} (the rows are not reproduced here)",
        f"- {length}, batch size {settings['batch_size']}, learning rate {settings['learning_rate']:g}, "
        f"warmup ratio {settings['warmup_ratio']:g}, seed {settings['seed']}, "
        f"{settings.get('precision', 'fp32')} precision"
        + (", batches grouped by length" if settings.get("group_by_length") else ""),
        f"- {facts['steps']} of {facts['planned_steps']} steps"
        + (" (stopped early: a partial model)" if facts["stopped_early"] else "")
        + f", {facts['seconds']:.1f} s on the CPU",
        "",
        "## Before and after",
        "",
        f"STS evaluation set: {facts['evaluation'] or 'none given'}; random pairs from the project's reference "
        "sentences; the project's negative-test suite.",
        "",
        *_score_rows(result.before, result.after),
        "",
    ]
    if result.data.method == "pitfall-random-labels":
        lines += [
            "**Warning:** trained with the random-label recipe (every positive pair labelled 0.85-0.95): it teaches "
            "that every pair is similar and pushes unrelated cosines up. Kept as a demonstration of the pitfall.",
            "",
        ]
    return "\n".join(lines)


def read_training_facts(folder: str | Path) -> dict | None:
    """The training.json of a model saved here, for display, or None for any other folder. Its Spearman values
    follow the one rounding rule of what a person reads (``embedlab.tasks.sts.round_spearman``: 79.7); the file
    itself keeps four decimals for programs, as ``train --json`` does."""
    from embedlab.tasks.sts import round_spearman

    path = Path(folder) / FACTS_FILE
    try:
        facts = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(facts, dict):
        return None
    for side in ("before", "after"):
        scores = facts.get(side)
        if isinstance(scores, dict) and isinstance(scores.get("spearman"), int | float):
            scores["spearman"] = round_spearman(scores["spearman"])
    return facts


def zip_folder(folder: str | Path) -> bytes:
    """The whole folder as a zip archive (paths inside start with the folder's name)."""
    folder = Path(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, Path(folder.name) / path.relative_to(folder))
    return buffer.getvalue()
