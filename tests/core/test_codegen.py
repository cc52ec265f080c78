"""Code for a configuration: each generated script, run in a separate Python process, gives the engine's vectors."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from embedlab import cli
from embedlab.codegen import code_for
from embedlab.embedding.encoder import Encoder, cosine_rows
from embedlab.embedding.specs import EmbedSpec
from embedlab.models.loading import load_model
from tools.offline import offline_environment

M = "all-MiniLM-L6-v2"
ATOL = 1e-5
TEXTS = [
    "Hi!",
    "A man is playing a guitar on the street corner while the crowd sings along.",
    "Stick to the work, bassoon player.",
]
SPECS = {  # name -> spec; vectors compared one to one
    "cls": EmbedSpec(M, "cls", "-1"),
    "mean_second_to_last": EmbedSpec(M, "mean", "-2"),
    "max_first_last": EmbedSpec(M, "max", "first-last"),
    "mean_layer_list": EmbedSpec(M, "mean", "1,4,-1"),
    "model": EmbedSpec(M, "model"),
    "cls_abtt": EmbedSpec(M, "cls", "3", post="abtt"),
    "mean_center": EmbedSpec(M, "mean", "2:4", post="center"),
    "model_whiten": EmbedSpec(M, "model", post="whiten", post_dims=64),
    "untrained_model": EmbedSpec("untrained-bert", "model"),
    "untrained_cls": EmbedSpec("untrained-bert", "cls", "2"),
    "pooler": EmbedSpec(M, "pooler"),
    "mean_max_first_last_abtt": EmbedSpec(M, "mean_max", "first-last", post="abtt"),
    "mean_sqrt_len_tokens": EmbedSpec(M, "mean_sqrt_len_tokens", "-1"),
    "weightedmean": EmbedSpec(M, "weightedmean", "-2"),
    "lasttoken": EmbedSpec(M, "lasttoken", "3"),
}
RUNNER = textwrap.dedent(
    """
    import json, runpy, sys
    import numpy as np
    scripts, texts, out = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
    vectors = {}
    for name, path in scripts.items():
        namespace = runpy.run_path(path, run_name="__main__")  # as a script: prints the example's shape
        vectors[name] = namespace["embed"](texts)
    np.savez(out, **vectors)
    """
)


@pytest.fixture(scope="module")
def generated(packaged_model, untrained_model, tmp_path_factory):
    """Every snippet written to a file and run in one separate Python process: (vectors by name, stdout)."""
    folder = tmp_path_factory.mktemp("snippets")
    facts = {M: packaged_model.facts, "untrained-bert": untrained_model.facts}
    scripts = {}
    for name, spec in SPECS.items():
        path = folder / f"{name}.py"
        path.write_text(code_for(spec, facts[spec.model]), encoding="utf-8")
        scripts[name] = str(path)
    out = folder / "vectors.npz"
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, json.dumps(scripts), json.dumps(TEXTS), str(out)],
        cwd=folder,  # not the repository: the scripts must not need embedlab
        env=offline_environment(PYTHONPATH=""),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(out) as vectors:
        return {name: vectors[name] for name in vectors.files}, done.stdout


@pytest.mark.parametrize("name", [name for name in SPECS if name != "model_whiten"])
def test_snippet_vectors_equal_the_engines(generated, packaged_model, untrained_model, name):
    spec = SPECS[name]
    encoder = Encoder(packaged_model if spec.model == M else untrained_model)
    expected = encoder.embed(TEXTS, spec)
    vectors, _ = generated
    assert vectors[name].shape == expected.shape
    np.testing.assert_allclose(vectors[name], expected, atol=ATOL)


def test_whitened_snippet_gives_the_engines_cosines(generated, packaged_model):
    # Whitening's eigenvectors are defined up to sign, so the vectors may differ by column signs; cosines may not.
    expected = Encoder(packaged_model).embed(TEXTS, SPECS["model_whiten"])
    vectors = generated[0]["model_whiten"]
    assert vectors.shape == expected.shape == (3, 64)
    for i, j in ((0, 1), (0, 2), (1, 2)):
        assert cosine_rows(vectors[i], vectors[j]) == pytest.approx(cosine_rows(expected[i], expected[j]), abs=ATOL)


def test_each_script_prints_its_shape_when_run(generated):
    _, stdout = generated
    shapes = [line for line in stdout.splitlines() if line.startswith("(1, ")]
    assert shapes == ["(1, 384)"] * 7 + ["(1, 64)"] + ["(1, 384)"] * 3 + ["(1, 768)"] + ["(1, 384)"] * 3


def test_snippet_calls_the_tokenizer_and_never_encode(packaged_model):
    code = code_for(EmbedSpec(M, "mean", "first-last"), packaged_model.facts)
    ast.parse(code)
    assert "padding=True, truncation=True" in code and "output_hidden_states=True" in code
    assert "tokenizer.encode(" not in code and "attention_mask" in code
    assert "LAYERS = [1, 6]" in code and "embedlab" not in code.replace("Embedding Lab", "")


def test_folder_models_load_from_their_folder(tiny_model_dir, tiny_st_dir, tmp_path):
    for folder in (tiny_model_dir, tiny_st_dir):
        model = load_model(str(folder))
        code = code_for(EmbedSpec(str(folder), "mean", "-1"), model.facts)
        assert repr(str(Path(folder).resolve())) in code
        script = tmp_path / "snippet.py"
        script.write_text(code + "\nimport sys, numpy\nnumpy.save(sys.argv[1], embed(" + repr(TEXTS) + "))\n")
        subprocess.run(
            [sys.executable, str(script), str(tmp_path / "out.npy")],
            cwd=tmp_path,
            env=offline_environment(PYTHONPATH=""),
            check=True,
            capture_output=True,
            timeout=300,
        )
        expected = Encoder(model).embed(TEXTS, EmbedSpec(str(folder), "mean", "-1"))
        np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=ATOL)


def test_cli_prints_the_code_without_a_file(packaged_model, capsys):
    args = ["score", "--model", M, "--pooling", "max", "--layers", "first-last", "--post", "center", "--code"]
    assert cli.main(args) == 0
    out, _ = capsys.readouterr()
    assert out == code_for(EmbedSpec(M, "max", "first-last", post="center"), packaged_model.facts)


def test_cli_without_file_or_code_exits_2(capsys):
    assert cli.main(["score", "--model", M]) == 2
    _, err = capsys.readouterr()
    assert "needs a FILE" in err and err.count("\n") == 1


def test_cli_code_with_a_bad_layer_exits_2(capsys):
    assert cli.main(["score", "--model", M, "--pooling", "cls", "--layers", "9", "--code"]) == 2
    _, err = capsys.readouterr()
    assert "Layer 9 does not exist" in err
