"""Models held in memory for every session, bounded by the bytes of their parameters, not only by their number.

A server keeps each model it loaded so the next session need not load it again; a class typing thirty model
names must not fill the memory. ``HeldModels`` is a least-recently-used map bounded by count and by total size
(``size_of`` of each value, e.g. ``parameter_bytes``): adding a model evicts the least recently used ones until
both bounds hold; the model just added is always kept, even alone over the size bound. Two callers asking for one
key at once load it once (the second waits); different keys load in parallel.

Example:
    >>> held = HeldModels(size_of=len, max_entries=4)
    >>> held.get("a", lambda: "xxxx", max_bytes=6), held.get("b", lambda: "yyyy", max_bytes=6)
    ('xxxx', 'yyyy')
    >>> held.keys()  # "a" was evicted: 4 + 4 bytes is over 6
    ('b',)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


def parameter_bytes(module) -> int:
    """Bytes of a torch module's parameters and buffers (what holding it costs, roughly)."""
    tensors = [*module.parameters(), *module.buffers()]
    return int(sum(tensor.numel() * tensor.element_size() for tensor in tensors))


class HeldModels(Generic[Value]):
    """A thread-safe LRU of loaded models, bounded by ``max_entries`` and by the total of ``size_of``."""

    def __init__(self, size_of: Callable[[Value], int], max_entries: int) -> None:
        self._size_of = size_of
        self._max_entries = max_entries
        self._held: OrderedDict[Hashable, tuple[Value, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, load: Callable[[], Value], max_bytes: int) -> Value:
        """The value held for ``key``, else ``load()`` (outside the lock), held and returned; errors are not held."""
        with self._lock:
            if key in self._held:
                self._held.move_to_end(key)
                return self._held[key][0]
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._held:  # loaded by the caller this one waited for
                    self._held.move_to_end(key)
                    return self._held[key][0]
            try:
                value = load()
                size = int(self._size_of(value))
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            with self._lock:
                self._held[key] = (value, size)
                self._evict(max_bytes)
        return value

    def _evict(self, max_bytes: int) -> None:
        while len(self._held) > 1 and (len(self._held) > self._max_entries or self._total() > max_bytes):
            self._held.popitem(last=False)

    def _total(self) -> int:
        return sum(size for _, size in self._held.values())

    def total_bytes(self) -> int:
        """Bytes held now (the sum of ``size_of`` of every value)."""
        with self._lock:
            return self._total()

    def keys(self) -> tuple[Hashable, ...]:
        """The keys held, least recently used first."""
        with self._lock:
            return tuple(self._held)

    def clear(self) -> None:
        with self._lock:
            self._held.clear()
