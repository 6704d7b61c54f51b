"""Summary rows a spreadsheet keeps under its data: 合计 (total), 平均 (average), 注 (note) lines.

A survey firm's export often ends with a total or average row and a note on the source. Such a row
is no respondent: its first cell (or its respondent id cell) is blank or one of the labels below,
and some cell holds the label. :func:`drop_footer` takes these rows off the end of a table (blank
rows between them included) and says which rows it dropped.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from csi_research.data.surveyproblems import EXAMPLES, quote

# a label starts the cell's text; 注 and Note may run on ("注：数据来源…", "Note: weighted")
LABELS = ("合计", "总计", "小计", "平均", "平均分", "平均值", "均值", "备注", "注", "说明", "total",
          "subtotal", "sum", "average", "mean", "note", "notes")
_LABEL = re.compile(r"^\s*(?:" + "|".join(sorted(LABELS, key=len, reverse=True)) + r")(?:\s*[:：(（]|\s+|$)",
                    re.IGNORECASE)


def is_label(value: object) -> bool:
    """Whether a cell's text is a summary row's label (合计, Total:, 注：…, Notes)."""
    return isinstance(value, str) and bool(_LABEL.match(value))


def drop_footer(name: str, frame: pd.DataFrame, rows: np.ndarray, id_column: str
                ) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """``frame`` and ``rows`` without trailing summary rows, and the note naming them (none: none dropped)."""
    names = [str(c).strip() for c in frame.columns]
    ids = names.index(id_column) if id_column in names else None
    dropped: list[tuple[int, str]] = []
    end = len(frame)
    while end > 0:
        row = frame.iloc[end - 1]
        values = [v for v in row.tolist() if not _blank(v)]
        if not values:  # blank rows between the data and the summary go with the summary
            end -= 1
            continue
        first, key = row.iloc[0], row.iloc[ids] if ids is not None else None
        label = next((v for v in values if is_label(v)), None)
        open_key = _blank(first) or is_label(first) or (ids is not None and (_blank(key) or is_label(key)))
        if label is None or not open_key:
            break
        dropped.append((int(rows[end - 1]), label.strip()))
        end -= 1
    if not dropped:
        return frame, rows, []
    dropped.reverse()
    return frame.iloc[:end], rows[:end], summary_notes(name, dropped)


def summary_notes(name: str, dropped: list[tuple[int, str]]) -> list[str]:
    """The note naming the summary rows dropped (spreadsheet row, label)."""
    shown = ", ".join(f"row {r} ({quote(t)})" for r, t in dropped[:EXAMPLES])
    more = f" and {len(dropped) - EXAMPLES} more" if len(dropped) > EXAMPLES else ""
    return [f"{name}: {len(dropped)} summary row(s) under the data were dropped, not respondents: "
            f"{shown}{more}"]


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
