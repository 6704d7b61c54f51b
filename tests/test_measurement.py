"""Measurement quality against semTools and plspm reference results and closed forms."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from ecsi_reference import ecsi_model, reference_csv, satisfaction_data

from csi_research import CSIModel, CSIWarning
from csi_research.stats.measurement import _rho_a, htmt_from_corr, measurement_quality

MODEL = ecsi_model()


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return satisfaction_data()


@pytest.fixture(scope="module")
def quality(data):
    from csi_research.stats.cbsem import fit_cbsem
    from csi_research.stats.pls import fit_pls

    pls = fit_pls(MODEL, data, scheme="centroid", scaled=False)  # plspm's settings in the reference
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        cb = fit_cbsem(MODEL, data)
        return measurement_quality(pls, cbsem=cb)


def test_alpha_matches_semtools(quality):
    ref = reference_csv("semtools_satisfaction_reliability.csv", index_col=0)
    np.testing.assert_allclose(quality.reliability.loc[ref.columns, "alpha"], ref.loc["alpha"], atol=1e-6)


@pytest.mark.parametrize(("kind", "file"), [("htmt", "htmt"), ("htmt2", "htmt2")])
def test_htmt_matches_semtools(quality, kind, file):
    ref = reference_csv(f"semtools_satisfaction_{file}.csv", index_col=0)
    ours = getattr(quality, kind).loc[ref.index, ref.columns]
    np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), atol=1e-6)


def test_pls_ave_matches_plspm_and_cfa_values_match_semtools(quality):
    plspm = reference_csv("plspm_inner-summary.csv", index_col=0)
    np.testing.assert_allclose(quality.reliability.loc[plspm.index, "ave"], plspm["ave"], atol=1e-6)
    ref = reference_csv("semtools_satisfaction_reliability.csv", index_col=0)
    rel = quality.reliability.loc[ref.columns]
    np.testing.assert_allclose(rel["rho_c_cfa"], ref.loc["omega"], atol=1e-3)
    np.testing.assert_allclose(rel["ave_cfa"], ref.loc["avevar"], atol=1e-3)


def test_pls_reliability_is_close_to_but_above_the_cfa_values(quality):
    # PLS loadings include the item's own error in the composite, so they exceed the factor loadings:
    # rho_C and AVE are biased upwards; with 4-5 items per block the bias is a few hundredths (rho_C)
    # and up to about a tenth (AVE)
    ref = reference_csv("semtools_satisfaction_reliability.csv", index_col=0)
    rel = quality.reliability.loc[ref.columns]
    rho_gap = rel["rho_c"].to_numpy() - ref.loc["omega"].to_numpy()
    ave_gap = rel["ave"].to_numpy() - ref.loc["avevar"].to_numpy()
    assert np.all(rho_gap > 0) and np.all(rho_gap < 0.06)
    assert np.all(ave_gap > 0) and np.all(ave_gap < 0.12)


def test_discriminant_validity_problems_are_reported(quality):
    text = " | ".join(quality.diagnostics)
    assert "HTMT EXPE–QUAL = 0.982 (above the liberal 0.90 limit)" in text
    assert "Fornell–Larcker" in text
    fl = quality.fornell_larcker
    np.testing.assert_allclose(np.diag(fl), np.sqrt(quality.reliability["ave"]))
    assert set(quality.inner_vif["target"]) == set(MODEL.endogenous)
    assert quality.indicator_vif.empty  # no formative block
    assert set(quality.summary()) >= {"thresholds", "reliability", "htmt", "diagnostics"}


def test_rho_a_closed_form_for_parallel_items():
    # equal weights and equal correlations r: rho_A = k r / (1 + (k − 1) r), the Spearman–Brown formula
    k, r = 4, 0.45
    corr = np.full((k, k), r) + (1 - r) * np.eye(k)
    assert _rho_a(np.full(k, 0.3), corr) == pytest.approx(k * r / (1 + (k - 1) * r), abs=1e-12)


def test_htmt_from_corr_batched_equals_single_and_closed_form():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 5)) + rng.standard_normal((200, 1))
    blocks = [np.array([0, 1]), np.array([2, 3, 4])]
    corr = np.corrcoef(x, rowvar=False)
    batch = np.stack([corr, np.corrcoef(x[:100], rowvar=False)])
    for kind in ("htmt", "htmt2"):
        out = htmt_from_corr(batch, blocks, kind)
        assert out.shape == (2, 2, 2)
        np.testing.assert_allclose(out[0], htmt_from_corr(corr, blocks, kind))
    a = np.abs(corr)
    het = a[np.ix_([0, 1], [2, 3, 4])].mean()
    mono = np.sqrt(a[0, 1] * np.mean([a[2, 3], a[2, 4], a[3, 4]]))
    assert htmt_from_corr(corr, blocks)[0, 1] == pytest.approx(het / mono)
    with pytest.raises(ValueError, match="kind"):
        htmt_from_corr(corr, blocks, "htmt3")


def test_formative_block_and_low_reliability_are_flagged():
    rng = np.random.default_rng(4)
    n = 500
    f = rng.standard_normal(n)
    frame = pd.DataFrame({
        "a1": f + rng.standard_normal(n), "a2": f + rng.standard_normal(n), "a3": rng.standard_normal(n),
        "b1": rng.standard_normal(n), "b2": rng.standard_normal(n),
    })
    frame["b3"] = frame["b1"] + frame["b2"] + 0.1 * rng.standard_normal(n)  # collinear formative items
    frame["c1"] = f + frame["b1"] + rng.standard_normal(n)
    frame["c2"] = f + frame["b1"] + rng.standard_normal(n)
    model = CSIModel({"A": ["a1", "a2", "a3"], "B": ["b1", "b2", "b3"], "C": ["c1", "c2"]},
                     [("A", "C"), ("B", "C")], modes={"B": "B"})
    from csi_research.stats.pls import fit_pls

    with pytest.warns(CSIWarning):
        q = measurement_quality(fit_pls(model, frame))
    assert set(q.indicator_vif["item"]) == {"b1", "b2", "b3"}
    assert (q.indicator_vif["vif"] > 5).all()  # b3 ≈ b1 + b2
    assert not q.reliability.loc["A", "alpha_ok"]  # a3 is noise
    assert any("VIF of item b3 of B" in d for d in q.diagnostics)
    assert any("construct A" in d and "alpha" in d for d in q.diagnostics)


def _alpha_by_hand(x: np.ndarray, w: np.ndarray) -> float:
    cov = np.cov(x, rowvar=False, aweights=w)  # the divisor cancels in alpha
    k = cov.shape[0]
    return k / (k - 1) * (1 - np.trace(cov) / cov.sum())


def test_quality_stands_on_the_fit_sample_weights_and_respondents(data):
    """Correlations come from the fit's sample: its survey weights and, here, its listwise deletion."""
    from csi_research.stats.pls import fit_pls

    holes = data.copy()
    holes.loc[holes.index[[2, 7, 40]], "sat2"] = np.nan
    w = np.resize([1.0, 2.0, 3.0], len(holes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        q = measurement_quality(fit_pls(MODEL, holes, missing="listwise", weights=w))
    kept = holes[MODEL.items].notna().all(axis=1).to_numpy()
    assert kept.sum() == len(holes) - 3
    x, wk = holes[MODEL.items].to_numpy()[kept], w[kept]
    for name, items in MODEL.constructs.items():
        cols = [MODEL.items.index(i) for i in items]
        assert q.reliability.loc[name, "alpha"] == pytest.approx(_alpha_by_hand(x[:, cols], wk), abs=1e-10)
    # HTMT of the weighted correlations, computed here for one pair
    corr = np.cov(x, rowvar=False, aweights=wk)
    sd = np.sqrt(np.diag(corr))
    corr = np.abs(corr / np.outer(sd, sd))
    a = [MODEL.items.index(i) for i in MODEL.constructs["SAT"]]
    b = [MODEL.items.index(i) for i in MODEL.constructs["LOY"]]
    iu_a, iu_b = np.triu_indices(len(a), 1), np.triu_indices(len(b), 1)
    mono_a = corr[np.ix_(a, a)][iu_a].mean()
    mono_b = corr[np.ix_(b, b)][iu_b].mean()
    expected = corr[np.ix_(a, b)].mean() / np.sqrt(mono_a * mono_b)
    assert q.htmt.loc["SAT", "LOY"] == pytest.approx(expected, abs=1e-10)
    # integer weights are frequency weights: the same as repeating the rows
    rows = np.repeat(np.flatnonzero(kept), w[kept].astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        rep = measurement_quality(fit_pls(MODEL, holes.iloc[rows].reset_index(drop=True)))
    cols = ["alpha", "rho_c", "rho_a", "ave"]
    np.testing.assert_allclose(q.reliability[cols], rep.reliability[cols], atol=1e-10)
    np.testing.assert_allclose(q.htmt, rep.htmt, atol=1e-10)
    np.testing.assert_allclose(q.fornell_larcker, rep.fornell_larcker, atol=1e-10)
