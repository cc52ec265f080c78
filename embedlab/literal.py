"""Text from a browser (a link, an upload, a typed name) made safe to place inside Markdown.

Streamlit renders notes, captions and labels as Markdown, so a model name or a link's parameter holding
``[Sign in](http://evil/p)`` or ``![x](http://evil/i.png)`` would become a working link or a remote image in the
app's own warning box. ``markdown_literal`` backslash-escapes the characters that can start Markdown (CommonMark
lets any ASCII punctuation be escaped, and an escaped character shows as itself), which leaves no link, image,
autolink, HTML tag, emphasis, heading, list, table, LaTeX or Streamlit directive: the reader sees the characters
that were sent. Ordinary punctuation (parentheses, full stops, commas) is left alone, so messages read as before.

    >>> print(markdown_literal("[x](http://evil/p) **b** my_model"))
    \\[x\\](http\\://evil/p) \\*\\*b\\*\\* my_model
"""

from __future__ import annotations

import re

# What can start Markdown (CommonMark, GitHub's extensions, Streamlit's): emphasis, code, links, images, HTML and
# <autolinks>, entities, headings, tables, strikethrough, LaTeX, Streamlit's :colour[...] (needs "["), e-mail
# autolinks. Escaping them anywhere is harmless. "_" only where it can open or close emphasis (not inside
# snake_case words or paths), ":" only where it makes an autolink (http:) or a :shortcode: (emoji, icon).
_INLINE = re.compile(r"([\\`*\[\]<>!#|~$&@])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_COLON = re.compile(r"(?i)(?<=\bhttps)(:)|(?<=\bhttp)(:)|(?<=\bftp)(:)|(?<=\bmailto)(:)|(:)(?=[\w/+-]+:)")
_WWW = re.compile(r"(?i)\b(www)\.")  # GitHub's autolink of www.example.com
_LIST_OR_RULE = re.compile(r"^([ \t]*)([-+=])", re.MULTILINE)  # a bullet, a setext underline or a rule
_ORDERED = re.compile(r"^([ \t]*\d+)([.)])", re.MULTILINE)  # "1." or "1)" starting a line
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class Markdown(str):
    """Markdown the app composed with ``markdown_template``: its values are already literal, so it is not escaped
    again when it fills another template. Any other ``str`` is taken for text from outside and escaped."""


def markdown_literal(text: object) -> str:
    """``str(text)`` escaped so that Markdown shows it character for character; a line break stays one.
    ``Markdown`` is returned as it is."""
    if isinstance(text, Markdown):
        return text
    escaped = _INLINE.sub(lambda found: "\\" + found.group(0), _LINE_BREAK.sub("\n", str(text)))
    escaped = _COLON.sub(r"\\:", escaped)
    escaped = _ORDERED.sub(r"\1\\\2", _LIST_OR_RULE.sub(r"\1\\\2", _WWW.sub(r"\1\\.", escaped)))
    return escaped.replace("\n", "  \n")


def markdown_code(text: object) -> Markdown:
    """``text`` as an inline code span that no backtick in it can close early (CommonMark: a fence longer than
    any run of backticks inside, padded with a space when the text starts or ends with one).

    >>> print(markdown_code("a`b"))
    ``a`b``
    """
    text = _LINE_BREAK.sub(" ", str(text))
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return Markdown(f"{fence}{pad}{text}{pad}{fence}")


def markdown_template(template: str, *values: object) -> Markdown:
    """``template`` (the app's own Markdown, with ``{}`` fields) filled with ``values`` made literal.

    >>> print(markdown_template("**{}** could not be loaded", "[x](http://e)"))
    **\\[x\\](http\\://e)** could not be loaded
    """
    return Markdown(template.format(*(markdown_literal(value) for value in values)))
