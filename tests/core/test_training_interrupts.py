"""Training interrupted: a save killed half-way and Ctrl-C in the train command. (Queued runs stopped, cancelled,
or their worker killed: tests/core/test_queue.py.)

The interruptions are real: subprocesses (a tiny random model from conftest, seconds per run) sent SIGKILL,
SIGINT or SIGTERM once they print that they reached the point under test; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from embedlab.models.loading import load_model
from embedlab.models.registry import saved_models
from embedlab.training.compose import Composition
from embedlab.training.data import read_training_file
from embedlab.training.run import TrainSettings, train
from embedlab.training.save import save_trained
from tests.helpers import read_until, write
from tools.offline import offline_environment

REPO = Path(__file__).resolve().parents[2]
SENTENCES = "\n".join(f"Sentence number {i} talks about topic {i % 3} at some length." for i in range(12))
FAST = TrainSettings(max_steps=1, batch_size=4, learning_rate=1e-3, warmup_ratio=0.0)
WAIT = 300  # seconds: the bound on every wait for a subprocess (loading torch and the model takes a few)


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path):
    return load_model(str(tiny_model_dir))


def sentences_file(folder: Path) -> Path:
    return write(folder, "sentences.txt", SENTENCES)


def quick_result(tiny, folder: Path):
    data = read_training_file(sentences_file(folder), "simcse", 0)
    return train(Composition(tiny.facts.ref), data, FAST, loaded=tiny, measure_before_after=False)


def child_env() -> dict:
    env = offline_environment()
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_script(folder: Path, code: str, *args: str) -> subprocess.Popen:
    script = write(folder, "child.py", textwrap.dedent(code))
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
        cwd=str(folder),
    )


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=WAIT)
    return process.returncode, out.decode(errors="replace"), err.decode(errors="replace")


# ---------------------------------------------------------------- a save killed half-way


def test_an_error_half_way_through_a_save_leaves_nothing_and_the_name_free(tiny, tmp_path, monkeypatch):
    result = quick_result(tiny, tmp_path)
    models = tmp_path / "models"
    original = type(result.model).save

    def save_then_fail(self, path, *args, **kwargs):
        original(self, path, *args, **kwargs)
        raise RuntimeError("disk went away")

    monkeypatch.setattr(type(result.model), "save", save_then_fail)
    with pytest.raises(RuntimeError, match="disk went away"):
        save_trained(result, models / "runSave")
    assert list(models.iterdir()) == [] and saved_models(models) == ()
    monkeypatch.undo()
    assert (save_trained(result, models / "runSave") / "modules.json").is_file()
    assert saved_models(models) == (str(models / "runSave"),)


KILLED_SAVE = """
    import sys
    from sentence_transformers import SentenceTransformer
    from embedlab.models.loading import load_model
    from embedlab.training.compose import Composition
    from embedlab.training.data import read_training_file
    from embedlab.training.run import TrainSettings, train
    from embedlab.training.save import save_trained

    tiny, data_file, target = sys.argv[1:4]
    data = read_training_file(data_file, "simcse", 0)
    settings = TrainSettings(max_steps=1, batch_size=4, learning_rate=1e-3, warmup_ratio=0.0)
    result = train(Composition(tiny), data, settings, loaded=load_model(tiny), measure_before_after=False)
    original = SentenceTransformer.save

    def save_and_hang(self, path, *args, **kwargs):
        original(self, path, *args, **kwargs)  # the weights are written: the card and facts are not
        print("saving", flush=True)
        sys.stdin.read()  # blocks until killed

    SentenceTransformer.save = save_and_hang
    save_trained(result, target)
"""


def test_a_save_killed_half_way_is_never_listed_and_its_name_stays_free(tiny, tiny_model_dir, tmp_path):
    models = tmp_path / "models"
    process = start_script(
        tmp_path, KILLED_SAVE, str(tiny_model_dir), str(sentences_file(tmp_path)), str(models / "runSave")
    )
    try:
        seen = read_until(process.stdout, "saving", WAIT)
        assert "saving" in seen, process.stderr.read().decode() if process.poll() is not None else seen
    finally:
        process.kill()  # SIGKILL: no handler, no finally clause runs
        process.wait(WAIT)
        process.stdin.close(), process.stdout.close(), process.stderr.close()
    left = [entry.name for entry in models.iterdir()]
    assert len(left) == 1 and left[0].startswith(".runSave.partial-"), left  # the weights, hidden
    assert any((models / left[0]).rglob("*.safetensors"))
    assert saved_models(models) == () and not (models / "runSave").exists()
    # The name is free, and the next save in the directory removes the dead process's partial folder.
    folder = save_trained(quick_result(tiny, tmp_path), models / "runSave")
    assert [entry.name for entry in models.iterdir()] == ["runSave"]
    assert saved_models(models) == (str(folder),) and (folder / "training.json").is_file()


# ---------------------------------------------------------------- Ctrl-C in the train command


@pytest.mark.parametrize("keep", [True, False])
def test_ctrl_c_in_the_train_command_is_one_line_and_keeps_the_partial_model_when_asked(keep, tiny_model_dir, tmp_path):
    out = tmp_path / "interrupted"
    command = [sys.executable, "-m", "embedlab", "train", str(sentences_file(tmp_path)), "--model", str(tiny_model_dir)]
    command += ["--method", "simcse", "--max-steps", "100000", "--batch-size", "2", "--out", str(out)]
    command += ["--keep-partial"] * keep
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(), cwd=tmp_path)
    try:
        before = read_until(process.stderr, "step 1/100000", WAIT)
        assert "step 1/100000" in before, before
        process.send_signal(signal.SIGINT)
        code, stdout, after = finish(process)
    finally:
        process.kill()  # no-op once it has ended
    stderr = before + after
    assert code == 130 and "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    lines = [line for line in after.splitlines() if not line.startswith("step ")]
    if keep:
        assert lines == ["interrupted: stopping after the current step (Ctrl-C again quits at once)"], lines
        assert f"saved to {out.resolve()}" in stdout and "a partial model: interrupted at step" in stdout
        facts = json.loads((out / "training.json").read_text())
        assert facts["stopped_early"] and 1 <= facts["steps"] < 100_000
    else:
        assert lines[0] == "interrupted: stopping after the current step (Ctrl-C again quits at once)"
        assert len(lines) == 2 and lines[1].startswith("interrupted at step ") and "nothing saved" in lines[1]
        assert stdout == "" and not out.exists()
