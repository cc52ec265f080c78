"""A burst of new sessions is told from a visitor or two (embedlab/arrivals.py)."""

from __future__ import annotations

import threading

from embedlab.arrivals import Arrivals


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_the_count_of_others_within_the_window():
    clock = Clock()
    arrivals = Arrivals(count=3, window_s=2.0, clock=clock)
    assert [arrivals.burst() for _ in range(3)] == [False, False, False]  # fewer than 3 others before each
    assert arrivals.burst()  # the 4th within the window: 3 others arrived in the last 2 s
    clock.now += 1.9
    assert arrivals.burst()  # the last 3 arrived 0 and 1.9 s ago
    clock.now += 2.5
    assert not arrivals.burst()  # every other arrival is older than the window
    clock.now += 0.5
    assert not arrivals.burst() and not arrivals.burst()  # the oldest of the last 3: 4.9 s, then 3.0 s ago
    assert arrivals.burst()  # the last 3 arrived within 0.5 s


def test_visitors_spread_out_are_never_a_burst():
    clock = Clock()
    arrivals = Arrivals(count=4, window_s=2.0, clock=clock)
    seen = []
    for _ in range(20):
        seen.append(arrivals.burst())
        clock.now += 0.7  # four others in the last 2.8 s, at most 2 within 2 s
    assert not any(seen)


def test_arrivals_from_many_threads_are_all_counted():
    arrivals = Arrivals(count=50, window_s=60.0)
    answers: list[bool] = []
    lock = threading.Lock()

    def arrive() -> None:
        busy = arrivals.burst()
        with lock:
            answers.append(busy)

    threads = [threading.Thread(target=arrive) for _ in range(80)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count(False) == 50 and answers.count(True) == 30  # exactly the first 50 found fewer than 50
