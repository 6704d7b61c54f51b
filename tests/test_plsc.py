"""Consistent PLS: closed-form population check, recovery of known truth where plain PLS is
attenuated, agreement with the rho_A of measurement_quality, and PLSc inside the group tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from csi_research.model import CSIModel
from csi_research.stats.groups import permutation_mga
from csi_research.stats.measurement import measurement_quality
from csi_research.stats.pls import fit_pls
from csi_research.stats.pls_engine import Layout, fit_pls_batch, pls_from_moments
from csi_research.stats.plsc import consistent_batch

MODEL = CSIModel(
    {"X": ["x1", "x2", "x3"], "M": ["m1", "m2", "m3", "m4"], "Y": ["y1", "y2", "y3"]},
    [("X", "M"), ("M", "Y"), ("X", "Y")],
)
LOADINGS = {"x1": 0.8, "x2": 0.7, "x3": 0.6, "m1": 0.85, "m2": 0.75, "m3": 0.65, "m4": 0.7,
            "y1": 0.8, "y2": 0.7, "y3": 0.75}
TRUE = {("X", "M"): 0.45, ("M", "Y"): 0.45, ("X", "Y"): 0.20}


def draw(n: int, seed: int) -> pd.DataFrame:
    """Continuous common-factor data: standardised latent variables, items λ·η + error."""
    rng = np.random.default_rng(seed)
    bxm, bmy, bxy = TRUE[("X", "M")], TRUE[("M", "Y")], TRUE[("X", "Y")]
    x = rng.standard_normal(n)
    m = bxm * x + np.sqrt(1 - bxm**2) * rng.standard_normal(n)
    y = bmy * m + bxy * x + np.sqrt(1 - (bmy**2 + bxy**2 + 2 * bmy * bxy * bxm)) * rng.standard_normal(n)
    eta = {"x": x, "m": m, "y": y}
    return pd.DataFrame({i: lam * eta[i[0]] + np.sqrt(1 - lam**2) * rng.standard_normal(n)
                         for i, lam in LOADINGS.items()})


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return draw(5000, seed=11)


def test_population_rho_a_loadings_and_correlation_closed_form():
    """With the population correlations of a two-factor model, Mode A weights are ∝ λ, so
    rho_A = (λ'λ)² / (λ'Rλ), the consistent loadings are λ and the corrected correlation is φ."""
    lam_x, lam_y, phi = np.array([0.9, 0.8, 0.6, 0.5]), np.array([0.7, 0.75, 0.8]), 0.5
    model = CSIModel({"X": ["a1", "a2", "a3", "a4"], "Y": ["b1", "b2", "b3"]}, [("X", "Y")])
    lam = np.zeros((7, 2))
    lam[:4, 0], lam[4:, 1] = lam_x, lam_y
    r = lam @ np.array([[1, phi], [phi, 1]]) @ lam.T
    np.fill_diagonal(r, 1.0)
    lay = Layout.of(model)
    est = pls_from_moments(lay, np.zeros((1, 7)), r[None], np.array([1e6]), tol=1e-14, max_iter=500)
    corrected, rho = consistent_batch(lay, est, r[None])
    for j, (block, lam_j) in enumerate(((slice(0, 4), lam_x), (slice(4, 7), lam_y))):
        expected = (lam_j @ lam_j) ** 2 / (lam_j @ r[block, block] @ lam_j)
        assert rho[0, j] == pytest.approx(expected, abs=1e-6)
        np.testing.assert_allclose(corrected.loadings[0, block], lam_j, atol=1e-6)
    assert corrected.latent_corr[0, 0, 1] == pytest.approx(phi, abs=1e-6)
    assert corrected.paths[0, 0] == pytest.approx(phi, abs=1e-6)
    assert est.paths[0, 0] < phi - 0.05  # plain PLS is attenuated


def test_plsc_recovers_true_paths_where_pls_is_attenuated(data):
    plain = fit_pls.quiet(MODEL, data).paths.set_index(["source", "target"])["estimate"]
    fit = fit_pls.quiet(MODEL, data, consistent=True)
    plsc = fit.paths.set_index(["source", "target"])["estimate"]
    counts = np.random.default_rng(2).multinomial(len(data), np.full(len(data), 1 / len(data)), size=200)
    lay = Layout.of(MODEL)
    boot = fit_pls_batch(fit.sample, counts)
    _, cov, _ = fit.sample.moments(counts)
    se = np.nanstd(consistent_batch(lay, boot, cov)[0].paths, axis=0, ddof=1)
    for k, path in enumerate(MODEL.paths):
        assert abs(plsc[path] - TRUE[path]) < 3 * se[k], (path, plsc[path], se[k])
    # the two strong paths are attenuated by far more than 3 SE in plain PLS
    for path in (("X", "M"), ("M", "Y")):
        assert TRUE[path] - plain[path] > 3 * se[MODEL.paths.index(path)]
    truth = pd.Series(LOADINGS)
    loadings = fit.loadings.set_index("item")["loading"]
    np.testing.assert_allclose(loadings.loc[truth.index], truth, atol=0.04)  # SE about 0.01 at n = 5000


def test_plsc_fit_keeps_weights_and_scores_and_agrees_with_measurement_rho_a(data):
    plain = fit_pls.quiet(MODEL, data.iloc[:800])
    fit = fit_pls.quiet(MODEL, data.iloc[:800], consistent=True)
    assert fit.consistent and not plain.consistent
    pd.testing.assert_frame_equal(fit.weights, plain.weights)
    pd.testing.assert_frame_equal(fit.scores, plain.scores)
    assert fit.paths["std_error"].isna().all()
    rho_a = measurement_quality.quiet(plain).reliability["rho_a"]
    np.testing.assert_allclose(fit.constructs["rho_a"], rho_a.loc[fit.constructs.index], rtol=1e-10)
    # disattenuation as defined: r / sqrt(rho_i rho_j)
    rho = fit.constructs["rho_a"]
    expected = plain.latent_corr.to_numpy() / np.sqrt(np.outer(rho, rho))
    np.fill_diagonal(expected, 1.0)
    np.testing.assert_allclose(fit.latent_corr, expected, atol=1e-12)
    unscaled = fit_pls.quiet(MODEL, data.iloc[:800], scaled=False, consistent=True)
    raw = measurement_quality.quiet(fit_pls.quiet(MODEL, data.iloc[:800], scaled=False)).reliability
    np.testing.assert_allclose(unscaled.constructs["rho_a"], raw["rho_a"].loc[unscaled.constructs.index],
                               rtol=1e-10)


def test_permutation_mga_uses_plsc_when_the_fit_does(data):
    frame = data.iloc[:600].assign(g=np.repeat(["A", "B"], 300))
    fit = fit_pls.quiet(MODEL, frame, consistent=True)
    table = permutation_mga.quiet(fit, "g", 19, seed=0).estimates
    own = fit_pls.quiet(MODEL, frame[frame["g"] == "A"], consistent=True).paths["estimate"]
    np.testing.assert_allclose(table["estimate_a"], own, atol=1e-10)
    assert "PLSc" in permutation_mga.quiet(fit, "g", 19, seed=0).method


def test_bootstrap_of_a_plsc_fit_resamples_plsc(data):
    """The bootstrap of a PLSc fit corrects every resample: its estimates are the fit's paths and its
    draws centre on them (plain-PLS draws would centre on the attenuated paths, ~0.07 lower)."""
    from csi_research.stats.bootstrap import bootstrap

    fit = fit_pls(MODEL, data.iloc[:1500], consistent=True)
    boot = bootstrap(fit, n_boot=200, seed=3, progress=False)
    paths = boot.estimates[boot.estimates["statistic"] == "path"]
    for row in fit.paths.itertuples():
        got = paths[(paths["source"] == row.source) & (paths["target"] == row.target)]
        assert got["estimate"].iloc[0] == pytest.approx(row.estimate, abs=1e-10)
        assert abs(got["boot_mean"].iloc[0] - row.estimate) < 0.02  # draws centre on PLSc


# ---------------------------------------------------------------------------- PLSc on raw (unscaled) items
RAW_MODEL = CSIModel({"A": ["a1", "a2", "a3"], "B": ["b1", "b2", "b3"], "C": ["c1", "c2", "c3"]},
                     [("A", "B"), ("A", "C"), ("B", "C")])
RAW_PATHS = {("A", "B"): 0.5, ("A", "C"): 0.3, ("B", "C"): 0.4}
RAW_LOADINGS = np.array([0.85, 0.75, 0.65, 0.8, 0.7, 0.6, 0.9, 0.75, 0.6])
RAW_SD = np.array([1.0, 2.0, 1.4, 2.0, 1.0, 1.5, 1.2, 2.0, 1.0])  # item sds differing by a factor of 2


def raw_population() -> np.ndarray:
    """The implied item covariance of the common-factor model above (standardised factors)."""
    phi = np.eye(3)
    phi[0, 1] = phi[1, 0] = 0.5  # corr(A, B) = path A → B
    phi[0, 2] = phi[2, 0] = 0.3 + 0.4 * 0.5  # corr(A, C) = 0.5
    phi[1, 2] = phi[2, 1] = 0.4 + 0.3 * 0.5  # corr(B, C) = 0.55
    lam = np.zeros((9, 3))
    for j in range(3):
        lam[3 * j:3 * j + 3, j] = RAW_LOADINGS[3 * j:3 * j + 3]
    corr = lam @ phi @ lam.T
    np.fill_diagonal(corr, 1.0)
    return corr * np.outer(RAW_SD, RAW_SD)


def raw_data(n: int, seed: int, exact: bool) -> pd.DataFrame:
    """Normal items with that covariance; ``exact``: whitened so the (population-divisor) sample
    covariance equals it to rounding, so PLSc must return the population values."""
    z = np.random.default_rng(seed).standard_normal((n, 9))
    if exact:
        z -= z.mean(axis=0)
        z = z @ np.linalg.inv(np.linalg.cholesky(z.T @ z / n)).T
    x = z @ np.linalg.cholesky(raw_population()).T + 3.0
    return pd.DataFrame(x, columns=RAW_MODEL.items)


@pytest.mark.parametrize("scaled", [True, False])
def test_plsc_is_exact_at_the_population_moments_on_either_scale(scaled):
    fit = fit_pls.quiet(RAW_MODEL, raw_data(2000, 3, exact=True), scaled=scaled, consistent=True, tol=1e-14,
                        max_iter=500)
    got = fit.paths.set_index(["source", "target"])["estimate"]
    for path, value in RAW_PATHS.items():
        assert got[path] == pytest.approx(value, abs=1e-8), path
    loadings = fit.loadings.set_index("item")["loading"].loc[RAW_MODEL.items]
    np.testing.assert_allclose(loadings, RAW_LOADINGS, atol=1e-8)
    assert ((fit.constructs["rho_a"] > 0) & (fit.constructs["rho_a"] <= 1)).all()
    rho = measurement_quality.quiet(fit_pls.quiet(RAW_MODEL, raw_data(2000, 3, exact=True), scaled=scaled,
                                                  tol=1e-14, max_iter=500)).reliability["rho_a"]
    np.testing.assert_allclose(rho.loc[fit.constructs.index], fit.constructs["rho_a"], rtol=1e-9)


@pytest.mark.parametrize("scaled", [True, False])
def test_plsc_recovers_population_paths_at_n_20000(scaled):
    """Sampled data: each path within 3 bootstrap SE of its population value (SE about 0.007)."""
    from csi_research.stats.bootstrap import bootstrap

    fit = fit_pls.quiet(RAW_MODEL, raw_data(20_000, 8, exact=False), scaled=scaled, consistent=True)
    boot = bootstrap.quiet(fit, n_boot=200, seed=1, progress=False).estimates
    rows = boot[boot["statistic"] == "path"].set_index(["source", "target"])
    for path, value in RAW_PATHS.items():
        assert abs(rows.at[path, "estimate"] - value) < 3 * rows.at[path, "se"], (path, scaled)


def test_unscaled_plsc_on_standardised_items_equals_scaled_plsc():
    data = raw_data(3000, 5, exact=False)
    standardised = (data - data.mean()) / data.std(ddof=0)
    a = fit_pls.quiet(RAW_MODEL, data, scaled=True, consistent=True, tol=1e-14, max_iter=500)
    b = fit_pls.quiet(RAW_MODEL, standardised, scaled=False, consistent=True, tol=1e-14, max_iter=500)
    np.testing.assert_allclose(a.paths["estimate"], b.paths["estimate"], atol=1e-10)
    np.testing.assert_allclose(a.constructs["rho_a"], b.constructs["rho_a"], atol=1e-10)
    np.testing.assert_allclose(a.loadings["loading"], b.loadings["loading"], atol=1e-10)
