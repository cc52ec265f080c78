"""docs/layout.md names every module of the app, and README.md stays a two-minute read.

A newcomer opens docs/layout.md to find where a thing lives, so a module missing from it is a module nobody finds;
the paths it names are checked to exist by ``test_docs.py``. Every ``.py`` file under the code folders (packages'
``__init__.py`` aside) must appear there by its repository path, e.g. ``embedlab/scorers/base.py``.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CODE_FOLDERS = ("embedlab", "components", "app_pages", "tools", "bench")
README_MAX_LINES = 90


def code_modules() -> list[str]:
    modules = [REPO_ROOT / "app.py"]
    for folder in CODE_FOLDERS:
        modules += [path for path in (REPO_ROOT / folder).rglob("*.py") if path.name != "__init__.py"]
    return sorted(str(path.relative_to(REPO_ROOT)) for path in modules)


def test_layout_names_every_module():
    layout = (REPO_ROOT / "docs" / "layout.md").read_text(encoding="utf-8")
    missing = [module for module in code_modules() if f"`{module}`" not in layout]
    assert not missing, f"modules docs/layout.md does not name (as `path`): {missing}"


def test_code_modules_are_found():
    # the check above is only as good as the module list: it must see the engine, the pieces and the pages
    modules = code_modules()
    assert "embedlab/settings.py" in modules and "app.py" in modules
    assert any(module.startswith("components/shared/") for module in modules)
    assert any(module.startswith("app_pages/") for module in modules)


def test_readme_is_a_two_minute_read():
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines: move details to docs/"
