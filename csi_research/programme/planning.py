"""How many interviews the next wave needs: per region and segment, and across a province.

The CSI's interval half-width at n completed interviews is about ``z · S / √n_eff``, where S is the
standard deviation of one respondent's contribution to the index (0–100 scale) and
``n_eff = n (1 − m) / deff`` discounts for the weights' design effect (Kish: n Σw² / (Σw)²) and
the share m of answers missing (each one imputed, so it carries less information). For a target
half-width h the completed interviews needed are ``(z·S/h)² · deff / (1 − m)``; dividing by the
response rate gives the contacts to make.

S comes from a previous wave's bundle, backed out of its bootstrap SE
(``S = SE · √(n (1 − m) / deff)``, so the new wave's deff and missing share can differ), or from
stated assumptions where there is none. A segment's S is its region's S times the segment's
``sd_ratio`` (the SD of its respondents' contributions to the index over the whole sample's, in the
bundle's segments table), so a more varied segment needs more interviews for the same half-width;
bundles older than that column give the region's S. Segments share their region's deff and
missing share.

A fixed total of interviews across a province's regions is allocated proportionally (n_h ∝ N_h),
equally, or for the most precise provincial index (Neyman: n_h ∝ N_h S_h √deff_h). A fixed budget
in money, with a cost per completed interview c_h that may differ between regions (a remote
county costs more to interview), is spent the same three ways; the most precise provincial index
for the money is then n_h ∝ N_h S_h √deff_h / √c_h (minimising Σ W_h² S_h² deff_h / n_h subject to
Σ c_h n_h = budget), and whole interviews are rounded down, so the plan never costs more than the budget.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from csi_research.core.errors import ModelSpecError
from csi_research.study.bundle import Bundle, load_bundle

__all__ = ["PlanAssumptions", "allocate_sample", "assumptions_from_bundle", "expected_half_width",
           "kish_deff", "needed", "plan_sample", "write_plan"]

ALLOCATIONS = ("proportional", "equal", "neyman")


@dataclass(frozen=True)
class PlanAssumptions:
    """What a plan for one region rests on (from a previous wave, or stated)."""

    region: str
    sd: float  # SD of one respondent's contribution to the index, 0–100 scale, before weights
    deff: float = 1.0  # the weights' design effect
    response_rate: float = 1.0  # completed interviews per contact
    item_nonresponse: float = 0.0  # share of the index's answers missing
    population: float | None = None  # customers: the region's weight in a provincial index
    segments: tuple[tuple[str, str, int, float], ...] = ()  # (attribute, segment, previous n, sd_ratio)
    source: str = "stated"
    previous_n: int | None = None
    previous_half_width: float | None = None
    cost: float | None = None  # cost of one completed interview (any currency), for a budget in money

    def __post_init__(self) -> None:
        where = f"planning assumptions for {self.region!r}"
        if not (math.isfinite(self.sd) and self.sd > 0):
            raise ModelSpecError(f"{where}: sd must be a positive number (0–100 scale), not {self.sd}")
        if not self.deff >= 1 - 1e-9:
            raise ModelSpecError(f"{where}: deff must be at least 1 (Kish's design effect), not {self.deff}")
        if not 0 < self.response_rate <= 1:
            raise ModelSpecError(f"{where}: response_rate must be in (0, 1], not {self.response_rate}")
        if not 0 <= self.item_nonresponse < 1:
            raise ModelSpecError(f"{where}: item_nonresponse must be in [0, 1), not {self.item_nonresponse}")
        if self.cost is not None and not (math.isfinite(self.cost) and self.cost > 0):
            raise ModelSpecError(f"{where}: cost must be a positive amount per completed interview, "
                                 f"not {self.cost}")


def kish_deff(weights: Iterable[float]) -> float:
    """Kish's design effect of unequal weights: n Σw² / (Σw)² (1 for equal weights)."""
    w = np.asarray(list(weights), dtype=float)
    w = w[np.isfinite(w)]
    if w.size == 0 or w.sum() <= 0:
        return 1.0
    return float(w.size * np.sum(w**2) / np.sum(w) ** 2)


