"""Provincial and national indices as weighted aggregates of the regional studies' indices.

The aggregation follows the ACSI's: company scores are averaged with revenue weights into an
industry score, industries with revenue weights into a sector, and sectors with their shares of
GDP into the national index (Fornell, Johnson, Anderson, Cha & Bryant 1996, "The American
Customer Satisfaction Index: nature, purpose, and findings", Journal of Marketing 60(4), 7–18).
Here a region's weight is its size in the utility's terms — its customer count or its
electricity sales, declared in ``study.yaml`` (``customers:`` / ``weight:``) — and a region's
``place:`` (province → city → county) says which provincial (city) aggregate it enters; the
national index weights every region directly, which equals weighting the provinces by their
total size.

Intervals: regions are independent samples, so the bootstrap distribution of a weighted sum
Σ w_r·I_r is that of Σ w_r·I*_r,b with each region's own independent resamples; draw b of one
region can be paired with draw b of any other (pairing of independent draws is arbitrary). The
interval is the percentile interval of those sums at the bundles' common level. Bundles must
hold the same number of draws, or ``n_draws`` (with ``seed``) resamples each region's draws to
a common count.

A region with a bundle in some wave but not in another (or named in ``expected``) is missing
from that wave: :func:`missing_regions` lists it, every aggregate row names it, and a
diagnostic says so. The aggregate of that wave is over the regions present, weights
renormalised, unless ``missing="refuse"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from csi_research.core import diagnostics, fonts, options
from csi_research.core.errors import ModelSpecError
from csi_research.core.options import ci_level, level_text
from csi_research.render.plots import FONT_FAMILY
from csi_research.stats.intervals import excludes_zero, percentile_interval
from csi_research.study.bundle import Bundle, common_target
from csi_research.study.config import PLACE_LEVELS, parse_place, parse_weight
from csi_research.study.waves import by_wave

LEVELS = (*PLACE_LEVELS, "nation")
NATION = {"zh": "全国", "en": "National"}
WEIGHT_BY = {"customers": "customers", "sales": "sales_gwh", "sales_gwh": "sales_gwh"}
MIN_DRAWS = 100  # as for the differences between regions (csi_research.programme.compare)

ROLLUP_COLUMNS = ["level", "unit", "parent", "wave", "construct", "index", "ci_lower", "ci_upper", "ci",
                  "n_regions", "weight_total", "coverage", "n_missing", "missing_regions"]
MISSING_COLUMNS = ["wave", "region", "region_zh", "region_en", "province", "province_en", "place",
                   "last_wave"]
RANKING_COLUMNS = ["wave", "rank", "region", "name", "province", "index", "ci_lower", "ci_upper",
                   "rank_lower", "rank_upper", "ci", "n"]
DISTRIBUTION_COLUMNS = ["level", "unit", "wave", "construct", "n_regions", "min", "q10", "q25", "median",
                        "q75", "q90", "max", "mean"]
HEADLINE_ROLLUP_COLUMNS = ["level", "unit", "wave", "figure", "value", "ci_lower", "ci_upper", "ci",
                           "n_regions", "weight_total", "coverage"]
CHANGE_COLUMNS = ["level", "unit", "parent", "construct", "from_wave", "to_wave", "before", "after",
                  "difference", "ci_lower", "ci_upper", "significant", "ci", "n_regions",
                  "regions_not_compared"]

Weights = str | Mapping[str, float]


# ---------------------------------------------------------------------------- members
@dataclass(frozen=True)
class Member:
    """A bundle with its place (``{level, zh, en}`` records from the top down) and its weight."""

    bundle: Bundle
    place: tuple[Mapping[str, str], ...]
    weight: float

    @property
    def region(self) -> str:
        return self.bundle.region

    def unit(self, level: str) -> tuple[Mapping[str, str], ...] | None:
        """The path of names down to ``level`` (empty for the nation; None when the place stops above)."""
        if level == "nation":
            return ()
        depth = PLACE_LEVELS.index(level) + 1
        return self.place[:depth] if len(self.place) >= depth else None


def _place(bundle: Bundle) -> tuple[Mapping[str, str], ...]:
    return parse_place(bundle.study.get("place"), f"{bundle.path}: study") or ()


def _weight(bundle: Bundle, weights: Weights) -> float | None:
    if isinstance(weights, Mapping):
        value = weights.get(bundle.region)
        return None if value is None else float(value)
    if weights == "equal":
        return 1.0
    study = bundle.study
    declared = parse_weight(study.get("customers"), study.get("weight"), f"{bundle.path}: study") or {}
    value = declared.get(WEIGHT_BY[weights])
    return None if value is None else float(value)


def members(bundles: Sequence[Bundle], weights: Weights = "customers") -> list[Member]:
    """Each bundle with its place and weight; an error naming every bundle that lacks a weight.

    ``weights``: "customers" (``customers:`` / ``weight.customers`` of each study), "sales"
    (``weight.sales_gwh``), "equal", or a mapping region id → weight.
    """
    if isinstance(weights, str) and weights not in (*WEIGHT_BY, "equal"):
        raise ModelSpecError(f"weights must be customers, sales, equal or a mapping region id → weight, "
                             f"not {weights!r}")
    out, lacking = [], []
    for b in bundles:
        w = _weight(b, weights)
        if w is None or not np.isfinite(w) or w <= 0:
            lacking.append(f"{b.region} {b.wave} ({b.path})" if w is None else f"{b.region} {b.wave}: {w!r}")
            continue
        out.append(Member(b, _place(b), w))
    if lacking:
        what = ("a positive weight in the mapping" if isinstance(weights, Mapping)
                else f"a positive {weights} weight (study.yaml: customers: N or weight: {{sales_gwh: X}})")
        raise ModelSpecError(f"these bundles lack {what}: {'; '.join(lacking)}")
    return out


def _label(path: Sequence[Mapping[str, str]], language: str) -> str:
    return NATION[language] if not path else path[-1][language]


def _parent(path: Sequence[Mapping[str, str]], language: str) -> str:
    return " / ".join(p[language] for p in path[:-1])


def _unit_en(level: str, path: Sequence[Mapping[str, str]]) -> str:
    return "the nation" if level == "nation" else f"{level} {path[-1]['en']}"


def _key(path: Sequence[Mapping[str, str]]) -> tuple[str, ...]:
    return tuple(p["zh"] for p in path)


# ---------------------------------------------------------------------------- draws
def _common_ci(bundles: Sequence[Bundle], ci: float | None) -> float:
    if ci is not None:
        return ci_level(ci)
    levels = {float(b.results["ci"]) for b in bundles}
    if len(levels) > 1:
        raise ModelSpecError(
            f"the bundles' intervals have different levels ({', '.join(f'{x:g}' for x in sorted(levels))}); "
            "pass ci= to choose the level of the aggregates' intervals"
        )
    return levels.pop()


class _Draws:
    """Each bundle's finite draws of a construct, at a common count (resampled when asked)."""

    def __init__(self, bundles: Sequence[Bundle], n_draws: int | None,
                 seed: int | np.random.Generator | None, headline: bool = False) -> None:
        # the index draws, or (headline) the headline figures' draws of the same resamples
        self._tables: dict[tuple[str, str], pd.DataFrame | None] = {}
        self.source = self._headline_draws if headline else (lambda b: b.draws)
        counts = {(b.region, b.wave): len(b.draws) for b in bundles}
        if n_draws is None and len(set(counts.values())) > 1:
            shown = ", ".join(f"{r} {w}: {n}" for (r, w), n in sorted(counts.items()))
            raise ModelSpecError(
                f"the bundles hold different numbers of bootstrap draws ({shown}); pass n_draws= (and seed=) "
                "to resample every region's draws to one count"
            )
        if n_draws is not None and (not isinstance(n_draws, int) or n_draws < MIN_DRAWS):
            raise ModelSpecError(f"n_draws must be an integer of at least {MIN_DRAWS}, not {n_draws!r}")
        if n_draws is not None and seed is None:
            raise ModelSpecError("resampling the draws to n_draws needs a seed (an integer)")
        self.n_draws = n_draws
        rng = np.random.default_rng(seed)
        # one child generator per bundle, in a fixed order: the same bundles give the same draws
        ordered = sorted(bundles, key=lambda b: (b.region, b.wave))
        self._rng = {(b.region, b.wave): np.random.default_rng(s)
                     for b, s in zip(ordered, rng.integers(0, 2**63, len(ordered)), strict=True)}
        self._cache: dict[tuple[str, str, str], np.ndarray] = {}
        self.shortened: dict[str, int] = {}  # "region wave construct" -> finite draws left, when fewer

    def _headline_draws(self, bundle: Bundle) -> pd.DataFrame | None:
        key = (bundle.region, bundle.wave)
        if key not in self._tables:
            self._tables[key] = bundle.headline_draws()
        return self._tables[key]

    def of(self, bundle: Bundle, construct: str) -> np.ndarray:
        key = (bundle.region, bundle.wave, construct)
        if key not in self._cache:
            table = self.source(bundle)
            if table is None or construct not in table.columns:
                raise ModelSpecError(f"{bundle.path}: no bootstrap draws of {construct!r}")
            d = table[construct].to_numpy(dtype=float)
            d = d[np.isfinite(d)]
            if self.n_draws is not None:
                if len(d) < 2:
                    raise ModelSpecError(f"{bundle.path}: fewer than two finite draws of {construct}")
                d = self._rng[(bundle.region, bundle.wave)].choice(d, self.n_draws, replace=True)
            elif len(d) < len(bundle.draws):
                self.shortened[f"{bundle.region} {bundle.wave} {construct}"] = len(d)
            self._cache[key] = d
        return self._cache[key]

    def matrix(self, bundles: Sequence[Bundle], construct: str) -> np.ndarray:
        """(k, R): column r the draws of bundle r, truncated to the fewest finite draws k."""
        columns = [self.of(b, construct) for b in bundles]
        k = min(len(c) for c in columns)
        if k < MIN_DRAWS:
            raise ModelSpecError(
                f"only {k} finite bootstrap draws of {construct} in one of "
                f"{', '.join(f'{b.region} {b.wave}' for b in bundles)}; aggregates need at least {MIN_DRAWS} "
                "(run the studies without quick mode)"
            )
        return np.column_stack([c[:k] for c in columns])


