"""Draw a region's reports on demand, from a run folder a batch with ``reports="on-demand"`` saved.

A national programme of hundreds of regions needs every region's numbers at once (the bundles, the
comparison and the national report with one figure per province), but each region's own report
only when someone reads it. Such a batch saves, per study, the bundle and the task that would have
drawn its reports (``report_task.json``: the notebook, its parameters — the earlier wave's bundle
included — and the languages). :func:`draw_reports` runs that task later, in the run folder, and
so draws the very report the batch would have drawn: the same sections, tables and figures, byte
for byte, provided the study's files and the package and dependency versions are still the ones
the run recorded (``inputs.json``), which it checks first.

Nothing in the folder is replaced: a report already there is kept, and a new one is drawn in a
private staging folder and linked into place only when complete, so a failure leaves no partial
file and no ``error.txt`` (the run itself ended well; the error is raised to the caller).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from csi_research.core import options
from csi_research.core.errors import ModelSpecError
from csi_research.core.options import LANGUAGES
from csi_research.core.output import INCOMPLETE
from csi_research.run.batch import INPUTS, study_inputs
from csi_research.run.execute import ERROR_FILE, REPORT_TASK, document_path, execute_language, report_path

IGNORED = ("previous_wave", "reports")  # fingerprint entries that describe the run, not the study's inputs


def draw_reports(folder: str | Path, language: str | None = None) -> tuple[Path, ...]:
    """The HTML reports of the run folder's study in ``language`` ("zh", "en", "both"; None: the
    run's own languages), drawing those not yet drawn (with their Word versions); their paths."""
    folder = Path(folder).resolve()
    task = _task(folder)
    languages = (LANGUAGES if language == "both" else (language,) if language else tuple(task["languages"]))
    for lang in languages:
        options.choice(lang, LANGUAGES, "language")
    _check_inputs(folder, task)
    notebook = Path(task["notebook"])
    for lang in languages:
        if not report_path(folder, lang).exists():
            _draw(folder, notebook, task["params"], lang)
    return tuple(report_path(folder, lang) for lang in languages)


def _task(folder: Path) -> dict[str, Any]:
    if not folder.is_dir():
        raise ModelSpecError(f"{folder}: no such run folder")
    if (folder / INCOMPLETE).exists():
        raise ModelSpecError(f"{folder}: this run did not finish (see {INCOMPLETE}); run the study again")
    if (folder / ERROR_FILE).exists():
        raise ModelSpecError(f"{folder}: this study failed (see {ERROR_FILE}); there is no bundle to report")
    path = folder / REPORT_TASK
    if not path.is_file():
        drawn = sorted(p.name for p in folder.glob("report.*.html"))
        runs = sorted(p for p in (folder / "output").glob("*") if (p / REPORT_TASK).is_file())
        raise ModelSpecError(
            f"{folder}: not a run folder of a batch with reports on demand (no {REPORT_TASK})"
            + (f"; its reports are drawn already: {', '.join(drawn)}" if drawn else "")
            + (f"; this study's latest such run folder is {runs[-1]}" if runs else ""))
    try:
        task = json.loads(path.read_text(encoding="utf-8"))
        _ = task["notebook"], task["params"]["study_path"], list(task["languages"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelSpecError(f"{path}: unreadable ({exc}); run the study again") from None
    return task


def _check_inputs(folder: Path, task: dict[str, Any]) -> None:
    """Refuse when what the study's numbers depend on has changed since the run: the report would
    not show the bundle's numbers."""
    try:
        recorded = json.loads((folder / INPUTS).read_text(encoding="utf-8"))["inputs"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ModelSpecError(f"{folder}: {INPUTS} is missing or unreadable, so the study's inputs cannot "
                             "be checked against this run; run the study again") from None
    study = Path(task["params"]["study_path"]).parent
    now = study_inputs(study, bool(recorded.get("quick")), tuple(recorded.get("languages", ())))
    changed = [key for key in sorted(set(now) | set(recorded))
               if key not in IGNORED and now.get(key) != recorded.get(key)]
    if changed:
        details = [_change(key, recorded.get(key), now.get(key)) for key in changed]
        raise ModelSpecError(
            f"{folder}: {'; '.join(details)} since this run, so a report drawn now would not show the "
            "numbers of its bundle; run the study again (csi-research run ... --reports on-demand)")


def _change(key: str, before: Any, now: Any) -> str:
    if key == "versions" and isinstance(before, dict) and isinstance(now, dict):
        moved = [f"{name} {before.get(name)} → {now.get(name)}" for name in sorted(set(before) | set(now))
                 if before.get(name) != now.get(name)]
        return f"package versions changed ({', '.join(moved)})"
    return f"{key} changed"


def _draw(folder: Path, notebook: Path, params: dict[str, Any], language: str) -> None:
    """One language's report, Word version and executed notebook, staged and then linked in place."""
    staging = Path(tempfile.mkdtemp(prefix=f".report-{language}-", dir=folder))
    try:
        ok, error = execute_language(notebook, staging, params, language, first=False)
        if not ok:
            details = (staging / ERROR_FILE).read_text(encoding="utf-8", errors="replace") \
                if (staging / ERROR_FILE).is_file() else error
            raise ModelSpecError(f"{folder}: the {language} report could not be drawn: {details}")
        executed = f"{notebook.stem}.{language}.ipynb"
        for name in (executed, document_path(folder, language).name, report_path(folder, language).name):
            if not (folder / name).exists():  # a link fails rather than replace a file made meanwhile
                os.link(staging / name, folder / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
