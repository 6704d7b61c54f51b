"""Loading a survey file into a validated, analysis-ready :class:`Survey`.

``load_survey`` is the only place the statistics core reads files. It refuses data that would
silently corrupt an index (unknown columns, text in answer columns, codes outside the scale,
unknown segment values) with a :class:`SurveyDataError` that names the file, column, row and
value, and reports softer problems (missingness, straight-lining, duplicate ids, out-of-pattern
answers) in a :class:`DataQuality` value and in ``diagnostics``.

Row numbers in messages are **spreadsheet rows**: the header is row 1, the first respondent is
row 2, so a user can jump straight to the cell in Excel/WPS. For .sav and .parquet files the same
convention is used (respondent k is row k + 1).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from csi_research.codebook import Codebook
from csi_research.diagnostics import public
from csi_research.errors import SurveyDataError
from csi_research.model import CSIModel

HEADER_ROWS = 1  # spreadsheet row of the header; respondent k (0-based) is row k + 1 + HEADER_ROWS
STRAIGHT_LINE_MIN_ITEMS = 10
OUTLIER_ALPHA = 0.001  # Mahalanobis D² above the chi² (1 − alpha) quantile flags a respondent
ITEM_MISSING_WARN = 0.20
RESPONDENT_MISSING_WARN = 0.50


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
    """

    frame: pd.DataFrame
    codebook: Codebook
    source: str
    sha256: str
    quality: DataQuality
    diagnostics: list[str] = field(default_factory=list)

    @property
    def items(self) -> pd.DataFrame:
        return self.frame[self.codebook.item_ids]

    def model(self) -> CSIModel:
        return self.codebook.model()

    @classmethod
    @public
    def from_frame(cls, raw: pd.DataFrame, codebook: Codebook | None = None, source: str = "frame") -> Survey:
        """Validate an in-memory frame of raw codes exactly as ``load_survey`` validates a file."""
        digest = hashlib.sha256(pd.util.hash_pandas_object(raw, index=True).to_numpy().tobytes()).hexdigest()
        return _build(raw, codebook or Codebook.default(), source, digest)

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
    path: str | Path, codebook: Codebook | None = None, *, sheet: str | int | None = None
) -> Survey:
    """Read and validate a survey file (.csv, .xlsx/.xls, .sav, .parquet) against a codebook.

    CSV files may be UTF-8 (with or without BOM) or GB18030. The file is read once and never
    written. Duplicate respondent ids are kept and reported in ``quality`` (re-interviews and
    data-entry slips happen and the analyst decides), but an id column in which *every* id occurs
    more than once is an error: the file was most likely pasted into itself.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SurveyDataError(f"{path}: cannot read the survey file: {exc.strerror or exc}") from None
    book = codebook or Codebook.default()
    raw = _read(path, data, sheet, book.id_column)
    return _build(raw, book, str(path), hashlib.sha256(data).hexdigest())


# ---------------------------------------------------------------------------- reading
def _read(path: Path, data: bytes, sheet: str | int | None, id_column: str) -> pd.DataFrame:
    name = path.name
    suffix = path.suffix.lower()
    if not data.strip():
        raise SurveyDataError(f"{name}: the file is empty; export the survey with a header row and answers")
    try:
        if suffix == ".csv":
            return pd.read_csv(io.BytesIO(data), encoding=_csv_encoding(name, data), dtype={id_column: str})
        if suffix in (".xlsx", ".xls"):
            return pd.read_excel(io.BytesIO(data), sheet_name=0 if sheet is None else sheet)
        if suffix == ".parquet":
            return pd.read_parquet(io.BytesIO(data))
        if suffix == ".sav":
            import pyreadstat

            frame, _ = pyreadstat.read_sav(str(path), apply_value_formats=False)
            return frame
    except SurveyDataError:
        raise
    except ImportError as exc:
        raise SurveyDataError(
            f"{name}: reading {suffix} files needs the package {exc.name}; install it"
        ) from None
    except Exception as exc:  # every reader has its own exception zoo; the message is what matters
        raise SurveyDataError(f"{name}: cannot parse the file as {suffix}: {exc}") from None
    raise SurveyDataError(
        f"{name}: unsupported file type {suffix!r}; use .csv, .xlsx, .xls, .sav or .parquet"
    )


def _csv_encoding(name: str, data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    raise SurveyDataError(
        f"{name}: the text is neither UTF-8 nor GB18030; save the CSV as UTF-8 (Excel: 'CSV UTF-8')"
    )


# ---------------------------------------------------------------------------- validation
def _build(raw: pd.DataFrame, book: Codebook, source: str, digest: str) -> Survey:
    name = Path(source).name
    raw = raw.rename(columns=lambda c: str(c).strip())
    if raw.empty:
        raise SurveyDataError(f"{name}: the file has a header but no respondents")
    _check_columns(name, raw, book)
    ids = _respondent_ids(name, raw, book)
    columns: dict[str, Any] = {book.id_column: ids}
    for attribute in book.attributes:
        if attribute.id in raw.columns:
            columns[attribute.id] = _attribute(name, raw[attribute.id], attribute)
    codes = np.empty((len(raw), len(book.items)))
    for k, item in enumerate(book.items):
        codes[:, k] = _item_codes(name, raw[item.id], item, book.scales[item.scale])
    clean = codes.copy()
    for k, item in enumerate(book.items):
        if item.reverse:
            scale = book.scales[item.scale]
            clean[:, k] = scale.min + scale.max - clean[:, k]
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(raw)))
    frame = pd.concat([frame, pd.DataFrame(clean, columns=book.item_ids, index=frame.index)], axis=1)
    quality = _quality(codes, clean, ids, book)
    return Survey(frame, book, source, digest, quality, _diagnostics(name, quality))


def _check_columns(name: str, raw: pd.DataFrame, book: Codebook) -> None:
    known = [book.id_column, *book.attribute_ids, *book.item_ids]
    unknown = [c for c in raw.columns if c not in known]
    if unknown:
        raise SurveyDataError(
            f"{name}: unknown column(s) {', '.join(unknown)}; the codebook {book.name} knows "
            f"{', '.join(known)}; rename or drop them, or add them to the codebook"
        )
    absent = [i for i in book.item_ids if i not in raw.columns]
    if absent:
        raise SurveyDataError(
            f"{name}: required item column(s) {', '.join(absent)} are missing; every codebook item needs "
            "a column (leave it blank or use the missing code when an item was not asked)"
        )


def _row(position: int) -> int:
    return position + 1 + HEADER_ROWS


def _respondent_ids(name: str, raw: pd.DataFrame, book: Codebook) -> pd.Series:
    col = book.id_column
    if col not in raw.columns:
        return pd.Series([str(k) for k in range(1, len(raw) + 1)], dtype=object, name=col)
    values = raw[col]
    blank = values.isna().to_numpy()
    if blank.any():
        pos = int(np.flatnonzero(blank)[0])
        raise SurveyDataError(
            f"{name}: column {col} row {_row(pos)}: value is blank; give every respondent an id"
        )
    ids = pd.Series(_as_text(values), dtype=object, name=col)
    if len(ids) > 1 and ids.duplicated(keep=False).all():
        raise SurveyDataError(
            f"{name}: column {col}: every respondent id occurs more than once (e.g. {ids.iloc[0]!r}); "
            "the file looks pasted twice or the id column was filled down: remove the repeated rows"
        )
    return ids


def _as_text(values: pd.Series) -> np.ndarray:
    """Values as stripped strings (1.0 → "1"), NaN kept as None; each distinct value converted once."""
    codes, uniques = pd.factorize(values)
    distinct = pd.Series(uniques)
    if pd.api.types.is_float_dtype(distinct) and np.all(np.mod(distinct, 1) == 0):
        distinct = distinct.astype(np.int64)
    text = distinct.astype(str).str.strip().to_numpy(dtype=object)
    return np.append(text, None)[codes]  # code -1 (missing) picks the trailing None


def _attribute(name: str, values: pd.Series, attribute) -> pd.Categorical:
    if not attribute.categories:  # open attribute: keep numbers (e.g. wave 2025) as numbers
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        return pd.Categorical(values.to_numpy() if numeric else _as_text(values))
    text = _as_text(values)
    table = attribute.lookup()
    mapped = pd.Series(text).map(table).to_numpy(dtype=object)
    bad = pd.isna(mapped) & pd.notna(text)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise SurveyDataError(
            f"{name}: column {attribute.id} row {_row(pos)}: value {text[pos]!r} is not a category of "
            f"{attribute.id} ({', '.join(attribute.categories)}); "
            "recode it or add the category to the codebook"
        )
    return pd.Categorical(mapped, categories=list(attribute.categories))


def _item_codes(name: str, column: pd.Series, item, scale) -> np.ndarray:
    """Raw codes as float with missing codes → NaN; errors for text and out-of-scale values."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        x = column.to_numpy(dtype=float)
    else:
        numeric = pd.to_numeric(column.map(lambda v: v.strip() if isinstance(v, str) else v), errors="coerce")
        bad = (numeric.isna() & column.notna() & (column.astype(str).str.strip() != "")).to_numpy()
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise SurveyDataError(
                f"{name}: column {item.id} row {_row(pos)}: value {column.iloc[pos]!r} is not a number; "
                f"enter the answer code ({scale.span}) or leave it blank"
            )
        x = numeric.to_numpy(dtype=float)
    if item.missing_codes:
        x = np.where(np.isin(x, item.missing_codes), np.nan, x)
    bad = ~np.isnan(x) & ~scale.is_code(x)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        codes = ", ".join(map(str, item.missing_codes))
        dont_know = f" or the missing code {codes}" if item.missing_codes else ""
        more = int(bad.sum()) - 1
        raise SurveyDataError(
            f"{name}: column {item.id} row {_row(pos)}: value {x[pos]:g} is outside the {scale.span} scale; "
            f"correct it to a code {scale.span}{dont_know}, or blank it"
            + (f" ({more} more such value(s) in this column)" if more else "")
        )
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
                   f"(e.g. {q.straight_liners[0]}); check them and consider excluding them")
    if q.duplicate_ids:
        out.append(f"{name}: respondent id(s) occur more than once: {', '.join(q.duplicate_ids[:5])}"
                   f"{' ...' if len(q.duplicate_ids) > 5 else ''}; "
                   "remove repeated interviews if they are copies")
    if q.zero_variance_items:
        out.append(f"{name}: item(s) {', '.join(q.zero_variance_items)} have a single observed answer; "
                   "they carry no information and estimators will reject them")
    return out
