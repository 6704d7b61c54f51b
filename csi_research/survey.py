"""Loading a survey file into a validated, analysis-ready :class:`Survey`.

``load_survey`` is the only place the statistics core reads files. It refuses data that would
silently corrupt an index (text in answer columns, codes outside the scale, unknown segment values,
duplicated or unnamed columns) and reports softer problems (missingness, straight-lining, duplicate
ids, out-of-pattern answers) in a :class:`DataQuality` value and in ``diagnostics``.

Validation is one pass: every problem of the file is collected and raised together as one
:class:`SurveyDataError` whose message is grouped by column (count of bad cells, the first few rows
and values, a hint) and bounded in length; ``error.problems`` holds the same facts as
:class:`SurveyProblem` values.

A survey firm's own export is read as it comes:

* CSV (also .tsv/.txt): UTF-8 with or without BOM, or GB18030. A UTF-8 file with a few rows in
  another encoding is refused naming those rows (decoding the whole file as GB18030 would garble the
  UTF-8 text). The separator (``,`` ``;`` tab ``|``) is the one that splits the header into the
  codebook's column names; a separator other than the file type's usual one is read and noted.
* Title rows above the header: the header is the row, among the first :data:`HEADER_SEARCH_ROWS`,
  with the most codebook column names; rows above it are skipped with a note.
* Excel: without ``sheet`` the workbook's sheet holding the codebook's columns is read (noted when it
  is not the first); two such sheets are an error asking which. A ``sheet`` without the codebook's
  columns is refused naming the sheet that has them. ``sheet`` is a name or a number counted from 1.
* SPSS .sav: value labels of attribute columns are applied (code 2 labelled 商业 → commercial);
  item columns stay numeric; codes declared user-missing in the file are read as missing.
* Columns the codebook does not know are kept aside in ``Survey.extra`` (``extra_columns="keep"``,
  with a note) or refused (``"error"``). ``missing_codes`` adds study-wide "don't know" codes.

Row numbers in messages are **spreadsheet rows**: the header is row 1 (or lower, below title rows),
the first respondent the row after it, so a user can jump straight to the cell in Excel/WPS. For
.sav, .parquet and in-memory frames respondent k (0-based) is row k + 2.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import warnings
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
from scipy import stats

from csi_research import options
from csi_research.codebook import Attribute, Codebook, Item, Scale
from csi_research.diagnostics import public
from csi_research.errors import ModelSpecError, SurveyDataError
from csi_research.model import CSIModel

HEADER_ROWS = 1  # header row of frames, .sav and .parquet; text and Excel files find their own
HEADER_SEARCH_ROWS = 10  # title rows above the header are looked for among this many first rows
DELIMITERS = (",", ";", "\t", "|")
TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": None}  # suffix → its usual separator
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
SUFFIXES = (*TEXT_SUFFIXES, *EXCEL_SUFFIXES, ".sav", ".parquet")
READERS = {".xlsx": "openpyxl", ".xlsm": "openpyxl", ".xls": "xlrd (or python-calamine)",
           ".sav": "pyreadstat", ".parquet": "pyarrow"}  # the package each file type needs
QUOTE_CHARS = 40  # a value or name quoted in a message is cut to this many characters
EXAMPLES = 3  # rows and values shown per problem
LISTED_PROBLEMS = 12  # problem lines in one message; the rest are counted
MESSAGE_CHARS = 2000  # no message is longer than this
STRAIGHT_LINE_MIN_ITEMS = 10
OUTLIER_ALPHA = 0.001  # Mahalanobis D² above the chi² (1 − alpha) quantile flags a respondent
ITEM_MISSING_WARN = 0.20
RESPONDENT_MISSING_WARN = 0.50
_UNNAMED = re.compile(r"^Unnamed: \d+(_level_\d+)?$")  # pandas' name for a column without header
_MANGLED = re.compile(r"^(.+)\.(\d+)$")  # pandas' name for the second IMG1: IMG1.1
_MAGIC = {b"PK\x03\x04": "an Excel workbook (.xlsx)", b"\xd0\xcf\x11\xe0": "an old Excel workbook (.xls)",
          b"$FL2": "an SPSS file (.sav)", b"$FL3": "an SPSS file (.sav)", b"PAR1": "a parquet file"}


@dataclass(frozen=True)
class SurveyProblem:
    """One kind of fault in one column of a survey (``column`` is "" for the file as a whole).

    ``count`` bad cells (or columns, rows), the first few spreadsheet ``rows`` and their ``values``
    as quoted in the message, and ``text``, the message line.
    """

    column: str
    kind: str
    count: int
    rows: tuple[int, ...] = ()
    values: tuple[str, ...] = ()
    text: str = ""


@dataclass(frozen=True)
class DataQuality:
    """Data-quality facts about one survey; nothing here stops the analysis.

    * ``item_missing``: share of respondents without an answer (blank or "don't know"), per item.
    * ``respondent_missing``: share of items unanswered, per respondent (index = frame index).
    * ``straight_liners``: respondent ids giving the same raw code to every item they answered,
      with at least ``STRAIGHT_LINE_MIN_ITEMS`` answered.
    * ``outliers``: out-of-pattern respondents: squared Mahalanobis distance of the answers
      (item means imputed for gaps, sample covariance) above the chi² quantile 1 − ``OUTLIER_ALPHA``
      with one degree of freedom per item; only respondents with at least half the items answered.
      Ordinal, skewed answers make this a flag for inspection, not a verdict.
    * ``duplicate_ids``: respondent ids that occur more than once (kept; see ``load_survey``).
    * ``zero_variance_items``: items with fewer than two distinct observed answers.
    """

    n_respondents: int
    item_missing: pd.Series
    respondent_missing: pd.Series
    straight_liners: tuple[str, ...]
    outliers: tuple[str, ...]
    duplicate_ids: tuple[str, ...]
    zero_variance_items: tuple[str, ...]

    def summary(self) -> dict[str, pd.DataFrame]:
        """Tables ``overview`` (metric, value) and ``items`` (item, missing_share)."""
        n = max(self.n_respondents, 1)
        overview = pd.DataFrame(
            [
                ("respondents", self.n_respondents),
                ("items", len(self.item_missing)),
                ("missing cells (share)", round(float(self.item_missing.mean()), 4)),
                (f"respondents missing > {RESPONDENT_MISSING_WARN:.0%} of items",
                 int((self.respondent_missing > RESPONDENT_MISSING_WARN).sum())),
                ("straight-liners", len(self.straight_liners)),
                ("straight-liners (share)", round(len(self.straight_liners) / n, 4)),
                ("out-of-pattern respondents", len(self.outliers)),
                ("duplicate respondent ids", len(self.duplicate_ids)),
                ("zero-variance items", ", ".join(self.zero_variance_items) or "none"),
            ],
            columns=["metric", "value"],
        )
        items = self.item_missing.rename("missing_share").rename_axis("item").reset_index()
        return {"overview": overview, "items": items}


@dataclass(frozen=True)
class Survey:
    """A validated survey: clean frame + the codebook that explains it + where it came from.

    ``frame`` holds the id column, the attributes (categoricals) and the items as float with
    "don't know" codes turned into NaN and reverse-coded items recoded as ``min + max − x``.
    Estimators accept a Survey wherever they accept a DataFrame (they read ``.frame``).
    ``extra`` holds the file's columns the codebook does not know, raw and not analysed (same
    index as ``frame``); ``rows`` the spreadsheet row of each respondent (None: position + 2).
    """

    frame: pd.DataFrame
    codebook: Codebook
    source: str
    sha256: str
    quality: DataQuality
    diagnostics: list[str] = field(default_factory=list)
    extra: pd.DataFrame = field(default_factory=pd.DataFrame)
    rows: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def items(self) -> pd.DataFrame:
        return self.frame[self.codebook.item_ids]

    def model(self) -> CSIModel:
        return self.codebook.model()

    def row_numbers(self) -> np.ndarray:
        """Spreadsheet row of each respondent of ``frame``, in order."""
        if self.rows is not None:
            return self.rows
        return np.arange(len(self.frame)) + 1 + HEADER_ROWS

    @classmethod
    @public
    def from_frame(
        cls, raw: pd.DataFrame, codebook: Codebook | None = None, source: str = "frame", *,
        missing_codes: Sequence[int] = (), extra_columns: str = "keep",
    ) -> Survey:
        """Validate an in-memory frame of raw codes exactly as ``load_survey`` validates a file."""
        book = codebook or Codebook.default()
        codes = _study_missing_codes(missing_codes, book, source)
        options.choice(extra_columns, options.EXTRA_COLUMNS, "extra_columns", source)
        digest = hashlib.sha256(pd.util.hash_pandas_object(raw, index=True).to_numpy().tobytes()).hexdigest()
        table = _Table(raw, np.arange(len(raw)) + 1 + HEADER_ROWS, HEADER_ROWS)
        return _build(table, book, source, digest, codes, extra_columns)

    def summary(self) -> dict[str, pd.DataFrame]:
        """Tables ``overview``, ``items`` (n, mean on the scale, 0–100, grade score, missing) and quality."""
        book = self.codebook
        rows = []
        for item in book.items:
            scale = book.scales[item.scale]
            x = self.frame[item.id].to_numpy()
            rows.append({
                "item": item.id, "construct": item.construct, "subindicator": item.subindicator,
                "n": int(np.sum(~np.isnan(x))), "mean": np.nanmean(x) if np.any(~np.isnan(x)) else np.nan,
                "index_0_100": np.nanmean(scale.to_100(x)) if np.any(~np.isnan(x)) else np.nan,
                "grade_score": np.nanmean(scale.grade_score(x)) if np.any(~np.isnan(x)) else np.nan,
                "missing_share": float(self.quality.item_missing[item.id]),
            })
        overview = pd.DataFrame(
            [("source", self.source), ("sha256", self.sha256), ("respondents", len(self.frame)),
             ("items", len(book.items)), ("codebook", book.name)],
            columns=["metric", "value"],
        )
        quality = self.quality.summary()
        return {"overview": overview, "items": pd.DataFrame(rows).round(3),
                "quality": quality["overview"]}


@public
def load_survey(
    path: str | Path, codebook: Codebook | None = None, *, sheet: str | int | None = None,
    missing_codes: Sequence[int] = (), extra_columns: str = "keep",
) -> Survey:
    """Read and validate a survey file (.csv/.tsv/.txt, .xlsx/.xlsm/.xls, .sav, .parquet).

    The file is read once and never written (see the module doc for encodings, separators, title
    rows, sheets and SPSS labels). ``sheet`` names an Excel sheet or numbers it from 1; ``missing_codes``
    are "don't know" codes of every item, added to each item's own; ``extra_columns`` is "keep"
    (columns the codebook does not know go to ``Survey.extra``) or "error". Duplicate respondent ids
    are kept and reported in ``quality`` (re-interviews and data-entry slips happen and the analyst
    decides), but an id column in which *every* id occurs more than once is an error: the file was
    most likely pasted into itself.
    """
    path = Path(path)
    book = codebook or Codebook.default()
    codes = _study_missing_codes(missing_codes, book, str(path))
    options.choice(extra_columns, options.EXTRA_COLUMNS, "extra_columns", str(path))
    if path.is_dir():
        _refuse(
            str(path), "folder",
            f"is a folder, not a survey file; give the path of the survey file itself "
            f"({', '.join(SUFFIXES)})"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        _refuse(str(path), "unreadable", f"cannot read the survey file: {exc.strerror or exc}")
    table = _read(path, data, sheet, book)
    return _build(table, book, str(path), hashlib.sha256(data).hexdigest(), codes, extra_columns)


def check_identity(survey: Survey, *, region: Collection[str], wave: str | int, where: str) -> None:
    """Refuse a survey whose ``region`` or ``wave`` column is not the study's region and wave.

    ``region`` lists the accepted spellings (the study's id, Chinese and English name; compared
    case-insensitively, stripped), ``wave`` the study's wave (2025, 2025.0 and "2025" are equal),
    ``where`` the study file named in the message. Blank cells and absent columns are not checked.
    A file holding several regions or waves is refused too: one study is one region and one wave.
    """
    spellings = list(dict.fromkeys(str(r).strip() for r in region if r is not None and str(r).strip()))
    declared = (spellings[0] + (f" ({', '.join(spellings[1:])})" if len(spellings) > 1 else "")
                if spellings else "?")
    problems = []
    frame, rows = survey.frame, survey.row_numbers()
    if "region" in frame.columns:
        accepted = {s.casefold() for s in spellings}
        owner = f"{spellings[0]}'s survey" if spellings else "the study's survey"
        problems += _identity(frame["region"], rows, lambda v: v.strip().casefold() in accepted, "region",
                              f"{where} is region {declared}", owner)
    if "wave" in frame.columns:
        expected = _wave_text(wave)
        problems += _identity(frame["wave"], rows, lambda v: _wave_text(v) == expected, "wave",
                              f"{where} is wave {expected}", f"the wave {expected} survey")
    if problems:
        _fail(Path(survey.source).name, problems)


def _identity(column: pd.Series, rows: np.ndarray, accepted: Callable[[str], bool], what: str,
              declared: str, owner: str) -> list[SurveyProblem]:
    """The problem of an identity column whose non-blank values are not all accepted (or none).

    ``declared`` says what the study is, ``owner`` which file the data: key should point at.
    """
    codes, uniques = pd.factorize(pd.Series(_as_text(column.astype(object)), dtype=object))
    if not len(uniques):
        return []
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    first = np.full(len(uniques), len(codes))
    np.minimum.at(first, codes[codes >= 0], np.flatnonzero(codes >= 0))
    found = [(str(v), int(counts[k]), int(rows[first[k]]), accepted(str(v))) for k, v in enumerate(uniques)]
    if all(ok for *_, ok in found):
        return []
    found.sort(key=lambda f: (-f[1], f[2]))
    wrong = [f for f in found if not f[3]]
    if len(found) == 1:
        value, count, row, _ = found[0]
        text = (f"column {what} says {_quote(value)} ({count} rows, e.g. row {row}) but {declared}; "
                f"point data: at {owner} or correct the {what}")
        return [SurveyProblem(what, f"wrong_{what}", count, (row,), (_quote(value),), text)]
    listed = ", ".join(f"{_quote(v)} ({n} rows, e.g. row {r})" for v, n, r, _ in found[:5])
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    text = (f"column {what} holds {len(found)} different values: {listed}{more}; one study is one {what} "
            f"and {declared}: keep only its rows (filter the file) or make one study per {what}")
    examples = wrong[:EXAMPLES]
    return [SurveyProblem(what, f"mixed_{what}", sum(f[1] for f in wrong), tuple(f[2] for f in examples),
                          tuple(_quote(f[0]) for f in examples), text)]


def _wave_text(value: Any) -> str:
    """A wave as text: 2025, 2025.0, " 2025 " and "2025.0" are all "2025"."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text.casefold()
    return str(int(number)) if number.is_integer() else text


