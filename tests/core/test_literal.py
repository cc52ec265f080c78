"""Text from a browser placed in Markdown: a CommonMark parser reads back exactly that text and nothing else."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from embedlab.literal import Markdown, markdown_code, markdown_literal, markdown_template

PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
HOSTILE = [
    "[Sign in again](http://evil/phish)",
    "![t](http://evil/img.png)",
    "<img src=http://evil/i>",
    "<http://evil/auto>",
    "**bold** __bold__ *it* _it_ ~~gone~~ `code`",
    "x` [Sign in again](http://evil/phish) `",
    "[ref][1]\n\n[1]: http://evil/ref",
    "# heading\n> quote\n- item\n+ item\n* item\n1. item\n2) item\n---\n===\n```\nfenced\n```",
    "| a | b |\n|---|---|\n| c | d |",
    "&lt;img src=x&gt; &#60;b&#62; \\[escaped\\] trailing backslash\\",
    "$x^2$ :red[text] :material/lock: www.evil.com someone@evil.com http://evil.com",
    "A plain sentence (with parentheses), numbers -0.12 and 1,234.",
]


def read_back(markdown: str) -> tuple[str, set[str]]:
    """The text a reader sees in ``markdown`` and the kinds of inline pieces it parsed to."""
    text, kinds = [], set()
    for block in PARSER.parse(markdown):
        kinds.add(block.type)
        if block.type == "paragraph_open" and text:
            text.append("\n\n")  # a blank line: a new paragraph
        for token in block.children or []:
            kinds.add(token.type)
            text.append("\n" if token.type in ("softbreak", "hardbreak") else token.content)
    return "".join(text), kinds


@pytest.mark.parametrize("hostile", HOSTILE)
def test_escaped_text_reads_back_as_itself_with_no_link_image_html_or_formatting(hostile):
    text, kinds = read_back(markdown_literal(hostile))
    assert kinds <= {"paragraph_open", "paragraph_close", "inline", "text", "hardbreak", "softbreak"}, kinds
    assert text == hostile.replace("\r\n", "\n")


def test_without_escaping_the_same_text_is_a_link_an_image_and_html():
    """The parser above does see what the escaping prevents (so the test can fail)."""
    _, kinds = read_back(" ".join(HOSTILE[:3]) + " **bold**")
    assert {"link_open", "image", "html_inline", "strong_open"} <= kinds


def test_a_template_keeps_the_app_own_markdown_and_makes_only_the_values_literal():
    filled = markdown_template("**{}** could not be loaded: {}", "[x](http://evil/p)", "no such file")
    text, kinds = read_back(filled)
    assert "strong_open" in kinds and "link_open" not in kinds
    assert text == "[x](http://evil/p) could not be loaded: no such file"
    assert markdown_literal(filled) == filled  # composed Markdown is not escaped twice
    assert markdown_template("{}", Markdown("**ok**")) == "**ok**"
    assert markdown_template("{}", "**no**") != "**no**"


@pytest.mark.parametrize("name", ["my-run", "a`b", "`start", "x``[y](http://evil/p)``"])
def test_a_code_span_holds_any_name_whole(name):
    code = markdown_code(name)
    (block, inline, _) = PARSER.parse(code)
    assert [token.type for token in inline.children] == ["code_inline"]
    assert inline.children[0].content == name
