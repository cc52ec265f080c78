"""The project's bundled corpora and their paths: one place that knows where ``assets/`` is.

Every bundled file here was written for the project (none is taken from a benchmark); the STS benchmark's paths
name files outside the repository. Readers that need parsing (pairs, labelled pairs, scored pairs) live with
their task; this module only names the files and reads the plain sentence list that post-processing and
random-pair baselines use.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"
REFERENCE_FILE = ASSETS / "reference_sentences.txt"  # 320 varied sentences: baselines and the default fit corpus
NEGTEST_FILE = ASSETS / "negtest_pairs.csv"  # the bundled labelled negative-test suite
STS_MINI_FILE = ASSETS / "sts_mini.csv"  # a small scored set, NOT the STS benchmark
PROJECTION_FILE = ASSETS / "projection_sentences.csv"  # 400 labelled sentences in 8 topics, with paraphrase groups

# The STS benchmark is NOT bundled: its official splits may sit beside the repository (never inside it), in
# ../shared/data/stsbenchmark/ from the repository root, whatever the working directory. A plain clone lacks them:
# whoever reads these paths checks that they exist and falls back on the bundled files above.
STS_BENCHMARK_DIR = ASSETS.parent.parent / "shared" / "data" / "stsbenchmark"
STS_TRAIN_FILE = STS_BENCHMARK_DIR / "sts-train.csv"
STS_DEV_FILE = STS_BENCHMARK_DIR / "sts-dev.csv"


def sts_splits() -> dict[str, Path]:
    """The STS benchmark splits beside the repository that are there now: {"train": path, "dev": path}, or fewer."""
    splits = {"train": STS_TRAIN_FILE, "dev": STS_DEV_FILE}
    return {name: path for name, path in splits.items() if path.is_file()}


@lru_cache(maxsize=1)
def reference_sentences() -> tuple[str, ...]:
    """The project's reference corpus: a few hundred varied sentences, one per line, de-duplicated in order."""
    lines = REFERENCE_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(dict.fromkeys(line.strip() for line in lines if line.strip()))