def _study_missing_codes(codes: Sequence[int], book: Codebook, where: str) -> tuple[int, ...]:
    """Study-wide "don't know" codes as ints; one that is an answer code of some item is an error."""
    if isinstance(codes, str | bytes) or not isinstance(codes, Iterable):
        raise ModelSpecError(f"{where}: missing_codes must be a list of integer codes, not {_quote(codes)}")
    out = []
    for code in codes:
        if isinstance(code, bool) or not isinstance(code, int | float | np.integer | np.floating) \
                or not float(code).is_integer():
            raise ModelSpecError(f"{where}: missing code {_quote(code)} is not an integer code")
        out.append(int(code))
    for code in dict.fromkeys(out):
        clash = [i.id for i in book.items if code in book.scales[i.scale].codes]
        if clash:
            raise ModelSpecError(
                f"{where}: missing code {code} is an answer code of item(s) {_listing(clash, 6)}; "
                "a \"don't know\" code must lie outside every item's scale"
            )
    return tuple(dict.fromkeys(out))


# ---------------------------------------------------------------------------- messages
def _cut(text: str, limit: int = QUOTE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quote(value: Any) -> str:
    """A value as shown in a message: text quoted and cut, whole numbers without '.0'."""
    if isinstance(value, str):
        return repr(_cut(value))
    if isinstance(value, float | np.floating) and np.isfinite(value):
        return f"{value:g}" if not float(value).is_integer() else str(int(value))
    return _cut(str(value))


def _listing(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(_cut(str(n)) for n in names[:limit])
    return shown + (f" … ({len(names)} in all)" if len(names) > limit else "")


def _rows_text(rows: Sequence[int], count: int) -> str:
    return ", ".join(map(str, rows)) + (" …" if count > len(rows) else "")


def _fail(name: str, problems: list[SurveyProblem]) -> NoReturn:
    error = SurveyDataError(_message(name, problems))
    error.problems = tuple(problems)  # type: ignore[attr-defined]  # the structured form, for callers
    raise error from None  # a reader's own exception is noise next to this message


def _refuse(name: str, kind: str, text: str) -> NoReturn:
    """A problem of the file as a whole."""
    _fail(name, [SurveyProblem("", kind, 1, text=text)])


def _message(name: str, problems: list[SurveyProblem]) -> str:
    """``name: line`` for one problem; else a count, then one indented line per problem (bounded)."""
    if len(problems) == 1:
        return _cut(f"{name}: {problems[0].text}", MESSAGE_CHARS)
    columns = list(dict.fromkeys(p.column for p in problems if p.column))
    where = f" in {len(columns)} columns" if len(columns) > 1 else ""
    head = f"{name}: {len(problems)} problems{where}:"
    budget = MESSAGE_CHARS - 100 - len(head)  # room for the closing count
    lines = []
    for problem in problems[:LISTED_PROBLEMS]:
        line = "  " + _cut(problem.text, 400)
        budget -= len(line) + 1
        if budget < 0:
            break
        lines += [line]
    rest = problems[len(lines):]
    if not rest:
        return "\n".join([head, *lines])
    listed = {p.column for p in problems[:len(lines)]}
    more = len({p.column for p in rest if p.column and p.column not in listed})
    tail = f"  … and {len(rest)} more problem(s){f' in {more} more columns' if more else ''}"
    return "\n".join([head, *lines, tail + ": correct the ones above and run again"])


def _cells(column: str, kind: str, bad: np.ndarray, rows: np.ndarray, shown: Callable[[int], str] | None,
           one: str, many: str, fix_one: str, fix_many: str) -> SurveyProblem:
    """A problem of the cells ``bad`` of a column: ``one``/``many`` say what is wrong, ``fix_*`` what to do.

    ``one`` may hold ``{value}``; ``shown(position)`` quotes the value of a bad cell.
    """
    positions = np.flatnonzero(bad)
    count = len(positions)
    first = positions[:EXAMPLES]
    where = tuple(int(rows[p]) for p in first)
    values = tuple(shown(int(p)) for p in first) if shown else ()
    label = _cut(column)
    if count == 1:
        text = f"column {label} row {where[0]}: {one.format(value=values[0] if values else '')}; {fix_one}"
    else:
        more = " …" if count > len(where) else ""
        examples = ", ".join(map(str, where)) + (f": {', '.join(values)}" if values else "")
        text = f"column {label}: {count} {many} (rows {examples}{more}); {fix_many}"
    return SurveyProblem(column, kind, count, where, values, text)


# ---------------------------------------------------------------------------- reading
@dataclass
class _Table:
    """A file as read: data rows under the header's names (repeated or "" as in the file)."""

    frame: pd.DataFrame
    rows: np.ndarray  # spreadsheet row of each frame row
    header_row: int
    notes: list[str] = field(default_factory=list)
    labels: dict[str, dict[Any, str]] = field(default_factory=dict)  # SPSS value labels per column
    title: str = ""  # text of the title rows above a header below row 1


def _read(path: Path, data: bytes, sheet: str | int | None, book: Codebook) -> _Table:
    name = path.name
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        _refuse(
            name, "file_type",
            f"unsupported file type {_quote(suffix or path.name)}; use {', '.join(SUFFIXES)}"
            + _looks_like(data, suffix)
        )
    if not data.strip():
        _refuse(name, "empty_file", "the file is empty; export the survey with a header row and answers")
    known = {book.id_column, *book.attribute_ids, *book.item_ids}
    try:
        if suffix in TEXT_SUFFIXES:
            table = _read_text(name, data, suffix, book.id_column, known)
        elif suffix in EXCEL_SUFFIXES:
            table = _read_excel(name, data, sheet, known, book)
        elif suffix == ".parquet":
            frame = pd.read_parquet(io.BytesIO(data))
            table = _Table(frame, np.arange(len(frame)) + 1 + HEADER_ROWS, HEADER_ROWS)
        else:
            import pyreadstat

            # user-missing codes declared in the file become NaN (pyreadstat's user_missing=False)
            frame, meta = pyreadstat.read_sav(str(path), apply_value_formats=False)
            table = _Table(frame, np.arange(len(frame)) + 1 + HEADER_ROWS, HEADER_ROWS,
                           labels=dict(meta.variable_value_labels or {}))
    except SurveyDataError:
        raise
    except ImportError as exc:
        package = READERS.get(suffix) or exc.name  # pandas' own ImportError carries no .name
        _refuse(
            name, "reader_missing",
            f"reading {suffix} files needs the package {package}; install it"
            + (" or save the workbook as .xlsx" if suffix == ".xls" else "")
        )
    except Exception as exc:  # every reader has its own exception zoo; the message is what matters
        _refuse(
            name, "unparsable",
            f"cannot parse the file as {suffix}: {_cut(str(exc) or type(exc).__name__, 300)}"
            + _looks_like(data, suffix)
        )
    if sheet is not None and suffix not in EXCEL_SUFFIXES:
        notes = table.notes
        notes.insert(0, f"{name}: sheet {_quote(sheet)} ignored: only Excel workbooks have sheets")
    return table


def _looks_like(data: bytes, suffix: str) -> str:
    """A hint when the bytes are of another file type than the name says."""
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            return f" (the file is {kind}: give it its proper extension)"
    if suffix not in TEXT_SUFFIXES and data[:4096].isascii() and b"\x00" not in data[:4096] and data.strip():
        return " (the file is plain text: if it is a CSV export, give it the extension .csv)"
    return ""


def _read_text(name: str, data: bytes, suffix: str, id_column: str, known: set[str]) -> _Table:
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        _refuse(
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
        notes.append(f"{name}: the columns are separated by {_separator(delimiter)}, "
                     f"not {_separator(usual)}; read accordingly")
    title = _first_text(" ".join(_split(line, delimiter)) for line in lines[:index])
    frame = _parse_text(data, encoding, delimiter, index + 1, header, id_column)
    start = index + 2  # spreadsheet row of the first data row
    return _Table(frame, np.arange(len(frame)) + start, index + 1, notes, title=title)


def _separator(delimiter: str) -> str:
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
        _refuse(
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
            looks = f"they look GBK/GB18030, e.g. row {bad[0]} reads {_quote(sample)}"
        except UnicodeDecodeError:
            looks = "they hold bytes of another encoding"
        many = len(bad) > 1
        text = (f"row{'s' if many else ''} {_rows_text(bad[:EXAMPLES], len(bad))}"
                + (f" ({len(bad)} rows)" if len(bad) > EXAMPLES else "")
                + f" {'are' if many else 'is'} not UTF-8 while the rest of the file is ({looks}); "
                "re-save the whole file as UTF-8 (Excel: 'CSV UTF-8') or retype those rows")
        _fail(name, [SurveyProblem("", "encoding", len(bad), tuple(bad[:EXAMPLES]), (), text)])
    try:
        data.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError:
        _refuse(
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


def _read_excel(name: str, data: bytes, sheet: str | int | None, known: set[str], book: Codebook) -> _Table:
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
            _refuse(
                name, "sheet",
                f"sheet {_quote(chosen)} has none of the codebook's columns; sheet "
                f"{_quote(holding[0])} has them: read it with --sheet {_cut(holding[0])} "
                f"(study.yaml: sheet: {_cut(holding[0])})"
            )
    elif len(holding) > 1:
        _refuse(
            name, "sheet",
            f"sheets {_listing([repr(s) for s in holding], 5)} {'both' if len(holding) == 2 else 'all'} hold "
            "the codebook's columns; "
            f"choose one with --sheet NAME (study.yaml: sheet: NAME)"
        )
    else:
        best = max(sheets, key=lambda s: found[s][0])  # the first among equals
        chosen = holding[0] if holding else best if found[best][0] else sheets[0]
        if chosen != sheets[0]:
            notes.append(f"{name}: read sheet {_quote(chosen)}, the one holding the survey's columns "
                         f"(sheet {_quote(sheets[0])} does not); write sheet: {_cut(chosen)} in study.yaml "
                         "to make the choice explicit")
    index = found[chosen][1]
    whole = pd.read_excel(workbook, sheet_name=chosen, header=None)
    if whole.empty:
        _refuse(
            name, "empty_sheet",
            f"sheet {_quote(chosen)} is empty; put the survey with its header row there"
        )
    title = _first_text(" ".join(str(v) for v in whole.iloc[k].dropna()) for k in range(index))
    header = [_header_text(v) for v in whole.iloc[index]]
    frame = whole.iloc[index + 1:].reset_index(drop=True).infer_objects()
    frame.columns = header
    return _Table(frame, np.arange(len(frame)) + index + 2, index + 1, notes, title=title)


def _header_text(value: Any) -> str:
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
            _refuse(
                name, "sheet",
                f"the workbook has no sheet {_quote(sheet)}; "
                f"its sheets are {_listing([repr(s) for s in sheets])}"
            )
        sheet = int(sheet.strip())
    if isinstance(sheet, bool) or not isinstance(sheet, int | np.integer) or not 1 <= sheet <= len(sheets):
        _refuse(
            name, "sheet",
            f"the workbook has no sheet number {_quote(sheet)}; sheets are numbered from 1 to "
            f"{len(sheets)}: {_listing([repr(s) for s in sheets])}"
        )
    return sheets[int(sheet) - 1]


# ---------------------------------------------------------------------------- validation
def _build(table: _Table, book: Codebook, source: str, digest: str, missing_codes: tuple[int, ...],
           extra_columns: str) -> Survey:
    name = Path(source).name
    raw, rows = table.frame, table.rows
    names = [_column_name(c) for c in raw.columns]
    # columns without a header and without a value are export debris (trailing separators)
    missing = raw.isna()
    empty = missing.all(axis=0).to_numpy()
    keep_columns = [k for k, n in enumerate(names) if n or not empty[k]]
    blank_rows = missing.all(axis=1).to_numpy()
    del missing
    if len(keep_columns) < len(names) or blank_rows.any():  # empty rows are not respondents
        raw = raw.iloc[~blank_rows, keep_columns]
        rows = rows[~blank_rows]
        positions = [k + 1 for k in keep_columns]
        names = [names[k] for k in keep_columns]
    else:
        positions = list(range(1, len(names) + 1))
    if raw.shape[0] == 0:
        _refuse(name, "no_respondents", "the file has a header but no respondents")
    problems, columns, extra = _columns(name, raw, names, positions, rows, book, extra_columns, table)
    notes = list(table.notes)
    if table.header_row > 1:
        title = _quote(table.title) if table.title else "blank"
        notes.append(f"{name}: the header is on row {table.header_row}; the {table.header_row - 1} row(s) "
                     f"above it were skipped as a title ({title}); row numbers in messages count from the "
                     "top of the file")
    if extra and extra_columns == "keep":
        notes.append(f"{name}: {len(extra)} column(s) the codebook does not know kept aside, not analysed: "
                     f"{_listing(list(extra))}")
    values = {n: raw.iloc[:, k] for n, k in columns.items()}
    ids = _respondent_ids(values, rows, book, problems)
    attributes = {}
    for attribute in book.attributes:
        if attribute.id in values:
            attributes[attribute.id] = _attribute(values[attribute.id], attribute, rows,
                                                  table.labels.get(attribute.id), problems)
    codes = np.full((len(raw), len(book.items)), np.nan)
    for k, item in enumerate(book.items):
        if item.id in values:
            codes[:, k] = _item_codes(values[item.id], item, book.scales[item.scale], missing_codes, rows,
                                      problems)
    if problems:
        _fail(name, problems)
    clean = codes.copy()
    for k, item in enumerate(book.items):
        if item.reverse:
            scale = book.scales[item.scale]
            clean[:, k] = scale.min + scale.max - clean[:, k]
    index = pd.RangeIndex(len(raw))
    frame = pd.DataFrame({book.id_column: ids, **attributes}, index=index)
    frame = pd.concat([frame, pd.DataFrame(clean, columns=book.item_ids, index=index)], axis=1)
    kept = pd.DataFrame({n: raw.iloc[:, k].reset_index(drop=True) for n, k in extra.items()}, index=index)
    quality = _quality(codes, clean, ids, book)
    return Survey(frame, book, source, digest, quality, notes + _diagnostics(name, quality), kept,
                  np.asarray(rows))


def _column_name(column: Any) -> str:
    text = _header_text(column).strip()
    return "" if _UNNAMED.match(text) else text


def _columns(name: str, raw: pd.DataFrame, names: list[str], positions: list[int], rows: np.ndarray,
             book: Codebook, extra_columns: str, table: _Table
             ) -> tuple[list[SurveyProblem], dict[str, int], dict[str, int]]:
    """Problems of the header; the codebook's columns and the unknown ones (name → frame position)."""
    known = [book.id_column, *book.attribute_ids, *book.item_ids]
    problems: list[SurveyProblem] = []
    seen: dict[str, list[int]] = {}
    present = set(names)
    for k, n in enumerate(names):
        mangled = _MANGLED.match(n)
        # a frame read by pandas calls the second IMG1 "IMG1.1" (only a copy when IMG1 is there too)
        copy = mangled and n not in known and mangled.group(1) in known and mangled.group(1) in present
        seen.setdefault(mangled.group(1) if copy else n, []).append(k)
    unnamed = seen.pop("", [])
    if unnamed:
        first = unnamed[0]
        column = raw.iloc[:, first]
        filled = int(np.flatnonzero(column.notna().to_numpy())[0])
        listed = _rows_text([positions[k] for k in unnamed[:EXAMPLES]], len(unnamed))
        many = len(unnamed) > 1
        problems.append(SurveyProblem(
            "", "no_header", len(unnamed), (), (),
            f"column{'s' if many else ''} {listed} {'have' if many else 'has'} no header but hold"
            f"{'' if many else 's'} values (e.g. row {rows[filled]}: {_quote(column.iloc[filled])}); "
            "name the column or delete it (a row with more cells than the header may also be shifted)"))
    columns: dict[str, int] = {}
    extra: dict[str, int] = {}
    for n, ks in seen.items():
        if n in known:
            if len(ks) > 1:
                times = "twice" if len(ks) == 2 else f"{len(ks)} times"
                where = " and ".join([", ".join(str(positions[k]) for k in ks[:-1]), str(positions[ks[-1]])])
                problems.append(SurveyProblem(
                    n, "duplicate_column", len(ks), (), (),
                    f"column {n} appears {times} (columns {where}); delete or rename the copies"))
            columns[n] = ks[0]
        else:
            for j, k in enumerate(ks):  # repeated unknown names are kept aside under distinct names
                extra[n if j == 0 else f"{n}.{j}"] = k
    if extra and extra_columns == "error":
        unknown = list(dict.fromkeys(names[k] for k in extra.values()))
        problems.append(SurveyProblem(
            "", "unknown_column", len(unknown), (), tuple(_cut(u) for u in unknown[:EXAMPLES]),
            f"unknown column(s) {_listing(unknown)}; the codebook {book.name} knows "
            f"{_listing(known, 8)}; rename or drop them, add them to the codebook, or keep them aside "
            "with extra_columns: keep"))
    absent = [i for i in book.item_ids if i not in columns]
    if absent:
        problems.append(_absent(absent, names, columns, raw, table))
    return problems, columns, extra


def _absent(absent: list[str], names: list[str], columns: dict[str, int], raw: pd.DataFrame,
            table: _Table) -> SurveyProblem:
    text = (f"required item column(s) {_listing(absent)} are missing; every codebook item needs a column "
            "(leave it blank or use the missing code when an item was not asked)")
    lower = {n.casefold(): n for n in names}
    near = [f"{lower[a.casefold()]} for {a}" for a in absent if a.casefold() in lower]
    if near:
        text += f"; names must match the codebook exactly, case included (the file has {_listing(near, 3)})"
    if not columns:
        header = " | ".join(_cut(n, 20) for n in names[:8]) + (" …" if len(names) > 8 else "")
        text += (f"; none of the codebook's columns is in the header (row {table.header_row} reads: "
                 f"{_quote(header)})")
        split = [d for d in DELIMITERS[1:] if len(names) == 1 and d in names[0]]
        if split:
            text += f"; it looks separated by {_separator(split[0])}"
    return SurveyProblem("", "missing_column", len(absent), (), tuple(absent[:EXAMPLES]), text)


def _respondent_ids(values: dict[str, pd.Series], rows: np.ndarray, book: Codebook,
                    problems: list[SurveyProblem]) -> pd.Series:
    col = book.id_column
    n = len(rows)
    if col not in values:
        return pd.Series([str(k) for k in range(1, n + 1)], dtype=object, name=col)
    column = values[col]
    blank = column.isna().to_numpy()
    if blank.any():
        problems.append(_cells(col, "blank_id", blank, rows, None, "value is blank", "ids are blank",
                               "give every respondent an id", "give every respondent an id"))
    ids = pd.Series(_as_text(column), dtype=object, name=col)
    if n > 1 and not blank.any() and ids.duplicated(keep=False).all():
        problems.append(SurveyProblem(
            col, "ids_all_repeated", n, (int(rows[0]),), (_quote(ids.iloc[0]),),
            f"column {col}: every respondent id occurs more than once (e.g. {_quote(ids.iloc[0])}); "
            "the file looks pasted twice or the id column was filled down: remove the repeated rows"))
    return ids


def _as_text(values: pd.Series, labels: dict[Any, str] | None = None) -> np.ndarray:
    """Values as stripped strings (1.0 → "1"), NaN kept as None; each distinct value converted once.

    ``labels`` (SPSS value labels) replace the codes they label.
    """
    codes, uniques = pd.factorize(values)
    distinct = pd.Series(uniques)
    if labels:
        distinct = pd.Series([labels.get(v, v) for v in distinct], dtype=object)
    if pd.api.types.is_float_dtype(distinct) and np.all(np.mod(distinct, 1) == 0):
        distinct = distinct.astype(np.int64)
    elif distinct.dtype == object:  # mixed: whole floats one by one (few distinct values)
        distinct = distinct.map(lambda v: int(v) if isinstance(v, float) and v.is_integer() else v)
    text = distinct.astype(str).str.strip().to_numpy(dtype=object)
    return np.append(text, None)[codes]  # code -1 (missing) picks the trailing None


def _attribute(values: pd.Series, attribute: Attribute, rows: np.ndarray, labels: dict[Any, str] | None,
               problems: list[SurveyProblem]) -> pd.Categorical:
    if not attribute.categories:  # open attribute: keep numbers (e.g. wave 2025) as numbers
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        return pd.Categorical(values.to_numpy() if numeric and not labels else _as_text(values, labels))
    text = _as_text(values, labels)
    mapped = pd.Series(text).map(attribute.lookup()).to_numpy(dtype=object)
    bad = pd.isna(mapped) & pd.notna(text)
    if bad.any():
        cats = _listing(list(attribute.categories), 6)
        problems.append(_cells(
            attribute.id, "not_a_category", bad, rows, lambda p: _quote(text[p]),
            f"value {{value}} is not a category of {attribute.id} ({cats})", "values are not categories",
            "recode it or add the category to the codebook",
            f"use {cats} (or their Chinese or English labels), or add the categories to the codebook"))
        return pd.Categorical([None] * len(text), categories=list(attribute.categories))
    return pd.Categorical(mapped, categories=list(attribute.categories))


def _numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Values as float and a mask of cells holding text that is not a number (blank text is missing)."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=float, na_value=np.nan), np.zeros(len(column), dtype=bool)
    codes, uniques = pd.factorize(column)  # answers have few distinct values: convert each once
    distinct = pd.Series(uniques, dtype=object).map(lambda v: v.strip() if isinstance(v, str) else v)
    numbers = pd.to_numeric(distinct, errors="coerce").astype(float)
    blank = distinct.map(lambda v: isinstance(v, str) and not v).to_numpy(dtype=bool)
    wrong = numbers.isna().to_numpy() & ~blank
    return np.append(numbers.to_numpy(), np.nan)[codes], np.append(wrong, False)[codes]


def _item_codes(column: pd.Series, item: Item, scale: Scale, study_codes: tuple[int, ...], rows: np.ndarray,
                problems: list[SurveyProblem]) -> np.ndarray:
    """Raw codes as float with missing codes → NaN; problems for text and out-of-scale values."""
    x, text = _numbers(column)
    if text.any():
        problems.append(_cells(
            item.id, "not_a_number", text, rows, lambda p: _quote(column.iloc[p]),
            "value {value} is not a number", "values are not numbers",
            f"enter the answer code ({scale.span}) or leave it blank",
            f"enter answer codes ({scale.span}) or leave them blank"))
    missing = (*item.missing_codes, *(c for c in study_codes if c not in item.missing_codes))
    if missing:
        x = np.where(np.isin(x, missing), np.nan, x)
    bad = ~np.isnan(x) & ~scale.is_code(x)
    if bad.any():
        codes = ", ".join(map(str, missing))
        dont_know = f" or the missing code {codes}" if missing else ""
        distinct = np.unique(x[bad])
        hint = ""
        if len(distinct) == 1 and bad.sum() > 1 and float(distinct[0]).is_integer():
            code = int(distinct[0])
            hint = f" (if {code} means \"don't know\", declare it: missing_codes: [{code}])"
            if any(hint in p.text for p in problems):  # said once per message
                hint = ""
        problems.append(_cells(
            item.id, "outside_scale", bad, rows, lambda p: _quote(float(x[p])),
            f"value {{value}} is outside the {scale.span} scale", f"values outside the {scale.span} scale",
            f"correct it to a code {scale.span}{dont_know}, or blank it{hint}",
            f"correct them to a code {scale.span}{dont_know}, or blank them{hint}"))
    return x


# ---------------------------------------------------------------------------- quality
def _quality(codes: np.ndarray, clean: np.ndarray, ids: pd.Series, book: Codebook) -> DataQuality:
    answered = ~np.isnan(codes)
    n, k = codes.shape
    n_answered = answered.sum(axis=1)
    item_missing = pd.Series(1.0 - answered.mean(axis=0), index=book.item_ids, name="missing_share")
    respondent_missing = pd.Series(1.0 - n_answered / k, name="missing_share")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows / columns are expected here
        same = np.nanmin(codes, axis=1) == np.nanmax(codes, axis=1)
        constant = ~(np.nanmin(codes, axis=0) < np.nanmax(codes, axis=0))  # also true for all-NaN items
        zero_var = [i for i, flag in zip(book.item_ids, constant, strict=True) if flag]
        outlying = _outlying(clean, answered, n_answered)
    straight = same & (n_answered >= STRAIGHT_LINE_MIN_ITEMS)
    id_values = ids.to_numpy()
    duplicated = ids.duplicated(keep=False).to_numpy()
    return DataQuality(
        n_respondents=n,
        item_missing=item_missing,
        respondent_missing=respondent_missing,
        straight_liners=tuple(id_values[straight]),
        outliers=tuple(id_values[outlying]),
        duplicate_ids=tuple(pd.unique(id_values[duplicated])),
        zero_variance_items=tuple(zero_var),
    )


def _outlying(x: np.ndarray, answered: np.ndarray, n_answered: np.ndarray) -> np.ndarray:
    n, k = x.shape
    eligible = n_answered >= k / 2
    if eligible.sum() <= k + 1:
        return np.zeros(n, dtype=bool)
    centred = x - np.nanmean(x, axis=0)
    centred[~answered] = 0.0  # item-mean imputation, in place to keep one n × k copy
    rows = centred if eligible.all() else centred[eligible]
    m, mu = len(rows), rows.mean(axis=0)
    cov = (rows.T @ rows - m * np.outer(mu, mu)) / (m - 1)
    del rows
    inverse = np.linalg.pinv(cov)
    product = centred @ inverse
    product *= centred
    d2 = product.sum(axis=1)
    return eligible & (d2 > stats.chi2.ppf(1 - OUTLIER_ALPHA, df=k))


def _diagnostics(name: str, q: DataQuality) -> list[str]:
    out = []
    heavy = q.item_missing[q.item_missing > ITEM_MISSING_WARN]
    if len(heavy):
        listed = ", ".join(f"{i} {v:.0%}" for i, v in heavy.items())
        out.append(f"{name}: item(s) with more than {ITEM_MISSING_WARN:.0%} missing answers: {listed}; "
                   "estimates for them rest on fewer respondents")
    sparse = int((q.respondent_missing > RESPONDENT_MISSING_WARN).sum())
    if sparse:
        out.append(f"{name}: {sparse} respondent(s) left more than {RESPONDENT_MISSING_WARN:.0%} "
                   "of the items unanswered; consider excluding them")
    if q.straight_liners:
        out.append(f"{name}: {len(q.straight_liners)} straight-liner(s) gave the same answer to every item "
                   f"(e.g. {_cut(q.straight_liners[0])}); check them and consider excluding them")
    if q.duplicate_ids:
        out.append(f"{name}: respondent id(s) occur more than once: "
                   f"{', '.join(_cut(i) for i in q.duplicate_ids[:5])}"
                   f"{' ...' if len(q.duplicate_ids) > 5 else ''}; "
                   "remove repeated interviews if they are copies")
    if q.zero_variance_items:
        out.append(f"{name}: item(s) {', '.join(q.zero_variance_items)} have a single observed answer; "
                   "they carry no information and estimators will reject them")
    return out
