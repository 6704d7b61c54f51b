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

* A file is read for what its bytes are, not its name (:mod:`csi_research.data.sniff`): a workbook
  named .csv, a CSV named .xlsx, an HTML table saved as .xls and a gzip-compressed CSV are read with a
  note; a zip archive (its members named), a Word document, a password-protected workbook, .xlsb,
  .ods and Excel 2003 XML are refused saying what to do. A file of another type (.txt, .dat) is read
  as text only when its header holds the codebook's columns, with a note saying how it was parsed.
* CSV (also .tsv): UTF-8 with or without BOM, UTF-16/UTF-32 (with a BOM, or UTF-16 without one),
  GB18030 or Big5 (told apart by their common characters); any encoding but UTF-8 is noted. A UTF-8
  file with a few rows in another encoding is refused naming those rows (decoding the whole file as
  GB18030 would garble the UTF-8 text). The separator (``,`` ``;`` tab ``|``) is the one that splits
  the header into the codebook's column names; a separator other than the file type's usual one is
  read and noted.
* Title rows above the header: the header is the row, among the first :data:`HEADER_SEARCH_ROWS`,
  with the most codebook column names; rows above it are skipped with a note. Summary rows under the
  data (合计, 平均, 注, Total, Average, Note; see :mod:`csi_research.data.footer`) are dropped with a note.
* Excel: without ``sheet`` the workbook's sheet whose header holds the codebook's item columns is read
  (noted when it is not the first, or hidden); two such sheets are an error asking which. A ``sheet``
  without the codebook's columns is refused naming the sheet that has them. ``sheet`` is a name or a
  number counted from 1. Formulas in survey columns never calculated (no saved value) are refused
  naming the cells. Errors of a workbook name its sheet: ``survey.xlsx, sheet 'data': …``.
* Answers (:mod:`csi_research.data.answers`): full-width digits and letters are read as ASCII with
  a note; a decimal comma ("4,5") and a cell formatted as a date are errors naming the cell.
* SPSS .sav: value labels of attribute columns are applied (code 2 labelled 商业 → commercial);
  item columns stay numeric; codes declared user-missing in the file are read as missing.
* Columns the codebook does not know are kept aside in ``Survey.extra`` (``extra_columns="keep"``,
  with a note) or refused (``"error"``). ``missing_codes`` adds study-wide "don't know" codes.

Row numbers in messages are **spreadsheet rows**: the header is row 1 (or lower, below title rows),
the first respondent the row after it, so a user can jump straight to the cell in Excel/WPS. For
.sav, .parquet and in-memory frames respondent k (0-based) is row k + 2.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from csi_research.core import options
from csi_research.core.diagnostics import public
from csi_research.core.errors import ModelSpecError
from csi_research.data import answers
from csi_research.data.codebook import Attribute, Codebook, Item, Scale
from csi_research.data.surveyfile import (
    DELIMITERS,
    HEADER_ROWS,
    SUFFIXES,
    Table,
    header_text,
    read,
    separator,
)
from csi_research.data.surveyproblems import (
    EXAMPLES,
    SurveyProblem,
    cells,
    cut,
    fail,
    listing,
    quote,
    refuse,
    rows_text,
)
from csi_research.model import CSIModel

