"""The settings: one object reads every ``EMBEDLAB_*`` variable, a bad value is one line naming it."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from embedlab.settings import SettingsError, documented, get_settings, markdown_table

ROOT = Path(__file__).resolve().parents[2]


def test_settings_are_read_again_when_a_variable_changes(monkeypatch):
    monkeypatch.delenv("EMBEDLAB_MAX_QUEUED", raising=False)
    assert get_settings().max_queued == 3
    monkeypatch.setenv("EMBEDLAB_MAX_QUEUED", "7")
    assert get_settings().max_queued == 7
    monkeypatch.setenv("EMBEDLAB_MAX_QUEUED", "0")
    with pytest.raises(SettingsError, match=r"^EMBEDLAB_MAX_QUEUED='0': Input should be greater than or equal to 1$"):
        get_settings()


def test_a_secret_is_never_quoted_in_the_error(monkeypatch):
    monkeypatch.setenv("EMBEDLAB_ADMIN_TOKEN", "s3cret")
    monkeypatch.setenv("EMBEDLAB_SERVED", "perhaps")
    with pytest.raises(SettingsError) as caught:
        get_settings()
    assert "s3cret" not in str(caught.value) and str(caught.value).startswith("EMBEDLAB_SERVED='perhaps': ")
    monkeypatch.delenv("EMBEDLAB_SERVED")
    assert get_settings().admin_token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(get_settings())


def test_a_bad_setting_stops_a_command_with_one_line_and_exit_2():
    env = {**os.environ, "EMBEDLAB_HUB_TIMEOUT_S": "soon"}
    done = subprocess.run(
        [sys.executable, "-m", "embedlab", "jobs"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: EMBEDLAB_HUB_TIMEOUT_S='soon': ") and done.stderr.count("\n") == 1


# ---------------------------------------------------------------- docs/configuration.md against the settings

CONFIGURATION_DOC = ROOT / "docs" / "configuration.md"
VARIABLE = re.compile(r"\bEMBEDLAB_[A-Z][A-Z_]*[A-Z]\b")


def documented_rows() -> dict[str, list[str]]:
    """Variable -> its row's cells (type, default, meaning) in docs/configuration.md's table."""
    rows = {}
    for line in CONFIGURATION_DOC.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `EMBEDLAB_"):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_the_doc_holds_the_table_generated_from_the_settings():
    assert markdown_table() in CONFIGURATION_DOC.read_text(), (
        "docs/configuration.md is out of date: paste the output of "
        "python -c 'from embedlab.settings import markdown_table; print(markdown_table())'"
    )


def test_every_setting_is_documented_and_every_documented_variable_exists():
    rows = documented_rows()
    assert set(rows) == set(documented())
    assert all(meaning for _, _, meaning in rows.values())
    named_in_docs = {
        name: path.name
        for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
        for name in VARIABLE.findall(path.read_text())
    }
    assert {name: where for name, where in named_in_docs.items() if name not in rows} == {}


def test_the_documented_defaults_are_the_ones_in_force(monkeypatch):
    for name in list(os.environ):
        if name.upper().startswith("EMBEDLAB_"):
            monkeypatch.delenv(name)
    defaults = get_settings()
    for variable, (_, default, _) in documented_rows().items():
        value = getattr(defaults, variable.removeprefix("EMBEDLAB_").lower())
        if default == "unset":
            assert value in (None, ""), variable
        elif isinstance(value, bool):
            assert default == ("`1`" if value else "`0`"), variable
        else:
            assert type(value)(default.strip("`")) == value, variable


# ---------------------------------------------------------------- nothing else reads an EMBEDLAB_ variable

SOURCE_DIRS = ("embedlab", "components", "app_pages", "tools", "bench", "tests")


def environ_reads(tree: ast.AST, names: set[str]) -> list[int]:
    """Lines that read ``os.environ`` / ``os.getenv`` with a key that is an ``EMBEDLAB_`` literal or one of
    ``names`` (constants holding such a literal)."""

    def is_environ(node: ast.AST) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
            isinstance(node, ast.Name) and node.id == "environ"
        )

    def is_embedlab_key(node: ast.AST) -> bool:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value.startswith("EMBEDLAB_")
        return (isinstance(node, ast.Name) and node.id in names) or (
            isinstance(node, ast.Attribute) and node.attr in names
        )

    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and is_embedlab_key(node.args[0]):
            function = node.func
            if isinstance(function, ast.Attribute) and (
                (function.attr in ("get", "pop") and is_environ(function.value)) or function.attr == "getenv"
            ):
                lines.append(node.lineno)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and is_environ(node.value):
            if is_embedlab_key(node.slice):
                lines.append(node.lineno)
        elif isinstance(node, ast.Compare) and is_embedlab_key(node.left):
            if any(isinstance(op, ast.In | ast.NotIn) for op in node.ops) and any(map(is_environ, node.comparators)):
                lines.append(node.lineno)
    return lines


def test_no_module_but_the_settings_reads_an_embedlab_variable():
    files = [ROOT / "app.py", *(path for folder in SOURCE_DIRS for path in sorted((ROOT / folder).rglob("*.py")))]
    trees = {path.relative_to(ROOT).as_posix(): ast.parse(path.read_text()) for path in files}
    names = {  # module constants that hold a variable's name: SERVED_ENV = "EMBEDLAB_SERVED"
        target.id
        for tree in trees.values()
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        if isinstance(node.value.value, str) and node.value.value.startswith("EMBEDLAB_")
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert {"SERVED_ENV", "MODELS_DIR_ENV"} <= names  # the scan sees the constants it must follow
    readers = {
        where: lines
        for where, tree in trees.items()
        if where != "embedlab/settings.py"
        if (lines := environ_reads(tree, names))
    }
    assert readers == {}, "read these through embedlab.settings.get_settings()"


def test_the_scan_finds_a_read():
    tree = ast.parse(
        'import os\nX_ENV = "EMBEDLAB_X"\na = os.environ.get(X_ENV)\nb = os.environ["EMBEDLAB_Y"]\n'
        'c = "EMBEDLAB_Z" in os.environ\nd = os.getenv("EMBEDLAB_W")\ne = os.environ.get("HOME")\n'
    )
    assert environ_reads(tree, {"X_ENV"}) == [3, 4, 5, 6]
