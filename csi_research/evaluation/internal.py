"""Internal evaluation (内部评价) from operating statistics, and the supply-service quality index.

Indicators (voltage qualification rate, supply reliability, outage duration and frequency,
fault restoration time, outlets, 95598 answer rate, complaint handling, metering faults,
commitment compliance) are defined in ``resources/internal_indicators.yaml``: unit, direction
(benefit / cost), target, worst value and plausible bounds.

Normalisation (documented): score = 100 · clip((x − worst) / (target − worst), 0, 1), linear
between the worst value (0) and the target (100), capped at both ends. For a cost indicator
worst > target, so the same formula reverses it: shorter outages score higher.

The internal score is the weighted mean of the indicator scores (equal weights unless AHP or
given weights are supplied; missing values drop out and the rest are renormalised). The
supply-service quality index (供电服务品质指数) is β · external CSI + (1 − β) · internal score,
both on 0–100; β = 0.5 by default (no source fixes it — state the value used in the study).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from csi_research.core.diagnostics import public
from csi_research.core.errors import ModelSpecError, SurveyDataError

DEFAULT_BETA = 0.5
ID_COLUMNS = ("region", "year", "synthetic")
DEFINITION_KEYS = ("id", "name_zh", "name_en", "unit", "direction", "target", "worst", "lower", "upper")
OPTIONAL_KEYS = ("unit_zh",)  # the unit in Chinese reports; the English unit when absent


@dataclass(frozen=True)
class IndicatorDefinition:
    """One internal indicator: names, unit, direction, target, worst value, plausible bounds."""

    id: str
    name_zh: str
    name_en: str
    unit: str
    direction: str
    target: float
    worst: float
    lower: float
    upper: float
    unit_zh: str = ""

    def __post_init__(self) -> None:
        if self.direction not in ("benefit", "cost"):
            raise ModelSpecError(
                f"indicator {self.id}: direction {self.direction!r} is not 'benefit' or 'cost'"
            )
        if (self.target > self.worst) != (self.direction == "benefit") or self.target == self.worst:
            raise ModelSpecError(
                f"indicator {self.id}: a {self.direction} indicator needs target "
                f"{'>' if self.direction == 'benefit' else '<'} worst "
                f"(got target {self.target}, worst {self.worst})"
            )
        if not self.lower <= min(self.target, self.worst) <= max(self.target, self.worst) <= self.upper:
            raise ModelSpecError(f"indicator {self.id}: target and worst must lie within [lower, upper]")

    def normalise(self, x: Any) -> np.ndarray:
        """0–100, linear from worst to target, capped."""
        return 100 * np.clip((np.asarray(x, dtype=float) - self.worst) / (self.target - self.worst), 0, 1)


def indicator_definitions(path: str | Path | None = None) -> dict[str, IndicatorDefinition]:
    """The indicator definitions (the bundled YAML, or a user's copy at ``path``)."""
    if path is None:
        text = _resource("internal_indicators.yaml")
        source = "internal_indicators.yaml"
    else:
        text, source = Path(path).read_text(encoding="utf-8"), str(path)
    spec = yaml.safe_load(text)
    out = {}
    for entry in spec.get("indicators", []):
        if not set(DEFINITION_KEYS) <= set(entry) <= set(DEFINITION_KEYS + OPTIONAL_KEYS):
            raise ModelSpecError(
                f"{source}: indicator {entry.get('id')} needs the keys {', '.join(DEFINITION_KEYS)} "
                f"(optional: {', '.join(OPTIONAL_KEYS)}), not {', '.join(map(str, entry))}"
            )
        numbers = {k: float(entry[k]) for k in ("target", "worst", "lower", "upper")}
        out[entry["id"]] = IndicatorDefinition(**{**entry, **numbers})
    return out


def _resource(name: str) -> str:
    return resources.files("csi_research").joinpath("resources", name).read_text("utf-8")


def load_internal_indicators(path: str | Path | None = None) -> pd.DataFrame:
    """Internal indicators, one row per region and year (bundled: the synthetic regions)."""
    if path is None:
        return pd.read_csv(io.StringIO(_resource("internal_indicators.csv")), comment="#")
    return pd.read_csv(path, comment="#")


@dataclass(frozen=True, eq=False)
class InternalEvaluation:
    """Normalised indicator scores and the weighted internal score per region and year.

    ``scores``: region, year, indicator, value, score (0–100), weight, and the indicator's
    definition for readers (name_zh, name_en, unit, unit_zh, direction, target); ``internal``:
    region, year, internal_score.
    """

    scores: pd.DataFrame
    internal: pd.DataFrame
    weights: pd.Series
    diagnostics: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, pd.DataFrame]:
        wide = self.scores.pivot_table(index=["region", "year"], columns="indicator", values="score",
                                       sort=False)
        return {"internal_score": self.internal, "indicator_scores": wide.reset_index()}


