"""Every note, refusal and error the app shows goes through here, so text a browser sent is never Markdown.

Each function takes the app's own Markdown as a *literal* template with ``{}`` fields and the values to put in
them; the values (a model name, a link's parameter, an error's message, a sentence) are escaped by
``embedlab.literal.markdown_literal`` and shown character for character, never as a link, an image or HTML.
``tests/ui/test_literal_notes.py`` checks that no page or component calls ``st.error``/``st.warning``/``st.info``/
``st.success``/``st.toast`` with anything but a literal string, and that every template here is one.

    notes.error("**{}** could not be loaded: {}", ref, error, icon="⚠️")
"""

from __future__ import annotations

from typing import Literal

import streamlit as st

from embedlab.literal import markdown_literal, markdown_template

Kind = Literal["error", "warning", "info", "success"]

__all__ = ["caption", "error", "info", "literal", "markdown", "show", "success", "toast", "warning"]

literal = markdown_literal  # for a label or a title built elsewhere: st.expander(f"Facts: {notes.literal(ref)}")


def show(kind: Kind, template: str, *values: object, icon: str | None = None) -> None:
    """``st.<kind>`` of ``template`` with ``values`` made literal (for a kind chosen at run time)."""
    getattr(st, kind)(markdown_template(template, *values), icon=icon)


def error(template: str, *values: object, icon: str | None = None) -> None:
    st.error(markdown_template(template, *values), icon=icon)


def warning(template: str, *values: object, icon: str | None = None) -> None:
    st.warning(markdown_template(template, *values), icon=icon)


def info(template: str, *values: object, icon: str | None = None) -> None:
    st.info(markdown_template(template, *values), icon=icon)


def success(template: str, *values: object, icon: str | None = None) -> None:
    st.success(markdown_template(template, *values), icon=icon)


def toast(template: str, *values: object, icon: str | None = None) -> None:
    st.toast(markdown_template(template, *values), icon=icon)


def caption(template: str, *values: object) -> None:
    st.caption(markdown_template(template, *values))


def markdown(template: str, *values: object) -> None:
    st.markdown(markdown_template(template, *values))
