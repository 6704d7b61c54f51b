"""Run every regional study through its notebook with papermill, then the cross-region comparison.

Every run writes into a new folder ``studies/<id>/output/<run-id>/`` and nothing earlier is
touched. A region's waves run in order within one task, so a later wave's report finds the
earlier wave's bundle of the same run for its change since the previous wave. Each report is
written once per language, ``report.<language>.html``.

Run ids. A batch draws one id (time + random digits) and creates all its study run folders with
it up front (:func:`csi_research.core.output.reserve_run_dirs`): if any exists already the id is
given back and another drawn, so concurrent batches never share an id or split one batch
across ``<id>`` and ``<id>-2``, and a batch only ever reports the folders it made. A folder that
cannot be created (read-only, a file in the way) fails its own study with one clear message.

Child processes. Each study's notebooks run in a child process of their own, in its own session;
a worker thread per region only starts it and waits, polling a stop request every 0.1 s.
papermill in a thread cannot be interrupted, a process can. Starting Python, importing the
scientific stack and starting a kernel cost several times what a quick study computes, so each
process that runs studies (each Dask worker) keeps a warm "zygote" (see
:mod:`csi_research.run.zygote`), started with the batch, and the child is a fork of it that runs
the notebook on an in-process kernel: every study still starts from the same clean state in a
process of its own. Where fork is unavailable, or no zygote is ready, the child is ``python -m
csi_research.run.execute`` with a kernel process, giving the same files. On a stop the worker
freezes the child (SIGSTOP, so it cannot start another kernel), sends SIGTERM to its descendants
— kernels, which jupyter_client starts in sessions of their own, so a process group would miss
them — kills the child's process group, and SIGKILLs whatever is still alive after a short grace.
The per-study work is the plain function :func:`execute_study` (task in, :class:`NotebookRun` out).

Dask. Each region chain is one Dask task: on a local cluster of ``workers`` processes (one thread
each) started for the batch, or on a running cluster (``scheduler=``; its workers must import this
package and see the same paths). A study's own failure is a result, never an exception, so it is
never retried and never touches another chain; a task that raises, or whose worker dies, is tried
again (``retries``, and the scheduler's allowed failures for lost workers) and picks up where the
lost attempt stopped: studies that ended are kept, a partial one starts afresh in its folder, once
the lost attempt's process is gone and its files are cleared, so each study ends in exactly one
run folder. Every attempt is a line in the folder's ``attempts.jsonl``; a study started more than
once is reported as retried (:attr:`NotebookRun.attempts`, the summary's "attempts" column). A
stop sets a distributed Event named after the run id, which the running tasks poll like a local
stop; tasks that do not report within :data:`STOP_WAIT` are cancelled and their folders marked
here. Closing the local cluster ends its worker processes; a notebook process whose worker
disappears ends itself and its kernel (see :mod:`csi_research.run.execute`).

Resume. Each run folder records its inputs (``inputs.json``: hashes of study.yaml and the files
it names, the package version, the dependency versions, quick mode, languages, and the earlier
wave's fingerprint). With ``resume=True`` a study whose latest run folder finished well with the
same fingerprint is not run again: its run is reported as reused (:attr:`NotebookRun.reused`) and
the comparison reads its bundle. A changed wave makes every later wave of its region run again.

Interruption. When called from the main thread, ``run_batch`` turns SIGINT and SIGTERM into a
stop request (previous handlers are restored on return; from other threads, where Python allows
no handlers, pass ``stop=`` instead): no new study starts, running ones are stopped within about
a second, and ``run_batch`` returns a :class:`BatchResult` with ``interrupted=True`` whose studies
are "ok", "failed", "interrupted" or "not started". A run folder holds an ``INCOMPLETE`` marker
from its creation until its study ends (ok or failed, the failure in ``error.txt``); an
interrupted or not-started study keeps it, with the reason and time, and no bundle under it is
ever read (:func:`csi_research.study.bundle.read_bundle`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from csi_research.core import options
from csi_research.core.errors import ModelSpecError
from csi_research.core.options import LANGUAGES
from csi_research.core.output import (
    INCOMPLETE,
    claim_run_dir,
    dumps_json,
    mark_finished,
    mark_incomplete,
    reserve_run_dirs,
    write_atomic,
)
from csi_research.core.process import child_env
from csi_research.run import zygote as warm
from csi_research.run.execute import document_path, report_path, write_error
from csi_research.study.config import discover_studies

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
REGIONAL = "regional_study.ipynb"
COMPARISON = "cross_region_comparison.ipynb"
COMPARISON_DIR = "_comparison"
COMPARISON_NAME = "cross-region comparison"

STATUSES = ("ok", "failed", "interrupted", "not started")
POLL = 0.1  # seconds between a running study's checks for a stop request
GRACE = 0.5  # seconds a kernel gets to exit on SIGTERM before it is killed
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOP_WAIT = 1.5  # seconds the batch waits for stopped tasks to report before it marks their folders itself
RETRIES = 2  # a chain task that raised (not a study that failed: that is a result) is tried again
INPUTS = "inputs.json"  # a run folder's input fingerprint, for --resume
REPORT_MODES = ("all", "on-demand")  # every study's reports, or bundles now and reports when asked for
ATTEMPTS = "attempts.jsonl"  # one line per attempt at a study in this run folder (see _record_attempt)
LOST_GRACE = 2.0  # seconds a lost attempt on another machine gets to end itself before its files are cleared
LOST_WAIT = 10.0  # seconds a lost attempt's process on this machine gets to end before it is killed
ZYGOTE_WAIT = 120.0  # seconds the batch waits for its workers' zygotes to warm up (then: the slow path)

__all__ = ["BatchResult", "NotebookRun", "StopRequest", "StudyTask", "execute_study",
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
    reused: str = ""  # with --resume: the id of the earlier run whose folder this is
    attempts: int = 1  # how many times the study was started; more than one: a worker was lost
    on_demand: bool = False  # the batch saved the bundle only; ``csi-research report`` draws the reports

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {', '.join(STATUSES)}")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def retried(self) -> bool:
        """Started again after the worker running it was lost (its partial files were cleared first)."""
        return self.attempts > 1

    @property
    def reports(self) -> tuple[Path, ...]:
        """The HTML reports, one per language (not yet drawn when :attr:`on_demand`)."""
        folder = self.output_dir
        return () if folder is None else tuple(report_path(folder, lang) for lang in self.languages)

    @property
    def documents(self) -> tuple[Path, ...]:
        """The Word versions of :attr:`reports` (absent in a run folder of a version before them)."""
        folder = self.output_dir
        return () if folder is None else tuple(document_path(folder, lang) for lang in self.languages)

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

    @property
    def retried(self) -> tuple[str, ...]:
        """The studies started more than once because a worker running them was lost."""
        return tuple(r.name for r in self.runs if r.retried)

    def summary(self) -> pd.DataFrame:
        runs = self.runs
        return pd.DataFrame(
            {
                "study": [r.name for r in runs],
                "status": ["FAILED" if r.status == "failed" else "reused" if r.reused else r.status
                           for r in runs],
                "seconds": [round(r.seconds, 1) for r in runs],
                "attempts": [r.attempts for r in runs],
                "report or error": [_shown(r) for r in runs],
            }
        )


def _shown(run: NotebookRun) -> str:
    if not run.ok:
        return run.error
    shown = (f"bundle {run.output_dir / 'bundle'}; reports on demand: csi-research report {run.output_dir}"
             if run.on_demand else ", ".join(map(str, run.reports)))
    return (f"reused {run.reused}: " if run.reused else "") + shown


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
    reports: str = "all"  # "on-demand": compute and save the bundle, and what draws the reports later


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
    scheduler: str | None = None,
    resume: bool = False,
    reports: str = "all",
) -> BatchResult:
    """Execute the regional notebook for every study under ``root``, then the comparison notebook.

    ``language``: "zh", "en", "both", or None for each study's own ``language:``. ``stop``: set it
    (from any thread) to stop the batch as SIGINT/SIGTERM do; the result is returned either way,
    never raised (see the module docstring). ``scheduler``: the address of a running Dask
    scheduler to send the studies to (its workers must see the same files); None starts a local
    cluster of ``workers`` processes. ``resume``: reuse each study's last complete run when its
    inputs are unchanged (see :mod:`csi_research.run.batch`). ``reports``: "all" draws every study's
    reports; "on-demand" (for a national programme of hundreds of regions) saves each study's bundle
    — every number and table — and the comparison with its national and provincial figures, and
    leaves each region's reports to :func:`csi_research.run.on_demand.draw_reports` (``csi-research
    report <run folder>``), which draws exactly the reports "all" would have.
    """
    options.choice(reports, REPORT_MODES, "reports")
    root = Path(root).resolve()  # the notebooks get absolute paths: their kernels start elsewhere
    studies = discover_studies(root, only, exclude)
    if studies == [root.parent if root.is_file() else root]:  # one study named: compare beside it
        root = studies[0].parent
    if not studies:
        raise ModelSpecError(f"{root}: every study is excluded; nothing to run")
    chains, configs = _region_chains(studies)
    notebooks = Path(notebooks).resolve()
    stop = stop if stop is not None else StopRequest()
    languages = {study: _languages(study, language) for study in studies}
    prints = _chain_fingerprints(chains, quick, languages, reports)
    reused = _reusable(chains, prints) if resume else {}

    with _stop_on_signals(stop):
        ordered = [study for chain in chains for study in chain if study not in reused]
        run_id, folders = reserve_run_dirs([study / "output" for study in ordered])
        reserved = dict(zip(ordered, folders, strict=True))
        for study, folder in reserved.items():
            if isinstance(folder, Path):
                _write_inputs(folder, prints[study])
        earlier = _previous_waves(chains, reused, configs)
        specs = [_chain_spec(chain, reserved, reused, run_id, notebooks, quick, languages,
                             earlier.get(chain[0], "auto"), reports) for chain in chains]
        runs = [NotebookRun(s.name, reused[s], "ok", languages=languages[s], reused=reused[s].name,
                            on_demand=reports == "on-demand")
                for s in studies if s in reused]
        todo = [spec for spec in specs if spec]
        needs_engine = any(isinstance(item[1], StudyTask) for spec in todo for item in spec)
        if stop.is_set() or not needs_engine:
            runs.extend(run for spec in todo for run in _run_chain(spec, stop))
            runs.sort(key=lambda r: r.name)
            compared = _maybe_compare(None, root, run_id, notebooks, runs, comparison, quick, language, stop)
        else:
            count = max(1, min(workers or os.cpu_count() or 1, len(todo)))
            with _engine(scheduler, count) as client, _warm_workers(client, stop, todo):
                runs.extend(_run_on_cluster(client, todo, run_id, stop, progress))
                runs.sort(key=lambda r: r.name)
                compared = _maybe_compare(client, root, run_id, notebooks, runs, comparison, quick, language,
                                          stop)
    return BatchResult(run_id=run_id, studies=tuple(runs), comparison=compared, interrupted=stop.is_set(),
                       stopped_by=stop.reason)


# A chain item: (study name, the task or the reason it cannot run, its languages); the first item's
# previous bundle comes with the chain (a reused earlier wave, or one found before the batch began),
# later ones follow from the chain.
ChainItem = tuple[str, "StudyTask | str", tuple[str, ...], Path]


def _chain_spec(chain: list[Path], reserved: dict[Path, Path | OSError], reused: dict[Path, Path],
                run_id: str, notebooks: Path, quick: bool,
                languages: dict[Path, tuple[str, ...]], earlier: str | None = "auto",
                reports: str = "all") -> list[ChainItem]:
    items: list[ChainItem] = []
    previous = earlier  # the previous wave of the chain's first study to run
    for study in chain:
        if study in reused:
            previous = str(reused[study] / "bundle")
            continue
        out = reserved[study]
        if isinstance(out, OSError):
            folder = study / "output" / run_id
            items.append((study.name, _folder_error(folder, out), languages[study], folder))
            continue
        params = {"study_path": str(study / "study.yaml"), "quick": quick,
                  "previous_bundle": "auto" if items else previous}
        task = StudyTask(study.name, notebooks / REGIONAL, out, params, languages[study], reports)
        items.append((study.name, task, languages[study], out))
    return items


def _run_chain(items: list[ChainItem], stop: Any = None) -> list[NotebookRun]:
    """One region's waves in order: a later wave reads the bundle an earlier one saved in this run.

    Safe to run again after a worker was lost mid-chain: a study that ended in an earlier attempt
    (its folder no longer marked) is reported as it ended, an interrupted one starts afresh.
    """
    done: list[NotebookRun] = []
    previous: Path | None = None
    for name, task, languages, folder in items:
        if isinstance(task, str):
            done.append(NotebookRun(name, folder, "failed", error=task, languages=languages))
            continue
        if previous is not None and task.params.get("previous_bundle") == "auto":
            task = StudyTask(task.name, task.notebook, task.output_dir,
                             {**task.params, "previous_bundle": str(previous)}, task.languages, task.reports)
        run = _ended(task) or execute_study(task, stop)
        done.append(run)
        previous = task.output_dir / "bundle" if run.ok else None
    return done


def _ended(task: StudyTask) -> NotebookRun | None:
    """How an earlier attempt at ``task`` ended, if it did (a retried chain); None: run it."""
    out = task.output_dir
    if (out / INCOMPLETE).exists() or not out.is_dir():
        if out.is_dir():
            _await_lost_attempts(out)
            _clear_partial(out)
        return None
    attempts = max(1, len(_attempts(out)))
    error = out / "error.txt"
    if error.is_file():
        line = error.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return NotebookRun(task.name, out, "failed", error=line[0] if line else "failed",
                           languages=task.languages, attempts=attempts)
    return NotebookRun(task.name, out, "ok", languages=task.languages, attempts=attempts,
                       on_demand=task.reports == "on-demand")


# Which studies were retried. Dask reschedules a task whose worker died, but neither the task nor
# the batch is told so, and the scheduler's transition log is bounded and lives in the scheduler,
# which a batch sent to a cluster may not be able to question (and which forgets on a restart).
# The run folder is what every attempt shares, so each attempt appends one line to its folder's
# ATTEMPTS file (host, worker and study process ids) once its study process is started: a
# study's attempt count is that file's length, read where the study ends, whoever collects it.
# The line also names the lost attempt's process, so that its retry can make sure it is gone
# before clearing its partial files (a process still writing there would mix two attempts).
def _attempts(out: Path) -> list[dict[str, Any]]:
    try:
        lines = (out / ATTEMPTS).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    records = []
    for line in lines:
        with contextlib.suppress(ValueError):
            records.append(json.loads(line))
    return [r for r in records if isinstance(r, dict)]


def _record_attempt(out: Path, pid: int) -> int:
    """Append this attempt (its study process ``pid``) to the folder's ATTEMPTS file; its number."""
    import socket

    record: dict[str, Any] = {"attempt": len(_attempts(out)) + 1, "host": socket.gethostname(),
                              "worker_pid": os.getpid(), "pid": pid, "started": time.time()}
    with contextlib.suppress(Exception):
        import psutil

        record["created"] = psutil.Process(pid).create_time()
    try:
        with open(out / ATTEMPTS, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
    except OSError:  # without the line only the retry count is lost
        pass
    return int(record["attempt"])


def _await_lost_attempts(out: Path, wait: float | None = None, grace: float | None = None) -> None:
    """Make sure the processes of earlier, lost attempts at this study no longer write into ``out``.

    A study process ends itself when its worker dies (see :mod:`csi_research.run.execute`); one
    on this machine is waited for, and killed with its process group after ``wait`` seconds; one
    on another machine cannot be seen from here and gets ``grace`` seconds, several times the
    half second it needs to notice.
    """
    import socket

    wait = LOST_WAIT if wait is None else wait
    grace = LOST_GRACE if grace is None else grace
    records = _attempts(out)
    here = socket.gethostname()
    if any(r.get("host") != here for r in records):
        time.sleep(grace)
    try:
        import psutil
    except ImportError:
        time.sleep(grace)
        return
    lost = []
    for record in records:
        if record.get("host") != here:
            continue
        with contextlib.suppress(Exception):
            process = psutil.Process(int(record["pid"]))
            if "created" not in record or abs(process.create_time() - float(record["created"])) < 0.01:
                lost.append(process)  # the very process, not a later one given the same pid
    deadline = time.monotonic() + wait
    while (alive := [p for p in lost if _running(p)]) and time.monotonic() < deadline:
        time.sleep(POLL)
    for process in alive:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # a study process leads its own process group
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def _clear_partial(out: Path) -> None:
    """Remove what a lost attempt of this very run left in its folder (never the marker)."""
    import shutil

    for path in out.iterdir():
        if path.name in (INCOMPLETE, INPUTS, ATTEMPTS):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def _engine(scheduler: str | None, workers: int) -> Iterator[Any]:
    """A Dask client: on the cluster at ``scheduler``, or on a local cluster of ``workers`` processes."""
    import logging

    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, set_as_default=False) as client:
            yield client
        return
    from multiprocessing import resource_tracker

    tracker = getattr(resource_tracker, "_resource_tracker", None)
    tracked = tracker is not None and getattr(tracker, "_pid", None) is not None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR, worker_dashboard_address=None)
    client = Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.close(timeout=2)
        with contextlib.suppress(Exception):
            cluster.close(timeout=2)
        if tracker is not None and not tracked:  # the helper process the cluster's start left: ours to end
            with contextlib.suppress(Exception):
                tracker._stop()


