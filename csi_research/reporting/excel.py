"""A workbook of a run's tables for readers: one sheet per table, bilingual names and headers.

Numbers stay numbers: the decimals, percentages and p-value floor of
:mod:`csi_research.reporting.headers` are Excel number formats, so a reader can still sort and
compute. Booleans are ✓ / –, missing values empty cells, ±∞ the text "∞" / "-∞" (Excel has no
infinity). The header row is frozen and columns are sized to their contents.

The workbook's bytes depend only on the tables: the zip entries' dates and the document's
created/modified times are fixed, so the same run gives the same file. It is written through a
temporary file and linked into place (:func:`csi_research.output.write_atomic`), never over an
existing file.
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

from csi_research.reporting.headers import (
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
    from openpyxl import Workbook
    from openpyxl.styles import Font

    check_language(language)
    if not tables:
        raise ValueError("a workbook needs at least one table")
    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    for title, (_, table) in zip(sheet_names(list(tables), language), tables.items(), strict=True):
        sheet = book.create_sheet(title)
        frame = table.reset_index(drop=True)
        names = headers(frame, language)
        sheet.append(names)
        for cell in sheet[1]:
            cell.font = bold
        widths = [_width(n) for n in names]
        for position in range(frame.shape[1]):
            kind = column_kind(frame, frame.columns[position])
            for row, value in enumerate(frame.iloc[:, position], start=2):
                cell_value, number_format = _cell(value, kind)
                if cell_value is None:
                    continue
                cell = sheet.cell(row=row, column=position + 1, value=cell_value)
                if isinstance(cell_value, str) and cell_value.startswith("="):
                    cell.data_type = "s"  # text such as the CB-SEM operator "=~", not a formula
                if number_format:
                    cell.number_format = number_format
                widths[position] = max(widths[position], _width(_shown(cell_value, kind)))
        for position, width in enumerate(widths, start=1):
            sheet.column_dimensions[_letter(position)].width = min(MAX_WIDTH, max(MIN_WIDTH, width + 2))
        sheet.freeze_panes = "A2"
    book.properties.creator = "csi_research"
    book.properties.created = FIXED_TIME
    buffer = io.BytesIO()
    book.save(buffer)
    return _reproducible(buffer.getvalue())


def write_workbook(tables: dict[str, pd.DataFrame], path: str | Path, language: str = "both") -> Path:
    """Write ``tables`` as a workbook at ``path`` atomically; refuses to replace an existing file."""
    from csi_research.output import write_atomic

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
    from openpyxl.utils import get_column_letter

    return get_column_letter(position)


_MODIFIED = re.compile(rb"<dcterms:modified([^>]*)>[^<]*</dcterms:modified>")


def _reproducible(data: bytes) -> bytes:
    """The same workbook with fixed zip entry dates and a fixed modified time (openpyxl stamps now)."""
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _MODIFIED.sub(rb"<dcterms:modified\1>" + stamp + rb"</dcterms:modified>", content)
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            target.writestr(entry, content)
    return out.getvalue()
