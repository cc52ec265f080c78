"""The README's test command stays green on a plain clone, which has no ``../shared`` beside it.

CI has the STS benchmark there and requires the tests that read it (EMBEDLAB_REQUIRE_SHARED=1), so it never sees
a newcomer's run. Here the Train page's tests run in a separate pytest with the benchmark hidden from the app and
the tests (tests/plainclone.py): the Train page opens on other defaults there, and every test that relies on the
benchmark must skip, naming the folder, instead of failing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

from tests.conftest import REPO_ROOT, REQUIRE_SHARED

# The tests that open the Train page on its defaults. The runs that wait for a training worker are left out here
# (-k): they choose their method and data themselves, and they take most of the file's time.
TRAIN_PAGE = "tests/ui/test_train_page.py"
NOT_THE_RUNS = "not run"
NEEDS_THE_BENCHMARK = {  # the tests that failed on a plain clone before they asked for the benchmark
    "test_each_method_starts_from_its_own_learning_rate_and_keeps_what_was_typed",
    "test_every_number_box_takes_its_bounds_from_the_engine",
    "test_a_cross_encoder_refuses_a_dense_layer_before_start",
    "test_with_the_sts_benchmark_beside_the_repository_the_page_opens_on_it",
}
RUN_TIMEOUT_S = 900


def test_without_the_shared_folder_the_train_page_tests_skip_instead_of_failing(tmp_path):
    report = tmp_path / "report.xml"
    env = {key: value for key, value in os.environ.items() if key != REQUIRE_SHARED and not key.startswith("PYTEST_")}
    command = [sys.executable, "-m", "pytest", "-p", "tests.plainclone", "-p", "no:cacheprovider", "-q", TRAIN_PAGE]
    command += ["-k", NOT_THE_RUNS, f"--junitxml={report}", f"--basetemp={tmp_path / 'base'}"]
    finished = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
    )
    assert finished.returncode == 0, finished.stdout[-5000:] + finished.stderr[-3000:]

    outcomes = {}
    for case in ElementTree.parse(report).iter("testcase"):
        skipped = case.find("skipped")
        outcomes[case.get("name")] = "skipped" if skipped is not None else "passed"
        if skipped is not None:
            assert "STS benchmark" in skipped.get("message", ""), skipped.get("message")
    skipped_tests = {name for name, outcome in outcomes.items() if outcome == "skipped"}
    assert skipped_tests == NEEDS_THE_BENCHMARK, outcomes
    # The page's own plain-clone test ran, and so did the other tests of the page on its defaults.
    assert outcomes["test_a_plain_clone_without_the_sts_benchmark_opens_on_the_bundled_data"] == "passed"
    assert len(outcomes) - len(skipped_tests) >= 5, outcomes
