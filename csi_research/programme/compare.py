"""Cross-region comparison of saved study bundles.

Regions are independent samples, so the bootstrap distribution of a difference between two
regions' indices is the difference of their independent bootstrap draws. Regions are ranked and
compared only within one survey wave. A province compares every pair of its regions at once, so
the pairs of a wave are one family: their intervals are Bonferroni-adjusted simultaneous
percentile intervals, and the verdict and the adjusted p-value are read from the same draws and
always agree with the interval (see :func:`pairwise_differences`). A region's change between
consecutive waves is a single comparison and keeps its unadjusted interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.errors import ModelSpecError
from csi_research.core.options import ci_level
from csi_research.stats.intervals import excludes_zero, percentile_interval, percentile_p_value
from csi_research.study.bundle import (
    Bundle,
    _construct_draws,
    _difference_draws,
    common_target,
    difference,
    load_bundles,
)
from csi_research.study.waves import by_wave


def index_table(bundles: Sequence[Bundle], language: str = "en") -> pd.DataFrame:
    """Construct × region-wave table of 0–100 indices (the heatmap's data)."""
    return pd.DataFrame({b.label(language): b.indices["index"] for b in bundles})


RANKING_COLUMNS = ["wave", "rank", "region", "index", "ci_lower", "ci_upper", "level", "n"]
PAIRWISE_COLUMNS = ["wave", "region_a", "region_b", "difference", "ci_lower", "ci_upper", "level",
                    "adjusted_level", "p_value", "p_adjusted", "distinguishable"]
WAVE_COLUMNS = ["region", "from_wave", "to_wave", "construct", "difference", "ci_lower", "ci_upper",
                "p_value", "significant", "level"]
CBSEM_COLUMNS = ["wave", "region", "estimator", "information", "n", "missing", "n_imputed", "weighted",
                 "admissible", "chi2", "df", "cfi", "tli", "rmsea", "srmr"]
MIN_TAIL_DRAWS = 5  # fewer draws expected beyond an adjusted bound: that bound rests on the extreme draws


def ranking(bundles: Sequence[Bundle], construct: str | None = None, language: str = "en",
            wave: str | None = None) -> pd.DataFrame:
    """Regions ranked by one construct's index (default: the common target) within each wave.

    Columns: wave, rank, region, index, ci_lower, ci_upper, level, n; sorted by wave, then rank,
    which restarts at 1 in every wave — a wave is never ranked against another. ``wave`` keeps
    one wave only. Equal indices are ranked by region id. The intervals are each bundle's own,
    so ``level`` is each bundle's ``ci`` (they may differ).
    """
    construct = construct or common_target(bundles)
    parts = []
    for w, group in by_wave(bundles).items():
        if wave is not None and w != str(wave):
            continue
        rows = pd.DataFrame([
            {
                "wave": w,
                "region": b.name(language),
                "index": b.indices.at[construct, "index"],
                "ci_lower": b.indices.at[construct, "ci_lower"],
                "ci_upper": b.indices.at[construct, "ci_upper"],
                "level": float(b.results["ci"]),
                "n": b.results["values"]["n"],
            }
            for b in group
        ])
        rows = rows.sort_values("index", ascending=False, kind="stable", ignore_index=True)
        parts.append(rows.assign(rank=np.arange(1, len(rows) + 1)))
    if not parts:
        raise ModelSpecError(f"no bundle of wave {wave!r}; waves: {', '.join(by_wave(bundles))}")
    return pd.concat(parts, ignore_index=True)[RANKING_COLUMNS]


def pairwise_differences(
    bundles: Sequence[Bundle], construct: str | None = None, ci: float = 0.95, language: str = "en"
) -> pd.DataFrame:
    """Every pair of regions within each wave: which differences the data can tell apart.

    A wave's m pairs are one family, adjusted by Bonferroni: each pair gets the percentile interval
    at ``adjusted_level`` = 1 − (1 − ci)/m (simultaneous coverage of at least ``level`` = ci for
    the family), and ``distinguishable`` is that interval excluding zero. ``p_value`` is the
    pair's bootstrap p-value (:func:`percentile_p_value`, from the same draws) and ``p_adjusted``
    = min(1, m·p); since p inverts the percentile interval, ``p_adjusted < 1 − ci`` exactly when
    the adjusted interval excludes zero, so the verdict, the interval and the p-value never
    disagree. Pairs of different waves are not compared. Columns: wave, region_a, region_b,
    difference, ci_lower, ci_upper, level, adjusted_level, p_value, p_adjusted, distinguishable.
    ``attrs["diagnostics"]`` notes waves with too few draws beyond the adjusted bounds.
    """
    construct = construct or common_target(bundles)
    ci = ci_level(ci)  # a bad level fails even when there is no pair to difference
    rows, notes = [], []
    for wave, group in by_wave(bundles).items():
        m = len(group) * (len(group) - 1) // 2
        if not m:
            continue
        tail = (1 - ci) / m
        adjusted = 1 - tail
        fewest = np.inf
        # each region's draws, index and name once, not once per pair
        regions = [(b, _construct_draws(b, construct), b.indices.at[construct, "index"], b.name(language))
                   for b in group]
        for (a, draws_a, index_a, name_a), (b, draws_b, index_b, name_b) in combinations(regions, 2):
            d = _difference_draws(a, b, construct, draws_a, draws_b)
            fewest = min(fewest, len(d))
            p = percentile_p_value(d)
            lo, hi = percentile_interval(d, adjusted)
            rows.append({
                "wave": wave, "region_a": name_a, "region_b": name_b,
                "difference": float(index_a - index_b),
                "ci_lower": float(lo), "ci_upper": float(hi), "level": ci, "adjusted_level": adjusted,
                "p_value": p, "p_adjusted": min(1.0, m * p),
                "distinguishable": bool(excludes_zero(lo, hi)),
            })
        if fewest * tail / 2 < MIN_TAIL_DRAWS:
            notes.append(
                f"wave {wave}: the Bonferroni-adjusted level {adjusted:.4%} for {m} pairs leaves "
                f"{fewest * tail / 2:.1f} of {int(fewest)} bootstrap draws beyond each bound, so the "
                f"intervals rest on the most extreme draws; rerun the studies with at least "
                f"{int(np.ceil(2 * MIN_TAIL_DRAWS / tail))} draws"
            )
    table = pd.DataFrame(rows, columns=PAIRWISE_COLUMNS)
    table["distinguishable"] = table["distinguishable"].astype(bool)
    table.attrs["diagnostics"] = notes
    return table


def wave_changes(bundles: Sequence[Bundle], ci: float = 0.95, language: str = "en") -> pd.DataFrame:
    """Change between consecutive waves of the same region, for every construct both waves index.

    Each change is one comparison, not a family: its interval is the unadjusted level-``ci``
    percentile interval and ``significant`` is that interval excluding zero (equivalently
    ``p_value < 1 − ci``). Columns: region, from_wave, to_wave, construct, difference (later −
    earlier), ci_lower, ci_upper, p_value, significant, level.
    """
    ci = ci_level(ci)
    rows = []
    by_region: dict[str, list[Bundle]] = {}
    for waves in by_wave(bundles).values():
        for b in waves:
            by_region.setdefault(b.region, []).append(b)  # in wave order
    for region in sorted(by_region):
        for before, after in pairwise(by_region[region]):
            for construct in after.indices.index.intersection(before.indices.index, sort=False):
                change = difference(after, before, construct, ci)
                rows.append({"region": after.name(language), "from_wave": before.wave, "to_wave": after.wave,
                             "construct": construct, **change})
    table = pd.DataFrame(rows, columns=WAVE_COLUMNS[:-2])
    table["significant"] = excludes_zero(table["ci_lower"], table["ci_upper"]).astype(bool)
    table["level"] = ci
    return table


def cbsem_table(bundles: Sequence[Bundle], language: str = "en") -> pd.DataFrame:
    """Each study's CB-SEM check side by side: which estimator and standard errors, and its fit.

    Columns: see ``CBSEM_COLUMNS``; one row per bundle that fitted CB-SEM, by wave and region.
    ``estimator`` is ML or FIML, ``information`` the information matrix of its standard errors
    (expected or observed); bundles older than these two columns are left out rather than guessed.
    """
    rows = []
    for b in sorted(bundles, key=lambda b: (b.wave, b.region)):
        values = b.results["values"]
        if not values.get("cbsem_estimator"):
            continue
        fit = {r["measure"]: r["value"] for r in b.results["tables"].get("cbsem_fit", [])}
        rows.append({
            "wave": b.wave, "region": b.name(language), "estimator": values["cbsem_estimator"],
            "information": values["cbsem_information"], "n": int(values["n"]), "missing": values["missing"],
            "n_imputed": int(values["n_imputed"]), "weighted": bool(values["weighted"]),
            "admissible": bool(values["cbsem_admissible"]),
            **{m: float(fit[m]) if fit.get(m) is not None else np.nan for m in CBSEM_COLUMNS[9:]},
        })
    table = pd.DataFrame(rows, columns=CBSEM_COLUMNS)
    return table.astype({"n": int, "n_imputed": int, "df": float})


@dataclass(frozen=True)
class Comparison:
    """Everything the cross-region report shows (columns: see each function)."""

    bundles: tuple[Bundle, ...]
    construct: str
    ci: float
    ranking: pd.DataFrame
    indices: pd.DataFrame
    pairwise: pd.DataFrame
    waves: pd.DataFrame
    cbsem: pd.DataFrame | None = None  # cbsem_table; None for a comparison made without it
    comparability: Any = None  # csi_research.programme.comparability.Comparability, when asked for
    national: dict[str, pd.DataFrame] | None = None  # rollup.national_tables, when asked for
    notes: tuple[str, ...] = ()

    @property
    def synthetic(self) -> bool:
        return any(b.results.get("synthetic") for b in self.bundles)

    @property
    def diagnostics(self) -> list[str]:
        """Notes a reader should see (e.g. too few draws for the adjusted intervals)."""
        found = [*self.pairwise.attrs.get("diagnostics", []), *self.notes]
        if self.comparability is not None:
            found += self.comparability.diagnostics
        return list(dict.fromkeys(found))

    def tables(self) -> dict[str, pd.DataFrame]:
        indices = self.indices.reset_index(names="construct")
        indices.attrs["kinds"] = {"*": "index"}  # its columns are region-waves: every value is an index
        tables = {"ranking": self.ranking, "indices": indices, "pairwise": self.pairwise, "waves": self.waves}
        if self.cbsem is not None and not self.cbsem.empty:
            tables["cbsem"] = self.cbsem
        if self.comparability is not None:
            tables |= {"micom": self.comparability.verdicts, "mga": self.comparability.mga}
        if self.national is not None:
            tables |= {f"national_{name}": table for name, table in self.national.items()}
        return tables

    def save(self, folder: str | Path, language: str = "both") -> Path:
        """Write ``<table>.csv`` for every table and ``tables.xlsx`` (headers in ``language``).

        Nothing is written when any of the files exists already; each is written atomically.
        """
        from csi_research.core.output import write_atomic
        from csi_research.render.excel import WORKBOOK, workbook_bytes

        folder = Path(folder)
        tables = self.tables()
        files = {folder / f"{name}.csv": table.to_csv(index=False) for name, table in tables.items()}
        files[folder / WORKBOOK] = workbook_bytes(tables, language)
        taken = [str(p) for p in files if p.exists()]
        if taken:
            raise FileExistsError(f"{folder}: {', '.join(taken)} exist already; never overwritten")
        for path, content in files.items():
            write_atomic(path, content)
        return folder


def permutations(n_perm: int | None, quick: bool) -> int:
    """The comparability tests' permutations: ``n_perm`` if given, else 1,000 quick and 5,000 full."""
    return int(n_perm) if n_perm else 1000 if quick else 5000


def compare(
    bundles: Sequence[Bundle], construct: str | None = None, ci: float = 0.95, language: str = "en",
    *, n_perm: int | None = None, seed: int = 0, national: bool = False,
) -> Comparison:
    """Ranking, construct × region table, pairwise differences and wave changes in one value.

    ``construct`` defaults to the bundles' common target construct (the overall CSI). ``n_perm``:
    also test whether the regions' indices are comparable and whose drivers differ
    (:mod:`csi_research.programme.comparability`, that many permutations). ``national``: also roll the
    regions up to provinces and the nation (:mod:`csi_research.programme.rollup`) when every study declares
    its ``place`` (and then its ``customers``: a missing one is an error naming the study).
    """
    if not bundles:
        raise ModelSpecError("no study bundles to compare")
    construct = construct or common_target(bundles)
    ci = ci_level(ci)
    tested = None
    if n_perm:
        from csi_research.programme.comparability import comparability

        tested = comparability(bundles, n_perm=n_perm, seed=seed, language=language)
    rolled, notes = None, []
    if national and all(b.study.get("place") for b in bundles):
        from csi_research.programme.rollup import national_tables

        rolled, notes = national_tables(bundles, language=language)
    return Comparison(
        bundles=tuple(bundles),
        construct=construct,
        ci=ci,
        ranking=ranking(bundles, construct, language),
        indices=index_table(bundles, language),
        pairwise=pairwise_differences(bundles, construct, ci, language),
        waves=wave_changes(bundles, ci, language),
        cbsem=cbsem_table(bundles, language),
        comparability=tested,
        national=rolled,
        notes=tuple(notes),
    )


def run_quick_bundles(studies_root: str | Path, folder: str | Path | None = None) -> list[Bundle]:
    """Run every study under ``studies_root`` in quick mode, in this process, and load the bundles.

    For working interactively without a batch run; ``folder`` defaults to a new temporary one.
    """
    import tempfile

    from csi_research.study.config import discover_studies
    from csi_research.study.pipeline import run_study

    folder = Path(folder or tempfile.mkdtemp(prefix="csi-bundles-"))
    paths = [
        run_study.quiet(study, quick=True).save(folder / study.name, figures=False)
        for study in discover_studies(studies_root)
    ]
    return load_bundles(paths)
