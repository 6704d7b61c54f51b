"""MICOM, permutation MGA and bootstrap MGA: group estimates against separate fits, composite
statistics against direct computation on scores, planted differences, exactness of the helpers.

Heavy Monte Carlo checks (rejection rates, power) live in scripts/validate_mga.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from csi_research.core.errors import EstimationError, ModelSpecError
from csi_research.model import CSIModel
from csi_research.stats.groups import (
    bootstrap_mga,
    henseler_probability,
    holm,
    micom,
    micom_and_mga,
    permutation_mga,
)
from csi_research.stats.pls import fit_pls

MODEL = CSIModel(
    {"X": ["x1", "x2", "x3"], "M": ["m1", "m2", "m3"], "Y": ["y1", "y2", "y3"]},
    [("X", "M"), ("M", "Y"), ("X", "Y")],
)


def draw(n: int, b_xm: float, b_my: float, b_xy: float, seed: int, loadings=(0.8, 0.8, 0.8),
         shift: float = 0.0) -> pd.DataFrame:
    """Continuous items of X -> M -> Y (and X -> Y) with standardised latent variables."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    m = b_xm * x + np.sqrt(1 - b_xm**2) * rng.standard_normal(n)
    explained = b_my**2 + b_xy**2 + 2 * b_my * b_xy * b_xm
    y = b_my * m + b_xy * x + np.sqrt(1 - explained) * rng.standard_normal(n)
    out = {}
    for name, eta in (("x", x), ("m", m), ("y", y + shift)):
        for i, lam in enumerate(loadings):
            out[f"{name}{i + 1}"] = lam * eta + np.sqrt(1 - lam**2) * rng.standard_normal(n)
    return pd.DataFrame(out)


def two_groups(n: int = 200, b_my_b: float = 0.5, seed: int = 1, **kw) -> pd.DataFrame:
    a = draw(n, 0.5, 0.5, 0.2, seed)
    b = draw(n, 0.5, b_my_b, 0.2, seed + 1000, **kw)
    return pd.concat([a.assign(g="A"), b.assign(g="B")], ignore_index=True)


@pytest.fixture(scope="module")
def planted():
    return fit_pls.quiet(MODEL, two_groups(b_my_b=0.0))


@pytest.fixture(scope="module")
def identical():
    return fit_pls.quiet(MODEL, two_groups(b_my_b=0.5, seed=8))


# ---------------------------------------------------------------------------- group estimates
def test_group_estimates_equal_separate_fits_with_survey_weights():
    frame = two_groups(n=150, b_my_b=0.2)
    frame["w"] = np.random.default_rng(3).uniform(0.5, 2.0, len(frame))
    fit = fit_pls.quiet(MODEL, frame, weights="w")
    result = permutation_mga.quiet(fit, "g", 19, seed=0, total_effects=True, r2=True)
    for label, col in (("A", "estimate_a"), ("B", "estimate_b")):
        part = frame[frame["g"] == label]
        own = fit_pls.quiet(MODEL, part, weights=part["w"].to_numpy())
        paths = result.estimates[result.estimates["statistic"] == "path"]
        np.testing.assert_allclose(paths[col], own.paths["estimate"], atol=1e-10)
        r2 = result.estimates[result.estimates["statistic"] == "r2"].set_index("target")[col]
        np.testing.assert_allclose(r2, own.r2.loc[r2.index], atol=1e-10)
        eff = result.estimates[result.estimates["statistic"] == "total_effect"]
        eff = eff.set_index(["source", "target"])[col]
        total = own.effects.set_index(["source", "target"]).loc[eff.index, "total"]
        np.testing.assert_allclose(eff, total, atol=1e-10)


