"""A workbook of a run's tables for readers: one sheet per table, bilingual names and headers.

Numbers stay numbers: the decimals, percentages and p-value floor of
:mod:`csi_research.render.headers` are Excel number formats, so a reader can still sort and
compute. Booleans are ✓ / –, missing values empty cells, ±∞ the text "∞" / "-∞" (Excel has no
infinity). The header row is frozen and columns are sized to their contents.

The workbook's bytes depend only on the tables: the zip entries' dates and the document's
created/modified times are fixed, so the same run gives the same file. It is written through a
temporary file and linked into place (:func:`csi_research.core.output.write_atomic`), never over an
existing file.

The file is written here, part by part (Office Open XML, ECMA-376: a zip of a few XML parts), not
through a spreadsheet library: the workbook holds only values, number formats, a bold header,
column widths and a frozen first row, and writing those directly is many times faster than
building a library's cell objects (a national comparison has half a million cells; every
study's bundle has a workbook). Strings are inline; nothing is ever a formula.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from csi_research.render.headers import (
    NO,
    P_FLOOR,
    SHEET_FORBIDDEN,
    SHEET_MAX,
    YES,
    check_language,
    column_kind,
    headers,
    table_name,
)

WORKBOOK = "tables.xlsx"  # its file name in a bundle and in a comparison folder
FIXED_TIME = datetime(2000, 1, 1)  # document times: not the time of writing (same tables, same bytes)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold
NUMBER_FORMATS = {
    "index": "0.0",
    "coefficient": "0.000",
    "p_value": f'[<{P_FLOOR:g}]"<{P_FLOOR:g}";0.000',
    "percent": "0.0%",
    "count": "0",
}
MIN_WIDTH, MAX_WIDTH = 6, 60


def sheet_names(names: list[str], language: str = "both") -> list[str]:
    """Valid, unique sheet names (≤ 31 characters, none of []:*?/\\) for the tables ``names``."""
    out: list[str] = []
    taken: set[str] = set()
    for name in names:
        base = "".join("_" if ch in SHEET_FORBIDDEN else ch for ch in table_name(name, language))
        base = base.strip("'") or "table"  # a sheet name may not start or end with an apostrophe
        candidate, k = base[:SHEET_MAX], 1
        while candidate.lower() in taken:  # Excel compares sheet names case-insensitively
            k += 1
            suffix = f" ({k})"
            candidate = base[: SHEET_MAX - len(suffix)] + suffix
        taken.add(candidate.lower())
        out.append(candidate)
    return out


def workbook_bytes(tables: dict[str, pd.DataFrame], language: str = "both") -> bytes:
    """The ``.xlsx`` file of ``tables`` (table name → DataFrame, in sheet order) as bytes."""
    check_language(language)
    if not tables:
        raise ValueError("a workbook needs at least one table")
    formats: dict[str, int] = {}  # number format → its cell style (1 is the bold header)
    titles = sheet_names(list(tables), language)
    sheets = [_sheet(table.reset_index(drop=True), language, formats) for table in tables.values()]
    parts = {
        "[Content_Types].xml": _content_types(len(sheets)),
        "_rels/.rels": _relationships([(OFFICE_DOCUMENT, "xl/workbook.xml"), (CORE, "docProps/core.xml"),
                                       (EXTENDED, "docProps/app.xml")]),
        "docProps/core.xml": _core(),
        "docProps/app.xml": f'{XML}<Properties xmlns="{NS_EXTENDED}"><Application>csi_research</Application>'
                            "</Properties>",
        "xl/workbook.xml": _workbook(titles),
        "xl/_rels/workbook.xml.rels": _relationships(
            [(WORKSHEET, f"worksheets/sheet{k}.xml") for k in range(1, len(sheets) + 1)]
            + [(STYLES, "styles.xml")]),
        "xl/styles.xml": _styles(formats),
        **{f"xl/worksheets/sheet{k}.xml": sheet for k, sheet in enumerate(sheets, start=1)},
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        for name, text in parts.items():
            entry = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            book.writestr(entry, text.encode("utf-8"))
    return out.getvalue()


def write_workbook(tables: dict[str, pd.DataFrame], path: str | Path, language: str = "both") -> Path:
    """Write ``tables`` as a workbook at ``path`` atomically; refuses to replace an existing file."""
    from csi_research.core.output import write_atomic

    return write_atomic(path, workbook_bytes(tables, language))


def _cell(value: Any, kind: str) -> tuple[Any, str | None]:
    """The value Excel stores and its number format (None, None for an empty cell)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None, None
    if kind == "bool":
        return (YES if bool(value) else NO), None
    if kind == "text":
        text = str(value)
        return (text or None), None
    x = float(value)
    if math.isinf(x):
        return ("∞" if x > 0 else "-∞"), None
    if kind == "count":
        return round(x), NUMBER_FORMATS["count"]
    if kind == "level":
        if not 0 < x < 1:  # a hierarchy level stored as float
            return x, "0"
        return x, "0%" if round(x * 100, 9) == round(x * 100) else "0.00%"
    return x, NUMBER_FORMATS.get(kind, NUMBER_FORMATS["coefficient"])


