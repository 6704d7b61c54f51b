"""Codebook: scales and their scores, the built-in questionnaire, YAML round trip, consistency checks."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from csi_research.core.errors import ModelSpecError
from csi_research.data.codebook import Codebook, Scale
from csi_research.evaluation.internal import indicator_definitions
from csi_research.model import DEFAULT_ITEMS, CSIModel


@pytest.fixture(scope="module")
def book() -> Codebook:
    return Codebook.default()


def test_semantic_scale_has_the_industry_grade_scores(book):
    s = book.scales["semantic5"]
    assert s.codes == (1, 2, 3, 4, 5)
    assert s.labels_zh == ("很不满意", "不太满意", "基本满意", "比较满意", "很满意")
    assert s.labels_en[0] == "very dissatisfied" and s.labels_en[-1] == "very satisfied"
    assert np.array_equal(s.grade_score([1, 2, 3, 4, 5]), [0, 40, 60, 80, 100])
    # the linear rescale is evenly spaced, unlike the grade scores
    assert np.array_equal(s.to_100([1, 2, 3, 4, 5]), [0, 25, 50, 75, 100])


def test_grade_score_is_vectorised_and_keeps_nan(book):
    s = book.scales["semantic5"]
    out = s.grade_score(np.array([[5, np.nan], [2, 4]]))
    assert out.shape == (2, 2)
    assert np.isnan(out[0, 1]) and out[1, 0] == 40 and out[1, 1] == 80
    with pytest.raises(ValueError, match="value 6 is not a code of the 1–5 scale"):
        s.grade_score([6])


@pytest.mark.parametrize(("name", "k"), [("ten", 10), ("seven", 7), ("likert5", 5)])
def test_numeric_scales_grade_linearly(book, name, k):
    s = book.scales[name]
    assert s.codes == tuple(range(1, k + 1))
    codes = np.arange(1, k + 1)
    expected = (codes - 1) / (k - 1) * 100  # ACSI rescale, written out independently
    assert np.allclose(s.grade_score(codes), expected)
    assert np.allclose(s.to_100(codes), expected)
    assert np.isnan(s.to_100([np.nan])[0])


def test_scale_rejects_inconsistent_definitions():
    with pytest.raises(ModelSpecError, match="grade_scores has 2 entries for 3 codes"):
        Scale("bad", (1, 2, 3), ("a", "b", "c"), ("a", "b", "c"), (0.0, 100.0))
    with pytest.raises(ModelSpecError, match="must increase within 0–100"):
        Scale("bad", (1, 2), ("a", "b"), ("a", "b"), (50.0, 40.0))
    with pytest.raises(ModelSpecError, match="at least two increasing integers"):
        Scale("bad", (2, 1), ("a", "b"), ("a", "b"), (0.0, 100.0))


def test_default_questionnaire_matches_the_model(book):
    assert book.item_ids == [i for items in DEFAULT_ITEMS.values() for i in items]
    assert book.model() == CSIModel.default()
    assert all(i.scale == "semantic5" and i.missing_codes == (9,) for i in book.items)
    assert [i.id for i in book.items if i.reverse] == ["CMP2"]
    assert [i.id for i in book.items_of("Complaints")] == ["CMP1", "CMP2"]
    assert book.item("QUA9").text_en == "Speed of fault repair"
    assert "抢修" in book.item("QUA9").text_zh
    with pytest.raises(KeyError, match="no item 'Q99'"):
        book.item("Q99")


def test_subindicators_group_quality_items(book):
    groups = {}
    for item in book.items:
        groups.setdefault(item.subindicator, []).append(item.id)
    assert groups["supply_quality"] == ["QUA1", "QUA2"]
    assert groups["channels"] == ["QUA3", "QUA4", "QUA5"]
    assert groups["service_items"] == ["QUA6", "QUA7", "QUA8", "QUA9"]
    assert groups["staff"] == ["QUA10"]
    assert set(book.subindicators) == {"image", "expectation", "supply_quality", "channels", "service_items",
                                       "staff", "value", "satisfaction", "complaints", "loyalty"}
    assert all(book.subindicators[i.subindicator].construct == i.construct for i in book.items)


def test_attributes(book):
    assert book.id_column == "respondent_id"
    assert book.attribute_ids == ["region", "wave", "customer_class", "area", "voltage"]
    klass = book.attributes[2]
    assert list(klass.categories) == ["residential", "commercial", "industrial"]
    assert klass.lookup()["居民"] == "residential"


def test_yaml_round_trip(book, tmp_path):
    path = tmp_path / "book.yaml"
    book.to_yaml(path)
    assert Codebook.from_yaml(path) == book
    assert "很满意" in path.read_text(encoding="utf-8")


def test_cross_reference_errors(book):
    spec = book.to_dict()
    spec["items"][0]["subindicator"] = "loyalty"
    with pytest.raises(ModelSpecError, match="item IMG1 measures Image but its sub-indicator loyalty"):
        Codebook.from_dict(spec)
    spec = book.to_dict()
    spec["items"][1]["missing_codes"] = [5]
    with pytest.raises(ModelSpecError, match=r"item IMG2: missing code\(s\) \[5\] are also answer codes"):
        Codebook.from_dict(spec)
    spec = book.to_dict()
    spec["items"][2]["scale"] = "hundred"
    with pytest.raises(ModelSpecError, match="item IMG3: unknown scale hundred"):
        Codebook.from_dict(spec)
    spec = book.to_dict()
    del spec["items"][0]["construct"]
    with pytest.raises(ModelSpecError, match=r"^codebook: item IMG1: missing key\(s\) construct"):
        Codebook.from_dict(spec)


def test_a_custom_questionnaire_builds_its_own_model(tmp_path):
    spec = yaml.safe_load(Codebook.default().to_yaml())
    spec["items"] = [i for i in spec["items"] if i["construct"] not in ("Complaints",)]
    del spec["constructs"]["Complaints"]
    del spec["subindicators"]["complaints"]
    model = Codebook.from_dict(spec).model()
    assert "Complaints" not in model.names
    assert ("Satisfaction", "Loyalty") in model.paths and len(model.paths) == 10


# ---------------------------------------------------------------------------- actions and measures
ACTIONABLE = {"supply_quality", "channels", "service_items", "staff", "value", "complaints"}


def test_actionable_marks_of_the_default_questionnaire(book):
    assert {s.id for s in book.subindicators.values() if s.actionable} == ACTIONABLE
    assert {s.id for s in book.subindicators.values() if s.actionable is False} == {
        "image", "expectation", "satisfaction", "loyalty"}
    assert book.unmarked_subindicators == []
    assert [i.id for i in book.items if book.is_actionable(i.id)] == [
        *(f"QUA{k}" for k in range(1, 11)), "VAL1", "VAL2", "VAL3", "CMP1", "CMP2"]
    path = Path(__file__).resolve().parents[1] / "csi_research" / "resources" / "codebook_default.yaml"
    text = path.read_text(encoding="utf-8")
    assert "actionable: true | false" in text and "measures:" in text  # documented in the header


def test_measures_and_kpis_follow_the_service_commitments(book):
    kpis = {item: book.kpis_for(item) for item in book.item_ids}
    assert kpis["QUA9"][0] == "fault_restoration_hours"
    assert set(kpis["QUA1"]) == {"supply_reliability_rate", "outage_duration_hours", "outage_frequency"}
    assert kpis["QUA2"] == ["voltage_qualification_rate"]
    assert kpis["QUA4"] == ["three_ring_answer_rate"]
    assert kpis["QUA6"] == ["commitment_compliance_rate"]
    assert kpis["QUA7"] == ["metering_fault_rate"]
    assert set(kpis["CMP1"]) == {"complaint_handling_days", "complaint_callback_rate"}
    assert all(not kpis[i] for i in book.item_ids if not book.is_actionable(i))
    known = set(indicator_definitions())
    assert {k for ids in kpis.values() for k in ids} <= known
    for sub in book.subindicators.values():
        assert bool(sub.measures) == bool(sub.actionable), sub.id
        for m in sub.measures:
            assert m.zh and m.en and not m.zh.endswith("。") and not m.en.endswith(".")
            assert not re.search(r"[,;:()]", m.zh), m.zh  # full-width punctuation in Chinese
            assert set(m.kpis) <= known
    # DOMAIN.md's commitments, in the measures of the aspect they govern
    zh = {i: "；".join(m.zh for m in book.measures_for(i)) for i in book.item_ids}
    en = {i: "; ".join(m.en for m in book.measures_for(i)) for i in book.item_ids}
    assert "3个工作日" in zh["QUA6"] and "15个" in zh["QUA6"] and "3天内" in zh["QUA6"]
    assert "1个工作日内联系客户" in zh["CMP1"] and "7个工作日内答复" in zh["CMP1"]
    assert "5个工作日内出具校验结果" in zh["QUA7"]
    assert "三声铃响" in zh["QUA4"] and "three rings" in en["QUA4"]
    assert "配电自动化" in zh["QUA1"] and "带电作业" in zh["QUA1"] and "repair crews" in en["QUA9"]
    # a measure limited to some items applies only to them
    assert all("1 working day" not in m.en or m.items == () for m in book.measures_for("CMP2"))
    assert [m.en for m in book.measures_for("CMP2")] != [m.en for m in book.measures_for("CMP1")]
    assert book.measures_for("IMG1") == [] and book.kpis_for("LOY1") == []


def _write(tmp_path, spec) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s["subindicators"]["channels"].update(actionable="yes"),
     r"sub-indicator channels: actionable must be true or false, not 'yes'"),
    (lambda s: s["subindicators"]["channels"]["measures"][0].update(items=["QUA99"]),
     r"sub-indicator channels: measure 1 names unknown item QUA99"),
    (lambda s: s["subindicators"]["channels"]["measures"][0].update(items=["QUA9"]),
     r"sub-indicator channels: measure 1 names item QUA9, which belongs to sub-indicator service_items"),
    (lambda s: s["subindicators"]["staff"].update(actionable=False),
     r"sub-indicator staff has measures but actionable: false"),
    (lambda s: s["subindicators"]["staff"]["measures"][0].pop("en"),
     r"sub-indicator staff: measure 1: en must be a non-empty text, not None"),
    (lambda s: s["subindicators"]["value"].update(kpis={"a": 1}),
     r"sub-indicator value: kpis must be a list of ids, not \{'a': 1\}"),
    (lambda s: s["subindicators"]["value"].update(measure=[]),
     r"sub-indicator value: unknown key\(s\) \['measure'\]"),
    (lambda s: s["subindicators"]["value"]["measures"][0].update(kpi=["x"]),
     r"sub-indicator value: measure 1: unknown key\(s\) \['kpi'\]"),
    (lambda s: s["items"][17].update({"courtesy and empathy": None}),
     r"item QUA10: unknown key\(s\) \['courtesy and empathy'\].*quote a text that contains a comma"),
])
def test_action_entries_are_validated_naming_file_key_and_value(book, tmp_path, change, message):
    spec = book.to_dict()
    change(spec)
    path = _write(tmp_path, spec)
    with pytest.raises(ModelSpecError, match=re.escape(str(path)) + ": " + message):
        Codebook.from_yaml(path)


def test_unmarked_subindicators_fall_back_to_the_standard_constructs(book, tmp_path):
    spec = book.to_dict()
    for sub in spec["subindicators"].values():
        sub.pop("actionable")
    unmarked = Codebook.from_dict(spec)
    assert unmarked.unmarked_subindicators == list(book.subindicators)
    assert all(unmarked.is_actionable(i) == book.is_actionable(i) for i in book.item_ids)
    spec["subindicators"]["channels"]["actionable"] = False
    spec["subindicators"]["channels"].pop("measures")
    partly = Codebook.from_dict(spec)
    assert not partly.is_actionable("QUA4") and partly.is_actionable("QUA1")
    assert "channels" not in partly.unmarked_subindicators
    assert Codebook.from_yaml(_write(tmp_path, spec)) == partly
    assert partly.to_dict()["subindicators"]["channels"] == {
        "construct": "Quality", "label_zh": "服务渠道", "label_en": "Service channels", "actionable": False}