def assumptions_from_bundle(
    bundle: Bundle | str | Path, response_rate: float = 1.0, deff: float | None = None,
    item_nonresponse: float | None = None,
) -> PlanAssumptions:
    """A previous wave's bundle as planning assumptions: S backed out of its CSI's bootstrap SE.

    ``deff`` and ``item_nonresponse`` default to the bundle's own (weights, missing answers of
    the target construct's items); the response rate is not in a bundle and must be stated.
    """
    b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    target = b.results["values"]["target"]
    frame = b.indices.set_index("construct") if "construct" in b.indices.columns else b.indices
    row = frame.loc[target]
    n, se = int(row["n"]), float(row["se"])
    if not (n > 1 and math.isfinite(se) and se > 0):
        raise ModelSpecError(f"{b.path}: the {target} index has no usable bootstrap SE (se={se}, n={n})")
    old_deff = kish_deff(b.sample()["weight"]) if b.has_sample() else 1.0
    old_missing = _missing_share(b, target)
    sd = se * math.sqrt(n * (1 - old_missing) / old_deff)
    segments = tuple(
        (str(r["attribute"]), str(r["segment"]), int(r["n"]), _ratio(r.get("sd_ratio")))
        for r in b.results["tables"].get("segments", []) if r.get("construct") == target
    )
    weight = b.study.get("weight") or {}
    return PlanAssumptions(
        region=b.region, sd=sd, deff=old_deff if deff is None else deff, response_rate=response_rate,
        item_nonresponse=old_missing if item_nonresponse is None else item_nonresponse,
        population=weight.get("customers"), segments=segments, source=str(b.path), previous_n=n,
        previous_half_width=float(row["ci_upper"] - row["ci_lower"]) / 2,
    )


def _ratio(value: object) -> float:
    """A segment's SD ratio; 1 (its region's S) where the bundle has none or it is unusable."""
    try:
        ratio = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 1.0
    return ratio if math.isfinite(ratio) and ratio > 0 else 1.0


def _missing_share(b: Bundle, target: str) -> float:
    rows = b.results["tables"].get("item_missingness", [])  # bundles before the key was named call it "index"
    shares = {r.get("item", r.get("index")): float(r["missing_share"]) for r in rows}
    try:
        items = list(b.model().constructs[target]) if b.has_sample() else []
    except (ModelSpecError, KeyError):
        items = []
    chosen = [shares[i] for i in items if i in shares] or list(shares.values())
    return float(np.mean(chosen)) if chosen else 0.0


def needed(a: PlanAssumptions, half_width: float, ci: float = 0.95) -> int:
    """Completed interviews for an interval of ±``half_width`` (0–100 scale) at level ``ci``."""
    if not half_width > 0:
        raise ModelSpecError(f"the target half-width must be positive (0–100 scale), not {half_width}")
    z = norm.ppf(0.5 + ci / 2)
    return math.ceil((z * a.sd / half_width) ** 2 * a.deff / (1 - a.item_nonresponse))


def expected_half_width(a: PlanAssumptions, n: int, ci: float = 0.95) -> float:
    z = norm.ppf(0.5 + ci / 2)
    return float(z * a.sd * math.sqrt(a.deff / (max(n, 1) * (1 - a.item_nonresponse))))


def plan_sample(assumptions: Sequence[PlanAssumptions], half_width: float, ci: float = 0.95,
                segments: bool = True) -> pd.DataFrame:
    """Per region (and each segment the previous wave reported): completed interviews and contacts.

    One row per region (``segment`` "all") and, with ``segments``, per segment of it.
    """
    rows = []
    for a in assumptions:
        n = needed(a, half_width, ci)
        base = {"region": a.region, "sd": a.sd, "deff": a.deff, "item_nonresponse": a.item_nonresponse,
                "response_rate": a.response_rate, "half_width": half_width}
        rows.append({**base, "attribute": "all", "segment": "all", "previous_n": a.previous_n,
                     "previous_half_width": a.previous_half_width, "completes": n,
                     "contacts": math.ceil(n / a.response_rate), "source": a.source})
        for attribute, segment, prev, *ratio in a.segments if segments else ():
            part = replace(a, sd=a.sd * (ratio[0] if ratio else 1.0))
            k = needed(part, half_width, ci)
            rows.append({**base, "sd": part.sd, "attribute": attribute, "segment": segment,
                         "previous_n": prev, "previous_half_width": expected_half_width(part, prev, ci),
                         "completes": k, "contacts": math.ceil(k / a.response_rate), "source": a.source})
    return pd.DataFrame(rows)


