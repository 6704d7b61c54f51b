"""Reading a survey firm's export as it comes: CSV in UTF-8, UTF-16, GB18030 or Big5 with any common
separator, Excel with cover sheets, hidden sheets and title rows, HTML tables saved as .xls, SPSS with
value labels, parquet, gzip-compressed text; each read for what its bytes are (see :mod:`.sniff`).

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
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.errors import SurveyDataError
from csi_research.data import footer, sniff
from csi_research.data.codebook import Codebook
from csi_research.data.surveyproblems import (
    EXAMPLES,
    cut,
    listing,
    quote,
    refuse,
)

HEADER_ROWS = 1  # header row of frames, .sav and .parquet; text and Excel files find their own
HEADER_SEARCH_ROWS = 50  # title rows above the header are looked for among this many first rows
DELIMITERS = (",", ";", "\t", "|")
TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t"}  # suffix → its usual separator
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
SUFFIXES = (*TEXT_SUFFIXES, *EXCEL_SUFFIXES, ".sav", ".parquet")
READERS = {"xlsx": "openpyxl", "xls": "xlrd (or python-calamine)", "sav": "pyreadstat",
           "parquet": "pyarrow"}  # the package each file kind needs
_NAMED = {".csv": "text", ".tsv": "text", ".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".sav": "sav",
          ".parquet": "parquet"}  # the kind of file each suffix promises
@dataclass
class Table:
    """A file as read: data rows under the header's names (repeated or "" as in the file)."""

    frame: pd.DataFrame
    rows: np.ndarray  # spreadsheet row of each frame row
    header_row: int
    notes: list[str] = field(default_factory=list)
    labels: dict[str, dict[Any, str]] = field(default_factory=dict)  # SPSS value labels per column
    title: str = ""  # text of the title rows above a header below row 1
    where: str = ""  # how errors name the data ("survey.xlsx, sheet 'data'"); "" for the file's name


