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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from csi_research.bundle import MODEL, SAMPLE, read_bundle
from csi_research.errors import ModelSpecError
from csi_research.intervals import excludes_zero, percentile_interval
from csi_research.model import CSIModel
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

    def has_sample(self) -> bool:
        return (self.path / SAMPLE).is_file() and (self.path / MODEL).is_file()

    def sample(self) -> pd.DataFrame:
        """The prepared sample the study estimated on: items and ``weight`` (:mod:`csi_research.bundle`)."""
        path = self.path / SAMPLE
        if not path.is_file():
            raise ModelSpecError(f"{self.path}: no {SAMPLE} (a bundle of an older version); rerun the study")
        return pd.read_csv(path)

    def model(self) -> CSIModel:
        """The model the study estimated."""
        path = self.path / MODEL
        if not path.is_file():
            raise ModelSpecError(f"{self.path}: no {MODEL} (a bundle of an older version); rerun the study")
        return CSIModel.from_yaml(path)


def load_bundle(path: str | Path) -> Bundle:
    """Read a bundle folder written by ``StudyResult.save`` (the format of :mod:`csi_research.bundle`)."""
    results, draws = read_bundle(path)
    indices = pd.DataFrame(results["tables"]["indices"]).set_index("construct")
    return Bundle(path=Path(path), results=results, indices=indices, draws=draws)


def load_bundles(paths: Iterable[str | Path]) -> list[Bundle]:
    """Read bundle folders, sorted by region then wave; one bundle per region and wave.

    Two bundles of one region and wave (two runs of a study, or one folder given twice) raise
    ``ModelSpecError`` naming both folders: which run to compare is the caller's choice.
    """
    bundles = [load_bundle(p) for p in paths]
    seen: dict[tuple[str, str], Bundle] = {}
    for b in bundles:
        first = seen.setdefault((b.region, b.wave), b)
        if first is not b:
            raise ModelSpecError(
                f"two bundles for region {b.region} wave {b.wave}: {first.path} and {b.path}; "
                "compare one run of each study"
            )
    return sorted(bundles, key=lambda b: (b.region, b.wave))


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


RANKING_COLUMNS = ["wave", "rank", "region", "index", "ci_lower", "ci_upper", "level", "n"]
PAIRWISE_COLUMNS = ["wave", "region_a", "region_b", "difference", "ci_lower", "ci_upper", "level",
                    "adjusted_level", "p_value", "p_adjusted", "distinguishable"]
WAVE_COLUMNS = ["region", "from_wave", "to_wave", "construct", "difference", "ci_lower", "ci_upper",
                "p_value", "significant", "level"]
MIN_TAIL_DRAWS = 5  # fewer draws expected beyond an adjusted bound: that bound rests on the extreme draws


def by_wave(bundles: Sequence[Bundle]) -> dict[str, list[Bundle]]:
    """The bundles of each wave (waves in order, regions in order); one bundle per region and wave."""
    from csi_research.waves import wave_key  # waves imports this module

    groups: dict[str, dict[str, Bundle]] = {}
    for b in bundles:
        group = groups.setdefault(b.wave, {})
        if b.region in group:
            raise ModelSpecError(
                f"two bundles for region {b.region} wave {b.wave}: {group[b.region].path} and {b.path}; "
                "compare one run of each study"
            )
        group[b.region] = b
    ordered = sorted(groups, key=wave_key)
    return {w: [groups[w][r] for r in sorted(groups[w])] for w in ordered}


def latest_wave(bundles: Sequence[Bundle]) -> str:
    """The most recent wave among the bundles (``ranking(bundles, wave=latest_wave(bundles))``)."""
    if not bundles:
        raise ModelSpecError("no study bundles to compare")
    return list(by_wave(bundles))[-1]


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


