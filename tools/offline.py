"""The environment that keeps the Hugging Face libraries off the network: one helper for tests, tools and benches.

Dependency-free on purpose: ``tests/conftest.py`` and ``bench/_common.py`` import it before anything imports the
Hugging Face libraries (which read these variables once, on their first import).

    >>> offline_environment(EMBEDLAB_SERVED="1")["HF_HUB_OFFLINE"]
    '1'
"""

from __future__ import annotations

import os

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def offline_environment(**overrides: str) -> dict[str, str]:
    """A copy of ``os.environ`` with ``OFFLINE_ENV`` (no Hub, quiet tokenizers), then ``overrides``: the
    environment of a subprocess that must not reach the network."""
    return {**os.environ, **OFFLINE_ENV, **overrides}
