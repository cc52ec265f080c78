"""A model's backbone through ONNX Runtime or OpenVINO (``embedlab.models.backends``, ``embedlab.scorers.backend``):
fp32 scores equal PyTorch's to 1e-4, int8 moves them a little, exports are cached per revision, and a missing
package, a failed export, and a model with nothing to export each get one clear message."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from embedlab import cli
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.models import backends
from embedlab.models.identity import resolve_model
from embedlab.models.registry import model_label
from embedlab.scorers.backend import BackendScorer
from embedlab.scorers.registry import kind_of, open_scorer
from tests.helpers import one_line_error

PAIRS = [
    ("How old are you?", "What is your age?"),
    ("A man is playing a guitar.", "A man plays the guitar loudly."),
    ("The cat sat on the mat.", "Stock markets fell sharply on Monday."),
    ("Volcanoes erupt at night.", "The night is dark and cold."),
]
TEXTS = [text for pair in PAIRS for text in pair]


@pytest.fixture(scope="module")
def export_cache(tmp_path_factory):
    """Exports of the packaged model go to a cache of this module's own (``$XDG_CACHE_HOME``)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield backends.cache_root()


@pytest.fixture(scope="module")
def torch_scores():
    scorer = open_scorer("all-MiniLM-L6-v2")
    return scorer.score(PAIRS), scorer.encode(TEXTS)


@pytest.mark.parametrize("ref", ["all-MiniLM-L6-v2 (ONNX)", "all-MiniLM-L6-v2 (OpenVINO)"])
def test_fp32_backends_score_as_pytorch_to_1e4(export_cache, torch_scores, ref):
    scorer = open_scorer(ref)
    assert type(scorer) is BackendScorer and scorer.can("vectors") and not scorer.can("tokens")
    cosines, vectors = torch_scores
    np.testing.assert_allclose(scorer.score(PAIRS), cosines, atol=1e-4)
    np.testing.assert_allclose(scorer.encode(TEXTS), vectors, atol=1e-4)
    facts = scorer.encoder.model.facts
    assert facts.embedding_dim == 384 and "backbone run by" in facts.pipeline
    assert scorer.engine.vectors_model.path.parent.is_relative_to(export_cache)  # not inside the package


def test_onnx_int8_moves_scores_a_little_and_its_export_is_cached(export_cache, torch_scores):
    scorer = open_scorer("all-minilm-l6-v2 (onnx int8)")  # any spelling: one key
    assert scorer.ref == "all-MiniLM-L6-v2 (ONNX int8)"
    drift = np.abs(scorer.score(PAIRS) - torch_scores[0])
    assert 1e-4 < drift.max() < 0.1  # int8 weights: not the fp32 numbers, but close
    path = scorer.engine.vectors_model.path
    stamp = path.stat().st_mtime_ns
    again = open_scorer("all-MiniLM-L6-v2 (ONNX int8)")
    assert again.engine.vectors_model.path == path and path.stat().st_mtime_ns == stamp  # not exported again
    assert not [entry for entry in path.parent.iterdir() if entry.name.startswith(".partial-")]


def test_a_saved_folder_is_exported_beside_itself_per_revision(tmp_path, make_tiny_st):
    folder = make_tiny_st(tmp_path / "mine", seed=3)
    model_id = resolve_model(f"{folder} (ONNX)")
    assert model_id.key == f"{folder} (ONNX)" and model_id.revision == resolve_model(str(folder)).revision
    scorer = open_scorer(f"{folder} (ONNX)")
    np.testing.assert_allclose(scorer.encode(TEXTS), open_scorer(str(folder)).encode(TEXTS), atol=1e-4)
    path = scorer.engine.vectors_model.path
    assert path.parent == folder / ".embedlab-backends" / model_id.revision
    assert model_label(f"{folder} (ONNX)") == f"{folder} (ONNX)"  # outside the models directory: the path


def test_options_beyond_the_own_pipeline_are_refused_before_loading(monkeypatch):
    monkeypatch.setattr(BackendScorer, "load_engine", classmethod(lambda cls, *a, **k: pytest.fail("loaded")))
    assert kind_of("all-MiniLM-L6-v2 (OpenVINO int8)") is BackendScorer
    with pytest.raises(EmbedLabError, match=r"runs the backbone through an exported engine .* --pooling cls"):
        open_scorer("all-MiniLM-L6-v2 (ONNX)", EmbedSpec("all-MiniLM-L6-v2 (ONNX)", pooling="cls"))
    with pytest.raises(EmbedLabError, match="the token view"):
        kind_of("all-MiniLM-L6-v2 (ONNX)").refuse_unless("all-MiniLM-L6-v2 (ONNX)", "tokens", "the token view")