def _shared_constructs(bundles: Sequence[Bundle], construct: str | None) -> list[str]:
    if construct is not None:
        return [construct]
    first = list(bundles[0].indices.index)
    return [c for c in first if all(c in b.indices.index and c in b.draws.columns for b in bundles)]


# ---------------------------------------------------------------------------- missing regions
def _universe(ms: Sequence[Member], expected: Iterable[str] | None) -> dict[str, Member | None]:
    """Every region that should be in each wave, with its latest member (None: never seen)."""
    out: dict[str, Member | None] = {}
    for m in sorted(ms, key=lambda m: _wave_key(m.bundle.wave)):
        out[m.region] = m
    for region in expected or ():
        out.setdefault(str(region), None)
    return out


def _wave_key(wave: str) -> tuple[int, float, str]:
    from csi_research.study.waves import wave_key

    return wave_key(wave)


def _missing(ms: Sequence[Member], expected: Iterable[str] | None) -> pd.DataFrame:
    universe = _universe(ms, expected)
    waves = by_wave([m.bundle for m in ms])
    rows = []
    for wave, group in waves.items():
        present = {b.region for b in group}
        for region, latest in universe.items():
            if region in present:
                continue
            seen = [w for w, g in waves.items() if any(b.region == region for b in g)]
            study = latest.bundle.study if latest else {}
            place = latest.place if latest else ()
            rows.append({
                "wave": wave, "region": region, "region_zh": study.get("region_zh", region),
                "region_en": study.get("region_en", region), "province": place[0]["zh"] if place else "",
                "province_en": place[0]["en"] if place else "",
                "place": " / ".join(p["zh"] for p in place),
                "last_wave": max((w for w in seen if _wave_key(w) < _wave_key(wave)), key=_wave_key,
                                 default=""),
            })
    return pd.DataFrame(rows, columns=MISSING_COLUMNS)


