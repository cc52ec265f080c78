"""Which visits get Compare's first look while the server starts: a plain visit to Compare only."""

from __future__ import annotations

import pytest

from embedlab.tasks.first_look import plain_compare_address


@pytest.mark.parametrize(
    ("url", "base", "params", "expected"),
    [
        ("http://127.0.0.1:8501/", "", {}, True),
        ("http://127.0.0.1:8501", "", {}, True),
        ("http://127.0.0.1:8501/compare", "", {}, True),
        ("http://lab.example/class/", "class", {}, True),
        ("http://lab.example/class/compare", "/class/", {}, True),
        ("http://127.0.0.1:8501/tokens", "", {}, False),
        ("http://127.0.0.1:8501/", "", {"view": "eyJwIjoxfQ"}, False),  # a shared view: the page applies it
        ("http://lab.example/other/compare", "class", {}, False),
        ("http://127.0.0.1:8501/compare/../etc/passwd", "", {}, False),
        ("", "", {}, True),  # no address known (an old browser): the default page
    ],
)
def test_only_a_plain_visit_to_compare_gets_the_first_look(url, base, params, expected):
    assert plain_compare_address(url, base, params) is expected
