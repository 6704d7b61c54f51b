"""Bootstrap: agreement with plspm's bootstrap, BCa coverage, determinism, strata, failures."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from ecsi_reference import BLOCKS, ecsi_model, reference_csv, satisfaction_data
from scipy import stats

from csi_research.bootstrap import _count_chunks, bca_interval, bootstrap, percentile_interval
from csi_research.errors import CSIWarning, ModelSpecError
from csi_research.estimation.pls import fit_pls
from csi_research.model import CSIModel

SAT_MODEL = ecsi_model()


@pytest.fixture(scope="module")
def satisfaction() -> pd.DataFrame:
    return satisfaction_data()


def test_percentile_paths_agree_with_plspm_bootstrap(satisfaction):
    ref = reference_csv("plspm_boot_paths.csv", index_col=0)
    res = bootstrap(
        SAT_MODEL, satisfaction, n_boot=3000, seed=11, scheme="centroid", scaled=False,
        workers=2, progress=False, bca=False,
    )
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


def test_same_seed_same_result_whatever_the_workers(satisfaction):
    kw = dict(n_boot=300, seed=3, progress=False, chunk_size=64, index_scale=(1, 10))
    one = bootstrap(SAT_MODEL, satisfaction, workers=1, **kw)
    two = bootstrap(SAT_MODEL, satisfaction, workers=2, **kw)
    procs = bootstrap(SAT_MODEL, satisfaction, workers=2, backend="processes", **kw)
    pd.testing.assert_frame_equal(one.estimates, two.estimates)
    pd.testing.assert_frame_equal(one.estimates, procs.estimates)
    other = bootstrap(SAT_MODEL, satisfaction, workers=1, **{**kw, "seed": 4})
    assert not np.allclose(one.draws["path"], other.draws["path"])
    kinds = set(one.estimates["statistic"])
    assert {"path", "total_effect", "weight", "loading", "r2", "htmt", "index"} <= kinds
    assert one.estimates[["bca_lower", "bca_upper"]].notna().all().all()
    assert set(one.summary()) >= {"overview", "path", "index"}


def test_indices_estimate_matches_the_full_sample_fit(satisfaction):
    from csi_research.indices import acsi_index_from_arrays

    res = bootstrap(
        SAT_MODEL, satisfaction, n_boot=50, seed=0, progress=False, index_scale=(1, 10), workers=1
    )
    fit = fit_pls(SAT_MODEL, satisfaction)
    blocks = [np.array([SAT_MODEL.items.index(i) for i in items]) for items in BLOCKS.values()]
    expected = acsi_index_from_arrays(
        fit.raw_weights().to_numpy(), fit.item_mean.to_numpy(), blocks, 1, 10
    )
    got = res.estimates[res.estimates["statistic"] == "index"].set_index("construct")["estimate"]
    np.testing.assert_allclose(got.loc[list(BLOCKS)], expected, atol=1e-10)


def test_strata_keep_their_sizes(satisfaction):
    codes = pd.factorize(satisfaction["gender"])[0]
    rng = np.random.default_rng(0)
    for counts in _count_chunks(rng, len(codes), codes, 120, 50):
        for g in np.unique(codes):
            assert (counts[:, codes == g].sum(axis=1) == (codes == g).sum()).all()
        assert (counts.sum(axis=1) == len(codes)).all()
    res = bootstrap(SAT_MODEL, satisfaction, n_boot=40, strata="gender", progress=False, workers=1, bca=False)
    assert res.n_failed == 0
    with pytest.raises(ModelSpecError, match="strata column 'region'"):
        bootstrap(SAT_MODEL, satisfaction, n_boot=10, strata="region", progress=False)
    with pytest.raises(ModelSpecError, match="one per row"):
        bootstrap(SAT_MODEL, satisfaction, n_boot=10, strata=[1, 2, 3], progress=False)


def test_failed_resamples_are_counted_and_reported(satisfaction):
    # the full sample converges in 4 iterations; about a third of resamples need 5, so max_iter=5 fails them
    with pytest.warns(CSIWarning, match="resamples did not converge"):
        res = bootstrap(
            SAT_MODEL, satisfaction, n_boot=200, seed=1, scheme="centroid", scaled=False,
            progress=False, workers=1, max_iter=5, bca=False,
        )
    assert 0 < res.n_failed < 200
    assert any(f"{res.n_failed} of 200 resamples" in d for d in res.diagnostics)
    assert (res.estimates["n_used"] == 200 - res.n_failed).all()
    assert np.isnan(res.draws["path"]).any(axis=1).sum() == res.n_failed
    assert res.summary()["overview"].loc["failed", "value"] == res.n_failed


def test_cbsem_bootstrap_small(satisfaction):
    model = CSIModel({"QUAL": BLOCKS["QUAL"], "SAT": BLOCKS["SAT"]}, [("QUAL", "SAT")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        res = bootstrap(model, satisfaction, n_boot=4, seed=0, method="cbsem", progress=False, workers=1)
    rows = res.estimates.set_index("statistic")
    assert set(rows.index) == {"path", "std_path", "r2"}
    assert res.n_boot == 4 and res.draws["path"].shape == (4, 1)
    assert 0 < rows.loc["std_path", "estimate"] < 1
    assert rows["bca_lower"].isna().all()  # no jackknife by default for CB-SEM


def test_cbsem_draws_equal_fits_of_materialised_resamples_whatever_the_workers(satisfaction):
    from csi_research.estimation.cbsem import fit_cbsem

    model = CSIModel({"QUAL": BLOCKS["QUAL"], "SAT": BLOCKS["SAT"], "LOY": BLOCKS["LOY"]},
                     [("QUAL", "SAT"), ("SAT", "LOY")])
    kw = dict(n_boot=4, seed=7, method="cbsem", progress=False, chunk_size=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        one = bootstrap(model, satisfaction, workers=1, **kw)
        two = bootstrap(model, satisfaction, workers=2, **kw)
        full = fit_cbsem(model, satisfaction)
        items = satisfaction[list(model.items)]
        chunks = _count_chunks(np.random.default_rng(7), len(items), None, 4, 2)
        for b, counts in enumerate(np.concatenate(list(chunks))):
            resample = items.iloc[np.repeat(np.arange(len(items)), counts)].reset_index(drop=True)
            fit = fit_cbsem(model, resample, start=full)
            paths = fit.paths.set_index(["source", "target"]).reindex(list(model.paths))
            np.testing.assert_allclose(one.draws["path"][b], paths["estimate"], atol=1e-6)
            np.testing.assert_allclose(one.draws["std_path"][b], paths["std_estimate"], atol=1e-6)
            np.testing.assert_allclose(one.draws["r2"][b], fit.r2.reindex(model.endogenous), atol=1e-6)
    pd.testing.assert_frame_equal(one.estimates, two.estimates)
    for kind in ("path", "std_path", "r2"):
        np.testing.assert_array_equal(one.draws[kind], two.draws[kind])