def missing_regions(bundles: Sequence[Bundle], expected: Iterable[str] | None = None) -> pd.DataFrame:
    """The regions missing from each wave: in another wave's bundles (or ``expected``) but not this one's.

    Columns: wave, region (id), region_zh, region_en, province (zh), province_en, place (zh names,
    top down, from the region's latest bundle), last_wave (its latest earlier wave, "" if none).
    """
    return _missing(members(bundles, "equal"), expected)


# ---------------------------------------------------------------------------- rollup
def _units(ms: Sequence[Member], level: str) -> dict[tuple[str, ...], tuple[tuple[Mapping[str, str], ...],
                                                                          list[Member]]]:
    units: dict[tuple[str, ...], tuple[tuple[Mapping[str, str], ...], list[Member]]] = {}
    unplaced = sorted({f"{m.region} {m.bundle.wave}" for m in ms if m.unit(level) is None})
    if unplaced:
        raise ModelSpecError(
            f"aggregating to {level} needs each region's place down to its {level} (study.yaml: place: "
            f"{{province: ..., city: ...}}); these bundles lack it: {', '.join(unplaced)}"
        )
    for m in ms:
        path = m.unit(level)
        assert path is not None
        units.setdefault(_key(path), (path, []))[1].append(m)
    return dict(sorted(units.items()))


