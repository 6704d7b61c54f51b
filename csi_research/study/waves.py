"""A region's change since its previous survey wave, read from that wave's saved bundle.

Waves are independent samples, so the bootstrap distribution of a change is the difference of
the two waves' independent bootstrap draws (as between regions in the cross-region comparison).
The previous wave is found among the study folders beside this one: the newest complete bundle
of the same region with the latest earlier wave and the same target construct.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from csi_research.core.errors import ModelSpecError
from csi_research.stats.intervals import excludes_zero
from csi_research.study.bundle import RESULTS, Bundle, difference, load_bundle

MIN_DRAWS = 100  # fewer bootstrap draws cannot give a change an interval worth printing


def find_previous(config: Any, search: str | Path | None = None,
                  bundles: list[tuple[str, Any, Path]] | None = None) -> Path | None:
    """The bundle of the same region's previous wave, or None.

    ``search`` is the folder holding the study folders (default: the one holding this study's
    folder); bundles live in ``<study>/output/<run-id>/bundle``. Of the earlier waves the
    latest is taken, and of its runs the newest complete one with enough bootstrap draws.
    ``bundles``: that folder's :func:`finished_bundles`, when already read (a batch reads them
    once for all its studies rather than once per study).
    """
    if bundles is None:
        bundles = finished_bundles(search if search is not None else Path(config.path).parent.parent)
    now = wave_key(config.wave)
    found = [(wave_key(wave), path.parent.name, path) for region, wave, path in bundles
             if region == config.region_id and wave_key(wave) < now]
    return max(found)[2] if found else None


def finished_bundles(search: str | Path) -> list[tuple[str, Any, Path]]:
    """(region id, wave, bundle folder) of every finished bundle with enough draws in the study
    folders of ``search``: the candidates for a previous wave."""
    found: list[tuple[str, Any, Path]] = []
    for results in Path(search).glob(f"*/output/*/bundle/{RESULTS}"):
        try:
            data = json.loads(results.read_text(encoding="utf-8"))
            study = data["study"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a finished bundle: never compare against half a run
        if data.get("n_boot", 0) >= MIN_DRAWS:
            found.append((study.get("region_id"), study.get("wave"), results.parent))
    return found


def wave_key(wave: Any) -> tuple[int, float, str]:
    """Numeric waves compare as numbers (2025 < 2026), others as text."""
    text = str(wave)
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def change_since(result: Any, previous: str | Path | Bundle) -> pd.DataFrame:
    """Every index now against the previous wave's: difference with its bootstrap interval.

    Columns: construct, label_zh, label_en, from_wave, to_wave, before, now, difference,
    ci_lower, ci_upper, level, p_value, significant (the interval excludes zero).
    """
    bundle = previous if isinstance(previous, Bundle) else load_bundle(previous)
    ci = float(result.boot.ci)
    now = Bundle(path=Path(result.config.path), results={}, indices=result.indices, draws=result.index_draws)
    rows = []
    for construct in result.indices.index.intersection(bundle.indices.index, sort=False):
        change = difference(now, bundle, construct, ci)
        rows.append(
            {
                "construct": construct,
                "label_zh": result.indices.at[construct, "label_zh"],
                "label_en": result.indices.at[construct, "label_en"],
                "from_wave": bundle.wave,
                "to_wave": str(result.config.wave),
                "before": bundle.indices.at[construct, "index"],
                "now": result.indices.at[construct, "index"],
                **change,
            }
        )
    table = pd.DataFrame(rows)
    if not table.empty:
        table["level"] = ci
        table["significant"] = excludes_zero(table["ci_lower"], table["ci_upper"])
    return table


def by_wave(bundles: Sequence[Bundle]) -> dict[str, list[Bundle]]:
    """The bundles of each wave (waves in order, regions in order); one bundle per region and wave."""
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
