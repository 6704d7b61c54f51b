"""Reports on demand: a batch that saves bundles only, and the reports drawn later from its run folders.

The reference is a batch that draws every report (``reports="all"``) of the same studies: the
on-demand batch must save the same bundle (less its copies of the figures) and the reports drawn
later must be those very reports, byte for byte, for a region's second wave too (whose report
reads the first wave's bundle of the same run).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_resume import make_studies, planned, statuses

from csi_research.core.errors import ModelSpecError
from csi_research.core.output import INCOMPLETE
from csi_research.run import cli
from csi_research.run.batch import run_batch
from csi_research.run.execute import REPORT_TASK
from csi_research.run.on_demand import draw_reports

STUDIES = ("donggang-2025", "donggang-2026")


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, dict[str, Path], dict[str, Path]]:
    """The studies, and each study's run folder from a batch with every report and from one on demand."""
    root = make_studies(tmp_path_factory.mktemp("on-demand") / "studies", STUDIES)
    full = run_batch(root, quick=True, workers=1, progress=False, comparison=False)
    lazy = run_batch(root, quick=True, workers=1, progress=False, comparison=False, reports="on-demand")
    assert full.ok and lazy.ok, (full.summary(), lazy.summary())
    return (root, {r.name: r.output_dir for r in full.studies}, {r.name: r.output_dir for r in lazy.studies})


def test_the_batch_saves_the_same_bundles_and_no_report(runs):
    _, full, lazy = runs
    for name in STUDIES:
        folder = lazy[name]
        assert not list(folder.glob("report.*")) and not list(folder.glob("*.ipynb"))
        assert (folder / REPORT_TASK).is_file()
        expected = {k: v for k, v in _files(full[name] / "bundle").items() if not k.startswith("figures")}
        assert _files(folder / "bundle") == expected


def test_the_summary_says_where_the_bundle_is_and_how_to_draw_the_reports(runs):
    root, _, lazy = runs
    again = planned(root, resume=True, reports="on-demand")  # the on-demand runs are reused as such
    assert statuses(again) == {name: f"reused {lazy[name].name}" for name in STUDIES}
    shown = list(again.summary()["report or error"])
    assert all(f"csi-research report {lazy[name]}" in text for name, text in zip(STUDIES, shown, strict=True))
    full = planned(root, resume=True)  # a batch that wants every report does not take a bundle-only run
    assert all(run.output_dir.name != lazy[run.name].name for run in full.studies)


def test_reports_drawn_on_demand_are_the_batch_reports_byte_for_byte(runs):
    _, full, lazy = runs
    for name in STUDIES:  # the second wave's report reads the first wave's bundle of the same run
        drawn = draw_reports(lazy[name])
        assert drawn == (lazy[name] / "report.zh.html",)
        for kind in ("report.zh.html", "report.zh.docx"):
            assert (lazy[name] / kind).read_bytes() == (full[name] / kind).read_bytes(), (name, kind)
        assert (lazy[name] / "regional_study.zh.ipynb").is_file()
        assert not list(lazy[name].glob(".report-*")) and not (lazy[name] / "error.txt").exists()


def test_a_drawn_report_is_kept_and_another_language_is_added(runs, capsys):
    _, _, lazy = runs
    folder = lazy["donggang-2025"]
    draw_reports(folder)
    before = _files(folder)
    assert cli.main(["report", str(folder), "--language", "both"]) == 0
    printed = capsys.readouterr().out
    assert f"{folder / 'report.zh.html'} (and report.zh.docx), drawn before" in printed
    assert f"{folder / 'report.en.html'} (and report.en.docx)\n" in printed
    after = _files(folder)
    assert {k: after[k] for k in before} == before  # nothing replaced
    assert {"report.en.html", "report.en.docx", "regional_study.en.ipynb"} <= set(after) - set(before)


def test_changed_inputs_are_refused_naming_what_changed(runs, tmp_path):
    root, _, lazy = runs
    folder = tmp_path / "run"
    shutil.copytree(lazy["donggang-2026"], folder)
    for report in folder.glob("report.*"):
        report.unlink()
    survey = root / "donggang-2026" / "survey.csv"
    original = survey.read_bytes()
    try:
        survey.write_bytes(original + b"\n")
        with pytest.raises(ModelSpecError, match=r"data changed since this run.*run the study again"):
            draw_reports(folder)
    finally:
        survey.write_bytes(original)
    task = json.loads((folder / REPORT_TASK).read_text(encoding="utf-8"))
    record = json.loads((folder / "inputs.json").read_text(encoding="utf-8"))
    record["inputs"]["versions"]["numpy"] = "0.0.1"
    (folder / "inputs.json").write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(ModelSpecError, match=r"package versions changed \(numpy 0\.0\.1 → "):
        draw_reports(folder)
    assert not list(folder.glob("report.*")) and task["params"]["study_path"].endswith("study.yaml")


def test_unfinished_failed_and_full_run_folders_are_refused(runs, tmp_path):
    _, full, lazy = runs
    with pytest.raises(ModelSpecError, match=r"not a run folder of a batch with reports on demand.*drawn"):
        draw_reports(full["donggang-2025"])
    folder = tmp_path / "unfinished"
    shutil.copytree(lazy["donggang-2025"], folder)
    (folder / INCOMPLETE).write_text("interrupted\n", encoding="utf-8")
    with pytest.raises(ModelSpecError, match="did not finish"):
        draw_reports(folder)
    (folder / INCOMPLETE).unlink()
    (folder / "error.txt").write_text("ValueError: x\n", encoding="utf-8")
    with pytest.raises(ModelSpecError, match="this study failed"):
        draw_reports(folder)
    study = lazy["donggang-2025"].parents[1]
    with pytest.raises(ModelSpecError, match=f"latest such run folder is {lazy['donggang-2025']}"):
        draw_reports(study)  # the study's folder, not its run folder
    with pytest.raises(ModelSpecError, match="no such run folder"):
        draw_reports(tmp_path / "nowhere")
