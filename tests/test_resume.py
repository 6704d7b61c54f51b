"""``--resume``: a study is run again only when its inputs changed or its last run did not finish well.

No notebook runs here: a batch stopped before it starts reserves its folders (with their input
fingerprints) and reports which studies it would have run ("not started") and which it reused.
A finished run is simulated by completing such a folder the way a study run leaves it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from csi_research.core.output import INCOMPLETE, mark_finished
from csi_research.run import batch
from csi_research.run.batch import StopRequest, last_run, run_batch
from csi_research.study.config import StudyConfig

REPO = Path(__file__).resolve().parents[1]


def make_studies(root: Path, names: tuple[str, ...]) -> Path:
    """Copies of the project's study files, each with its own copy of its data file (so it can change)."""
    for name in names:
        folder = root / name
        folder.mkdir(parents=True)
        data = folder / "survey.csv"
        shutil.copyfile(REPO / "data" / (name.replace("-", "_") + ".csv"), data)
        original = (REPO / "studies" / name / "study.yaml").read_text(encoding="utf-8")
        records = REPO / "data" / (name.replace("-", "_") + "_records.csv")
        lines = ["data: survey.csv" if line.startswith("data:") else
                 f"service_records: {records}" if line.startswith("service_records:") else line
                 for line in original.splitlines()]
        (folder / "study.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def planned(root: Path, resume: bool = True, **kwargs) -> batch.BatchResult:
    """What a batch would do: stopped before its start, it runs nothing and reuses what it can."""
    stop = StopRequest()
    stop.request("a test")
    return run_batch(root, quick=True, progress=False, comparison=False, resume=resume, stop=stop, **kwargs)


def finish(result: batch.BatchResult) -> None:
    """Complete every study folder of ``result`` as a successful run leaves it."""
    for run in result.studies:
        if run.reused:
            continue
        (run.output_dir / "bundle").mkdir()
        (run.output_dir / "bundle" / "results.json").write_text("{}\n", encoding="utf-8")
        for report in run.reports:
            report.write_text("<html></html>", encoding="utf-8")
        mark_finished(run.output_dir)


def statuses(result: batch.BatchResult) -> dict[str, str]:
    return {r.name: ("reused " + r.reused if r.reused else r.status) for r in result.studies}


@pytest.fixture
def studies(tmp_path) -> tuple[Path, str]:
    """Three studies (two waves of one region) with one finished run each: the folder and its run id."""
    root = make_studies(tmp_path / "studies", ("linxi-2025", "donggang-2025", "donggang-2026"))
    first = planned(root, resume=False)
    finish(first)
    return root, first.run_id


def test_unchanged_studies_are_reused_and_the_summary_says_so(studies):
    root, first = studies
    result = planned(root)
    assert statuses(result) == {"donggang-2025": f"reused {first}", "donggang-2026": f"reused {first}",
                                "linxi-2025": f"reused {first}"}
    assert all(r.ok and r.output_dir.name == first for r in result.studies)
    summary = result.summary()
    assert set(summary["status"]) == {"reused"}
    assert all(text.startswith(f"reused {first}: ") for text in summary["report or error"])
    for name in ("linxi-2025", "donggang-2025", "donggang-2026"):  # no new run folder for a reused study
        assert [p.name for p in (root / name / "output").iterdir()] == [first]


def test_changed_data_runs_that_study_and_every_later_wave_of_its_region(studies):
    root, first = studies
    data = root / "donggang-2025" / "survey.csv"
    data.write_bytes(data.read_bytes() + b"\n")  # one more byte: a different file
    result = planned(root)
    assert statuses(result) == {"donggang-2025": "not started", "donggang-2026": "not started",
                                "linxi-2025": f"reused {first}"}
    # the later wave reads the earlier wave's bundle: it cannot be reused when that one is redone


def test_a_changed_later_wave_does_not_rerun_the_earlier_one(studies):
    root, first = studies
    study = root / "donggang-2026" / "study.yaml"
    study.write_text(study.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    assert statuses(planned(root)) == {"donggang-2025": f"reused {first}",
                                       "donggang-2026": "not started", "linxi-2025": f"reused {first}"}


def test_other_options_are_inputs_too(studies):
    """A quick run is not reused for a full one, nor a Chinese report for an English one."""
    root = studies[0]
    stop = StopRequest()
    stop.request("a test")
    full = run_batch(root, quick=False, progress=False, comparison=False, resume=True, stop=stop)
    assert set(statuses(full).values()) == {"not started"}
    assert set(statuses(planned(root, language="both")).values()) == {"not started"}


def test_a_changed_dependency_version_runs_every_study_again(studies, monkeypatch):
    """Same files and options under another numpy: the earlier bytes need not hold, so nothing is reused;
    the new runs record the versions they were made with."""
    from csi_research.core import versions

    root, first = studies
    recorded = (root / "linxi-2025" / "output" / first / batch.INPUTS).read_text(encoding="utf-8")
    assert f'"numpy": "{versions.package_versions()["numpy"]}"' in recorded
    real = versions.package_versions
    monkeypatch.setattr(versions, "package_versions", lambda *a: {**real(*a), "numpy": "0.0.0-other"})
    result = planned(root)
    assert set(statuses(result).values()) == {"not started"}
    for run in result.studies:
        assert '"numpy": "0.0.0-other"' in (run.output_dir / batch.INPUTS).read_text(encoding="utf-8")


def test_a_failed_last_run_is_run_again(studies):
    root, first = studies
    (root / "linxi-2025" / "output" / first / "error.txt").write_text("boom\n", encoding="utf-8")
    assert last_run(root / "linxi-2025") == (root / "linxi-2025" / "output" / first, "failed")
    assert statuses(planned(root))["linxi-2025"] == "not started"


def test_an_incomplete_last_run_is_run_again_even_when_an_older_one_was_complete(studies):
    root = studies[0]
    second = planned(root, resume=False)  # newer runs, left unfinished (marked INCOMPLETE)
    assert (root / "linxi-2025" / "output" / second.run_id / INCOMPLETE).is_file()
    assert last_run(root / "linxi-2025")[1] == "incomplete"
    assert set(statuses(planned(root)).values()) == {"not started"}


def test_a_run_without_a_fingerprint_is_never_reused(studies):
    root, first = studies
    (root / "linxi-2025" / "output" / first / batch.INPUTS).unlink()
    assert statuses(planned(root))["linxi-2025"] == "not started"


def test_the_comparison_reads_the_reused_bundles(studies, monkeypatch):
    root, first = studies
    seen: list[list[str]] = []

    def compare(root_, run_id, notebooks, bundles, quick, languages, stop, client=None):
        seen.append(bundles)

    monkeypatch.setattr(batch, "_compare", compare)
    result = run_batch(root, quick=True, progress=False, resume=True)  # all reused: nothing to execute
    assert result.ok and not result.interrupted
    assert seen == [[str(root / name / "output" / first / "bundle")
                     for name in ("donggang-2025", "donggang-2026", "linxi-2025")]]


def test_the_batch_finds_each_chains_previous_wave_once_for_all_studies(studies, monkeypatch):
    """What ``previous_bundle="auto"`` would find in the notebook, the batch finds before it starts,
    reading the bundles beside the studies once rather than once per study."""
    from csi_research.study import waves

    root, first = studies
    earlier = root / "donggang-2025" / "output" / first / "bundle"
    (earlier / "results.json").write_text(
        '{"study": {"region_id": "donggang", "wave": 2025}, "n_boot": 200}\n', encoding="utf-8")
    reads: list[Path] = []
    read = waves.finished_bundles
    monkeypatch.setattr(waves, "finished_bundles", lambda folder: reads.append(folder) or read(folder))
    sent: dict[str, object] = {}

    def record(task, stop=None):
        sent[task.name] = task.params["previous_bundle"]
        return batch.NotebookRun(task.name, task.output_dir, "not started", languages=task.languages)

    monkeypatch.setattr(batch, "execute_study", record)
    later = root / "donggang-2026" / "study.yaml"
    later.write_text(later.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    planned(root, resume=True)  # the earlier wave reused: its bundle is the later one's previous wave
    assert sent == {"donggang-2026": str(earlier)} and reads == []

    sent.clear()
    planned(root, resume=False, only=["donggang-2026", "linxi-2025"])  # the earlier wave not in the batch
    assert sent == {"donggang-2026": str(earlier), "linxi-2025": None}
    assert reads == [root]
    assert waves.find_previous(StudyConfig.from_yaml(later)) == earlier  # the notebook's own search agrees

    sent.clear()
    reads.clear()
    planned(root, resume=False)  # both waves run: the later one reads what the earlier one saves
    assert sent == {"donggang-2025": None, "donggang-2026": "auto", "linxi-2025": None}
    assert reads == [root]
