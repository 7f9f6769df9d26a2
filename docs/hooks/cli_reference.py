"""MkDocs hook: the CLI reference, written at build time from the `tracekd` argparse parser
(`tracekd_assets.cli.build_parser`), so every command, flag, default and help text on the page is
the one the command line has."""

from __future__ import annotations

import argparse
import html
import sys
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[2]
PAGE = "reference/cli.md"
MARKER = "<!-- generated: cli-reference -->"


def build_parser() -> argparse.ArgumentParser:
    """The parser `tracekd` runs, from the checkout this site documents."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tracekd_assets.cli import build_parser as tracekd_parser

    return tracekd_parser()


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], argparse.ArgumentParser, str]]:
    """Every command and nested subcommand, depth first: (words after `tracekd`, its parser, its help)."""
    found = []
    for action in parser._actions:  # argparse keeps subcommands only here
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                found.append(((*path, name), sub, helps.get(name, "")))
                found.extend(commands(sub, (*path, name)))
    return found


def plain(text: object) -> str:
    """Help text as literal Markdown: `hf:<repo id>` must not read as an HTML tag, nor `*` as emphasis."""
    escaped = html.escape(str(text), quote=False)
    for char in "\\`*[]|":
        escaped = escaped.replace(char, "\\" + char)
    return escaped.replace("\n", " ")


def default_of(action: argparse.Action) -> str:
    """The default as a reader needs it: none shown when there is none to speak of."""
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        return "off" if action.default is False else "on"
    if action.default in (None, [], argparse.SUPPRESS) or action.required:
        return "–"
    return f"`{action.default}`"


def arguments(parser: argparse.ArgumentParser) -> list[str]:
    """One table row per argument: name(s), value, default, help (choices and repeatability said)."""
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        names = ", ".join(f"`{name}`" for name in action.option_strings) or f"`{action.metavar or action.dest}`"
        if action.nargs == "?" and not action.option_strings:
            names += " (optional)"
        value = "" if action.nargs == 0 else f"`{action.metavar or action.dest.upper()}`" if action.option_strings else ""
        help_text = plain((action.help or "") % {"default": action.default, "prog": parser.prog})
        if action.choices:
            help_text = f"one of {', '.join(f'`{c}`' for c in action.choices)}. {help_text}".strip()
        if isinstance(action, argparse._AppendAction):
            help_text = f"{help_text} (may be given more than once)".strip()
        rows.append(f"| {names} | {value} | {default_of(action)} | {help_text} |")
    return rows


def reference(parser: argparse.ArgumentParser) -> str:
    """The page body: usage of `tracekd`, then one section per command and subcommand."""
    parts = ["## `tracekd`", "", "```text", parser.format_usage().strip(), "```", ""]
    for path, sub, help_text in commands(parser):
        command = " ".join(("tracekd", *path))
        parts += [f"{'#' * min(len(path) + 2, 6)} `{command}` {{ #{'-'.join(('tracekd', *path))} }}", ""]
        if help_text:
            parts += [plain(help_text[0].upper() + help_text[1:]) + ".", ""]
        parts += ["```text", sub.format_usage().strip(), "```", ""]
        rows = arguments(sub)
        nested = [p[-1] for p, _, _ in commands(sub) if len(p) == 1]
        if rows:
            parts += ["| argument | value | default | what it does |", "|---|---|---|---|", *rows, ""]
        if nested:
            parts += ["Subcommands: " + ", ".join(f"[`{n}`](#{'-'.join(('tracekd', *path, n))})" for n in nested) + ".", ""]
    return "\n".join(parts)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Fill the CLI reference page's placeholder; fail the build if it went missing."""
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise PluginError(f"{PAGE} lost its placeholder {MARKER}")
    return markdown.replace(MARKER, reference(build_parser()))
