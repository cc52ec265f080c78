"""A static model distilled here (``embedlab.training.distill``): made by the one runner from a tiny random model with
a small vocabulary (seconds), saved as a folder that plain ``SentenceTransformer`` / ``StaticEmbedding`` and
model2vec's ``StaticModel`` load, and scored by the app exactly as the plain library scores it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embedlab.errors import EmbedLabError
from embedlab.training.compose import Composition
from embedlab.training.distill import (
    MODEL2VEC_FOLDER,
    DistillMethod,
    distill_data,
    distill_settings,
    save_static,
)
from embedlab.training.methods import save_function, training_method
from embedlab.training.run import run_method

PAIRS = [
    ("the cat sat on the mat", "a cat was on the mat"),
    ("he plays the game", "she plays a game"),
    ("the city is big", "the man is old"),
    ("we went home", "they came back home"),
]


def small_vocab_bert(folder: Path) -> Path:
    """A tiny random BertModel (conftest's shape) whose WordPiece vocabulary is 1,200 pieces of the packaged one:
    the distillation passes every piece through the model once, so it takes about a second."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    from embedlab.models.loading import packaged_model_path
    from tests.conftest import TINY_SEED, TINY_SHAPE

    pieces = (Path(packaged_model_path()) / "vocab.txt").read_text(encoding="utf-8").splitlines()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = [piece for piece in pieces[1996:] if piece not in specials][:1200]
    tokenizer = BertTokenizerFast(vocab={piece: i for i, piece in enumerate(specials + words)}, do_lower_case=True)
    config = BertConfig(vocab_size=len(specials) + len(words), max_position_embeddings=128, **TINY_SHAPE)
    with torch.random.fork_rng():
        torch.manual_seed(TINY_SEED)
        model = BertModel(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def distilled(tmp_path_factory):
    """(start folder, the run's result, the saved folder): one distillation for the module."""
    start = small_vocab_bert(tmp_path_factory.mktemp("small-bert"))
    method = training_method("distill", Composition(str(start)), distill_data())
    assert isinstance(method, DistillMethod)
    reports = []
    result = run_method(method, distill_settings(), progress=reports.append)
    out = save_function("distill")(result, tmp_path_factory.mktemp("out") / "static")
    return start, result, out, reports


def test_the_runner_distils_in_one_step_and_measures_the_start_model_then_the_static_one(distilled):
    _, result, _, reports = distilled
    assert (result.steps, result.total_steps, result.stopped, result.method) == (1, 1, False, "distill")
    assert reports[0].step == 0 and reports[0].total == 1
    # before: the random tiny transformer (every cosine high); after: the static table (SIF-weighted, PCA-centred)
    assert result.before.baseline_mean > 0.5
    assert result.after.baseline_mean < result.before.baseline_mean - 0.3
    assert result.model[0].embedding_dim == 32  # PCA to 256 asked: never wider than the backbone's 32


def test_the_saved_folder_loads_with_the_plain_libraries_and_they_agree(distilled):
    from model2vec import StaticModel
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    _, result, out, _ = distilled
    plain = SentenceTransformer(str(out), device="cpu")
    assert isinstance(plain[0], StaticEmbedding) and len(plain) == 1
    # model2vec leaves unknown pieces out of the mean, StaticEmbedding averages [UNK] in: texts of known words
    words = [piece for piece in plain[0].tokenizer.get_vocab() if piece.isalpha()]
    texts = [" ".join(sorted(words)[i : i + 6]) for i in range(0, 600, 60)]
    assert all(1 not in plain[0].tokenizer.encode(text).ids for text in texts)  # 1: [UNK]
    ours = plain.encode(texts, convert_to_numpy=True)
    np.testing.assert_allclose(ours, result.model.encode(texts, convert_to_numpy=True), atol=1e-6)
    theirs = StaticModel.from_pretrained(str(out / MODEL2VEC_FOLDER)).encode(texts)

    def unit(x):
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    np.testing.assert_allclose(unit(ours), unit(np.asarray(theirs)), atol=1e-5)
    facts = json.loads((out / "training.json").read_text(encoding="utf-8"))
    assert facts["method"] == "distill" and facts["dims"] == 32 and facts["vocabulary"] == plain[0].num_embeddings


def test_the_app_scores_a_static_folder_as_the_plain_library_does(distilled):
    from sentence_transformers import SentenceTransformer

    from embedlab.scorers.registry import kind_of, open_scorer

    _, _, out, _ = distilled
    scorer = open_scorer(str(out))
    assert scorer.kind == "static" and scorer.can("vectors") and not scorer.can("layers")
    plain = SentenceTransformer(str(out), device="cpu")
    a = plain.encode([first for first, _ in PAIRS], convert_to_numpy=True)
    b = plain.encode([second for _, second in PAIRS], convert_to_numpy=True)
    expected = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    np.testing.assert_allclose(scorer.score(PAIRS), expected, atol=1e-6)
    assert kind_of(str(out)).kind == "static"
    with pytest.raises(EmbedLabError, match="static model"):
        scorer.require("tokens", "the token view")


def test_save_static_refuses_a_folder_that_is_not_empty(distilled, tmp_path):
    _, result, _, _ = distilled
    (tmp_path / "taken.txt").write_text("x", encoding="utf-8")
    with pytest.raises(EmbedLabError, match="not empty"):
        save_static(result, tmp_path)


def test_missing_model2vec_says_what_to_install(tmp_path):
    """With model2vec's distillation unimportable (as without skeletoken), the method refuses in one line."""
    code = (
        "import sys; sys.modules['model2vec.distill'] = None\n"
        "from embedlab.training.distill import DistillMethod, distill_data\n"
        "from embedlab.training.compose import Composition\n"
        "from embedlab.errors import EmbedLabError\n"
        "try:\n    DistillMethod(Composition('all-MiniLM-L6-v2'), distill_data())\n"
        "except EmbedLabError as e:\n    print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert "model2vec and skeletoken" in done.stdout and "requirements-fast.txt" in done.stdout


# ---------------------------------------------------------------- the command line and the queue

REPO = Path(__file__).resolve().parents[2]


def test_distill_command_saves_a_static_model_that_score_reads(distilled, tmp_path, capsys):
    from embedlab.cli import main

    start, _, _, _ = distilled
    out = tmp_path / "cli-static"
    assert main(["distill", "--model", str(start), "--out", str(out), "--dims", "16", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["kind"] == "static" and payload["dims"] == 16 and payload["out"] == str(out)
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("sentence1,sentence2\n" + "\n".join(f"{a},{b}" for a, b in PAIRS) + "\n", encoding="utf-8")
    assert main(["score", str(pairs), "--model", str(out), "--json"]) == 0
    scored = capsys.readouterr().out
    assert '"kind": "static"' in scored


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["--dims", "1"], "width must be 2 to 4096"),
        (["--model", "http://127.0.0.1:9/v1#m"], "training"),
        (["--out", "TAKEN"], "not empty"),
    ],
    ids=["dims", "vectors-only-start", "out-taken"],
)
def test_distill_command_refuses_bad_input_in_one_line_exit_2(distilled, tmp_path, capsys, arguments, said):
    from embedlab.cli import main

    start, _, _, _ = distilled
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x", encoding="utf-8")
    given = {"--model": str(start), "--out": str(tmp_path / "new")}
    pairs = dict(zip(arguments[::2], arguments[1::2], strict=True))
    given.update({key: str(tmp_path / "taken") if value == "TAKEN" else value for key, value in pairs.items()})
    argv = ["distill", *[part for item in given.items() for part in item]]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and said in err


def test_a_queued_distillation_is_made_by_a_worker(distilled, tmp_path, monkeypatch, capsys):
    from embedlab.cli import main
    from embedlab.models.static import is_static_folder
    from embedlab.training.queue import JobQueue
    from tests.helpers import wait_for
    from tools.offline import offline_environment

    start, _, _, _ = distilled
    models = tmp_path / "models"
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(models))
    monkeypatch.delenv("EMBEDLAB_QUEUE", raising=False)
    out = models / "queued-static"
    assert main(["distill", "--model", str(start), "--out", str(out), "--queue"]) == 0
    job = capsys.readouterr().out.strip()
    jobs = JobQueue()
    view = jobs.view(job)
    assert view.method == "distill" and view.state == "queued"
    env = offline_environment()
    env.update(EMBEDLAB_MODELS_DIR=str(models), PYTHONPATH=str(REPO))
    worker = subprocess.Popen(
        [sys.executable, "-m", "embedlab", "worker", "--threads", "1"],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        done = wait_for(lambda: (v := jobs.view(job)) is not None and not v.active and v, "the distillation", 300)
    finally:
        worker.kill()
        worker.wait(timeout=60)
    assert done.state == "finished", done.message
    assert is_static_folder(out)  # saved where asked (a view for someone else does not say where)


def test_the_cost_table_takes_the_static_model_as_a_variant_of_its_start_model(distilled):
    import pandas as pd

    from embedlab.embedding.specs import EmbedSpec
    from embedlab.tasks.sts import ScoredPairs
    from embedlab.tasks.variants import cost_table

    start, _, out, _ = distilled
    firsts, seconds = [a for a, _ in PAIRS], [b for _, b in PAIRS]
    sts = ScoredPairs("pairs", tuple(firsts), tuple(seconds), (4.5, 3.0, 0.5, 4.0), 5.0)
    suite = pd.DataFrame({"sentence1": firsts, "sentence2": seconds, "label": [1, 1, 0, 1]})
    table = cost_table(str(start), [EmbedSpec(str(out))], sts, suite)
    assert len(table.rows) == 2 and table.rows.speed_x.iloc[0] == 1.0
    assert table.rows.speed_x.iloc[1] > 0 and table.rows.bytes_per_vector.iloc[1] == 32 * 4
    with pytest.raises(EmbedLabError, match="not a variant"):
        cost_table("all-MiniLM-L6-v2", [EmbedSpec(str(out))], sts, suite)
