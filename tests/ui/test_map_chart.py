"""The corpus map's frame: its files, and the selection it sends back (untrusted: whatever a browser posts)."""

from __future__ import annotations

import pytest

from components.projection import map_chart
from embedlab.corpus.mapping import selected_rows


def test_the_frame_folder_holds_the_page_and_the_installed_plotly_bundle():
    folder = map_chart._folder()
    assert (folder / "index.html").read_bytes() == map_chart.PAGE.read_bytes()
    bundle = (folder / "plotly.min.js").read_bytes()
    assert bundle == map_chart.BUNDLE.read_bytes() and b"plotly.js v" in bundle[:200]
    assert map_chart._folder() == folder  # written once, found again


@pytest.mark.parametrize(
    ("value", "rows"),
    [
        ({"rows": [5, 2, 2, 9]}, [2, 5, 9]),
        ({"rows": [3, -1, 10, 10**30]}, [3]),  # outside 0..9: dropped
        ({"rows": ["/etc/passwd", "../", "[a](http://127.0.0.1:9/x)", 4]}, [4]),
        ({"rows": [True, 1.0, None, {"rows": [1]}, [2]]}, []),  # not integers
        ({"rows": "1,2"}, []),
        (["rows", 1], []),
        (None, []),
        ("<script>alert(1)</script>", []),
    ],
)
def test_only_integer_rows_of_the_map_are_read_from_a_selection(value, rows):
    assert selected_rows(value, 10) == rows


def test_a_selection_reads_at_most_as_many_entries_as_the_map_has_rows():
    assert selected_rows({"rows": list(range(10**6))}, 10) == list(range(10))
    deep: object = [1]
    for _ in range(5000):  # nested lists from a browser: not integers, and never walked
        deep = [deep]
    assert selected_rows({"rows": [deep, 7]}, 10) == [7]
    assert selected_rows({"rows": [*range(10), 3]}, 3) == [0, 1, 2]
