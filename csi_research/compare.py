"""Cross-region comparison of saved study bundles.

Regions are independent samples, so the bootstrap distribution of a difference between two
regions' indices is the difference of their independent bootstrap draws. Pairwise tests are
adjusted for multiplicity (Holm) because a province compares every pair of regions at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from csi_research.bundle import read_bundle
from csi_research.errors import ModelSpecError
from csi_research.intervals import excludes_zero, percentile_interval
from csi_research.options import ci_level


@dataclass(frozen=True)
class Bundle:
    """One study's saved results (``results.json`` + the bootstrap draws of its indices)."""

    path: Path
    results: dict[str, Any]
    indices: pd.DataFrame
    draws: pd.DataFrame

    @property
    def study(self) -> dict[str, Any]:
        return self.results["study"]

    @property
    def region(self) -> str:
        return self.study["region_id"]

    @property
    def wave(self) -> str:
        return str(self.study["wave"])

    def name(self, language: str = "en") -> str:
        return self.study["region_zh"] if language == "zh" else self.study["region_en"]

    def label(self, language: str = "en") -> str:
        return f"{self.name(language)} {self.wave}"


def load_bundle(path: str | Path) -> Bundle:
    """Read a bundle folder written by ``StudyResult.save`` (the format of :mod:`csi_research.bundle`)."""
    results, draws = read_bundle(path)
    indices = pd.DataFrame(results["tables"]["indices"]).set_index("construct")
    return Bundle(path=Path(path), results=results, indices=indices, draws=draws)


def load_bundles(paths: Iterable[str | Path]) -> list[Bundle]:
    return sorted((load_bundle(p) for p in paths), key=lambda b: (b.region, b.wave))


def latest_waves(bundles: Sequence[Bundle]) -> list[Bundle]:
    """Each region's most recent wave (what a ranking compares)."""
    latest: dict[str, Bundle] = {}
    for b in bundles:
        if b.region not in latest or b.wave > latest[b.region].wave:
            latest[b.region] = b
    return sorted(latest.values(), key=lambda b: b.region)


def index_table(bundles: Sequence[Bundle], language: str = "en") -> pd.DataFrame:
    """Construct × region-wave table of 0–100 indices (the heatmap's data)."""
    return pd.DataFrame({b.label(language): b.indices["index"] for b in bundles})


def common_target(bundles: Sequence[Bundle]) -> str:
    """The target construct (overall CSI) the bundles share; an error when they disagree."""
    if not bundles:
        raise ModelSpecError("no study bundles to compare")
    targets: dict[str, list[Bundle]] = {}
    for b in bundles:
        targets.setdefault(b.results["values"]["target"], []).append(b)
    if len(targets) != 1:
        named = "; ".join(f"{t}: {', '.join(str(b.path) for b in group)}" for t, group in targets.items())
        raise ModelSpecError(
            f"the bundles' models name different target constructs ({named}); "
            "pass construct= to compare one construct they share"
        )
    return next(iter(targets))


