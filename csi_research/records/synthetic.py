"""Synthetic service records for a survey, with planted effects on satisfaction that are known.

Real work orders cannot be bundled, and a driver analysis can only be trusted if it finds effects that
are known to be there. So records are generated *conditional on each respondent's answers*: the
respondent's satisfaction index s (mean grade score of the Satisfaction items, 0–100) is standardised
and sign-flipped, z = −(s − mean s) / sd s (higher = less satisfied), and the number of events of
type t is Poisson with rate

    λ_t(z) = base_rate_t · exp(β_t · z),

so ``exp(β_t)`` is the rate ratio per standard deviation of dissatisfaction. Types with β ≠ 0 are
the planted drivers; the others (β = 0) are decoys, as frequent as ever but unrelated to
satisfaction. High-value customers may have their own β (``high_value_effects``): the critical events
for them then differ from those of all customers. Durations, categories and times are drawn
independently of satisfaction. Everything is deterministic for a seed and labelled synthetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.errors import ModelSpecError
from csi_research.records.customers import high_value_customers, satisfaction_scores
from csi_research.records.features import reference_period
from csi_research.records.format import COMPLAINT_CATEGORIES, EVENT_TYPES, ServiceRecords, respondent_ids

DEFAULT_BASE_RATES: dict[str, float] = {  # events per customer and year, roughly a 95598 profile
    "outage": 1.5,
    "fault_repair": 0.4,
    "complaint": 0.15,
    "hotline_contact": 1.0,
    "connection_application": 0.1,
    "billing_query": 0.6,
    "voltage_problem": 0.2,
    "meter_fault": 0.05,
    "suggestion": 0.05,
    "praise": 0.05,
}
DEFAULT_EFFECTS: dict[str, float] = {"outage": 0.5, "complaint": 0.7, "fault_repair": 0.5}
# (median hours, log-sd) of each type's duration; None: instantaneous (no end, no duration)
_DURATIONS: dict[str, tuple[float, float] | None] = {
    "outage": (2.0, 0.9),
    "fault_repair": (3.0, 0.7),
    "complaint": (72.0, 0.6),
    "connection_application": (240.0, 0.5),
    "hotline_contact": (0.1, 0.5),
    "billing_query": None,
    "voltage_problem": (8.0, 1.0),
    "meter_fault": (48.0, 0.6),
    "suggestion": None,
    "praise": None,
}
PLANNED_SHARE = 0.3  # share of outages that are planned


@dataclass(frozen=True)
class PlantedTruth:
    """What the generator planted: ``effects`` has one row per group of customers and event type with
    group ("other" / "high_value"), event_type, feature (its count column), base_rate, beta (log rate
    ratio per SD of dissatisfaction) and planted (beta ≠ 0). ``drivers`` are the count features
    planted for any customer (the drivers of all customers together), ``high_value_drivers`` those
    planted for high-value customers, ``decoys`` those planted for nobody (β = 0 everywhere)."""

    effects: pd.DataFrame
    drivers: tuple[str, ...]
    high_value_drivers: tuple[str, ...]
    decoys: tuple[str, ...]
    high_value_definition: str
    seed: int | None


@dataclass(frozen=True)
class SyntheticRecords:
    """Generated records (``records.synthetic`` is True) and the planted truth they carry."""

    records: ServiceRecords
    truth: PlantedTruth
    period: tuple[pd.Timestamp, pd.Timestamp]


def synthetic_records(
    survey: Any,
    *,
    seed: int | np.random.Generator,
    period: tuple[Any, Any] | None = None,
    effects: Mapping[str, float] | None = None,
    high_value_effects: Mapping[str, float] | None = None,
    base_rates: Mapping[str, float] | None = None,
    high_value: Any = "default",
) -> SyntheticRecords:
    """Records for every respondent of ``survey`` with the planted effects ``effects`` (type → β).

    ``high_value_effects`` overrides β for high-value customers (see
    :func:`csi_research.records.drivers.high_value_customers` for ``high_value``); ``base_rates``
    overrides :data:`DEFAULT_BASE_RATES`. The period defaults to the calendar year of the wave.
    """

    rng = np.random.default_rng(seed)
    effects = dict(DEFAULT_EFFECTS if effects is None else effects)
    hv_effects = dict(high_value_effects or {})
    rates = {**DEFAULT_BASE_RATES, **dict(base_rates or {})}
    for key in [*effects, *hv_effects, *rates]:
        if key not in EVENT_TYPES:
            raise ModelSpecError(
                f"unknown event type {key!r} in the planted effects or base rates; "
                f"use {', '.join(EVENT_TYPES)}"
            )
    start, end, _ = reference_period(survey, period)
    ids = np.asarray(respondent_ids(survey), dtype=object)
    s = satisfaction_scores(survey).to_numpy()
    s = np.where(np.isnan(s), np.nanmean(s), s)
    sd = np.std(s)
    z = -(s - s.mean()) / (sd if sd > 0 else 1.0)
    hv, hv_text = high_value_customers(survey, high_value)
    span = (end - start) / pd.Timedelta(hours=1)
    parts = []
    truth_rows = []
    for key in EVENT_TYPES:
        beta_all = float(effects.get(key, 0.0))
        beta_hv = float(hv_effects.get(key, beta_all))
        beta = np.where(hv, beta_hv, beta_all)
        counts = rng.poisson(rates[key] * np.exp(beta * z))
        truth_rows += [("other", key, rates[key], beta_all), ("high_value", key, rates[key], beta_hv)]
        n = int(counts.sum())
        if n == 0:
            continue
        owner = np.repeat(ids, counts)
        begin = start + pd.to_timedelta(rng.uniform(0, span, n), unit="h")
        spec = _DURATIONS[key]
        hours = (
            np.round(spec[0] * np.exp(spec[1] * rng.standard_normal(n)), 2) if spec else np.full(n, np.nan)
        )
        category = np.full(n, None, dtype=object)
        if key == "complaint":
            category = rng.choice(np.array(list(COMPLAINT_CATEGORIES), dtype=object), n)
        planned = pd.array([pd.NA] * n, dtype="boolean")
        if key == "outage":
            planned = pd.array(rng.uniform(size=n) < PLANNED_SHARE, dtype="boolean")
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": owner,
                    "event_type": key,
                    "start": begin.floor("min"),
                    "duration_hours": hours,
                    "category": category,
                    "planned": planned,
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True).sort_values(["start", "customer_id"], kind="stable")
    frame = frame.reset_index(drop=True)
    frame["end"] = frame["start"] + pd.to_timedelta(frame["duration_hours"], unit="h")
    frame.insert(0, "event_id", [f"SYN-{k + 1:07d}" for k in range(len(frame))])
    frame["event_type"] = pd.Categorical(frame["event_type"], categories=list(EVENT_TYPES))
    frame = frame[
        ["event_id", "customer_id", "event_type", "start", "end", "duration_hours", "category", "planned"]
    ]
    source = f"synthetic records for {getattr(survey, 'source', 'the survey').split('/')[-1]}"
    records = ServiceRecords(
        frame, source, "", [], pd.DataFrame(index=frame.index), np.arange(len(frame)) + 2, synthetic=True
    )
    table = pd.DataFrame(truth_rows, columns=["group", "event_type", "base_rate", "beta"])
    table["feature"] = table["event_type"] + "_count"
    table["planted"] = table["beta"] != 0
    table = table[["group", "event_type", "feature", "base_rate", "beta", "planted"]]
    groups = {
        g: set(table.loc[(table["group"] == g) & table["planted"], "feature"])
        for g in ("other", "high_value")
    }
    if not hv.any():
        groups["high_value"] = set()
    if hv.all():
        groups["other"] = set()
    anyone = groups["other"] | groups["high_value"]
    order = [f"{t}_count" for t in EVENT_TYPES]
    truth = PlantedTruth(
        effects=table,
        drivers=tuple(f for f in order if f in anyone),
        high_value_drivers=tuple(f for f in order if f in groups["high_value"]),
        decoys=tuple(f for f in order if f not in anyone),
        high_value_definition=hv_text,
        seed=seed if isinstance(seed, int) else None,
    )
    return SyntheticRecords(records, truth, (start, end))