def _shown(value: Any, kind: str) -> str:
    """Roughly what the cell shows (for the column width)."""
    if isinstance(value, str):
        return value
    if kind == "count":
        return str(value)
    return f"{value:.3f}" if abs(value) < 1e6 else f"{value:.3e}"


def _width(text: str) -> int:
    """Display width: wide (CJK) characters count twice."""
    text = str(text)
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _letter(position: int) -> str:
    """Excel's column name of a 1-based position: A … Z, AA …"""
    name = ""
    while position:
        position, rest = divmod(position - 1, 26)
        name = chr(65 + rest) + name
    return name


# ---------------------------------------------------------------- the parts of the file
XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PACKAGE_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
NS_EXTENDED = "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"
OFFICE_DOCUMENT = f"{NS_REL}/officeDocument"
CORE = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"
EXTENDED = f"{NS_REL}/extended-properties"
WORKSHEET = f"{NS_REL}/worksheet"
STYLES = f"{NS_REL}/styles"
_CONTENT = "application/vnd.openxmlformats-officedocument"
FIRST_FORMAT = 164  # ids below are Excel's built-in number formats
# Characters XML 1.0 cannot hold (control characters but tab, newline and carriage return)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _escape(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return _NOT_XML.sub("\ufffd", text)


def _text_cell(ref: str, text: str, style: int = 0) -> str:
    space = ' xml:space="preserve"' if text != text.strip() else ""
    styled = f' s="{style}"' if style else ""
    return f'<c r="{ref}"{styled} t="inlineStr"><is><t{space}>{_escape(text)}</t></is></c>'


def _sheet(frame: pd.DataFrame, language: str, formats: dict[str, int]) -> str:
    """One worksheet: the bold header row, then the values, columns sized to their contents."""
    names = headers(frame, language)
    letters = [_letter(k) for k in range(1, frame.shape[1] + 1)]
    widths = [_width(n) for n in names]
    columns = []  # per column, each row's cell ("" when empty)
    for position in range(frame.shape[1]):
        kind = column_kind(frame, frame.columns[position])
        letter = letters[position]
        cells = []
        for row, value in enumerate(frame.iloc[:, position].tolist(), start=2):
            cell_value, number_format = _cell(value, kind)
            if cell_value is None:
                cells.append("")
                continue
            ref = f"{letter}{row}"
            if isinstance(cell_value, str):
                cells.append(_text_cell(ref, cell_value))
            else:
                style = formats.setdefault(number_format, len(formats) + 2) if number_format else 0
                styled = f' s="{style}"' if style else ""
                cells.append(f'<c r="{ref}"{styled}><v>{cell_value!r}</v></c>')
            widths[position] = max(widths[position], _width(_shown(cell_value, kind)))
        columns.append(cells)
    rows = ['<row r="1">' + "".join(_text_cell(f"{letter}1", str(name), 1)
                                    for letter, name in zip(letters, names, strict=True)) + "</row>"]
    rows += [f'<row r="{r}">{"".join(cells)}</row>'
             for r, cells in enumerate(zip(*columns, strict=True), start=2)]
    cols = "".join(f'<col min="{k}" max="{k}" width="{min(MAX_WIDTH, max(MIN_WIDTH, width + 2))}" '
                   'customWidth="1"/>' for k, width in enumerate(widths, start=1))
    return (f'{XML}<worksheet xmlns="{NS_MAIN}"><sheetViews><sheetView workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/>{f"<cols>{cols}</cols>" if cols else ""}'
            f'<sheetData>{"".join(rows)}</sheetData></worksheet>')


