"""CB-SEM against lavaan (reference files and semopy's political-democracy example) and known truth."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from ecsi_reference import BLOCKS, PATHS, ecsi_model, reference_csv, satisfaction_data

from csi_research import CSIModel, CSIWarning, EstimationError, ModelSpecError
from csi_research.data.sample import em_moments as _em_moments
from csi_research.stats.cbsem import _minus2ll, fit_cbsem


def _quiet_fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        return fit_cbsem(*args, **kwargs)


@pytest.fixture(scope="module")
def satisfaction() -> pd.DataFrame:
    return satisfaction_data()


@pytest.fixture(scope="module")
def sat_fit(satisfaction):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_cbsem(ecsi_model(), satisfaction)
    assert [str(w.message) for w in caught if w.category is CSIWarning] == fit.diagnostics
    return fit


# ----------------------------------------------------------------------------- lavaan, ECSI survey
def test_fit_indices_match_lavaan(sat_fit):
    lav = reference_csv("lavaan_satisfaction_fit.csv").set_index("measure")["value"]
    fi = sat_fit.fit_indices
    assert fi["df"] == lav["df"]
    assert fi["chi2"] == pytest.approx(lav["chisq"], rel=0.005)
    for ours, theirs in [("cfi", "cfi"), ("tli", "tli"), ("rmsea", "rmsea"), ("srmr", "srmr"),
                         ("rmsea_ci_lower", "rmsea.ci.lower"), ("rmsea_ci_upper", "rmsea.ci.upper")]:
        assert fi[ours] == pytest.approx(lav[theirs], abs=0.005), ours
    # same likelihood convention as lavaan (N, normal), so the information criteria agree too
    assert fi["aic"] == pytest.approx(lav["aic"], rel=1e-5)
    assert fi["bic"] == pytest.approx(lav["bic"], rel=1e-5)


def test_estimates_match_lavaan(sat_fit):
    lav = reference_csv("lavaan_satisfaction_estimates.csv")
    merged = sat_fit.estimates.merge(lav, on=["lhs", "op", "rhs"], suffixes=("", "_lav"))
    assert len(merged) == len(lav) == len(sat_fit.estimates)
    loadings = merged[merged["op"] == "=~"]
    np.testing.assert_allclose(loadings["est"], loadings["est_lav"], rtol=0.01)
    free = loadings[loadings["se_lav"] > 0]
    np.testing.assert_allclose(free["se"], free["se_lav"], rtol=0.01)
    np.testing.assert_allclose(loadings["std_all"], loadings["std.all"], atol=0.005)
    # the well-determined paths (not the collinear EXPE/QUAL ones) agree tightly as well
    sat_loy = merged[(merged["lhs"] == "LOY") & (merged["rhs"] == "SAT")]
    assert sat_loy["est"].iloc[0] == pytest.approx(sat_loy["est_lav"].iloc[0], rel=0.01)


def test_satisfaction_solution_is_not_admissible(sat_fit):
    assert sat_fit.converged
    assert not sat_fit.admissible
    text = " | ".join(sat_fit.diagnostics)
    assert "VAL ~ EXPE: standardised -1.71" in text
    assert "VAL ~ QUAL: standardised 2.59" in text
    assert "EXPE–QUAL" in text and "PLS" in text
    paths = sat_fit.paths.set_index(["source", "target"])
    assert paths.loc[("EXPE", "VAL"), "std_estimate"] == pytest.approx(-1.7108, abs=0.005)
    assert set(sat_fit.r2.index) == {"EXPE", "QUAL", "VAL", "SAT", "LOY"}
    assert set(sat_fit.summary()) >= {"overview", "fit_indices", "paths", "loadings", "diagnostics"}


def test_heywood_case_is_reported(satisfaction):
    # a bootstrap resample of the ECSI data on which the VAL disturbance variance turns negative
    idx = np.random.default_rng(5).integers(0, len(satisfaction), len(satisfaction))
    sample = satisfaction.iloc[idx].reset_index(drop=True)
    fit = _quiet_fit(ecsi_model(), sample)
    variances = fit.estimates[(fit.estimates["op"] == "~~") & (fit.estimates["lhs"] == fit.estimates["rhs"])]
    assert (variances["est"] < 0).any()
    assert fit.converged and not fit.admissible
    assert any("Heywood" in d for d in fit.diagnostics)
    assert any("not positive definite" in d for d in fit.diagnostics)


def test_warm_start_reaches_the_same_optimum(satisfaction, sat_fit):
    model = ecsi_model()
    again = _quiet_fit(model, satisfaction, start=sat_fit)
    assert again.fit_indices["chi2"] == pytest.approx(sat_fit.fit_indices["chi2"], rel=1e-7)
    idx = np.random.default_rng(1).integers(0, len(satisfaction), len(satisfaction))
    resample = satisfaction.iloc[idx].reset_index(drop=True)
    cold, warm = _quiet_fit(model, resample), _quiet_fit(model, resample, start=sat_fit)
    assert warm.fit_indices["chi2"] == pytest.approx(cold.fit_indices["chi2"], rel=1e-5)
    with pytest.raises(ValueError, match="same model"):
        fit_cbsem(CSIModel(BLOCKS, [*PATHS[:-1], ("VAL", "LOY")]), satisfaction, start=sat_fit)


# ----------------------------------------------------------------------------- lavaan, admissible case
def test_political_democracy_reproduces_lavaan():
    pdm = pytest.importorskip("semopy.examples.political_democracy")
    model = CSIModel(
        {"ind60": ["x1", "x2", "x3"], "dem60": ["y1", "y2", "y3", "y4"], "dem65": ["y5", "y6", "y7", "y8"]},
        [("ind60", "dem60"), ("ind60", "dem65"), ("dem60", "dem65")],
    )
    lav = pdm.get_params().rename(columns={"lval": "lhs", "rval": "rhs", "Estimate": "lavaan"})
    residual = [(r.lhs, r.rhs) for r in lav.itertuples() if r.op == "~~" and r.lhs != r.rhs]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CSIWarning)  # an admissible fit warns about nothing
        fit = fit_cbsem(model, pdm.get_data(), covariances=residual)
    merged = fit.estimates.merge(lav, on=["lhs", "op", "rhs"])
    assert len(merged) == len(lav) == len(fit.estimates)
    np.testing.assert_allclose(merged["est"], merged["lavaan"], rtol=1e-4, atol=1e-5)
    assert fit.admissible and fit.converged and fit.diagnostics == []
    assert fit.fit_indices["df"] == 36  # 66 moments − 30 free parameters


# ----------------------------------------------------------------------------- known truth
def _simulate(n: int, seed: int) -> tuple[pd.DataFrame, dict[tuple[str, str], float]]:
    """Standardised population: A → B (0.5), A → C (0.3), B → C (0.4), C → D (0.6); loadings 0.8."""
    rng = np.random.default_rng(seed)
    true = {("A", "B"): 0.5, ("A", "C"): 0.3, ("B", "C"): 0.4, ("C", "D"): 0.6}
    a = rng.standard_normal(n)
    b = 0.5 * a + np.sqrt(1 - 0.25) * rng.standard_normal(n)
    r2_c = 0.3**2 + 0.4**2 + 2 * 0.3 * 0.4 * 0.5
    c = 0.3 * a + 0.4 * b + np.sqrt(1 - r2_c) * rng.standard_normal(n)
    d = 0.6 * c + 0.8 * rng.standard_normal(n)
    cols = {}
    for name, eta in zip("ABCD", (a, b, c, d), strict=True):
        for j in range(1, 4):
            cols[f"{name.lower()}{j}"] = 4 + 0.8 * eta + 0.6 * rng.standard_normal(n)
    return pd.DataFrame(cols), true


SIM_MODEL = CSIModel({k: [f"{k.lower()}{j}" for j in range(1, 4)] for k in "ABCD"},
                     [("A", "B"), ("A", "C"), ("B", "C"), ("C", "D")])


def test_recovers_true_standardised_paths():
    data, true = _simulate(2000, seed=11)
    fit = fit_cbsem(SIM_MODEL, data)
    assert fit.admissible and fit.diagnostics == []
    got = fit.paths.set_index(["source", "target"])["std_estimate"]
    # sampling SE of a standardised path with reliable indicators ≈ sqrt((1 − R²)/n) ≤ 0.023 at n = 2000;
    # 0.07 is three of them, so a correct estimator fails this less than once in a few hundred runs
    for key, value in true.items():
        assert got[key] == pytest.approx(value, abs=0.07), key
    std_loadings = fit.loadings["std_estimate"]
    assert np.all(np.abs(std_loadings - 0.8) < 0.05)
    assert fit.fit_indices["rmsea"] < 0.03  # correct model: RMSEA near 0


def test_fiml_equals_ml_on_complete_data_and_handles_missing_values():
    data, _ = _simulate(400, seed=5)
    ml = fit_cbsem(SIM_MODEL, data)
    fiml = fit_cbsem(SIM_MODEL, data, estimator="FIML", information="expected")  # ML's SEs are expected
    both = ml.estimates.merge(fiml.estimates, on=["lhs", "op", "rhs"])
    np.testing.assert_allclose(both["est_x"], both["est_y"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(both["se_x"], both["se_y"], rtol=1e-3)
    assert fiml.fit_indices["chi2"] == pytest.approx(ml.fit_indices["chi2"], rel=1e-4)
    # 5 % of the answers of the first item of each block missing completely at random
    holes = data.copy()
    rng = np.random.default_rng(2)
    for col in ("a1", "b1", "c1", "d1"):
        holes.loc[rng.random(len(holes)) < 0.05, col] = np.nan
    fit = fit_cbsem(SIM_MODEL, holes, estimator="FIML")
    assert fit.n == len(holes) and fit.converged
    diff = fit.paths["estimate"].to_numpy() - ml.paths["estimate"].to_numpy()
    assert np.all(np.abs(diff) < 2 * ml.paths["se"].to_numpy())  # little information is lost at 5 %


def test_em_saturated_moments():
    data, _ = _simulate(300, seed=3)
    x = data.to_numpy()
    mean, cov = _em_moments(x)  # complete data: the sample moments (N divisor)
    np.testing.assert_allclose(mean, x.mean(axis=0), atol=1e-10)
    np.testing.assert_allclose(cov, np.cov(x, rowvar=False, ddof=0), atol=1e-10)
    holes = x.copy()
    holes[np.random.default_rng(0).random(x.shape) < 0.1] = np.nan
    mean, cov = _em_moments(holes)
    best = _minus2ll(holes, mean, cov)
    for shift in (1e-3, -1e-3):  # EM is a maximum of the observed-data likelihood
        assert _minus2ll(holes, mean + shift, cov) > best
        assert _minus2ll(holes, mean, cov * (1 + shift)) > best


def test_weighted_fit_equals_fit_on_replicated_rows():
    """Integer survey weights are frequency weights: ML on the weighted covariance is ML on repeated rows."""
    data, _ = _simulate(400, seed=9)
    w = np.resize([1, 2, 3], len(data))
    replicated = data.iloc[np.repeat(np.arange(len(data)), w)].reset_index(drop=True)
    with pytest.warns(CSIWarning, match="survey-weighted covariance"):
        weighted = fit_cbsem(SIM_MODEL, data, weights=w)
    plain = fit_cbsem(SIM_MODEL, replicated)
    assert weighted.n == len(data) and plain.n == w.sum()
    both = weighted.estimates.merge(plain.estimates, on=["lhs", "op", "rhs"])
    assert len(both) == len(plain.estimates)
    np.testing.assert_allclose(both["est_x"], both["est_y"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(weighted.r2, plain.r2, atol=1e-5)
    unweighted = fit_cbsem(SIM_MODEL, data)
    assert np.abs(unweighted.paths["estimate"] - weighted.paths["estimate"]).max() > 1e-3


def _holed(data: pd.DataFrame, share: float, seed: int, cols=("a1", "b2", "c3", "d1")) -> pd.DataFrame:
    holes = data.copy()
    rng = np.random.default_rng(seed)
    for col in cols:
        holes.loc[rng.random(len(holes)) < share, col] = np.nan
    return holes


def test_weighted_fiml_equals_fiml_on_replicated_rows():
    """Each respondent's log-likelihood counts w times: integer weights are replicated rows.

    The weights are normalised to mean 1, so the likelihood counts n respondents, not Σw: the
    estimates are those of the replicated data, χ² is its χ² × n/Σw and the SEs its SEs × √(Σw/n)."""
    data, _ = _simulate(300, seed=21)
    holes = _holed(data, 0.1, seed=6)
    w = np.resize([1, 3, 2, 1], len(holes))
    replicated = holes.iloc[np.repeat(np.arange(len(holes)), w)].reset_index(drop=True)
    with pytest.warns(CSIWarning, match="FIML.*weighted each respondent"):
        weighted = fit_cbsem(SIM_MODEL, holes, weights=w)
    plain = fit_cbsem(SIM_MODEL, replicated, estimator="FIML")
    assert weighted.estimator == plain.estimator == "FIML"
    both = weighted.estimates.merge(plain.estimates, on=["lhs", "op", "rhs"])
    assert len(both) == len(plain.estimates)
    np.testing.assert_allclose(both["est_x"], both["est_y"], rtol=1e-5, atol=1e-6)
    ratio = w.sum() / len(holes)
    free = both["se_y"].notna()
    np.testing.assert_allclose(both.loc[free, "se_x"], both.loc[free, "se_y"] * np.sqrt(ratio), rtol=1e-3)
    assert weighted.fit_indices["chi2"] == pytest.approx(plain.fit_indices["chi2"] / ratio, rel=1e-4)
    unweighted = fit_cbsem(SIM_MODEL, holes)
    assert np.abs(unweighted.paths["estimate"] - weighted.paths["estimate"]).max() > 1e-3


def test_auto_estimator_is_fiml_on_incomplete_answers_and_ml_otherwise():
    """The default never reports SEs that count EM-imputed answers as observed."""
    data, _ = _simulate(500, seed=14)
    holes = _holed(data, 0.08, seed=3)
    auto = fit_cbsem(SIM_MODEL, holes)
    fiml = fit_cbsem(SIM_MODEL, holes, estimator="FIML")
    assert auto.estimator == "FIML" and auto.options["information"] == "observed"
    np.testing.assert_allclose(auto.estimates["est"], fiml.estimates["est"], atol=1e-12)
    np.testing.assert_allclose(auto.estimates["se"], fiml.estimates["se"], atol=1e-12)
    with pytest.warns(CSIWarning, match="EM covariance matrix"):
        ml_em = fit_cbsem(SIM_MODEL, holes, estimator="ML")
    # the error variances of the holed items are what ML on EM moments is most optimistic about:
    # at 8 % missing their information shrinks by roughly that share (SE about 4 % larger)
    ratio = auto.estimates.merge(ml_em.estimates, on=["lhs", "op", "rhs"]).query(
        "op == '~~' and lhs == rhs and lhs in ['a1', 'b2', 'c3', 'd1']").eval("se_x / se_y")
    assert (ratio > 1.02).all(), ratio
    assert _quiet_fit(SIM_MODEL, data).estimator == "ML"  # complete answers: FIML would equal ML
    assert _quiet_fit(SIM_MODEL, holes, missing="mean").estimator == "ML"  # the user chose imputation
    assert _quiet_fit(SIM_MODEL, holes, missing="listwise").estimator == "ML"


def _observed_loglik(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> float:
    from scipy.stats import multivariate_normal

    total = 0.0
    for row in x:
        o = np.isfinite(row)
        total += multivariate_normal.logpdf(row[o], mean[o], cov[np.ix_(o, o)])
    return total


def test_ml_on_incomplete_data_fits_the_em_covariance():
    """missing='em' with estimator ML: ML fits the EM covariance of every respondent (listwise would
    drop some)."""
    from csi_research.data.sample import prepare

    data, _ = _simulate(400, seed=12)
    holes = data.copy()
    rng = np.random.default_rng(4)
    for col in ("a1", "b2", "c3"):
        holes.loc[rng.random(len(holes)) < 0.08, col] = np.nan
    with pytest.warns(CSIWarning, match="EM covariance matrix"):
        fit = fit_cbsem(SIM_MODEL, holes, estimator="ML")
    assert fit.n == len(holes) and fit.sample.missing == "em"
    # the fitted moments are the ML (saturated-model) estimates: the observed-data likelihood,
    # computed here pattern by pattern with scipy, falls when they are moved
    x = holes[SIM_MODEL.items].to_numpy()
    mean, cov = fit.sample.mean.to_numpy(), fit.sample.cov.to_numpy()
    best = _observed_loglik(x, mean, cov)
    for shift in (1e-3, -1e-3):
        assert _observed_loglik(x, mean + shift, cov) < best
        assert _observed_loglik(x, mean, cov * (1 + shift)) < best
        assert _observed_loglik(x, mean, cov + shift * np.outer(cov[0], cov[0])) < best
    # the same ML fit as on the prepared sample, and not the listwise one
    again = _quiet_fit(prepare.quiet(SIM_MODEL, holes), estimator="ML")
    np.testing.assert_allclose(fit.estimates["est"], again.estimates["est"], atol=1e-10)
    listwise = _quiet_fit(SIM_MODEL, holes, missing="listwise")
    assert listwise.n == holes.dropna().shape[0] < fit.n


# ----------------------------------------------------------------------------- single items, bad input
def test_single_item_construct_is_identified():
    data, _ = _simulate(600, seed=8)
    model = CSIModel({"A": ["a1", "a2", "a3"], "B": ["b1", "b2", "b3"], "C": ["c1"]},
                     [("A", "B"), ("A", "C"), ("B", "C")])
    fit = fit_cbsem(model, data)
    assert fit.admissible and fit.converged
    theta = fit.estimates.query("lhs == 'c1' and op == '~~' and rhs == 'c1'")
    assert theta["est"].iloc[0] == 0.0 and np.isnan(theta["se"].iloc[0])  # fixed, not estimated
    assert fit.paths["se"].notna().all()
    rel = fit_cbsem(model, data, single_item_reliability={"C": 0.64})
    theta = rel.estimates.query("lhs == 'c1' and op == '~~' and rhs == 'c1'")["est"].iloc[0]
    assert theta == pytest.approx(0.36 * data["c1"].var(ddof=0), rel=1e-8)
    # the item is now taken as 64 % reliable, so its standardised loading is about sqrt(0.64)
    c1 = rel.loadings.set_index("item").loc["c1", "std_estimate"]
    assert c1 == pytest.approx(0.8, abs=0.02)
    with pytest.raises(ModelSpecError, match="reliability"):
        fit_cbsem(model, data, single_item_reliability=1.5)
    with pytest.raises(ModelSpecError, match="not one-item"):
        fit_cbsem(model, data, single_item_reliability={"A": 0.8})


def test_bad_input():
    data, _ = _simulate(20, seed=1)
    with pytest.raises(EstimationError, match="28 free parameters"):
        fit_cbsem(SIM_MODEL, data)  # 20 respondents for 8 loadings, 4 paths, 16 variances
    with pytest.raises(ModelSpecError, match="d3"):
        fit_cbsem(SIM_MODEL, data.drop(columns="d3"))
    with pytest.raises(ValueError, match="DWLS"):
        fit_cbsem(SIM_MODEL, data, estimator="DWLS")
    with pytest.raises(ModelSpecError, match="not an item"):
        fit_cbsem(SIM_MODEL, data, covariances=[("a1", "zz")])


# ----------------------------------------------------------------------------- lean re-fits (bootstrap)
def _resample_fit(model, data, counts, start, **kwargs):
    rows = np.repeat(np.arange(len(data)), counts)
    return _quiet_fit(model, data.iloc[rows].reset_index(drop=True), start=start, **kwargs)


def _assert_refit_equals_fit(refit, fit):
    paths = fit.paths.set_index(["source", "target"]).reindex(list(fit.model.paths))
    np.testing.assert_allclose(refit.paths, paths["estimate"], atol=1e-6)
    np.testing.assert_allclose(refit.std_paths, paths["std_estimate"], atol=1e-6)
    np.testing.assert_allclose(refit.r2, fit.r2.reindex(fit.model.endogenous), atol=1e-6)
    assert refit.converged == fit.converged
    assert refit.admissible == fit.admissible


def _resample_covs(x: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    """N-divisor covariance matrices of the materialised resamples (computed here, not by the package)."""
    return [np.cov(x[np.repeat(np.arange(len(x)), c)], rowvar=False, ddof=0) for c in counts]


def test_refit_equals_fit_cbsem_on_the_materialised_resample(satisfaction):
    from csi_research.stats.cbsem import CBSEMRefit

    # converged but inadmissible (EXPE and QUAL both predict SAT and correlate 0.99): the verdict must carry
    blocks = {k: v for k, v in BLOCKS.items() if k != "VAL"}
    model = CSIModel(blocks, [("IMAG", "EXPE"), ("EXPE", "QUAL"), ("IMAG", "SAT"), ("QUAL", "SAT"),
                              ("EXPE", "SAT"), ("SAT", "LOY")])
    full = _quiet_fit(model, satisfaction)
    items = satisfaction[list(model.items)]
    x = items.to_numpy(dtype=float)
    counts = np.random.default_rng(11).multinomial(len(x), np.full(len(x), 1 / len(x)), size=3)
    covs = _resample_covs(x, counts)
    # the prepared sample's resample moments are these covariance matrices
    np.testing.assert_allclose(full.sample.moments(counts)[1], np.stack(covs), atol=1e-10)
    refit = CBSEMRefit(model, full.sample.x, full.sample.cov.to_numpy(), full.parameters)
    for c, cov in zip(counts, covs, strict=True):
        fit = _resample_fit(model, satisfaction, c, full)
        assert fit.converged and not fit.admissible
        _assert_refit_equals_fit(refit(cov), fit)
    with pytest.raises(ValueError, match="free parameters"):
        CBSEMRefit(model, items, np.cov(x, rowvar=False, ddof=0), full.parameters[:-1])


def test_refit_with_single_item_reliability_and_residual_covariance():
    from csi_research.stats.cbsem import CBSEMRefit

    data, _ = _simulate(500, seed=21)
    model = CSIModel({"A": ["a1", "a2", "a3"], "B": ["b1", "b2", "b3"], "C": ["c1"]},
                     [("A", "B"), ("A", "C"), ("B", "C")])
    options = {"single_item_reliability": {"C": 0.7}, "covariances": [("a1", "b1")]}
    full = _quiet_fit(model, data, **options)
    assert full.options["single_item_reliability"] == {"C": 0.7}
    assert list(full.options["covariances"]) == [("a1", "b1")]
    items = data[list(model.items)]
    x = items.to_numpy(dtype=float)
    counts = np.random.default_rng(5).multinomial(len(x), np.full(len(x), 1 / len(x)), size=2)
    covs = _resample_covs(x, counts)
    refit = CBSEMRefit(model, items, np.cov(x, rowvar=False, ddof=0), full.parameters, **options)
    for c, cov in zip(counts, covs, strict=True):
        fit = _resample_fit(model, data, c, full, **options)
        assert fit.admissible
        _assert_refit_equals_fit(refit(cov), fit)


def test_the_report_names_the_estimator_data_and_standard_errors_behind_the_cbsem_tables():
    from csi_research.reporting.regional import cbsem_method

    model = ecsi_model()
    data = satisfaction_data()
    holes = data.copy()
    holes.loc[holes.index[::9], "sat2"] = np.nan
    holes.loc[holes.index[1::11], "qual3"] = np.nan
    weights = np.random.default_rng(1).uniform(0.5, 2.0, len(data))
    cases = [
        (_quiet_fit(model, data), "maximum likelihood (ML) on the covariance matrix of 250", "极大似然"),
        (_quiet_fit(model, holes, missing="em", estimator="ML"),
         "EM-completed covariance matrix of 250 respondents (51 answers", "EM 补全"),
        (_quiet_fit(model, holes), "full-information maximum likelihood (FIML)", "实际给出的答案"),
        (_quiet_fit(model, holes, weights=weights), "survey-weighted (pseudo-ML)", "调查权重"),
        (_quiet_fit(model, holes, missing="mean"), "mean-imputed covariance matrix", "均值插补"),
        (_quiet_fit(model, holes, estimator="FIML"), "full-information maximum likelihood (FIML)",
         "观测信息矩阵"),
        (_quiet_fit(model, data, weights=weights), "survey-weighted (pseudo-ML)", "调查权重"),
    ]
    for fit, english, chinese in cases:
        assert english in str(cbsem_method(fit, "en"))
        assert chinese in str(cbsem_method(fit, "zh"))
    assert "expected information matrix" in str(cbsem_method(cases[0][0], "en"))


def test_fiml_refit_equals_fit_cbsem_on_the_materialised_resample():
    """The FIML bootstrap's re-fit counts each respondent as drawn: the same as FIML on repeated rows."""
    from csi_research.stats.cbsem import FIMLRefit

    data, _ = _simulate(400, seed=23)
    model = CSIModel({"A": ["a1", "a2", "a3"], "B": ["b1", "b2", "b3"], "C": ["c1"]},
                     [("A", "B"), ("A", "C"), ("B", "C")])
    holes = _holed(data, 0.1, seed=8, cols=("a1", "b2", "c1"))
    options = {"single_item_reliability": {"C": 0.7}}
    full = _quiet_fit(model, holes, **options)
    assert full.estimator == "FIML"
    refit = FIMLRefit(model, full.sample.x.where(full.sample.observed), np.ones(len(holes)), full.parameters,
                      **options)
    counts = np.random.default_rng(3).multinomial(len(holes), np.full(len(holes), 1 / len(holes)), size=2)
    for c in counts:
        fit = _resample_fit(model, holes, c, full, **options)
        assert fit.estimator == "FIML" and fit.admissible
        _assert_refit_equals_fit(refit(c), fit)
    with pytest.raises(ValueError, match="free parameters"):
        FIMLRefit(model, full.sample.x, np.ones(len(holes)), full.parameters[:-1])
