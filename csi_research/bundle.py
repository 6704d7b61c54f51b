"""The results bundle of one study run: its layout and what a valid bundle holds, defined once.

``StudyResult.save`` writes bundles with :func:`write_bundle`; the comparison reads them with
:func:`read_bundle`, so the two can never disagree on a file name or a required key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from csi_research.errors import ModelSpecError
from csi_research.output import dumps_json, write_atomic

RESULTS = "results.json"
DRAWS = "index_draws.csv"
TABLES = "tables"
FIGURES = "figures"

STUDY_KEYS = ("region_id", "region_zh", "region_en", "wave")
VALUE_KEYS = ("n", "target")
INDEX_COLUMNS = ("construct", "index", "ci_lower", "ci_upper")


def write_bundle(folder: str | Path, results: dict[str, Any], draws: pd.DataFrame,
                 tables: dict[str, pd.DataFrame]) -> Path:
    """Write results.json, the index draws and every table (each file atomically, never over one)."""
    folder = Path(folder)
    write_atomic(folder / RESULTS, dumps_json(results))
    write_atomic(folder / DRAWS, draws.to_csv(index=False, float_format="%.10g"))
    for name, table in tables.items():
        write_atomic(folder / TABLES / f"{name}.csv", table.to_csv(index=False))
    return folder


def read_bundle(path: str | Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """``results.json`` and the index draws of a bundle folder, checked for what a comparison needs."""
    path = Path(path)
    if not (path / RESULTS).is_file():
        raise ModelSpecError(
            f"{path}: not a study bundle (no {RESULTS}); pass the folder a study run saved its bundle in"
        )
    try:
        results = json.loads((path / RESULTS).read_text(encoding="utf-8"))
        draws = pd.read_csv(path / DRAWS)
    except (OSError, ValueError) as exc:
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
    if not isinstance(results.get("ci"), int | float):
        return f"{RESULTS} needs ci (the level of its intervals)"
    values = results.get("values")
    if not isinstance(values, dict) or any(k not in values for k in VALUE_KEYS):
        return f"{RESULTS} needs values.{{{', '.join(VALUE_KEYS)}}} (respondents, target construct)"
    tables = results.get("tables")
    records = tables.get("indices") if isinstance(tables, dict) else None
    if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
        return f"{RESULTS} needs tables.indices (one record per construct)"
    missing = [c for c in INDEX_COLUMNS if any(c not in r for r in records)]
    if missing:
        return f"tables.indices records lack {', '.join(missing)}"
    absent = [r["construct"] for r in records if r["construct"] not in draws.columns]
    if absent:
        return f"{DRAWS} has no column for {', '.join(map(str, absent))}"
    return None
