"""A regional study end to end: reproducible bundles, isolated failures, never-overwritten runs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from csi_research.data.simulate import simulate_survey
from csi_research.reporting import regional as report
from csi_research.run.batch import run_batch
from csi_research.run.cli import main
from csi_research.study.pipeline import run_study

STUDY = """\
region: {{id: {region}, name_zh: 测试, name_en: Test}}
wave: {wave}
synthetic: true
data: {data}
bootstrap: {{n_boot: 300, quick_n_boot: 120}}
seed: {seed}
segments: [customer_class]
industry_evaluation: default
internal_indicators: default
"""


def make_study(root: Path, name: str, region: str, wave: int, n: int, seed: int) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    simulate_survey(region, n=n, seed=seed, wave=wave).to_csv(folder / "survey.csv")
    (folder / "study.yaml").write_text(
        STUDY.format(region=region, wave=wave, data="survey.csv", seed=seed), encoding="utf-8"
    )
    return folder


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    return make_study(tmp_path_factory.mktemp("studies"), "beiling-2025", "beiling", 2025, 260, 11)


def test_same_seed_gives_byte_identical_results(study, tmp_path):
    first = run_study(study, quick=True).save(tmp_path / "a", figures=False)
    second = run_study(study, quick=True).save(tmp_path / "b", figures=False)
    assert (first / "results.json").read_bytes() == (second / "results.json").read_bytes()
    assert (first / "index_draws.csv").read_bytes() == (second / "index_draws.csv").read_bytes()
    results = json.loads((first / "results.json").read_text(encoding="utf-8"))
    assert results["seed"] == 11 and results["n_boot"] == 120 and results["synthetic"] is True
    assert len(results["data_sha256"]) == 64
    assert results["study"]["data"] == "survey.csv"  # relative to the study: bundles travel


def test_result_is_consistent_with_its_parts(study):
    result = run_study(study, quick=True)
    table = result.indices
    assert list(table.index) == result.model.names
    assert (table["ci_lower"] <= table["index"]).all() and (table["index"] <= table["ci_upper"]).all()
    assert result.overall_csi == table.at["Satisfaction", "index"]
    assert result.index_draws.shape == (120, len(result.model.names))
    paths = result.paths()
    assert len(paths) == len(result.model.paths)
    assert set(result.segments["segment"]) <= {"residential", "commercial", "industrial"}
    # the non-admissible or low-reliability findings surface as diagnostics, never silently
    assert all(isinstance(d, str) and d for d in result.diagnostics)
    assert result.industry is not None and 0 < result.industry.fuzzy.score < 100


def test_headline_verdict_follows_the_interval(study):
    result = run_study(study, quick=True)
    low, high = result.indices.loc["Satisfaction", ["ci_lower", "ci_upper"]]
    text = report.summary(result, "en").html
    target = result.config.index_target
    expected = "above" if low > target else "below" if high < target else "not distinguishable from"
    assert f"{expected} the target of {target:g}" in text
    assert "Synthetic data" in text
    zh = report.summary(result, "zh").html
    expected_zh = "高于" if low > target else "低于" if high < target else "无显著差异"
    assert expected_zh in zh and "模拟数据" in zh


def test_saving_twice_into_one_folder_is_refused(study, tmp_path):
    result = run_study(study, quick=True)
    result.save(tmp_path / "bundle", figures=False)
    with pytest.raises(FileExistsError):
        result.save(tmp_path / "bundle", figures=False)


def test_batch_isolates_a_broken_study_and_never_overwrites(tmp_path):
    root = tmp_path / "studies"
    make_study(root, "donggang-2025", "donggang", 2025, 220, 1)
    make_study(root, "donggang-2026", "donggang", 2026, 220, 2)
    broken = make_study(root, "linxi-2025", "linxi", 2025, 150, 3)
    lines = (broken / "survey.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[5].split(",")
    cells[header.index("QUA7")] = "12"
    lines[5] = ",".join(cells)
    (broken / "survey.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = (broken / "survey.csv").read_bytes()

    assert main(["run", str(root), "--quick", "--no-progress", "--workers", "2"]) == 1

    ok = {p.parents[2].name for p in root.glob("*/output/*/report.zh.html")}
    assert ok == {"donggang-2025", "donggang-2026", "_comparison"}
    error = next(root.glob("linxi-2025/output/*/error.txt")).read_text(encoding="utf-8")
    assert "SurveyDataError" in error and "column QUA7 row 6: value 12" in error
    assert (broken / "survey.csv").read_bytes() == before  # the input is never touched
    html = next(root.glob("donggang-2026/output/*/report.zh.html")).read_text(encoding="utf-8")
    assert "模拟数据" in html and "Traceback" not in html
    comparison = next(root.glob("_comparison/output/*/report.zh.html")).read_text(encoding="utf-8")
    assert "跨年度变化" in comparison

    again = run_batch(root, quick=True, only=["donggang-2025"], progress=False, comparison=False)
    assert again.ok
    runs = sorted((root / "donggang-2025" / "output").iterdir())
    assert len(runs) == 2 and again.studies[0].output_dir == runs[-1]


def test_every_bundle_table_names_its_key_column(study, tmp_path):
    """No table carries an anonymous row label ("index", "level_0", "Unnamed: 0") that a reader of the
    CSV or workbook would take for data; "index" is a column only where it is the CSI value."""
    folder = run_study(study, quick=True).save(tmp_path / "b", figures=False)
    anonymous = {"level_0", "Unnamed: 0"}
    for path in sorted((folder / "tables").glob("*.csv")):
        columns = list(pd.read_csv(path, nrows=0).columns)
        assert not anonymous & set(columns), path.name
        if "index" in columns:
            assert path.stem in {"indices", "segments"} and columns[0] != "index", (path.name, columns)