def ranking(bundles: Sequence[Bundle], construct: str | None = None, language: str = "en") -> pd.DataFrame:
    """Regions (latest wave) ranked by one construct's index (default: the common target), with intervals.

    The intervals are each bundle's own, so ``level`` is each bundle's ``ci`` (they may differ).
    """
    construct = construct or common_target(bundles)
    rows = [
        {
            "region": b.label(language),
            "index": b.indices.at[construct, "index"],
            "ci_lower": b.indices.at[construct, "ci_lower"],
            "ci_upper": b.indices.at[construct, "ci_upper"],
            "level": float(b.results["ci"]),
            "n": b.results["values"]["n"],
        }
        for b in latest_waves(bundles)
    ]
    table = pd.DataFrame(rows).sort_values("index", ascending=False, ignore_index=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def difference(a: Bundle, b: Bundle, construct: str, ci: float = 0.95) -> dict[str, float]:
    """Index difference a − b with a percentile interval and a two-sided bootstrap p-value."""
    k = min(len(a.draws), len(b.draws))
    if k < 100:
        raise ModelSpecError(
            f"{a.path} / {b.path}: only {k} bootstrap draws; differences need at least 100 "
            "(run without quick mode)"
        )
    for bundle in (a, b):
        if construct not in bundle.draws.columns or construct not in bundle.indices.index:
            raise ModelSpecError(f"{bundle.path}: no index or bootstrap draws for construct {construct!r}")
    d = a.draws[construct].to_numpy(dtype=float)[:k] - b.draws[construct].to_numpy(dtype=float)[:k]
    d = d[np.isfinite(d)]
    if len(d) < 100:
        raise ModelSpecError(
            f"{a.path} / {b.path}: only {len(d)} finite bootstrap draws of {construct}; need at least 100"
        )
    lo, hi = percentile_interval(d, ci)
    tail = min(np.sum(d <= 0), np.sum(d >= 0))
    p = min(1.0, 2 * (tail + 1) / (len(d) + 1))
    estimate = a.indices.at[construct, "index"] - b.indices.at[construct, "index"]
    return {"difference": estimate, "ci_lower": lo, "ci_upper": hi, "p_value": p}


def pairwise_differences(
    bundles: Sequence[Bundle], construct: str | None = None, ci: float = 0.95, language: str = "en"
) -> pd.DataFrame:
    """Every pair of regions (latest wave): which differences the data can tell apart.

    ``distinguishable`` is the Holm-adjusted test (``p_holm < 1 - ci``), for the whole family of
    pairs; ``excludes_zero`` reads the unadjusted interval of that one pair. Both are kept so a
    report can say which one it quotes.
    """
    construct = construct or common_target(bundles)
    ci = ci_level(ci)  # a bad level fails even when there is no pair to difference
    latest = latest_waves(bundles)
    rows = [
        {"region_a": a.label(language), "region_b": b.label(language), **difference(a, b, construct, ci)}
        for a, b in combinations(latest, 2)
    ]
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["p_holm"] = holm(table["p_value"].to_numpy())
    table["distinguishable"] = table["p_holm"] < 1 - ci
    table["excludes_zero"] = excludes_zero(table["ci_lower"], table["ci_upper"])  # unadjusted interval
    table["level"] = ci
    return table


def wave_changes(bundles: Sequence[Bundle], ci: float = 0.95, language: str = "en") -> pd.DataFrame:
    """Change between consecutive waves of the same region, for every construct."""
    ci = ci_level(ci)
    rows = []
    by_region: dict[str, list[Bundle]] = {}
    for b in bundles:
        by_region.setdefault(b.region, []).append(b)
    for waves in by_region.values():
        waves.sort(key=lambda b: b.wave)
        for before, after in pairwise(waves):
            for construct in after.indices.index.intersection(before.indices.index, sort=False):
                change = difference(after, before, construct, ci)
                rows.append({"region": after.name(language),
                             "from_wave": before.wave, "to_wave": after.wave,
                             "construct": construct, **change})
    table = pd.DataFrame(rows)
    if not table.empty:
        table["significant"] = excludes_zero(table["ci_lower"], table["ci_upper"])
        table["level"] = ci
    return table


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (controls the family-wise error rate)."""
    p = np.asarray(p, dtype=float)
    order = np.argsort(p)
    m = len(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


@dataclass(frozen=True)
class Comparison:
    """Everything the cross-region report shows."""

    bundles: tuple[Bundle, ...]
    construct: str
    ci: float
    ranking: pd.DataFrame
    indices: pd.DataFrame
    pairwise: pd.DataFrame
    waves: pd.DataFrame

    @property
    def synthetic(self) -> bool:
        return any(b.results.get("synthetic") for b in self.bundles)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"ranking": self.ranking, "indices": self.indices.reset_index(names="construct"),
                "pairwise": self.pairwise, "waves": self.waves}

    def save(self, folder: str | Path) -> Path:
        from csi_research.output import write_atomic

        folder = Path(folder)
        for name, table in self.tables().items():
            write_atomic(folder / f"{name}.csv", table.to_csv(index=False))
        return folder


def compare(
    bundles: Sequence[Bundle], construct: str | None = None, ci: float = 0.95, language: str = "en"
) -> Comparison:
    """Ranking, construct × region table, pairwise differences and wave changes in one value.

    ``construct`` defaults to the bundles' common target construct (the overall CSI).
    """
    if not bundles:
        raise ModelSpecError("no study bundles to compare")
    construct = construct or common_target(bundles)
    ci = ci_level(ci)
    return Comparison(
        bundles=tuple(bundles),
        construct=construct,
        ci=ci,
        ranking=ranking(bundles, construct, language),
        indices=index_table(bundles, language),
        pairwise=pairwise_differences(bundles, construct, ci, language),
        waves=wave_changes(bundles, ci, language),
    )


def run_quick_bundles(studies_root: str | Path, folder: str | Path | None = None) -> list[Bundle]:
    """Run every study under ``studies_root`` in quick mode, in this process, and load the bundles.

    For working interactively without a batch run; ``folder`` defaults to a new temporary one.
    """
    import tempfile

    from csi_research.batch import discover_studies
    from csi_research.study import run_study

    folder = Path(folder or tempfile.mkdtemp(prefix="csi-bundles-"))
    paths = [
        run_study.quiet(study, quick=True).save(folder / study.name, figures=False)
        for study in discover_studies(studies_root)
    ]
    return load_bundles(paths)
