"""Stored corpus vectors looked up by text: what ``Encoder.embed`` reads instead of running the model.

A finished encode job (``store``) holds the model's own-pipeline vectors (float32, ``SentenceTransformer.encode``)
of every text of a corpus under one model revision. ``StoredLookup`` indexes, for one ``ModelId`` (key and
revision), every complete corpus folder of that model and revision under the models directory, text by text, so any
page or command asking that model's own vectors of texts of a stored corpus (the whole corpus or any subset, in any
order, mixed with other texts) reads them from the chunks (memory-mapped) instead of encoding them again.

Only the own pipeline as stored is served: no raw pooling, no post-processing, no smaller precision (the caller
checks the spec, ``serves``). A folder is indexed once it is complete; the index is rebuilt when a folder appears,
goes, or gains a chunk (the folder's ``chunks`` mtime), so a corpus finishing while the app runs is used from the
next call. Random-weight models (``untrained``) are never looked up: two loads are two different networks.

Example:
    >>> found = StoredLookup(resolve_model("all-MiniLM-L6-v2")).find(["a cat", "a dog"])  # doctest: +SKIP
    >>> sorted(found)  # the texts a finished job stored, with their vectors  # doctest: +SKIP
    ['a cat', 'a dog']
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from embedlab.corpus.store import META, StoredCorpus, corpora_dir, open_corpus
from embedlab.errors import EmbedLabError
from embedlab.models.identity import ModelId

_Stamp = tuple[tuple[str, int], ...]  # (folder name, chunks mtime) of the matching folders


class StoredLookup:
    """Text -> stored own-pipeline vector for one model revision; thread-safe, one per ``Encoder``."""

    def __init__(self, model_id: ModelId) -> None:
        self.model_id = model_id
        self._lock = threading.Lock()
        self._meta: dict[str, tuple[str, str] | None] = {}  # folder name -> (model, revision); None: unreadable
        self._stamp: _Stamp | None = None
        self._rows: dict[str, tuple[int, int]] = {}  # text -> (corpus number, row)
        self._corpora: list[tuple[StoredCorpus, list[npt.NDArray[np.float32]]]] = []  # memory-mapped chunks
        self._folders: dict[str, tuple[int, tuple | None]] = {}  # name -> (chunks mtime, what _open gave)
        self.vectors_read = 0  # texts served from the store (tests count them)

    def _matching(self) -> _Stamp:
        """The (folder, chunks mtime) of every folder of this model and revision, read with a few stats."""
        root = corpora_dir()
        found = []
        try:
            entries = list(os.scandir(root))
        except OSError:
            return ()
        for entry in entries:
            if entry.name not in self._meta:
                try:
                    meta = json.loads(Path(entry.path, META).read_text(encoding="utf-8"))
                    self._meta[entry.name] = (str(meta["model"]), str(meta["revision"]))
                except (OSError, ValueError, KeyError, TypeError):
                    continue  # being written, or not a corpus folder: looked at again next time
            if self._meta[entry.name] != (self.model_id.key, self.model_id.revision):
                continue
            try:
                found.append((entry.name, os.stat(Path(entry.path, "chunks")).st_mtime_ns))
            except OSError:
                continue  # no chunk written yet
        return tuple(sorted(found))

    def _open(self, name: str) -> tuple[StoredCorpus, list[npt.NDArray[np.float32]], list[str]] | None:
        """A complete, readable corpus folder's (corpus, memory-mapped chunks, texts); None otherwise (a folder
        still being encoded costs a few stats here, its texts are read once it is complete)."""
        try:
            stored = open_corpus(corpora_dir() / name)
            if not stored.complete:
                return None
            chunks = [np.load(stored.chunk_path(i), mmap_mode="r") for i in range(stored.n_chunks)]
            texts = stored.texts()
        except (EmbedLabError, OSError, ValueError):
            return None
        if len(texts) != stored.n_texts or any(chunk.dtype != np.float32 for chunk in chunks):
            return None
        return stored, chunks, texts

    def _refresh(self) -> None:
        """Reopen only the folders whose chunks changed; rebuild the text index only when the set of complete
        corpora changed (a corpus being encoded beside them does not make the others be read again)."""
        stamp = self._matching()
        if stamp == self._stamp:
            return
        changed = False
        for name, mtime in stamp:
            known = self._folders.get(name)
            if known is not None and known[0] == mtime:
                continue
            opened = self._open(name)
            self._folders[name] = (mtime, opened)
            changed = changed or opened is not None or (known is not None and known[1] is not None)
        for name in set(self._folders) - {name for name, _ in stamp}:
            changed = changed or self._folders.pop(name)[1] is not None
        if changed:
            rows: dict[str, tuple[int, int]] = {}
            corpora = []
            for _, opened in sorted((name, entry[1]) for name, entry in self._folders.items() if entry[1]):
                stored, chunks, texts = opened
                number = len(corpora)
                corpora.append((stored, chunks))
                for row, text in enumerate(texts):
                    rows.setdefault(text, (number, row))
            self._rows, self._corpora = rows, corpora
        self._stamp = stamp

    def find(self, texts: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        """The stored vector of each of ``texts`` that a complete corpus of this model revision holds."""
        if self.model_id.kind in ("untrained", "vectors"):
            return {}
        with self._lock:
            self._refresh()
            if not self._rows:
                return {}
            found: dict[str, npt.NDArray[np.float32]] = {}
            for text in texts:
                if text in found or text not in self._rows:
                    continue
                number, row = self._rows[text]
                stored, chunks = self._corpora[number]
                found[text] = np.array(chunks[row // stored.chunk][row % stored.chunk], dtype=np.float32)
            self.vectors_read += len(found)
            return found
