"""The batch on Dask: several worker processes, an existing cluster, failures kept to their own study.

Small batches run real notebooks (quick studies with a tiny bootstrap): one on the batch's own
local cluster of two worker processes, one sent to a separately started cluster, and one sent with
the CLI to a scheduler and two workers started as processes of their own (``dask scheduler``,
``dask worker``, loopback only), one of which is killed while it runs a study. Their bundles must be
byte-identical: where a study runs, or how often it had to be started, may not change its results.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from csi_research.core.output import INCOMPLETE, claim_run_dir
from csi_research.core.process import child_env
from csi_research.run import batch
from csi_research.run.batch import StudyTask, run_batch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_batch_faults import make_studies

QUICK = ("linxi-2025", "donggang-2025")
THREE = ("linxi-2025", "donggang-2025", "nanyu-2025")  # three regions: three chains for two workers
CLUSTER_START = 60.0  # seconds for the scheduler and both workers to come up
BATCH_LIMIT = 300.0  # seconds the whole batch may take on a slow, shared CI machine


def bundle_bytes(run_dir: Path) -> dict[str, bytes]:
    bundle = run_dir / "bundle"
    files = [bundle / "results.json", bundle / "index_draws.csv", *sorted((bundle / "tables").glob("*.csv"))]
    return {str(p.relative_to(bundle)): p.read_bytes() for p in files}


def test_two_worker_processes_and_an_existing_cluster_give_identical_bundles(tmp_path):
    from distributed import LocalCluster

    root = make_studies(tmp_path / "a", QUICK)
    broken = root / "broken-2025"
    broken.mkdir()
    text = (root / "linxi-2025" / "study.yaml").read_text(encoding="utf-8")
    (broken / "study.yaml").write_text(text.replace("linxi_2025.csv", "no_such_file.csv"), encoding="utf-8")
    local = run_batch(root, quick=True, progress=False, comparison=False, workers=2)
    by_name = {r.name: r for r in local.studies}
    assert by_name["broken-2025"].status == "failed" and "no_such_file.csv" in by_name["broken-2025"].error
    assert by_name["linxi-2025"].ok and by_name["donggang-2025"].ok, local.summary()
    assert not list(root.glob(f"*/output/*/{INCOMPLETE}"))

    other = make_studies(tmp_path / "b", QUICK)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = run_batch(other, quick=True, progress=False, comparison=False,
                           scheduler=cluster.scheduler_address)
    assert [r.status for r in remote.studies] == ["ok", "ok"]
    for run in remote.studies:
        mine, theirs = bundle_bytes(run.output_dir), bundle_bytes(by_name[run.name].output_dir)
        assert mine.keys() == theirs.keys() and len(mine) > 3
        assert mine == theirs, f"{run.name}: results differ between the two clusters"


class Lost:
    """A Dask future whose task failed for good (its worker died on every try)."""

    def result(self):
        raise RuntimeError("Attempted to run task on 3 different workers, but all those workers died")


def test_a_chain_whose_workers_kept_dying_fails_its_own_studies_only(tmp_path):
    out = claim_run_dir(tmp_path / "linxi" / "output", "r1")
    task = StudyTask("linxi-2025", Path("unused.ipynb"), out, {}, ("en",))
    spec = [("linxi-2025", task, ("en",), out),
            ("x-2025", "cannot write the run folder x", ("en",), tmp_path)]
    runs = batch._collect(Lost(), spec)
    assert [r.status for r in runs] == ["failed", "failed"]
    assert runs[0].error.startswith("the worker running it failed: RuntimeError: Attempted to run task")
    assert runs[1].error == "cannot write the run folder x"
    assert not (out / INCOMPLETE).exists() and "all those workers died" in (out / "error.txt").read_text()


def test_a_retried_chain_keeps_finished_studies_and_redoes_the_lost_one(tmp_path):
    done = claim_run_dir(tmp_path / "a" / "output", "r1")
    (done / "report.en.html").write_text("ok", encoding="utf-8")
    done_task = StudyTask("a", Path("unused.ipynb"), done, {}, ("en",))
    (done / INCOMPLETE).unlink()  # it ended in the first attempt
    lost = claim_run_dir(tmp_path / "b" / "output", "r1")
    (lost / "regional_study.en.ipynb").write_text("{partial", encoding="utf-8")
    (lost / batch.INPUTS).write_text("{}", encoding="utf-8")
    lost_task = StudyTask("b", Path("unused.ipynb"), lost, {}, ("en",))
    assert batch._ended(done_task).status == "ok"
    assert batch._ended(lost_task) is None  # to run again, from a clean folder
    assert sorted(p.name for p in lost.iterdir()) == [INCOMPLETE, batch.INPUTS]


@pytest.mark.parametrize("workers", [1, 2])
def test_nothing_to_execute_starts_no_cluster(tmp_path, monkeypatch, workers):
    def no_engine(*args, **kwargs):
        raise AssertionError("a cluster was started with nothing to run")

    monkeypatch.setattr(batch, "_engine", no_engine)
    root = make_studies(tmp_path / "s", QUICK)
    for study in root.iterdir():
        (study / "output").write_text("in the way", encoding="utf-8")
    result = run_batch(root, quick=True, progress=False, workers=workers)
    assert [r.status for r in result.studies] == ["failed", "failed"]


def test_a_retry_ends_the_lost_attempts_process_here_and_clears_its_files_first(tmp_path, monkeypatch):
    """A lost attempt's study process still alive on this machine would write into the retry's files."""
    out = claim_run_dir(tmp_path / "linxi" / "output", "r1")
    (out / batch.INPUTS).write_text("{}", encoding="utf-8")
    lost = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        assert batch._record_attempt(out, lost.pid) == 1
        (out / "regional_study.en.ipynb").write_text("{partial", encoding="utf-8")
        monkeypatch.setattr(batch, "LOST_WAIT", 0.3)
        task = StudyTask("linxi-2025", Path("unused.ipynb"), out, {}, ("en",))
        assert batch._ended(task) is None  # to run again, once the lost process is gone
        assert lost.wait(timeout=5) == -signal.SIGKILL
        assert sorted(p.name for p in out.iterdir()) == sorted([INCOMPLETE, batch.INPUTS, batch.ATTEMPTS])
    finally:
        lost.kill()
        lost.wait()


def test_a_lost_attempt_on_another_machine_gets_a_grace_and_no_signal(tmp_path, monkeypatch):
    out = claim_run_dir(tmp_path / "linxi" / "output", "r1")
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                 start_new_session=True)
    try:
        record = {"attempt": 1, "host": "another-machine", "worker_pid": 1, "pid": bystander.pid,
                  "started": 0}
        (out / batch.ATTEMPTS).write_text(json.dumps(record) + "\n", encoding="utf-8")
        monkeypatch.setattr(batch, "LOST_GRACE", 0.3)
        start = time.monotonic()
        assert batch._ended(StudyTask("linxi-2025", Path("unused.ipynb"), out, {}, ("en",))) is None
        assert time.monotonic() - start >= 0.3 and bystander.poll() is None  # same pid, not the same process
    finally:
        bystander.kill()
        bystander.wait()


def test_the_summary_counts_attempts_and_names_the_retried_studies(tmp_path):
    runs = (batch.NotebookRun("a", tmp_path, "ok", attempts=2), batch.NotebookRun("b", tmp_path, "ok"))
    result = batch.BatchResult("r1", runs, None)
    assert result.retried == ("a",)
    assert list(result.summary()["attempts"]) == [2, 1]


# ---------------------------------------------------------------- a cluster of processes of its own
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def end_processes(processes: list[subprocess.Popen]) -> None:
    """SIGTERM each process's group and everything below it (zygotes lead sessions of their own),
    SIGKILL what is left after a few seconds."""
    family: list[psutil.Process] = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            family.extend(psutil.Process(process.pid).children(recursive=True))
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.terminate()
    deadline = time.monotonic() + 8
    for process in reversed(processes):  # the batch and the workers before the scheduler they talk to
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, min(3.0, deadline - time.monotonic())))
    for process in processes:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    _, alive = psutil.wait_procs(family, timeout=max(0.1, deadline - time.monotonic()))
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    psutil.wait_procs(alive, timeout=5)


@pytest.fixture
def processes(tmp_path):
    """Start processes (each in a session of its own) that are ended when the test ends, however it ends."""
    started: list[subprocess.Popen] = []
    logs = tmp_path / "logs"
    logs.mkdir()

    def start(name: str, *args: str, cwd: Path | None = None) -> subprocess.Popen:
        env = {**child_env(), "DASK_TEMPORARY_DIRECTORY": str(tmp_path / "dask-tmp")}
        with open(logs / f"{name}.out", "wb") as out, open(logs / f"{name}.err", "wb") as err:
            process = subprocess.Popen([sys.executable, *args], stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=err, cwd=cwd or tmp_path, env=env, start_new_session=True)
        started.append(process)
        return process

    start.logs = logs
    try:
        yield start
    finally:
        end_processes(started)


@pytest.fixture
def cluster(tmp_path, processes):
    """A scheduler and two one-thread workers on 127.0.0.1, each a process started from this venv."""
    from distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    processes("scheduler", "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
              "--no-dashboard", "--dashboard-address", f"127.0.0.1:{free_port()}",  # its health page
              "--idle-timeout", "600")  # it ends itself if this test's end is ever skipped
    workers = {}
    for k in range(2):
        scratch = tmp_path / f"worker-{k}"
        scratch.mkdir()
        workers[k] = processes(
            f"worker-{k}", "-m", "distributed.cli.dask_worker", address, "--host", "127.0.0.1",
            "--worker-port", str(free_port()), "--nthreads", "1", "--nworkers", "1", "--no-nanny",
            "--no-dashboard", "--local-directory", str(scratch), "--death-timeout", "60",
            "--name", f"worker-{k}", cwd=scratch)
    client = Client(address, timeout=CLUSTER_START, set_as_default=False)
    try:
        client.wait_for_workers(2, timeout=CLUSTER_START)
        yield address, client, list(workers.values())
    finally:
        client.close(timeout=5)


def attempts(folder: Path) -> list[dict]:
    """The attempts recorded in a run folder (a line being written is not one yet)."""
    path = folder / batch.ATTEMPTS
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    records = []
    for line in lines:
        with contextlib.suppress(ValueError):
            records.append(json.loads(line))
    return records


def running_study(root: Path, age: float = 1.0) -> tuple[Path, int] | None:
    """A study whose process started ``age`` seconds ago or more and has not ended: its run folder and
    its worker's pid."""
    for folder in root.glob("*/output/*"):
        started = attempts(folder)
        if started and (folder / INCOMPLETE).exists() and time.time() - started[-1]["started"] >= age:
            return folder, int(started[-1]["worker_pid"])
    return None


