"""The encoders every session shares are bounded by the size of their models, not only by their number
(issue 31 item 12: a class typing thirty model names must not fill the server's memory)."""

from __future__ import annotations

import shutil

from components.shared import services


def model_bytes(encoder) -> int:
    module = encoder.model.st_model
    return sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])


def test_the_least_recently_used_encoder_goes_when_the_models_pass_the_size_bound(tiny_st_dir, tmp_path, monkeypatch):
    services.get_encoder.clear()
    one, two = (shutil.copytree(tiny_st_dir, tmp_path / name) for name in ("one", "two"))
    first = services.get_encoder(str(one))
    assert services.get_encoder(str(one)) is first  # held for the next session
    services.get_encoder(str(two))
    assert services.get_encoder(str(one)) is first  # two tiny models fit the default bound (and the count)

    monkeypatch.setenv("EMBEDLAB_MAX_MODELS_MB", f"{model_bytes(first) * 1.5 / 1e6}")  # room for one and a half
    services.get_encoder.clear()
    first = services.get_encoder(str(one))
    second = services.get_encoder(str(two))  # over the bound together: ``one``, the least recently used, goes
    assert services.get_encoder(str(two)) is second
    assert services.get_encoder(str(one)) is not first  # loaded again (and ``two`` let go in turn)
    assert services.get_encoder(str(two)) is not second
    services.get_encoder.clear()
