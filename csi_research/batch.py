"""Run every regional study through its notebook with papermill, then the cross-region comparison.

Each study runs in its own kernel (papermill), so one failing study cannot take the others
down; threads are enough to run them in parallel because the work happens in the kernels.
Every run writes into a new folder ``studies/<id>/output/<run-id>/`` and nothing earlier is
touched.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from csi_research.output import new_run_dir, new_run_id, write_atomic

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
REGIONAL = "regional_study.ipynb"
COMPARISON = "cross_region_comparison.ipynb"
COMPARISON_DIR = "_comparison"


@dataclass(frozen=True)
class NotebookRun:
    """One executed notebook: where its outputs are, and the error line if it failed."""

    name: str
    output_dir: Path
    ok: bool
    seconds: float
    error: str = ""

    @property
    def report(self) -> Path:
        return self.output_dir / "report.html"


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
                "report or error": [str(r.report) if r.ok else r.error for r in runs],
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
) -> BatchResult:
    """Execute the regional notebook for every study under ``root``, then the comparison notebook."""
    root = Path(root).resolve()  # the notebooks get absolute paths: their kernels start elsewhere
    studies = discover_studies(root, only, exclude)
    if not studies:
        raise ValueError(f"{root}: no study.yaml found in its sub-folders")
    run_id = new_run_id()
    notebooks = Path(notebooks)
    workers = max(1, min(workers or os.cpu_count() or 1, len(studies)))

    def one(study: Path) -> NotebookRun:
        out = new_run_dir(study / "output", run_id)
        params = {"study_path": str(study / "study.yaml"), "output_dir": str(out), "quick": quick}
        return _execute(study.name, notebooks / REGIONAL, out, params)

    runs: list[NotebookRun] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(one, s) for s in studies]
        for future in _progress(as_completed(futures), len(futures), progress, "studies"):
            runs.append(future.result())
    runs.sort(key=lambda r: r.name)

    compared = None
    bundles = [str(r.output_dir / "bundle") for r in runs if r.ok]
    if comparison and bundles:
        out = new_run_dir(root / COMPARISON_DIR / "output", run_id)
        params = {"bundle_dirs": bundles, "output_dir": str(out), "quick": quick}
        compared = _execute("cross-region comparison", notebooks / COMPARISON, out, params)
    return BatchResult(run_id=run_id, studies=tuple(runs), comparison=compared)


def _execute(name: str, notebook: Path, out: Path, params: dict) -> NotebookRun:
    import papermill

    start = time.perf_counter()
    executed = out / notebook.name
    try:
        papermill.execute_notebook(
            str(notebook), str(executed), parameters=params, progress_bar=False,
            kernel_name="python3",  # no cwd=: papermill would chdir the whole process under our threads
            extra_arguments=["--log-level=ERROR"],  # the kernel's start-up chatter is not the user's business
        )
        write_atomic(out / "report.html", _html(executed))
    except Exception as exc:  # a failing study is reported, never allowed to stop the batch
        error = _error_line(exc)
        write_atomic(out / "error.txt", f"{error}\n\n{traceback.format_exc()}")
        return NotebookRun(name, out, False, time.perf_counter() - start, error)
    return NotebookRun(name, out, True, time.perf_counter() - start)


def _error_line(exc: Exception) -> str:
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:  # papermill's execution error carries the kernel's exception
        return f"{ename}: {evalue}".splitlines()[0]
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def _html(executed: Path) -> str:
    """The executed notebook as a report for readers: outputs only, code hidden."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(str(executed), as_version=4))
    return body


def _progress(iterable, total: int, enabled: bool, unit: str):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, unit=unit, desc="csi-research")