def allocate_sample(assumptions: Sequence[PlanAssumptions], total: int | None = None, method: str = "neyman",
                    ci: float = 0.95, minimum: int = 2, *, budget: float | None = None) -> pd.DataFrame:
    """Share ``total`` completed interviews, or a ``budget`` in money (each region's ``cost`` per
    completed interview), among a province's regions; the provincial index's expected half-width
    (regions weighted by customers) is in the ``province_half_width`` column, and with a budget
    the ``cost`` column says what each region's interviews cost (their sum never exceeds it)."""
    if method not in ALLOCATIONS:
        raise ModelSpecError(f"allocation must be one of {', '.join(ALLOCATIONS)}, not {method!r}")
    if not assumptions:
        raise ModelSpecError("no regions to allocate interviews to")
    if (total is None) == (budget is None):
        raise ModelSpecError("give either a total of interviews or a budget in money, not both or neither")
    pops = [a.population for a in assumptions]
    if method != "equal" and any(p is None or not p > 0 for p in pops):
        missing = ", ".join(a.region for a, p in zip(assumptions, pops, strict=True) if not p)
        raise ModelSpecError(f"{method} allocation needs each region's customers (population); missing for "
                             f"{missing}. Give `customers:` in study.yaml or use --allocation equal")
    size = np.array([p if p else 1.0 for p in pops], dtype=float)
    spread = np.array([a.sd * math.sqrt(a.deff / (1 - a.item_nonresponse)) for a in assumptions])
    share = {"proportional": size, "equal": np.ones(len(assumptions)), "neyman": size * spread}[method]
    if budget is None:
        if total < minimum * len(assumptions):
            raise ModelSpecError(f"a total of {total} interviews cannot give {len(assumptions)} regions "
                                 f"{minimum} each")
        n = _round_to_total(total * share / share.sum(), total, minimum)
        costs = None
    else:
        costs = _costs(assumptions)
        if method == "neyman":
            share = share / np.sqrt(costs)  # a dearer interview buys less precision per unit of money
        if not budget >= minimum * costs.sum():
            raise ModelSpecError(f"a budget of {budget:g} cannot pay for {minimum} interviews in each of "
                                 f"{len(assumptions)} regions ({minimum * costs.sum():g} needed)")
        n = _round_to_budget(budget * share / (share * costs).sum(), costs, budget, minimum)
    weights = size / size.sum()
    z = norm.ppf(0.5 + ci / 2)
    province = float(z * math.sqrt(np.sum(weights**2 * spread**2 / n)))
    table = pd.DataFrame({
        "region": [a.region for a in assumptions], "population": size, "share": weights,
        "allocation": method, "completes": n,
        "contacts": [math.ceil(k / a.response_rate) for k, a in zip(n, assumptions, strict=True)],
        "region_half_width": [expected_half_width(a, int(k), ci)
                              for k, a in zip(n, assumptions, strict=True)],
        "province_half_width": province,
    })
    if costs is not None:
        table = table.assign(cost_per_interview=costs, cost=costs * n, budget=float(budget))
    return table


def _costs(assumptions: Sequence[PlanAssumptions]) -> np.ndarray:
    lacking = [a.region for a in assumptions if a.cost is None]
    if lacking:
        raise ModelSpecError(f"a budget in money needs each region's cost per completed interview; missing "
                             f"for {', '.join(lacking)} (--cost)")
    return np.array([a.cost for a in assumptions], dtype=float)


def _round_to_budget(exact: np.ndarray, costs: np.ndarray, budget: float, minimum: int) -> np.ndarray:
    """Whole interviews, none below ``minimum``, costing at most ``budget``: rounded down, then the
    money left buys one more interview at a time where the most of an interview was rounded away."""
    exact = np.maximum(exact, minimum)
    exact = exact * budget / float((exact * costs).sum())
    n = np.maximum(np.floor(exact).astype(int), minimum)
    while float((n * costs).sum()) > budget:  # the minimum pushed the cost over: take from the largest
        n[int(np.argmax(n))] -= 1
    for k in np.argsort(-(exact - np.floor(exact)), kind="stable"):
        if float((n * costs).sum()) + costs[k] <= budget:
            n[k] += 1
    return n


def _round_to_total(exact: np.ndarray, total: int, minimum: int) -> np.ndarray:
    """Whole numbers summing to ``total`` (largest remainders), none below ``minimum``."""
    exact = np.maximum(exact, minimum)
    exact = exact * total / exact.sum()
    base = np.maximum(np.floor(exact).astype(int), minimum)
    order = np.argsort(-(exact - np.floor(exact)), kind="stable")
    k = 0
    while base.sum() < total:
        base[order[k % len(base)]] += 1
        k += 1
    while base.sum() > total:  # the minimum pushed the sum over: take from the largest
        base[int(np.argmax(base))] -= 1
    return base


def write_plan(table: pd.DataFrame, path: str | Path) -> Path:
    """The plan as CSV (UTF-8 with a BOM, so Excel shows Chinese); never over an existing file."""
    path = Path(path)
    try:
        with open(path, "x", encoding="utf-8-sig", newline="") as handle:  # "x": never over a file
            handle.write(table.to_csv(index=False, lineterminator="\n"))
    except FileExistsError:
        raise FileExistsError(f"{path} exists already: choose a new file name (a plan is never "
                              "overwritten)") from None
    return path
