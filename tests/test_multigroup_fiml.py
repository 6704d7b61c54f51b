"""Multi-group CB-SEM on incomplete and weighted data: FIML against lavaan, weights against replicated rows.

Reference: lavaan 0.6-14 ``cfa()/sem(..., group=, group.equal=, missing = "ml")`` on Holzinger–Swineford
with answers removed at random given other answers (MAR, 9-25 % per item, tests/data/hs_holes_mar.csv),
by school (2 groups), by age (3 groups), with two paths (every step up to structural) and with partial
invariance; every number comes from tests/reference_scripts/multigroup_fiml.R, which wrote the data and
tests/data/lavaan/multigroup_fiml_*.csv. Tolerances as in tests/test_multigroup.py: both optimisers stop
where χ² is exact to ~1e-6, so 1e-4 on χ², AIC, BIC and every index; estimates to 1e-4 and standard
errors (observed information, a numerical Hessian on both sides) to 0.5 %.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from csi_research import CSIModel, SurveyDataError
from csi_research.data.sample import prepare
from csi_research.stats.multigroup import fit_multigroup, invariance

HERE = Path(__file__).parent / "data"
CFA = {"visual": ["x1", "x2", "x3"], "textual": ["x4", "x5", "x6"], "speed": ["x7", "x8", "x9"]}
PATHS = CSIModel(CFA, [("visual", "textual"), ("visual", "speed")])
CASES = {"school": (CFA, "school", ()), "age3": (CFA, "age3", ()), "school_paths": (PATHS, "school", ()),
         "school_partial": (CFA, "school", ("visual =~ x2", "x3 ~ 1", "x7 ~ 1"))}
INDICES = {"chisq": "chi2", "cfi": "cfi", "tli": "tli", "rmsea": "rmsea", "rmsea.ci.lower": "rmsea_ci_lower",
           "rmsea.ci.upper": "rmsea_ci_upper", "srmr": "srmr", "aic": "aic", "bic": "bic"}


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def holes() -> pd.DataFrame:
    return pd.read_csv(HERE / "hs_holes_mar.csv")


@pytest.fixture(scope="module")
def lavaan() -> tuple[pd.DataFrame, pd.DataFrame]:
    fits = pd.read_csv(HERE / "lavaan" / "multigroup_fiml_fit.csv")
    estimates = pd.read_csv(HERE / "lavaan" / "multigroup_fiml_estimates.csv")
    estimates["rhs"] = estimates["rhs"].fillna("")
    return fits, estimates


@pytest.fixture(scope="module")
def fitted(holes, lavaan) -> dict[str, object]:
    out = {}
    for case, (spec, group, free) in CASES.items():
        steps = tuple(lavaan[0].loc[lavaan[0]["case"] == case, "step"])
        out[case] = _quiet(invariance, spec, holes, group, steps=steps, free=free)
    return out


@pytest.mark.parametrize("case", CASES)
def test_every_invariance_step_equals_lavaan_fiml(case, fitted, lavaan):
    result = fitted[case]
    for _, row in lavaan[0][lavaan[0]["case"] == case].iterrows():
        ours = result.models[row["step"]]
        assert ours.estimator == "FIML" and ours.information == "observed"  # chosen for the holes
        f = ours.fit_indices
        assert (f["npar"], f["df"]) == (row["npar"], row["df"]), (case, row["step"])
        for theirs, mine in INDICES.items():
            assert f[mine] == pytest.approx(row[theirs], abs=1e-4), (case, row["step"], mine)
        assert -f["aic"] / 2 + f["npar"] == pytest.approx(row["logl"], abs=1e-4)


@pytest.mark.parametrize("case", CASES)
def test_estimates_and_observed_information_standard_errors_equal_lavaan(case, fitted, lavaan):
    theirs = lavaan[1][lavaan[1]["case"] == case]
    for step, ref in theirs.groupby("step"):
        ours = fitted[case].models[step].parameters.set_index(["lhs", "op", "rhs", "group"])
        ref = ref[ref["se"] > 0].set_index(["lhs", "op", "rhs", "group"])
        joined = ref.join(ours[["est", "se"]], rsuffix="_ours", how="left")
        assert joined["est_ours"].notna().all(), (case, step, joined[joined["est_ours"].isna()].index[:3])
        np.testing.assert_allclose(joined["est_ours"], joined["est"], atol=1e-4, err_msg=f"{case} {step}")
        np.testing.assert_allclose(joined["se_ours"], joined["se"], rtol=5e-3, err_msg=f"{case} {step}")


def test_fiml_keeps_the_respondents_listwise_ml_drops(holes):
    fiml = _quiet(fit_multigroup, CFA, holes, "school")
    listwise = _quiet(fit_multigroup, CFA, holes, "school", estimator="ML")
    assert fiml.n == len(holes) and listwise.n == int(holes[[i for b in CFA.values() for i in b]]
                                                     .notna().all(axis=1).sum()) < len(holes) * 0.6
    assert any("listwise" in d for d in listwise.diagnostics)


def _replicated(data: pd.DataFrame, w: np.ndarray) -> pd.DataFrame:
    return data.loc[data.index.repeat(w)].reset_index(drop=True)


@pytest.mark.parametrize("estimator", ["ML", "FIML"])
def test_frequency_weights_equal_replicated_rows(holes, estimator):
    data = holes if estimator == "FIML" else holes.dropna()
    w = np.random.default_rng(5).integers(1, 4, len(data))
    weighted = _quiet(fit_multigroup, PATHS, data.assign(w=w), "school", "loadings", weights="w",
                      weighting="frequency", estimator=estimator)
    copies = _quiet(fit_multigroup, PATHS, _replicated(data, w), "school", "loadings", estimator=estimator)
    assert weighted.weighting == "frequency" and copies.weighting is None
    # the same likelihood optimised twice: equal to where the optimiser stops (χ² to ~1e-6, estimates ~1e-6)
    np.testing.assert_allclose(weighted.parameters["est"], copies.parameters["est"], atol=2e-6)
    np.testing.assert_allclose(weighted.parameters["se"], copies.parameters["se"], rtol=1e-5)
    np.testing.assert_allclose(weighted.fit_indices.to_numpy(), copies.fit_indices.to_numpy(), rtol=1e-6)
    assert weighted.groups["weighted_n"].sum() == w.sum() and weighted.n == len(data)
    assert any("replicated" in d for d in weighted.diagnostics)


def test_sampling_weights_give_the_replicated_estimates_counted_as_respondents(holes):
    w = np.random.default_rng(6).integers(1, 5, len(holes))
    weighted = _quiet(fit_multigroup, CFA, holes, "school", ("loadings", "intercepts"), weights=w)
    copies = _quiet(fit_multigroup, CFA, _replicated(holes, w), "school", ("loadings", "intercepts"))
    np.testing.assert_allclose(weighted.parameters["est"], copies.parameters["est"], atol=1e-6)
    # normalised to mean 1: the likelihood counts len(holes) respondents, the copies w.sum()
    ratio = w.sum() / len(holes)
    assert weighted.fit_indices["chi2"] == pytest.approx(copies.fit_indices["chi2"] / ratio, rel=1e-6)
    free = weighted.parameters["se"].notna()
    np.testing.assert_allclose(weighted.parameters.loc[free, "se"],
                               copies.parameters.loc[free, "se"] * np.sqrt(ratio), rtol=1e-5)
    assert weighted.weighting == "sampling" and any("pseudo-ML" in d for d in weighted.diagnostics)


def test_a_weighted_prepared_sample_is_fitted_with_its_weights(holes):
    w = np.random.default_rng(7).uniform(0.5, 2.0, len(holes))
    sample = _quiet(prepare, CSIModel(CFA, []), holes.assign(w=w), missing="em", weights="w")
    from_sample = _quiet(fit_multigroup, sample, group="school")
    from_frame = _quiet(fit_multigroup, CFA, holes, "school", weights=w)
    assert from_sample.estimator == "FIML" and from_sample.weighting == "sampling"
    np.testing.assert_allclose(from_sample.parameters["est"], from_frame.parameters["est"], atol=1e-6)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, "heavy"])
def test_bad_weights_are_named(holes, bad):
    data = holes.assign(w=1.0).astype({"w": object})
    data.loc[7, "w"] = bad
    with pytest.raises(SurveyDataError, match=r"weight column 'w': row 7 has weight"):
        fit_multigroup(CFA, data, "school", weights="w")
    with pytest.raises(SurveyDataError, match="one per row"):
        fit_multigroup(CFA, holes, "school", weights=np.ones(3))


def test_the_observed_information_is_the_hessian_of_the_likelihood_away_from_the_optimum(holes, monkeypatch):
    """The chain-rule Hessian over groups, patterns and equality constraints against central
    differences of the analytic gradient (itself checked against lavaan's estimates), at a point
    where every group's moments are far from their fitted values."""
    from csi_research.stats import fiml, multigroup

    made = []

    class Recorded(multigroup._Problem):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(multigroup, "_Problem", Recorded)
    fit = _quiet(fit_multigroup, PATHS, holes, "school", ("loadings", "intercepts"))
    problem = made[-1]
    theta = np.random.default_rng(5).normal(0.0, 0.03, problem.n_par) + _quiet(multigroup._start, problem)
    analytic = problem.fiml_hessian(theta)
    numeric = fiml.numerical_hessian(lambda t: problem.value_and_gradient(t)[1], theta) * problem.n
    assert np.max(np.abs(analytic - numeric)) < 1e-6 * np.max(np.abs(numeric))
    assert fit.estimator == "FIML" and fit.parameters["se"].notna().any()
