"""Multi-group CB-SEM and measurement invariance against lavaan 0.6-14.

Reference values: ../shared/reference (ECSI survey by gender, configural/metric/scalar) and numbers
printed by tests/reference_scripts/multigroup_invariance.R (lavaan 0.6-14), pasted below. The same
script wrote tests/data/holzinger_swineford_1939.csv (lavaan's public HolzingerSwineford1939 data).

Tolerance: lavaan's nlminb stops at a relative change of the objective of 1e-10, so its χ² is exact
to ~1e-6 and the fit indices to ~1e-7 (SRMR, which moves with the estimates rather than the
objective, to ~5e-7 on the ECSI data with its Heywood case). 1e-4 absolute on χ², AIC, BIC and every
index is far above those optimiser differences and far below any difference a reader would act on; a
wrong definition (N − 1, no √G in RMSEA, SRMR without means, a pooled baseline) moves them by 1e-3
or more.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ecsi_reference import ecsi_model, reference_csv, satisfaction_data
from scipy import optimize, stats

from csi_research import CSIModel, CSIWarning, EstimationError, ModelSpecError, SurveyDataError
from csi_research.data.sample import prepare
from csi_research.stats import multigroup as mg
from csi_research.stats.multigroup import fit_multigroup, invariance

DATA = Path(__file__).parent / "data" / "holzinger_swineford_1939.csv"
CFA = {"visual": ["x1", "x2", "x3"], "textual": ["x4", "x5", "x6"], "speed": ["x7", "x8", "x9"]}
TOL = 1e-4
INDICES = ["chisq", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "srmr", "aic", "bic"]
OURS = dict(zip(INDICES, ["chi2", "cfi", "tli", "rmsea", "rmsea_ci_lower", "rmsea_ci_upper", "srmr", "aic",
                          "bic"], strict=True))

# lavaan 0.6-14 fitMeasures: npar, df, then INDICES (tests/reference_scripts/multigroup_invariance.R)
LAVAAN = {
    ("hs_school", "configural"): (60, 48, 115.851343876, 0.923398380409, 0.885097570613, 0.0969148567676,
                                  0.0745052867747, 0.119582825882, 0.0678640117525, 7484.39502415,
                                  7706.82164003),
    ("hs_school", "metric"): (54, 54, 124.04354418, 0.920923468577, 0.894564624769, 0.0928365358683,
                              0.0713961317994, 0.114411102325, 0.0716515837898, 7480.58722445, 7680.77117875),
    ("hs_school", "scalar"): (48, 60, 164.102830925, 0.882471812681, 0.858966175217, 0.107371098089,
                              0.0879038594942, 0.127194379752, 0.0824470585788, 7508.6465112, 7686.5878039),
    ("hs_school", "strict"): (39, 69, 181.51134523, 0.872978915748, 0.867456259911, 0.104089126333,
                              0.0857749840962, 0.122681365945, 0.0882626495432, 7508.0550255, 7652.63232583),
    # group.partial = c("visual =~ x2", "x3 ~ 1", "x7 ~ 1") with loadings and intercepts equal
    ("hs_school", "partial"): (51, 57, 128.648298805, 0.91911176086, 0.897825382138, 0.0913897025369,
                               0.070404765079, 0.112464428949, 0.0725771910121, 7479.19197908, 7668.25460258),
    # sem(): textual ~ visual, speed ~ visual (textual ~~ speed free by lavaan's auto.cov.y)
    ("hs_paths", "strict"): (39, 69, 181.511345232, 0.872978915746, 0.867456259909, 0.104089126334,
                             0.085774984097, 0.122681365945, 0.0882625995259, 7508.0550255, 7652.63232583),
    ("hs_paths", "structural"): (37, 71, 186.569450493, 0.869526429731, 0.867688773812, 0.103997787458,
                                 0.0859372969138, 0.122327680833, 0.0941934899867, 7509.11313076,
                                 7646.27621056),
    # three groups: ageyr 11-12 "young", 13 "mid", 14-16 "old"
    ("hs_age3", "configural"): (90, 72, 163.021710968, 0.897863744716, 0.846795617074, 0.112249296742,
                                0.089409051935, 0.135187558592, 0.0750692161589, 7552.98529205,
                                7886.62521588),
    ("hs_age3", "metric"): (78, 84, 177.100790856, 0.895530791052, 0.865682445638, 0.10510283281,
                            0.0834454849441, 0.126691778115, 0.0871845102369, 7543.06437194, 7832.21897259),
    ("hs_age3", "scalar"): (66, 96, 189.172093787, 0.895450781411, 0.882382129087, 0.0983523385311,
                            0.0775494470463, 0.118918254332, 0.0921194726848, 7531.13567487, 7775.80495235),
    # ECSI survey by gender (Rscript tests/reference_scripts/multigroup_invariance.R satisfaction.csv)
    ("ecsi", "strict"): (113, 697, 1877.36613407, 0.774770406817, 0.773154699549, 0.116395710259,
                         0.110069908565, 0.12275410921, 0.0981686880337, 24921.2131331, 25319.1382168),
    ("ecsi", "structural"): (103, 707, 1895.83651566, 0.773154145095, 0.774758429784, 0.11598353859,
                             0.109697213254, 0.1223016268, 0.104120182645, 24919.6835147, 25282.3939893),
}


def _check(fit_indices: pd.Series | dict, key: tuple[str, str]) -> None:
    npar, df, *values = LAVAAN[key]
    assert fit_indices["npar"] == npar, key
    assert fit_indices["df"] == df, key
    for name, value in zip(INDICES, values, strict=True):
        assert fit_indices[OURS[name]] == pytest.approx(value, abs=TOL), (key, name)


def _quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        return function(*args, **kwargs)


@pytest.fixture(scope="module")
def hs() -> pd.DataFrame:
    data = pd.read_csv(DATA)
    data["age3"] = np.where(data["ageyr"] <= 12, "young", np.where(data["ageyr"] == 13, "mid", "old"))
    return data


@pytest.fixture(scope="module")
def hs_steps(hs):
    return _quiet(invariance, CFA, hs, "school", steps=("configural", "metric", "scalar", "strict"))


# ----------------------------------------------------------------------------- ECSI reference folder
def test_ecsi_invariance_matches_lavaan_reference():
    reference = reference_csv("lavaan_satisfaction_invariance_gender.csv", index_col=0)
    result = _quiet(invariance, ecsi_model(), satisfaction_data(), "gender")
    fits = result.fits.set_index("step")
    assert list(fits.index) == ["configural", "metric", "scalar", "strict", "structural"]
    for step, row in reference.iterrows():
        assert fits.loc[step, "df"] == row["df"]
        for name in ["chisq", "cfi", "rmsea", "srmr"]:
            assert fits.loc[step, OURS[name]] == pytest.approx(row[name], abs=TOL), (step, name)
    for step in ["strict", "structural"]:
        _check(fits.loc[step], ("ecsi", step))
    # lavaan warns of a negative latent variance: the diagnostics must say so too
    assert any("Heywood" in d for d in result.diagnostics)


# ----------------------------------------------------------------------------- Holzinger-Swineford
def test_cfa_by_school_four_steps(hs_steps):
    fits = hs_steps.fits.set_index("step")
    for step in ["configural", "metric", "scalar", "strict"]:
        _check(fits.loc[step], ("hs_school", step))
    assert fits["equal"].tolist() == ["none", "loadings", "loadings, intercepts",
                                      "loadings, intercepts, residuals"]


def test_comparison_table_from_lavaan_numbers(hs_steps):
    comp = hs_steps.comparisons.set_index("step")
    lav = {step: LAVAAN[("hs_school", step)] for step in ["configural", "metric", "scalar", "strict"]}
    for step, prev in [("metric", "configural"), ("scalar", "metric"), ("strict", "scalar")]:
        d_chi2, d_df = lav[step][2] - lav[prev][2], lav[step][1] - lav[prev][1]
        row = comp.loc[step]
        assert row["versus"] == prev
        assert row["delta_df"] == d_df
        assert row["delta_chi2"] == pytest.approx(d_chi2, abs=TOL)
        assert row["p_value"] == pytest.approx(stats.chi2.sf(d_chi2, d_df), abs=1e-6)
        assert row["delta_cfi"] == pytest.approx(lav[step][3] - lav[prev][3], abs=TOL)
        assert row["delta_rmsea"] == pytest.approx(lav[step][5] - lav[prev][5], abs=TOL)
    # metric: Δχ²(6) = 8.19, p = .22, ΔCFI = −.002 → holds; scalar: Δχ²(6) = 40.1, ΔCFI = −.038 → fails
    assert comp.loc["metric", "verdict"] == "invariant (both criteria)"
    assert comp.loc["scalar", "verdict"] == "not invariant"
    assert not comp.loc["scalar", ["holds_chi2", "holds_chen"]].any()
    # strict vs scalar: Δχ²(9) = 17.4, p = .043 but ΔCFI = −.0095 and ΔRMSEA < 0: criteria disagree
    assert comp.loc["strict", "verdict"] == "invariant by ΔCFI/ΔRMSEA only (Δχ² significant)"


def test_partial_invariance_matches_group_partial(hs):
    fit = _quiet(fit_multigroup, CFA, hs, "school", ("loadings", "intercepts"),
                 free=["visual =~ x2", "x3 ~ 1", "x7~1"])
    _check(fit.fit_indices, ("hs_school", "partial"))
    words = _quiet(fit_multigroup, CFA, hs, "school", ("loadings", "intercepts"),
                   free=["x2 loading", "x3 intercept", "x7 intercept"])
    compact = _quiet(fit_multigroup, CFA, hs, "school", ("loadings", "intercepts"),
                     free=["visual=~x2", "x3~1", "x7 ~ 1"])
    assert compact.fit_indices["chi2"] == pytest.approx(fit.fit_indices["chi2"], abs=1e-8)
    assert words.fit_indices["chi2"] == pytest.approx(fit.fit_indices["chi2"], abs=1e-8)
    table = fit.parameters.set_index(["lhs", "op", "rhs", "group"])["est"].sort_index()
    x2, x3 = table.loc[("visual", "=~", "x2")], table.loc[("visual", "=~", "x3")]
    assert x2["Pasteur"] != pytest.approx(x2["Grant-White"], abs=1e-3)
    assert x3["Pasteur"] == x3["Grant-White"]


def test_structural_step_with_paths(hs):
    model = CSIModel(CFA, [("visual", "textual"), ("visual", "speed")])
    result = _quiet(invariance, model, hs, "school", steps=("strict", "structural"))
    fits = result.fits.set_index("step")
    for step in ["strict", "structural"]:
        _check(fits.loc[step], ("hs_paths", step))
    assert result.comparisons.loc[0, "delta_df"] == 2
    paths = result.models["structural"].parameters
    paths = paths[paths["op"] == "~"]
    assert len(paths) == 4 and paths.groupby(["lhs", "rhs"])["est"].nunique().eq(1).all()


def test_three_groups(hs):
    result = _quiet(invariance, CFA, hs, "age3", steps=("configural", "metric", "scalar"))
    fits = result.fits.set_index("step")
    for step in ["configural", "metric", "scalar"]:
        _check(fits.loc[step], ("hs_age3", step))
    groups = result.models["scalar"].groups
    assert groups["group"].tolist() == ["mid", "young", "old"]  # order of appearance, as lavaan
    assert groups["n"].sum() == 301
    means = result.models["scalar"].parameters
    means = means[(means["op"] == "~1") & means["lhs"].isin(CFA)]
    assert means.groupby("group")["free"].sum().to_dict() == {"mid": 0, "young": 3, "old": 3}


# lavaan 0.6-14 parameterEstimates(cfa(..., group = "school", group.equal = c("loadings", "intercepts")))
# (lhs, op, rhs, group, est, se); group 1 is Pasteur, group 2 Grant-White
LAVAAN_SCALAR_ESTIMATES = [
    ("visual", "=~", "x2", "Pasteur", 0.575661, 0.100772),
    ("speed", "=~", "x9", "Grant-White", 1.009077, 0.131612),
    ("x2", "~~", "x2", "Pasteur", 1.296296, 0.158363),
    ("x6", "~~", "x6", "Grant-White", 0.437085, 0.066634),
    ("visual", "~~", "visual", "Pasteur", 0.796208, 0.171577),
    ("speed", "~~", "speed", "Grant-White", 0.505003, 0.115336),
    ("visual", "~~", "textual", "Pasteur", 0.409739, 0.095454),
    ("textual", "~~", "speed", "Grant-White", 0.236120, 0.073243),
    ("x1", "~1", "", "Pasteur", 5.001404, 0.089696),
    ("x8", "~1", "", "Grant-White", 5.630458, 0.071697),
    ("visual", "~1", "", "Grant-White", -0.147699, 0.121968),
    ("textual", "~1", "", "Grant-White", 0.576363, 0.117190),
    ("speed", "~1", "", "Grant-White", -0.177350, 0.090135),
]


def test_estimates_and_standard_errors(hs_steps):
    # lavaan stops at a relative objective change of 1e-10, which leaves its estimates exact to ~1e-5
    table = hs_steps.models["scalar"].parameters.set_index(["lhs", "op", "rhs", "group"])
    for lhs, op, rhs, group, est, se in LAVAAN_SCALAR_ESTIMATES:
        row = table.loc[(lhs, op, rhs, group)]
        assert row["est"] == pytest.approx(est, abs=1e-5), (lhs, op, rhs, group)
        assert row["se"] == pytest.approx(se, abs=1e-5), (lhs, op, rhs, group)
    marker = table.loc[("visual", "=~", "x1", "Pasteur")]
    assert marker["est"] == 1.0 and not marker["free"]
    assert table.loc[("visual", "~1", "", "Pasteur"), "est"] == 0.0  # reference group's latent mean
    free = hs_steps.models["scalar"].parameters["free"]
    assert free.sum() == 2 * 30 + 3  # each group's rows (shared parameters in both) + 3 latent means


def test_analytic_gradient_equals_finite_differences(hs):
    model = CSIModel(CFA, [("visual", "textual"), ("visual", "speed")])
    layout = mg._layout(model, False)
    groups, _ = mg._groups(layout, model, hs, "school", None)
    index, n_par = mg._parameter_index(layout, 2, {"loadings", "intercepts"}, set())
    problem = mg._Problem(layout, groups, index, n_par)
    rng = np.random.default_rng(7)
    theta = mg._start(problem) + rng.normal(0, 0.05, n_par)  # away from the optimum, latent means ≠ 0
    _, grad = problem.value_and_gradient(theta)
    numeric = optimize.approx_fprime(theta, lambda t: problem.value_and_gradient(t)[0], 1e-7)
    np.testing.assert_allclose(grad, numeric, atol=2e-5)


# ----------------------------------------------------------------------------- inputs and errors
def test_prepared_sample_gives_the_same_fit(hs):
    model = CSIModel(CFA, [("visual", "textual"), ("visual", "speed")])
    sample = _quiet(prepare, model, hs)
    from_sample = _quiet(fit_multigroup, sample, group="school", equal="loadings")
    from_frame = _quiet(fit_multigroup, model, hs, "school", "loadings")
    assert from_sample.fit_indices["chi2"] == pytest.approx(from_frame.fit_indices["chi2"], abs=1e-8)


def test_reference_group_order_and_listwise_deletion(hs):
    data = hs.copy()
    data.loc[:4, "x1"] = np.nan
    fit = _quiet(fit_multigroup, CFA, data, "school", groups=["Grant-White", "Pasteur"], estimator="ML")
    assert fit.groups["group"].tolist() == ["Grant-White", "Pasteur"] and fit.n == 296
    assert any("5 respondents" in d for d in fit.diagnostics) and fit.estimator == "ML"
    kept = _quiet(fit_multigroup, CFA, data, "school", groups=["Grant-White", "Pasteur"])
    assert kept.estimator == "FIML" and kept.information == "observed" and kept.n == 301  # the default
    complete = _quiet(fit_multigroup, CFA, hs, "school")
    assert complete.estimator == "ML" and complete.information == "expected"


def test_errors_name_the_problem(hs):
    with pytest.raises(SurveyDataError, match="region"):
        fit_multigroup(CFA, hs, "region")
    with pytest.raises(SurveyDataError, match="at least 2"):
        fit_multigroup(CFA, hs[hs["school"] == "Pasteur"], "school")
    with pytest.raises(EstimationError, match="more respondents than items"):
        fit_multigroup(CFA, hs, "ageyr")  # 8 eleven- and 7 sixteen-year-olds for 9 items
    with pytest.raises(ModelSpecError, match="visual =~ x1"):
        fit_multigroup(CFA, hs, "school", "loadings", free=["visual =~ x1"])  # marker is fixed
    with pytest.raises(ModelSpecError, match="allowed"):
        fit_multigroup(CFA, hs, "school", "thresholds")
    with pytest.raises(ModelSpecError, match="allowed"):
        invariance(CFA, hs, "school", steps=("configural", "weak"))


def test_measurement_only_skips_structural_step(hs):
    result = _quiet(invariance, CFA, hs, "school", steps=("configural", "structural"))
    assert result.fits["step"].tolist() == ["configural"]
    assert result.comparisons.empty
    assert any("structural invariance step was skipped" in d for d in result.diagnostics)
    # a CSI model read as its measurement model: all factor covariances free, i.e. lavaan's cfa()
    model = CSIModel(CFA, [("visual", "textual"), ("visual", "speed")])
    cfa = _quiet(fit_multigroup, model, hs, "school", measurement_only=True)
    _check(cfa.fit_indices, ("hs_school", "configural"))
