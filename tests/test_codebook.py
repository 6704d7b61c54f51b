"""Codebook: scales and their scores, the built-in questionnaire, YAML round trip, consistency checks."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from csi_research.codebook import Codebook, Scale
from csi_research.errors import ModelSpecError
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
    with pytest.raises(ModelSpecError, match="malformed codebook entry"):
        Codebook.from_dict(spec)


def test_a_custom_questionnaire_builds_its_own_model(tmp_path):
    spec = yaml.safe_load(Codebook.default().to_yaml())
    spec["items"] = [i for i in spec["items"] if i["construct"] not in ("Complaints",)]
    del spec["constructs"]["Complaints"]
    del spec["subindicators"]["complaints"]
    model = Codebook.from_dict(spec).model()
    assert "Complaints" not in model.names
    assert ("Satisfaction", "Loyalty") in model.paths and len(model.paths) == 10