def _stop_name(run_id: str) -> str:
    return f"csi-research-stop-{run_id}"


class _ClusterStop:
    """The batch's stop request as seen on a Dask worker: a distributed Event named after the run."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.reason = ""
        self._event: Any = None
        self._set = False

    def is_set(self) -> bool:
        if self._set:
            return True
        from distributed import Event, Variable, get_client

        if self._event is None:
            self._event = Event(self.name, client=get_client())
        if self._event.is_set():
            with contextlib.suppress(Exception):
                self.reason = str(Variable(self.name, client=get_client()).get(timeout=1))
            self._set = True
        return self._set


def _chain_task(items: list[ChainItem], stop_name: str) -> list[NotebookRun]:
    """The Dask task: one region chain, stopped through the run's distributed Event."""
    return _run_chain(items, _ClusterStop(stop_name))


def _run_on_cluster(client: Any, specs: list[list[ChainItem]], run_id: str, stop: StopRequest,
                    progress: bool) -> list[NotebookRun]:
    """Submit one task per chain, collect their runs; on a stop, tell the workers and wait briefly."""
    from distributed import Event, Variable

    name = _stop_name(run_id)
    total = sum(len(spec) for spec in specs)
    bar = _progress(total, progress, "studies")
    futures = {client.submit(_chain_task, spec, name, key=f"csi-chain-{run_id}-{k}", pure=False,
                             retries=RETRIES, priority=len(specs) - k): k for k, spec in enumerate(specs)}
    results: dict[int, list[NotebookRun]] = {}
    told_at: float | None = None
    while futures:
        if stop.is_set() and told_at is None:
            Variable(name, client=client).set(stop.reason or "a stop request")
            Event(name, client=client).set()
            told_at = time.monotonic()
        for future in [f for f in futures if f.done()]:
            k = futures.pop(future)
            results[k] = _collect(future, specs[k])
            if bar is not None:
                bar.update(len(specs[k]))
        if told_at is not None and time.monotonic() - told_at > STOP_WAIT:
            break
        time.sleep(0.05)
    for future, k in futures.items():  # still running after a stop: the worker did not answer in time
        future.cancel()
        results[k] = [_abandoned(item, stop) for item in specs[k]]
    if bar is not None:
        bar.close()
    with contextlib.suppress(Exception):
        Event(name, client=client).clear()
    return [run for k in sorted(results) for run in results[k]]


