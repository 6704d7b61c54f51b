"""Service records (95598 work orders): one row per event per customer, read and validated once.

A grid company's hotline and field systems log every contact with a customer: outages the customer
suffered, fault-repair orders, complaints, calls, connection applications, billing queries. Joined
to the survey by the respondent id, they show which experiences go with dissatisfaction (see
:mod:`csi_research.records.drivers`).

The record format (one row per event; header names in English or Chinese, see :data:`ALIASES`):

============== ======================================================================== ==========
column          meaning                                                                   required
============== ======================================================================== ==========
event_id        work-order number, unique per event                                       yes
customer_id     the customer; the survey's respondent id (``respondent_id`` also accepted) yes
event_type      a key of :data:`EVENT_TYPES` or its Chinese or English label               yes
start           when the event began (``2025-03-01 08:30``, ``2025/3/1 8:30``, ISO 8601)   yes
end             when it ended (blank for instantaneous events such as a call)             no
duration_hours  length in hours; derived from start and end when blank, checked when both no
category        e.g. the complaint category (a key or label of :data:`COMPLAINT_CATEGORIES`
                or free text)                                                              no
planned         planned (1, 是, planned) or unplanned (0, 否, unplanned) outage            no
============== ======================================================================== ==========

Times are local wall-clock times; a UTC offset written in a timestamp is dropped.
:func:`load_records` collects every problem of a file and raises them together as one
:class:`~csi_research.core.errors.SurveyDataError` (grouped by column, with counts, the first rows and
values, bounded in length), in the same form as :func:`csi_research.data.survey.load_survey`. Row numbers
are spreadsheet rows (header = row 1); for frames, event k (0-based) is row k + 2. The input file or
frame is never modified.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.diagnostics import public
from csi_research.data import sniff
from csi_research.data.surveyproblems import (
    EXAMPLES,
    SurveyProblem,
    cells,
    cut,
    fail,
    listing,
    quote,
    refuse,
)

# key -> (Chinese label, English label)
EVENT_TYPES: dict[str, tuple[str, str]] = {
    "outage": ("停电", "Outage"),
    "fault_repair": ("故障报修", "Fault repair"),
    "complaint": ("投诉", "Complaint"),
    "hotline_contact": ("95598来电咨询", "Hotline contact"),
    "connection_application": ("业扩报装", "Connection application"),
    "billing_query": ("电费查询", "Billing query"),
    "voltage_problem": ("电压质量问题", "Voltage problem"),
    "meter_fault": ("计量装置故障", "Meter fault"),
    "suggestion": ("意见建议", "Suggestion"),
    "praise": ("表扬", "Praise"),
}
# further spellings met in 95598 exports
_EVENT_SYNONYMS = {
    "停电事件": "outage",
    "抢修": "fault_repair",
    "故障抢修": "fault_repair",
    "报修": "fault_repair",
    "咨询": "hotline_contact",
    "热线": "hotline_contact",
    "95598": "hotline_contact",
    "新装增容": "connection_application",
    "报装": "connection_application",
    "电费咨询": "billing_query",
    "电费": "billing_query",
    "电能质量": "voltage_problem",
    "计量": "meter_fault",
    "表计故障": "meter_fault",
    "建议": "suggestion",
    "意见": "suggestion",
    "举报": "complaint",
}
COMPLAINT_CATEGORIES: dict[str, tuple[str, str]] = {
    "supply_reliability": ("供电可靠性", "Supply reliability"),
    "power_quality": ("电能质量", "Power quality"),
    "billing": ("电费抄核收", "Meter reading and billing"),
    "service_attitude": ("服务态度", "Service attitude"),
    "connection": ("业扩报装", "New connection"),
    "repair": ("故障抢修", "Fault repair"),
    "metering": ("计量", "Metering"),
}
COLUMNS = ("event_id", "customer_id", "event_type", "start", "end", "duration_hours", "category", "planned")
REQUIRED = ("event_id", "customer_id", "event_type", "start")
ALIASES: dict[str, tuple[str, ...]] = {
    "event_id": ("工单编号", "事件编号", "work_order_id"),
    "customer_id": ("respondent_id", "客户编号", "户号"),
    "event_type": ("事件类型", "业务类型", "type"),
    "start": ("start_time", "开始时间"),
    "end": ("end_time", "结束时间"),
    "duration_hours": ("duration", "时长", "时长（小时）", "时长(小时)", "持续时间（小时）"),
    "category": ("类别", "投诉类别", "分类"),
    "planned": ("是否计划", "计划停电"),
}
_TRUE = {"1", "true", "yes", "y", "planned", "是", "计划", "计划停电"}
_FALSE = {"0", "false", "no", "n", "unplanned", "否", "非计划", "故障停电", "非计划停电"}
DURATION_TOLERANCE_HOURS = 0.1  # a given duration may differ from end − start by this much ...
DURATION_TOLERANCE_SHARE = 0.02  # ... or by this share of it, whichever is larger (rounding in exports)
TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": ","}
SUFFIXES = (*TEXT_SUFFIXES, ".xlsx", ".xlsm", ".xls", ".parquet")
_DELIMITERS = (",", ";", "\t", "|")


def event_label(event_type: str, language: str = "en") -> str:
    """The Chinese (``zh``) or English label of an event type (the key itself when unknown)."""
    zh, en = EVENT_TYPES.get(event_type, (event_type, event_type))
    return zh if language == "zh" else en


def _event_lookup() -> dict[str, str]:
    out = {}
    for key, (zh, en) in EVENT_TYPES.items():
        out[key.casefold()] = key
        out[zh] = key
        out[en.casefold()] = key
        out[key.replace("_", " ").casefold()] = key
    out.update(_EVENT_SYNONYMS)
    return out


def _category_lookup() -> dict[str, str]:
    out = {}
    for key, (zh, en) in COMPLAINT_CATEGORIES.items():
        out[key.casefold()] = key
        out[zh] = key
        out[en.casefold()] = key
    return out


@dataclass(frozen=True)
class ServiceRecords:
    """Validated service records: one row per event, columns :data:`COLUMNS`.

    ``event_type`` is categorical over :data:`EVENT_TYPES`; ``start``/``end`` are datetimes (``end``
    NaT when not given); ``duration_hours`` is given or derived (NaN when neither); ``planned`` is a
    nullable boolean. ``extra`` holds the file's other columns (same index, not analysed);
    ``rows`` the spreadsheet row of each event. ``synthetic`` marks generated records.
    """

    frame: pd.DataFrame
    source: str
    sha256: str
    diagnostics: list[str] = field(default_factory=list)
    extra: pd.DataFrame = field(default_factory=pd.DataFrame)
    rows: np.ndarray | None = field(default=None, repr=False, compare=False)
    synthetic: bool = False

    def __len__(self) -> int:
        return len(self.frame)

    def summary(self) -> pd.DataFrame:
        """Events per type: event_type, label_zh, label_en, events, customers, total_hours, mean_hours."""
        f = self.frame
        rows = []
        for key, (zh, en) in EVENT_TYPES.items():
            part = f[f["event_type"] == key]
            hours = part["duration_hours"]
            rows.append(
                {
                    "event_type": key,
                    "label_zh": zh,
                    "label_en": en,
                    "events": len(part),
                    "customers": int(part["customer_id"].nunique()),
                    "total_hours": float(hours.sum()) if hours.notna().any() else np.nan,
                    "mean_hours": float(hours.mean()) if hours.notna().any() else np.nan,
                }
            )
        return pd.DataFrame(rows)


@public
def load_records(
    source: str | Path | pd.DataFrame,
    *,
    survey: Any = None,
    sheet: str | int | None = None,
    name: str | None = None,
) -> ServiceRecords:
    """Read and validate service records from a file (.csv/.tsv/.txt, .xlsx, .parquet) or a frame.

    Every problem is collected and raised together (see the module doc): missing required columns,
    blank or repeated event ids, unknown event types, unparseable timestamps, an end before its start,
    negative or non-numeric durations, durations that disagree with end − start, unreadable
    ``planned`` values. ``survey`` (a Survey, a frame with the respondent id column, or a collection
    of ids) links the records: events of customers who are not respondents are kept and reported in
    ``diagnostics`` with counts. CSV files may be UTF-8 (with or without BOM) or GB18030. ``name``
    names an in-memory frame in messages. Nothing given is modified.
    """
    if isinstance(source, pd.DataFrame):
        label = name or "records"
        raw = source.copy()
        digest = hashlib.sha256(pd.util.hash_pandas_object(raw, index=True).to_numpy().tobytes()).hexdigest()
        rows = np.arange(len(raw)) + 2
    else:
        path = Path(source)
        label = name or path.name
        raw, rows, digest, notes = _read(path, label, sheet)
        records = _build(raw.reset_index(drop=True), rows, label, digest, survey)
        records.diagnostics[:0] = notes
        return records
    return _build(raw.reset_index(drop=True), rows, label, digest, survey)


# ---------------------------------------------------------------------------- reading
def _read(path: Path, label: str, sheet: str | int | None
          ) -> tuple[pd.DataFrame, np.ndarray, str, list[str]]:
    """The file's table, read for what its bytes are (a workbook named .csv is read as a workbook)."""
    suffix = path.suffix.lower()
    if path.is_dir():
        refuse(label, "folder", "is a folder, not a records file; give the path of the file itself")
    if suffix not in SUFFIXES:
        refuse(
            label,
            "file_type",
            f"unsupported file type {quote(suffix or path.name)}; use {', '.join(SUFFIXES)}",
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        refuse(label, "unreadable", f"cannot read the records file: {exc.strerror or exc}")
    if not data.strip():
        refuse(label, "empty_file", "the file is empty; export the records with a header row")
    digest = hashlib.sha256(data).hexdigest()
    kind = sniff.file_kind(data)  # what the bytes are, whatever the name says
    notes = []
    if kind == "gzip":
        data = sniff.gunzip(label, data)
        kind = sniff.file_kind(data)
        notes.append(f"{label}: the file is gzip-compressed; read the text inside it")
    if kind in sniff.REFUSED or kind in ("sav", "html"):
        sniff.refuse_kind(label, kind if kind in sniff.REFUSED else "binary", data)
    named = "text" if suffix in TEXT_SUFFIXES else "xlsx" if suffix in (".xlsx", ".xlsm") else suffix[1:]
    if kind != named:
        notes.append(f"{label}: the file is {sniff.KINDS[kind]}, not what its extension {quote(suffix)} "
                     "says; read it as such")
    try:
        if kind == "text":
            encoding = sniff.text_encoding(label, data)
            notes += sniff.encoding_notes(label, encoding)
            text = data.decode(encoding).removeprefix("\ufeff")
            header = text.splitlines()[0] if text.strip() else ""
            usual = TEXT_SUFFIXES.get(suffix) or ","
            delimiter = max(_DELIMITERS, key=lambda d: (_known(header.split(d)), d == usual))
            frame = pd.read_csv(
                io.StringIO(text),
                sep=delimiter,
                dtype=str,
                skip_blank_lines=False,
                keep_default_na=False,
                na_values=[""],
            )
        elif kind == "parquet":
            frame = pd.read_parquet(io.BytesIO(data))
        else:
            frame = pd.read_excel(io.BytesIO(data), sheet_name=_sheet(sheet), dtype=object)
    except ImportError as exc:
        refuse(
            label, "reader_missing", f"reading {suffix} files needs a package that is not installed: {exc}"
        )
    except Exception as exc:  # the readers' own exceptions; the message is what matters
        if getattr(exc, "problems", None):  # already one of ours (encoding)
            raise
        refuse(
            label,
            "unparsable",
            f"cannot parse the file as {sniff.KINDS[kind]}: {cut(str(exc) or type(exc).__name__, 300)}",
        )
    return frame, np.arange(len(frame)) + 2, digest, notes


def _sheet(sheet: str | int | None) -> str | int:
    if sheet is None:
        return 0
    return sheet - 1 if isinstance(sheet, int) else sheet


def _known(names: Iterable[str]) -> int:
    canon = _canonical_names()
    return sum(n.strip() in canon for n in names)


def _canonical_names() -> dict[str, str]:
    out = {c: c for c in COLUMNS}
    for column, aliases in ALIASES.items():
        out.update({a: column for a in aliases})
    return out


# ---------------------------------------------------------------------------- validation
def _build(raw: pd.DataFrame, rows: np.ndarray, name: str, digest: str, survey: Any) -> ServiceRecords:
    blank = raw.isna().all(axis=1).to_numpy()
    if blank.any():  # empty lines are not events
        raw = raw.loc[~blank].reset_index(drop=True)
        rows = rows[~blank]
    if len(raw) == 0:
        refuse(name, "no_events", "the file has a header but no events")
    problems: list[SurveyProblem] = []
    columns, extra = _columns(raw, problems)
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        header = listing([str(c) for c in raw.columns], 8)
        problems.append(
            SurveyProblem(
                "",
                "missing_column",
                len(missing),
                (),
                tuple(missing),
                f"required column(s) {', '.join(missing)} are missing (the header reads: {header}); "
                f"records need {', '.join(REQUIRED)} (Chinese names also accepted, e.g. "
                f"{', '.join(ALIASES[c][-1] if c != 'customer_id' else '客户编号' for c in missing)})",
            )
        )
        fail(name, problems)
    values = {c: raw.iloc[:, k] for c, k in columns.items()}
    event_id = _ids(values["event_id"], "event_id", rows, problems, unique=True)
    customer_id = _ids(values["customer_id"], "customer_id", rows, problems, unique=False)
    event_type = _event_types(values["event_type"], rows, problems)
    start = _times(values["start"], "start", rows, problems, required=True)
    n = len(raw)
    end = (
        _times(values["end"], "end", rows, problems, required=False)
        if "end" in values
        else np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    )
    derived = (end - start) / np.timedelta64(1, "h")
    if "end" in values:
        before = derived < 0
        if before.any():
            problems.append(
                cells(
                    "end",
                    "end_before_start",
                    before,
                    rows,
                    lambda p: f"{_show_time(end[p])} (start {_show_time(start[p])})",
                    "value {value} is before the event's start",
                    "ends are before their starts",
                    "correct the end or the start (day and month swapped?)",
                    "correct the ends or the starts (day and month swapped?)",
                )
            )
    duration = derived.astype(float)
    if "duration_hours" in values:
        given = _durations(values["duration_hours"], rows, problems)
        both = ~np.isnan(given) & ~np.isnan(duration) & (duration >= 0)
        tolerance = np.maximum(DURATION_TOLERANCE_HOURS, DURATION_TOLERANCE_SHARE * np.abs(duration))
        off = both & (np.abs(given - np.where(both, duration, 0.0)) > tolerance)
        if off.any():
            problems.append(
                cells(
                    "duration_hours",
                    "duration_mismatch",
                    off,
                    rows,
                    lambda p: f"{quote(float(given[p]))} (end − start = {duration[p]:.2f})",
                    "value {value} disagrees with end − start",
                    "durations disagree with end − start",
                    "correct it, the start or the end, or blank it to derive it from start and end",
                    "correct them, the starts or the ends, or blank the durations to derive them",
                )
            )
        duration = np.where(np.isnan(given), duration, given)
    category = (
        _categories(values["category"]) if "category" in values else pd.Series([None] * n, dtype=object)
    )
    planned = (
        _planned(values["planned"], rows, problems)
        if "planned" in values
        else pd.array([pd.NA] * n, dtype="boolean")
    )
    if problems:
        fail(name, problems)
    frame = pd.DataFrame(
        {
            "event_id": event_id,
            "customer_id": customer_id,
            "event_type": pd.Categorical(event_type, categories=list(EVENT_TYPES)),
            "start": pd.to_datetime(start),
            "end": pd.to_datetime(end),
            "duration_hours": duration,
            "category": category.to_numpy(dtype=object),
            "planned": planned,
        }
    )
    notes = []
    if extra:
        notes.append(
            f"{name}: {len(extra)} column(s) not in the record format kept aside, not analysed: "
            f"{listing(list(extra))}"
        )
    notes += _linkage(frame, name, survey)
    kept = pd.DataFrame({c: raw.iloc[:, k].to_numpy() for c, k in extra.items()})
    return ServiceRecords(frame, name, digest, notes, kept, np.asarray(rows))


def _columns(raw: pd.DataFrame, problems: list[SurveyProblem]) -> tuple[dict[str, int], dict[str, int]]:
    canon = _canonical_names()
    seen: dict[str, list[int]] = {}
    extra: dict[str, int] = {}
    for k, column in enumerate(raw.columns):
        text = str(column).strip()
        if text in canon:
            seen.setdefault(canon[text], []).append(k)
        elif not text.startswith("Unnamed:") or raw.iloc[:, k].notna().any():
            extra[text] = k
    for column, ks in seen.items():
        if len(ks) > 1:
            names = " and ".join(quote(str(raw.columns[k])) for k in ks)
            problems.append(
                SurveyProblem(
                    column,
                    "duplicate_column",
                    len(ks),
                    (),
                    (),
                    f"column {column} appears {len(ks)} times ({names}, columns "
                    f"{', '.join(str(k + 1) for k in ks)}); keep one of them",
                )
            )
    return {c: ks[0] for c, ks in seen.items()}, extra


def _text(column: pd.Series) -> np.ndarray:
    """Values as stripped text (1.0 → "1"), blanks as None."""

    def one(v: Any) -> str | None:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
            return None
        if isinstance(v, float | np.floating) and float(v).is_integer():
            v = int(v)
        text = str(v).strip()
        return text or None

    codes, uniques = pd.factorize(column)
    distinct = np.array([one(v) for v in uniques] + [None], dtype=object)
    return distinct[codes]


def _ids(
    column: pd.Series, label: str, rows: np.ndarray, problems: list[SurveyProblem], unique: bool
) -> np.ndarray:
    ids = _text(column)
    blank = pd.isna(ids)
    what = "event" if label == "event_id" else "customer"
    if blank.any():
        problems.append(
            cells(
                label,
                f"blank_{label}",
                blank,
                rows,
                None,
                "value is blank",
                "ids are blank",
                f"give every event its {what} id",
                f"give every event its {what} id",
            )
        )
    if unique:
        repeated = pd.Series(ids).duplicated(keep=False).to_numpy() & ~blank
        if repeated.any():
            problems.append(
                cells(
                    label,
                    "duplicate_event_id",
                    repeated,
                    rows,
                    lambda p: quote(ids[p]),
                    "value {value} is repeated",
                    "event ids are repeated",
                    "each event needs its own id: remove the copied row or renumber it",
                    "each event needs its own id: remove the copied rows or renumber them",
                )
            )
    return ids


def _event_types(column: pd.Series, rows: np.ndarray, problems: list[SurveyProblem]) -> np.ndarray:
    text = _text(column)
    lookup = _event_lookup()
    mapped = np.array(
        [None if t is None else lookup.get(t, lookup.get(t.casefold())) for t in text], dtype=object
    )
    blank = pd.isna(text)
    if blank.any():
        problems.append(
            cells(
                "event_type",
                "blank_event_type",
                blank,
                rows,
                None,
                "value is blank",
                "event types are blank",
                "give the event type",
                "give every event its type",
            )
        )
    bad = pd.isna(mapped) & ~blank
    if bad.any():
        known = listing(list(EVENT_TYPES), len(EVENT_TYPES))
        problems.append(
            cells(
                "event_type",
                "unknown_event_type",
                bad,
                rows,
                lambda p: quote(text[p]),
                f"value {{value}} is not an event type ({known})",
                "values are not event types",
                "recode it to one of them (or its Chinese or English label)",
                f"recode them to {known} (or their Chinese or English labels)",
            )
        )
    return mapped


def _show_time(value: np.datetime64) -> str:
    return str(pd.Timestamp(value))


def _times(
    column: pd.Series, label: str, rows: np.ndarray, problems: list[SurveyProblem], required: bool
) -> np.ndarray:
    """Timestamps as datetime64[ns] (NaT for blanks) and problems for text that is not a time."""
    if pd.api.types.is_datetime64_any_dtype(column):
        values = pd.to_datetime(column)
        if values.dt.tz is not None:
            values = values.dt.tz_localize(None)
        parsed = values.to_numpy(dtype="datetime64[ns]")
        text = np.where(pd.isna(parsed), None, "x")
    else:
        text = _text(column)
        codes, uniques = pd.factorize(pd.Series(text, dtype=object))
        distinct = np.array([_timestamp(v) for v in uniques] + [np.datetime64("NaT")], dtype="datetime64[ns]")
        parsed = distinct[codes]
    blank = pd.isna(text)
    bad = np.isnat(parsed) & ~blank
    if bad.any():
        problems.append(
            cells(
                label,
                "not_a_time",
                bad,
                rows,
                lambda p: quote(text[p]),
                "value {value} is not a date and time",
                "values are not dates and times",
                "write it like 2025-03-01 08:30 (or 2025/3/1 8:30)",
                "write them like 2025-03-01 08:30 (or 2025/3/1 8:30)",
            )
        )
    if required and blank.any():
        problems.append(
            cells(
                label,
                f"blank_{label}",
                blank,
                rows,
                None,
                "value is blank",
                "values are blank",
                "give the time the event began",
                "give every event the time it began",
            )
        )
    return parsed


def _timestamp(value: Any) -> np.datetime64:
    if value is None:
        return np.datetime64("NaT")
    text = str(value)
    if text.replace(".", "", 1).isdigit():  # a bare number (an Excel serial day) is not a time
        return np.datetime64("NaT")
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        return np.datetime64("NaT")
    if stamp is pd.NaT:
        return np.datetime64("NaT")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return stamp.to_datetime64().astype("datetime64[ns]")


def _durations(column: pd.Series, rows: np.ndarray, problems: list[SurveyProblem]) -> np.ndarray:
    text = _text(column)
    numbers = pd.to_numeric(pd.Series(text, dtype=object), errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(numbers) & ~pd.isna(text)
    if bad.any():
        problems.append(
            cells(
                "duration_hours",
                "not_a_number",
                bad,
                rows,
                lambda p: quote(text[p]),
                "value {value} is not a number of hours",
                "values are not numbers of hours",
                "write the hours as a number (1.5 for 90 minutes) or leave it blank",
                "write hours as numbers (1.5 for 90 minutes) or leave them blank",
            )
        )
    negative = numbers < 0
    if negative.any():
        problems.append(
            cells(
                "duration_hours",
                "negative_duration",
                negative,
                rows,
                lambda p: quote(float(numbers[p])),
                "value {value} is negative",
                "durations are negative",
                "correct it (a duration is at least 0 hours)",
                "correct them (a duration is at least 0 hours)",
            )
        )
    return numbers


def _categories(column: pd.Series) -> pd.Series:
    lookup = _category_lookup()
    text = _text(column)
    return pd.Series(
        [None if t is None else lookup.get(t, lookup.get(t.casefold(), t)) for t in text], dtype=object
    )


def _planned(column: pd.Series, rows: np.ndarray, problems: list[SurveyProblem]) -> pd.arrays.BooleanArray:
    text = _text(column)
    folded = [None if t is None else t.casefold() for t in text]
    out = pd.array([True if t in _TRUE else False if t in _FALSE else pd.NA for t in folded], dtype="boolean")
    bad = np.array([t is not None and t not in _TRUE and t not in _FALSE for t in folded])
    if bad.any():
        problems.append(
            cells(
                "planned",
                "not_planned_flag",
                bad,
                rows,
                lambda p: quote(text[p]),
                "value {value} is neither planned nor unplanned",
                "values are neither planned nor unplanned",
                "write 1 (planned, 是) or 0 (unplanned, 否), or leave it blank",
                "write 1 (planned, 是) or 0 (unplanned, 否), or leave them blank",
            )
        )
    return out


# ---------------------------------------------------------------------------- linkage
def respondent_ids(survey: Any) -> tuple[str, ...]:
    """The respondent ids of a Survey, a frame with the codebook's id column, or a collection of ids."""
    frame = getattr(survey, "frame", survey)
    if isinstance(frame, pd.DataFrame):
        book = getattr(survey, "codebook", None)
        column = book.id_column if book is not None else "respondent_id"
        if column not in frame.columns:
            from csi_research.core.errors import SurveyDataError

            raise SurveyDataError(
                f"the survey frame has no respondent id column {column!r}; "
                "records are joined to the survey by it"
            )
        return tuple(str(v).strip() for v in frame[column])
    if isinstance(survey, Collection) and not isinstance(survey, str):
        return tuple(str(v).strip() for v in survey)
    raise TypeError(
        f"survey must be a Survey, a DataFrame or a collection of respondent ids, not {type(survey)}"
    )


def _linkage(frame: pd.DataFrame, name: str, survey: Any) -> list[str]:
    if survey is None:
        return []
    known = set(respondent_ids(survey))
    source = Path(getattr(survey, "source", "the survey")).name
    outside = ~frame["customer_id"].isin(known).to_numpy()
    if not outside.any():
        return []
    customers = pd.unique(frame["customer_id"].to_numpy()[outside])
    examples = ", ".join(quote(c) for c in customers[:EXAMPLES])
    return [
        f"{name}: {int(outside.sum())} event(s) of {len(customers)} customer(s) are not respondents of "
        f"{source} (e.g. {examples}); they are kept but are left out when joined to the survey"
    ]
