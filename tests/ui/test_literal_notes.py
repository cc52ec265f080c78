"""Text a browser sent is shown as literal text: never a link, an image or HTML in the app's own notes.

Two checks: every note goes through ``components.shared.notes`` with a literal template (an AST test over the
pages and components), and Markdown and HTML fed to every link parameter of every page come out escaped.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from embedlab.literal import markdown_literal
from embedlab.views import PAGES, SCHEMAS, _fields, _is_text
from tests.core.test_views import GOOD
from tests.ui.apptest import ROOT, page_test

ALERTS = {"error", "warning", "info", "success", "toast", "exception"}
NOTES_MODULE = ROOT / "components" / "shared" / "notes.py"
PAGE_FILES = {page: f"app_pages/{page}.py" for page in PAGES}

LINK = "[Sign in again](http://evil/phish)"
IMAGE = "![t](http://evil/img.png)"
HTML = "<img src=http://evil/i>"
BOLD = "**bold**"
PAYLOAD = f"x` {LINK} {IMAGE} {HTML} {BOLD} `"
LIVE = ("](http://evil", "<img src=http://evil", BOLD)  # what a live link, image, tag or emphasis needs


def _modules() -> list[Path]:
    paths = [ROOT / "app.py", *(ROOT / "app_pages").rglob("*.py"), *(ROOT / "components").rglob("*.py")]
    return [path for path in sorted(paths) if path != NOTES_MODULE]


def _is_literal(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _first_argument(call: ast.Call) -> ast.expr | None:
    if call.args:
        return call.args[0]
    return next((keyword.value for keyword in call.keywords if keyword.arg in ("body", "template")), None)


def test_every_note_is_a_literal_or_goes_through_the_notes_helper_with_a_literal_template():
    offenders = []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        helper = {
            name.asname or name.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "components.shared"
            for name in node.names
            if name.name == "notes"
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            func = node.func
            if isinstance(func, ast.Name) and func.id == "getattr" and node.args:
                target = node.args[0]
                if isinstance(target, ast.Name) and target.id == "st":
                    offenders.append(f"{where}: getattr(st, ...) hides which call shows the text")
            if not isinstance(func, ast.Attribute) or not isinstance(func.value, ast.Name):
                continue
            if func.value.id == "st" and func.attr in ALERTS and not _is_literal(_first_argument(node)):
                offenders.append(f"{where}: st.{func.attr} of a computed text: use notes.{func.attr}(template, ...)")
            template = node.args[1] if func.attr == "show" and len(node.args) > 1 else _first_argument(node)
            if func.value.id in helper and func.attr != "literal" and not _is_literal(template):
                offenders.append(f"{where}: notes.{func.attr} needs a literal template (values go after it)")
    assert not offenders, "\n".join(offenders)


def test_the_ast_check_sees_a_computed_note():
    """The check above would catch the calls this project had (so it can fail)."""
    bad = ast.parse('st.warning(f"Ignored `{param}`")\nnotes.error(str(error))\ngetattr(st, kind)(note)')
    calls = [node for node in ast.walk(bad) if isinstance(node, ast.Call)]
    assert not any(_is_literal(_first_argument(call)) for call in calls if isinstance(call.func, ast.Attribute))


def _poisoned(value: object) -> object:
    """``value`` with every string in it replaced by the payload."""
    if isinstance(value, str):
        return PAYLOAD
    if isinstance(value, list):
        return [_poisoned(item) for item in value]
    if isinstance(value, dict):
        return {key: _poisoned(item) for key, item in value.items()}
    return value


def link_params(page: str) -> dict[str, str]:
    """Every query parameter ``page`` reads, each carrying the payload (inside JSON where JSON is expected),
    and a parameter the page does not know, named by the payload."""
    schema = SCHEMAS[page]
    params = {PAYLOAD: "1"}
    for field in _fields(page):
        param = schema.PARAMS.get(field, field)
        if _is_text(page, field):
            params[param] = PAYLOAD
        else:
            params[param] = json.dumps(_poisoned(GOOD[page].get(field, PAYLOAD)))
    return params


def rendered_markdown(at: AppTest) -> list[str]:
    """The Markdown source of every element Streamlit renders as Markdown: notes, captions, text, titles, labels."""
    kinds = ("markdown", "caption", "warning", "error", "info", "success", "toast", "title", "header", "subheader")
    bodies = [str(element.value) for kind in kinds for element in getattr(at, kind)]
    bodies += [str(expander.label) for expander in at.expander]
    bodies += [str(metric.label) for metric in at.metric]
    return bodies


@pytest.mark.parametrize("page", PAGES)
def test_markdown_and_html_in_every_link_parameter_are_shown_literally(page):
    at = page_test()
    at.query_params.update(link_params(page))
    if page != "compare":
        at.switch_page(PAGE_FILES[page])
    at.run()
    assert not at.exception, at.exception
    bodies = rendered_markdown(at)
    live = [body for body in bodies for part in LIVE if part in body]
    assert not live, live
    shown = "\n".join(bodies)
    assert markdown_literal(LINK) in shown  # the payload is there, as text (at least the unknown parameter's note)