def _collect(future: Any, spec: list[ChainItem]) -> list[NotebookRun]:
    try:
        return future.result()
    except Exception as exc:  # the worker died too often, or the task could not run there at all
        error = f"the worker running it failed: {type(exc).__name__}: {exc}".splitlines()[0]
        runs = []
        for name, task, languages, folder in spec:
            if isinstance(task, str):
                runs.append(NotebookRun(name, folder, "failed", error=task, languages=languages))
            else:
                runs.append(_ended(task) or _failed(task, time.perf_counter(), error, error))
        return runs


def _abandoned(item: ChainItem, stop: StopRequest) -> NotebookRun:
    """A study whose task did not report back after a stop: interrupted if it had begun, else not started."""
    name, task, languages, folder = item
    if isinstance(task, str):
        return NotebookRun(name, folder, "failed", error=task, languages=languages)
    ended = _ended_quietly(task)
    if ended is not None:
        return ended
    began = any(p.name not in (INCOMPLETE, INPUTS) for p in task.output_dir.iterdir())
    if began:
        _mark(task.output_dir, f"interrupted by {_why(stop)}; its files are partial")
        return NotebookRun(name, task.output_dir, "interrupted",
                           error=f"interrupted by {_why(stop)}; {task.output_dir} is marked INCOMPLETE",
                           languages=languages)
    _mark(task.output_dir, f"not started: {_why(stop)} came first")
    return NotebookRun(name, task.output_dir, "not started", error=_not_started(stop), languages=languages)


