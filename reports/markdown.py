"""Render a `reports.document.Report` as GitHub-flavoured Markdown (tables by tabulate, ``github`` format).

Names of groups, routes and scopes come from the customer's account and may hold Markdown or HTML syntax, so
every text run is backslash-escaped (CommonMark lets any ASCII punctuation be escaped): a group named
``<script>`` shows as text, and a ``|`` cannot split a table cell.
"""

from __future__ import annotations

import math
import re

from tabulate import tabulate

from reports.document import Badge, BarChart, Block, Cell, Code, Facts, Paragraph, Report, Section, Steps, Table

MAX_LINES_PER_CELL = 20  # beyond this a cell stops being readable; the HTML, CSV and JSON carry every item

# Markdown-active punctuation. "_" only matters at a word's edge (GFM ignores intraword underscores), so ids
# like us-east-1_abc stay readable in the raw file. "$" because GitHub renders $...$ as math.
_ACTIVE = re.compile(r"[\\`*\[\]<>|&#!~$]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def escape(text: str) -> str:
    flat = " ".join(str(text).split("\n"))  # a newline would end a table row
    return _ACTIVE.sub(lambda m: "\\" + m.group(0), flat)


def code(text: str) -> str:
    """A code span that survives backticks and table pipes in its content."""
    flat = " ".join(str(text).split("\n")).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def cell(value: Cell) -> str:
    if isinstance(value, Badge):
        return f"**{escape(value.text)}**"
    if isinstance(value, Code):
        return code(value.text)
    if isinstance(value, tuple):
        return _lines(value)
    return escape(str(value))


def _lines(items: tuple[str, ...]) -> str:
    if len(items) <= MAX_LINES_PER_CELL:
        shown = [escape(i) for i in items]
    else:  # the note takes the last line, so it always stands for at least two hidden items
        kept = MAX_LINES_PER_CELL - 1
        shown = [escape(i) for i in items[:kept]]
        shown.append(f"… and {len(items) - kept} more (see report.html or routes.csv)")
    return "<br>".join(shown)  # GitHub renders <br> as a line break inside a table cell


def render_markdown(report: Report) -> str:
    out = [f"# {escape(report.title)}", ""]
    for block in report.intro:
        out += [*_block(block), ""]
    for section in report.sections:
        out += _section(section, level=2)
    if report.footer:
        out.append(f"_{escape(report.footer)}_")
    return "\n".join(out).rstrip() + "\n"


def _section(section: Section, level: int) -> list[str]:
    out = [f"{'#' * level} {escape(section.title)}", ""]
    for block in section.blocks:
        out += _block(block)
        out.append("")
    for sub in section.subsections:
        out += _section(sub, level + 1)
    return out


def _block(block: Block) -> list[str]:
    if isinstance(block, Paragraph):
        return ["".join(cell(p) for p in block.parts)]
    if isinstance(block, Facts):
        return [f"- **{escape(label)}:** {cell(value)}" for label, value in block.items]
    if isinstance(block, Steps):
        return [f"{n}. {cell(item)}" for n, item in enumerate(block.items, start=1)]
    if isinstance(block, BarChart):
        return _chart(block)
    return _table(block)


_BLOCKS = "▁▂▃▄▅▆▇█"


def _chart(chart: BarChart) -> list[str]:
    """One line of block characters per series, each on its own scale (the HTML report draws the chart)."""
    out = [f"**{escape(chart.title)}**", ""]
    for series in chart.series:
        peak = max(series.values, default=0)
        if peak <= 0:
            out.append(f"- {escape(series.label)}: none")
            continue
        # eight heights: a value in ((k-1)/8, k/8] of the peak gets the k-th block; zero is a space
        line = "".join(" " if v <= 0 else _BLOCKS[max(0, math.ceil(v / peak * len(_BLOCKS)) - 1)]
                       for v in series.values)
        out.append(f"- {escape(series.label)}: `{line}` (max {peak:,.0f})")
    if chart.x_labels:
        out += ["", f"_{escape(chart.x_labels[0])} to {escape(chart.x_labels[-1])}_"
                + (f" — {escape(chart.caption)}" if chart.caption else "")]
    return out


def _table(table: Table) -> list[str]:
    if table.frame.empty:
        return [f"_{escape(table.empty)}_"]
    frame = table.frame.map(cell)
    # disable_numparse: a group called "1e3" or a scope "007" must print as written, not as a number.
    text = tabulate(frame, headers=[escape(c) for c in frame.columns], tablefmt="github", showindex=False,
                    disable_numparse=True)
    return text.splitlines()
