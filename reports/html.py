"""Render a `reports.document.Report` as one self-contained HTML page.

One file, inline CSS, no JavaScript, no external reference of any kind (fonts, images, scripts, style sheets):
the page is mailed, attached to tickets and opened offline. Every piece of text is escaped with
`html.escape` (quotes included) at the moment it becomes HTML; the only markup comes from this module, and the
only attribute values are our own class names and section anchors.
"""

from __future__ import annotations

from html import escape

from reports.document import Badge, BarChart, Block, Cell, Code, Facts, Paragraph, Report, Section, Steps, Table

SHOWN_LINES = 8  # longer lists fold the rest into <details>, which browsers open without script

_CSS = """
:root { color-scheme: light dark; --fg: #1f2328; --bg: #ffffff; --muted: #59636e; --line: #d1d9e0;
  --head: #f6f8fa; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --info: #0969da; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --line: #3d444d;
  --head: #151b23; --ok: #3fb950; --warn: #d29922; --bad: #f85149; --info: #4493f8; } }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  background: var(--bg); margin: 0 auto; padding: 1.5rem 2rem 3rem; max-width: 1680px; }
h1 { font-size: 1.6rem; margin: 0.2rem 0 1rem; }
h2 { font-size: 1.3rem; border-bottom: 1px solid var(--line); padding-bottom: 0.3rem; margin-top: 2.2rem; }
h3 { font-size: 1.05rem; margin-top: 1.6rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 1rem; margin: 0 0 1rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
nav.toc { border: 1px solid var(--line); border-radius: 6px; padding: 0.5rem 1rem; background: var(--head); }
nav.toc ol { margin: 0.2rem 0; padding-left: 1.2rem; }
nav.toc > ol { columns: 2; }
nav.toc > ol > li { break-inside: avoid; }
div.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 0.35rem 0.5rem; text-align: left; vertical-align: top; }
th { background: var(--head); }
tbody tr:nth-child(even) { background: color-mix(in srgb, var(--head) 65%, transparent); }
tbody tr:hover { background: color-mix(in srgb, var(--info) 8%, transparent); }
td { overflow-wrap: break-word; }
td:first-child { white-space: nowrap; }
.badge { display: inline-block; padding: 0 0.5rem; border-radius: 1em; border: 1px solid currentColor;
  font-size: 12px; white-space: nowrap; }
.ok { color: var(--ok); } .warn { color: var(--warn); } .bad { color: var(--bad); }
.info { color: var(--info); } .muted { color: var(--muted); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px;
  background: var(--head); border: 1px solid var(--line); border-radius: 4px; padding: 0.05rem 0.3rem; }
details > summary { cursor: pointer; color: var(--info); }
p.empty { color: var(--muted); font-style: italic; }
ol.steps li { margin: 0.3rem 0; }
footer { margin-top: 3rem; color: var(--muted); font-size: 12px; }
figure.chart { margin: 0.6rem 0 1.2rem; }
figure.chart svg { max-width: 100%; height: auto; font: 11px system-ui, sans-serif; }
figure.chart figcaption { color: var(--muted); font-size: 12px; }
figure.chart .legend { display: flex; gap: 1rem; font-size: 12px; margin: 0.2rem 0; }
figure.chart .legend .key { display: inline-flex; align-items: center; gap: 0.3rem; }
.chart text { fill: var(--muted); } .chart line { stroke: var(--line); }
.chart rect.ok { fill: var(--ok); } .chart rect.warn { fill: var(--warn); } .chart rect.bad { fill: var(--bad); }
.chart rect.info { fill: var(--info); } .chart rect.muted { fill: var(--muted); }
@media print { nav.toc { display: none; } details { display: block; } body { padding: 0; } }
"""


def render_html(report: Report) -> str:
    body = [f"<h1>{escape(report.title)}</h1>", *(_block(b) for b in report.intro), _contents(report.sections)]
    body += [_section(s, level=2) for s in report.sections]
    if report.footer:
        body.append(f"<footer>{escape(report.footer)}</footer>")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(report.title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        *body,
        "</body>",
        "</html>",
        "",
    ])


def _contents(sections: list[Section]) -> str:
    return f'<nav class="toc" aria-label="Contents"><strong>Contents</strong>{_toc(sections)}</nav>'


def _toc(sections: list[Section]) -> str:
    items = []
    for s in sections:
        sub = _toc(s.subsections) if s.subsections else ""
        items.append(f'<li><a href="#{escape(s.anchor)}">{escape(s.title)}</a>{sub}</li>')
    return f"<ol>{''.join(items)}</ol>"


def _section(section: Section, level: int) -> str:
    parts = [f'<section id="{escape(section.anchor)}">', f"<h{level}>{escape(section.title)}</h{level}>"]
    parts += [_block(b) for b in section.blocks]
    parts += [_section(s, level + 1) for s in section.subsections]
    parts.append("</section>")
    return "\n".join(parts)