def _ended_quietly(task: StudyTask) -> NotebookRun | None:
    return None if (task.output_dir / INCOMPLETE).exists() else _ended(task)


def _maybe_compare(client: Any, root: Path, run_id: str, notebooks: Path, runs: list[NotebookRun],
                   comparison: bool, quick: bool, language: str | None,
                   stop: StopRequest) -> NotebookRun | None:
    bundles = [str(r.output_dir / "bundle") for r in runs if r.ok and r.output_dir is not None]
    if not (comparison and bundles):
        return None
    return _compare(root, run_id, notebooks, bundles, quick, _languages(None, language), stop, client)


def _compare(root: Path, run_id: str, notebooks: Path, bundles: list[str], quick: bool,
             languages: tuple[str, ...], stop: StopRequest, client: Any = None) -> NotebookRun:
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
    if client is None:
        return execute_study(task, stop)
    spec = [(task.name, task, languages, out)]
    return _run_on_cluster(client, [spec], f"{run_id}-comparison", stop, False)[0]


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
        attempt = _record_attempt(out, child.pid)
        if not _wait(child, stop):
            seconds = time.perf_counter() - start
            _mark(out, f"interrupted by {_why(stop)} after {seconds:.1f} s; its files are partial")
            return NotebookRun(task.name, out, "interrupted", seconds,
                               f"interrupted by {_why(stop)}; {out} is marked INCOMPLETE", task.languages,
                               attempts=attempt)
        outcome = _outcome(child.returncode, stdout, stderr)
    if outcome["ok"]:
        mark_finished(out)
        return NotebookRun(task.name, out, "ok", time.perf_counter() - start, "", task.languages,
                           attempts=attempt, on_demand=task.reports == "on-demand")
    return _failed(task, start, outcome["error"], outcome.get("details", ""))


