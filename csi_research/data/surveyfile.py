"""Reading a survey firm's export as it comes: CSV in UTF-8 or GB18030 with any common separator,
Excel with cover sheets and title rows, SPSS with value labels, parquet.

:func:`read` returns a :class:`Table`: the data rows under the header's names as written (repeated
or empty names are judged by the validation in :mod:`csi_research.data.survey`), the spreadsheet row of
each data row, notes on what was detected, and SPSS value labels. A file that cannot be read is
refused with one message naming the file and the likely cause (see :mod:`csi_research.data.surveyproblems`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.errors import SurveyDataError
from csi_research.data.codebook import Codebook
from csi_research.data.surveyproblems import (
    EXAMPLES,
    SurveyProblem,
    cut,
    fail,
    listing,
    quote,
    refuse,
    rows_text,
)

HEADER_ROWS = 1  # header row of frames, .sav and .parquet; text and Excel files find their own
HEADER_SEARCH_ROWS = 10  # title rows above the header are looked for among this many first rows
DELIMITERS = (",", ";", "\t", "|")
TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": None}  # suffix → its usual separator
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
SUFFIXES = (*TEXT_SUFFIXES, *EXCEL_SUFFIXES, ".sav", ".parquet")
READERS = {".xlsx": "openpyxl", ".xlsm": "openpyxl", ".xls": "xlrd (or python-calamine)",
           ".sav": "pyreadstat", ".parquet": "pyarrow"}  # the package each file type needs
_MAGIC = {b"PK\x03\x04": "an Excel workbook (.xlsx)", b"\xd0\xcf\x11\xe0": "an old Excel workbook (.xls)",
          b"$FL2": "an SPSS file (.sav)", b"$FL3": "an SPSS file (.sav)", b"PAR1": "a parquet file"}


@dataclass
class Table:
    """A file as read: data rows under the header's names (repeated or "" as in the file)."""

    frame: pd.DataFrame
    rows: np.ndarray  # spreadsheet row of each frame row
    header_row: int
    notes: list[str] = field(default_factory=list)
    labels: dict[str, dict[Any, str]] = field(default_factory=dict)  # SPSS value labels per column
    title: str = ""  # text of the title rows above a header below row 1


def read(path: Path, data: bytes, sheet: str | int | None, book: Codebook) -> Table:
    name = path.name
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        refuse(
            name, "file_type",
            f"unsupported file type {quote(suffix or path.name)}; use {', '.join(SUFFIXES)}"
            + _looks_like(data, suffix)
        )
    if not data.strip():
        refuse(name, "empty_file", "the file is empty; export the survey with a header row and answers")
    known = {book.id_column, *book.attribute_ids, *book.item_ids}
    try:
        if suffix in TEXT_SUFFIXES:
            table = _read_text(name, data, suffix, book.id_column, known)
        elif suffix in EXCEL_SUFFIXES:
            table = _read_excel(name, data, sheet, known, book)
        elif suffix == ".parquet":
            frame = pd.read_parquet(io.BytesIO(data))
            table = Table(frame, np.arange(len(frame)) + 1 + HEADER_ROWS, HEADER_ROWS)
        else:
            import pyreadstat

            # user-missing codes declared in the file become NaN (pyreadstat's user_missing=False)
            frame, meta = pyreadstat.read_sav(str(path), apply_value_formats=False)
            table = Table(frame, np.arange(len(frame)) + 1 + HEADER_ROWS, HEADER_ROWS,
                           labels=dict(meta.variable_value_labels or {}))
    except SurveyDataError:
        raise
    except ImportError as exc:
        package = READERS.get(suffix) or exc.name  # pandas' own ImportError carries no .name
        refuse(
            name, "reader_missing",
            f"reading {suffix} files needs the package {package}; install it"
            + (" or save the workbook as .xlsx" if suffix == ".xls" else "")
        )
    except Exception as exc:  # every reader has its own exception zoo; the message is what matters
        refuse(
            name, "unparsable",
            f"cannot parse the file as {suffix}: {cut(str(exc) or type(exc).__name__, 300)}"
            + _looks_like(data, suffix)
        )
    if sheet is not None and suffix not in EXCEL_SUFFIXES:
        notes = table.notes
        notes.insert(0, f"{name}: sheet {quote(sheet)} ignored: only Excel workbooks have sheets")
    return table


def _looks_like(data: bytes, suffix: str) -> str:
    """A hint when the bytes are of another file type than the name says."""
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            return f" (the file is {kind}: give it its proper extension)"
    if suffix not in TEXT_SUFFIXES and data[:4096].isascii() and b"\x00" not in data[:4096] and data.strip():
        return " (the file is plain text: if it is a CSV export, give it the extension .csv)"
    return ""


