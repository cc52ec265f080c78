"""What the queue stores: a run's request (``TrainRequest``, ``EncodeRequest`` for a corpus to encode, or
``MapRequest`` for its 2-D map to fit; pickled in its Huey task), its record (``JobRecord``, one JSON document per
run), a worker's registry entry (``WorkerEntry``), a stop request (``StopRequest``), and what a page or the command
line shows of a run (``JobView``).

Records are pydantic models: what is read back from the store is validated, so a record written by another version
or damaged on disk is refused where it is read (the store skips it), never half-used further on.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from embedlab.training.compose import Composition
from embedlab.training.cross import METHOD as CROSS_METHOD
from embedlab.training.data import TrainingData
from embedlab.training.run import ProgressReport, Scores, TrainSettings
from embedlab.training.save import process_alive

State = Literal["queued", "running", "finished", "stopped", "failed", "interrupted"]
ACTIVE_STATES = ("queued", "running")
HEARTBEAT_S = 2.0  # a worker writes its heartbeat this often
STALE_S = 30.0  # a running job whose heartbeat is older is interrupted (its worker is gone)
HOST = socket.gethostname()


@dataclass(frozen=True)
class TrainRequest:
    """Everything one run needs. ``save_to``: the folder to save into; ``cross``: train a cross-encoder on the
    composition's start model (``embedlab.training.cross``) instead of a sentence embedder."""

    composition: Composition
    data: TrainingData
    settings: TrainSettings
    save_to: str
    eval_pairs: object = None  # a ScoredPairs, or None
    keep_partial: bool = True  # save the model when stopped by its owner
    cross: bool = False

    @property
    def method(self) -> str:
        return CROSS_METHOD if self.cross else self.data.method

    @property
    def method_label(self) -> str:
        """The method as the queue shows it: "cosent+matryoshka" when MatryoshkaLoss wraps the loss."""
        return CROSS_METHOD if self.cross else self.data.method_label

    @property
    def name(self) -> str:
        return Path(self.save_to).name


ENCODE_METHOD = "encode"  # the kind of job that encodes a corpus (embedlab.corpus) instead of training


@dataclass(frozen=True)
class EncodeRequest:
    """A corpus to encode: ``key`` names its stored corpus (``embedlab.corpus.store``: the folder
    ``<models_dir>/.corpora/<key>/`` holds the texts, the chunks go there), found by each worker under its own models
    directory, which must be the app's (shared, on another machine); ``model`` is the reference it is encoded with.
    Two requests for one key share one job."""

    model: str
    key: str
    source: str = ""
    n_texts: int = 0
    n_chunks: int = 0

    method = ENCODE_METHOD

    @property
    def name(self) -> str:
        return f"encode {Path(self.source).name or self.key}"[:80]


MAP_METHOD = "map"  # the kind of job that fits an encoded corpus's 2-D map (embedlab.corpus.mapping)
CORPUS_METHODS = (ENCODE_METHOD, MAP_METHOD)  # jobs on a stored corpus, not training runs


@dataclass(frozen=True)
class MapRequest:
    """The 2-D map of an encoded corpus to fit (``embedlab.corpus.mapping``): ``key`` names its stored corpus, as in
    ``EncodeRequest``; ``projection`` is the map's method ("auto", "umap" or "pca") and ``seed`` its random state; the
    map is written to ``map_path(<the corpus folder>, projection, seed)``. ``model`` (the corpus's model) and
    ``source`` are only shown. Two requests for one corpus, projection and seed share one job."""

    key: str
    projection: str
    seed: int
    model: str = ""
    source: str = ""
    n_texts: int = 0

    method = MAP_METHOD

    @property
    def name(self) -> str:
        return f"map {Path(self.source).name or self.key} ({self.projection})"[:80]


class _Stored(BaseModel):
    # NaN (an undefined AUC) is written as NaN, as json.dumps does, not as null (which would not read back)
    model_config = ConfigDict(extra="ignore", validate_assignment=True, ser_json_inf_nan="constants")