def _block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{''.join(cell(p) for p in block.parts)}</p>"
    if isinstance(block, Facts):
        rows = "".join(f"<dt>{escape(label)}</dt><dd>{cell(value)}</dd>" for label, value in block.items)
        return f'<dl class="facts">{rows}</dl>'
    if isinstance(block, Steps):
        return '<ol class="steps">' + "".join(f"<li>{cell(i)}</li>" for i in block.items) + "</ol>"
    if isinstance(block, BarChart):
        return _chart(block)
    return _table(block)


# Chart geometry (SVG user units): a label column, then one bar slot per x label; one panel per series.
_LABEL_W, _SLOT_MAX, _PLOT_MIN, _PLOT_MAX, _PANEL_H, _GAP, _AXIS_H = 150, 18.0, 240.0, 900.0, 56, 14, 18


def _chart(chart: BarChart) -> str:
    """Inline SVG (no script, no external reference); each bar carries a <title> tooltip."""
    bars = len(chart.x_labels)
    plot = min(_PLOT_MAX, max(_PLOT_MIN, bars * _SLOT_MAX))
    slot = plot / max(bars, 1)
    width = _LABEL_W + plot + 10
    height = len(chart.series) * (_PANEL_H + _GAP) + _AXIS_H
    # The accessible name is the <title> child (SVG-AAM), not an attribute: names come from the account.
    parts = [f'<figure class="chart"><svg role="img" viewBox="0 0 {width:.0f} {height}" width="{width:.0f}" '
             f'height="{height}">', f"<title>{escape(chart.title)}</title>"]
    for index, series in enumerate(chart.series):
        top = index * (_PANEL_H + _GAP)
        base = top + _PANEL_H
        peak = max(series.values, default=0)
        parts.append(f'<text x="0" y="{top + 14}">{escape(series.label)}</text>'
                     f'<text x="0" y="{top + 30}">max {escape(_number(peak))}</text>'
                     f'<line x1="{_LABEL_W}" y1="{base}" x2="{_LABEL_W + plot:.1f}" y2="{base}"/>')
        for i, value in enumerate(series.values):
            if value <= 0:
                continue
            h = max(1.0, (_PANEL_H - 4) * value / peak)
            x = _LABEL_W + i * slot + slot * 0.1
            label = chart.x_labels[i] if i < bars else ""
            parts.append(f'<rect class="{escape(series.tone)}" x="{x:.1f}" y="{base - h:.1f}" '
                         f'width="{max(slot * 0.8, 0.5):.1f}" height="{h:.1f}"><title>{escape(label)}: '
                         f'{escape(_number(value))} {escape(series.label)}</title></rect>')
    if bars:
        axis = height - 4
        parts.append(f'<text x="{_LABEL_W}" y="{axis}">{escape(chart.x_labels[0])}</text>')
        if bars > 1:
            parts.append(f'<text x="{_LABEL_W + plot:.1f}" y="{axis}" text-anchor="end">'
                         f"{escape(chart.x_labels[-1])}</text>")
    parts.append("</svg>")
    # The legend: each series' colour and name, readable without hovering a bar.
    keys = "".join(f'<span class="key"><svg class="chart" width="10" height="10" aria-hidden="true">'
                   f'<rect class="{escape(series.tone)}" width="10" height="10"/></svg> {escape(series.label)}</span>'
                   for series in chart.series)
    parts.append(f'<div class="legend">{keys}</div>')
    if chart.caption:
        parts.append(f"<figcaption>{escape(chart.caption)}</figcaption>")
    parts.append("</figure>")
    return "".join(parts)


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _table(table: Table) -> str:
    if table.frame.empty:
        return f'<p class="empty">{escape(table.empty)}</p>'
    head = "".join(f'<th scope="col">{escape(str(c))}</th>' for c in table.frame.columns)
    rows = "\n".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                     for row in table.frame.itertuples(index=False, name=None))
    return (f'<div class="scroll"><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n'
            "</table></div>")


def cell(value: Cell) -> str:
    if isinstance(value, Badge):
        return f'<span class="badge {escape(value.tone)}">{escape(value.text)}</span>'
    if isinstance(value, Code):
        return f"<code>{escape(value.text)}</code>"
    if isinstance(value, tuple):
        return _lines(value)
    return escape(str(value))


def _lines(items: tuple[str, ...]) -> str:
    if len(items) <= SHOWN_LINES:
        return "<br>".join(escape(i) for i in items)
    head = "<br>".join(escape(i) for i in items[:SHOWN_LINES - 1])
    rest = "<br>".join(escape(i) for i in items[SHOWN_LINES - 1:])
    return f"{head}<details><summary>{len(items) - SHOWN_LINES + 1} more</summary>{rest}</details>"