@diagnostics.public
def rollup(
    bundles: Sequence[Bundle],
    weights: Weights = "customers",
    levels: Sequence[str] = ("province", "nation"),
    wave: str | None = None,
    construct: str | None = None,
    ci: float | None = None,
    missing: str = "renormalise",
    expected: Iterable[str] | None = None,
    n_draws: int | None = None,
    seed: int | np.random.Generator | None = None,
    language: str = "en",
) -> pd.DataFrame:
    """Weighted indices of provinces (cities, the nation) in each wave, with bootstrap intervals.

    Per unit, wave and construct: index = Σ w_r·I_r over the unit's regions present in the wave
    (w normalised to sum 1), interval = percentile interval at level ``ci`` (default: the
    bundles' common level) of Σ w_r·I*_r,b over paired independent draws. ``construct`` None:
    every construct all the unit's bundles index. Regions missing from a wave (see
    :func:`missing_regions`) leave the aggregate over those present with the weights
    renormalised, named in ``missing_regions`` and a diagnostic; ``missing="refuse"`` raises.

    Columns: level, unit (name in ``language``), parent (the names above it), wave, construct,
    index, ci_lower, ci_upper, ci, n_regions, weight_total (the present regions' weights),
    coverage (that share of the weights including the missing regions' latest), n_missing,
    missing_regions (their ids, comma-separated). ``attrs["diagnostics"]`` notes each gap.
    """
    lang = options.language(language, "language", "rollup")
    options.choice(missing, ("renormalise", "refuse"), "missing", "rollup")
    for level in levels:
        options.choice(level, LEVELS, "levels", "rollup")
    if not bundles:
        raise ModelSpecError("no study bundles to aggregate")
    ms = members(bundles, weights)
    level_ci = _common_ci(bundles, ci)
    universe = _universe(ms, expected)
    waves = by_wave([m.bundle for m in ms])
    if wave is not None and str(wave) not in waves:
        raise ModelSpecError(f"no bundle of wave {wave!r}; waves: {', '.join(waves)}")
    draws = _Draws(bundles, n_draws, seed)
    rows, notes = [], []
    for level in levels:
        for path_key, (path, _) in _units(ms, level).items():
            for w in waves:
                if wave is not None and w != str(wave):
                    continue
                present = [m for m in ms if m.bundle.wave == w and m.unit(level) is not None
                           and _key(m.unit(level)) == path_key]
                absent = sorted(r for r, latest in universe.items()
                                if (latest is None and level == "nation")
                                or (latest is not None and _key(latest.unit(level) or ()) == path_key
                                    and r not in {m.region for m in present}))
                name = _label(path, lang)
                if absent:
                    if missing == "refuse":
                        raise ModelSpecError(
                            f"{level} {name} wave {w}: no bundle for {', '.join(absent)}; pass the missing "
                            "regions' bundles or missing=\"renormalise\""
                        )
                    notes.append(
                        f"wave {w}: {len(absent)} region(s) of {_unit_en(level, path)} have no bundle "
                        f"({', '.join(absent)}); its index is over the {len(present)} regions present, "
                        "weights renormalised" if present else
                        f"wave {w}: no region of {_unit_en(level, path)} has a bundle ({', '.join(absent)}); "
                        "it has no index in this wave"
                    )
                if not present:
                    continue
                rows.extend(_aggregate_rows(present, absent, universe, draws, construct, level_ci,
                                            level, name, _parent(path, lang), w))
    if draws.shortened:
        shown = ", ".join(f"{k}: {n}" for k, n in sorted(draws.shortened.items()))
        notes.append(f"non-finite bootstrap draws dropped before pairing the regions' draws ({shown} left)")
    table = pd.DataFrame(rows, columns=ROLLUP_COLUMNS)
    table.attrs["diagnostics"] = list(dict.fromkeys(notes))
    return table


def _aggregate_rows(present: list[Member], absent: list[str], universe: Mapping[str, Member | None],
                    draws: _Draws, construct: str | None, level_ci: float, level: str, unit: str, parent: str,
                    wave: str) -> list[dict[str, Any]]:
    w = np.array([m.weight for m in present])
    shares = w / w.sum()
    missing_weight = sum(universe[r].weight for r in absent if universe[r] is not None)
    group = [m.bundle for m in present]
    rows = []
    for c in _shared_constructs(group, construct):
        point = float(np.dot(shares, [b.indices.at[c, "index"] for b in group]))
        lo, hi = percentile_interval(draws.matrix(group, c) @ shares, level_ci)
        rows.append({
            "level": level, "unit": unit, "parent": parent, "wave": wave, "construct": c, "index": point,
            "ci_lower": float(lo), "ci_upper": float(hi), "ci": level_ci, "n_regions": len(present),
            "weight_total": float(w.sum()), "coverage": float(w.sum() / (w.sum() + missing_weight)),
            "n_missing": len(absent), "missing_regions": ", ".join(absent),
        })
    return rows


# ---------------------------------------------------------------------------- headline figures
def _headline_values(bundle: Bundle) -> dict[str, float]:
    table = bundle.headline()
    if table is None or not bundle.has_headline_draws():  # the draws are read once, by _Draws
        return {}
    return {str(f): float(v) for f, v in zip(table["figure"], table["value"], strict=True)}


