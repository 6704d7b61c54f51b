"""Run every regional study through its notebook with papermill, then the cross-region comparison.

Each study runs in its own kernel (papermill), so one failing study cannot take the others
down; threads are enough to run them in parallel because the work happens in the kernels.
Every run writes into a new folder ``studies/<id>/output/<run-id>/`` and nothing earlier is
touched. A region's waves run in order within one task, so a later wave's report finds the
earlier wave's bundle of the same run for its change since the previous wave. Each report is
written once per language, ``report.<language>.html``.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from csi_research.options import LANGUAGES
from csi_research.output import new_run_dir, new_run_id, write_atomic

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
REGIONAL = "regional_study.ipynb"
COMPARISON = "cross_region_comparison.ipynb"
COMPARISON_DIR = "_comparison"


@dataclass(frozen=True)
class NotebookRun:
    """One study's executed notebooks (one per language): where its outputs are, the error if any."""

    name: str
    output_dir: Path
    ok: bool
    seconds: float
    error: str = ""
    languages: tuple[str, ...] = ("zh",)

    @property
    def reports(self) -> tuple[Path, ...]:
        return tuple(report_path(self.output_dir, lang) for lang in self.languages)

    @property
    def report(self) -> Path:
        """The report in the first language asked for."""
        return self.reports[0]


def report_path(folder: Path, language: str) -> Path:
    return folder / f"report.{language}.html"


@dataclass(frozen=True)
class BatchResult:
    run_id: str
    studies: tuple[NotebookRun, ...]
    comparison: NotebookRun | None

    @property
    def ok(self) -> bool:
        runs = [*self.studies, *([self.comparison] if self.comparison else [])]
        return all(r.ok for r in runs)

    def summary(self) -> pd.DataFrame:
        runs = [*self.studies, *([self.comparison] if self.comparison else [])]
        return pd.DataFrame(
            {
                "study": [r.name for r in runs],
                "status": ["ok" if r.ok else "FAILED" for r in runs],
                "seconds": [round(r.seconds, 1) for r in runs],
                "report or error": [", ".join(map(str, r.reports)) if r.ok else r.error for r in runs],
            }
        )


def discover_studies(
    root: str | Path, only: Sequence[str] | None = None, exclude: Sequence[str] | None = None
) -> list[Path]:
    """Study folders (those with a ``study.yaml``) under ``root``, filtered by folder name."""
    root = Path(root)
    if (root / "study.yaml").exists():
        return [root]
    found = sorted(p.parent for p in root.glob("*/study.yaml"))
    names = {p.name for p in found}
    for name in [*(only or []), *(exclude or [])]:
        if name not in names:
            raise ValueError(f"{root}: no study named {name!r}; studies here: {', '.join(sorted(names))}")
    if only:
        found = [p for p in found if p.name in set(only)]
    return [p for p in found if p.name not in set(exclude or [])]


def run_batch(
    root: str | Path = "studies",
    *,
    workers: int | None = None,
    quick: bool = False,
    only: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    progress: bool = True,
    comparison: bool = True,
    notebooks: str | Path = NOTEBOOKS,
    language: str | None = None,
) -> BatchResult:
    """Execute the regional notebook for every study under ``root``, then the comparison notebook.

    ``language``: "zh", "en", "both", or None for each study's own ``language:``.
    """
    root = Path(root).resolve()  # the notebooks get absolute paths: their kernels start elsewhere
    studies = discover_studies(root, only, exclude)
    if not studies:
        raise ValueError(f"{root}: no study.yaml found in its sub-folders")
    chains = _region_chains(studies)
    run_id = new_run_id()
    notebooks = Path(notebooks)
    workers = max(1, min(workers or os.cpu_count() or 1, len(chains)))

    def chain(region_studies: list[Path]) -> list[NotebookRun]:
        done: list[NotebookRun] = []
        previous: Path | None = None
        for study in region_studies:
            out = new_run_dir(study / "output", run_id)
            params = {"study_path": str(study / "study.yaml"), "quick": quick,
                      "previous_bundle": str(previous) if previous else "auto"}
            languages = _languages(study, language)
            run = _execute_languages(study.name, notebooks / REGIONAL, out, params, languages)
            done.append(run)
            previous = out / "bundle" if run.ok else None
        return done

    runs: list[NotebookRun] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(chain, c) for c in chains]
        bar = _progress(len(studies), progress, "studies")
        for future in as_completed(futures):
            finished = future.result()
            runs.extend(finished)
            if bar is not None:
                bar.update(len(finished))
        if bar is not None:
            bar.close()
    runs.sort(key=lambda r: r.name)

    compared = None
    bundles = [str(r.output_dir / "bundle") for r in runs if r.ok]
    if comparison and bundles:
        out = new_run_dir(root / COMPARISON_DIR / "output", run_id)
        params = {"bundle_dirs": bundles, "quick": quick}
        compared = _execute_languages("cross-region comparison", notebooks / COMPARISON, out, params,
                                      _languages(None, language))
    return BatchResult(run_id=run_id, studies=tuple(runs), comparison=compared)


