"""Studies forked from a warm zygote: the same files as a kernel process, isolation, stopping, clean-up.

The reference is the slow path itself (``python -m csi_research.run.execute`` with a kernel process),
run here on the same study with the thread settings Dask workers use, so the two must agree byte
for byte on the bundle and on everything the report shows. Small notebooks written by the tests
check that a study's crash or changed global does not reach the next and that a stop ends it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from csi_research.core.output import INCOMPLETE, claim_run_dir
from csi_research.run import batch
from csi_research.run import zygote as _zygote
from csi_research.run.batch import StopRequest, StudyTask, execute_study

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not _zygote.CAN_FORK, reason="the warm path needs fork and Unix sockets")

THREADS_ONE = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")  # as on a Dask worker


@pytest.fixture
def zygote():
    """One warm zygote in this process for the test; closed (with whatever it runs) afterwards."""
    _zygote.close_zygotes()
    assert _zygote.start_zygotes(1) == 1
    assert _zygote.zygotes_settled(120)
    assert [z.state for z in _zygote.ZYGOTES] == ["ready"]
    yield _zygote.ZYGOTES[0]
    _zygote.close_zygotes()


def copy_study(name: str, folder: Path) -> Path:
    """A copy of the project's study ``name`` in English with a small bootstrap, its files made absolute."""
    lines = []
    for line in (REPO / "studies" / name / "study.yaml").read_text(encoding="utf-8").splitlines():
        key, _, rest = line.partition(":")
        value = rest.split("#", 1)[0].strip()
        if not line[:1].isspace() and value.startswith("../"):
            line = f"{key}: {(REPO / 'studies' / name / value).resolve()}"
        elif line.startswith("language:"):
            line = "language: en"
        elif line.strip().startswith("quick_n_boot:"):
            line = "  quick_n_boot: 30"
        lines.append(line)
    folder.mkdir(parents=True)
    (folder / "study.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def counted_spawns(monkeypatch) -> list[int]:
    pids: list[int] = []
    original = _zygote.Zygote.spawn

    def spawn(self, payload, stdout, stderr):
        child = original(self, payload, stdout, stderr)
        pids.append(child.pid)
        return child

    monkeypatch.setattr(_zygote.Zygote, "spawn", spawn)
    return pids


def tiny_notebook(folder: Path, code: str) -> Path:
    """A notebook with a parameters cell (``action``) and one code cell."""
    params = nbformat.v4.new_code_cell('action = "none"', metadata={"tags": ["parameters"]})
    nb = nbformat.v4.new_notebook(cells=[params, nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "tiny.ipynb"
    nbformat.write(nb, str(path))
    return path


def task_for(notebook: Path, root: Path, name: str, action: str = "none") -> StudyTask:
    out = claim_run_dir(root / name / "output", "r1")
    return StudyTask(name, notebook, out, {"action": action}, ("en",))


def outputs(path: Path) -> list:
    """Every cell's outputs, without the per-run ids papermill gives cells or kernels' pids in file names."""
    nb = json.loads(re.sub(r"ipykernel_[0-9]+", "ipykernel_PID", path.read_text(encoding="utf-8")))
    return [(c["cell_type"], c["source"] if "Parameters" not in "".join(c["source"]) else "params",
             c.get("outputs"), c.get("execution_count")) for c in nb["cells"]]


def shown(report: Path) -> str:
    return re.sub(r'id="cell-id=[0-9a-f-]+"', "", report.read_text(encoding="utf-8"))


def bundle_bytes(run_dir: Path) -> dict[str, bytes]:
    bundle = run_dir / "bundle"
    files = [bundle / "results.json", bundle / "index_draws.csv", *sorted((bundle / "tables").glob("*.csv"))]
    return {str(p.relative_to(bundle)): p.read_bytes() for p in files}


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_a_forked_study_writes_the_same_files_as_a_kernel_process(tmp_path, monkeypatch, zygote):
    for name in THREADS_ONE:
        monkeypatch.setenv(name, "1")
    study = copy_study("linxi-2025", tmp_path / "studies" / "linxi-2025")
    params = {"study_path": str(study / "study.yaml"), "quick": True, "previous_bundle": "auto"}
    runs = {}
    pids = counted_spawns(monkeypatch)
    for path in ("warm", "cold"):
        if path == "cold":
            _zygote.close_zygotes()  # no zygote: the slow path, today's kernel process
        out = claim_run_dir(tmp_path / path / "output", "r1")
        runs[path] = execute_study(StudyTask("linxi-2025", batch.NOTEBOOKS / batch.REGIONAL, out, params,
                                             ("en", "zh")))
        assert runs[path].ok, runs[path].error
    assert len(pids) == 1  # the warm run was a fork, the cold one was not
    warm, cold = runs["warm"].output_dir, runs["cold"].output_dir
    assert sorted(p.name for p in warm.iterdir()) == sorted(p.name for p in cold.iterdir())
    mine, reference = bundle_bytes(warm), bundle_bytes(cold)
    assert mine.keys() == reference.keys() and len(mine) > 3
    assert mine == reference
    for lang in ("en", "zh"):
        executed = f"regional_study.{lang}.ipynb"
        warm_cells, cold_cells = outputs(warm / executed), outputs(cold / executed)
        assert [c[2] for c in warm_cells] == [c[2] for c in cold_cells]  # figures and tables alike
        assert [c[3] for c in warm_cells] == [c[3] for c in cold_cells]  # each language from a fresh kernel
        assert shown(warm / f"report.{lang}.html") == shown(cold / f"report.{lang}.html")


def test_printed_output_warnings_and_errors_come_out_as_from_a_kernel_process(tmp_path, monkeypatch, zygote):
    code = ("import sys, warnings\n"
            "print('to stdout')\n"
            "sys.stderr.write('to stderr\\n')\n"
            "warnings.warn('careful', UserWarning)\n"
            "if action == 'fail':\n"
            "    raise ValueError('the study file names no data')\n"
            "1 + 1\n")
    notebook = tiny_notebook(tmp_path, code)
    pids = counted_spawns(monkeypatch)
    runs = {}
    for path in ("warm", "cold"):
        if path == "cold":
            _zygote.close_zygotes()
        runs[path] = [execute_study(task_for(notebook, tmp_path / path, action, action))
                      for action in ("none", "fail")]
    assert len(pids) == 2
    for warm, cold in zip(runs["warm"], runs["cold"], strict=True):
        assert (warm.status, warm.error) == (cold.status, cold.error)
        executed = "tiny.en.ipynb"
        assert outputs(warm.output_dir / executed) == outputs(cold.output_dir / executed)
    assert runs["warm"][1].error == "ValueError: the study file names no data"
    streams = outputs(runs["warm"][0].output_dir / "tiny.en.ipynb")[-1][2]
    assert [o.get("name", o["output_type"]) for o in streams] == ["stdout", "stderr", "execute_result"]
    assert "careful" in "".join(streams[1]["text"])


def test_a_crash_or_a_changed_global_in_one_study_does_not_reach_the_next(tmp_path, monkeypatch, zygote):
    code = ("import os, signal, csi_research\n"
            "print('seen', getattr(csi_research, 'leaked', None))\n"
            "csi_research.leaked = action\n"
            "if action == 'crash':\n"
            "    os.kill(os.getpid(), signal.SIGSEGV)\n")
    notebook = tiny_notebook(tmp_path, code)
    pids = counted_spawns(monkeypatch)
    leak = execute_study(task_for(notebook, tmp_path, "leak", "leak"))
    crash = execute_study(task_for(notebook, tmp_path, "crash", "crash"))
    after = execute_study(task_for(notebook, tmp_path, "after"))
    assert len(pids) == 3 and len(set(pids)) == 3  # each study a process of its own, from one zygote
    assert leak.ok and after.ok, (leak.error, after.error)
    assert crash.status == "failed" and crash.error.startswith("the notebook process ended with signal 11")
    assert not (crash.output_dir / INCOMPLETE).exists() and (crash.output_dir / "error.txt").is_file()
    streams = json.loads((after.output_dir / "tiny.en.ipynb").read_text(encoding="utf-8"))["cells"][-1]
    assert "".join(streams["outputs"][0]["text"]) == "seen None\n"  # neither study's global came through
    assert zygote.process.poll() is None and zygote.state == "ready"


def test_a_stop_kills_the_forked_study_at_once_and_the_zygote_serves_on(tmp_path, zygote):
    notebook = tiny_notebook(tmp_path, "import time\nif action == 'sleep':\n    time.sleep(60)\n")
    stop = StopRequest()
    result: list = []
    worker = threading.Thread(target=lambda: result.append(
        execute_study(task_for(notebook, tmp_path, "slow", "sleep"), stop)))
    worker.start()
    deadline = time.monotonic() + 60
    while not descendants(zygote.process.pid) and time.monotonic() < deadline:  # its only language in it
        time.sleep(0.05)
    family = descendants(zygote.process.pid)
    assert family, "the study did not start"
    time.sleep(0.5)
    stop.request("SIGINT")
    stopped = time.monotonic()
    worker.join(10)
    assert time.monotonic() - stopped < 2.0
    run = result[0]
    assert run.status == "interrupted" and "interrupted by SIGINT" in run.error
    assert "interrupted by SIGINT" in (run.output_dir / INCOMPLETE).read_text(encoding="utf-8")
    assert not [p for p in family if batch._running(p)], "a process of the study survived the stop"
    assert execute_study(task_for(notebook, tmp_path, "next")).ok  # the same zygote, still warm
    assert zygote.process.poll() is None


ORPHAN = """\
import sys, threading, time
from pathlib import Path
from csi_research.run import zygote as _zygote
from csi_research.run.batch import StudyTask, execute_study
from csi_research.core.output import claim_run_dir
_zygote.start_zygotes(1)
assert _zygote.zygotes_settled(120)
out = claim_run_dir(Path(sys.argv[2]) / "output", "r1")
task = StudyTask("x", Path(sys.argv[1]), out, {"action": "sleep"}, ("en",))
threading.Thread(target=execute_study, args=(task,), daemon=True).start()
print(_zygote.ZYGOTES[0].process.pid, flush=True)
time.sleep(120)
"""


def test_the_zygote_and_its_study_end_when_the_batch_process_dies(tmp_path):
    notebook = tiny_notebook(tmp_path, "import time\nif action == 'sleep':\n    time.sleep(60)\n")
    process = subprocess.Popen([sys.executable, "-c", ORPHAN, str(notebook), str(tmp_path / "x")],
                               stdout=subprocess.PIPE, text=True)
    try:
        zygote_pid = int(process.stdout.readline())
        deadline = time.monotonic() + 60
        while not descendants(zygote_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        family = [psutil.Process(zygote_pid), *descendants(zygote_pid)]
        assert len(family) >= 2, "the study did not start"
    finally:
        process.kill()  # SIGKILL: no clean-up of its own runs
        process.wait()
    deadline = time.monotonic() + 5
    while [p for p in family if batch._running(p)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in family if batch._running(p)], "the zygote or its study outlived the batch"


def test_a_study_ends_when_its_zygote_is_killed(tmp_path, zygote):
    """A study's only language runs in the study's process, which ends when the zygote disappears."""
    notebook = tiny_notebook(tmp_path, "import time\nif action == 'sleep':\n    time.sleep(60)\n")
    worker = threading.Thread(target=execute_study, args=(task_for(notebook, tmp_path, "slow", "sleep"),),
                              daemon=True)
    worker.start()
    deadline = time.monotonic() + 60
    while not descendants(zygote.process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    family = descendants(zygote.process.pid)
    assert family, "the study did not start"
    time.sleep(0.5)
    zygote.process.kill()
    deadline = time.monotonic() + 5
    while [p for p in family if batch._running(p)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in family if batch._running(p)], "the study outlived its zygote"


def test_a_study_is_computed_once_for_its_languages_only_when_it_computes_quietly(tmp_path, monkeypatch):
    from csi_research.run.zygote import compute_once
    from csi_research.study import pipeline as study

    monkeypatch.setattr(study, "COMPUTED", {})
    quiet = copy_study("linxi-2025", tmp_path / "quiet")
    params = {"study_path": str(quiet / "study.yaml"), "quick": True}
    compute_once(params)
    kept = study.run_study.quiet(str(quiet / "study.yaml"), quick=True)
    assert study.run_study(quiet / "study.yaml", quick=True) is kept  # the same study file, another spelling
    assert study.run_study.quiet(str(quiet / "study.yaml"), quick=False) is not kept  # another mode: computed

    warned = copy_study("linxi-2025", tmp_path / "warned")  # a study whose computation prints a warning
    monkeypatch.setattr(study, "_run", lambda *a: (__import__("warnings").warn("careful"), kept)[1])
    compute_once({"study_path": str(warned / "study.yaml"), "quick": True})
    assert study.study_key(warned / "study.yaml", True) not in study.COMPUTED  # the notebook shows it
    monkeypatch.setattr(study, "_run", lambda *a: 1 / 0)
    compute_once({"study_path": str(warned / "study.yaml"), "quick": True})  # an error: left to the notebook
    assert len(study.COMPUTED) == 1
