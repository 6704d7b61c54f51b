"""Internal indicators: normalisation, direction, validation, the combined service-quality index."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from csi_research.errors import CSIWarning, ModelSpecError, SurveyDataError
from csi_research.evaluation.internal import (
    indicator_definitions,
    internal_evaluation,
    load_internal_indicators,
    service_quality_index,
)

DEFS = indicator_definitions()


def test_normalisation_is_linear_between_worst_and_target_and_capped():
    d = DEFS["outage_duration_hours"]  # cost: target 1 h, worst 20 h
    np.testing.assert_allclose(d.normalise([1, 20, 10.5, 0.2, 40]), [100, 0, 50, 100, 0])
    v = DEFS["voltage_qualification_rate"]  # benefit: target 0.999, worst 0.97
    np.testing.assert_allclose(v.normalise([0.999, 0.97, 0.9845, 1.0]), [100, 0, 50, 100])


def test_cost_indicator_ranks_regions_in_the_right_direction():
    frame = pd.DataFrame({"region": ["short", "medium", "long"], "year": 2025,
                          "outage_duration_hours": [2.0, 8.0, 15.0]})
    result = internal_evaluation(frame)
    ranked = result.internal.sort_values("internal_score", ascending=False)["region"].tolist()
    assert ranked == ["short", "medium", "long"]


def test_bundled_synthetic_regions_have_their_profiles():
    table = load_internal_indicators()
    assert table["synthetic"].all()
    assert set(table["region"]) == {"donggang", "beiling", "nanyu", "xiyuan", "yunchuan", "linxi"}
    result = internal_evaluation(table)
    s = result.internal.set_index(["region", "year"])["internal_score"]
    assert s[("donggang", 2026)] > s[("donggang", 2025)]  # improved in 2026
    scores = result.scores.set_index(["region", "indicator"])["score"]
    regions = ["beiling", "nanyu", "xiyuan", "yunchuan", "linxi"]
    # beiling: the longest outages and slowest restoration
    assert min(regions, key=lambda r: scores[(r, "outage_duration_hours")]) == "beiling"
    assert min(regions, key=lambda r: scores[(r, "fault_restoration_hours")]) == "beiling"
    assert min(regions, key=lambda r: scores[(r, "outage_frequency")]) == "nanyu"
    assert min(regions, key=lambda r: scores[(r, "voltage_qualification_rate")]) == "xiyuan"
    assert min(regions, key=lambda r: scores[(r, "three_ring_answer_rate")]) == "yunchuan"
    # reliability rate and outage hours of the synthetic data agree: RS = 1 − hours / 8760
    np.testing.assert_allclose(table["supply_reliability_rate"], 1 - table["outage_duration_hours"] / 8760,
                               atol=1e-6)


def test_weights_and_missing_values():
    frame = pd.DataFrame({"region": ["a", "b"], "year": [2025, 2025],
                          "outage_duration_hours": [1.0, 20.0], "complaint_callback_rate": [0.85, np.nan]})
    # scores: a = (100, 0), b = (0, missing)
    with pytest.warns(CSIWarning):
        result = internal_evaluation(frame, {"outage_duration_hours": 3, "complaint_callback_rate": 1})
    s = result.internal.set_index("region")["internal_score"]
    assert s["a"] == pytest.approx(75)
    with pytest.warns(CSIWarning, match="region b 2025: indicator complaint_callback_rate is missing"):
        result = internal_evaluation(frame)
    assert result.internal.set_index("region")["internal_score"]["b"] == pytest.approx(0)
    with pytest.raises(ModelSpecError, match="missing"):
        internal_evaluation(frame, weights={"outage_duration_hours": 1})


@pytest.mark.parametrize(
    ("column", "value", "pattern"),
    [
        ("supply_reliability_rate", 99.9, r"region r1 2025: indicator supply_reliability_rate .* "
                                          r"value 99.9 is implausible: a rate must lie in \[0, 1\]"),
        ("outage_duration_hours", -2.0,
         r"region r1 2025: indicator outage_duration_hours .*cannot be negative"),
        ("fault_restoration_hours", "slow", r"indicator fault_restoration_hours .*'slow' is not a number"),
    ],
)
def test_bad_values_name_region_indicator_and_value(column, value, pattern):
    frame = pd.DataFrame({"region": ["r0", "r1"], "year": [2025, 2025], column: [0.5, value]})
    with pytest.raises(SurveyDataError, match=pattern):
        internal_evaluation(frame)


def test_unknown_indicator_is_an_error():
    frame = pd.DataFrame({"region": ["r0"], "year": [2025], "customer_smiles": [3]})
    with pytest.raises(SurveyDataError, match=r"unknown internal indicator\(s\) \['customer_smiles'\]"):
        internal_evaluation(frame)


def test_service_quality_index():
    assert service_quality_index(80.0, 60.0, beta=0.7) == pytest.approx(74.0)
    assert service_quality_index(80.0, 60.0) == pytest.approx(70.0)
    with pytest.raises(ModelSpecError, match="beta"):
        service_quality_index(80.0, 60.0, beta=1.2)
