"""What a score means: calibration of the packaged model fitted on the STS train split and judged on the dev split.

Prints, for isotonic regression and Platt scaling, the Brier score and expected calibration error of the raw cosine
read as a probability (before) and of the calibrated probability (after) on the 1,500 dev pairs (a gold score of
4.0 or more of 5 = "same meaning"), the cosine threshold for 90 % precision with its bootstrap interval, and what
the fit costs (encoding the train split once; the second method reuses the cached vectors).

    python bench/bench_calibration.py [--model all-MiniLM-L6-v2]
"""

from __future__ import annotations

import argparse

import _common  # noqa: F401  (offline, and the repository on sys.path)

from embedlab import corpora
from embedlab.scorers.registry import open_scorer
from embedlab.tasks.calibration import calibrate, from_scored, threshold_text
from embedlab.tasks.sts import read_scored_pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    args = parser.parse_args()
    if set(corpora.sts_splits()) != {"train", "dev"}:
        raise SystemExit(f"the STS splits are not in {corpora.STS_BENCHMARK_DIR}")
    train = from_scored(read_scored_pairs(corpora.STS_TRAIN_FILE))
    dev = from_scored(read_scored_pairs(corpora.STS_DEV_FILE))
    scorer = open_scorer(args.model)
    print(f"{scorer.label}: fit on {train.name} ({len(train):,} pairs, {sum(train.labels):,} same meaning), judged on")
    print(f"{dev.name} ({len(dev):,} pairs, {sum(dev.labels):,} same meaning); labels: {train.how}")
    reports = {}
    for method in ("isotonic", "platt"):
        start = _common.time.perf_counter()
        report = reports[method] = calibrate(scorer, train, dev, method)
        took = _common.time.perf_counter() - start
        print(
            f"{method:<9} before: Brier {report.before.brier:.4f} ECE {report.before.ece:.4f} · after: Brier "
            f"{report.after.brier:.4f} ECE {report.after.ece:.4f} · {took:.1f} s "
            f"({scorer.work_done:,} texts encoded so far)"
        )
    print(threshold_text(report.threshold, report.score_name))
    for method, report in reports.items():
        print(f"what a score means ({method}): " + report.text_lines()[-1].split(": ", 1)[1])


if __name__ == "__main__":
    main()