def _read_text(name: str, data: bytes, suffix: str, id_column: str, known: set[str]) -> Table:
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        refuse(
            name, "binary",
            "the file is binary, not text (it holds NUL bytes)"
            + (_looks_like(data, suffix) or "; export the survey as CSV (UTF-8)")
        )
    encoding = _text_encoding(name, data)
    head = data[:262144].decode(encoding, errors="replace")
    lines = re.split(r"\r\n|\r|\n", head)[:HEADER_SEARCH_ROWS]
    delimiter, index = _header_line(lines, known, TEXT_SUFFIXES[suffix] or ",")
    header = _split(lines[index], delimiter) if index < len(lines) else []
    notes = []
    usual = TEXT_SUFFIXES[suffix]
    if usual is not None and delimiter != usual:
        notes.append(f"{name}: the columns are separated by {separator(delimiter)}, "
                     f"not {separator(usual)}; read accordingly")
    title = _first_text(" ".join(_split(line, delimiter)) for line in lines[:index])
    frame = _parse_text(data, encoding, delimiter, index + 1, header, id_column)
    start = index + 2  # spreadsheet row of the first data row
    return Table(frame, np.arange(len(frame)) + start, index + 1, notes, title=title)


def separator(delimiter: str) -> str:
    return "tabs" if delimiter == "\t" else repr(delimiter)


def _parse_text(data: bytes, encoding: str, delimiter: str, skip: int, header: list[str],
                id_column: str) -> pd.DataFrame:
    """Data rows under ``header`` (names kept as written: repeated or empty ones are judged later)."""
    width = max(len(header), 1)

    def parse(width: int) -> pd.DataFrame:
        ids = {k: str for k, h in enumerate(header) if h.strip() == id_column}
        return pd.read_csv(io.BytesIO(data), encoding=encoding, sep=delimiter, header=None, skiprows=skip,
                           names=list(range(width)), index_col=False, skip_blank_lines=False, dtype=ids)

    for _ in range(20):
        try:
            frame = parse(width)
            break
        except pd.errors.ParserError as exc:
            # a row wider than the header: widen and read again (pandas names the width it saw); cells
            # beyond the header become columns without a name, judged or dropped when empty
            wider = re.search(r"Expected \d+ fields in line \d+, saw (\d+)", str(exc))
            if not wider or int(wider.group(1)) <= width:
                raise
            width = int(wider.group(1))
    else:
        raise ValueError("rows of too many different widths; check the separators")
    frame.columns = [*header, *[""] * (frame.shape[1] - len(header))][: frame.shape[1]]
    return frame


