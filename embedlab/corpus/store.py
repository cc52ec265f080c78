"""The vectors of one corpus under one model revision, stored once, in a content-addressed folder.

``<models_dir>/.corpora/<key>/`` (hidden: no model box lists it), ``key`` = SHA-256 of the model's canonical key,
its revision (``embedlab.models.identity``: a local folder's weights digest, so a model retrained in place is a new
key) and the texts' digest. In the folder:

- ``meta.json``: model, revision, number of texts, chunk size, the texts' digest, where they came from;
- ``texts.jsonl``: one JSON string per line, row ``i`` = text ``i``;
- ``chunks/NNNNNN.npy``: float32 ``(rows, dim)`` of texts ``[N * chunk, (N + 1) * chunk)``, and beside it
  ``NNNNNN.json``: how many of those texts the tokenizer truncated. Each file is written under a temporary name
  and renamed (the json first, the ``.npy`` last): a chunk exists whole or not at all, so a job killed at any
  moment resumes at the first missing chunk.

Every writer of one folder writes the same bytes (the same texts, the same model), so two processes preparing the
same corpus at once do no harm. Readers use ``stored_vectors`` (or ``StoredCorpus.vectors``) instead of encoding
again.

Example:
    >>> stored = prepare_corpus("all-MiniLM-L6-v2", Corpus(("a cat", "a dog"), "pets.txt"))  # doctest: +SKIP
    >>> stored.complete, stored.n_chunks  # doctest: +SKIP
    (False, 1)
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from embedlab.corpus.texts import Corpus, texts_digest
from embedlab.errors import EmbedLabError
from embedlab.models.identity import ModelId, resolve_model
from embedlab.models.names import models_dir

CORPORA_FOLDER = ".corpora"  # under the models directory
DEFAULT_CHUNK = 1024  # texts per chunk: a worker checks its stop between chunks
META = "meta.json"
TEXTS = "texts.jsonl"


def corpus_key(model_id: ModelId, digest: str) -> str:
    """The folder name of (model revision, texts): 32 hex digits of SHA-256."""
    return hashlib.sha256(f"{model_id.key}\n{model_id.revision}\n{digest}".encode()).hexdigest()[:32]


def corpora_dir() -> Path:
    return models_dir() / CORPORA_FOLDER


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}-{secrets.token_hex(3)}")
    partial.write_bytes(data)
    os.replace(partial, path)


@dataclass(frozen=True)
class StoredCorpus:
    """One corpus folder. ``n_texts`` rows in chunks of ``chunk``."""

    folder: Path
    model: str
    revision: str
    n_texts: int
    chunk: int
    digest: str
    source: str = ""
    column: str = ""

    @property
    def key(self) -> str:
        return self.folder.name

    @property
    def n_chunks(self) -> int:
        return -(-self.n_texts // self.chunk)

    def chunk_path(self, index: int) -> Path:
        return self.folder / "chunks" / f"{index:06d}.npy"

    def chunk_rows(self, index: int) -> tuple[int, int]:
        """(first row, end row) of chunk ``index``."""
        return index * self.chunk, min(self.n_texts, (index + 1) * self.chunk)

    def done_chunks(self) -> list[int]:
        return [index for index in range(self.n_chunks) if self.chunk_path(index).exists()]

    @property
    def complete(self) -> bool:
        return len(self.done_chunks()) == self.n_chunks

    def texts(self) -> list[str]:
        with open(self.folder / TEXTS, encoding="utf-8") as lines:
            return [json.loads(line) for line in lines]

    def write_chunk(self, index: int, vectors: npt.NDArray[np.float32], truncated: int) -> None:
        """Store chunk ``index``: its truncation count, then its vectors (the file whose presence means done)."""
        first, end = self.chunk_rows(index)
        if vectors.shape[0] != end - first:
            raise ValueError(f"chunk {index} has {vectors.shape[0]} rows, expected {end - first}")
        path = self.chunk_path(index)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path.with_suffix(".json"), json.dumps({"truncated": int(truncated)}).encode())
        partial = path.with_name(f".{path.stem}.partial-{os.getpid()}-{secrets.token_hex(3)}.npy")
        np.save(partial, np.ascontiguousarray(vectors, dtype=np.float32))
        os.replace(partial, path)

    def truncated(self) -> int:
        """Texts of the written chunks that were longer than the model's length (cut by its tokenizer)."""
        total = 0
        for index in self.done_chunks():
            try:
                total += int(json.loads(self.chunk_path(index).with_suffix(".json").read_text())["truncated"])
            except (OSError, ValueError, KeyError):
                continue
        return total

    def vectors(self) -> npt.NDArray[np.float32]:
        """All the vectors, ``(n_texts, dim)`` float32; row ``i`` is text ``i``.

        Raises:
            EmbedLabError: a chunk is still missing (the encoding has not finished).
        """
        missing = self.n_chunks - len(self.done_chunks())
        if missing:
            raise EmbedLabError(
                f"The corpus {self.key} is not encoded yet: {missing} of {self.n_chunks} chunks are missing."
            )
        return np.concatenate([np.load(self.chunk_path(index)) for index in range(self.n_chunks)])


