"""Per-customer features of service records over the survey's reference period, joined to the survey.

A respondent's answers reflect what happened to them before the interview, so events count only
within a reference period (by default the calendar year of the survey wave, i.e. the twelve months up
to the end of the wave's year, when the fieldwork of an annual evaluation closes). Every respondent
gets a row, in the survey's order: a respondent without events in the period gets zeros, explicitly,
never NaN (a mean duration over no events is 0 hours; ``events_total`` = 0 tells them apart).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.diagnostics import public
from csi_research.core.errors import ModelSpecError
from csi_research.data.surveyproblems import EXAMPLES, quote
from csi_research.records.format import (
    COMPLAINT_CATEGORIES,
    EVENT_TYPES,
    ServiceRecords,
    respondent_ids,
)

DURATION_TYPES = ("outage", "fault_repair", "complaint", "connection_application")  # lengths that matter


@dataclass(frozen=True)
class CustomerFeatures:
    """Features per respondent: ``frame`` (id column, then one column per feature, survey order),
    ``catalog`` (feature, event_type, statistic, category, label_zh, label_en, unit), the reference
    ``period`` [start, end) and how it was chosen (``period_source``)."""

    frame: pd.DataFrame
    catalog: pd.DataFrame
    id_column: str
    period: tuple[pd.Timestamp, pd.Timestamp]
    period_source: str
    diagnostics: list[str] = field(default_factory=list)

    @property
    def features(self) -> list[str]:
        return list(self.catalog["feature"])

    def count_feature(self, event_type: str) -> str:
        return f"{event_type}_count"


def reference_period(
    survey: Any, period: tuple[Any, Any] | None = None
) -> tuple[pd.Timestamp, pd.Timestamp, str]:
    """The reference period [start, end) and how it was chosen: given, or the calendar year of the wave."""
    if period is not None:
        try:
            start, end = (pd.Timestamp(p) for p in period)
        except (TypeError, ValueError) as exc:
            raise ModelSpecError(
                f"period must be two dates (start, end), e.g. ('2025-01-01', '2026-01-01'): {exc}"
            ) from None
        if not start < end:
            raise ModelSpecError(
                f"period start {start.date()} is not before its end {end.date()}; give (start, end)"
            )
        return start, end, "given"
    frame = getattr(survey, "frame", survey)
    waves = (
        pd.unique(frame["wave"].dropna().astype(str))
        if isinstance(frame, pd.DataFrame) and "wave" in frame.columns
        else []
    )
    years = [w for w in waves if str(w).split(".")[0].isdigit()]
    if len(waves) == 1 and years:
        year = int(str(years[0]).split(".")[0])
        return pd.Timestamp(year, 1, 1), pd.Timestamp(year + 1, 1, 1), f"calendar year of wave {year}"
    raise ModelSpecError(
        "the reference period cannot be taken from the survey (it needs a single wave year in column wave); "
        "give period=(start, end), e.g. ('2024-07-01', '2025-07-01') for the 12 months before a July survey"
    )


@public
def customer_features(
    records: ServiceRecords,
    survey: Any,
    *,
    period: tuple[Any, Any] | None = None,
) -> CustomerFeatures:
    """Counts and durations of each event type per respondent over the reference period.

    Features (every event type of :data:`EVENT_TYPES` always has its columns, so frames of different
    regions line up): ``<type>_count``; for :data:`DURATION_TYPES` ``<type>_hours`` (total) and
    ``<type>_mean_hours``; ``outage_max_hours``; ``outage_planned_count`` and
    ``outage_unplanned_count`` when the records say which outages were planned;
    ``complaint_<category>_count`` per complaint category of :data:`COMPLAINT_CATEGORIES` (others in
    ``complaint_other_count``); ``events_total``. ``survey`` is a Survey, a frame holding the
    respondent id column, or a sequence of ids.
    """
    ids = list(respondent_ids(survey))
    book = getattr(survey, "codebook", None)
    id_column = book.id_column if book is not None else "respondent_id"
    start, end, how = reference_period(survey, period)
    f = records.frame
    name = records.source
    inside = ((f["start"] >= start) & (f["start"] < end)).to_numpy()
    known = f["customer_id"].isin(set(ids)).to_numpy()
    notes = []
    if (~inside).any():
        notes.append(
            f"{name}: {int((~inside).sum())} event(s) outside the reference period "
            f"{start.date()} to {end.date()} are not counted"
        )
    strangers = inside & ~known
    if strangers.any():
        customers = pd.unique(f["customer_id"].to_numpy()[strangers])
        notes.append(
            f"{name}: {int(strangers.sum())} event(s) of {len(customers)} customer(s) who are not "
            f"respondents are not counted (e.g. {', '.join(quote(c) for c in customers[:EXAMPLES])})"
        )
    used = f.loc[inside & known]
    index = pd.Index(pd.unique(np.asarray(ids, dtype=object)), name=id_column)
    columns: dict[str, pd.Series] = {}
    catalog: list[dict[str, Any]] = []

    def add(
        feature: str,
        values: pd.Series,
        event_type: str,
        statistic: str,
        zh: str,
        en: str,
        unit: str,
        category: str | None = None,
    ) -> None:
        columns[feature] = values.reindex(index).fillna(0.0).astype(float)
        catalog.append(
            {
                "feature": feature,
                "event_type": event_type,
                "statistic": statistic,
                "category": category,
                "label_zh": zh,
                "label_en": en,
                "unit": unit,
            }
        )

    by_type = {t: g for t, g in used.groupby("event_type", observed=False)}
    for key, (zh, en) in EVENT_TYPES.items():
        part = by_type.get(key, used.iloc[:0])
        grouped = part.groupby("customer_id")
        add(f"{key}_count", grouped.size(), key, "count", f"{zh}次数", f"{en} (count)", "events")
        if key in DURATION_TYPES:
            hours = part.dropna(subset=["duration_hours"]).groupby("customer_id")["duration_hours"]
            add(
                f"{key}_hours", hours.sum(), key, "total_hours", f"{zh}总时长", f"{en} (total hours)", "hours"
            )
            add(
                f"{key}_mean_hours",
                hours.mean(),
                key,
                "mean_hours",
                f"{zh}平均时长",
                f"{en} (mean hours)",
                "hours",
            )
            if key == "outage":
                add(
                    "outage_max_hours",
                    hours.max(),
                    key,
                    "max_hours",
                    "最长停电时长",
                    "Longest outage (hours)",
                    "hours",
                )
                if part["planned"].notna().any():
                    planned = part["planned"]
                    add(
                        "outage_planned_count",
                        part[planned.fillna(False).to_numpy(dtype=bool)].groupby("customer_id").size(),
                        key,
                        "count_planned",
                        "计划停电次数",
                        "Planned outages (count)",
                        "events",
                    )
                    add(
                        "outage_unplanned_count",
                        part[(~planned.fillna(True)).to_numpy(dtype=bool)].groupby("customer_id").size(),
                        key,
                        "count_unplanned",
                        "非计划停电次数",
                        "Unplanned outages (count)",
                        "events",
                    )
        if key == "complaint" and len(part):
            category = part["category"].where(part["category"].isin(list(COMPLAINT_CATEGORIES)), "other")
            category = category.where(part["category"].notna(), None)
            for cat in [*COMPLAINT_CATEGORIES, "other"]:
                mask = (category == cat).to_numpy(dtype=bool)
                if mask.any():
                    czh, cen = COMPLAINT_CATEGORIES.get(cat, ("其他", "Other"))
                    add(
                        f"complaint_{cat}_count",
                        part[mask].groupby("customer_id").size(),
                        key,
                        "count_category",
                        f"{czh}投诉次数",
                        f"Complaints: {cen.lower()} (count)",
                        "events",
                        cat,
                    )
    add(
        "events_total",
        used.groupby("customer_id").size(),
        "all",
        "count",
        "事件总数",
        "All events (count)",
        "events",
    )
    wide = pd.DataFrame(columns)
    frame = wide.reindex(pd.Index(ids, name=id_column)).reset_index()
    return CustomerFeatures(frame, pd.DataFrame(catalog), id_column, (start, end), how, notes)