@diagnostics.public
def headline_rollup(
    bundles: Sequence[Bundle],
    weights: Weights = "customers",
    levels: Sequence[str] = ("province", "nation"),
    ci: float | None = None,
    n_draws: int | None = None,
    seed: int | np.random.Generator | None = None,
    language: str = "en",
) -> pd.DataFrame:
    """The headline figures (satisfaction rate, recommendation index, complaint rates per 10,000)
    of provinces and the nation: weighted by the regions' customers, as the index is.

    Per unit, wave and figure: value = Σ w_r·F_r over the unit's regions whose bundle holds the
    figure (w normalised over them; ``coverage`` is their share of the weights of the regions
    present), interval = percentile interval of Σ w_r·F*_r,b over paired independent draws, each
    region's draws those of its own index bootstrap (``headline_draws.csv``). A region's rate per
    10,000 respondents stands for its customers, so the weighted sum is a rate per 10,000 customers
    of the unit as far as the respondents represent them. Bundles without headline figures (older
    ones) are left out with a diagnostic. Columns: :data:`HEADLINE_ROLLUP_COLUMNS`.
    """
    lang = options.language(language, "language", "headline_rollup")
    for level in levels:
        options.choice(level, LEVELS, "levels", "headline_rollup")
    if not bundles:
        raise ModelSpecError("no study bundles to aggregate")
    ms = members(bundles, weights)
    level_ci = _common_ci(bundles, ci)
    values = {(m.region, m.bundle.wave): _headline_values(m.bundle) for m in ms}
    lacking = sorted(f"{r} {w}" for (r, w), v in values.items() if not v)
    notes: list[str] = []
    if lacking:
        notes.append(f"headline figures: {len(lacking)} bundle(s) hold none ({', '.join(lacking)}); the "
                     "aggregates are over the others (rerun those studies to include them)")
    draws = _Draws([m.bundle for m in ms if values[(m.region, m.bundle.wave)]], n_draws, seed, headline=True)
    figures = list(dict.fromkeys(f for v in values.values() for f in v))
    rows = []
    for level in levels:
        for _, (path, group) in _units(ms, level).items():
            for w in sorted({m.bundle.wave for m in group}, key=_wave_key):
                present = [m for m in group if m.bundle.wave == w]
                total = sum(m.weight for m in present)
                for figure in figures:
                    having = [m for m in present if figure in values[(m.region, w)]]
                    if not having:
                        continue
                    weight = np.array([m.weight for m in having])
                    shares = weight / weight.sum()
                    point = float(np.dot(shares, [values[(m.region, w)][figure] for m in having]))
                    lo, hi = percentile_interval(draws.matrix([m.bundle for m in having], figure) @ shares,
                                                 level_ci)
                    # no parent column: it would be blank for the nation (a blank CSV column)
                    rows.append({"level": level, "unit": _label(path, lang), "wave": w, "figure": figure,
                                 "value": point, "ci_lower": float(lo), "ci_upper": float(hi),
                                 "ci": level_ci, "n_regions": len(having),
                                 "weight_total": float(weight.sum()),
                                 "coverage": float(weight.sum() / total)})
    table = pd.DataFrame(rows, columns=HEADLINE_ROLLUP_COLUMNS)
    table.attrs["diagnostics"] = notes
    table.attrs["kinds"] = dict.fromkeys(("value", "ci_lower", "ci_upper"), "index")
    return table