def _failed(task: StudyTask, start: float, error: str, details: str = "") -> NotebookRun:
    if details:
        write_error(task.output_dir, f"{error}\n\n{details}")
    mark_finished(task.output_dir)  # ended: the failure is in error.txt, the folder is not in progress
    seconds = time.perf_counter() - start
    return NotebookRun(task.name, task.output_dir, "failed", seconds, error, task.languages,
                       attempts=max(1, len(_attempts(task.output_dir))))


def _spawn(task: StudyTask, stdout: Any, stderr: Any) -> Any:
    """The study's process: a fork of this process's idle warm zygote if there is one, else a new Python."""
    payload = json.dumps({"notebook": str(task.notebook), "output_dir": str(task.output_dir),
                          "params": task.params, "languages": list(task.languages), "reports": task.reports})
    zygote = warm.take_zygote()
    if zygote is not None:
        try:
            return zygote.spawn(payload, stdout, stderr)
        except (OSError, ValueError, subprocess.TimeoutExpired):  # it broke: this study takes the slow path
            zygote.close()
    return subprocess.Popen(
        [sys.executable, "-m", "csi_research.run.execute", payload], stdin=subprocess.DEVNULL,
        stdout=stdout, stderr=stderr, env=child_env(),
        start_new_session=True,  # a terminal's Ctrl-C reaches the batch only, which decides what stops
    )


