"""HTML building blocks of the reports: every user-supplied string is escaped here.

Report text is assembled with :class:`markupsafe.Markup`: a template is trusted markup, and
whatever is formatted into it — region names, study descriptions, item texts, numbers — is
escaped on the way in. Nothing reaches a report as raw HTML unless it was built by these
functions, so a ``<script>`` typed into a study file prints as text.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

import pandas as pd
from markupsafe import Markup, escape

__all__ = ["Block", "Markup", "escape", "figure", "join", "paragraph", "table"]

STYLE = Markup("""<style>
.csi-report { font-family: "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Microsoft YaHei",
  "PingFang SC", "Helvetica Neue", Arial, sans-serif; line-height: 1.55; color: #1d2330; max-width: 60em; }
.csi-report h1 { font-size: 1.7em; margin: 0.2em 0 0.3em; }
.csi-report h2 { font-size: 1.3em; margin: 1.2em 0 0.4em; border-bottom: 2px solid #1f5f99;
  padding-bottom: 0.15em; }
.csi-report h3 { font-size: 1.08em; margin: 0.9em 0 0.3em; }
.csi-report p, .csi-report li { font-size: 0.95em; }
.csi-report .note { background: #fff6db; border-left: 4px solid #e0a800; padding: 0.4em 0.8em; }
.csi-report .lead { font-size: 1.05em; }
.csi-report .muted { color: #5b6575; font-size: 0.86em; }
.csi-report table.csi { border-collapse: collapse; margin: 0.4em 0 0.8em; font-size: 0.86em; }
.csi-report table.csi th { background: #eef3f8; text-align: center; padding: 4px 8px;
  border-bottom: 1px solid #9fb3c8; font-weight: 600; }
.csi-report table.csi td { padding: 3px 8px; border-bottom: 1px solid #e3e8ee; text-align: right;
  font-variant-numeric: tabular-nums; }
.csi-report table.csi td.text { text-align: left; }
.csi-report .cards { display: flex; flex-wrap: wrap; gap: 0.6em; margin: 0.6em 0; }
.csi-report .card { border: 1px solid #c9d5e2; border-radius: 6px; padding: 0.5em 0.9em; min-width: 11em; }
.csi-report .card .big { font-size: 1.9em; font-weight: 700; }
.csi-report .good { color: #1b7a3d; } .csi-report .bad { color: #b3261e; }
.csi-report img.figure { max-width: 100%; height: auto; display: block; margin: 0.3em 0; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  .csi-report { max-width: none; font-size: 10.5pt; }
  .csi-report h2 { break-after: avoid; }
  .csi-report table.csi, .csi-report img.figure, .csi-report .card { break-inside: avoid; }
  .csi-report .page-end { break-after: page; }
  .jp-OutputPrompt, .jp-InputPrompt { display: none; }
}
</style>""")


class Block:
    """One displayed piece of a report: HTML for readers, plain text for terminals and nbval.

    ``title`` (the report's title) travels as display metadata so the HTML export can name the
    page after the region and wave.
    """

    def __init__(self, html: str, text: str = "", *, title: str | None = None, language: str = "en") -> None:
        self.html = Markup(html)
        self.text = text
        self.title = title
        self.language = language

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        # every block carries the style sheet: a block shown alone in Jupyter looks as in the report
        data = {"text/html": str(STYLE + Markup('<div class="csi-report">') + self.html + Markup("</div>")),
                "text/plain": self.text or "[report section]"}
        meta = {"csi_report": {"title": self.title, "language": self.language}} if self.title else {}
        return data, meta

    def __repr__(self) -> str:
        return self.text or "[report section]"


def join(parts: Iterable[Any]) -> Markup:
    """Concatenate markup and text (text is escaped)."""
    return Markup("").join(escape(p) for p in parts if p is not None and p != "")


def paragraph(text: Any, cls: str | None = None) -> Markup:
    attr = Markup(' class="{}"').format(cls) if cls else Markup("")
    return Markup("<p{}>{}</p>").format(attr, text)


def bullets(items: Iterable[Any]) -> Markup:
    rows = [Markup("<li>{}</li>").format(i) for i in items]
    return Markup("<ul>{}</ul>").format(join(rows)) if rows else Markup("")


def heading(level: int, text: Any) -> Markup:
    return Markup("<h{0}>{1}</h{0}>").format(int(level), text)


def table(frame: pd.DataFrame, text_columns: Iterable[str] = ()) -> Markup:
    """A table of already formatted cells; every header and cell is escaped.

    Columns whose cells are words (names, labels) are left-aligned; numbers align right.
    """
    text_columns = set(text_columns)
    is_text = [c in text_columns or not _numeric_looking(frame[c]) for c in frame.columns]
    head = join(Markup("<th>{}</th>").format(c) for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False):
        cells = (
            Markup('<td class="text">{}</td>').format(v) if t else Markup("<td>{}</td>").format(v)
            for v, t in zip(values, is_text, strict=True)
        )
        rows.append(Markup("<tr>{}</tr>").format(join(cells)))
    return Markup('<table class="csi"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>').format(
        head, join(rows)
    )


def _numeric_looking(column: pd.Series) -> bool:
    def numeric(v: Any) -> bool:
        s = str(v).strip().replace("%", "").replace(",", "").replace("<", "").replace("−", "-")
        s = s.replace("+", "")
        try:
            float(s)
        except ValueError:
            return s in ("–", "✓", "")
        return True

    return all(numeric(v) for v in column)


def figure(fig: Any, alt: str, dpi: int | None = None) -> Markup:
    """A figure (a Figure, or PNG bytes rendered already) embedded: the report needs no other file.

    The PNG is rendered at print resolution and shown at its screen size (its pixels over its
    resolution, at :data:`~csi_research.render.plots.SCREEN_DPI` to the inch), so the page looks as
    it did at screen resolution and prints sharp; the Word report embeds the same bytes.
    """
    from csi_research.render import plots

    png = fig if isinstance(fig, bytes) else plots.to_png(fig, dpi=dpi or plots.PRINT_DPI)
    data = base64.b64encode(png).decode("ascii")
    width = _screen_width(png, plots.SCREEN_DPI)
    size = Markup(' width="{}"').format(width) if width else Markup("")
    return Markup('<img class="figure" alt="{}"{} src="data:image/png;base64,{}">').format(alt, size, data)


def _screen_width(png: bytes, screen_dpi: float) -> int | None:
    """CSS pixels to show a PNG at ``screen_dpi`` per inch of its recorded size (None: no size recorded)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        return None
    width = int.from_bytes(png[16:20], "big")
    at = 8
    while at + 8 <= len(png):  # chunks: length, type, data, crc; pHYs comes before the image data
        length, kind = int.from_bytes(png[at:at + 4], "big"), png[at + 4:at + 8]
        if kind == b"pHYs":
            per_metre, unit = int.from_bytes(png[at + 8:at + 12], "big"), png[at + 16]
            return round(width * screen_dpi / (per_metre * 0.0254)) if unit == 1 and per_metre else None
        if kind == b"IDAT":
            return None
        at += 12 + length
    return None
