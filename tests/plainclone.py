"""A pytest plugin that runs tests as in a plain clone, without ``../shared`` beside the repository.

``python -m pytest -p tests.plainclone ...`` points the STS benchmark's paths (``embedlab.corpora``, where the app
and the ``sts_benchmark`` fixture look) at an empty folder, without moving any file: the app opens as it does for a
newcomer, and the tests that need the benchmark skip (or fail, with EMBEDLAB_REQUIRE_SHARED=1). Used by
tests/ui/test_plain_clone.py, which keeps the README's test command green on a plain clone.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

_EMPTY = tempfile.TemporaryDirectory(prefix="embedlab-no-shared-")  # removed when the test process ends


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    from embedlab import corpora

    folder = Path(_EMPTY.name) / "stsbenchmark"  # never created: the folder a plain clone lacks
    corpora.STS_BENCHMARK_DIR = folder
    corpora.STS_TRAIN_FILE = folder / "sts-train.csv"
    corpora.STS_DEV_FILE = folder / "sts-dev.csv"
