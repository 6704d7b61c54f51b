"""The results bundle of one study run: its layout and what a valid bundle holds, defined once.

``StudyResult.save`` writes bundles with :func:`write_bundle`; the comparison reads them with
:func:`read_bundle`, so the two can never disagree on a file name or a required key.

Layout of a bundle folder::

    results.json        every number of the run (dumps_json: sorted keys, NaN as null)
    index_draws.csv     bootstrap draws of the indices, one column per construct
    tables/<name>.csv   the report's tables
    tables.xlsx         the same tables for readers: one sheet each, Chinese and English names
                        and headers (csi_research.reporting.excel); absent when there are none
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

A bundle becomes visible only when complete: it is written into a hidden sibling folder
``.<name>.tmp-<random>`` (:func:`staged`) and renamed to its name at the end, so a process killed
mid-save leaves a temporary folder nobody reads, never a partial bundle. ``read_bundle`` refuses
such a folder, and any bundle whose folder or run folder is marked ``INCOMPLETE``
(:mod:`csi_research.output`).
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from csi_research.errors import ModelSpecError
from csi_research.options import ci_level
from csi_research.output import dumps_json, incomplete, write_atomic
from csi_research.reporting.excel import WORKBOOK, workbook_bytes

RESULTS = "results.json"
DRAWS = "index_draws.csv"
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
                 sample: pd.DataFrame | None = None, model: str | None = None) -> Path:
    """Write results.json, the index draws, every table (CSV) and the tables' workbook as ``folder``.

    ``folder`` must not exist: the bundle is written into a temporary sibling folder, ``figures``
    (if given) is called with that folder's ``figures/`` path to add the plots, and only then is
    the whole folder renamed to ``folder`` (:func:`staged`). An existing ``folder`` is refused
    before anything is written; a failure on the way leaves nothing under ``folder``'s name.
    Inside, ``results.json`` still goes last and every file is written atomically.
    """
    folder = Path(folder)
    files: dict[str, str | bytes] = {DRAWS: draws.to_csv(index=False, float_format="%.10g")}
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
        for name, content in files.items():
            write_atomic(staging / name, content)
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
