"""Run every regional study through its notebook with papermill, then the cross-region comparison.

Every run writes into a new folder ``studies/<id>/output/<run-id>/`` and nothing earlier is
touched. A region's waves run in order within one task, so a later wave's report finds the
earlier wave's bundle of the same run for its change since the previous wave. Each report is
written once per language, ``report.<language>.html``.

Run ids. A batch draws one id (time + random digits) and creates all its study run folders with
it up front (:func:`csi_research.output.reserve_run_dirs`): if any exists already the id is
given back and another drawn, so concurrent batches never share an id or split one batch
across ``<id>`` and ``<id>-2``, and a batch only ever reports the folders it made. A folder that
cannot be created (read-only, a file in the way) fails its own study with one clear message.

Child processes. Each study's notebooks run in a child process (``python -m
csi_research._execute``, see there) in its own session; a worker thread per region only
starts it and waits, polling a stop request every 0.1 s. papermill in a thread cannot be
interrupted, a process can: on a stop the worker freezes the child (SIGSTOP, so it cannot start
another kernel), sends SIGTERM to its descendants — the kernels, which jupyter_client starts in
sessions of their own, so a process group would miss them — kills the child, and SIGKILLs
whatever is still alive after a short grace. The per-study work is the plain function
:func:`execute_study` (task in, :class:`NotebookRun` out), ready to become a Dask task.

Interruption. When called from the main thread, ``run_batch`` turns SIGINT and SIGTERM into a
stop request (previous handlers are restored on return; from other threads, where Python allows
no handlers, pass ``stop=`` instead): no new study starts, running ones are stopped within about
a second, and ``run_batch`` returns a :class:`BatchResult` with ``interrupted=True`` whose studies
are "ok", "failed", "interrupted" or "not started". A run folder holds an ``INCOMPLETE`` marker
from its creation until its study ends (ok or failed, the failure in ``error.txt``); an
interrupted or not-started study keeps it, with the reason and time, and no bundle under it is
ever read (:func:`csi_research.bundle.read_bundle`).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from csi_research._execute import report_path, write_error
from csi_research.errors import ModelSpecError
from csi_research.options import LANGUAGES
from csi_research.output import claim_run_dir, mark_finished, mark_incomplete, reserve_run_dirs

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
REGIONAL = "regional_study.ipynb"
COMPARISON = "cross_region_comparison.ipynb"
COMPARISON_DIR = "_comparison"
COMPARISON_NAME = "cross-region comparison"

STATUSES = ("ok", "failed", "interrupted", "not started")
POLL = 0.1  # seconds between a running study's checks for a stop request
GRACE = 0.5  # seconds a kernel gets to exit on SIGTERM before it is killed
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

__all__ = ["BatchResult", "NotebookRun", "StopRequest", "StudyTask", "discover_studies", "execute_study",
           "report_path", "run_batch"]


@dataclass(frozen=True)
class NotebookRun:
    """One study's executed notebooks (one per language): where its outputs are, how it ended.

    ``status`` is one of :data:`STATUSES`; ``error`` says what went wrong or why it stopped.
    ``output_dir`` is None only for a comparison that never started (it had no folder yet).
    """

    name: str
    output_dir: Path | None
    status: str
    seconds: float = 0.0
    error: str = ""
    languages: tuple[str, ...] = ("zh",)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {', '.join(STATUSES)}")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def reports(self) -> tuple[Path, ...]:
        folder = self.output_dir
        return () if folder is None else tuple(report_path(folder, lang) for lang in self.languages)

    @property
    def report(self) -> Path:
        """The report in the first language asked for."""
        return self.reports[0]


@dataclass(frozen=True)
class BatchResult:
    """What a batch did. ``interrupted``: it was asked to stop (``stopped_by`` names the signal)."""

    run_id: str
    studies: tuple[NotebookRun, ...]
    comparison: NotebookRun | None
    interrupted: bool = False
    stopped_by: str = ""

    @property
    def runs(self) -> tuple[NotebookRun, ...]:
        return (*self.studies, *([self.comparison] if self.comparison else []))

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.runs)

    def summary(self) -> pd.DataFrame:
        runs = self.runs
        return pd.DataFrame(
            {
                "study": [r.name for r in runs],
                "status": ["FAILED" if r.status == "failed" else r.status for r in runs],
                "seconds": [round(r.seconds, 1) for r in runs],
                "report or error": [", ".join(map(str, r.reports)) if r.ok else r.error for r in runs],
            }
        )


class StopRequest(threading.Event):
    """A request to stop a batch, settable from any thread; ``reason`` says who asked (e.g. "SIGINT")."""

    def __init__(self) -> None:
        super().__init__()
        self.reason = ""

    def request(self, reason: str) -> None:
        if not self.is_set():
            self.reason = reason
            self.set()


@dataclass(frozen=True)
class StudyTask:
    """One notebook execution: plain data, so it can be handed to another process or a Dask worker."""

    name: str
    notebook: Path
    output_dir: Path
    params: dict[str, Any] = field(default_factory=dict)
    languages: tuple[str, ...] = ("zh",)


def discover_studies(
    root: str | Path, only: Sequence[str] | None = None, exclude: Sequence[str] | None = None
) -> list[Path]:
    """Study folders (those with a ``study.yaml``) under ``root``, filtered by folder name.

    ``root`` may also be one study's folder or its ``study.yaml``. A missing folder, a folder
    without studies, or a name in ``only``/``exclude`` that is no study here raise
    ``ModelSpecError`` naming what was looked for and what there is.
    """
    root = Path(root)
    if root.is_file() and root.name == "study.yaml":
        root = root.parent
    if not root.is_dir():
        raise ModelSpecError(f"{root}: no such folder; pass the folder that holds the studies "
                             "(e.g. studies/) or one study's folder")
    if (root / "study.yaml").is_file():
        return [root]
    found = sorted(p.parent for p in root.glob("*/study.yaml"))
    if not found:
        raise ModelSpecError(f"{root}: no study.yaml found in its sub-folders; create one with "
                             "`csi-research new-study SURVEY_FILE`")
    names = sorted(p.name for p in found)
    for name in [*(only or []), *(exclude or [])]:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ModelSpecError(f"{root}: no study named {name!r}{hint}; studies here: {', '.join(names)}")
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
    stop: StopRequest | None = None,
) -> BatchResult:
    """Execute the regional notebook for every study under ``root``, then the comparison notebook.

    ``language``: "zh", "en", "both", or None for each study's own ``language:``. ``stop``: set it
    (from any thread) to stop the batch as SIGINT/SIGTERM do; the result is returned either way,
    never raised (see the module docstring).
    """
    root = Path(root).resolve()  # the notebooks get absolute paths: their kernels start elsewhere
    studies = discover_studies(root, only, exclude)
    if studies == [root.parent if root.is_file() else root]:  # one study named: compare beside it
        root = studies[0].parent
    if not studies:
        raise ModelSpecError(f"{root}: every study is excluded; nothing to run")
    chains = _region_chains(studies)
    notebooks = Path(notebooks).resolve()
    workers = max(1, min(workers or os.cpu_count() or 1, len(chains)))
    stop = stop if stop is not None else StopRequest()

    with _stop_on_signals(stop):
        ordered = [study for chain in chains for study in chain]
        run_id, folders = reserve_run_dirs([study / "output" for study in ordered])
        reserved = dict(zip(ordered, folders, strict=True))
        bar = _progress(len(studies), progress, "studies")
        lock = threading.Lock()

        def advance() -> None:
            if bar is not None:
                with lock:
                    bar.update(1)

        def chain(region_studies: list[Path]) -> list[NotebookRun]:
            done: list[NotebookRun] = []
            previous: Path | None = None
            for study in region_studies:
                out, languages = reserved[study], _languages(study, language)
                if isinstance(out, OSError):
                    done.append(NotebookRun(study.name, study / "output" / run_id, "failed",
                                            error=_folder_error(study / "output" / run_id, out),
                                            languages=languages))
                else:
                    params = {"study_path": str(study / "study.yaml"), "quick": quick,
                              "previous_bundle": str(previous) if previous else "auto"}
                    task = StudyTask(study.name, notebooks / REGIONAL, out, params, languages)
                    done.append(execute_study(task, stop))
                    previous = out / "bundle" if done[-1].ok else None
                advance()
            return done

        runs: list[NotebookRun] = []
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="csi-study") as pool:
            pending = {pool.submit(chain, c) for c in chains}
            while pending:  # short waits: the main thread stays free to run a signal handler
                finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in finished:
                    runs.extend(future.result())
        if bar is not None:
            bar.close()
        runs.sort(key=lambda r: r.name)

        compared = None
        bundles = [str(r.output_dir / "bundle") for r in runs if r.ok and r.output_dir is not None]
        if comparison and bundles:
            compared = _compare(root, run_id, notebooks, bundles, quick, _languages(None, language), stop)
    return BatchResult(run_id=run_id, studies=tuple(runs), comparison=compared, interrupted=stop.is_set(),
                       stopped_by=stop.reason)


def _compare(root: Path, run_id: str, notebooks: Path, bundles: list[str], quick: bool,
             languages: tuple[str, ...], stop: StopRequest) -> NotebookRun:
    parent = root / COMPARISON_DIR / "output"
    if stop.is_set():
        return NotebookRun(COMPARISON_NAME, None, "not started", error=_not_started(stop),
                           languages=languages)
    try:
        out = claim_run_dir(parent, run_id)
    except OSError as exc:
        return NotebookRun(COMPARISON_NAME, parent / run_id, "failed",
                           error=_folder_error(parent / run_id, exc), languages=languages)
    task = StudyTask(COMPARISON_NAME, notebooks / COMPARISON, out, {"bundle_dirs": bundles, "quick": quick},
                     languages)
    return execute_study(task, stop)


def execute_study(task: StudyTask, stop: threading.Event | None = None) -> NotebookRun:
    """Execute one task's notebooks in a child process and wait for it; stop it when ``stop`` is set.

    ``task.output_dir`` must exist (the batch reserved it, with an ``INCOMPLETE`` marker). When
    the study ends, ok or failed, the marker is removed (a failure is in ``error.txt``); when it
    is stopped, or never starts because ``stop`` was set first, the marker gets the reason.
    """
    out = task.output_dir
    if stop is not None and stop.is_set():
        _mark(out, f"not started: {_why(stop)} came first")
        return NotebookRun(task.name, out, "not started", error=_not_started(stop), languages=task.languages)
    start = time.perf_counter()
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        try:
            # files, not pipes: a kernel outliving the child could hold a pipe open and hang the read
            child = _spawn(task, stdout, stderr)
        except OSError as exc:
            error = f"cannot start the notebook process: {exc}"
            return _failed(task, start, error, error)
        if not _wait(child, stop):
            seconds = time.perf_counter() - start
            _mark(out, f"interrupted by {_why(stop)} after {seconds:.1f} s; its files are partial")
            return NotebookRun(task.name, out, "interrupted", seconds,
                               f"interrupted by {_why(stop)}; {out} is marked INCOMPLETE", task.languages)
        outcome = _outcome(child.returncode, stdout, stderr)
    if outcome["ok"]:
        mark_finished(out)
        return NotebookRun(task.name, out, "ok", time.perf_counter() - start, "", task.languages)
    return _failed(task, start, outcome["error"], outcome.get("details", ""))


def _failed(task: StudyTask, start: float, error: str, details: str = "") -> NotebookRun:
    if details:
        write_error(task.output_dir, f"{error}\n\n{details}")
    mark_finished(task.output_dir)  # ended: the failure is in error.txt, the folder is not in progress
    seconds = time.perf_counter() - start
    return NotebookRun(task.name, task.output_dir, "failed", seconds, error, task.languages)


def _spawn(task: StudyTask, stdout: Any, stderr: Any) -> subprocess.Popen:
    payload = json.dumps({"notebook": str(task.notebook), "output_dir": str(task.output_dir),
                          "params": task.params, "languages": list(task.languages)})
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[1])  # the child imports this very package
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return subprocess.Popen(
        [sys.executable, "-m", "csi_research._execute", payload], stdin=subprocess.DEVNULL,
        stdout=stdout, stderr=stderr, env=env,
        start_new_session=True,  # a terminal's Ctrl-C reaches the batch only, which decides what stops
    )


def _wait(child: subprocess.Popen, stop: threading.Event | None) -> bool:
    """Wait for ``child``; True when it ended by itself, False when ``stop`` made us end it."""
    while True:
        try:
            child.wait(timeout=POLL)
            return True
        except subprocess.TimeoutExpired:
            if stop is not None and stop.is_set():
                _end_process_tree(child)
                return False


def _end_process_tree(child: subprocess.Popen, grace: float = GRACE) -> None:
    """Stop ``child`` and every process it started (its kernels), killing what does not stop in time."""
    try:
        import psutil
    except ImportError:  # without psutil only the child is killed; its kernel notices and exits
        child.kill()
        child.wait()
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(child.pid, signal.SIGSTOP)  # frozen, it cannot start a kernel we would then miss
    try:
        family = psutil.Process(child.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    for process in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    child.kill()  # the child's own work is only partial files: no grace needed
    child.wait()
    deadline = time.monotonic() + grace
    while (alive := [p for p in family if _running(p)]) and time.monotonic() < deadline:
        time.sleep(0.02)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def _running(process: Any) -> bool:
    import psutil

    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _outcome(code: int, stdout: Any, stderr: Any) -> dict[str, Any]:
    """The child's verdict: its last stdout line, or, when it died without one, what it left on stderr."""
    stdout.seek(0)
    lines = stdout.read().decode("utf-8", "replace").strip().splitlines()
    try:
        verdict = json.loads(lines[-1]) if lines else None
    except ValueError:
        verdict = None
    if isinstance(verdict, dict) and "ok" in verdict:
        return {"ok": bool(verdict["ok"]), "error": str(verdict.get("error", ""))}
    stderr.seek(0)
    details = stderr.read().decode("utf-8", "replace").strip()
    last = details.splitlines()[-1] if details else "no message"
    how = f"signal {-code}" if code < 0 else f"exit code {code}"
    return {"ok": False, "error": f"the notebook process ended with {how}: {last}", "details": details}