# ---------------------------------------------------------------------------- ranking
def national_ranking(
    bundles: Sequence[Bundle],
    construct: str | None = None,
    wave: str | None = None,
    ci: float | None = None,
    n_draws: int | None = None,
    seed: int | np.random.Generator | None = None,
    language: str = "en",
) -> pd.DataFrame:
    """Every region ranked by its overall CSI (default: the common target) within each wave.

    ``rank_lower``–``rank_upper`` is the region's rank interval: the (1 − ci)/2 and 1 − (1 − ci)/2
    quantiles of its rank across paired independent draws (rank 1 the highest), taken as the
    nearest ranks outward so that they stay whole numbers. A wide rank interval says the data do
    not place the region precisely among the others. Columns: wave, rank, region (id), name,
    province, index, ci_lower, ci_upper (each bundle's own), rank_lower, rank_upper, ci, n.
    """
    lang = options.language(language, "language", "national_ranking")
    if not bundles:
        raise ModelSpecError("no study bundles to rank")
    construct = construct or common_target(bundles)
    level_ci = _common_ci(bundles, ci)
    draws = _Draws(bundles, n_draws, seed)
    alpha = (1 - level_ci) / 2
    parts = []
    for w, group in by_wave(bundles).items():
        if wave is not None and w != str(wave):
            continue
        matrix = draws.matrix(group, construct)
        # rank 1 = highest (ties, which continuous draws hardly have, by column order)
        ranks = (-matrix).argsort(axis=1, kind="stable").argsort(axis=1) + 1
        lower = np.quantile(ranks, alpha, axis=0, method="lower")
        upper = np.quantile(ranks, 1 - alpha, axis=0, method="higher")
        frame = pd.DataFrame([{
            "wave": w, "region": b.region, "name": b.name(lang),
            "province": (_place(b)[0][lang] if _place(b) else ""),
            "index": float(b.indices.at[construct, "index"]),
            "ci_lower": float(b.indices.at[construct, "ci_lower"]),
            "ci_upper": float(b.indices.at[construct, "ci_upper"]),
            "rank_lower": int(lo), "rank_upper": int(hi), "ci": level_ci, "n": b.results["values"]["n"],
        } for b, lo, hi in zip(group, lower, upper, strict=True)])
        frame = frame.sort_values(["index", "region"], ascending=[False, True], ignore_index=True)
        parts.append(frame.assign(rank=np.arange(1, len(frame) + 1)))
    if not parts:
        raise ModelSpecError(f"no bundle of wave {wave!r}; waves: {', '.join(by_wave(bundles))}")
    table = pd.concat(parts, ignore_index=True)[RANKING_COLUMNS]
    table.attrs["construct"] = construct  # what was ranked: the strip plot marks that construct's aggregate
    return table


# ---------------------------------------------------------------------------- distribution
def distribution(
    bundles: Sequence[Bundle], level: str = "province", construct: str | None = None, language: str = "en",
) -> pd.DataFrame:
    """How the regions' indices spread within each unit and wave (a box plot's numbers).

    Quantiles of the regions' point indices, unweighted: the spread of regions, not of customers.
    Columns: level, unit, wave, construct, n_regions, min, q10, q25, median, q75, q90, max, mean.
    """
    lang = options.language(language, "language", "distribution")
    options.choice(level, LEVELS, "level", "distribution")
    construct = construct or common_target(bundles)
    ms = members(bundles, "equal")
    rows = []
    for path, group in _units(ms, level).values():
        for w in sorted({m.bundle.wave for m in group}, key=_wave_key):
            values = np.array([m.bundle.indices.at[construct, "index"] for m in group if m.bundle.wave == w],
                              dtype=float)
            q = np.quantile(values, [0, 0.1, 0.25, 0.5, 0.75, 0.9, 1])
            rows.append({"level": level, "unit": _label(path, lang), "wave": w, "construct": construct,
                         "n_regions": len(values), **dict(zip(DISTRIBUTION_COLUMNS[5:12], q, strict=True)),
                         "mean": float(values.mean())})
    return pd.DataFrame(rows, columns=DISTRIBUTION_COLUMNS)


# ---------------------------------------------------------------------------- changes
@diagnostics.public
def changes(
    bundles: Sequence[Bundle],
    weights: Weights = "customers",
    levels: Sequence[str] = ("region", "province", "nation"),
    construct: str | None = None,
    ci: float | None = None,
    n_draws: int | None = None,
    seed: int | np.random.Generator | None = None,
    language: str = "en",
) -> pd.DataFrame:
    """Change between consecutive waves, per region and per aggregate, with bootstrap intervals.

    Waves are independent samples, so a change's draws are (later draw b) − (earlier draw b). A
    region's change needs its bundles of both waves. An aggregate's change compares like with
    like: it is over the regions present in both waves (weights of the later wave, renormalised),
    so a region missing from either wave does not pass for a change; such regions are named in
    ``regions_not_compared`` and a diagnostic. ``significant``: the interval excludes zero.
    Columns: level ("region", "province", ...), unit, parent, construct, from_wave, to_wave,
    before, after, difference, ci_lower, ci_upper, significant, ci, n_regions, regions_not_compared.
    """
    lang = options.language(language, "language", "changes")
    for level in levels:
        options.choice(level, ("region", *LEVELS), "levels", "changes")
    if not bundles:
        raise ModelSpecError("no study bundles to compare")
    construct = construct or common_target(bundles)
    level_ci = _common_ci(bundles, ci)
    ms = members(bundles, weights)
    draws = _Draws(bundles, n_draws, seed)
    wave_order = list(by_wave(bundles))
    rows, notes = [], []
    for level in levels:
        if level == "region":
            groups = {(m.region,): ((), [m2 for m2 in ms if m2.region == m.region]) for m in ms}
        else:
            groups = _units(ms, level)
        for path, group in groups.values():
            region_level = level == "region"
            for before, after in pairwise(wave_order):
                old = {m.region: m for m in group if m.bundle.wave == before}
                new = {m.region: m for m in group if m.bundle.wave == after}
                both = sorted(set(old) & set(new))
                left_out = sorted(set(old) ^ set(new))
                if not both:
                    continue
                if left_out:
                    notes.append(
                        f"{_unit_en(level, path)} {before}→{after}: the change is over the {len(both)} "
                        f"regions in both waves; not compared: {', '.join(left_out)}"
                    )
                shares = np.array([new[r].weight for r in both])
                shares = shares / shares.sum()
                a = [new[r].bundle for r in both]
                b = [old[r].bundle for r in both]
                point_a = float(np.dot(shares, [x.indices.at[construct, "index"] for x in a]))
                point_b = float(np.dot(shares, [x.indices.at[construct, "index"] for x in b]))
                da, db = draws.matrix(a, construct) @ shares, draws.matrix(b, construct) @ shares
                k = min(len(da), len(db))
                lo, hi = percentile_interval(da[:k] - db[:k], level_ci)
                unit = a[0].name(lang) if region_level else _label(path, lang)
                parent = ((_place(a[0])[-1][lang] if _place(a[0]) else "") if region_level
                          else _parent(path, lang))
                rows.append({
                    "level": level, "unit": unit, "parent": parent, "construct": construct,
                    "from_wave": before, "to_wave": after, "before": point_b, "after": point_a,
                    "difference": point_a - point_b, "ci_lower": float(lo), "ci_upper": float(hi),
                    "significant": bool(excludes_zero(lo, hi)), "ci": level_ci, "n_regions": len(both),
                    "regions_not_compared": ", ".join(left_out),
                })
    table = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    table["significant"] = table["significant"].astype(bool)
    table.attrs["diagnostics"] = list(dict.fromkeys(notes))
    return table


