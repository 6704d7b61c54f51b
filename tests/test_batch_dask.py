"""The batch on Dask: several worker processes, an existing cluster, failures kept to their own study.

Two small batches run real notebooks (quick studies with a tiny bootstrap): one on the batch's own
local cluster of two worker processes, one sent to a separately started cluster. Their bundles must
be byte-identical: where a study runs may not change its results.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from csi_research.core.output import INCOMPLETE, claim_run_dir
from csi_research.run import batch
from csi_research.run.batch import StudyTask, run_batch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_batch_faults import make_studies

QUICK = ("linxi-2025", "donggang-2025")


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
