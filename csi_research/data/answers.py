"""Answer cells that look like codes but are written otherwise: full-width digits, decimal commas, dates.

Chinese input methods type full-width digits and letters (４, Ａ): they mean their ASCII forms and are
read so, with a note. A decimal comma ("4,5") and a cell Excel formatted as a date (the grade 5 shown
as 1900-01-05) are not read: the first is no answer code, the second hides which code was typed, so
both are refused naming the cell (see :mod:`csi_research.data.survey`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from csi_research.data.surveyproblems import EXAMPLES, cut, quote, rows_text

# full-width forms U+FF01–U+FF5E are ASCII 0x21–0x7E shifted; U+3000 is the ideographic space
_WIDE = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_DECIMAL_COMMA = re.compile(r"^\s*[+-]?\d+,\d+\s*$")
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)  # day 0 of Excel's 1900 date system (after its 29 Feb 1900)


def ascii_forms(column: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """The column with full-width characters in text cells replaced by ASCII, and a mask of changed cells."""
    if column.dtype != object and not pd.api.types.is_string_dtype(column):
        return column, np.zeros(len(column), dtype=bool)
    codes, uniques = pd.factorize(column)
    narrow = [v.translate(_WIDE) if isinstance(v, str) else v for v in uniques]
    changed = np.array([isinstance(a, str) and a != b for a, b in zip(uniques, narrow, strict=True)]
                       + [False])
    if not changed.any():
        return column, np.zeros(len(column), dtype=bool)
    values = np.append(np.array(narrow, dtype=object), None)[codes]
    return pd.Series(values, index=column.index, dtype=object, name=column.name), changed[codes]


def fullwidth_notes(name: str, column: str, changed: np.ndarray, rows: np.ndarray, before: pd.Series,
                    after: pd.Series) -> list[str]:
    """The note for the cells ``changed`` by :func:`ascii_forms` (empty when none)."""
    positions = np.flatnonzero(changed)
    if not len(positions):
        return []
    shown = [f"{quote(before.iloc[p])} as {quote(str(after.iloc[p]).strip())}" for p in positions[:EXAMPLES]]
    where = rows_text([int(rows[p]) for p in positions[:EXAMPLES]], len(positions))
    return [f"{name}: column {cut(column)}: {len(positions)} cell(s) written in full-width characters "
            f"were read as their ASCII form (rows {where}: {', '.join(shown)})"]


def decimal_commas(column: pd.Series) -> np.ndarray:
    """Mask of text cells holding a number with a decimal comma ("4,5")."""
    return _per_value(column, lambda v: isinstance(v, str) and bool(_DECIMAL_COMMA.match(v)))


def dates(column: pd.Series) -> np.ndarray:
    """Mask of cells holding a date or time (a cell Excel formatted as a date)."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.notna().to_numpy()
    return _per_value(column, lambda v: isinstance(v, dt.datetime | dt.date | np.datetime64)
                      and not pd.isna(v))


def _per_value(column: pd.Series, test: Callable[[object], bool]) -> np.ndarray:
    """``test`` of each cell, judged once per distinct value (answers have few); numbers pass none."""
    if column.dtype != object and not pd.api.types.is_string_dtype(column):
        return np.zeros(len(column), dtype=bool)
    codes, uniques = pd.factorize(column)
    judged = np.array([test(v) for v in uniques] + [False], dtype=bool)
    return judged[codes]


def excel_day(value: object) -> str:
    """A date cell as shown in a message: ``1900-01-05 (Excel day 5)``, the day being the typed number."""
    stamp = pd.Timestamp(value)
    moment = stamp.to_pydatetime().replace(tzinfo=None)
    # Excel counts a 29 February 1900 that never was: its days 1–59 are one day later than the epoch says
    days = (moment - _EXCEL_EPOCH) / dt.timedelta(days=1)
    if moment < dt.datetime(1900, 3, 1):
        days -= 1
    number = f"{days:g}" if not float(days).is_integer() else str(int(days))
    shown = f"{moment:%Y-%m-%d}" if moment.time() == dt.time() else f"{moment:%Y-%m-%d %H:%M}"
    return f"{shown} (Excel day {number})"
