"""PLS path modelling against R plspm, closed-form cases and simulated data with known truth."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from ecsi_reference import BLOCKS, PATHS, ecsi_model, reference_csv, satisfaction_data

from csi_research.core.errors import CSIWarning, EstimationError, ModelSpecError, SurveyDataError
from csi_research.data.sample import prepare
from csi_research.model import CSIModel
from csi_research.stats.pls import fit_pls
from csi_research.stats.pls_engine import fit_pls_batch

TOL = 1e-6
SAT_MODEL = ecsi_model()


@pytest.fixture(scope="module")
def satisfaction() -> pd.DataFrame:
    return satisfaction_data()


@pytest.fixture(scope="module")
def plspm_fit(satisfaction):
    return fit_pls(SAT_MODEL, satisfaction, scheme="centroid", scaled=False)


# ---------------------------------------------------------------------------- R plspm reference
def test_outer_model_matches_plspm(plspm_fit):
    ref = reference_csv("plspm_outer-model.csv")
    got = plspm_fit.loadings.merge(plspm_fit.weights, on=["construct", "item"]).set_index("item")
    got = got.loc[ref["name"]]
    assert list(got["construct"]) == list(ref["block"])
    for col in ("weight", "loading", "communality"):
        np.testing.assert_allclose(got[col], ref[col], atol=TOL, rtol=0)
    # plspm writes 0 redundancy for exogenous items; here it is "not applicable" (NaN)
    exo = ref["block"] == "IMAG"
    assert got["redundancy"][exo.to_numpy()].isna().all()
    np.testing.assert_allclose(got["redundancy"][~exo.to_numpy()], ref["redundancy"][~exo], atol=TOL)


def test_cross_loadings_and_scores_match_plspm(plspm_fit, satisfaction):
    ref = reference_csv("plspm_crossloadings.csv").set_index("name")
    got = plspm_fit.cross_loadings.loc[ref.index, list(BLOCKS)]
    np.testing.assert_allclose(got, ref[list(BLOCKS)], atol=TOL, rtol=0)
    scores = reference_csv("plspm_scores.csv")
    np.testing.assert_allclose(plspm_fit.scores[list(BLOCKS)], scores[list(BLOCKS)], atol=TOL, rtol=0)
    assert list(plspm_fit.scores.index) == list(satisfaction.index)


def test_paths_r2_effects_match_plspm(plspm_fit):
    eff = reference_csv("plspm_effects.csv")
    pairs = list(zip(eff["from"], eff["to"], strict=True))
    got = plspm_fit.effects.set_index(["source", "target"]).loc[pairs]
    assert len(plspm_fit.effects) == len(eff)
    for col in ("direct", "indirect", "total"):
        np.testing.assert_allclose(got[col], eff[col], atol=TOL, rtol=0)
    paths = plspm_fit.paths.set_index(["source", "target"])["estimate"]
    for s, t in PATHS:
        ref_direct = eff.loc[(eff["from"] == s) & (eff["to"] == t), "direct"].item()
        assert paths[(s, t)] == pytest.approx(ref_direct, abs=TOL)
    inner = reference_csv("plspm_inner-summary.csv", index_col=0)
    endo = inner.index[inner["type"] == "Endogenous"]
    np.testing.assert_allclose(plspm_fit.r2[endo], inner.loc[endo, "r_squared"], atol=TOL)
    table = plspm_fit.constructs.loc[inner.index]
    assert list(table["type"]) == list(inner["type"])
    np.testing.assert_allclose(table["communality"], inner["block_communality"], atol=TOL)
    np.testing.assert_allclose(table["ave"], inner["ave"], atol=TOL)
    np.testing.assert_allclose(
        table.loc[endo, "mean_redundancy"], inner.loc[endo, "mean_redundancy"], atol=TOL
    )


def test_inner_model_inference_and_gof_match_plspm(plspm_fit):
    ref = reference_csv("plspm_inner-model.csv", index_col=0)
    got = plspm_fit.paths[plspm_fit.paths["target"] == "SAT"].set_index("source").loc[ref.index]
    np.testing.assert_allclose(got["estimate"], ref["Estimate"], atol=TOL)
    np.testing.assert_allclose(got["std_error"], ref["Std. Error"], atol=TOL)
    np.testing.assert_allclose(got["t"], ref["t value"], atol=TOL)
    np.testing.assert_allclose(got["p_value"], ref["Pr(>|t|)"], atol=TOL)
    assert plspm_fit.gof == pytest.approx(0.609741624338411, abs=TOL)
    assert plspm_fit.diagnostics == []
    assert "respondents used" in plspm_fit.summary()["overview"].index


def test_raw_weights_reproduce_scores(satisfaction):
    fit = fit_pls(SAT_MODEL, satisfaction, scheme="path", scaled=True)
    raw = fit.raw_weights()
    x = satisfaction[SAT_MODEL.items] - satisfaction[SAT_MODEL.items].mean()
    for name, items in BLOCKS.items():
        np.testing.assert_allclose(x[items].to_numpy() @ raw[items].to_numpy(), fit.scores[name], atol=1e-10)
    np.testing.assert_allclose(fit.scores.var(ddof=0), 1.0, atol=1e-12)


# ---------------------------------------------------------------------------- closed-form cases
def _pop_standardise(frame: pd.DataFrame) -> pd.DataFrame:
    return (frame - frame.mean()) / frame.std(ddof=0)


@pytest.mark.parametrize("scaled", [True, False])
def test_one_block_mode_a_is_first_principal_component(satisfaction, scaled):
    model = CSIModel({"QUAL": BLOCKS["QUAL"]}, [])
    fit = fit_pls(model, satisfaction, scaled=scaled, tol=1e-20, max_iter=2000)
    x = satisfaction[BLOCKS["QUAL"]].to_numpy()
    c = np.corrcoef(x.T) if scaled else np.cov(x.T)
    vecs = np.linalg.eigh(c)[1]
    v = vecs[:, -1] * np.sign(vecs[:, -1].sum())
    w = fit.weights["weight"].to_numpy()
    np.testing.assert_allclose(w / np.linalg.norm(w), v, atol=1e-8)
    # loadings are the items' correlations with the first component
    pc = (x - x.mean(0)) / (1 if scaled is False else x.std(0)) @ v
    expected = [np.corrcoef(x[:, i], pc)[0, 1] for i in range(x.shape[1])]
    np.testing.assert_allclose(fit.loadings["loading"], expected, atol=1e-8)


@pytest.mark.parametrize("scheme", ["path", "centroid", "factorial"])
def test_two_blocks_inter_battery_solution(satisfaction, scheme):
    model = CSIModel({"QUAL": BLOCKS["QUAL"], "SAT": BLOCKS["SAT"]}, [("QUAL", "SAT")])
    fit = fit_pls(model, satisfaction, scheme=scheme, scaled=True, tol=1e-20, max_iter=2000)
    x = satisfaction[model.items].to_numpy()
    r12 = np.corrcoef(x.T)[:5, 5:]
    u, _, vt = np.linalg.svd(r12)
    w = fit.weights["weight"].to_numpy()
    for part, vec in ((w[:5], u[:, 0]), (w[5:], vt[0])):
        vec = vec * np.sign(vec.sum())
        np.testing.assert_allclose(part / np.linalg.norm(part), vec, atol=1e-8)
    corr = np.corrcoef(fit.scores["QUAL"], fit.scores["SAT"])[0, 1]
    assert fit.paths["estimate"].item() == pytest.approx(corr, abs=1e-10)
    assert fit.r2["SAT"] == pytest.approx(corr**2, abs=1e-10)


def test_mode_b_weights_are_ols_on_the_other_score(satisfaction):
    model = CSIModel(
        {"QUAL": BLOCKS["QUAL"], "SAT": BLOCKS["SAT"]}, [("QUAL", "SAT")], modes={"QUAL": "B"}
    )
    fit = fit_pls(model, satisfaction, scheme="centroid", scaled=False, tol=1e-20, max_iter=2000)
    x = satisfaction[BLOCKS["QUAL"]].to_numpy()
    design = np.column_stack([np.ones(len(x)), x])
    beta = np.linalg.lstsq(design, fit.scores["SAT"].to_numpy(), rcond=None)[0][1:]
    w = fit.raw_weights()[BLOCKS["QUAL"]].to_numpy()
    np.testing.assert_allclose(w / np.linalg.norm(w), beta / np.linalg.norm(beta), atol=1e-8)
    assert np.isnan(fit.constructs.loc["QUAL", "ave"])


@pytest.mark.parametrize("scheme", ["path", "factorial"])
def test_scaled_equals_unscaled_on_standardised_data(satisfaction, scheme):
    a = fit_pls(SAT_MODEL, satisfaction, scheme=scheme, scaled=True)
    b = fit_pls(SAT_MODEL, _pop_standardise(satisfaction[SAT_MODEL.items]), scheme=scheme, scaled=False)
    np.testing.assert_allclose(a.weights["weight"], b.weights["weight"], atol=1e-10)
    np.testing.assert_allclose(a.paths["estimate"], b.paths["estimate"], atol=1e-10)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-10)
    assert a.iterations == b.iterations


# ---------------------------------------------------------------------------- batched engine
def test_batch_equals_single_fits(satisfaction):
    x = satisfaction[SAT_MODEL.items]
    rng = np.random.default_rng(7)
    counts = rng.multinomial(len(x), np.full(len(x), 1 / len(x)), size=4)
    batch = fit_pls_batch(prepare(SAT_MODEL, x), counts, scheme="path", scaled=True, chunk_size=3)
    assert batch.converged.all()
    for b in range(4):
        resample = x.iloc[np.repeat(np.arange(len(x)), counts[b])].reset_index(drop=True)
        single = fit_pls(SAT_MODEL, resample, scheme="path", scaled=True)
        np.testing.assert_allclose(batch.weights[b], single.weights["weight"], atol=1e-10)
        np.testing.assert_allclose(batch.raw_weights[b], single.raw_weights(), atol=1e-10)
        np.testing.assert_allclose(batch.loadings[b], single.loadings["loading"], atol=1e-10)
        np.testing.assert_allclose(batch.paths[b], single.paths["estimate"], atol=1e-10)
        np.testing.assert_allclose(batch.r2[b], single.r2, atol=1e-10)
        total = single.effects.set_index(["source", "target"])["total"]
        names = list(BLOCKS)
        for (s, t), value in total.items():
            assert batch.total_effects[b, names.index(s), names.index(t)] == pytest.approx(value, abs=1e-10)
        assert batch.iterations[b] == single.iterations


# ---------------------------------------------------------------------------- missing data and errors
def test_listwise_and_mean_handling(satisfaction):
    data = satisfaction.copy()
    data.loc[data.index[[3, 10, 11]], "qual2"] = np.nan
    with pytest.warns(CSIWarning, match="3 of 250 respondents"):
        lw = fit_pls(SAT_MODEL, data, missing="listwise")
    assert lw.n == 247 and len(lw.scores) == 247
    assert data.index[3] not in lw.scores.index
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        ref = fit_pls(SAT_MODEL, data.dropna(subset=SAT_MODEL.items))
        mean = fit_pls(SAT_MODEL, data, missing="mean")
    np.testing.assert_allclose(lw.paths["estimate"], ref.paths["estimate"], atol=1e-12)
    assert mean.n == 250 and mean.missing == "mean"
    filled = data.fillna({"qual2": data["qual2"].mean()})
    np.testing.assert_allclose(
        mean.paths["estimate"], fit_pls(SAT_MODEL, filled).paths["estimate"], atol=1e-12
    )
    # the treatment is stated on the base of every table (no longer a warning: nothing is wrong)
    assert mean.sample.n_imputed == 3
    base = mean.summary()["overview"].loc["sample", "value"]
    assert "item-mean replacement" in base and "3 answers imputed" in base


def test_default_em_keeps_every_respondent(satisfaction):
    data = satisfaction.copy()
    data.loc[data.index[[3, 10, 11]], "qual2"] = np.nan
    fit = fit_pls(SAT_MODEL, data)
    assert fit.missing == "em" and fit.n == 250 and len(fit.scores) == 250
    assert fit.sample.n_imputed == 3 and fit.sample.n_dropped == 0
    assert not fit.sample.observed.loc[data.index[3], "qual2"]
    assert np.isfinite(fit.sample.x.to_numpy()).all()


# ---------------------------------------------------------------------------- survey weights
def _integer_weights(n: int) -> np.ndarray:
    return np.resize([1, 2, 3], n)


@pytest.mark.parametrize(("scheme", "scaled"), [("path", True), ("centroid", False), ("factorial", True)])
def test_weighted_fit_equals_fit_on_replicated_rows(satisfaction, scheme, scaled):
    """Integer survey weights 1/2/3 are frequency weights: the same as repeating each row that often."""
    w = _integer_weights(len(satisfaction))
    weighted = fit_pls(SAT_MODEL, satisfaction, scheme=scheme, scaled=scaled, weights=w)
    replicated = satisfaction.iloc[np.repeat(np.arange(len(satisfaction)), w)].reset_index(drop=True)
    plain = fit_pls(SAT_MODEL, replicated, scheme=scheme, scaled=scaled)
    assert weighted.n == len(satisfaction) and plain.n == w.sum()
    assert weighted.sample.weighted and weighted.sample.weights.mean() == pytest.approx(1.0)
    np.testing.assert_allclose(weighted.weights["weight"], plain.weights["weight"], atol=1e-10)
    np.testing.assert_allclose(weighted.raw_weights(), plain.raw_weights(), atol=1e-10)
    np.testing.assert_allclose(weighted.loadings["loading"], plain.loadings["loading"], atol=1e-10)
    np.testing.assert_allclose(weighted.paths["estimate"], plain.paths["estimate"], atol=1e-10)
    np.testing.assert_allclose(weighted.r2, plain.r2, atol=1e-10)
    np.testing.assert_allclose(weighted.item_mean, plain.item_mean, atol=1e-10)
    # and the weights matter: the unweighted fit differs
    unweighted = fit_pls(SAT_MODEL, satisfaction, scheme=scheme, scaled=scaled)
    assert np.abs(unweighted.paths["estimate"] - weighted.paths["estimate"]).max() > 1e-4
    # weights given as a column name, a Series or an array are the same weights
    by_column = fit_pls(SAT_MODEL, satisfaction.assign(w=w), scheme=scheme, scaled=scaled, weights="w")
    by_series = fit_pls(SAT_MODEL, satisfaction, scheme=scheme, scaled=scaled,
                        weights=pd.Series(w, index=satisfaction.index))
    for other in (by_column, by_series):
        np.testing.assert_allclose(other.paths["estimate"], weighted.paths["estimate"], atol=1e-12)


# ---------------------------------------------------------------------------- EM moments
def test_em_on_complete_data_is_the_plain_moments(satisfaction):
    sample = prepare(SAT_MODEL, satisfaction, missing="em")
    x = satisfaction[SAT_MODEL.items].to_numpy(dtype=float)
    assert sample.missing == "em" and sample.n == len(x) and sample.n_imputed == 0
    np.testing.assert_allclose(sample.mean, x.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(sample.cov, np.cov(x, rowvar=False, ddof=0), atol=1e-10)
    np.testing.assert_array_equal(sample.x.to_numpy(), x)
    mean, cov, size = sample.moments(np.ones((1, len(x))))
    np.testing.assert_allclose(mean[0], x.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(cov[0], np.cov(x, rowvar=False, ddof=0), atol=1e-10)
    assert size[0] == len(x)


@pytest.fixture(scope="module")
def monotone():
    """Bivariate normal; x always answered, y missing at random (more often for high x)."""
    rng = np.random.default_rng(17)
    n = 600
    x = rng.normal(5.0, 1.5, n)
    y = 2.0 + 0.6 * x + rng.normal(0.0, 1.0, n)
    gone = rng.random(n) < np.where(x > 5.0, 0.3, 0.05)  # MAR: depends on the observed x only
    frame = pd.DataFrame({"x": x, "y": np.where(gone, np.nan, y)})
    model = CSIModel({"X": ["x"], "Y": ["y"]}, [("X", "Y")])
    return model, frame, gone


def _anderson(frame: pd.DataFrame) -> dict[str, float]:
    """Closed-form ML estimates for a monotone bivariate pattern (Anderson 1957), N divisors."""
    x, y = frame["x"].to_numpy(), frame["y"].to_numpy()
    both = ~np.isnan(y)
    xc, yc = x[both], y[both]
    sxx_c = np.mean((xc - xc.mean()) ** 2)
    sxy_c = np.mean((xc - xc.mean()) * (yc - yc.mean()))
    syy_c = np.mean((yc - yc.mean()) ** 2)
    b = sxy_c / sxx_c
    sxx = np.mean((x - x.mean()) ** 2)
    return {
        "b": b,
        "mu_x": x.mean(),
        "mu_y": yc.mean() + b * (x.mean() - xc.mean()),  # the regression estimator
        "sxx": sxx,
        "syy": syy_c + b**2 * (sxx - sxx_c),
        "sxy": b * sxx,
        "resid": syy_c - b**2 * sxx_c,  # residual variance of y given x
    }


def test_em_equals_the_closed_form_ml_estimates(monotone):
    model, frame, gone = monotone
    ml = _anderson(frame)
    sample = prepare(model, frame)  # default: EM
    assert sample.missing == "em" and sample.n == len(frame) and sample.n_imputed == gone.sum()
    assert not np.isclose(ml["mu_y"], np.nanmean(frame["y"]), atol=1e-2)  # the complete-case mean is biased
    np.testing.assert_allclose(sample.mean, [ml["mu_x"], ml["mu_y"]], atol=1e-8)
    np.testing.assert_allclose(sample.cov, [[ml["sxx"], ml["sxy"]], [ml["sxy"], ml["syy"]]], atol=1e-8)
    # a missing answer is replaced by its conditional mean given x
    x = frame["x"].to_numpy()
    np.testing.assert_allclose(sample.x["y"].to_numpy()[gone], ml["mu_y"] + ml["b"] * (x[gone] - ml["mu_x"]),
                               atol=1e-8)
    np.testing.assert_array_equal(sample.x["y"].to_numpy()[~gone], frame["y"].to_numpy()[~gone])
    assert (sample.observed["y"].to_numpy() == ~gone).all() and sample.observed["x"].all()
    # one-item constructs: the PLS path is the correlation of the EM moments
    fit = fit_pls(sample)
    corr = ml["sxy"] / np.sqrt(ml["sxx"] * ml["syy"])
    assert fit.paths["estimate"].item() == pytest.approx(corr, abs=1e-8)
    assert fit.r2["Y"] == pytest.approx(corr**2, abs=1e-8)


def test_em_moments_add_the_conditional_covariance(monotone):
    """The completed answers alone understate var(y): EM adds, per imputed answer, var(y | x)."""
    model, frame, gone = monotone
    ml = _anderson(frame)
    sample = prepare(model, frame)
    completed = sample.x.to_numpy()
    naive = np.cov(completed, rowvar=False, ddof=0)
    mean, cov, size = sample.moments(np.ones((1, sample.n)))
    assert size[0] == sample.n
    np.testing.assert_allclose(mean[0], completed.mean(axis=0), atol=1e-12)
    added = cov[0] - naive
    np.testing.assert_allclose(added, [[0.0, 0.0], [0.0, gone.mean() * ml["resid"]]], atol=1e-8)
    assert naive[1, 1] < cov[0][1, 1]
    np.testing.assert_allclose(cov[0], sample.cov, atol=1e-12)
    # a resample counts each imputed respondent's conditional variance as often as it is drawn
    counts = np.random.default_rng(0).multinomial(sample.n, np.full(sample.n, 1 / sample.n), size=2)
    _, covs, _ = sample.moments(counts)
    for c, got in zip(counts, covs, strict=True):
        rows = np.repeat(np.arange(sample.n), c)
        expected = np.cov(completed[rows], rowvar=False, ddof=0)
        expected[1, 1] += gone[rows].mean() * ml["resid"]
        np.testing.assert_allclose(got, expected, atol=1e-8)


def test_weighted_em_equals_em_on_replicated_rows(satisfaction):
    data = satisfaction[SAT_MODEL.items].copy()
    holes = np.random.default_rng(3).random(data.shape) < 0.04
    data = data.mask(holes)
    w = _integer_weights(len(data))
    weighted = prepare(SAT_MODEL, data, weights=w)
    replicated = prepare(SAT_MODEL, data.iloc[np.repeat(np.arange(len(data)), w)].reset_index(drop=True))
    assert weighted.n_imputed == holes.sum()
    np.testing.assert_allclose(weighted.mean, replicated.mean, atol=1e-8)
    np.testing.assert_allclose(weighted.cov, replicated.cov, atol=1e-8)
    a, b = fit_pls(weighted), fit_pls(replicated)
    np.testing.assert_allclose(a.paths["estimate"], b.paths["estimate"], atol=1e-7)
    np.testing.assert_allclose(a.loadings["loading"], b.loadings["loading"], atol=1e-7)


def test_fit_from_a_sample_takes_no_second_data(satisfaction):
    sample = prepare(SAT_MODEL, satisfaction)
    fit = fit_pls(sample, scheme="centroid", scaled=False)
    assert fit.sample is sample and fit.model is SAT_MODEL
    with pytest.raises(TypeError, match="missing"):
        fit_pls(sample, missing="mean")
    with pytest.raises(TypeError, match="data"):
        fit_pls(sample, satisfaction)


def test_non_convergence_raises(satisfaction):
    with pytest.raises(EstimationError, match="did not converge in 1 iterations"):
        fit_pls(SAT_MODEL, satisfaction, max_iter=1)


def test_bad_inputs(satisfaction):
    with pytest.raises(ModelSpecError, match="imag9"):
        fit_pls(CSIModel({**BLOCKS, "IMAG": ["imag9", "imag1"]}, PATHS), satisfaction)
    text = satisfaction.astype({"sat1": object})
    text.loc[text.index[5], "sat1"] = "very"
    with pytest.raises(SurveyDataError, match="sat1"):
        fit_pls(SAT_MODEL, text)
    const = satisfaction.assign(loy1=5)
    with pytest.raises(EstimationError, match="loy1 is constant"):
        fit_pls(SAT_MODEL, const)
    with pytest.raises(ValueError, match="scheme"):
        fit_pls(SAT_MODEL, satisfaction, scheme="hybrid")
    with pytest.raises(ValueError, match="listwise"):
        fit_pls(SAT_MODEL, satisfaction, missing="pairwise")


def test_sign_reversal_keeps_weights_scores_and_loadings_consistent(satisfaction):
    """plspm reverses a composite when its item-correlation signs do not sum to a positive number.

    With two of four loyalty items reverse-coded the vote ties and the composite is reversed;
    unlike plspm (which reverses only the scores) the weights are reversed with it.
    """
    data = satisfaction.copy()
    data[["loy1", "loy2"]] = 11 - data[["loy1", "loy2"]]
    with pytest.warns(CSIWarning, match="construct LOY"):
        fit = fit_pls(SAT_MODEL, data, scheme="centroid")
    x = data[BLOCKS["LOY"]] - data[BLOCKS["LOY"]].mean()
    score = x.to_numpy() @ fit.raw_weights()[BLOCKS["LOY"]].to_numpy()
    np.testing.assert_allclose(score, fit.scores["LOY"], atol=1e-10)
    loy = fit.loadings.set_index("item")["loading"]
    for item in BLOCKS["LOY"]:
        assert loy[item] == pytest.approx(np.corrcoef(data[item], score)[0, 1], abs=1e-10)


# ---------------------------------------------------------------------------- simulation with known truth
def test_simulated_two_block_path_recovers_population_value():
    """Population: ξ → η with β = 0.5, items x = λ ξ + e, y = λ η + e (unit item variances).

    The cross-covariance Σ_xy = β λ λ' has rank one, so the population Mode A weights are
    proportional to λ in both blocks and the composite-level path is the closed form
    ρ = β (λ'λ)² / ((λ'λ)² + λ'Θλ) with Θ = diag(1 − λ²).
    """
    lam = np.array([0.8, 0.7, 0.6])
    beta = 0.5
    ll = lam @ lam
    rho = beta * ll**2 / (ll**2 + lam @ ((1 - lam**2) * lam))
    n = 20_000
    rng = np.random.default_rng(2024)
    xi = rng.standard_normal(n)
    eta = beta * xi + np.sqrt(1 - beta**2) * rng.standard_normal(n)
    noise = rng.standard_normal((n, 6)) * np.sqrt(1 - np.tile(lam, 2) ** 2)
    items = np.column_stack([np.outer(xi, lam), np.outer(eta, lam)]) + noise
    frame = pd.DataFrame(items, columns=["x1", "x2", "x3", "y1", "y2", "y3"])
    model = CSIModel({"Xi": ["x1", "x2", "x3"], "Eta": ["y1", "y2", "y3"]}, [("Xi", "Eta")])
    est = fit_pls(model, frame, scheme="path").paths["estimate"].item()
    # sampling SE of a standardised slope ≈ sqrt((1 − ρ²)/n) ≈ 0.0066 here; 4 SE keeps the false-alarm
    # rate below 1e-4 while still rejecting the item-level correlation β·λ² ≈ 0.28 or the latent β = 0.5
    se = np.sqrt((1 - rho**2) / n)
    assert abs(est - rho) < 4 * se
    assert abs(est - beta) > 10 * se


def test_em_moments_reused_for_the_same_answers_are_the_same_and_cannot_be_altered():
    """Preparing a sample and FIML's saturated model run EM on the same answers: the second call
    reuses the first's moments, as fresh copies, and different answers or weights are fitted anew."""
    from csi_research.data import sample as prepare

    rng = np.random.default_rng(4)
    x = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 5))
    x[rng.random(x.shape) < 0.15] = np.nan
    first = prepare.em_moments(x)
    first[1][0, 0] = 1e6  # a caller changing its copy
    again = prepare.em_moments(x.copy())
    fresh = prepare._em(x, None, 1e-10, 5000, None)
    assert all(np.array_equal(a, b) for a, b in zip(again, fresh, strict=True))
    weights = rng.uniform(0.5, 2.0, len(x))
    weighted = prepare.em_moments(x, weights)
    assert not np.allclose(weighted[1], fresh[1])
    assert np.array_equal(weighted[1], prepare._em(x, weights, 1e-10, 5000, None)[1])