def open_corpus(folder: str | Path) -> StoredCorpus:
    """The corpus stored in ``folder``.

    Raises:
        EmbedLabError: no corpus there (on another machine: the models directory is not shared), or a damaged one.
    """
    folder = Path(folder)
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
        return StoredCorpus(
            folder=folder,
            model=str(meta["model"]),
            revision=str(meta["revision"]),
            n_texts=int(meta["n_texts"]),
            chunk=int(meta["chunk"]),
            digest=str(meta["digest"]),
            source=str(meta.get("source", "")),
            column=str(meta.get("column", "")),
        )
    except FileNotFoundError:
        raise EmbedLabError(
            f"No corpus in {folder}: a worker on another machine needs the same models directory as the app "
            "(EMBEDLAB_MODELS_DIR on a shared folder)."
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise EmbedLabError(f"The corpus folder {folder} is damaged ({error}): delete it and encode again.") from None


def find_corpus(model: str | ModelId, texts: tuple[str, ...] | list[str] | Corpus) -> StoredCorpus | None:
    """The stored corpus of these texts under this model's current revision, complete or not; None when absent."""
    model_id = model if isinstance(model, ModelId) else resolve_model(model)
    digest = texts.digest if isinstance(texts, Corpus) else texts_digest(texts)
    folder = corpora_dir() / corpus_key(model_id, digest)
    if not (folder / META).exists():
        return None
    return open_corpus(folder)


def stored_vectors(model: str | ModelId, texts: tuple[str, ...] | list[str]) -> npt.NDArray[np.float32] | None:
    """The read API: these texts' vectors under this model if a finished job stored them, else None (encode them,
    or queue ``prepare_corpus`` + an encode job)."""
    stored = find_corpus(model, texts)
    return stored.vectors() if stored is not None and stored.complete else None


def prepare_corpus(model: str | ModelId, corpus: Corpus, chunk: int = DEFAULT_CHUNK) -> StoredCorpus:
    """The folder of (model revision, texts), created with its texts if absent (an existing one keeps its chunk
    size and its chunks: what a resumed job reads).

    Raises:
        EmbedLabError: the model reference cannot be resolved, or the folder cannot be written.
    """
    model_id = model if isinstance(model, ModelId) else resolve_model(model)
    if model_id.kind == "vectors":
        raise EmbedLabError(
            f"{model_id.key} is an embeddings service: a corpus is encoded by the workers with a local "
            "sentence-transformers model (a saved folder or a Hub model)."
        )
    digest = corpus.digest
    folder = corpora_dir() / corpus_key(model_id, digest)
    if (folder / META).exists():
        return open_corpus(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(text, ensure_ascii=False) + "\n" for text in corpus.texts)
        _write_atomically(folder / TEXTS, lines.encode("utf-8"))
        meta = {
            "model": model_id.key,
            "revision": model_id.revision,
            "n_texts": len(corpus),
            "chunk": int(chunk),
            "digest": digest,
            "source": corpus.source,
            "column": corpus.column,
            "created": time.time(),
        }
        _write_atomically(folder / META, json.dumps(meta, indent=1).encode("utf-8"))  # last: the folder is ready
    except OSError as error:
        raise EmbedLabError(f"Cannot write the corpus folder {folder}: {error.strerror}.") from None
    return open_corpus(folder)