def test_a_missing_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if it were not installed
    with pytest.raises(EmbedLabError, match=r"needs the optional package openvino: pip install -r requirements-fast"):
        open_scorer("all-MiniLM-L6-v2 (OpenVINO)")


def test_a_failed_export_is_one_line_and_leaves_nothing(export_cache, tmp_path, make_tiny_st, monkeypatch):
    import torch

    def broken(*args, **kwargs):
        raise RuntimeError("Unsupported operator aten::frobnicate\nlong trace")

    monkeypatch.setattr(torch.onnx, "export", broken)
    folder = make_tiny_st(tmp_path / "broken", seed=4)
    with pytest.raises(EmbedLabError, match=r"^Could not export .* to ONNX: Unsupported operator aten::frobnicate$"):
        open_scorer(f"{folder} (ONNX int8)")
    assert not list((folder / ".embedlab-backends").rglob("*.onnx"))
    assert not [entry for entry in (folder / ".embedlab-backends").rglob(".partial-*")]


def test_models_with_nothing_to_export_are_refused(cross_dir, service):
    with pytest.raises(EmbedLabError, match="has no ONNX or OpenVINO export: it is a cross-encoder"):
        open_scorer(f"{cross_dir} (ONNX int8)")
    endpoint = f"{service.base_url}#all-MiniLM-L6-v2"
    with pytest.raises(EmbedLabError, match="has no ONNX or OpenVINO export: it is an embeddings service"):
        open_scorer(f"{endpoint} (OpenVINO)")


def test_the_command_line_takes_backend_and_quantize(
    export_cache, torch_scores, tmp_path, capsys, cross_dir, monkeypatch
):
    opened = open_scorer("all-MiniLM-L6-v2 (ONNX)").engine  # exported above: the command shares its engine
    monkeypatch.setattr(cli.common, "load_engine", lambda kind, model_id: opened)
    pairs_file = tmp_path / "pairs.csv"
    pairs_file.write_text("sentence1,sentence2\n" + "".join(f'"{a}","{b}"\n' for a, b in PAIRS), encoding="utf-8")
    assert cli.main(["score", str(pairs_file), "--model", "all-MiniLM-L6-v2", "--backend", "onnx", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == "all-MiniLM-L6-v2 (ONNX)" and report["kind"] == "backend"
    np.testing.assert_allclose([pair["cosine"] for pair in report["pairs"]], torch_scores[0], atol=1e-4)
    assert cli.main(["score", str(pairs_file), "--model", "all-MiniLM-L6-v2", "--quantize", "int8"]) == 2
    assert "needs --backend onnx or --backend openvino" in one_line_error(capsys)
    args = ["score", str(pairs_file), "--model", str(cross_dir), "--backend", "onnx", "--quantize", "int8"]
    assert cli.main(args) == 2
    assert "it is a cross-encoder, which has no sentence vectors" in one_line_error(capsys)


def test_the_server_setting_names_an_fp32_engine_and_checks_it(export_cache, torch_scores, monkeypatch):
    from embedlab.settings import SettingsError, get_settings

    assert backends.fast_variant("all-MiniLM-L6-v2") is None  # unset: PyTorch
    monkeypatch.setenv("EMBEDLAB_FAST_BACKEND", "onnx")
    assert backends.fast_variant("all-MiniLM-L6-v2") == "all-MiniLM-L6-v2 (ONNX)"
    assert backends.fast_variant("all-MiniLM-L6-v2 (ONNX int8)") is None  # a variant chosen is kept as chosen
    vectors = torch_scores[1]
    assert backends.keeps_scores(vectors, open_scorer("all-MiniLM-L6-v2 (ONNX)").encode(TEXTS))
    assert not backends.keeps_scores(vectors, open_scorer("all-MiniLM-L6-v2 (ONNX int8)").encode(TEXTS))
    monkeypatch.setenv("EMBEDLAB_FAST_BACKEND", "onnx-int8")
    with pytest.raises(SettingsError, match="EMBEDLAB_FAST_BACKEND='onnx-int8': .*int8 is never used silently"):
        get_settings()
