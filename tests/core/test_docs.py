"""The commands and paths shown in README.md and docs/*.md are still true.

Every `python -m embedlab ...` command line shown (in a fenced code block, or in an inline code span, which may run
over two lines) is parsed by the command line's own parser, without running it. Every repository path shown under
bench/, tools/, tests/, assets/ and the code folders exists, and every option shown for a bench/ or tools/ script
is one the script defines.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from embedlab.cli import build_parser

REPO_ROOT = Path(__file__).resolve().parents[2]
PROGRAM = "python -m embedlab"
SHELL_OPERATORS = {">", ">>", "|", "&&", ";"}
REPO_FOLDERS = ("bench", "tools", "tests", "assets", "embedlab", "components", "app_pages", "docs")
REPO_PATH = re.compile(r"(?<![\w./-])((?:" + "|".join(REPO_FOLDERS) + r")/[\w./-]*\w)")
SCRIPT_COMMAND = re.compile(r"python ((?:bench|tools)/[\w/-]+\.py)((?: --?[\w-]+(?: [^\s`-][^\s`]*)?)*)")


def doc_files() -> list[Path]:
    return [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]


def shown_code(text: str) -> list[tuple[int, str]]:
    """(line number, code) of every fenced code block line and every inline code span, whitespace collapsed."""
    shown: list[tuple[int, str]] = []
    prose: list[str] = []
    in_fence = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            prose.append("")
        elif in_fence:
            shown.append((number, line.split(" # ", 1)[0].strip()))  # a trailing comment is not part of it
            prose.append("")
        else:
            prose.append(line)
    outside = "\n".join(prose)
    for span in re.finditer(r"`([^`]+)`", outside):
        number = outside.count("\n", 0, span.start()) + 1
        shown.append((number, " ".join(span.group(1).split())))
    return shown


def strict_parser() -> argparse.ArgumentParser:
    """The command line's own parser, refusing abbreviated options: argparse would accept `--layer` for `--layers`,
    and a doc should show the option's full name."""
    parser = build_parser()
    parser.allow_abbrev = False
    for action in parser._actions:  # the subcommands' parsers
        if isinstance(action, argparse._SubParsersAction):
            for subcommand in action.choices.values():
                subcommand.allow_abbrev = False
    return parser


def shown_commands() -> list[tuple[str, str]]:
    """(where, command) for every `python -m embedlab <subcommand> ...` shown in the docs."""
    commands = []
    for path in doc_files():
        for number, code in shown_code(path.read_text(encoding="utf-8")):
            if code.startswith(PROGRAM + " "):
                commands.append((f"{path.relative_to(REPO_ROOT)}:{number}", code))
    return commands


def test_the_docs_show_commands_of_every_subcommand():
    shown = {shlex.split(command)[3] for _, command in shown_commands()}
    assert {"score", "negtest", "eval"} <= shown


@pytest.mark.parametrize(("where", "command"), shown_commands())
def test_every_shown_command_parses(where, command):
    argv = shlex.split(command)[3:]  # after python -m embedlab
    shell = [i for i, word in enumerate(argv) if word in SHELL_OPERATORS]
    argv = argv[: shell[0]] if shell else argv  # `... > embedlab-nginx.conf`: the redirection is the shell's
    try:
        strict_parser().parse_args(argv)
    except SystemExit as refused:  # argparse refuses with exit 2 (and prints why on stderr)
        pytest.fail(f"{where}: `{command}` does not parse (exit {refused.code})")


def test_a_command_that_does_not_parse_is_caught():
    """The check above can fail: an unknown option, a bad choice and an abbreviated option are refused."""
    refused = (
        ["score", "pairs.csv", "--model", "m", "--no-such-option"],
        ["eval", "f.csv", "--model", "m", "--pooling", "nope"],
        ["score", "pairs.csv", "--model", "m", "--layer", "-1"],
    )
    for argv in refused:
        with pytest.raises(SystemExit):
            strict_parser().parse_args(argv)
    strict_parser().parse_args(["score", "pairs.csv", "--model", "m", "--layers", "-1"])


def test_every_repository_path_shown_exists():
    missing = []
    for path in doc_files():
        text = path.read_text(encoding="utf-8")
        for found in REPO_PATH.finditer(text):
            shown = found.group(1).rstrip(".")
            if "*" in shown or shown.endswith("/"):
                continue
            if not (REPO_ROOT / shown).exists():
                number = text.count("\n", 0, found.start()) + 1
                missing.append(f"{path.relative_to(REPO_ROOT)}:{number}: {shown}")
    assert not missing, "paths shown in the docs that do not exist: " + "; ".join(missing)


def test_every_script_option_shown_is_defined_by_the_script():
    unknown = []
    seen = 0
    for path in doc_files():
        for found in SCRIPT_COMMAND.finditer(path.read_text(encoding="utf-8")):
            script, options = REPO_ROOT / found.group(1), re.findall(r"--?[\w-]+", found.group(2))
            seen += 1
            source = script.read_text(encoding="utf-8") if script.is_file() else ""
            unknown += [f"{found.group(1)} {option}" for option in options if f'"{option}"' not in source]
    assert seen >= 5  # the benchmarks' commands were found at all
    assert not unknown, "options shown that the script does not define: " + "; ".join(unknown)


def test_every_relative_link_points_to_a_file_and_heading_that_exist():
    broken = []
    for path in doc_files():
        text = path.read_text(encoding="utf-8")
        for found in re.finditer(r"\]\(([^)#\s]+)(?:#([^)\s]+))?\)", text):
            target, anchor = found.group(1), found.group(2)
            if "://" in target:
                continue
            target_path = (path.parent / target).resolve()
            if not target_path.exists():
                broken.append(f"{path.relative_to(REPO_ROOT)}: {target}")
            elif anchor and anchor not in heading_anchors(target_path.read_text(encoding="utf-8")):
                broken.append(f"{path.relative_to(REPO_ROOT)}: {target}#{anchor}")
    assert not broken, "broken links: " + "; ".join(broken)


def heading_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a file's headings: lower case, punctuation dropped, each space a hyphen."""
    anchors = set()
    for line in markdown.splitlines():
        if heading := re.match(r"#{1,6} (.+)", line):
            anchors.add(re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-"))
    return anchors