def test_micom_statistics_equal_direct_computation(planted):
    frame = planted.sample.frame
    result = micom.quiet(planted, "g", 19, seed=0)
    pooled = planted.sample.x
    z = (pooled - pooled.mean()) / pooled.std(ddof=0)
    fits = {g: fit_pls.quiet(MODEL, frame[frame["g"] == g]) for g in ("A", "B")}
    scores = planted.scores
    in_a = (frame["g"] == "A").to_numpy()
    for construct, items in MODEL.constructs.items():
        wa = fits["A"].weights.set_index("item").loc[list(items), "weight"].to_numpy()
        wb = fits["B"].weights.set_index("item").loc[list(items), "weight"].to_numpy()
        c = np.corrcoef(z[list(items)] @ wa, z[list(items)] @ wb)[0, 1]
        row = result.compositional.set_index("construct").loc[construct]
        assert row["c"] == pytest.approx(c, abs=1e-10)
        s = scores[construct].to_numpy()
        eq = result.equality[result.equality["construct"] == construct].set_index("statistic")
        assert eq.loc["mean", "difference"] == pytest.approx(s[in_a].mean() - s[~in_a].mean(), abs=1e-10)
        assert eq.loc["log_variance", "difference"] == pytest.approx(
            np.log(s[in_a].var()) - np.log(s[~in_a].var()), abs=1e-10)
    assert result.configural["passed"].all()


# ---------------------------------------------------------------------------- decisions
def test_planted_difference_found_and_identical_groups_not_rejected(planted, identical):
    found = permutation_mga.quiet(planted, "g", 999, seed=1).estimates.set_index(["source", "target"])
    assert found.loc[("M", "Y"), "p_adjusted"] < 0.01
    assert found.loc[("M", "Y"), "significant"]
    same = permutation_mga.quiet(identical, "g", 199, seed=1).estimates
    assert same["p_value"].min() > 0.05
    assert not same["significant"].any()
    boot = bootstrap_mga.quiet(planted, "g", 199, seed=1).estimates.set_index(["source", "target"])
    assert boot.loc[("M", "Y"), "p_a_greater"] < 0.01  # group A's path (0.5) exceeds B's (0)
    assert boot.loc[("M", "Y"), "significant"]
    boot_same = bootstrap_mga.quiet(identical, "g", 199, seed=1).estimates
    assert boot_same["p_value"].min() > 0.05


def test_micom_verdicts_full_partial_no():
    full = micom.quiet(fit_pls.quiet(MODEL, two_groups(seed=8)), "g", 199, seed=2)
    assert full.verdict["invariance"].tolist() == ["full"]
    shifted = micom.quiet(fit_pls.quiet(MODEL, two_groups(seed=8, shift=0.8)), "g", 199, seed=2)
    assert shifted.verdict["invariance"].tolist() == ["partial"]
    verdict = shifted.construct_verdict.set_index("construct")["invariance"]
    assert verdict["Y"] == "partial"
    # every block's items weigh differently in group B: its composites are not the same constructs
    swapped = micom.quiet(fit_pls.quiet(MODEL, two_groups(n=300, seed=8, loadings=(0.95, 0.3, 0.3))), "g",
                          199, seed=2)
    assert swapped.verdict["invariance"].tolist() == ["no"]
    row = swapped.compositional.set_index("construct").loc["X"]
    assert not row["invariant"] and row["c"] < row["quantile"]


def test_three_groups_all_pairs_with_corrections():
    frame = pd.concat([two_groups(n=150, b_my_b=0.0),
                       draw(150, 0.5, 0.5, 0.2, seed=99).assign(g="C")], ignore_index=True)
    fit = fit_pls.quiet(MODEL, frame)
    mga = permutation_mga.quiet(fit, "g", 99, seed=3)
    table = mga.estimates
    pairs = sorted(set(zip(table["group_a"], table["group_b"], strict=True)))
    assert pairs == [("A", "B"), ("A", "C"), ("B", "C")]
    np.testing.assert_allclose(table["p_adjusted"], holm(table["p_value"].to_numpy()))
    assert "3 pairs" in mga.family
    mc = micom.quiet(fit, "g", 99, seed=3)
    assert len(mc.verdict) == 3 and "Bonferroni" in mc.correction
    np.testing.assert_allclose(mc.compositional["p_adjusted"], np.minimum(1, 3 * mc.compositional["p_value"]))


