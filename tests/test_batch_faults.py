"""Faults around a batch: interruption, concurrent batches, kernel start races, unwritable folders,
half-written bundles and duplicate bundles. Every test also checks that no earlier file changed.

Real notebook executions take several seconds each, so only a handful of tests run one (on a
tiny studies folder of copied study files with a small bootstrap); the rest test the pieces.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
from faults import Snapshot

from csi_research.core import output
from csi_research.core.errors import ModelSpecError
from csi_research.core.output import INCOMPLETE, incomplete, mark_finished, mark_incomplete, reserve_run_dirs
from csi_research.run import batch
from csi_research.run.batch import StopRequest, StudyTask, execute_study, run_batch
from csi_research.run.execute import kernel_options
from csi_research.study.bundle import load_bundle, load_bundles, read_bundle, write_bundle

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
CLI = Path(sys.executable).with_name("csi-research")
STOP_WITHIN = 3.0  # seconds from the signal to the batch's exit (the goal is 2; CI machines are slow)


@pytest.fixture(autouse=True)
def repo_unchanged():
    """No test here may modify the project's data, notebooks or study files."""
    snapshot = Snapshot(REPO / "data", REPO / "notebooks", *sorted(REPO.glob("studies/*/study.yaml")))
    yield
    snapshot.unchanged(appended=(INCOMPLETE,))


