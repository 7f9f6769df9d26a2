"""How one value is written in the report: numbers to three places, "–" where undefined, and
p-values below 0.001 as "< 0.001"; and the tables drawn from those cells: the page's (`table_of`,
escaped by the page template), a section built in Python (`html_table`), Markdown and a terminal's.
Which columns each table shows is `tables.py`'s."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Sequence

Rows = Sequence[dict[str, Any]]
P_COLUMNS = frozenset({"p", "chi2_p", "fisher_p", "mcnemar_p", "min_fisher_p", "p_holm"})
"""Columns holding p-values."""


def p_value(value: float | None) -> str:
    if value is None or value != value:
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def fmt(value: Any, key: str = "") -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if key in P_COLUMNS:
        return p_value(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


@dataclass(frozen=True)
class Table:
    """A table as the report shows it: its header labels and each row's cells as `fmt` writes
    them, not yet escaped (the page template escapes them; `html_table` does it itself)."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def table_of(rows: Rows, columns: Sequence[tuple[str, str]]) -> Table:
    """`rows` under `columns` ((key, header) pairs): one cell per column, '–' where a row lacks the key."""
    return Table(tuple(label for _, label in columns), tuple(tuple(fmt(r.get(key), key) for key, _ in columns) for r in rows))


def html_table(rows: Rows, columns: Sequence[tuple[str, str]]) -> str:
    """Rows as an HTML table, a header cell and a body cell per column, every value escaped: for a
    section built in Python (the published students'); the page template draws `table_of`'s."""
    table = table_of(rows, columns)
    head = "".join(f"<th>{html.escape(label)}</th>" for label in table.headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in table.rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _markdown_cell(value: Any, key: str = "") -> str:
    """A Markdown table cell: formatted, with pipes escaped so they cannot split the row."""
    return fmt(value, key).replace("|", "\\|")


def markdown_table(rows: Rows, columns: Sequence[tuple[str, str]] | None = None) -> str:
    """Rows as a Markdown table; `columns` is (key, header) pairs, by default every key of the first row."""
    if not rows:
        return "(no rows)"
    columns = columns or [(key, key) for key in rows[0]]
    header = "| " + " | ".join(label.replace("|", "\\|") for _, label in columns) + " |"
    rule = "|" + "---|" * len(columns)
    body = ["| " + " | ".join(_markdown_cell(row.get(key), key) for key, _ in columns) + " |" for row in rows]
    return "\n".join([header, rule, *body])


def terminal_table(rows: Rows, columns: Sequence[tuple[str, str]] | None = None, width: int | None = None) -> str:
    """Rows as a table that fits a terminal `width` columns wide, each value as `fmt` writes it
    ('–' where undefined): values keep their width, headers wrap at their spaces (rich lays it
    out); a table too wide for that is written a row at a time, one line per column, rather than
    cut at the edge. Its lines are Markdown table rows, so the output pastes into a note as it is."""
    if not rows:
        return "(no rows)"
    width = width or 100
    columns = columns or [(key, key) for key in rows[0]]
    cells = [[fmt(row.get(key), key) for key, _ in columns] for row in rows]
    widths = [min(max(max(len(c[k]) for c in cells), max((len(w) for w in label.split()), default=1)), 24) for k, (_, label) in enumerate(columns)]
    if sum(widths) + 3 * len(columns) + 1 <= width:
        return _draw([label for _, label in columns], cells, widths, width)
    blocks = [_draw(["", f"row {n}"], [[label, cell] for (_, label), cell in zip(columns, row)],
                    [max(len(label) for _, label in columns), 10], width)
              for n, row in enumerate(cells, start=1)]  # fmt: skip
    return "\n\n".join(blocks)


def _draw(headers: Sequence[str], cells: Sequence[Sequence[str]], widths: Sequence[int], width: int) -> str:
    import io

    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.MARKDOWN, show_edge=True, pad_edge=True)
    for header, least in zip(headers, widths):
        table.add_column(header, overflow="fold", min_width=least)
    for row in cells:
        table.add_row(*row)
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False, soft_wrap=False)
    console.print(table)
    drawn = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in drawn if line.strip())  # the box's blank top and bottom edges dropped