class WorkerEntry(_Stored):
    """A worker's registry entry (``worker.<id>``), and the copy a running job's record keeps of its worker."""

    id: str
    pid: int
    host: str
    heartbeat: float
    job: str | None = None
    claiming: bool = False  # between taking a task off the queue and its record saying "running"

    def gone(self, now: float) -> bool:
        """Whether this worker has stopped: a dead process on this host, or a heartbeat older than ``STALE_S``."""
        if now - self.heartbeat > STALE_S:
            return True
        return self.host == HOST and self.pid > 0 and not process_alive(self.pid)

    @property
    def text(self) -> str:
        return f"{self.host} pid {self.pid}"


class StopRequest(_Stored):
    """A stop asked by a run's owner or the admin (``stop.<id>``): a key of its own, so a stopper never overwrites
    the worker's progress."""

    at: float
    admin: bool = False
    keep_partial: bool = True


class JobRecord(_Stored):
    """One run as stored (``job.<id>``): written by whoever queues it, then only by the worker that trains it."""

    id: str
    seq: int
    name: str
    method: str
    model: str = ""
    source: str = ""
    composition: Composition | None = None
    seed: int = 0
    save_to: str = ""
    planned_steps: int = 0
    state: State = "queued"
    owner_hash: str = ""  # SHA-256 of the token that queued the run: compared, never shown
    browser_hash: str = ""  # SHA-256 of the browser that queued it: the per-browser cap counts these
    owner_label: str = ""
    created: float
    started: float | None = None
    finished: float | None = None
    progress: ProgressReport | None = None
    phase: str = ""
    message: str = ""
    worker: WorkerEntry | None = None
    steps: int = 0
    seconds: float = 0.0
    before: Scores | None = None
    after: Scores | None = None
    saved_to: str | None = None
    losses: list[tuple[int, float]] = []
    evals: list[tuple[int, float | None]] = []

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


@dataclass(frozen=True)
class JobView:
    """One run as a page or the command line shows it.

    ``mine`` is False for a caller that did not queue the run (and is not the admin): then the data source, the
    composition, the numbers, the error and the saved folder are left out (``redacted``).
    """

    job_id: str
    name: str
    method: str
    state: State
    created: float
    position: int | None = None  # 1 = next to start; queued runs only
    starts_in: float | None = None  # estimated seconds until it starts; queued runs only
    started: float | None = None
    finished: float | None = None
    latest: ProgressReport | None = None
    phase: str = ""
    owner_label: str = ""
    message: str = ""
    worker: str = ""
    stopping: bool = False
    mine: bool = True
    source: str = ""
    composition: Composition | None = None
    seed: int = 0
    save_to: str = ""
    saved_to: str | None = None
    before: Scores | None = None
    after: Scores | None = None
    losses: tuple[tuple[int, float], ...] = ()
    evals: tuple[tuple[int, float | None], ...] = ()
    steps: int = 0
    seconds: float = 0.0
    owner_hash: str = field(default="", repr=False)  # compared, never shown
    browser_hash: str = field(default="", repr=False)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def cross(self) -> bool:
        return self.method == CROSS_METHOD

    def redacted(self) -> JobView:
        """What everyone may see of a run: its name, method, state, position, progress and owner label."""
        return replace(
            self,
            mine=False,
            owner_hash="",
            browser_hash="",
            source="",
            composition=None,
            save_to="",
            saved_to=None,
            before=None,
            after=None,
            losses=(),
            evals=(),
            message="" if self.state == "failed" else self.message,
        )

    def as_row(self) -> dict:
        """For ``jobs --json`` and tables: plain values only."""
        latest = self.latest
        return {
            "id": self.job_id,
            "name": self.name,
            "method": self.method,
            "state": self.state,
            "position": self.position,
            "progress": None if latest is None else f"{latest.step}/{latest.total}",
            "owner": self.owner_label,
            "created": _iso(self.created),
            "finished": _iso(self.finished),
        }


def _iso(stamp: float | None) -> str | None:
    return None if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))
