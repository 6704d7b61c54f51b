"""Bootstrap: agreement with plspm's bootstrap, BCa coverage, determinism, strata, failures."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from ecsi_reference import BLOCKS, ecsi_model, reference_csv, satisfaction_data
from scipy import stats

from csi_research.core.errors import CSIWarning, ModelSpecError
from csi_research.data.sample import prepare
from csi_research.model import CSIModel
from csi_research.stats.bootstrap import bootstrap, count_chunks
from csi_research.stats.cbsem import fit_cbsem
from csi_research.stats.indices import csi_indices
from csi_research.stats.intervals import bca_interval, excludes_zero, percentile_interval
from csi_research.stats.pls import fit_pls

SAT_MODEL = ecsi_model()


@pytest.fixture(scope="module")
def satisfaction() -> pd.DataFrame:
    return satisfaction_data()


def test_percentile_paths_agree_with_plspm_bootstrap(satisfaction):
    ref = reference_csv("plspm_boot_paths.csv", index_col=0)
    fit = fit_pls(SAT_MODEL, satisfaction, scheme="centroid", scaled=False)  # plspm's settings
    res = bootstrap(fit, n_boot=3000, seed=11, workers=2, progress=False, bca=False)
    paths = res.estimates[res.estimates["statistic"] == "path"]
    paths = paths.set_index(paths["source"] + " -> " + paths["target"]).loc[ref.index]
    np.testing.assert_allclose(paths["estimate"], ref["original"], atol=1e-8)
    np.testing.assert_allclose(paths["boot_mean"], ref["mean"], atol=0.03)
    np.testing.assert_allclose(paths["se"], ref["std.error"], atol=0.03)
    # The reference bounds are themselves random: plspm's default is 100 resamples, for which the
    # Monte Carlo SE of a 2.5 % / 97.5 % quantile is sqrt(q(1-q)/100) / φ(z_q) × SE ≈ 0.27 × SE
    # (≈ 0.02 for SE ≈ 0.077). Allow ±0.03 or 2.5 such SEs, whichever is larger.
    mc = np.sqrt(0.025 * 0.975 / 100) / stats.norm.pdf(stats.norm.ppf(0.975)) * ref["std.error"]
    tol = np.maximum(0.03, 2.5 * mc)
    assert (np.abs(paths["ci_lower"] - ref["perc.025"]) <= tol).all()
    assert (np.abs(paths["ci_upper"] - ref["perc.975"]) <= tol).all()
    # most bounds meet the plain ±0.03 of the reference README
    close = np.abs(np.r_[paths["ci_lower"] - ref["perc.025"], paths["ci_upper"] - ref["perc.975"]]) <= 0.03
    assert close.mean() >= 0.9
    assert (paths["n_used"] == 3000).all() and res.n_failed == 0


def test_bca_equals_percentile_for_symmetric_draws():
    draws = stats.norm.ppf((np.arange(1, 2000) - 0.5) / 1999)[:, None]  # symmetric around 0
    jack = np.linspace(-1, 1, 51)[:, None]  # no skewness → no acceleration
    lo, hi = bca_interval(draws, np.array([0.0]), jack, 0.9)
    plo, phi = percentile_interval(draws, 0.9)
    np.testing.assert_allclose([lo[0], hi[0]], [plo[0], phi[0]], atol=1e-3)
    np.testing.assert_allclose([plo[0], phi[0]], stats.norm.ppf([0.05, 0.95]), atol=5e-3)


def test_bca_coverage_for_mean_of_exponential_data():
    """BCa for the mean of Exp(1) samples (n = 100) should cover the true mean ≈ 95 % of the time.

    BCa's small-sample undercoverage for this skewed case is ≈ 0.01 at n = 100 (≈ 0.025 at n = 40),
    so the expected coverage is ≈ 0.94; with 200 replications its binomial SE is ≈ 0.017, and
    [0.89, 0.99] is three SEs either side.
    """
    rng = np.random.default_rng(5)
    n, reps, n_boot = 100, 200, 1000
    hits = 0
    for _ in range(reps):
        x = rng.exponential(size=n)
        draws = x[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)[:, None]
        jack = ((x.sum() - x) / (n - 1))[:, None]
        lo, hi = bca_interval(draws, np.array([x.mean()]), jack, 0.95)
        hits += lo[0] <= 1.0 <= hi[0]
    assert 0.89 <= hits / reps <= 0.99


@pytest.fixture(scope="module")
def scaled_fit(satisfaction):
    """A PLS fit whose sample knows the answer scale (0-10: 25 of the 27 items have answers 0)."""
    return fit_pls(prepare(SAT_MODEL, satisfaction, scale_min=0, scale_max=10))


def test_same_seed_same_result_whatever_the_workers(scaled_fit):
    kw = dict(n_boot=300, seed=3, progress=False, chunk_size=64)
    one = bootstrap(scaled_fit, workers=1, **kw)
    two = bootstrap(scaled_fit, workers=2, **kw)
    procs = bootstrap(scaled_fit, workers=2, backend="processes", **kw)
    pd.testing.assert_frame_equal(one.estimates, two.estimates)
    pd.testing.assert_frame_equal(one.estimates, procs.estimates)
    other = bootstrap(scaled_fit, workers=1, **{**kw, "seed": 4})
    assert not np.allclose(one.draws["path"], other.draws["path"])
    kinds = set(one.estimates["statistic"])
    assert {"path", "total_effect", "weight", "loading", "r2", "htmt", "index"} <= kinds
    assert one.estimates[["bca_lower", "bca_upper"]].notna().all().all()
    assert set(one.summary()) >= {"overview", "path", "index"}


def _rows(res, statistic: str, *keys: str) -> pd.DataFrame:
    rows = res.estimates[res.estimates["statistic"] == statistic]
    return rows.set_index(list(keys)) if keys else rows


def test_estimate_column_is_the_fit_itself(satisfaction, scaled_fit):
    """The bootstrap re-uses the fit's sample and settings: its estimates *are* the fit's numbers."""
    fit = scaled_fit
    res = bootstrap(fit, n_boot=50, seed=0, progress=False, workers=1)
    paths = _rows(res, "path", "source", "target")["estimate"]
    expected = fit.paths.set_index(["source", "target"])["estimate"]
    assert (paths.loc[expected.index] == expected).all()
    total = _rows(res, "total_effect", "source", "target")["estimate"]
    effects = fit.effects.set_index(["source", "target"])["total"]
    assert len(total) == len(effects) and (total.loc[effects.index] == effects).all()
    for statistic, table, column in (("weight", fit.weights, "weight"), ("loading", fit.loadings, "loading")):
        got = _rows(res, statistic, "item")["estimate"]
        assert (got.loc[table["item"]].to_numpy() == table[column].to_numpy()).all(), statistic
    r2 = _rows(res, "r2", "construct")["estimate"]
    assert (r2.loc[fit.r2.index] == fit.r2).all()
    index = _rows(res, "index", "construct")["estimate"]
    idx = csi_indices(fit)
    assert (index.loc[idx.index] == idx).all()
    # and the index is the plain weighted mean of the items, computed here by hand (0-10 scale)
    raw = fit.raw_weights()
    for name, items in BLOCKS.items():
        w = raw[items] / raw[items].sum()
        assert index[name] == pytest.approx(w @ satisfaction[items].mean() * 10, abs=1e-10)


def test_settings_come_from_the_fit(satisfaction):
    centroid = fit_pls(SAT_MODEL, satisfaction, scheme="centroid", scaled=False)
    res = bootstrap(centroid, n_boot=20, seed=0, progress=False, workers=1, bca=False)
    paths = _rows(res, "path", "source", "target")["estimate"]
    assert (paths.to_numpy() == centroid.paths["estimate"].to_numpy()).all()
    assert "index" not in set(res.estimates["statistic"])  # no scale known, no index


def test_weighted_bootstrap_uses_the_weights(satisfaction):
    w = np.resize([1.0, 2.0, 3.0], len(satisfaction))
    fit = fit_pls(prepare(SAT_MODEL, satisfaction, weights=w, scale_min=0, scale_max=10))
    n_boot, chunk = 6, 4
    res = bootstrap(fit, n_boot=n_boot, seed=5, progress=False, workers=1, chunk_size=chunk, bca=False)
    # full-sample estimates: the weighted fit exactly, not the unweighted one
    paths = _rows(res, "path", "source", "target")["estimate"]
    assert (paths.to_numpy() == fit.paths["estimate"].to_numpy()).all()
    unweighted = fit_pls(SAT_MODEL, satisfaction)
    assert np.abs(paths.to_numpy() - unweighted.paths["estimate"].to_numpy()).max() > 1e-4
    index = _rows(res, "index", "construct")["estimate"]
    raw = fit.raw_weights()
    for name, items in BLOCKS.items():
        wi = raw[items] / raw[items].sum()
        means = np.average(satisfaction[items], weights=w, axis=0)
        assert index[name] == pytest.approx(wi @ means * 10, abs=1e-10)
    # each draw is the weighted fit of its resample: respondent i enters count_i times with weight w_i
    chunks = count_chunks(np.random.default_rng(5), len(satisfaction), None, n_boot, chunk)
    counts = np.concatenate(list(chunks))
    for b, c in enumerate(counts):
        rows = np.repeat(np.arange(len(satisfaction)), c)
        resample = satisfaction.iloc[rows].reset_index(drop=True)
        single = fit_pls(SAT_MODEL, resample, weights=w[rows])
        np.testing.assert_allclose(res.draws["path"][b], single.paths["estimate"], atol=1e-10)
        np.testing.assert_allclose(res.draws["r2"][b], single.r2, atol=1e-10)


def test_strata_keep_their_sizes(satisfaction, scaled_fit):
    codes = pd.factorize(satisfaction["gender"])[0]
    rng = np.random.default_rng(0)
    for counts in count_chunks(rng, len(codes), codes, 120, 50):
        for g in np.unique(codes):
            assert (counts[:, codes == g].sum(axis=1) == (codes == g).sum()).all()
        assert (counts.sum(axis=1) == len(codes)).all()
    res = bootstrap(scaled_fit, n_boot=40, strata="gender", progress=False, workers=1, bca=False)
    assert res.n_failed == 0
    with pytest.raises(ModelSpecError, match="strata column 'region'"):
        bootstrap(scaled_fit, n_boot=10, strata="region", progress=False)
    with pytest.raises(ModelSpecError, match="give one each"):
        bootstrap(scaled_fit, n_boot=10, strata=[1, 2, 3], progress=False)


def test_failed_resamples_are_counted_and_reported(satisfaction):
    # the full sample converges in 4 iterations; about a third of resamples need 5, so max_iter=5 fails them
    fit = fit_pls(SAT_MODEL, satisfaction, scheme="centroid", scaled=False, max_iter=5)
    assert fit.iterations == 4
    with pytest.warns(CSIWarning, match="resamples did not converge"):
        res = bootstrap(fit, n_boot=200, seed=1, progress=False, workers=1, bca=False)
    assert 0 < res.n_failed < 200
    assert any(f"{res.n_failed} of 200 resamples" in d for d in res.diagnostics)
    assert (res.estimates["n_used"] == 200 - res.n_failed).all()
    assert np.isnan(res.draws["path"]).any(axis=1).sum() == res.n_failed
    assert res.summary()["overview"].loc["failed", "value"] == res.n_failed


def test_cbsem_bootstrap_small(satisfaction):
    model = CSIModel({"QUAL": BLOCKS["QUAL"], "SAT": BLOCKS["SAT"]}, [("QUAL", "SAT")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        fit = fit_cbsem(model, satisfaction)
        res = bootstrap(fit, n_boot=4, seed=0, progress=False, workers=1)
    rows = res.estimates.set_index("statistic")
    assert set(rows.index) == {"path", "std_path", "r2"}
    assert res.n_boot == 4 and res.draws["path"].shape == (4, 1)
    assert 0 < rows.loc["std_path", "estimate"] < 1
    assert rows["bca_lower"].isna().all()  # no jackknife by default for CB-SEM
    assert res.method == "cbsem"
    # the estimate column is the fit itself
    assert rows.loc["path", "estimate"] == fit.paths["estimate"].item()
    assert rows.loc["std_path", "estimate"] == fit.paths["std_estimate"].item()
    assert rows.loc["r2", "estimate"] == fit.r2["SAT"]


def test_cbsem_draws_equal_fits_of_materialised_resamples_whatever_the_workers(satisfaction):
    model = CSIModel({"QUAL": BLOCKS["QUAL"], "SAT": BLOCKS["SAT"], "LOY": BLOCKS["LOY"]},
                     [("QUAL", "SAT"), ("SAT", "LOY")])
    kw = dict(n_boot=4, seed=7, progress=False, chunk_size=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        full = fit_cbsem(model, satisfaction)
        one = bootstrap(full, workers=1, **kw)
        two = bootstrap(full, workers=2, **kw)
        items = satisfaction[list(model.items)]
        chunks = count_chunks(np.random.default_rng(7), len(items), None, 4, 2)
        admissible = 0
        for b, counts in enumerate(np.concatenate(list(chunks))):
            resample = items.iloc[np.repeat(np.arange(len(items)), counts)].reset_index(drop=True)
            fit = fit_cbsem(model, resample, start=full)
            if not fit.admissible:  # left out of the draws
                assert np.isnan(one.draws["path"][b]).all()
                continue
            admissible += 1
            paths = fit.paths.set_index(["source", "target"]).reindex(list(model.paths))
            np.testing.assert_allclose(one.draws["path"][b], paths["estimate"], atol=1e-6)
            np.testing.assert_allclose(one.draws["std_path"][b], paths["std_estimate"], atol=1e-6)
            np.testing.assert_allclose(one.draws["r2"][b], fit.r2.reindex(model.endogenous), atol=1e-6)
        assert admissible >= 3
    pd.testing.assert_frame_equal(one.estimates, two.estimates)
    for kind in ("path", "std_path", "r2"):
        np.testing.assert_array_equal(one.draws[kind], two.draws[kind])


def test_cbsem_non_admissible_resamples_are_left_out(satisfaction):
    """QUAL is explained almost fully by EXPE (R² 0.94): some resamples put R² above 1 (a negative
    disturbance variance). Such draws are not estimates; they are left out and counted."""
    model = CSIModel({k: BLOCKS[k] for k in ("EXPE", "QUAL", "SAT")}, [("EXPE", "QUAL"), ("QUAL", "SAT")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        full = fit_cbsem(model, satisfaction)
    assert full.admissible
    n_boot = 40
    with pytest.warns(CSIWarning, match="non-admissible"):
        res = bootstrap(full, n_boot=n_boot, seed=1, progress=False, workers=1, chunk_size=10)
    r2 = res.draws["r2"]
    left_out = np.isnan(r2).any(axis=1)
    assert res.n_failed == left_out.sum() > 0
    assert (r2[~left_out] <= 1.0).all() and (r2[~left_out] >= 0.0).all()
    assert np.isnan(res.draws["path"][left_out]).all() and np.isnan(res.draws["std_path"][left_out]).all()
    assert (res.estimates["n_used"] == n_boot - res.n_failed).all()
    assert any(f"{res.n_failed} of {n_boot} CB-SEM resamples" in d for d in res.diagnostics)
    assert (res.estimates["ci_upper"][res.estimates["statistic"] == "r2"] <= 1.0).all()
    # the left-out resamples are the ones a full fit calls non-admissible
    items = satisfaction[list(model.items)]
    counts = np.concatenate(list(count_chunks(np.random.default_rng(1), len(items), None, n_boot, 10)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        for b in np.flatnonzero(left_out):
            resample = items.iloc[np.repeat(np.arange(len(items)), counts[b])].reset_index(drop=True)
            assert not fit_cbsem(model, resample, start=full).admissible


def test_excludes_zero():
    lower, upper = np.array([0.1, -0.3, -0.2, 0.0]), np.array([0.4, -0.1, 0.2, 0.5])
    assert excludes_zero(lower, upper).tolist() == [True, True, False, False]


def test_fiml_bootstrap_standard_errors_agree_with_the_observed_information():
    """A FIML fit bootstraps by FIML: on an incomplete normal survey (where the observed-information
    SEs are right) its bootstrap SEs estimate the same sampling variance (B = 300: an SE estimate
    within about 4 %, n = 400: the asymptotic SE itself within about 10 %). On real Likert data the
    two differ by design: the bootstrap does not assume normality."""
    rng = np.random.default_rng(17)
    n = 400
    a = rng.standard_normal(n)
    b = 0.5 * a + np.sqrt(0.75) * rng.standard_normal(n)
    c = 0.4 * b + np.sqrt(0.84) * rng.standard_normal(n)
    data = pd.DataFrame({f"{k}{j}": 0.8 * f + 0.6 * rng.standard_normal(n)
                         for k, f in (("a", a), ("b", b), ("c", c)) for j in (1, 2, 3)})
    for col in ("a1", "b2", "c3"):
        data.loc[rng.random(n) < 0.15, col] = np.nan
    model = CSIModel({k.upper(): [f"{k}{j}" for j in (1, 2, 3)] for k in "abc"}, [("A", "B"), ("B", "C")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        full = fit_cbsem(model, data)
        res = bootstrap(full, n_boot=300, seed=3, progress=False, workers=1)
    assert full.estimator == "FIML"
    rows = res.estimates.query("statistic == 'path'").set_index(["source", "target"])
    paths = full.paths.set_index(["source", "target"]).reindex(rows.index)
    assert (rows["n_used"] >= 290).all()
    np.testing.assert_array_equal(rows["estimate"], paths["estimate"])
    ratio = rows["se"] / paths["se"]
    assert ratio.between(0.8, 1.25).all(), ratio
