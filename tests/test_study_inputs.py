"""A study of a researcher's own survey: the file must be the study's region and wave, a study of
real data must bring its own expert matrices and KPIs, and the reading options of study.yaml reach
the loader. Every refusal names both files and changes nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from faults import Snapshot

from csi_research.core.errors import CSIError, ModelSpecError, SurveyDataError
from csi_research.study.pipeline import run_study

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
HIERARCHY = {"CSI": {"children": ["Quality", "Satisfaction"], "upper": [[1 / 2]]},
             "Quality": {"children": ["QUA1", "QUA9"], "weights": "equal"},
             "Satisfaction": {"children": ["SAT1", "SAT2"], "weights": "equal"}}


def study(tmp_path: Path, data: Path | str, **changes) -> Path:
    spec = {"region": {"id": "linxi", "name_zh": "临溪", "name_en": "Linxi"}, "wave": 2025,
            "synthetic": True, "data": str(data), "seed": 5, "bootstrap": {"n_boot": 20, "quick_n_boot": 20},
            "estimation": {"cbsem": False}, "industry_evaluation": None, "internal_indicators": None,
            **changes}
    folder = tmp_path / "linxi-2025"
    folder.mkdir(exist_ok=True)
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


def refused(path: Path, error: type[CSIError] = SurveyDataError) -> str:
    snap = Snapshot(path.parent, Path(yaml.safe_load(path.read_text(encoding="utf-8"))["data"]))
    with pytest.raises(error) as info:
        run_study.quiet(path, quick=True)
    snap.unchanged()
    message = str(info.value)
    assert len(message) < 2500
    return message


def test_another_regions_file_is_refused_naming_both(tmp_path):
    path = study(tmp_path, DATA / "beiling_2025.csv")
    message = refused(path)
    assert "beiling_2025.csv" in message and "beiling" in message
    assert "linxi" in message.lower() and str(path) in message


def test_another_waves_file_is_refused(tmp_path):
    path = study(tmp_path, DATA / "donggang_2025.csv", region={"id": "donggang", "name_zh": "东港",
                                                               "name_en": "Donggang"}, wave=2026)
    message = refused(path)
    assert "2025" in message and "2026" in message and str(path) in message


@pytest.mark.parametrize("spelling", ["临溪", "Linxi", "LINXI", " linxi "])
def test_the_region_may_be_written_as_its_name(tmp_path, spelling):
    frame = pd.read_csv(DATA / "linxi_2025.csv", dtype=str)
    frame["region"] = spelling
    frame["wave"] = "2025.0"
    data = tmp_path / "linxi.csv"
    frame.to_csv(data, index=False)
    assert run_study.quiet(study(tmp_path, data), quick=True).overall_csi > 0


def test_a_file_of_several_regions_is_refused(tmp_path):
    mixed = pd.concat([pd.read_csv(DATA / "linxi_2025.csv", dtype=str),
                       pd.read_csv(DATA / "beiling_2025.csv", dtype=str).head(5)])
    data = tmp_path / "mixed.csv"
    mixed.to_csv(data, index=False)
    message = refused(study(tmp_path, data))
    assert "beiling" in message and "mixed.csv" in message


def test_study_wide_missing_codes_equal_blanks(tmp_path):
    frame = pd.read_csv(DATA / "linxi_2025.csv", dtype=str)
    coded = frame.replace({"9": "99"})
    coded_path, blank_path = tmp_path / "coded.csv", tmp_path / "blank.csv"
    coded.to_csv(coded_path, index=False)
    frame.replace({"9": ""}).to_csv(blank_path, index=False)
    refused(study(tmp_path, coded_path))  # 99 is outside the scale until the study declares it
    with_codes = run_study.quiet(study(tmp_path, coded_path, missing_codes=[99]), quick=True)
    blanks = run_study.quiet(study(tmp_path, blank_path), quick=True)
    assert np.array_equal(with_codes.indices["index"].to_numpy(), blanks.indices["index"].to_numpy())


def test_extra_columns_are_kept_aside_with_a_note(tmp_path):
    frame = pd.read_csv(DATA / "linxi_2025.csv", dtype=str)
    frame.insert(1, "地区名称", "临溪")
    frame["interviewer"] = "A07"
    data = tmp_path / "extra.csv"
    frame.to_csv(data, index=False)
    result = run_study.quiet(study(tmp_path, data), quick=True)
    assert list(result.survey.extra.columns) == ["地区名称", "interviewer"]
    assert any("地区名称" in d for d in result.diagnostics)
    message = refused(study(tmp_path, data, extra_columns="error"))
    assert "地区名称" in message and "interviewer" in message


def own_inputs(tmp_path: Path, kpi_row: dict) -> dict:
    folder = tmp_path / "linxi-2025"
    folder.mkdir(exist_ok=True)
    (folder / "experts.yaml").write_text(yaml.safe_dump({"weighting": "ahp", "hierarchy": HIERARCHY}),
                                         encoding="utf-8")
    pd.DataFrame([{"region": "linxi", "year": 2025, **kpi_row}]).to_csv(folder / "kpis.csv", index=False)
    return {"synthetic": False, "industry_evaluation": "experts.yaml", "internal_indicators": "kpis.csv"}


def test_real_data_with_its_own_experts_and_kpis_runs(tmp_path):
    changes = own_inputs(tmp_path, {"supply_reliability_rate": 0.9991, "three_ring_answer_rate": 0.96})
    result = run_study.quiet(study(tmp_path, DATA / "linxi_2025.csv", **changes), quick=True)
    weights = result.industry.weights
    assert set(weights.loc[weights["level"] == 2, "node"]) == {"Quality", "Satisfaction"}
    assert result.industry.quality_index is not None


def test_kpis_marked_synthetic_are_refused_for_real_data(tmp_path):
    changes = own_inputs(tmp_path, {"synthetic": True, "supply_reliability_rate": 0.9991})
    message = refused(study(tmp_path, DATA / "linxi_2025.csv", **changes))
    assert "kpis.csv" in message and "marked synthetic" in message


def test_a_bad_kpi_value_names_the_kpi_file(tmp_path):
    changes = own_inputs(tmp_path, {"supply_reliability_rate": 99.91})
    message = refused(study(tmp_path, DATA / "linxi_2025.csv", **changes))
    assert "kpis.csv" in message and "supply_reliability_rate" in message and "99.91" in message


def test_an_unknown_kpi_names_the_kpi_file(tmp_path):
    changes = own_inputs(tmp_path, {"customer_smiles": 3})
    message = refused(study(tmp_path, DATA / "linxi_2025.csv", **changes))
    assert "kpis.csv" in message and "customer_smiles" in message


def test_a_bad_industry_section_names_the_study_file(tmp_path):
    path = study(tmp_path, DATA / "linxi_2025.csv", synthetic=True, industry_evaluation={"weighting": "vote"})
    message = refused(path, ModelSpecError)
    assert str(path) in message and "vote" in message


def test_bundled_service_records_lead_the_report_to_the_planted_drivers():
    """The bundled records plant outages, complaints and fault repairs as drivers of dissatisfaction
    (records.synthetic.DEFAULT_EFFECTS); the study's driver analysis ranks exactly those first."""
    from csi_research.records.synthetic import DEFAULT_EFFECTS

    result = run_study.quiet(REPO / "studies" / "beiling-2025", quick=True)
    assert set(result.records.top(3)) == {f"{t}_count" for t in DEFAULT_EFFECTS}
    assert {"record_drivers", "record_pareto", "record_segments"} <= set(result.tables())


def test_a_bad_records_file_names_the_study_and_the_file(tmp_path):
    records = tmp_path / "orders.csv"
    records.write_text("event_id,customer_id,event_type,start,end,duration_hours,category,planned\n"
                       "e1,beiling-2025-0001,teleport,2025-03-01 10:00,2025-03-01 11:00,1,,\n",
                       encoding="utf-8")
    snap = Snapshot(records)
    spec = yaml.safe_load((REPO / "studies" / "beiling-2025" / "study.yaml").read_text(encoding="utf-8"))
    spec.update(data=str(REPO / "data" / "beiling_2025.csv"), service_records=str(records))
    study = tmp_path / "study.yaml"
    study.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    with pytest.raises(SurveyDataError) as info:
        run_study.quiet(study, quick=True)
    assert str(study) in str(info.value) and "orders.csv" in str(info.value) and "teleport" in str(info.value)
    snap.unchanged()
