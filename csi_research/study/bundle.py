"""The results bundle of one study run: its layout and what a valid bundle holds, defined once.

``StudyResult.save`` writes bundles with :func:`write_bundle`; the comparison reads them with
:func:`read_bundle`, so the two can never disagree on a file name or a required key.

Layout of a bundle folder::

    results.json        every number of the run (dumps_json: sorted keys, NaN as null)
    index_draws.csv     bootstrap draws of the indices, one column per construct
    headline_draws.csv  bootstrap draws of the headline figures (the same resamples, row by row),
                        one column per figure (tables/headline.csv); absent in older bundles
    tables/<name>.csv   the report's tables
    tables.xlsx         the same tables for readers: one sheet each, Chinese and English names
                        and headers (csi_research.render.excel); absent when there are none
    figures/*.png       the plots, if the caller passes write_bundle a ``figures`` writer (a study's
                        are its report's, see StudyResult.save)
    sample.csv          the prepared sample the study estimated on: one row per respondent, the
                        model's items (imputed where missing) and ``weight``; what the comparison
                        needs to test whether regions measure alike (MICOM) and whose drivers differ
    model.yaml          the model the study estimated (CSIModel.to_yaml)

``results.json`` must hold ``study.{region_id, region_zh, region_en, wave}``, ``ci`` (the level
of the bundle's intervals), ``values.{n, target}`` (respondents, the target construct whose
index is the overall CSI) and ``tables.indices`` (one record per construct with
``construct, index, ci_lower, ci_upper``); every indexed construct needs a column of draws.
It also records ``versions`` (Python's and the numerical packages', :mod:`csi_research.core.versions`),
which nothing reads to compare; bundles written before it was recorded read the same.

A bundle becomes visible only when complete: it is written into a hidden sibling folder
``.<name>.tmp-<random>`` (:func:`staged`) and renamed to its name at the end, so a process killed
mid-save leaves a temporary folder nobody reads, never a partial bundle. ``read_bundle`` refuses
such a folder, and any bundle whose folder or run folder is marked ``INCOMPLETE``
(:mod:`csi_research.core.output`).
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.errors import ModelSpecError
from csi_research.core.options import ci_level
from csi_research.core.output import dumps_json, incomplete, write_atomic_all
from csi_research.model import CSIModel
from csi_research.render.excel import WORKBOOK, workbook_bytes
from csi_research.stats.intervals import percentile_interval, percentile_p_value

RESULTS = "results.json"
DRAWS = "index_draws.csv"
HEADLINE_DRAWS = "headline_draws.csv"
SAMPLE = "sample.csv"
MODEL = "model.yaml"
TABLES = "tables"
FIGURES = "figures"

STUDY_KEYS = ("region_id", "region_zh", "region_en", "wave")
VALUE_KEYS = ("n", "target")
INDEX_COLUMNS = ("construct", "index", "ci_lower", "ci_upper")


STAGING = ".tmp-"  # in the name of a bundle being written: ``.<name>.tmp-<random>``


def write_bundle(folder: str | Path, results: dict[str, Any], draws: pd.DataFrame,
                 tables: dict[str, pd.DataFrame], figures: Callable[[Path], object] | None = None,
                 sample: pd.DataFrame | None = None, model: str | None = None,
                 headline_draws: pd.DataFrame | None = None) -> Path:
    """Write results.json, the index draws, every table (CSV) and the tables' workbook as ``folder``.

    ``folder`` must not exist: the bundle is written into a temporary sibling folder, ``figures``
    (if given) is called with that folder's ``figures/`` path to add the plots, and only then is
    the whole folder renamed to ``folder`` (:func:`staged`). An existing ``folder`` is refused
    before anything is written; a failure on the way leaves nothing under ``folder``'s name.
    Inside, ``results.json`` still goes last and every file is written atomically.
    """
    folder = Path(folder)
    files: dict[str, str | bytes] = {DRAWS: draws.to_csv(index=False, float_format="%.10g")}
    if headline_draws is not None:
        files[HEADLINE_DRAWS] = headline_draws.to_csv(index=False, float_format="%.10g")
    for name, table in tables.items():
        if Path(name).name != name or name in ("", ".", ".."):
            raise ValueError(f"{folder}: table name {name!r} must be a plain file name")
        files[f"{TABLES}/{name}.csv"] = table.to_csv(index=False)
    if tables:
        files[WORKBOOK] = workbook_bytes(tables, "both")
    if sample is not None:
        files[SAMPLE] = sample.to_csv(index=False, float_format="%.10g")
    if model is not None:
        files[MODEL] = model
    files[RESULTS] = dumps_json(results)  # last: a folder counts as a bundle once it has results.json
    with staged(folder, within=[folder / name for name in files]) as staging:
        write_atomic_all({staging / name: content for name, content in files.items()})
        if figures is not None:
            figures(staging / FIGURES)
    return folder


@contextmanager
def staged(folder: str | Path, within: list[Path] | None = None) -> Iterator[Path]:
    """A new hidden sibling of ``folder`` to write into; renamed to ``folder`` when the block succeeds.

    Refuses (``FileExistsError``, naming which of ``within`` it holds) when ``folder`` exists,
    before and again at the rename; on an error the temporary folder is removed. A folder made
    at ``folder`` between the last check and the rename is never replaced if it holds anything
    (POSIX ``rename`` only replaces an empty folder).
    """
    folder = Path(folder)
    _refuse_existing(folder, within or [])
    folder.parent.mkdir(parents=True, exist_ok=True)
    while True:  # a plain mkdir, not mkdtemp: the bundle keeps the user's usual permissions
        staging = folder.parent / f".{folder.name}{STAGING}{secrets.token_hex(4)}"
        try:
            staging.mkdir()
            break
        except FileExistsError:
            continue
    try:
        yield staging
        _refuse_existing(folder, within or [])
        try:
            os.rename(staging, folder)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                raise FileExistsError(f"{folder} exists already; results are never overwritten") from None
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # our own unfinished files, never visible as a bundle
        raise


def is_staging(folder: str | Path) -> bool:
    """Whether ``folder`` is a bundle still being written (or abandoned mid-write)."""
    name = Path(folder).name
    return name.startswith(".") and STAGING in name


def _refuse_existing(folder: Path, within: list[Path]) -> None:
    if not (folder.exists() or folder.is_symlink()):
        return
    taken = [str(p) for p in within if p.exists()]
    holding = f" (holding {', '.join(taken)})" if taken else ""
    raise FileExistsError(f"{folder} exists already{holding}; a bundle goes into a new folder and "
                          "results are never overwritten")


def read_bundle(path: str | Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """``results.json`` and the index draws of a bundle folder, checked for what a comparison needs.

    Raises ``ModelSpecError`` naming the folder and what it lacks, or why it is unfinished (a
    temporary folder, an ``INCOMPLETE`` marker in it or in its run folder).
    """
    path = Path(path)
    if is_staging(path):
        raise ModelSpecError(f"{path}: a bundle that was never finished (a temporary folder); pass the "
                             "folder a completed study run saved its bundle in")
    unfinished = incomplete(path)
    if unfinished:
        raise ModelSpecError(f"{path}: from a run that did not finish ({unfinished}); compare only "
                             "bundles of finished runs")
    for name in (RESULTS, DRAWS):
        if not (path / name).is_file():
            raise ModelSpecError(
                f"{path}: not a study bundle (no {name}); pass the folder a study run saved its bundle in"
            )
    try:
        results = json.loads((path / RESULTS).read_text(encoding="utf-8"))
        draws = pd.read_csv(path / DRAWS)
    except (OSError, ValueError) as exc:  # pandas' parser errors are ValueErrors too
        raise ModelSpecError(f"{path}: not a readable study bundle ({exc})") from None
    issue = problem(results, draws)
    if issue:
        raise ModelSpecError(f"{path}: not a study bundle: {issue}")
    return results, draws


def problem(results: Any, draws: pd.DataFrame) -> str | None:
    """What a bundle lacks that a comparison needs (None: nothing)."""
    if not isinstance(results, dict):
        return f"{RESULTS} does not hold a JSON object"
    study = results.get("study")
    if not isinstance(study, dict) or any(k not in study for k in STUDY_KEYS):
        return f"{RESULTS} needs study.{{{', '.join(STUDY_KEYS)}}}"
    if "ci" not in results:
        return f"{RESULTS} needs ci (the level of its intervals)"
    try:
        ci_level(results["ci"])
    except ModelSpecError as exc:
        return f"{RESULTS} needs ci (the level of its intervals): {exc}"
    values = results.get("values")
    if not isinstance(values, dict) or any(k not in values for k in VALUE_KEYS):
        return f"{RESULTS} needs values.{{{', '.join(VALUE_KEYS)}}} (respondents, target construct)"
    target = values["target"]
    if not isinstance(target, str) or not target:
        return f"{RESULTS} needs values.target naming the target construct, not {target!r}"
    tables = results.get("tables")
    records = tables.get("indices") if isinstance(tables, dict) else None
    if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
        return f"{RESULTS} needs tables.indices (one record per construct)"
    missing = [c for c in INDEX_COLUMNS if any(c not in r for r in records)]
    if missing:
        return f"tables.indices records lack {', '.join(missing)}"
    constructs = [r["construct"] for r in records]
    if target not in constructs:
        return f"tables.indices has no record for the target construct {target!r}"
    absent = [c for c in constructs if c not in draws.columns]
    if absent:
        return f"{DRAWS} has no column for {', '.join(map(str, absent))}"
    return None


# ---------------------------------------------------------------------------- a bundle read back
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

    @property
    def versions(self) -> dict[str, str]:
        """Python's and the numerical packages' versions the study ran with; empty for older bundles."""
        found = self.results.get("versions")
        return dict(found) if isinstance(found, dict) else {}

    def name(self, language: str = "en") -> str:
        return self.study["region_zh"] if language == "zh" else self.study["region_en"]

    def label(self, language: str = "en") -> str:
        return f"{self.name(language)} {self.wave}"

    def headline(self) -> pd.DataFrame | None:
        """The headline figures (tables/headline.csv as in results.json), None in older bundles."""
        records = self.results.get("tables", {}).get("headline")
        if records is None:
            return None
        from csi_research.stats.headline import HEADLINE_COLUMNS

        return pd.DataFrame(records).reindex(columns=HEADLINE_COLUMNS)

    def headline_draws(self) -> pd.DataFrame | None:
        """Bootstrap draws of the headline figures, row b from the index's resample b (None: none)."""
        path = self.path / HEADLINE_DRAWS
        if not path.is_file():
            return None
        try:
            return pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise ModelSpecError(f"{path}: not readable headline draws ({exc})") from None

    def has_headline_draws(self) -> bool:
        return (self.path / HEADLINE_DRAWS).is_file()

    def has_sample(self) -> bool:
        return (self.path / SAMPLE).is_file() and (self.path / MODEL).is_file()

    def sample(self) -> pd.DataFrame:
        """The prepared sample the study estimated on: items and ``weight``."""
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
    """Read a bundle folder written by ``StudyResult.save``."""
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