# ---------------------------------------------------------------------------- the national report
def national_tables(
    bundles: Sequence[Bundle], weights: Weights = "customers", language: str = "en",
    expected: Iterable[str] | None = None, n_draws: int | None = None, seed: int | None = None,
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The national report's tables (rollup, headline, ranking, distribution, changes, missing) and
    diagnostics."""
    kw: dict[str, Any] = {"n_draws": n_draws, "seed": seed, "language": language}
    aggregate = rollup.quiet(bundles, weights, expected=expected, **kw)
    change = changes.quiet(bundles, weights, **kw)
    headline = headline_rollup.quiet(bundles, weights, **kw)
    tables = {
        "rollup": aggregate,
        "headline": headline,
        "ranking": national_ranking(bundles, **kw),
        "distribution": distribution(bundles, language=language),
        "changes": change,
        "missing": missing_regions(bundles, expected),
    }
    return tables, diagnostics.collect(aggregate, change, headline)


def national_figures(tables: Mapping[str, pd.DataFrame], language: str = "en",
                     wave: str | None = None) -> dict[str, Figure]:
    """The ranking dot plot and the per-province strip plot of one wave (default: the latest)."""
    ranking = tables["ranking"]
    wave = wave or ranking["wave"].iloc[-1]
    return {
        "ranking": ranking_plot(ranking, wave=wave, language=language, by_province=True),
        "provinces": province_strip(ranking, tables.get("rollup"), wave=wave, language=language),
    }


# ---------------------------------------------------------------------------- figures
ROW_INCH = 0.11  # height per region in the ranking plot: 300 regions fit on a tall page at 300 dpi


def _one_wave(frame: pd.DataFrame, wave: str | None) -> tuple[str, pd.DataFrame]:
    waves = list(dict.fromkeys(frame["wave"]))
    wave = str(wave) if wave is not None else waves[-1]
    part = frame[frame["wave"] == wave]
    if part.empty:
        raise ModelSpecError(f"no row of wave {wave!r}; waves: {', '.join(map(str, waves))}")
    return wave, part


def ranking_plot(
    ranking: pd.DataFrame, wave: str | None = None, language: str = "en", by_province: bool = False,
    national: float | None = None, threshold: float | None = 80.0,
) -> Figure:
    """Every region's index as a dot with its interval, sorted, one line per region.

    For hundreds of regions the rows are ``ROW_INCH`` high and the names small (4–8 pt) so that
    the figure stays legible at 300 dpi; ``by_province`` puts each province in its own panel
    (sorted within it), which keeps long lists readable. ``national`` draws the national index
    as a line; ``threshold`` the target. Input: :func:`national_ranking`'s table (one ``wave``,
    default the last).
    """
    lang = options.language(language, "language", "figure")
    wave, part = _one_wave(ranking, wave)
    groups = ([(p, g) for p, g in part.groupby("province", sort=False)] if by_province
              else [("", part)])
    groups = sorted(groups, key=lambda pg: -pg[1]["index"].median()) if by_province else groups
    n = len(part)
    font = float(np.clip(700 / max(n, 1), 4, 8))
    fig = Figure(figsize=(6.5, min(200.0, 1.4 + ROW_INCH * n + 0.3 * len(groups))), layout="constrained")
    axes = fig.subplots(len(groups), 1, sharex=True, squeeze=False,
                        height_ratios=[max(len(g), 1) + 1.5 for _, g in groups])[:, 0]
    for ax, (province, group) in zip(axes, groups, strict=True):
        group = group.sort_values("index", ascending=True)  # best at the top
        y = np.arange(len(group))
        err = np.clip(np.vstack([group["index"] - group["ci_lower"], group["ci_upper"] - group["index"]]),
                      0, None)
        ax.errorbar(group["index"], y, xerr=err, fmt="o", markersize=min(4, font * 0.6), color="#2c5d8f",
                    ecolor="#8fb0d3", elinewidth=0.8, capsize=0, gid=f"regions:{province}")
        ax.set_yticks(y, group["name"], fontsize=font)
        ax.set_ylim(-0.8, len(group) - 0.2)
        ax.grid(axis="x", color="#dddddd", linewidth=0.5)
        ax.tick_params(axis="x", labelbottom=True, labelsize=7)  # a scale under every panel of a tall figure
        if threshold is not None:
            ax.axvline(threshold, linestyle="--", color="#b03a2e", linewidth=0.8, gid="threshold")
        if national is not None:
            ax.axvline(national, color="#444444", linewidth=0.8, gid="national")
        if province:
            ax.set_title(province, fontsize=9, loc="left")
    level = level_text(float(part["ci"].iloc[0]))
    axes[-1].set_xlabel(f"指数 (0–100)，{level} 自助法置信区间" if lang == "zh"
                        else f"Index (0–100), {level} bootstrap interval")
    fig.suptitle(f"各地区客户满意度指数排名（{wave}）" if lang == "zh" else f"Regions ranked by CSI ({wave})",
                 fontsize=10)
    fonts.apply(*axes)
    for text in fig.texts:
        text.set_fontfamily(FONT_FAMILY)
    return fig


def province_strip(
    ranking: pd.DataFrame, aggregate: pd.DataFrame | None = None, wave: str | None = None,
    language: str = "en", seed: int = 0,
) -> Figure:
    """Per province, a box of its regions' indices with every region as a jittered dot.

    Provinces are sorted by median. With ``aggregate`` (:func:`rollup`'s table) each province's
    weighted index is a red diamond — it differs from the median when large regions differ from
    small ones. ``seed`` fixes the jitter, so the figure is the same at every run.
    """
    lang = options.language(language, "language", "figure")
    wave, part = _one_wave(ranking, wave)
    order = part.groupby("province")["index"].median().sort_values(ascending=False).index.tolist()
    fig = Figure(figsize=(6.5, 1.2 + 0.35 * len(order)), layout="constrained")
    ax = fig.subplots()
    values = [part.loc[part["province"] == p, "index"].to_numpy() for p in order]
    ax.boxplot(values, positions=np.arange(len(order)), orientation="horizontal", widths=0.6,
               showfliers=False, medianprops={"color": "#2c5d8f"}, boxprops={"color": "#777777"},
               whiskerprops={"color": "#777777"}, capprops={"color": "#777777"})
    rng = np.random.default_rng(seed)
    for k, v in enumerate(values):
        ax.scatter(v, k + rng.uniform(-0.22, 0.22, len(v)), s=6, alpha=0.6, color="#2c5d8f", linewidths=0,
                   zorder=3, gid=f"regions:{order[k]}")
    if aggregate is not None and not aggregate.empty:
        target = ranking.attrs.get("construct")
        rows = aggregate[(aggregate["level"] == "province") & (aggregate["wave"] == wave)]
        rows = rows[rows["construct"] == target]  # none when the ranking does not say what it ranked
        weighted = rows.set_index("unit")["index"]
        at = [(k, weighted[p]) for k, p in enumerate(order) if p in weighted.index]
        if at:
            ax.scatter([v for _, v in at], [k for k, _ in at], marker="D", s=22, color="#b03a2e", zorder=4,
                       label="加权指数" if lang == "zh" else "weighted index", gid="weighted")
            ax.legend(fontsize=7, loc="lower right")
    ax.set_yticks(np.arange(len(order)), order, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("地区指数 (0–100)" if lang == "zh" else "Regional index (0–100)")
    ax.set_title(f"各省地区指数分布（{wave}）" if lang == "zh" else f"Regional indices by province ({wave})",
                 fontsize=10)
    fonts.apply(ax)
    return fig