def _mark(folder: Path, reason: str) -> None:
    with contextlib.suppress(OSError):  # a folder that cannot take the marker is reported by its status
        mark_incomplete(folder, reason)


def _why(stop: threading.Event | None) -> str:
    return getattr(stop, "reason", "") or "a stop request"


def _not_started(stop: threading.Event) -> str:
    return f"not started: the batch was stopped ({_why(stop)})"


def _folder_error(folder: Path, exc: OSError) -> str:
    """One line for a run folder that cannot be created, naming the folder and what to do."""
    above = [folder.parent, *folder.parent.parents]
    blocking = next((p for p in above if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        why = f"{blocking} is a file, not a folder; move it away"
    elif isinstance(exc, PermissionError):
        why = f"permission denied; make {folder.parent} writable"
    else:
        why = f"{exc.strerror or exc}"
    return f"cannot write the run folder {folder}: {why}; the study was not run"


@contextlib.contextmanager
def _stop_on_signals(stop: StopRequest) -> Iterator[None]:
    """SIGINT and SIGTERM request ``stop`` while the block runs (main thread only: Python's rule)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        stop.request(signal.Signals(signum).name)

    previous: dict[int, Callable | int | None] = {}
    for sig in STOP_SIGNALS:
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


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


def _progress(total: int, enabled: bool, unit: str) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc="csi-research")
