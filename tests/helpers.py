"""Small helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path


def write(folder: Path, name: str, content: str | bytes) -> Path:
    """Write a file byte for byte (str as UTF-8, newlines untouched) and return its path."""
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def one_line_error(capsys) -> str:
    """What a command printed for a user error: nothing on stdout, one `error: ...` line on stderr."""
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err