def _split(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:  # an unbalanced quote in a title row; the header itself parses
        return line.split(delimiter)


def _header_line(lines: list[str], known: set[str], usual: str) -> tuple[str, int]:
    """The separator and line (0-based) holding the most codebook column names; ties: usual, earliest."""
    best = (0, usual, 0)
    for delimiter in (usual, *(d for d in DELIMITERS if d != usual)):
        for index, line in enumerate(lines):
            score = len(known.intersection(f.strip() for f in _split(line, delimiter)))
            if score > best[0]:
                best = (score, delimiter, index)
    if best[0] == 0 and lines:  # no codebook name anywhere: the separator that splits the first line most
        widths = {d: len(_split(lines[0], d)) for d in (usual, *DELIMITERS)}
        return max(widths, key=lambda d: widths[d]), 0
    return best[1], best[2]


def _first_text(lines: Iterable[str]) -> str:
    """The first non-blank title row's text (what a user recognises), "" when all are blank."""
    return next((" ".join(t.split()) for t in lines if t.strip()), "")


def _text_encoding(name: str, data: bytes) -> str:
    """utf-8-sig or gb18030; a UTF-8 file with some rows in another encoding names those rows."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        refuse(
            name, "encoding",
            "the text is neither UTF-8 nor GB18030 (it is UTF-16); "
            "save the CSV as UTF-8 (Excel: 'CSV UTF-8')"
        )
    try:
        data.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    bad, good = _non_utf8_lines(data)
    if bad and (good >= len(bad) or data.startswith(b"\xef\xbb\xbf")):  # mostly UTF-8: some rows are not
        lines = data.split(b"\n")
        try:
            sample = lines[bad[0] - 1].decode("gb18030").strip()
            looks = f"they look GBK/GB18030, e.g. row {bad[0]} reads {quote(sample)}"
        except UnicodeDecodeError:
            looks = "they hold bytes of another encoding"
        many = len(bad) > 1
        text = (f"row{'s' if many else ''} {rows_text(bad[:EXAMPLES], len(bad))}"
                + (f" ({len(bad)} rows)" if len(bad) > EXAMPLES else "")
                + f" {'are' if many else 'is'} not UTF-8 while the rest of the file is ({looks}); "
                "re-save the whole file as UTF-8 (Excel: 'CSV UTF-8') or retype those rows")
        fail(name, [SurveyProblem("", "encoding", len(bad), tuple(bad[:EXAMPLES]), (), text)])
    try:
        data.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError:
        refuse(
            name, "encoding",
            "the text is neither UTF-8 nor GB18030; save the CSV as UTF-8 (Excel: 'CSV UTF-8')"
        )


def _non_utf8_lines(data: bytes) -> tuple[list[int], int]:
    """Lines (1-based) that are not UTF-8, and the number of non-ASCII lines that are.

    Only non-ASCII lines are decoded; a file whose first 2,000 of them all fail is taken for a
    GB18030 file without looking further.
    """
    bad: list[int] = []
    good = 0
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            good += 1
        except UnicodeDecodeError:
            bad.append(number)
            if not good and len(bad) >= 2000:
                break
    return bad, good


def _read_excel(name: str, data: bytes, sheet: str | int | None, known: set[str], book: Codebook) -> Table:
    workbook = pd.ExcelFile(io.BytesIO(data))
    sheets = [str(s) for s in workbook.sheet_names]
    peeks = {s: pd.read_excel(workbook, sheet_name=s, header=None, nrows=HEADER_SEARCH_ROWS) for s in sheets}
    found = {s: _header_row(peek, known) for s, peek in peeks.items()}  # sheet → (score, row index)
    enough = max(2, (len(book.item_ids) + 1) // 2)  # a header with half the items is the survey's
    holding = [s for s in sheets if found[s][0] >= enough]
    notes = []
    if sheet is not None:
        chosen = _sheet(name, sheet, sheets)
        if found[chosen][0] == 0 and holding:
            refuse(
                name, "sheet",
                f"sheet {quote(chosen)} has none of the codebook's columns; sheet "
                f"{quote(holding[0])} has them: read it with --sheet {cut(holding[0])} "
                f"(study.yaml: sheet: {cut(holding[0])})"
            )
    elif len(holding) > 1:
        refuse(
            name, "sheet",
            f"sheets {listing([repr(s) for s in holding], 5)} {'both' if len(holding) == 2 else 'all'} hold "
            "the codebook's columns; "
            f"choose one with --sheet NAME (study.yaml: sheet: NAME)"
        )
    else:
        best = max(sheets, key=lambda s: found[s][0])  # the first among equals
        chosen = holding[0] if holding else best if found[best][0] else sheets[0]
        if chosen != sheets[0]:
            notes.append(f"{name}: read sheet {quote(chosen)}, the one holding the survey's columns "
                         f"(sheet {quote(sheets[0])} does not); write sheet: {cut(chosen)} in study.yaml "
                         "to make the choice explicit")
    index = found[chosen][1]
    whole = pd.read_excel(workbook, sheet_name=chosen, header=None)
    if whole.empty:
        refuse(
            name, "empty_sheet",
            f"sheet {quote(chosen)} is empty; put the survey with its header row there"
        )
    title = _first_text(" ".join(str(v) for v in whole.iloc[k].dropna()) for k in range(index))
    header = [header_text(v) for v in whole.iloc[index]]
    frame = whole.iloc[index + 1:].reset_index(drop=True).infer_objects()
    frame.columns = header
    return Table(frame, np.arange(len(frame)) + index + 2, index + 1, notes, title=title)


def header_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _header_row(peek: pd.DataFrame, known: set[str]) -> tuple[int, int]:
    """(number of codebook names, row index) of the first rows' row with the most of them."""
    best = (0, 0)
    for index in range(len(peek)):
        score = len(known.intersection(str(v).strip() for v in peek.iloc[index].dropna()))
        if score > best[0]:
            best = (score, index)
    return best


def _sheet(name: str, sheet: str | int, sheets: list[str]) -> str:
    """The sheet asked for: a name (exact, else ignoring case and spaces) or a number from 1."""
    if isinstance(sheet, str):
        if sheet in sheets:
            return sheet
        loose = [s for s in sheets if s.strip().casefold() == sheet.strip().casefold()]
        if loose:
            return loose[0]
        if not sheet.strip().isdigit():
            refuse(
                name, "sheet",
                f"the workbook has no sheet {quote(sheet)}; "
                f"its sheets are {listing([repr(s) for s in sheets])}"
            )
        sheet = int(sheet.strip())
    if isinstance(sheet, bool) or not isinstance(sheet, int | np.integer) or not 1 <= sheet <= len(sheets):
        refuse(
            name, "sheet",
            f"the workbook has no sheet number {quote(sheet)}; sheets are numbered from 1 to "
            f"{len(sheets)}: {listing([repr(s) for s in sheets])}"
        )
    return sheets[int(sheet) - 1]
