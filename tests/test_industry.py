"""The industry evaluation on a study's sample, and how its diagnostics reach the user."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from csi_research import CSIModel
from csi_research.core.errors import CSIWarning
from csi_research.data.sample import prepare
from csi_research.data.survey import load_survey
from csi_research.evaluation import (
    default_industry_spec,
    fuzzy_evaluation,
    industry_evaluation,
    load_internal_indicators,
    rough_set_weights,
)

ROOT = Path(__file__).resolve().parents[1]
ITEMS = pd.Series({"QUA1": 2.0, "QUA3": 1.0, "SAT1": 1.5, "LOY2": 0.5})


@pytest.fixture(scope="module")
def beiling():
    survey = load_survey.quiet(ROOT / "data" / "beiling_2025.csv")  # has missing answers
    weights = np.random.default_rng(5).uniform(0.2, 3.0, len(survey.frame))
    return survey, CSIModel.default(), weights


def _hand_shares(frame: pd.DataFrame, w: np.ndarray, item: str, codes) -> np.ndarray:
    """Weighted share of each grade among the respondents who answered ``item`` (plain numpy)."""
    x = frame[item].to_numpy(dtype=float)
    answered = ~np.isnan(x)
    return np.array([w[answered & (x == c)].sum() for c in codes]) / w[answered].sum()


@pytest.mark.parametrize("missing", ["listwise", "em"])
def test_fuzzy_grade_shares_follow_the_samples_respondents_and_weights(beiling, missing):
    survey, model, w = beiling
    frame = survey.frame
    sample = prepare.quiet(model, survey, missing=missing, weights=w)
    answers = frame[model.items].notna()
    kept = (answers.all(axis=1) if missing == "listwise" else answers.any(axis=1)).to_numpy()
    if missing == "listwise":
        assert 0 < kept.sum() < len(frame)  # a missing answer drops its respondent
    result = fuzzy_evaluation(sample, ITEMS)  # scale from the sample's codebook
    assert result.n == sample.n == kept.sum()
    for item in ITEMS.index:
        codes = survey.codebook.scale_of(item).codes
        expected = _hand_shares(frame[kept], w[kept], item, codes)
        np.testing.assert_allclose(result.memberships.loc[item], expected)
    # a fit is read through its sample
    fit = SimpleNamespace(sample=sample)
    np.testing.assert_allclose(fuzzy_evaluation(fit, ITEMS).memberships, result.memberships)
    # an unweighted sample gives the plain shares of its kept rows
    plain = prepare.quiet(model, survey, missing=missing)
    np.testing.assert_allclose(fuzzy_evaluation(plain, ITEMS).memberships,
                               fuzzy_evaluation(frame[kept], ITEMS, codebook=survey.codebook).memberships)
    with pytest.raises(TypeError, match="carries its survey weights"):
        fuzzy_evaluation(sample, ITEMS, survey_weights=w[kept])


def test_industry_evaluation_stands_on_the_sample(beiling):
    survey, model, w = beiling
    frame = survey.frame
    sample = prepare.quiet(model, survey, missing="listwise", weights=w)
    kept = frame[model.items].notna().all(axis=1).to_numpy()
    result = industry_evaluation.quiet(sample, spec={"weighting": "combined"})
    # fuzzy: the kept respondents, weighted; M(·,+) score = Σ global weight × weighted mean grade score
    assert result.fuzzy.n == sample.n
    leaves = result.weights[~result.weights["node"].isin(list(result.spec["hierarchy"]))]
    assert set(leaves["node"]) == set(model.items)
    total = 0.0
    for node, g in zip(leaves["node"], leaves["global_weight"], strict=True):
        scale = survey.codebook.scale_of(node)
        shares = _hand_shares(frame[kept], w[kept], node, scale.codes)
        total += g * shares @ np.asarray(scale.grade_scores, dtype=float)
    assert result.external_csi == pytest.approx(total, abs=1e-9)
    # rough sets: the same kept respondents, each counted once
    service = result.rough_sets["service_items"]
    assert service.n == sample.n
    direct = rough_set_weights.quiet(frame[kept], ["QUA6", "QUA7", "QUA8", "QUA9"], "SAT1")
    np.testing.assert_allclose(service.weights, direct.weights)
    # the same respondents with other survey weights: same rough sets, other fuzzy shares
    other = industry_evaluation.quiet(prepare.quiet(model, survey, missing="listwise"),
                                      spec={"weighting": "combined"})
    np.testing.assert_allclose(other.rough_sets["service_items"].weights, service.weights)
    assert other.external_csi != pytest.approx(result.external_csi)


def _noisy_inputs():
    """A hierarchy with an inconsistent node and internal indicators with a gap."""
    hierarchy = default_industry_spec()["hierarchy"]
    hierarchy["channels"] = {**hierarchy["channels"], "upper": [[9, "1/9"], [9]]}
    table = load_internal_indicators()
    table = table[table["region"] == "beiling"].copy()
    table.loc[table.index[0], "outage_frequency"] = np.nan
    return {"weighting": "combined", "hierarchy": hierarchy}, table


def test_each_diagnostic_is_warned_once_at_the_users_call(beiling, recwarn):
    survey = beiling[0]
    spec, table = _noisy_inputs()
    result = industry_evaluation(survey, spec=spec, internal=table)
    raised = [w for w in recwarn if issubclass(w.category, CSIWarning)]
    assert [str(w.message) for w in raised] == result.diagnostics
    assert len(set(result.diagnostics)) == len(result.diagnostics)
    assert {w.filename for w in raised} == {__file__}
    # gathered from every step: AHP node, combined matrix, rough sets, internal indicators, its own notes
    found = "\n".join(result.diagnostics)
    assert "judgement matrix 'channels': CR" in found
    assert "judgement matrix 'channels (combined, alpha=0.5)'" in found
    assert "rough set at node channels:" in found
    assert "indicator outage_frequency is missing" in found
    assert "node CSI contains the decision item SAT1" in found


def test_quiet_industry_evaluation_keeps_the_diagnostics_without_warning(beiling, recwarn):
    survey = beiling[0]
    spec, table = _noisy_inputs()
    quiet = industry_evaluation.quiet(survey, spec=spec, internal=table)
    assert not recwarn.list
    assert quiet.diagnostics == industry_evaluation(survey, spec=spec, internal=table).diagnostics
    assert len(quiet.diagnostics) > 5
    assert quiet.summary()["diagnostics"]["diagnostic"].tolist() == quiet.diagnostics


def test_fuzzy_table_of_the_industry_summary_keeps_node_and_both_grades(beiling):
    survey = beiling[0]
    result = industry_evaluation.quiet(survey)
    table = result.summary()["fuzzy_evaluation"]
    assert table.columns[0] == "node" and table["node"].iloc[0] == "CSI"  # a column, so the CSV keeps it
    assert list(table.columns[-5:]) == ["very dissatisfied", "not very satisfied", "basically satisfied",
                                        "fairly satisfied", "very satisfied"]
    # semantic-scale bands by hand: [0, 20) 1, [20, 50) 2, [50, 70) 3, [70, 90) 4, [90, 100] 5
    by_hand = [1 + sum(s >= edge for edge in (20, 50, 70, 90)) for s in table["score"]]
    assert table["grade"].tolist() == by_hand
    assert result.fuzzy.score == pytest.approx(table["score"].iloc[0])
    shown = table["max_grade"].notna()
    assert (table.loc[shown, "max_validity"] >= 0.5).all() and (table.loc[~shown, "max_validity"] < 0.5).all()


CYCLE = ["Image", "Expectation", "Quality", "Value", "Satisfaction", "Complaints", "Loyalty"]


def _ring(order: list[str]) -> dict:
    """A network where each top-level indicator is shaped by itself and its predecessor on a ring."""
    return {"clusters": {"criteria": order}, "evaluate": ["criteria"],
            "comparisons": [{"wrt": b, "compare": "criteria", "elements": [b, a], "upper": [[3]]}
                            for a, b in zip([order[-1], *order[:-1]], order, strict=True)]}


def test_anp_weights_replace_the_top_level_and_feed_the_fuzzy_evaluation(beiling):
    """A ring network: every column gives 3/4 to itself and 1/4 to its predecessor, so the
    supermatrix is doubly stochastic and its limit (aperiodic: self-loops) is uniform, 1/7 each."""
    survey, model, _ = beiling
    sample = prepare(model, survey, missing="listwise")
    result = industry_evaluation.quiet(sample, spec={"anp": _ring(CYCLE), "weighting": "ahp"})
    top = result.weights[result.weights["level"] == 2].set_index("node")
    np.testing.assert_allclose(top["local_weight"].reindex(CYCLE), 1 / 7, atol=1e-9)
    assert set(top["source"]) == {"ANP"}
    table = result.fuzzy.table.set_index("node")  # weighted operator: the root is the children's mix
    assert result.fuzzy.score == pytest.approx(table.loc[CYCLE, "score"].mean(), abs=1e-9)
    plain = industry_evaluation.quiet(sample, spec={"weighting": "ahp"})
    assert result.fuzzy.score != pytest.approx(plain.fuzzy.score, abs=1e-6)  # AHP weights are not equal


def test_an_anp_network_of_other_indicators_is_refused(beiling):
    survey, model, _ = beiling
    with pytest.raises(Exception, match="evaluate exactly the children of CSI"):
        industry_evaluation.quiet(prepare(model, survey, missing="listwise"),
                                  spec={"anp": _ring(CYCLE[:-1]), "weighting": "ahp"})


def test_set_pair_analysis_sits_beside_the_fuzzy_grade(beiling):
    from csi_research.evaluation.setpair import connection_coefficients

    survey, model, _ = beiling
    sample = prepare(model, survey, missing="listwise")
    result = industry_evaluation.quiet(sample, spec={"weighting": "ahp", "set_pair": True}, external_csi=71.5)
    table = result.methods.table
    root = table[table["node"] == "CSI"].set_index("method")
    shares = result.fuzzy.memberships.loc["CSI"].to_numpy()  # very dissatisfied … very satisfied
    mu = float(shares @ connection_coefficients(len(shares)))
    assert root.at["set_pair", "value"] == pytest.approx(mu, abs=1e-9)
    assert root.at["acsi", "value"] == 71.5 and root.at["fuzzy", "value"] == pytest.approx(result.fuzzy.score)
    assert {"set_pair", "method_comparison"} <= set(result.summary())
    off = industry_evaluation.quiet(sample, spec={"weighting": "ahp", "set_pair": False})
    assert off.methods is None
    with pytest.raises(Exception, match="set_pair must be"):
        industry_evaluation.quiet(sample, spec={"set_pair": "yes"})
