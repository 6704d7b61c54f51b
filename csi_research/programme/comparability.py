"""Are the compared regions (and waves) measured alike, and whose drivers differ?

A ranking of regional indices presumes that every region's index is built the same way: the
same items weighted alike into each construct. MICOM step 2 (compositional invariance) tests
exactly that, pair by pair (:func:`csi_research.stats.groups.micom`); when it fails for a construct,
that construct's indices of the pair are not comparable and the report says so beside the
ranking. Step 3 (equal composite means and variances) failing is not a defect here: different
means are what a ranking shows. Which drivers differ is the permutation MGA of every path,
Holm-adjusted across paths and pairs (:func:`csi_research.stats.groups.permutation_mga`).

Both need the respondents, so they read each bundle's prepared sample (``sample.csv``: the model
items as estimated, imputed where missing, and the survey weights) and its ``model.yaml``. The
regions of one wave are pooled into one PLS fit with a ``group`` column; a region's consecutive
waves likewise. Imputed answers enter as values here (the regional fits used EM moments), which
understates their variance a little; with the few imputations of a CSI survey this does not
change a verdict. Everything is seeded, so the same bundles give the same tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import pandas as pd

from csi_research.core.errors import CSIError
from csi_research.model import CSIModel
from csi_research.stats.pls import PLSFit
from csi_research.study.bundle import Bundle

GROUP = "group"
# Every pair is tested, so the cost grows with the square of the regions: 12 regions are 66 pairs
# (about half a minute at 1,000 permutations); a nation of 300 would be 44,850 pairs (hours).
MAX_REGIONS = 12
VERDICT_COLUMNS = ["scope", "unit", "group_a", "group_b", "invariance", "not_comparable", "reason"]
MGA_COLUMNS = ["scope", "unit", "group_a", "group_b", "source", "target", "estimate_a", "estimate_b",
               "difference", "p_value", "p_adjusted", "significant"]


@dataclass(frozen=True)
class Comparability:
    """MICOM verdicts and MGA path differences per wave (across regions) and per region (across waves).

    ``verdicts``: one row per pair; ``not_comparable`` lists the constructs failing compositional
    invariance. ``mga``: one row per path and pair. ``scope`` is "wave" (``unit`` = the wave,
    groups = regions) or "region" (``unit`` = the region, groups = waves).
    """

    verdicts: pd.DataFrame
    mga: pd.DataFrame
    n_perm: int
    seed: int
    diagnostics: list[str] = field(default_factory=list)

    def not_comparable(self, scope: str = "wave") -> pd.DataFrame:
        rows = self.verdicts[(self.verdicts["scope"] == scope) & (self.verdicts["not_comparable"] != "")]
        return rows.reset_index(drop=True)

    def differing_paths(self, scope: str = "wave") -> pd.DataFrame:
        return self.mga[(self.mga["scope"] == scope) & self.mga["significant"]].reset_index(drop=True)


def comparability(bundles: Sequence[Bundle], n_perm: int = 5000, seed: int = 0,
                  language: str = "en") -> Comparability:
    """MICOM and permutation MGA for the regions of each wave and the waves of each region.

    The tests group the respondents by region id (or wave), never by a display name, so every
    language reports the same numbers; they are computed once per set of bundles, permutations
    and seed in a process (see :data:`COMPUTED`), and each language only names the groups.
    """
    key = _key(bundles, n_perm, seed)
    if key not in COMPUTED:
        COMPUTED[key] = _tested(bundles, n_perm, seed)
    return _named(COMPUTED[key], bundles, language)


# Tested bundles, by their folders and contents, permutations and seed. Bundles are written once
# and never changed in place, so a comparison in a second language reuses the first one's tests
# (the batch computes them before its languages' notebooks are forked, see csi_research.run.zygote).
COMPUTED: dict[tuple, Comparability] = {}


def _key(bundles: Sequence[Bundle], n_perm: int, seed: int) -> tuple:
    import hashlib
    import json

    contents = [hashlib.sha256(json.dumps(b.results, sort_keys=True, default=str).encode()).hexdigest()
                for b in bundles]
    return tuple(str(b.path.resolve()) for b in bundles), tuple(contents), n_perm, seed


def _tested(bundles: Sequence[Bundle], n_perm: int, seed: int) -> Comparability:
    """The tests, with regions as their ids and waves as themselves (``unit`` too)."""
    verdicts: list[pd.DataFrame] = []
    mga: list[pd.DataFrame] = []
    notes: list[str] = []
    families = _families(bundles)
    for scope, unit, members in [f for f in families if len(f[2]) > MAX_REGIONS]:
        notes.append(f"{scope} {unit}: comparability not tested: {len(members)} regions make "
                     f"{len(members) * (len(members) - 1) // 2} pairs, too many to test each (at most "
                     f"{MAX_REGIONS} regions); compare within a province with csi.micom and "
                     "csi.permutation_mga")
    for scope, unit, members in [f for f in families if len(f[2]) <= MAX_REGIONS]:
        labels = [b.region if scope == "wave" else b.wave for b in members]
        lacking = [str(b.path) for b in members if not b.has_sample()]
        if lacking:
            notes.append(f"{scope} {unit}: comparability not tested: {', '.join(lacking)} hold no sample.csv "
                         "and model.yaml (bundles of an older version); rerun those studies")
            continue
        models = [b.model() for b in members]
        if any(m != models[0] for m in models[1:]):
            notes.append(f"{scope} {unit}: comparability not tested: the studies estimated different models, "
                         "so MICOM step 1 (configural invariance) fails and their indices are not comparable "
                         "construct by construct")
            continue
        try:
            fit = _pooled_fit(members, labels, models[0])
            from csi_research.stats.groups import micom_and_mga

            tested, paths = micom_and_mga(fit, GROUP, n_perm=n_perm, seed=seed)
        except CSIError as exc:  # e.g. a region too small for the model
            notes.append(f"{scope} {unit}: comparability not tested: {exc}")
            continue
        notes += tested.diagnostics + paths.diagnostics
        verdicts.append(_verdicts(tested, scope, unit))
        mga.append(paths.estimates[paths.estimates["statistic"] == "path"]
                   .assign(scope=scope, unit=unit)[MGA_COLUMNS])
    return Comparability(
        verdicts=_stack(verdicts, VERDICT_COLUMNS), mga=_stack(mga, MGA_COLUMNS),
        n_perm=n_perm, seed=seed, diagnostics=list(dict.fromkeys(notes)),
    )


def _named(tested: Comparability, bundles: Sequence[Bundle], language: str) -> Comparability:
    """``tested`` with regions called by their names in ``language`` (groups of a wave, units of a region)."""
    names = {b.region: b.name(language) for b in bundles}

    def name(table: pd.DataFrame) -> pd.DataFrame:
        table = table.copy()
        wave = table["scope"] == "wave"
        for column in ("group_a", "group_b"):
            table.loc[wave, column] = table.loc[wave, column].map(names)
        table.loc[~wave, "unit"] = table.loc[~wave, "unit"].map(names)
        return table

    return Comparability(verdicts=name(tested.verdicts), mga=name(tested.mga), n_perm=tested.n_perm,
                         seed=tested.seed, diagnostics=list(tested.diagnostics))


def _stack(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def _families(bundles: Sequence[Bundle]) -> list[tuple[str, str, list[Bundle]]]:
    """(scope, unit, bundles) to test: each wave's regions, and each region's consecutive waves."""
    families: list[tuple[str, str, list[Bundle]]] = []
    waves: dict[str, list[Bundle]] = {}
    regions: dict[str, list[Bundle]] = {}
    for b in sorted(bundles, key=lambda b: (b.wave, b.region)):
        waves.setdefault(b.wave, []).append(b)
        regions.setdefault(b.region, []).append(b)
    families += [("wave", wave, members) for wave, members in waves.items() if len(members) > 1]
    for members in regions.values():
        families += [("region", after.region, [before, after]) for before, after in pairwise(members)]
    return families


def _pooled_fit(members: Sequence[Bundle], labels: Sequence[str], model: CSIModel) -> PLSFit:
    """One PLS fit of the members' prepared samples, pooled, with their label in a ``group`` column."""
    from csi_research.stats.pls import fit_pls

    frames = [m.sample().assign(**{GROUP: label}) for m, label in zip(members, labels, strict=True)]
    pooled = pd.concat(frames, ignore_index=True)
    weighted = not (pooled["weight"] == 1).all()
    settings = members[0].results["study"].get("estimation") or {}
    return fit_pls(model, pooled, scheme=settings.get("scheme", "path"), scaled=settings.get("scaled", True),
                   missing="listwise", weights="weight" if weighted else None)


def _verdicts(tested, scope: str, unit: str) -> pd.DataFrame:
    comp = tested.compositional
    failing = comp[~comp["invariant"].astype(bool)]
    rows = []
    for v in tested.verdict.itertuples():
        bad = failing[(failing["group_a"] == v.group_a) & (failing["group_b"] == v.group_b)]
        rows.append({"scope": scope, "unit": unit, "group_a": v.group_a, "group_b": v.group_b,
                     "invariance": v.invariance, "not_comparable": ", ".join(map(str, bad["construct"])),
                     "reason": v.reason})
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS)

