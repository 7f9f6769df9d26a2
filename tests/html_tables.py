"""Reads the tables of an HTML page the way a browser lays them out: a row with fewer or more
cells than its header shifts every value under the wrong heading, which no string search sees."""

from __future__ import annotations

from html.parser import HTMLParser


class Tables(HTMLParser):
    """Every <table> of a page as rows of cell counts (a cell's colspan counts as that many)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[int]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append(0)
        elif tag in ("td", "th"):
            self.tables[-1][-1] += int(dict(attrs).get("colspan") or 1)


def misaligned_tables(page: str) -> list[str]:
    """A line for each table whose rows do not all have as many cells as its first (header) row."""
    parser = Tables()
    parser.feed(page)
    return [f"table {number}: header of {rows[0]} cells, rows of {sorted(set(rows[1:]))}"
            for number, rows in enumerate(parser.tables, 1) if rows and set(rows[1:]) - {rows[0]}]  # fmt: skip