def make_studies(root: Path, names: tuple[str, ...] = ("linxi-2025",), quick_n_boot: int = 30) -> Path:
    """Copies of the project's study files, pointing at its data, in English, with a tiny bootstrap."""
    for name in names:
        lines = []
        for line in (REPO / "studies" / name / "study.yaml").read_text(encoding="utf-8").splitlines():
            if line.startswith("data:"):
                line = f"data: {REPO / 'data' / (name.replace('-', '_') + '.csv')}"
            elif line.startswith("service_records:"):
                line = f"service_records: {REPO / 'data' / (name.replace('-', '_') + '_records.csv')}"
            elif line.startswith("language:"):
                line = "language: en"
            elif line.strip().startswith("quick_n_boot:"):
                line = f"  quick_n_boot: {quick_n_boot}"
            lines.append(line)
        (root / name).mkdir(parents=True)
        (root / name / "study.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def sample_results(region: str = "linxi", wave: str = "2026") -> dict:
    return {
        "study": {"region_id": region, "region_zh": "临溪", "region_en": "Linxi", "wave": wave},
        "ci": 0.95,
        "values": {"n": 300, "target": "Satisfaction"},
        "tables": {"indices": [
            {"construct": "Satisfaction", "index": 72.5, "ci_lower": 70.0, "ci_upper": 75.0},
        ]},
    }


def sample_draws() -> pd.DataFrame:
    return pd.DataFrame({"Satisfaction": [72.0 + k / 100 for k in range(120)]})


ZYGOTE = "csi_research.run.zygote"  # a study forked from a warm zygote has the zygote's command line


def running_studies(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Processes executing a notebook: a kernel process, or a study forked from a warm zygote."""
    out = []
    for p in processes:
        try:
            if "ipykernel" in " ".join(p.cmdline()) or (
                    ZYGOTE in " ".join(p.cmdline()) and ZYGOTE in " ".join(p.parent().cmdline())):
                out.append(p)
        except (psutil.Error, AttributeError):
            continue
    return out


def alive(processes: list[psutil.Process]) -> list[int]:
    """Pids still running (a zombie has ended: it only waits to be reaped by whoever adopted it)."""
    return [p.pid for p in processes if batch._running(p)]


def wait_for_study(process: subprocess.Popen, timeout: float = 90) -> list[psutil.Process]:
    """Wait until the batch ``process`` has a study's notebook running below it; return its descendants."""
    parent = psutil.Process(process.pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        family = parent.children(recursive=True)
        if running_studies(family):
            time.sleep(0.5)  # let the kernel get to work, so the stop meets a busy one
            return parent.children(recursive=True)
        time.sleep(0.05)
    raise AssertionError("no study started")


def markers(root: Path) -> dict[str, str]:
    return {p.parent.parent.parent.name: p.read_text(encoding="utf-8")
            for p in root.glob(f"*/output/*/{INCOMPLETE}")}


# ---------------------------------------------------------------- run ids
def test_concurrent_reservations_get_distinct_ids_each_whole(tmp_path):
    parents = [tmp_path / name / "output" for name in ("a", "b", "c")]
    snapshot = Snapshot(tmp_path)
    with_ids: list[tuple[str, list]] = []
    threads = [threading.Thread(target=lambda: with_ids.append(reserve_run_dirs(parents))) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [run_id for run_id, _ in with_ids]
    assert len(set(ids)) == 16
    for run_id, folders in with_ids:
        assert folders == [parent / run_id for parent in parents]  # one id for all of a batch's folders
    for parent in parents:
        assert sorted(p.name for p in parent.iterdir()) == sorted(ids)  # no "<id>-2": nothing split
    snapshot.unchanged(appended=(INCOMPLETE,))


def test_a_taken_id_is_given_back_whole_and_another_drawn(tmp_path, monkeypatch):
    parents = [tmp_path / "a" / "output", tmp_path / "b" / "output"]
    (parents[1] / "20260101-000000-aaaaaa").mkdir(parents=True)  # another batch's folder, in the 2nd parent
    (parents[1] / "20260101-000000-aaaaaa" / "report.en.html").write_text("theirs", encoding="utf-8")
    snapshot = Snapshot(tmp_path)
    ids = iter(["20260101-000000-aaaaaa", "20260101-000000-bbbbbb"])
    monkeypatch.setattr(output, "new_run_id", lambda now=None: next(ids))
    run_id, folders = reserve_run_dirs(parents)
    assert run_id == "20260101-000000-bbbbbb"
    assert folders == [parents[0] / run_id, parents[1] / run_id]
    assert [p.name for p in parents[0].iterdir()] == [run_id]  # the half-made first try was given back
    assert all((f / INCOMPLETE).is_file() for f in folders)
    snapshot.unchanged(appended=(INCOMPLETE,))


def test_marker_is_a_log_with_times_and_finishing_removes_it(tmp_path):
    run = output.claim_run_dir(tmp_path / "output", "r1")
    with pytest.raises(FileExistsError):
        output.claim_run_dir(tmp_path / "output", "r1")  # exactly this name or nothing: no "-2"
    mark_incomplete(run, "interrupted by SIGTERM")
    lines = (run / INCOMPLETE).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and "run r1 started by process" in lines[0] and lines[1].endswith("SIGTERM")
    assert lines[1][:4].isdigit()  # each line starts with its time
    assert "interrupted by SIGTERM" in incomplete(run)
    assert "interrupted by SIGTERM" in incomplete(run / "bundle")  # a bundle inside an unfinished run
    mark_finished(run)
    assert incomplete(run) is None and list(run.iterdir()) == []


# ---------------------------------------------------------------- bundles: visible only when complete
def test_bundle_is_invisible_until_complete_figures_included(tmp_path):
    final = tmp_path / "run" / "bundle"
    final.parent.mkdir()
    (final.parent / "report.en.html").write_text("earlier", encoding="utf-8")
    snapshot = Snapshot(tmp_path)
    seen: list[list[str]] = []

    def figures(folder: Path) -> None:
        seen.append(sorted(p.name for p in final.parent.iterdir()))
        assert not final.exists() and (folder.parent / "results.json").is_file()
        folder.mkdir()
        (folder / "indices.png").write_bytes(b"png")

    write_bundle(final, sample_results(), sample_draws(), {}, figures=figures)
    assert seen[0][0].startswith(".bundle.tmp-") and "bundle" not in seen[0]
    assert sorted(p.name for p in final.parent.iterdir()) == ["bundle", "report.en.html"]
    assert (final / "figures" / "indices.png").read_bytes() == b"png"
    assert read_bundle(final)[0] == sample_results()
    snapshot.unchanged(appended=(INCOMPLETE,))


def test_a_failed_save_leaves_neither_a_bundle_nor_a_temporary_folder(tmp_path):
    snapshot = Snapshot(tmp_path)

    def broken_figures(folder: Path) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_bundle(tmp_path / "bundle", sample_results(), sample_draws(), {}, figures=broken_figures)
    assert list(tmp_path.iterdir()) == []
    snapshot.unchanged(appended=(INCOMPLETE,))


def test_an_existing_bundle_folder_is_refused_even_when_empty(tmp_path):
    (tmp_path / "empty").mkdir()
    full = write_bundle(tmp_path / "full", sample_results(), sample_draws(), {})
    snapshot = Snapshot(tmp_path)
    for folder in (tmp_path / "empty", full):
        with pytest.raises(FileExistsError, match="never overwritten"):
            write_bundle(folder, sample_results("beiling"), sample_draws(), {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "full"]  # no staging folder left
    assert list((tmp_path / "empty").iterdir()) == []
    snapshot.unchanged(appended=(INCOMPLETE,))


def test_read_bundle_refuses_unfinished_runs_and_temporary_folders(tmp_path):
    run = tmp_path / "output" / "r1"
    bundle = write_bundle(run / "bundle", sample_results(), sample_draws(), {})
    mark_incomplete(run, "interrupted by SIGINT after 3.0 s; its files are partial")
    own = write_bundle(tmp_path / "own", sample_results(), sample_draws(), {})
    mark_incomplete(own, "killed while saving")
    staging = write_bundle(tmp_path / ".bundle.tmp-1a2b3c4d", sample_results(), sample_draws(), {})
    snapshot = Snapshot(tmp_path)
    for folder, says in ((bundle, "interrupted by SIGINT"), (own, "killed while saving"),
                         (staging, "never finished")):
        for read in (read_bundle, load_bundle):
            with pytest.raises(ModelSpecError, match=says) as info:
                read(folder)
            assert str(folder) in str(info.value)
    snapshot.unchanged()  # refusing reads nothing into the folders
    mark_finished(run)
    assert read_bundle(bundle)[0]["study"]["region_id"] == "linxi"  # finished: readable again


def test_load_bundles_refuses_one_region_wave_twice_naming_both_folders(tmp_path):
    first = write_bundle(tmp_path / "run1" / "bundle", sample_results(), sample_draws(), {})
    second = write_bundle(tmp_path / "run2" / "bundle", {**sample_results(wave=2026)}, sample_draws(), {})
    other = write_bundle(tmp_path / "run3" / "bundle", sample_results(wave="2025"), sample_draws(), {})
    snapshot = Snapshot(tmp_path)
    with pytest.raises(ModelSpecError, match="two bundles for region linxi wave 2026") as info:
        load_bundles([first, other, second])
    assert str(first) in str(info.value) and str(second) in str(info.value)
    with pytest.raises(ModelSpecError, match="two bundles"):
        load_bundles([other, other])  # one folder given twice
    assert [b.wave for b in load_bundles([first, other])] == ["2025", "2026"]
    snapshot.unchanged(appended=(INCOMPLETE,))


# ---------------------------------------------------------------- stopping without notebooks
def test_a_stop_before_the_start_leaves_every_folder_marked_and_restores_handlers(tmp_path):
    root = make_studies(tmp_path / "studies", ("linxi-2025", "donggang-2025", "donggang-2026"))
    snapshot = Snapshot(root)

    def mine(signum, frame):
        raise AssertionError("the batch's handler must be in place while it runs")

    before = {sig: signal.signal(sig, mine) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stop = StopRequest()
        stop.request("a test")
        result = run_batch(root, quick=True, progress=False, stop=stop)
        assert signal.getsignal(signal.SIGINT) is mine and signal.getsignal(signal.SIGTERM) is mine
    finally:
        for sig, old in before.items():
            signal.signal(sig, old)
    assert result.interrupted and result.stopped_by == "a test" and not result.ok
    assert [r.status for r in result.studies] == ["not started"] * 3
    assert result.comparison is None  # nothing to compare: no study finished
    assert {r.output_dir.name for r in result.studies} == {result.run_id}
    found = markers(root)
    assert sorted(found) == ["donggang-2025", "donggang-2026", "linxi-2025"]
    assert all("not started: a test came first" in text for text in found.values())
    assert set(result.summary()["status"]) == {"not started"}
    snapshot.unchanged(appended=(INCOMPLETE,))


def test_run_batch_from_another_thread_installs_no_handlers(tmp_path):
    root = make_studies(tmp_path / "studies")
    snapshot = Snapshot(root)
    handler = signal.getsignal(signal.SIGINT)
    stop = StopRequest()
    stop.set()  # any Event-style set works too; the reason is then generic
    results: list = []
    worker = threading.Thread(target=lambda: results.append(run_batch(root, progress=False, stop=stop)))
    worker.start()
    worker.join(30)
    assert results, "run_batch raised in a thread (signal handlers can only be set in the main thread)"
    assert results[0].interrupted and results[0].studies[0].status == "not started"
    assert "a stop request" in results[0].studies[0].error
    assert signal.getsignal(signal.SIGINT) is handler
    snapshot.unchanged(appended=(INCOMPLETE,))


def stubborn_tree() -> list[str]:
    """A child like ours, with a grandchild in a session of its own that ignores SIGTERM (a hung kernel)."""
    grandchild = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    child = (f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {grandchild!r}], "
             "start_new_session=True); time.sleep(60)")
    return [PYTHON, "-c", child]


def test_a_stop_ends_the_child_and_kills_a_kernel_that_ignores_sigterm(tmp_path, monkeypatch):
    out = output.claim_run_dir(tmp_path / "output", "r1")
    snapshot = Snapshot(tmp_path)
    spawned: list[subprocess.Popen] = []

    def spawn(task, stdout, stderr):
        spawned.append(subprocess.Popen(stubborn_tree(), stdout=stdout, stderr=stderr,
                                        start_new_session=True))
        return spawned[-1]

    monkeypatch.setattr(batch, "_spawn", spawn)
    stop = StopRequest()
    family: list[psutil.Process] = []

    def stop_later() -> None:
        while not family:
            time.sleep(0.05)
            if spawned:
                family.extend(psutil.Process(spawned[0].pid).children(recursive=True))
        stop.request("SIGTERM")

    threading.Thread(target=stop_later, daemon=True).start()
    run = execute_study(StudyTask("x", Path("unused.ipynb"), out, {}, ("en",)), stop)
    stopped = time.monotonic()
    assert run.status == "interrupted" and "interrupted by SIGTERM" in run.error
    assert "interrupted by SIGTERM" in (out / INCOMPLETE).read_text(encoding="utf-8")
    assert spawned[0].returncode is not None and family
    while alive(family) and time.monotonic() - stopped < 2:
        time.sleep(0.05)
    assert not alive(family), "the grandchild outlived the stop"
    snapshot.unchanged(appended=(INCOMPLETE,))


def test_a_crashed_child_is_one_failed_study_with_its_stderr_kept(tmp_path, monkeypatch):
    snapshot = Snapshot(tmp_path)  # before the run folder: its marker is the run's own, removed at the end
    out = output.claim_run_dir(tmp_path / "output", "r1")

    def spawn(task, stdout, stderr):
        code = "import sys; sys.stderr.write('Traceback...\\nMemoryError: out of memory\\n'); sys.exit(5)"
        return subprocess.Popen([PYTHON, "-c", code], stdout=stdout, stderr=stderr)

    monkeypatch.setattr(batch, "_spawn", spawn)
    run = execute_study(StudyTask("x", Path("unused.ipynb"), out, {}, ("en",)))
    assert run.status == "failed"
    assert run.error == "the notebook process ended with exit code 5: MemoryError: out of memory"
    assert "Traceback..." in (out / "error.txt").read_text(encoding="utf-8")
    assert not (out / INCOMPLETE).exists()  # it ended: the failure is in error.txt
    snapshot.unchanged(appended=(INCOMPLETE,))


# ---------------------------------------------------------------- unwritable output folders
def block_output(study: Path, how: str) -> None:
    if how == "file":
        (study / "output").write_text("not a folder\n", encoding="utf-8")
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders; the file-in-the-way case covers root")
        (study / "output").mkdir()
        (study / "output").chmod(0o555)


@pytest.mark.parametrize("how", ["file", "read-only"])
def test_unwritable_output_folders_are_one_clear_error_per_study(tmp_path, how):
    root = make_studies(tmp_path / "studies", ("linxi-2025", "donggang-2025"))
    for study in root.iterdir():
        block_output(study, how)
    snapshot = Snapshot(root)
    try:
        result = run_batch(root, quick=True, progress=False)
    finally:
        for study in root.iterdir():
            if (study / "output").is_dir():
                (study / "output").chmod(0o755)
    assert not result.interrupted and [r.status for r in result.studies] == ["failed", "failed"]
    for run in result.studies:
        folder = root / run.name / "output" / result.run_id
        assert run.error.startswith(f"cannot write the run folder {folder}: ")
        blocked = root / run.name / "output"
        why = f"{blocked} is a file, not a folder" if how == "file" else "permission denied"
        assert why in run.error and "\n" not in run.error
    assert result.comparison is None
    snapshot.unchanged(appended=(INCOMPLETE,))


def test_one_unwritable_study_does_not_stop_the_others(tmp_path):
    """A real execution: the writable study runs and is reported beside the other's error."""
    root = make_studies(tmp_path / "studies", ("linxi-2025", "donggang-2025"))
    block_output(root / "donggang-2025", "file" if os.geteuid() == 0 else "read-only")
    snapshot = Snapshot(root)
    try:
        result = run_batch(root, quick=True, progress=False, comparison=False)
    finally:
        if (root / "donggang-2025" / "output").is_dir():
            (root / "donggang-2025" / "output").chmod(0o755)
    by_name = {r.name: r for r in result.studies}
    assert by_name["linxi-2025"].ok, by_name["linxi-2025"].error
    assert by_name["linxi-2025"].report.is_file()
    assert by_name["donggang-2025"].status == "failed"
    assert "cannot write the run folder" in by_name["donggang-2025"].error
    assert not markers(root)  # the finished study's folder is no longer marked
    summary = result.summary()
    assert list(summary["status"]) == ["FAILED", "ok"]
    snapshot.unchanged(appended=(INCOMPLETE,))


# ---------------------------------------------------------------- signals, on real executions
BATCH = """\
import sys
from csi_research.run.batch import run_batch
r = run_batch(sys.argv[1], quick=True, progress=False, workers=1, comparison=False)
print(r.summary().to_string())
print("interrupted", r.interrupted, r.stopped_by, r.run_id)
"""


def test_sigint_stops_the_batch_promptly_with_a_summary_and_no_kernel_left(tmp_path):
    root = make_studies(tmp_path / "studies", ("linxi-2025", "donggang-2025"))
    snapshot = Snapshot(root)
    process = subprocess.Popen([PYTHON, "-c", BATCH, str(root)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    family = wait_for_study(process)
    signalled = time.monotonic()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    took = time.monotonic() - signalled
    assert took < STOP_WITHIN, f"took {took:.1f} s to stop"
    assert process.returncode == 0, stderr  # returned, not raised: no traceback
    assert "Traceback" not in stderr
    assert "interrupted True SIGINT" in stdout
    assert "donggang-2025  interrupted" in stdout and "linxi-2025  not started" in stdout
    found = markers(root)
    assert "interrupted by SIGINT" in found["donggang-2025"]
    assert "not started: SIGINT came first" in found["linxi-2025"]
    assert not alive(family), "kernel or notebook process left running"
    assert not (root / "linxi-2025" / "output" / stdout.split()[-1] / "regional_study.en.ipynb").exists()
    snapshot.unchanged(appended=(INCOMPLETE,))


def test_sigterm_to_the_command_prints_the_summary_of_what_finished(tmp_path):
    root = make_studies(tmp_path / "studies", ("linxi-2025", "donggang-2025"))
    snapshot = Snapshot(root)
    process = subprocess.Popen([str(CLI), "run", str(root), "--quick", "--no-progress", "--workers", "1",
                                "--no-comparison", "--language", "en"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    family = wait_for_study(process)
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)
    assert time.monotonic() - signalled < STOP_WITHIN
    assert "Traceback" not in stderr
    assert "interrupted" in stdout and "not started" in stdout  # the summary the command prints
    assert set(markers(root)) == {"donggang-2025", "linxi-2025"}
    assert "interrupted by SIGTERM" in markers(root)["donggang-2025"]
    assert not alive(family)
    snapshot.unchanged(appended=(INCOMPLETE,))


# ---------------------------------------------------------------- concurrent batches
REPORTING_BATCH = """\
import json, sys
from csi_research.run.batch import run_batch
r = run_batch(sys.argv[1], quick=True, progress=False, comparison=False)
print(json.dumps({"run_id": r.run_id, "dirs": [str(s.output_dir) for s in r.studies],
                  "reports": [str(p) for s in r.studies for p in s.reports],
                  "status": [s.status for s in r.studies]}))
"""


def test_two_batches_started_together_never_share_or_mix_run_ids(tmp_path):
    root = make_studies(tmp_path / "studies", ("linxi-2025",))
    snapshot = Snapshot(root)
    processes = [subprocess.Popen([PYTHON, "-c", REPORTING_BATCH, str(root)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    reports = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        reports.append(json.loads(stdout.strip().splitlines()[-1]))
    ids = [r["run_id"] for r in reports]
    assert ids[0] != ids[1]
    for report in reports:
        assert report["status"] == ["ok"]
        assert [Path(d).name for d in report["dirs"]] == [report["run_id"]]  # only its own folders
        assert all(f"/{report['run_id']}/" in p for p in report["reports"])
        assert all(Path(p).is_file() for p in report["reports"])
    assert sorted(p.name for p in (root / "linxi-2025" / "output").iterdir()) == sorted(ids)  # no "-2"
    assert not markers(root)
    snapshot.unchanged(appended=(INCOMPLETE,))


# ---------------------------------------------------------------- kernel start races
def test_many_kernels_start_at_once_without_address_races():
    """Ten kernels started together on the batch's transport all come up (TCP used to fail ~1 in 12)."""
    from jupyter_client.manager import KernelManager

    errors: list[BaseException] = []
    transports: list[str] = []

    def start_one() -> None:
        try:
            with kernel_options() as options:
                km = KernelManager(kernel_name="python3", **options)
                transports.append(km.transport)
                km.start_kernel(extra_arguments=["--log-level=ERROR"])
                try:
                    client = km.client()
                    client.start_channels()
                    client.wait_for_ready(timeout=120)
                    client.stop_channels()
                finally:
                    km.shutdown_kernel(now=True)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start_one) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert not errors, errors
    assert len(transports) == 10 and set(transports) == ({"ipc"} if os.name == "posix" else {"tcp"})


# ---------------------------------------------------------------- make lab
@pytest.mark.parametrize(("uid", "flag"), [("0", True), ("1000", False)])
def test_make_lab_allows_root_only_for_root(uid, flag):
    made = subprocess.run(["make", "-n", "-C", str(REPO), "lab", f"LAB_UID={uid}"], capture_output=True,
                          text=True, timeout=60)
    if made.returncode != 0 and "No rule" in made.stderr:
        pytest.fail(made.stderr)
    lab = [line for line in made.stdout.splitlines() if "jupyter lab" in line]
    assert lab, made.stdout + made.stderr
    assert ("--allow-root" in lab[0]) is flag