def test_deterministic_for_a_seed(planted):
    one = permutation_mga.quiet(planted, "g", 99, seed=5).estimates
    two = permutation_mga.quiet(planted, "g", 99, seed=5).estimates
    pd.testing.assert_frame_equal(one, two)
    other = permutation_mga.quiet(planted, "g", 99, seed=6).estimates
    assert not np.array_equal(one["p_value"], other["p_value"])
    gen = permutation_mga.quiet(planted, "g", 99, seed=np.random.default_rng(5)).estimates
    pd.testing.assert_frame_equal(one, gen)
    m1, m2 = micom.quiet(planted, "g", 99, seed=5), micom.quiet(planted, "g", 99, seed=5)
    pd.testing.assert_frame_equal(m1.equality, m2.equality)
    b1, b2 = bootstrap_mga.quiet(planted, "g", 50, seed=5), bootstrap_mga.quiet(planted, "g", 50, seed=5)
    pd.testing.assert_frame_equal(b1.estimates, b2.estimates)


def test_micom_and_mga_together_equal_each_with_the_same_seed():
    """One permutation pass for both tests gives what each gives alone: same permutations, same rows."""
    data = pd.concat([draw(120, .5, .5, .2, 1).assign(g="A"), draw(120, .5, .1, .2, 2).assign(g="B"),
                      draw(120, .5, .5, .2, 3, shift=.5).assign(g="C")], ignore_index=True)
    fit = fit_pls.quiet(MODEL, data)
    invariance, differences = micom_and_mga.quiet(fit, "g", 199, seed=4, r2=True)
    alone = micom.quiet(fit, "g", 199, seed=4)
    for name in ("compositional", "equality", "construct_verdict", "verdict"):
        pd.testing.assert_frame_equal(getattr(invariance, name), getattr(alone, name), check_exact=True)
    pd.testing.assert_frame_equal(differences.estimates,
                                  permutation_mga.quiet(fit, "g", 199, seed=4, r2=True).estimates,
                                  check_exact=True)
    assert set(differences.estimates["statistic"]) == {"path", "r2"}
    assert len(invariance.verdict) == 3 and invariance.correction.startswith("Bonferroni across the 3")


# ---------------------------------------------------------------------------- errors
def test_errors_for_bad_groupings(planted):
    frame = planted.sample.frame.copy()
    frame.loc[frame.index[:12], "g"] = "tiny"
    with pytest.raises(EstimationError, match="group g = tiny: 12 respondents are too few"):
        permutation_mga.quiet(fit_pls.quiet(MODEL, frame), "g", 99)
    with pytest.raises(ModelSpecError, match="only one value"):
        micom.quiet(fit_pls.quiet(MODEL, frame.assign(g="all")), "g", 99)
    with pytest.raises(ModelSpecError, match="not in the data"):
        permutation_mga.quiet(planted, "region", 99)
    with pytest.raises(ValueError, match="n_perm must be an integer"):
        permutation_mga.quiet(planted, "g", 5)


# ---------------------------------------------------------------------------- helpers, closed form
def test_holm_by_hand():
    np.testing.assert_allclose(holm(np.array([0.01, 0.04, 0.03, np.nan])), [0.03, 0.06, 0.06, np.nan])
    np.testing.assert_allclose(holm(np.array([0.5, 0.9])), [1.0, 1.0])  # 2 × 0.5 caps both


def test_henseler_probability_matches_normal_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(0.30, 0.10, (4000, 1))
    b = rng.normal(0.10, 0.10, (4000, 1))
    # draws are symmetric, so the reflected draws have the same law: P(A* <= B*) = Phi(-(0.2) / (0.1 sqrt 2))
    expected = stats.norm.cdf(-0.2 / (0.1 * np.sqrt(2)))
    assert henseler_probability(a, b)[0] == pytest.approx(expected, abs=0.01)