STRAIGHT_LINE_MIN_ITEMS = 10
OUTLIER_ALPHA = 0.001  # Mahalanobis D² above the chi² (1 − alpha) quantile flags a respondent
ITEM_MISSING_WARN = 0.20
RESPONDENT_MISSING_WARN = 0.50
_UNNAMED = re.compile(r"^Unnamed: \d+(_level_\d+)?$")  # pandas' name for a column without header
_MANGLED = re.compile(r"^(.+)\.(\d+)$")  # pandas' name for the second IMG1: IMG1.1


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
        table = Table(raw, np.arange(len(raw)) + 1 + HEADER_ROWS, HEADER_ROWS)
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
    """Read and validate a survey file (.csv/.tsv, .xlsx/.xlsm/.xls, .sav, .parquet; see the module doc).

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
        refuse(
            str(path), "folder",
            f"is a folder, not a survey file; give the path of the survey file itself "
            f"({', '.join(SUFFIXES)})"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        refuse(str(path), "unreadable", f"cannot read the survey file: {exc.strerror or exc}")
    table = read(path, data, sheet, book)
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
        fail(Path(survey.source).name, problems)


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
        text = (f"column {what} says {quote(value)} ({count} rows, e.g. row {row}) but {declared}; "
                f"point data: at {owner} or correct the {what}")
        return [SurveyProblem(what, f"wrong_{what}", count, (row,), (quote(value),), text)]
    listed = ", ".join(f"{quote(v)} ({n} rows, e.g. row {r})" for v, n, r, _ in found[:5])
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    text = (f"column {what} holds {len(found)} different values: {listed}{more}; one study is one {what} "
            f"and {declared}: keep only its rows (filter the file) or make one study per {what}")
    examples = wrong[:EXAMPLES]
    return [SurveyProblem(what, f"mixed_{what}", sum(f[1] for f in wrong), tuple(f[2] for f in examples),
                          tuple(quote(f[0]) for f in examples), text)]


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
        raise ModelSpecError(f"{where}: missing_codes must be a list of integer codes, not {quote(codes)}")
    out = []
    for code in codes:
        if isinstance(code, bool) or not isinstance(code, int | float | np.integer | np.floating) \
                or not float(code).is_integer():
            raise ModelSpecError(f"{where}: missing code {quote(code)} is not an integer code")
        out.append(int(code))
    for code in dict.fromkeys(out):
        clash = [i.id for i in book.items if code in book.scales[i.scale].codes]
        if clash:
            raise ModelSpecError(
                f"{where}: missing code {code} is an answer code of item(s) {listing(clash, 6)}; "
                "a \"don't know\" code must lie outside every item's scale"
            )
    return tuple(dict.fromkeys(out))


# ---------------------------------------------------------------------------- validation
def _build(table: Table, book: Codebook, source: str, digest: str, missing_codes: tuple[int, ...],
           extra_columns: str) -> Survey:
    name = Path(source).name
    where = table.where or name  # errors of a workbook name its sheet too
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
        refuse(where, "no_respondents", "the file has a header but no respondents")
    problems, columns, extra = _columns(name, raw, names, positions, rows, book, extra_columns, table)
    notes = list(table.notes)
    if table.header_row > 1:
        title = quote(table.title) if table.title else "blank"
        notes.append(f"{name}: the header is on row {table.header_row}; the {table.header_row - 1} row(s) "
                     f"above it were skipped as a title ({title}); row numbers in messages count from the "
                     "top of the file")
    if extra and extra_columns == "keep":
        notes.append(f"{name}: {len(extra)} column(s) the codebook does not know kept aside, not analysed: "
                     f"{listing(list(extra))}")
    values = {n: raw.iloc[:, k] for n, k in columns.items()}
    ids = _respondent_ids(values, rows, book, problems)
    attributes = {}
    for attribute in book.attributes:
        if attribute.id in values:
            column, wide = answers.ascii_forms(values[attribute.id])
            notes += answers.fullwidth_notes(name, attribute.id, wide, rows, values[attribute.id], column)
            attributes[attribute.id] = _attribute(column, attribute, rows, table.labels.get(attribute.id),
                                                  problems)
    codes = np.full((len(raw), len(book.items)), np.nan)
    for k, item in enumerate(book.items):
        if item.id in values:
            codes[:, k] = _item_codes(values[item.id], item, book.scales[item.scale], missing_codes, rows,
                                      problems, notes, name)
    if problems:
        fail(where, problems)
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
    text = header_text(column).strip()
    return "" if _UNNAMED.match(text) else text


def _columns(name: str, raw: pd.DataFrame, names: list[str], positions: list[int], rows: np.ndarray,
             book: Codebook, extra_columns: str, table: Table
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
        listed = rows_text([positions[k] for k in unnamed[:EXAMPLES]], len(unnamed))
        many = len(unnamed) > 1
        problems.append(SurveyProblem(
            "", "no_header", len(unnamed), (), (),
            f"column{'s' if many else ''} {listed} {'have' if many else 'has'} no header but hold"
            f"{'' if many else 's'} values (e.g. row {rows[filled]}: {quote(column.iloc[filled])}); "
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
            "", "unknown_column", len(unknown), (), tuple(cut(u) for u in unknown[:EXAMPLES]),
            f"unknown column(s) {listing(unknown)}; the codebook {book.name} knows "
            f"{listing(known, 8)}; rename or drop them, add them to the codebook, or keep them aside "
            "with extra_columns: keep"))
    absent = [i for i in book.item_ids if i not in columns]
    if absent:
        problems.append(_absent(absent, names, columns, raw, table))
    return problems, columns, extra


def _absent(absent: list[str], names: list[str], columns: dict[str, int], raw: pd.DataFrame,
            table: Table) -> SurveyProblem:
    text = (f"required item column(s) {listing(absent)} are missing; every codebook item needs a column "
            "(leave it blank or use the missing code when an item was not asked)")
    lower = {n.casefold(): n for n in names}
    near = [f"{lower[a.casefold()]} for {a}" for a in absent if a.casefold() in lower]
    if near:
        text += f"; names must match the codebook exactly, case included (the file has {listing(near, 3)})"
    if not columns:
        header = " | ".join(cut(n, 20) for n in names[:8]) + (" …" if len(names) > 8 else "")
        text += (f"; none of the codebook's columns is in the header (row {table.header_row} reads: "
                 f"{quote(header)})")
        split = [d for d in DELIMITERS[1:] if len(names) == 1 and d in names[0]]
        if split:
            text += f"; it looks separated by {separator(split[0])}"
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
        problems.append(cells(col, "blank_id", blank, rows, None, "value is blank", "ids are blank",
                               "give every respondent an id", "give every respondent an id"))
    ids = pd.Series(_as_text(column), dtype=object, name=col)
    if n > 1 and not blank.any() and ids.duplicated(keep=False).all():
        problems.append(SurveyProblem(
            col, "ids_all_repeated", n, (int(rows[0]),), (quote(ids.iloc[0]),),
            f"column {col}: every respondent id occurs more than once (e.g. {quote(ids.iloc[0])}); "
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
        cats = listing(list(attribute.categories), 6)
        problems.append(cells(
            attribute.id, "not_a_category", bad, rows, lambda p: quote(text[p]),
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
                problems: list[SurveyProblem], notes: list[str], name: str) -> np.ndarray:
    """Raw codes as float with missing codes → NaN; problems for text and out-of-scale values.

    Full-width digits are read as ASCII (noted); decimal commas and date cells are problems of their own.
    """
    original = column
    column, wide = answers.ascii_forms(column)
    notes += answers.fullwidth_notes(name, item.id, wide, rows, original, column)
    dated = answers.dates(column)
    comma = answers.decimal_commas(column)
    if dated.any():
        column = column.astype(object).where(~dated, None)
    x, text = _numbers(column)
    text &= ~comma
    if comma.any():
        problems.append(cells(
            item.id, "decimal_comma", comma, rows, lambda p: quote(column.iloc[p]),
            "value {value} has a decimal comma; answer codes are whole numbers",
            "values have a decimal comma; answer codes are whole numbers",
            f"enter the answer code ({scale.span}); if the file uses ',' for decimals, check the export",
            f"enter answer codes ({scale.span}); if the file uses ',' for decimals, check the export"))
    if dated.any():
        problems.append(cells(
            item.id, "excel_date", dated, rows, lambda p: answers.excel_day(original.iloc[p]),
            "value {value} is a date: the cell is formatted as a date",
            "values are dates: the cells are formatted as dates",
            f"format the column as a number in Excel/WPS and check the code ({scale.span})",
            f"format the column as a number in Excel/WPS and check the codes ({scale.span})"))
    if text.any():
        problems.append(cells(
            item.id, "not_a_number", text, rows, lambda p: quote(column.iloc[p]),
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
        problems.append(cells(
            item.id, "outside_scale", bad, rows, lambda p: quote(float(x[p])),
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
                   f"(e.g. {cut(q.straight_liners[0])}); check them and consider excluding them")
    if q.duplicate_ids:
        out.append(f"{name}: respondent id(s) occur more than once: "
                   f"{', '.join(cut(i) for i in q.duplicate_ids[:5])}"
                   f"{' ...' if len(q.duplicate_ids) > 5 else ''}; "
                   "remove repeated interviews if they are copies")
    if q.zero_variance_items:
        out.append(f"{name}: item(s) {', '.join(q.zero_variance_items)} have a single observed answer; "
                   "they carry no information and estimators will reject them")
    return out