def _region_chains(studies: list[Path]) -> list[list[Path]]:
    """Studies grouped by region, each region's waves in order (earlier waves first)."""
    from csi_research.studyconfig import StudyConfig
    from csi_research.waves import wave_key

    keyed: dict[str, list[tuple[Any, Path]]] = {}
    for study in studies:
        try:
            config = StudyConfig.from_yaml(study)
            region, wave = config.region_id, wave_key(config.wave)
        except Exception:  # a broken study file fails in its own run, with its own message
            region, wave = f"\0{study.name}", wave_key("")
        keyed.setdefault(region, []).append((wave, study))
    return [[s for _, s in sorted(group)] for group in keyed.values()]


def _languages(study: Path | None, language: str | None) -> tuple[str, ...]:
    if language == "both":
        return LANGUAGES
    if language is not None:
        return (language,)
    if study is None:
        return (LANGUAGES[0],)
    from csi_research.studyconfig import StudyConfig

    try:
        return (StudyConfig.from_yaml(study).language,)
    except Exception:  # the run itself reports the broken file
        return (LANGUAGES[0],)


def _execute_languages(
    name: str, notebook: Path, out: Path, params: dict, languages: tuple[str, ...]
) -> NotebookRun:
    """Execute ``notebook`` once per language; the first run saves the bundle, all write a report."""
    start = time.perf_counter()
    for k, lang in enumerate(languages):
        executed = out / f"{notebook.stem}.{lang}.ipynb"
        run_params = {**params, "language": lang, "output_dir": str(out) if k == 0 else None}
        try:
            import papermill

            papermill.execute_notebook(
                str(notebook), str(executed), parameters=run_params, progress_bar=False,
                kernel_name="python3",  # no cwd=: papermill would chdir the whole process under our threads
                extra_arguments=["--log-level=ERROR"],  # kernel start-up chatter is not the user's business
            )
            write_atomic(report_path(out, lang), _html(executed, lang))
        except Exception as exc:  # a failing study is reported, never allowed to stop the batch
            error = _error_line(exc)
            write_atomic(out / "error.txt", f"{error}\n\n{traceback.format_exc()}")
            return NotebookRun(name, out, False, time.perf_counter() - start, error, languages)
    return NotebookRun(name, out, True, time.perf_counter() - start, "", languages)


def _error_line(exc: Exception) -> str:
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:  # papermill's execution error carries the kernel's exception
        return f"{ename}: {evalue}".splitlines()[0]
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def _html(executed: Path, language: str) -> str:
    """The executed notebook as a report for readers: outputs only — no code, no notebook prose.

    The page title is the one the report's first section carries in its display metadata.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(executed), as_version=4)
    titles = [o.get("metadata", {}).get("csi_report", {}).get("title")
              for cell in nb.cells for o in cell.get("outputs", [])]
    nb.metadata["title"] = next((t for t in titles if t), executed.stem)
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                            exclude_markdown=True, language_code="zh-CN" if language == "zh" else "en")
    body, _ = exporter.from_notebook_node(nb)
    return body


def _progress(total: int, enabled: bool, unit: str) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc="csi-research")