def shown(report: Path, root: Path) -> str:
    """A report without what differs between two runs of the same studies: cell ids, the run's own path."""
    text = re.sub(r'id="cell-id=[0-9a-f-]+"', "", report.read_text(encoding="utf-8"))
    return text.replace(str(root), "<root>")


def run_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_worker_killed_mid_study_on_a_real_cluster_the_study_runs_again_once_same_bytes(
        tmp_path, processes, cluster):
    address, client, workers = cluster
    root = make_studies(tmp_path / "cluster", THREE)
    cli = processes("batch", "-m", "csi_research.run.cli", "run", str(root), "--quick", "--no-progress",
                    "--no-comparison", "--scheduler", address)
    deadline = time.monotonic() + BATCH_LIMIT
    found = None
    while found is None and cli.poll() is None and time.monotonic() < deadline:
        found = running_study(root)
        time.sleep(0.05)
    assert found is not None, "no study started: " + (processes.logs / "batch.err").read_text()[-2000:]
    folder, pid = found
    # the scheduler agrees: the worker with that pid holds a task, its chain, while the study runs
    by_pid = {worker_pid: addr for addr, worker_pid in client.run(os.getpid).items()}
    assert pid in by_pid and client.processing()[by_pid[pid]], client.processing()
    victim = next(w for w in workers if w.pid == pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    killed = folder.parents[1].name

    try:
        cli.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pytest.fail("the batch did not finish in time after a worker was lost")
    printed = (processes.logs / "batch.out").read_text(encoding="utf-8")
    assert cli.returncode == 0, printed + (processes.logs / "batch.err").read_text()[-3000:]

    # every study finished exactly once, in one run folder, nothing partial or marked left
    runs = {}
    for name in THREE:
        folders = list((root / name / "output").iterdir())
        assert len(folders) == 1, folders
        runs[name] = folders[0]
        assert not (runs[name] / INCOMPLETE).exists() and not (runs[name] / "error.txt").exists()
        tries = attempts(runs[name])
        assert len(tries) == (2 if name == killed else 1), tries
    first, second = attempts(runs[killed])
    assert first["worker_pid"] == pid and second["worker_pid"] != pid  # run again on the other worker

    # the summary names the retried study, and only it
    assert f"Retried after a lost worker: {killed} (2 attempts)" in printed, printed
    rows = {line.split()[0]: line.split() for line in printed.splitlines()
            if line.split() and line.split()[0] in THREE}
    assert {name: row[3] for name, row in rows.items()} == {n: "2" if n == killed else "1" for n in THREE}

    # the same bytes as a local run of the same studies
    local_root = make_studies(tmp_path / "local", THREE)
    local = run_batch(local_root, quick=True, progress=False, comparison=False, workers=1)
    assert local.ok and local.retried == (), local.summary()
    for run in local.studies:
        theirs, mine = run.output_dir, runs[run.name]
        assert run_files(mine) == run_files(theirs)  # no leftover of the lost attempt
        assert bundle_bytes(mine) == bundle_bytes(theirs), f"{run.name}: results differ from a local run"
        for report in run.reports:
            assert shown(mine / report.name, root) == shown(report, local_root), report.name