@contextlib.contextmanager
def _warm_workers(client: Any, stop: threading.Event, specs: list[list[ChainItem]]) -> Iterator[None]:
    """A warm zygote on every worker before the studies are sent; all of them closed at the end.

    Each rehearses the batch's first study once (into a temporary folder) to pay the first-call
    costs up front. Waiting for them is start-up, like starting the workers: it ends at once on a
    stop, and after :data:`ZYGOTE_WAIT` the studies go ahead on the slow path.
    """
    first = next((item[1] for spec in specs for item in spec if isinstance(item[1], StudyTask)), None)
    rehearsal = None if first is None else {
        "notebook": str(first.notebook), "params": {**first.params, "previous_bundle": None},
        "languages": list(first.languages)}
    try:
        with contextlib.suppress(Exception):
            client.run(warm.start_zygotes, 1, rehearsal)
            deadline = time.monotonic() + ZYGOTE_WAIT
            while not stop.is_set() and time.monotonic() < deadline:
                if all(client.run(warm.zygotes_settled, POLL).values()):
                    break
        yield
    finally:
        with contextlib.suppress(Exception):
            client.run(warm.close_zygotes)


def _wait(child: Any, stop: threading.Event | None) -> bool:
    """Wait for ``child``; True when it ended by itself, False when ``stop`` made us end it."""
    while True:
        try:
            child.wait(timeout=POLL)
            return True
        except subprocess.TimeoutExpired:
            if stop is not None and stop.is_set():
                _end_process_tree(child)
                return False