def validate_internal(frame: pd.DataFrame, definitions: Mapping[str, IndicatorDefinition]) -> pd.DataFrame:
    """Check columns and values; errors name region, year, indicator and value."""
    if "region" not in frame.columns:
        raise SurveyDataError("internal indicators need a 'region' column (one row per region and year)")
    unknown = [c for c in frame.columns if c not in ID_COLUMNS and c not in definitions]
    if unknown:
        raise SurveyDataError(
            f"unknown internal indicator(s) {unknown}; known: {', '.join(definitions)} "
            "(add a definition or rename the column)"
        )
    out = frame.copy()
    if "year" not in out.columns:
        out["year"] = pd.NA
    for col in [c for c in out.columns if c in definitions]:
        d = definitions[col]
        values = pd.to_numeric(out[col], errors="coerce")
        for idx in out.index[values.isna() & out[col].notna()]:
            raise SurveyDataError(_where(out, idx, d, f"value {out.at[idx, col]!r} is not a number"))
        bad = values[(values < d.lower) | (values > d.upper)]
        if len(bad):
            idx = bad.index[0]
            what = "a rate must lie in [0, 1]" if d.unit == "rate" else (
                f"a {d.unit} value must lie in [{d.lower:g}, {d.upper:g}]"
                + (" (it cannot be negative)" if bad.iloc[0] < 0 else ""))
            raise SurveyDataError(_where(out, idx, d, f"value {bad.iloc[0]:g} is implausible: {what}"
                                         + (" (enter 99.5 % as 0.995)" if d.unit == "rate" else "")))
        out[col] = values
    return out


def _where(frame: pd.DataFrame, idx: Any, d: IndicatorDefinition, problem: str) -> str:
    year = frame.at[idx, "year"]
    when = "" if pd.isna(year) else f" {year}"
    return f"region {frame.at[idx, 'region']}{when}: indicator {d.id} ({d.name_zh}, {d.unit}): {problem}"


@public
def internal_evaluation(
    frame: pd.DataFrame,
    weights: pd.Series | Mapping[str, float] | None = None,
    definitions: Mapping[str, IndicatorDefinition] | None = None,
) -> InternalEvaluation:
    """Normalise every indicator to 0–100 and weight them into one internal score per region-year."""
    definitions = definitions or indicator_definitions()
    checked = validate_internal(frame, definitions)
    present = [c for c in checked.columns if c in definitions]
    if not present:
        raise SurveyDataError("the internal indicator table has no indicator column")
    w = pd.Series(1.0, index=present) if weights is None else pd.Series(weights, dtype=float)
    missing, extra = set(present) - set(w.index), set(w.index) - set(present)
    if missing or extra or np.any(w < 0) or w.sum() <= 0:
        raise ModelSpecError(
            "internal weights must be non-negative and cover exactly the indicators present: "
            f"missing {sorted(missing)}, "
            f"not in the data {sorted(extra)}"
        )
    w = (w[present] / w[present].sum()).rename("weight")
    long = checked.melt(id_vars=["region", "year"], value_vars=present, var_name="indicator",
                        value_name="value")
    long["score"] = [definitions[i].normalise(v) if pd.notna(v) else np.nan
                     for i, v in zip(long["indicator"], long["value"], strict=True)]
    long["score"] = long["score"].astype(float)
    long["weight"] = long["indicator"].map(w)
    for key in ("name_zh", "name_en", "unit", "unit_zh", "direction", "target"):
        long[key] = [getattr(definitions[i], key) for i in long["indicator"]]
    long["unit_zh"] = long["unit_zh"].where(long["unit_zh"] != "", long["unit"])
    diagnostics = [
        f"region {r.region} {r.year}: indicator {r.indicator} is missing; the internal score uses the others"
        for r in long[long["value"].isna()].itertuples()
    ]
    used = long.dropna(subset=["score"])
    grouped = used.assign(ws=used["score"] * used["weight"]).groupby(["region", "year"], sort=False,
                                                                     dropna=False)
    internal = (grouped["ws"].sum() / grouped["weight"].sum()).rename("internal_score").reset_index()
    return InternalEvaluation(long, internal, w, diagnostics)


def service_quality_index(external_csi: Any, internal_score: Any, beta: float = DEFAULT_BETA) -> Any:
    """Supply-service quality index = β · external CSI + (1 − β) · internal score (both 0–100)."""
    if not 0 <= beta <= 1:
        raise ModelSpecError(f"beta = {beta} must lie in [0, 1] (the weight of the external survey)")
    return beta * external_csi + (1 - beta) * internal_score
