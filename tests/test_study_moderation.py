"""Moderation declared in study.yaml: parsed, run, bundled, reported; bad declarations name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from small_study import STUDY, small_study

from csi_research.core.errors import ModelSpecError
from csi_research.reporting import regional as report
from csi_research.study.bundle import read_bundle
from csi_research.study.config import StudyConfig
from csi_research.study.pipeline import run_study

DECLARED = "[{predictor: Quality, moderator: Image, target: Satisfaction}]"


def study(root: Path, moderation: str) -> Path:
    return small_study(root, "moderation", moderation)


def test_a_declared_moderation_is_run_bundled_and_reported(tmp_path):
    path = study(tmp_path / "beiling-2025", DECLARED)
    config = StudyConfig.from_yaml(path)
    assert config.moderation == ({"predictor": "Quality", "moderator": "Image", "target": "Satisfaction"},)
    assert StudyConfig.from_dict({**config.raw}, path).to_dict()["moderation"] == [dict(config.moderation[0])]
    result = run_study(path, quick=True)
    (m,) = result.moderation
    assert (m.predictor, m.moderator, m.target, m.n_boot) == ("Quality", "Image", "Satisfaction", 100)
    tables = result.tables()
    assert set(tables["moderation"]["source"]) >= {"Quality", "Image", "Quality×Image"}
    assert list(tables["moderation_slopes"]["moderator_sd"]) == [-1.0, 0.0, 1.0]
    bundle = result.save(tmp_path / "bundle")
    assert (bundle / "figures" / "simple_slopes_1.png").stat().st_size > 1000
    assert read_bundle(bundle)
    zh, en = report.structure(result, "zh").html, report.structure(result, "en").html
    assert "调节效应（两阶段法）" in zh and "Moderation (two-stage approach)" in en
    assert "客户满意度" in zh and "Perceived quality → Satisfaction" in en


def test_without_a_declaration_there_is_no_moderation_section(tmp_path):
    result = run_study(study(tmp_path / "beiling-2025", "[]"), quick=True)
    assert result.moderation == () and "moderation" not in result.tables()
    assert "Moderation" not in report.structure(result, "en").html
    assert result.figure_names() == ["path_diagram", "indices", "ipma"]


@pytest.mark.parametrize(("declared", "message"), [
    ("{predictor: Quality}", r"moderation must be a list"),
    ("[Quality]", r"moderation\[0\] must be a mapping"),
    ("[{predictor: Quality, moderator: Image, target: Satisfaction, via: Value}]",
     r"moderation\[0\]: unknown key\(s\) via"),
    ("[{predictor: Quality, moderator: Image}]", r"moderation\[0\]\.target must be a construct name"),
    ("[{predictor: Quality, moderator: 3, target: Satisfaction}]", r"moderation\[0\]\.moderator must be"),
    (f"[{DECLARED[1:-1]}, {DECLARED[1:-1]}]", r"moderation\[1\] repeats an earlier"),
])
def test_bad_declarations_name_the_file_and_key(tmp_path, declared, message):
    path = study(tmp_path / "beiling-2025", declared)
    with pytest.raises(ModelSpecError, match=message) as caught:
        StudyConfig.from_yaml(path)
    assert str(path.resolve()) in str(caught.value)


@pytest.mark.parametrize(("declared", "message"), [
    ("[{predictor: Quality, moderator: Weather, target: Satisfaction}]",
     "moderator 'Weather' is neither a construct"),
    ("[{predictor: Quality, moderator: Image, target: Loyalty}]", "no path Quality → Loyalty"),
])
def test_declarations_the_model_cannot_take_name_the_file_and_key(tmp_path, declared, message):
    path = study(tmp_path / "beiling-2025", declared)
    with pytest.raises(ModelSpecError, match=message) as caught:
        run_study(path, quick=True)
    assert str(path.resolve()) in str(caught.value) and "moderation[0]" in str(caught.value)


def test_a_segment_or_a_service_record_feature_moderates(tmp_path):
    """"Is Quality → Satisfaction weaker in rural areas / for customers who had an outage?" declared in
    study.yaml: the observed moderator enters as a single-item construct, reported with its label."""
    data = Path(__file__).resolve().parents[1] / "data"
    declared = ("[{predictor: Quality, moderator: area, level: rural, target: Satisfaction}, "
                "{predictor: Quality, moderator: outage_count, above: 0, target: Satisfaction}]")
    root = tmp_path / "beiling-2025"
    root.mkdir()
    survey = f"data: {data / 'beiling_2025.csv'}"
    text = f"{STUDY}moderation: {declared}\n".replace("data: survey.csv", survey)
    (root / "study.yaml").write_text(text + f"service_records: {data / 'beiling_2025_records.csv'}\n",
                                     encoding="utf-8")
    result = run_study(root / "study.yaml", quick=True)
    area, outage = result.moderation
    assert area.moderator_label == ("area = rural", "area = rural") and area.interaction == "Quality×area"
    assert outage.moderator_label == ("停电次数 > 0", "Outage (count) > 0")  # the records catalogue's label
    assert set(result.tables()["moderation"]["moderator"]) == {"area", "outage_count"}
    en = report.structure(result, "en").html
    assert "area = rural" in en and "Outage (count) &gt; 0" in en
    assert result.figure("simple_slopes_2", "zh")
