"""Higher-order constructs declared in study.yaml: parsed, applied to the model, run, bundled, reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from small_study import small_study

from csi_research.core.errors import ModelSpecError
from csi_research.reporting import regional as report
from csi_research.study.bundle import load_bundle
from csi_research.study.config import StudyConfig
from csi_research.study.pipeline import run_study

SUBINDICATORS = "[{construct: Quality, components: subindicators, mode: B}]"
EXPLICIT = ("[{construct: Quality, method: repeated, components: {Supply: [QUA1, QUA2, QUA3, QUA4, QUA5], "
            "Service: {items: [QUA6, QUA7, QUA8, QUA9, QUA10], label_zh: 服务, label_en: Service}}}]")


def study(root: Path, declared: str) -> Path:
    return small_study(root, "higher_order", declared)


def test_the_questionnaires_subindicators_become_components(tmp_path):
    path = study(tmp_path / "beiling-2025", SUBINDICATORS)
    config = StudyConfig.from_yaml(path)
    assert config.higher_order == ({"construct": "Quality", "components": "subindicators",
                                    "method": "two-stage", "mode": "B"},)
    result = run_study(path, quick=True)
    declared = result.declared_model
    parts = ("supply_quality", "channels", "service_items", "staff")
    assert declared.higher_order["Quality"].components == parts
    assert declared.constructs["supply_quality"] == ("QUA1", "QUA2") and declared.modes["Quality"] == "B"
    assert declared.labels["channels"] == ("服务渠道", "Service channels")
    assert result.model.constructs["Quality"] == declared.higher_order["Quality"].components  # stage 2
    tables = result.tables()
    parts = tables["higher_order"]
    assert list(parts["component"]) == list(declared.higher_order["Quality"].components)
    assert (parts["weight_lower"] < parts["weight"]).all() and (parts["weight"] < parts["weight_upper"]).all()
    assert parts["index"].between(0, 100).all()
    assert list(tables["higher_order_reliability"]["construct"]) == list(parts["component"])
    # weak links name the questionnaire's sub-indicators, with their measures and indicators
    ranked = result.ipma.priorities
    assert {"supply_quality", "channels"} <= set(ranked["item"])
    assert ranked.set_index("item").at["supply_quality", "kpis"]
    bundle = result.save(tmp_path / "bundle")
    assert load_bundle(bundle).model() == declared  # model.yaml round-trips the declaration
    zh, en = report.structure(result, "zh").html, report.structure(result, "en").html
    assert "高阶构面" in zh and "服务渠道" in zh and "分离两阶段法" in zh
    assert "Higher-order constructs" in en and "Service channels" in en and "disjoint two-stage" in en


def test_explicit_components_and_repeated_indicators(tmp_path):
    result = run_study(study(tmp_path / "beiling-2025", EXPLICIT), quick=True)
    assert result.declared_model.labels["Service"] == ("服务", "Service")
    assert ("Quality", "Supply") in result.model.paths  # Mode A: the construct → its components
    parts = result.tables()["higher_order"]
    assert parts["weight"].isna().all() and (parts["loading_lower"] < parts["loading"]).all()
    assert "repeated-indicators approach" in report.structure(result, "en").html


def test_without_a_declaration_there_is_no_higher_order_section(tmp_path):
    result = run_study(study(tmp_path / "beiling-2025", "[]"), quick=True)
    assert "higher_order" not in result.tables() and result.model == result.declared_model
    assert "Higher-order" not in report.structure(result, "en").html


@pytest.mark.parametrize(("declared", "message"), [
    ("{construct: Quality}", r"higher_order must be a list"),
    ("[Quality]", r"higher_order\[0\] must be a mapping"),
    ("[{construct: Quality, components: subindicators, weights: B}]",
     r"higher_order\[0\]: unknown key\(s\) weights"),
    ("[{components: subindicators}]", r"higher_order\[0\]\.construct must be a construct name"),
    ("[{construct: Quality, components: subindicators, method: embedded}]",
     r"higher_order\[0\]\.method must be"),
    ("[{construct: Quality, components: subindicators, mode: C}]", r"higher_order\[0\]\.mode must be A"),
    ("[{construct: Quality, components: {A: [QUA1]}}]", r"higher_order\[0\]\.components must be"),
    ("[{construct: Quality, components: {A: [QUA1], B: 3}}]", r"higher_order\[0\]\.components\.B must list"),
    ("[{construct: Quality, components: {A: {items: [QUA1], zh: x}, B: [QUA2]}}]",
     r"components\.A: unknown key\(s\) zh"),
])
def test_bad_declarations_name_the_file_and_key(tmp_path, declared, message):
    path = study(tmp_path / "beiling-2025", declared)
    with pytest.raises(ModelSpecError, match=message) as caught:
        StudyConfig.from_yaml(path)
    assert str(path.resolve()) in str(caught.value)


@pytest.mark.parametrize(("declared", "message"), [
    ("[{construct: Service, components: subindicators}]", r"construct 'Service' is not a first-order"),
    ("[{construct: Quality, components: {A: [QUA1, QUA2], B: [QUA3, VAL1]}}]", "item 'VAL1' is not an item"),
    ("[{construct: Quality, components: {A: [QUA1, QUA2], B: [QUA2, QUA3]}}]", "item QUA2 is in two"),
    ("[{construct: Quality, components: {A: [QUA1, QUA2], B: [QUA3]}}]", r"QUA4, .* are in no component"),
    ("[{construct: Quality, components: {Image: [QUA1, QUA2], B: [QUA3]}}]", "already a construct"),
])
def test_declarations_the_model_cannot_take_name_the_file_and_key(tmp_path, declared, message):
    path = study(tmp_path / "beiling-2025", declared)
    with pytest.raises(ModelSpecError, match=message) as caught:
        run_study(path, quick=True)
    assert str(path.resolve()) in str(caught.value) and "higher_order[0]" in str(caught.value)
