"""The results bundle of one study run: its layout and what a valid bundle holds, defined once.

``StudyResult.save`` writes bundles with :func:`write_bundle`; the comparison reads them with
:func:`read_bundle`, so the two can never disagree on a file name or a required key.

Layout of a bundle folder::

    results.json        every number of the run (dumps_json: sorted keys, NaN as null)
    index_draws.csv     bootstrap draws of the indices, one column per construct
    tables/<name>.csv   the report's tables
    tables.xlsx         the same tables for readers: one sheet each, Chinese and English names
                        and headers (csi_research.reporting.excel); absent when there are none
    figures/*.png       written by the caller, if at all

``results.json`` must hold ``study.{region_id, region_zh, region_en, wave}``, ``ci`` (the level
of the bundle's intervals), ``values.{n, target}`` (respondents, the target construct whose
index is the overall CSI) and ``tables.indices`` (one record per construct with
``construct, index, ci_lower, ci_upper``); every indexed construct needs a column of draws.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from csi_research.errors import ModelSpecError
from csi_research.options import ci_level
from csi_research.output import dumps_json, write_atomic
from csi_research.reporting.excel import WORKBOOK, workbook_bytes

RESULTS = "results.json"
DRAWS = "index_draws.csv"
TABLES = "tables"
FIGURES = "figures"

STUDY_KEYS = ("region_id", "region_zh", "region_en", "wave")
VALUE_KEYS = ("n", "target")
INDEX_COLUMNS = ("construct", "index", "ci_lower", "ci_upper")


def write_bundle(folder: str | Path, results: dict[str, Any], draws: pd.DataFrame,
                 tables: dict[str, pd.DataFrame]) -> Path:
    """Write results.json, the index draws, every table (CSV) and the tables' workbook into ``folder``.

    Every file is written atomically and never over an existing file. ``results.json`` goes
    last: a folder counts as a bundle only once it exists, so an interrupted write never looks
    like a complete bundle. A bundle that would replace any existing file is refused before
    anything is written.
    """
    folder = Path(folder)
    files: dict[Path, str | bytes] = {folder / DRAWS: draws.to_csv(index=False, float_format="%.10g")}
    for name, table in tables.items():
        if Path(name).name != name or name in ("", ".", ".."):
            raise ValueError(f"{folder}: table name {name!r} must be a plain file name")
        files[folder / TABLES / f"{name}.csv"] = table.to_csv(index=False)
    if tables:
        files[folder / WORKBOOK] = workbook_bytes(tables, "both")
    files[folder / RESULTS] = dumps_json(results)  # last: see above
    taken = [str(p) for p in files if p.exists()]
    if taken:
        raise FileExistsError(f"{folder}: {', '.join(taken)} exist already; results are never overwritten")
    for path, content in files.items():
        write_atomic(path, content)  # still refuses if another writer got there in between
    return folder


def read_bundle(path: str | Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """``results.json`` and the index draws of a bundle folder, checked for what a comparison needs.

    Raises ``ModelSpecError`` naming the folder and what it lacks.
    """
    path = Path(path)
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