def percentile_p_value(d: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "difference = 0" that inverts the percentile interval.

    p is the smallest a for which the level-(1 − a) percentile interval of the same draws (numpy's
    default linear interpolation, as :func:`csi_research.intervals.percentile_interval`) excludes
    zero; hence, for every level, p < 1 − level exactly when that interval excludes zero (up to
    floating-point rounding of a bound that is itself 0; tests check it on thousands of random
    sets of draws, ties and exact zeros included). With the
    draws sorted, h the (fractional, 0-based) position where the interpolated quantile function
    crosses zero from below and from above: p = 2 · min(h_last≤0, B − 1 − h_first≥0) / (B − 1),
    capped at 1. p = 0 when every draw lies on one side of zero (and no draw is 0): the difference
    is beyond what B draws resolve (about 2/B).
    """
    s = np.sort(np.asarray(d, dtype=float))
    s = s[np.isfinite(s)]
    last = len(s) - 1
    if last < 1:
        raise ModelSpecError("a bootstrap p-value needs at least two finite draws")
    below = _crossing(s, np.searchsorted(s, 0.0, side="right"), last)  # sup{h: Q(h) ≤ 0}
    above = _crossing(s, np.searchsorted(s, 0.0, side="left"), last)  # inf{h: Q(h) ≥ 0}
    return float(min(1.0, 2 * min(below, last - above) / last))


def _crossing(s: np.ndarray, k: int, last: int) -> float:
    """Position h in [0, last] where the interpolation between s[k − 1] and s[k] reaches 0
    (0 when k = 0, ``last`` when k = B). The callers' k puts 0 in [s[k − 1], s[k]] with s[k − 1] < s[k]."""
    if k == 0:
        return 0.0
    if k > last:
        return float(last)
    lo, hi = s[k - 1], s[k]
    return (k - 1) + (0.0 - lo) / (hi - lo)


def _difference_draws(a: Bundle, b: Bundle, construct: str, first: np.ndarray,
                      second: np.ndarray) -> np.ndarray:
    """a − b from their draws of ``construct`` (``first``, ``second``), the k-th draws paired
    (independent samples pair arbitrarily), finite ones only."""
    k = min(len(first), len(second))
    if k < 100:
        raise ModelSpecError(
            f"{a.path} / {b.path}: only {k} bootstrap draws; differences need at least 100 "
            "(run without quick mode)"
        )
    d = first[:k] - second[:k]
    d = d[np.isfinite(d)]
    if len(d) < 100:
        raise ModelSpecError(
            f"{a.path} / {b.path}: only {len(d)} finite bootstrap draws of {construct}; need at least 100"
        )
    return d


def _construct_draws(bundle: Bundle, construct: str) -> np.ndarray:
    if construct not in bundle.draws.columns or construct not in bundle.indices.index:
        raise ModelSpecError(f"{bundle.path}: no index or bootstrap draws for construct {construct!r}")
    return bundle.draws[construct].to_numpy(dtype=float)


def difference(a: Bundle, b: Bundle, construct: str, ci: float = 0.95) -> dict[str, float]:
    """Index difference a − b with its level-``ci`` percentile interval and two-sided bootstrap p-value.

    The p-value inverts the same percentile interval (:func:`percentile_p_value`), so
    ``p_value < 1 − ci`` exactly when the interval excludes zero.
    """
    ci = ci_level(ci)
    d = _difference_draws(a, b, construct, _construct_draws(a, construct), _construct_draws(b, construct))
    lo, hi = percentile_interval(d, ci)
    estimate = a.indices.at[construct, "index"] - b.indices.at[construct, "index"]
    return {"difference": float(estimate), "ci_lower": float(lo), "ci_upper": float(hi),
            "p_value": percentile_p_value(d)}


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
    comparability: Any = None  # csi_research.comparability.Comparability, when asked for
    national: dict[str, pd.DataFrame] | None = None  # csi_research.rollup.national_tables, when asked for
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
        if self.comparability is not None:
            tables |= {"micom": self.comparability.verdicts, "mga": self.comparability.mga}
        if self.national is not None:
            tables |= {f"national_{name}": table for name, table in self.national.items()}
        return tables

    def save(self, folder: str | Path, language: str = "both") -> Path:
        """Write ``<table>.csv`` for every table and ``tables.xlsx`` (headers in ``language``).

        Nothing is written when any of the files exists already; each is written atomically.
        """
        from csi_research.output import write_atomic
        from csi_research.reporting.excel import WORKBOOK, workbook_bytes

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
    (:mod:`csi_research.comparability`, that many permutations). ``national``: also roll the
    regions up to provinces and the nation (:mod:`csi_research.rollup`) when every study declares
    its ``place`` (and then its ``customers``: a missing one is an error naming the study).
    """
    if not bundles:
        raise ModelSpecError("no study bundles to compare")
    construct = construct or common_target(bundles)
    ci = ci_level(ci)
    tested = None
    if n_perm:
        from csi_research.comparability import comparability

        tested = comparability(bundles, n_perm=n_perm, seed=seed, language=language)
    rolled, notes = None, []
    if national and all(b.study.get("place") for b in bundles):
        from csi_research.rollup import national_tables

        rolled, notes = national_tables(bundles, language=language)
    return Comparison(
        bundles=tuple(bundles),
        construct=construct,
        ci=ci,
        ranking=ranking(bundles, construct, language),
        indices=index_table(bundles, language),
        pairwise=pairwise_differences(bundles, construct, ci, language),
        waves=wave_changes(bundles, ci, language),
        comparability=tested,
        national=rolled,
        notes=tuple(notes),
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