def _end_process_tree(child: Any, grace: float = GRACE) -> None:
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


def _region_chains(studies: list[Path]) -> tuple[list[list[Path]], dict[Path, Any]]:
    """Studies grouped by region, each region's waves in order (earlier waves first); and the
    studies' configurations (those that can be read)."""
    from csi_research.study.config import StudyConfig
    from csi_research.study.waves import wave_key

    keyed: dict[str, list[tuple[Any, Path]]] = {}
    configs: dict[Path, Any] = {}
    for study in studies:
        try:
            config = configs[study] = StudyConfig.from_yaml(study)
            region, wave = config.region_id, wave_key(config.wave)
        except Exception:  # a broken study file fails in its own run, with its own message
            region, wave = f"\0{study.name}", wave_key("")
        keyed.setdefault(region, []).append((wave, study))
    return [[s for _, s in sorted(group)] for group in keyed.values()], configs


def _previous_waves(chains: list[list[Path]], reused: dict[Path, Path],
                    configs: dict[Path, Any]) -> dict[Path, str | None]:
    """The previous wave's bundle (or None) of each chain's first study, unless an earlier wave is reused.

    What the notebook finds with ``previous_bundle="auto"``, found here for every chain from one
    reading of the bundles beside the studies: read by each study, they would be read once per
    study, hundreds of times in a national batch. (No bundle of the same region can appear while
    the batch runs but its own chain's.)
    """
    from csi_research.study.waves import find_previous, finished_bundles

    bundles: dict[Path, list[tuple[str, Any, Path]]] = {}
    found: dict[Path, str | None] = {}
    for first in (chain[0] for chain in chains):
        config = configs.get(first)
        if first in reused or config is None:
            continue
        folder = Path(config.path).parent.parent
        if folder not in bundles:
            bundles[folder] = finished_bundles(folder)
        previous = find_previous(config, bundles=bundles[folder])
        found[first] = str(previous) if previous is not None else None
    return found


def _languages(study: Path | None, language: str | None) -> tuple[str, ...]:
    if language == "both":
        return LANGUAGES
    if language is not None:
        return (language,)
    if study is None:
        return (LANGUAGES[0],)
    from csi_research.study.config import StudyConfig

    try:
        return (StudyConfig.from_yaml(study).language,)
    except Exception:  # the run itself reports the broken file
        return (LANGUAGES[0],)


