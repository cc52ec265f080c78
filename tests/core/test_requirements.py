"""Every third-party package the code imports by name is pinned in requirements.txt or requirements-dev.txt.

A package that arrives only as another pin's dependency changes version (or disappears) when that pin moves,
and the code that imports it breaks without any change of ours.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["app.py", "app_pages", "components", "embedlab", "tests", "bench", "tools"]
REQUIREMENT_FILES = [
    "requirements.txt",
    "requirements-multilingual.txt",
    "requirements-fast.txt",
    "requirements-dev.txt",
]


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them: `huggingface_hub` and `Huggingface-Hub` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_requirements() -> dict[str, str]:
    """{normalised distribution name: the requirement line} for every `name==version` line of both files."""
    pins: dict[str, str] = {}
    for file_name in REQUIREMENT_FILES:
        for line in (REPO_ROOT / file_name).read_text(encoding="utf-8").splitlines():
            requirement = line.split("#", 1)[0].strip()
            if not requirement or requirement.startswith("-"):
                continue
            match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", requirement)
            assert match, f"{file_name}: {line!r} is not pinned as name==version"
            pins[normalise(match.group(1))] = requirement
    return pins


def python_files() -> list[Path]:
    files: list[Path] = []
    for source in SOURCES:
        path = REPO_ROOT / source
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return files


def is_local(module: str, importer: Path) -> bool:
    """A module of this repository: a top-level package or module, or a sibling of the importing script
    (`bench/_common.py`, imported by the scripts beside it)."""
    return any(
        (folder / module).is_dir() or (folder / f"{module}.py").is_file() for folder in (REPO_ROOT, importer.parent)
    )


def third_party_imports() -> dict[str, list[str]]:
    """{top-level import name: the files importing it} over every Python file of the app, engine, tests, benchmarks
    and tools, imports inside functions included."""
    imported: dict[str, list[str]] = {}
    for path in python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".", 1)[0]
                if top in sys.stdlib_module_names or top == "__future__" or is_local(top, path):
                    continue
                imported.setdefault(top, []).append(str(path.relative_to(REPO_ROOT)))
    return imported


def test_the_scan_sees_the_imports_it_must_check():
    imported = third_party_imports()
    # Direct imports known to be there: one of the app, one of the engine's lazy imports, one of the tests.
    assert {"streamlit", "huggingface_hub", "httpx2", "pytest"} <= set(imported)
    assert "embedlab" not in imported and "_common" not in imported and "os" not in imported


def test_every_third_party_import_is_pinned():
    distributions = importlib.metadata.packages_distributions()
    pins = pinned_requirements()
    problems = []
    for module, files in sorted(third_party_imports().items()):
        providers = distributions.get(module)
        if not providers:
            problems.append(f"{module} (imported by {files[0]}) is not installed")
        elif not any(normalise(provider) in pins for provider in providers):
            problems.append(f"{module} (imported by {files[0]}; distribution {providers[0]}) is not pinned")
    assert not problems, "; ".join(problems)


def test_every_pin_is_the_installed_version():
    mismatched = []
    for name, requirement in pinned_requirements().items():
        wanted = requirement.split("==", 1)[1]
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            mismatched.append(f"{requirement} is not installed")
            continue
        if installed != wanted and not installed.startswith(f"{wanted}+"):  # torch's local build tag: 2.13.0+cpu
            mismatched.append(f"{requirement} but {installed} is installed")
    assert not mismatched, "; ".join(mismatched)
