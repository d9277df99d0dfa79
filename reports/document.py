"""A tiny, format-neutral report model: sections of paragraphs, facts, tables and steps.

Report builders say *what* to show; `reports.markdown` and `reports.html` decide *how*. Keeping the two renderers
apart from the content means both formats always carry the same facts, and escaping lives in exactly one place
per format (builders never produce markup).

Table cells are plain values: ``str`` / numbers (text), ``tuple[str, ...]`` (one item per line), `Badge` (a
status word, coloured in HTML) and `Code` (a command or identifier to copy). `BarChart` is data too: HTML draws it
as inline SVG, Markdown as a line of block characters per series.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

Tone = Literal["ok", "warn", "bad", "info", "muted"]


@dataclass(frozen=True)
class Badge:
    text: str
    tone: Tone = "muted"


@dataclass(frozen=True)
class Code:
    text: str


Cell = str | int | float | Badge | Code | tuple[str, ...]


@dataclass(frozen=True)
class Column:
    """One displayed column: which record field, its heading, and how a value becomes a cell.

    ``key=None`` hands ``fmt`` the whole record, for cells that depend on more than one field.
    """

    key: str | None
    label: str
    fmt: Callable[[Any], Cell] | None = None

    def cell(self, record: dict[str, Any]) -> Cell:
        value = record if self.key is None else record.get(self.key)
        if self.fmt is not None:
            return self.fmt(value)
        if isinstance(value, list | tuple):
            return tuple(str(v) for v in value)
        return "" if value is None else value


@dataclass(frozen=True)
class Paragraph:
    parts: tuple[Cell, ...]  # text runs, badges and code, in reading order

    @classmethod
    def of(cls, *parts: Cell) -> Paragraph:
        return cls(tuple(parts))


@dataclass(frozen=True)
class Facts:
    """Label: value pairs (the report's title block)."""

    items: tuple[tuple[str, Cell], ...]


@dataclass(frozen=True)
class Table:
    frame: pd.DataFrame  # display cells, columns already headed
    empty: str = "None."  # what to say instead of an empty table

    @classmethod
    def of(cls, records: Sequence[dict[str, Any]], columns: Sequence[Column], empty: str = "None.") -> Table:
        labels = [c.label for c in columns]
        rows = [[c.cell(r) for c in columns] for r in records]
        return cls(pd.DataFrame(rows, columns=labels, dtype=object), empty)


@dataclass(frozen=True)
class Steps:
    """A numbered list (the next commands to run)."""

    items: tuple[Cell, ...]


@dataclass(frozen=True)
class Series:
    label: str
    values: tuple[int | float, ...]
    tone: Tone = "info"


@dataclass(frozen=True)
class BarChart:
    """Bars over time, one panel per series, each panel on its own scale: a rare series (disagreements) stays
    visible under a busy one (decisions). ``x_labels`` name the bars (HTML tooltips, the axis ends)."""

    title: str
    x_labels: tuple[str, ...]
    series: tuple[Series, ...]
    caption: str = ""


Block = Paragraph | Facts | Table | Steps | BarChart


@dataclass
class Section:
    anchor: str  # a fixed slug of ours (never user data): the HTML id and the contents link
    title: str
    blocks: list[Block] = field(default_factory=list)
    subsections: list[Section] = field(default_factory=list)


@dataclass
class Report:
    title: str
    intro: list[Block]  # under the title, before the contents
    sections: list[Section]
    footer: str = ""
