"""Models held in memory: a least-recently-used map bounded by the bytes of the models' parameters, not only by
their number (issue 31 item 12)."""

from __future__ import annotations

import threading

import pytest
import torch

from embedlab.models.held import HeldModels, parameter_bytes


def test_parameter_bytes_counts_every_parameter_and_buffer():
    layer = torch.nn.Linear(10, 4)  # 44 float32 parameters
    norm = torch.nn.BatchNorm1d(4)  # 8 parameters, buffers: 4 + 4 float32 and one int64
    assert parameter_bytes(layer) == 44 * 4
    assert parameter_bytes(torch.nn.Sequential(layer, norm)) == (44 + 8 + 8) * 4 + 8
    assert parameter_bytes(layer.to(torch.float16)) == 44 * 2


def test_the_least_recently_used_go_when_the_bytes_pass_the_bound():
    held = HeldModels(size_of=len, max_entries=10)
    for key in "abc":
        held.get(key, lambda key=key: key * 40, max_bytes=100)  # 40 bytes each: two fit
    assert held.keys() == ("b", "c") and held.total_bytes() == 80
    held.get("b", lambda: pytest.fail("b is held"), max_bytes=100)  # used: now the most recent
    held.get("d", lambda: "d" * 40, max_bytes=100)
    assert held.keys() == ("b", "d")


def test_a_model_over_the_bound_is_held_alone_and_the_count_still_bounds():
    held = HeldModels(size_of=len, max_entries=2)
    held.get("small", lambda: "s", max_bytes=100)
    held.get("huge", lambda: "h" * 500, max_bytes=100)
    assert held.keys() == ("huge",)  # the one just loaded stays, whatever its size
    for key in "xyz":
        held.get(key, lambda key=key: key, max_bytes=100)
    assert held.keys() == ("y", "z")


def test_one_key_is_loaded_once_by_callers_at_the_same_time_and_errors_are_not_held():
    held = HeldModels(size_of=len, max_entries=4)
    started, release, loads = threading.Event(), threading.Event(), []

    def slow_load() -> str:
        loads.append(1)
        started.set()
        assert release.wait(10)
        return "model"

    first = threading.Thread(target=held.get, args=("m", slow_load, 100))
    first.start()
    assert started.wait(10)
    second_result: list[str] = []
    second = threading.Thread(target=lambda: second_result.append(held.get("m", slow_load, 100)))
    second.start()
    release.set()
    first.join(10)
    second.join(10)
    assert loads == [1] and second_result == ["model"]

    def broken() -> str:
        raise RuntimeError("cannot load")

    with pytest.raises(RuntimeError):
        held.get("bad", broken, max_bytes=100)
    assert "bad" not in held.keys()