def _progress(total: int, enabled: bool, unit: str) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc="csi-research")


# ---------------------------------------------------------------- --resume
def _file_digest(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def study_inputs(study: Path, quick: bool, languages: tuple[str, ...],
                 versions: dict[str, str] | None = None) -> dict[str, Any]:
    """What a study's results depend on: its files' hashes, the package and dependency versions, the options.

    Files named in ``study.yaml`` (data, codebook, model, industry evaluation, internal indicators)
    are hashed by content; "default" stands for the package's own file, covered by its version.
    ``versions`` (default :func:`csi_research.core.versions.package_versions`) are the resolved
    versions of what can move a number: "same inputs, same bytes" holds for one set of them, so a
    run made with another numpy or semopy is not reused. A study file that cannot be read gives
    only its own hash: such a study is never reused.
    """
    from csi_research.core import __version__
    from csi_research.core.versions import package_versions
    from csi_research.core.yamlfile import read_yaml

    yaml_path = study / "study.yaml"
    inputs: dict[str, Any] = {"study.yaml": _file_digest(yaml_path), "package": __version__,
                              "versions": versions if versions is not None else package_versions(),
                              "quick": quick, "languages": list(languages)}
    try:
        raw = read_yaml(yaml_path, "study file")
    except Exception:
        return {**inputs, "unreadable": True}
    for key in ("data", "codebook", "model", "industry_evaluation", "internal_indicators"):
        value = raw.get(key) if isinstance(raw, dict) else None
        if isinstance(value, str) and value != "default":
            path = (study / value).resolve()
            inputs[key] = _file_digest(path) if path.is_file() else f"missing: {path}"
    return inputs


def _chain_fingerprints(chains: list[list[Path]], quick: bool, languages: dict[Path, tuple[str, ...]],
                        reports: str = "all") -> dict[Path, dict[str, Any]]:
    """Each study's inputs and fingerprint; a later wave's includes the earlier one's. A run whose
    reports are left on demand is a different run (fingerprints of full runs are as before)."""
    import hashlib

    from csi_research.core.versions import package_versions

    versions = package_versions()  # once for the batch: the same for every study
    prints: dict[Path, dict[str, Any]] = {}
    for chain in chains:
        previous = ""
        for study in chain:
            inputs = {**study_inputs(study, quick, languages[study], versions), "previous_wave": previous,
                      **({"reports": reports} if reports != "all" else {})}
            digest = hashlib.sha256(dumps_json(inputs).encode("utf-8")).hexdigest()
            prints[study] = {"fingerprint": digest, "inputs": inputs}
            previous = digest
    return prints


def _write_inputs(folder: Path, record: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):  # without it the run is only never reused
        write_atomic(folder / INPUTS, dumps_json(record))


def last_run(study: Path) -> tuple[Path | None, str]:
    """A study's latest run folder and how it ended: "ok", "failed", "incomplete" (None, "none": no run)."""
    parent = study / "output"
    folders = sorted(p for p in parent.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if parent.is_dir() else []
    if not folders:
        return None, "none"
    last = folders[-1]
    if (last / INCOMPLETE).exists():
        return last, "incomplete"
    if (last / "error.txt").exists() or not (last / "bundle" / "results.json").is_file():
        return last, "failed"
    return last, "ok"


def _reusable(chains: list[list[Path]], prints: dict[Path, dict[str, Any]]) -> dict[Path, Path]:
    """Studies whose last run is complete with the same input fingerprint, and all earlier waves so too."""
    reused: dict[Path, Path] = {}
    for chain in chains:
        for study in chain:
            folder, state = last_run(study)
            if folder is None or state != "ok" or _recorded(folder) != prints[study]["fingerprint"]:
                break  # this wave and every later one run again
            reused[study] = folder
    return reused


def _recorded(folder: Path) -> str | None:
    try:
        return str(json.loads((folder / INPUTS).read_text(encoding="utf-8"))["fingerprint"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
