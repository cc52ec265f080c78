"""The command line: two real `python -m embedlab` runs (started together), the rest in-process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from embedlab import cli
from embedlab.data.pairfiles import read_pairs
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.scoring import random_pair_baseline
from embedlab.embedding.specs import EmbedSpec
from tests.helpers import one_line_error
from tools.offline import offline_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
M = "all-MiniLM-L6-v2"
PAIRS_CSV = (
    "sentence1,sentence2,label\n"
    "What is your age?,How old are you?,1\n"
    '"The committee, after a long discussion, postponed the vote on the budget.",Short.,0\n'
    'A man is playing a guitar.,"He said ""play it again"".",0\n'
    ",An empty first sentence.,0\n"
    "A man is playing a guitar.,A person plays the guitar.,1\n"
)
SUBPROCESS_TIMEOUT_S = 180


def run_module(*args: str) -> subprocess.Popen:
    env = offline_environment()
    return subprocess.Popen(
        [sys.executable, "-m", "embedlab", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "pairs.csv"
    path.write_text(PAIRS_CSV, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def real_runs(pairs_file: Path) -> dict[str, tuple[int, str, str]]:
    """Both real runs started at once (each loads the model, ~8 s), then collected: {name: (code, stdout, stderr)}."""
    processes = {
        "model": run_module("score", str(pairs_file), "--model", M, "--json"),
        "cls-first-last": run_module(
            "score", str(pairs_file), "--model", M, "--pooling", "cls", "--layers", "first-last", "--json"
        ),
    }
    results = {}
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=SUBPROCESS_TIMEOUT_S)
        results[name] = (process.returncode, stdout, stderr)
    return results


@pytest.fixture
def session_encoder(packaged_model, monkeypatch):
    """Make in-process runs reuse the session model instead of loading their own."""
    monkeypatch.setattr(cli.common, "load_engine", lambda kind, model_id: Encoder(packaged_model))


def expected_pairs(pairs_file: Path) -> list[tuple[str, str]]:
    frame = read_pairs(pairs_file)
    return list(zip(frame["sentence1"], frame["sentence2"], strict=True))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def check_shape(result: dict, pooling: str, layers: str, pairs: list[tuple[str, str]]) -> None:
    assert set(result) == {"model", "pooling", "layers", "baseline", "pairs"}
    assert (result["model"], result["pooling"], result["layers"]) == (M, pooling, layers)
    assert set(result["baseline"]) == {"mean", "p95"}
    assert result["baseline"]["mean"] < result["baseline"]["p95"]
    assert [(row["sentence1"], row["sentence2"]) for row in result["pairs"]] == pairs  # file order
    keys = {"sentence1", "sentence2", "cosine", "unknown_tokens", "truncated", "note"}
    assert all(set(row) == keys for row in result["pairs"])


def check_cosines(result: dict, pairs: list[tuple[str, str]], vector_of) -> None:
    for row, (first, second) in zip(result["pairs"], pairs, strict=True):
        if not first.strip() or not second.strip():
            assert row["cosine"] is None  # an empty sentence is reported, not scored
        else:
            assert row["cosine"] == pytest.approx(cosine(vector_of(first), vector_of(second)), abs=1e-4)


# ---------------------------------------------------------------- real subprocess runs


def test_cli_model_pooling_equals_encode(real_runs, pairs_file, reference_st, packaged_model):
    code, stdout, stderr = real_runs["model"]
    assert code == 0, stderr
    result = json.loads(stdout)
    pairs = expected_pairs(pairs_file)
    check_shape(result, "model", "-1", pairs)
    texts = sorted({text for pair in pairs for text in pair if text.strip()})
    by_text = dict(zip(texts, reference_st.encode(texts), strict=True))
    check_cosines(result, pairs, by_text.__getitem__)
    assert result["pairs"][0]["cosine"] > result["pairs"][1]["cosine"]  # paraphrase above unrelated

    baseline = random_pair_baseline(Encoder(packaged_model), EmbedSpec(M, "model"))
    assert result["baseline"]["mean"] == pytest.approx(baseline.mean, abs=1e-4)
    assert result["baseline"]["p95"] == pytest.approx(baseline.p95, abs=1e-4)


@torch.inference_mode()
def test_cli_cls_first_last_equals_hand_pooling(real_runs, pairs_file, reference_hf):
    code, stdout, stderr = real_runs["cls-first-last"]
    assert code == 0, stderr
    result = json.loads(stdout)
    pairs = expected_pairs(pairs_file)
    check_shape(result, "cls", "first-last", pairs)
    tokenizer, model = reference_hf

    def first_last_cls(text: str) -> np.ndarray:
        hidden_states = model(**tokenizer([text], return_tensors="pt"), output_hidden_states=True).hidden_states
        return ((hidden_states[1][0, 0] + hidden_states[-1][0, 0]) / 2).numpy()

    check_cosines(result, pairs, first_last_cls)


def test_cli_missing_file_exits_2_with_one_line():
    process = run_module("score", "no-such-file.csv", "--model", M)
    stdout, stderr = process.communicate(timeout=SUBPROCESS_TIMEOUT_S)
    assert process.returncode == 2
    assert stdout == ""
    assert stderr.startswith("error: ") and stderr.count("\n") == 1
    assert "no-such-file.csv" in stderr and "not found" in stderr


# ---------------------------------------------------------------- in-process runs


def test_text_output(session_encoder, pairs_file, capsys):
    assert cli.main(["score", str(pairs_file), "--model", M, "--pooling", "mean", "--layers", "2:4"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert EmbedSpec(M, "mean", "2:4").label in lines[0] and "baseline" in lines[0]
    assert len(lines) == 1 + len(expected_pairs(pairs_file))
    assert "empty" in lines[4]
    assert lines[1].endswith("What is your age?  |  How old are you?")


def test_json_in_process_matches_the_engine(session_encoder, pairs_file, capsys, packaged_model):
    assert cli.main(["score", str(pairs_file), "--model", M, "--pooling", "max", "--layers", "-2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    pairs = expected_pairs(pairs_file)
    check_shape(result, "max", "-2", pairs)
    encoder = Encoder(packaged_model)
    check_cosines(result, pairs, lambda text: encoder.embed([text], EmbedSpec(M, "max", "-2"))[0])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("columns.csv", "text_a,text_b\nOne.,Two.\n", "no sentence1, sentence2 column"),
        ("latin1.csv", "sentence1,sentence2\nCaf\u00e9.,Tea.\n".encode("latin-1"), "not UTF-8"),
        ("empty.csv", b"", "is empty"),
        ("header-only.csv", "sentence1,sentence2\n", "has a header but no rows"),
        ("short-row.csv", "sentence1,sentence2\nOne.,Two.\nThree.\n", "row 2 has 1 field but the header has 2"),
        ("unquoted.csv", "sentence1,sentence2\nHello, world.,Hi.\n", "row 1 has 3 fields"),
    ],
)
def test_bad_files_exit_2(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert cli.main(["score", str(path), "--model", M]) == 2
    assert message in one_line_error(capsys)


def test_bad_layer_spec_exits_2_with_the_real_loader(pairs_file, capsys):
    """The real load_encoder: loading the model must not add anything (a progress bar) to stderr."""
    assert cli.main(["score", str(pairs_file), "--model", M, "--pooling", "cls", "--layers", "9"]) == 2
    assert "Layer 9 does not exist" in one_line_error(capsys)


def test_malformed_layer_spec_exits_2(session_encoder, pairs_file, capsys):
    assert cli.main(["score", str(pairs_file), "--model", M, "--pooling", "mean", "--layers", "one"]) == 2
    assert "not understood" in one_line_error(capsys)


@pytest.mark.parametrize(
    ("ref", "message"),
    [("bad model!", "not a model reference"), ("./no/such/folder", "does not exist")],
)
def test_bad_model_ref_exits_2(pairs_file, capsys, ref, message):
    assert cli.main(["score", str(pairs_file), "--model", ref]) == 2
    assert message in one_line_error(capsys)


@pytest.mark.parametrize(
    "argv",
    [
        ["score", "pairs.csv", "--model", M, "--pooling", "median"],
        ["score", "pairs.csv"],
        ["translate", "pairs.csv"],
        [],
    ],
)
def test_usage_errors_exit_2_with_one_line(capsys, argv):
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert caught.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("python -m embedlab") and err.count("\n") == 1, err
