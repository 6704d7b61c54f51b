"""How a survey's problems are told: one bounded message, grouped by column, with rows and values.

Every refusal of the survey loader goes through :func:`fail`: the problems of a file are collected
first and raised together as one :class:`SurveyDataError` whose ``problems`` attribute holds them as
:class:`SurveyProblem` values. Quoted values are cut (:data:`QUOTE_CHARS`) and the whole message is
bounded (:data:`MESSAGE_CHARS`), so a 100 MB cell or a thousand bad columns still give a short message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np

from csi_research.core.errors import SurveyDataError

QUOTE_CHARS = 40  # a value or name quoted in a message is cut to this many characters
EXAMPLES = 3  # rows and values shown per problem
LISTED_PROBLEMS = 12  # problem lines in one message; the rest are counted
MESSAGE_CHARS = 2000  # no message is longer than this


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


def cut(text: str, limit: int = QUOTE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quote(value: Any) -> str:
    """A value as shown in a message: text quoted and cut, whole numbers without '.0'."""
    if isinstance(value, str):
        return repr(cut(value))
    if isinstance(value, float | np.floating) and np.isfinite(value):
        return f"{value:g}" if not float(value).is_integer() else str(int(value))
    return cut(str(value))


def listing(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(cut(str(n)) for n in names[:limit])
    return shown + (f" … ({len(names)} in all)" if len(names) > limit else "")


def rows_text(rows: Sequence[int], count: int) -> str:
    return ", ".join(map(str, rows)) + (" …" if count > len(rows) else "")


def fail(name: str, problems: list[SurveyProblem]) -> NoReturn:
    error = SurveyDataError(message(name, problems))
    error.problems = tuple(problems)  # type: ignore[attr-defined]  # the structured form, for callers
    raise error from None  # a reader's own exception is noise next to this message


def refuse(name: str, kind: str, text: str) -> NoReturn:
    """A problem of the file as a whole."""
    fail(name, [SurveyProblem("", kind, 1, text=text)])


def message(name: str, problems: list[SurveyProblem]) -> str:
    """``name: line`` for one problem; else a count, then one indented line per problem (bounded)."""
    if len(problems) == 1:
        return cut(f"{name}: {problems[0].text}", MESSAGE_CHARS)
    columns = list(dict.fromkeys(p.column for p in problems if p.column))
    where = f" in {len(columns)} columns" if len(columns) > 1 else ""
    head = f"{name}: {len(problems)} problems{where}:"
    budget = MESSAGE_CHARS - 100 - len(head)  # room for the closing count
    lines = []
    for problem in problems[:LISTED_PROBLEMS]:
        line = "  " + cut(problem.text, 400)
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


def cells(column: str, kind: str, bad: np.ndarray, rows: np.ndarray, shown: Callable[[int], str] | None,
           one: str, many: str, fix_one: str, fix_many: str) -> SurveyProblem:
    """A problem of the cells ``bad`` of a column: ``one``/``many`` say what is wrong, ``fix_*`` what to do.

    ``one`` may hold ``{value}``; ``shown(position)`` quotes the value of a bad cell.
    """
    positions = np.flatnonzero(bad)
    count = len(positions)
    first = positions[:EXAMPLES]
    where = tuple(int(rows[p]) for p in first)
    values = tuple(shown(int(p)) for p in first) if shown else ()
    label = cut(column)
    if count == 1:
        text = f"column {label} row {where[0]}: {one.format(value=values[0] if values else '')}; {fix_one}"
    else:
        more = " …" if count > len(where) else ""
        examples = ", ".join(map(str, where)) + (f": {', '.join(values)}" if values else "")
        text = f"column {label}: {count} {many} (rows {examples}{more}); {fix_many}"
    return SurveyProblem(column, kind, count, where, values, text)