def _styles(formats: dict[str, int]) -> str:
    """Cell styles: 0 plain, 1 the bold header, then one per number format (in order of first use)."""
    ordered = sorted(formats, key=formats.__getitem__)
    numbers = "".join(f'<numFmt numFmtId="{FIRST_FORMAT + k}" formatCode="{_escape(code)}"/>'
                      for k, code in enumerate(ordered))
    font = '<sz val="11"/><name val="Calibri"/><family val="2"/>'
    xf = '<xf numFmtId="{}" fontId="{}" fillId="0" borderId="0" xfId="0"{}/>'
    xfs = [xf.format(0, 0, ""), xf.format(0, 1, ' applyFont="1"')]
    xfs += [xf.format(FIRST_FORMAT + k, 0, ' applyNumberFormat="1"') for k in range(len(ordered))]
    return (f'{XML}<styleSheet xmlns="{NS_MAIN}">'
            + (f'<numFmts count="{len(ordered)}">{numbers}</numFmts>' if ordered else "")
            + f'<fonts count="2"><font>{font}</font><font><b/>{font}</font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            "</styleSheet>")


def _workbook(titles: list[str]) -> str:
    sheets = "".join(f'<sheet name="{_escape(title)}" sheetId="{k}" r:id="rId{k}"/>'
                     for k, title in enumerate(titles, start=1))
    return (f'{XML}<workbook xmlns="{NS_MAIN}" xmlns:r="{NS_REL}"><bookViews><workbookView/></bookViews>'
            f"<sheets>{sheets}</sheets></workbook>")


def _relationships(targets: list[tuple[str, str]]) -> str:
    links = "".join(f'<Relationship Id="rId{k}" Type="{kind}" Target="{target}"/>'
                    for k, (kind, target) in enumerate(targets, start=1))
    return f'{XML}<Relationships xmlns="{NS_PACKAGE_REL}">{links}</Relationships>'


def _content_types(sheets: int) -> str:
    parts = [("/xl/workbook.xml", f"{_CONTENT}.spreadsheetml.sheet.main+xml"),
             ("/xl/styles.xml", f"{_CONTENT}.spreadsheetml.styles+xml"),
             ("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
             ("/docProps/app.xml", f"{_CONTENT}.extended-properties+xml")]
    parts += [(f"/xl/worksheets/sheet{k}.xml", f"{_CONTENT}.spreadsheetml.worksheet+xml")
              for k in range(1, sheets + 1)]
    overrides = "".join(f'<Override PartName="{name}" ContentType="{kind}"/>' for name, kind in parts)
    return (f'{XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            f'<Default Extension="xml" ContentType="application/xml"/>{overrides}</Types>')


def _core() -> str:
    """Document properties; its times are fixed (same tables, same bytes)."""
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (f'{XML}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
            'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/'
            'terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>csi_research</dc:creator>'
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified></cp:coreProperties>')