def read(path: Path, data: bytes, sheet: str | int | None, book: Codebook) -> Table:
    """The file's table, read for what its bytes are (see :mod:`csi_research.data.sniff`), not its name."""
    name = path.name
    suffix = path.suffix.lower()
    if not data.strip():
        refuse(name, "empty_file", "the file is empty; export the survey with a header row and answers")
    kind = sniff.file_kind(data)
    notes: list[str] = []
    if kind == "gzip":
        data = sniff.gunzip(name, data)
        kind = sniff.file_kind(data)
        if kind != "text":
            refuse(name, "file_type", f"the file is gzip-compressed and holds {sniff.KINDS[kind]}; "
                   "decompress it and give the file inside")
        if not data.strip():
            refuse(name, "empty_file", "the gzip-compressed file holds nothing; export the survey again")
        notes.append(f"{name}: the file is gzip-compressed; read the text inside it")
        if suffix == ".gz":  # survey.csv.gz: the type is the one before .gz
            suffix = Path(path.stem).suffix.lower()
    if kind in sniff.REFUSED:
        sniff.refuse_kind(name, kind, data)
    known = {book.id_column, *book.attribute_ids, *book.item_ids}
    enough = max(2, (len(book.item_ids) + 1) // 2)  # a header with half the items is the survey's
    try:
        if kind == "text":
            table = _read_text(name, data, suffix, book.id_column, known, enough)
        elif kind == "html":
            table = _read_html(name, data, book.id_column, known, enough)
        elif kind in ("xlsx", "xls"):
            table = _read_excel(name, data, sheet, kind, known, book, enough)
        elif kind == "parquet":
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
        package = READERS.get(kind) or exc.name  # pandas' own ImportError carries no .name
        refuse(
            name, "reader_missing",
            f"reading .{kind} files needs the package {package}; install it"
            + (" or save the workbook as .xlsx" if kind == "xls" else "")
        )
    except Exception as exc:  # every reader has its own exception zoo; the message is what matters
        refuse(
            name, "unparsable",
            f"cannot parse the file as {sniff.KINDS[kind]}: {cut(str(exc) or type(exc).__name__, 300)}"
        )
    if kind != "text" and _NAMED.get(suffix) != kind:  # text says how it was parsed itself
        notes.append(f"{name}: the file is {sniff.KINDS[kind]}, not what its extension "
                     f"{quote(suffix or '(none)')} says; read it as such")
    table.notes[:0] = notes
    if sheet is not None and kind not in ("xlsx", "xls"):
        notes = table.notes
        notes.insert(0, f"{name}: sheet {quote(sheet)} ignored: only Excel workbooks have sheets")
    _drop_footer(name, table, book.id_column)
    return table


def _drop_footer(name: str, table: Table, id_column: str) -> None:
    """Summary rows under a spreadsheet's data (合计, 平均, 注…) are taken off, with a note."""
    frame, rows, notes = footer.drop_footer(name, table.frame, table.rows, id_column)
    if notes:
        # the summary cells made whole-number columns float or text: read them as the rest would be
        table.frame, table.rows = _reinfer(frame), rows
        table.notes += notes


def _reinfer(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns of whole numbers as int, text columns of numbers as numbers (ids and text stay)."""
    out = {}
    for k in range(frame.shape[1]):
        column = frame.iloc[:, k]
        if pd.api.types.is_float_dtype(column) and column.notna().all() and (column % 1 == 0).all():
            column = column.astype(np.int64)
        out[k] = column
    result = pd.DataFrame(out, index=frame.index)
    result.columns = frame.columns
    return result


def _read_text(name: str, data: bytes, suffix: str, id_column: str, known: set[str], enough: int) -> Table:
    encoding = sniff.text_encoding(name, data)
    if b"\x00" in data[:4096] and not encoding.startswith(("utf-16", "utf-32")):
        refuse(name, "binary", "the file is binary, not text (it holds NUL bytes); export the survey as CSV "
               "(UTF-8)")
    head = data[:262144].decode(encoding, errors="replace")
    lines = re.split(r"\r\n|\r|\n", head)[:HEADER_SEARCH_ROWS]
    usual = TEXT_SUFFIXES.get(suffix)
    delimiter, index, score = _header_line(lines, known, usual or ",")
    if usual is None and score < enough:
        refuse(
            name, "file_type",
            f"unsupported file type {quote(suffix or name)}; use {', '.join(SUFFIXES)}"
            + (" (the file is text, but its first rows hold no header with the codebook's columns)"
               if _NAMED.get(suffix) is None else
               f" (the file is text, not {sniff.KINDS[_NAMED[suffix]]}: if it is a CSV export, give it the "
               "extension .csv)")
        )
    header = _split(lines[index], delimiter) if index < len(lines) else []
    notes = []
    label = sniff.encoding_label(encoding)
    if usual is None and suffix in _NAMED:
        notes.append(f"{name}: the file is text, not {sniff.KINDS[_NAMED[suffix]]} as its extension says; "
                     f"read as text: columns separated by {separator(delimiter)}, encoding {label}")
    elif usual is None:
        notes.append(f"{name}: the file type {quote(suffix or '(none)')} is not a survey format, but the "
                     f"file is text with the codebook's columns; read as text: columns separated by "
                     f"{separator(delimiter)}, encoding {label}")
    elif delimiter != usual:
        notes.append(f"{name}: the columns are separated by {separator(delimiter)}, "
                     f"not {separator(usual)}; read accordingly")
    notes += sniff.encoding_notes(name, encoding)
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


def _header_line(lines: list[str], known: set[str], usual: str) -> tuple[str, int, int]:
    """The separator and line (0-based) holding the most codebook column names (and how many); ties:
    usual, earliest."""
    best = (0, usual, 0)
    for delimiter in (usual, *(d for d in DELIMITERS if d != usual)):
        for index, line in enumerate(lines):
            score = len(known.intersection(f.strip() for f in _split(line, delimiter)))
            if score > best[0]:
                best = (score, delimiter, index)
    if best[0] == 0 and lines:  # no codebook name anywhere: the separator that splits the first line most
        widths = {d: len(_split(lines[0], d)) for d in (usual, *DELIMITERS)}
        return max(widths, key=lambda d: widths[d]), 0, 0
    return best[1], best[2], best[0]


def _first_text(lines: Iterable[str]) -> str:
    """The first non-blank title row's text (what a user recognises), "" when all are blank."""
    return next((" ".join(t.split()) for t in lines if t.strip()), "")


def _read_excel(name: str, data: bytes, sheet: str | int | None, kind: str, known: set[str], book: Codebook,
                enough: int) -> Table:
    """The survey sheet: the one given, else the one whose header holds the codebook's item columns."""
    workbook = pd.ExcelFile(io.BytesIO(data))
    sheets = [str(s) for s in workbook.sheet_names]
    peeks = {s: pd.read_excel(workbook, sheet_name=s, header=None, nrows=HEADER_SEARCH_ROWS) for s in sheets}
    found = {s: _header_row(peek, known) for s, peek in peeks.items()}  # sheet → (score, row index)
    items = set(book.item_ids)
    holding = [s for s in sheets if _header_row(peeks[s], items)[0] >= enough]
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
    where = f"{name}, sheet {quote(chosen)}"
    states = _sheet_states(data) if kind == "xlsx" else {}
    if states.get(chosen, "visible") != "visible":
        notes.append(f"{name}: the survey sheet {quote(chosen)} is hidden in the workbook; it was read all "
                     "the same (unhide it in Excel/WPS to see what was read)")
    index = found[chosen][1]
    whole = pd.read_excel(workbook, sheet_name=chosen, header=None)
    if whole.empty:
        refuse(
            name, "empty_sheet",
            f"sheet {quote(chosen)} is empty; put the survey with its header row there"
        )
    title = _first_text(" ".join(str(v) for v in whole.iloc[k].dropna()) for k in range(index))
    header = [header_text(v) for v in whole.iloc[index]]
    if kind == "xlsx":
        _refuse_uncalculated(where, data, chosen, whole, index, header, known)
    frame = whole.iloc[index + 1:].reset_index(drop=True).infer_objects()
    frame.columns = header
    return Table(frame, np.arange(len(frame)) + index + 2, index + 1, notes, title=title, where=where)


def _sheet_states(data: bytes) -> dict[str, str]:
    """Sheet name → visible, hidden or veryHidden."""
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    try:
        return {str(s.title): str(s.sheet_state) for s in book.worksheets}
    finally:
        book.close()


def _refuse_uncalculated(where: str, data: bytes, sheet: str, whole: pd.DataFrame, index: int,
                         header: list[str], known: set[str]) -> None:
    """Refuse formulas in survey columns that have no saved value (the workbook was never calculated).

    pandas reads the values Excel saved; a formula written by a program and never calculated has none
    and would silently read as a blank answer.
    """
    columns = [k for k, h in enumerate(header) if h.strip() in known]
    body = whole.iloc[index + 1:, columns]
    if not body.isna().to_numpy().any():
        return
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    try:
        bad = []
        count = 0
        blank = body.isna().to_numpy()
        for r, row in enumerate(book[sheet].iter_rows(min_row=index + 2, values_only=True)):
            if r >= len(blank):
                break
            for j, k in enumerate(columns):
                value = row[k] if k < len(row) else None
                if blank[r, j] and isinstance(value, str) and value.startswith("="):
                    count += 1
                    if len(bad) < EXAMPLES:
                        bad.append(f"{cut(header[k].strip())} row {index + 2 + r} ({quote(value)})")
    finally:
        book.close()
    if count:
        refuse(
            where, "uncalculated",
            f"{count} cell(s) in survey columns hold formulas that were never calculated, so they have no "
            f"value: {', '.join(bad)}{' …' if count > len(bad) else ''}; open the workbook in Excel/WPS, "
            "let it calculate (F9) and save it, or paste the answers as values"
        )


def _read_html(name: str, data: bytes, id_column: str, known: set[str], enough: int) -> Table:
    """The table of an HTML page (what some systems save as .xls) holding the codebook's columns."""
    encoding = sniff.html_encoding(data)
    grids = html_tables(data.decode(encoding, errors="replace"))
    scored = [(_header_row(pd.DataFrame(g[:HEADER_SEARCH_ROWS]), known), k) for k, g in enumerate(grids) if g]
    if not scored:
        refuse(name, "no_table", "the file is an HTML page without a table; export the survey as .xlsx "
               "or CSV")
    (score, index), k = max(scored, key=lambda t: (t[0][0], -t[1]))
    if score < enough:
        refuse(name, "no_table", f"the file is an HTML page whose tables ({len(grids)}) hold no header with "
               "the codebook's columns; export the survey as .xlsx or CSV")
    grid = grids[k]
    width = max(len(r) for r in grid)
    whole = pd.DataFrame([[*r, *[None] * (width - len(r))] for r in grid], dtype=object)
    whole = whole.map(lambda v: None if v is None or not v.strip() else v.strip())
    title = _first_text(" ".join(str(v) for v in whole.iloc[j].dropna()) for j in range(index))
    header = [header_text(v) for v in whole.iloc[index]]
    frame = whole.iloc[index + 1:].reset_index(drop=True)
    for j, h in enumerate(header):  # numbers as numbers, as a CSV reader gives them; ids stay text
        numbers = pd.to_numeric(frame.iloc[:, j], errors="coerce")
        if h.strip() != id_column and numbers.notna().sum() == frame.iloc[:, j].notna().sum():
            frame[j] = numbers
    frame.columns = header
    notes = []
    if len(grids) > 1:
        notes.append(f"{name}: read table {k + 1} of the page's {len(grids)}, the one holding the survey's "
                     "columns")
    return Table(frame, np.arange(len(frame)) + index + 2, index + 1, notes, title=title)


class _Tables(HTMLParser):
    """Cell texts of every <table> (rows of <td>/<th>), nested tables flattened into their cell."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.depth = 0
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.depth += 1
            if self.depth == 1:
                self.tables.append([])
        elif self.depth == 1 and tag == "tr":
            self.tables[-1].append([])
        elif self.depth == 1 and tag in ("td", "th"):
            if not self.tables[-1]:
                self.tables[-1].append([])
            self.cell = []
            span = dict(attrs).get("colspan") or "1"
            self.span = int(span) if span.isdigit() else 1
        elif tag == "br" and self.cell is not None:
            self.cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.depth = max(self.depth - 1, 0)
        elif self.depth == 1 and tag in ("td", "th") and self.cell is not None:
            self._close()

    def _close(self) -> None:
        text = " ".join("".join(self.cell or []).split())
        self.tables[-1][-1].extend([text, *[""] * (self.span - 1)])
        self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def html_tables(text: str) -> list[list[list[str]]]:
    """Every table of an HTML page as rows of cell texts."""
    parser = _Tables()
    parser.feed(text)
    parser.close()
    return parser.tables


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
