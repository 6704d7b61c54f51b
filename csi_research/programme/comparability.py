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

import contextlib
import os
import pickle
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import pandas as pd

from csi_research.core.errors import CSIError
from csi_research.core.process import child_env
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

    def digest(b: Bundle) -> str:  # the file as written (fast); a bundle made in memory by its contents
        file = Path(b.path) / "results.json"
        data = file.read_bytes() if file.is_file() else json.dumps(b.results, sort_keys=True,
                                                                     default=str).encode()
        return hashlib.sha256(data).hexdigest()

    contents = [digest(b) for b in bundles]
    return tuple(str(b.path.resolve()) for b in bundles), tuple(contents), n_perm, seed


def _tested(bundles: Sequence[Bundle], n_perm: int, seed: int) -> Comparability:
    """The tests, with regions as their ids and waves as themselves (``unit`` too)."""
    notes: list[str] = []
    families = _families(bundles)
    for scope, unit, members in [f for f in families if len(f[2]) > MAX_REGIONS]:
        notes.append(f"{scope} {unit}: comparability not tested: {len(members)} regions make "
                     f"{len(members) * (len(members) - 1) // 2} pairs, too many to test each (at most "
                     f"{MAX_REGIONS} regions); compare within a province with csi.micom and "
                     "csi.permutation_mga")
    tasks = [(scope, unit, [str(b.path) for b in members], n_perm, seed)
             for scope, unit, members in families if len(members) <= MAX_REGIONS]
    verdicts: list[pd.DataFrame] = []
    mga: list[pd.DataFrame] = []
    loaded = {str(b.path): b for b in bundles}
    for family_notes, verdict, paths in _map_families(tasks, loaded):
        notes += family_notes
        if verdict is not None:
            verdicts.append(verdict)
            mga.append(paths)
    return Comparability(
        verdicts=_stack(verdicts, VERDICT_COLUMNS), mga=_stack(mga, MGA_COLUMNS),
        n_perm=n_perm, seed=seed, diagnostics=list(dict.fromkeys(notes)),
    )


# Families are independent and each is seeded alike, so they may run in any process, in any order,
# and give the same tables. A national programme has a test per region with two waves (hundreds,
# about half a second each): from PARALLEL_FROM families on, they are shared out over the machine's
# cores, this process taking one share and a fresh ``python -m`` of this module each other share
# (not multiprocessing, whose fresh processes re-run the caller's main script).
PARALLEL_FROM = 16


def _map_families(tasks: list[tuple], loaded: dict[str, Bundle]) -> list[tuple]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    shares = min(cores, len(tasks) // (PARALLEL_FROM // 2) or 1) if len(tasks) >= PARALLEL_FROM else 1
    size = max(1, -(-len(tasks) // shares))
    chunks = [tasks[k:k + size] for k in range(0, len(tasks), size)] or [[]]
    workers = [_start_worker(chunk) for chunk in chunks[1:]]
    results = [_test_family(*task, loaded=loaded) for task in chunks[0]]
    for worker, chunk in zip(workers, chunks[1:], strict=True):
        results += _finish_worker(worker, chunk, loaded)
    return results


def _start_worker(tasks: list[tuple]) -> subprocess.Popen | None:
    try:
        worker = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=child_env())
    except OSError:
        return None  # the share is tested here instead
    try:
        with worker.stdin:
            worker.stdin.write(pickle.dumps(tasks))
    except OSError:  # it died at once: ended and waited for, its share tested here
        worker.kill()
        with worker.stdout:
            worker.wait()
        return None
    return worker


def _finish_worker(worker: subprocess.Popen | None, tasks: list[tuple],
                   loaded: dict[str, Bundle]) -> list[tuple]:
    """The worker's results; if it could not start or died, its share tested in this process."""
    if worker is not None:
        with worker.stdout:  # closed after: a warning about an open pipe would void the batch's memo
            output = worker.stdout.read()
        if worker.wait() == 0:
            with contextlib.suppress(Exception):
                return pickle.loads(output)  # our own child's answer, on a private pipe
    return [_test_family(*task, loaded=loaded) for task in tasks]


def _test_family(scope: str, unit: str, paths: list[str], n_perm: int, seed: int,
                 loaded: dict[str, Bundle] | None = None) -> tuple[list[str], pd.DataFrame | None,
                                                                   pd.DataFrame | None]:
    """One wave's regions or one region's two waves: (notes, MICOM verdicts, MGA path rows)."""
    from csi_research.study.bundle import load_bundle

    members = [loaded[p] if loaded and p in loaded else load_bundle(p) for p in paths]
    labels = [b.region if scope == "wave" else b.wave for b in members]
    notes: list[str] = []
    lacking = [str(b.path) for b in members if not b.has_sample()]
    models = [] if lacking else [b.model() for b in members]
    if lacking:
        notes.append(f"{scope} {unit}: comparability not tested: {', '.join(lacking)} hold no sample.csv "
                     "and model.yaml (bundles of an older version); rerun those studies")
    elif any(m != models[0] for m in models[1:]):
        notes.append(f"{scope} {unit}: comparability not tested: the studies estimated different models, "
                     "so MICOM step 1 (configural invariance) fails and their indices are not comparable "
                     "construct by construct")
    if notes:
        return notes, None, None
    try:
        fit = _pooled_fit(members, labels, models[0])
        from csi_research.stats.groups import micom_and_mga

        tested, paths_tested = micom_and_mga(fit, GROUP, n_perm=n_perm, seed=seed)
    except CSIError as exc:  # e.g. a region too small for the model
        notes.append(f"{scope} {unit}: comparability not tested: {exc}")
        return notes, None, None
    rows = paths_tested.estimates[paths_tested.estimates["statistic"] == "path"]
    return (tested.diagnostics + paths_tested.diagnostics, _verdicts(tested, scope, unit),
            rows.assign(scope=scope, unit=unit)[MGA_COLUMNS])


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


if __name__ == "__main__":  # a worker of _map_families: tasks in on stdin, results out on stdout
    _share = pickle.loads(sys.stdin.buffer.read())
    sys.stdout.buffer.write(pickle.dumps([_test_family(*task) for task in _share]))
