"""CVPAT: against scipy's paired t-tests on losses from explicit slow k-fold loops, and its size and power."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ecsi_reference import BLOCKS, PATHS, ecsi_model, satisfaction_data
from scipy import stats
from test_predict import TIGHT, seminr_folds, slow_predict, with_holes

from csi_research.core.errors import CSIWarning, ModelSpecError
from csi_research.model import CSIModel
from csi_research.stats.cvpat import cvpat
from csi_research.stats.pls import fit_pls

MODEL = ecsi_model()
SMALLER = CSIModel(BLOCKS, [p for p in PATHS if p not in {("QUAL", "SAT"), ("VAL", "SAT")}])


@pytest.fixture(scope="module")
def satisfaction():
    return satisfaction_data()


def hand_losses(fit, folds: np.ndarray, items: list[str]) -> dict[str, np.ndarray]:
    """Each respondent's mean squared error over its observed answers, from the explicit loop."""
    slow = slow_predict(fit, folds)
    targets = [i for c in fit.model.endogenous for i in fit.model.constructs[c]]
    columns = [targets.index(i) for i in items]
    y = fit.sample.x[items].to_numpy()
    seen = fit.sample.observed[items].to_numpy()
    out = {}
    for name in ("pls", "lm", "mean"):
        e2 = np.where(seen, (y - slow[name][:, columns]) ** 2, 0.0)
        out[name] = e2.sum(axis=1) / seen.sum(axis=1)
    return out


def test_against_the_benchmarks_is_scipys_paired_t_test(satisfaction):
    fit = fit_pls(MODEL, satisfaction, **TIGHT)
    folds = seminr_folds()
    result = cvpat(fit, folds=folds)
    items = [i for c in MODEL.endogenous for i in MODEL.constructs[c]]
    assert list(result.items) == items and result.k == 10 and result.repeats == 1
    hand = hand_losses(fit, folds, items)
    table = result.table.set_index("benchmark")
    for benchmark, key in (("IA", "mean"), ("LM", "lm")):
        t, p = stats.ttest_rel(hand[key], hand["pls"], alternative="greater")
        row = table.loc[benchmark]
        assert row["model"] == "PLS" and row["n"] == 250 and row["df"] == 249
        np.testing.assert_allclose([row["t"], row["p_value"]], [t, p], rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(row["loss_difference"], np.mean(hand[key] - hand["pls"]), rtol=1e-9)
        np.testing.assert_allclose([row["loss_model"], row["loss_benchmark"]],
                                   [hand["pls"].mean(), hand[key].mean()], rtol=1e-9)
    np.testing.assert_allclose(result.losses["PLS"], hand["pls"], rtol=1e-9)
    # the ECSI model predicts far better than the item means: a clear, significant finding
    assert table.loc["IA", "loss_difference"] > 0 and table.loc["IA", "p_value"] < 1e-6
    two = cvpat(fit, folds=folds, alternative="two-sided").table.set_index("benchmark")
    for benchmark in ("IA", "LM"):
        t = table.loc[benchmark, "t"]
        np.testing.assert_allclose(two.loc[benchmark, "p_value"], 2 * stats.t.sf(abs(t), 249), rtol=1e-10)


def test_two_models_are_compared_on_the_same_folds(satisfaction):
    a, b = fit_pls(MODEL, satisfaction, **TIGHT), fit_pls(SMALLER, satisfaction, **TIGHT)
    folds = seminr_folds()
    result = cvpat(a, b, folds=folds, alternative="two-sided")
    items = [i for c in MODEL.endogenous for i in MODEL.constructs[c]]
    assert list(result.items) == items
    la, lb = hand_losses(a, folds, items)["pls"], hand_losses(b, folds, items)["pls"]
    t, p = stats.ttest_rel(lb, la)
    row = result.table.iloc[0]
    assert (row["model"], row["benchmark"], row["alternative"]) == ("model", "other", "two-sided")
    np.testing.assert_allclose([row["t"], row["p_value"]], [t, p], rtol=1e-8, atol=1e-12)


def test_weights_holes_and_repeats(satisfaction):
    """Survey weights weight each respondent's loss; a loss averages its observed answers, then repeats."""
    data = with_holes(satisfaction)
    weights = np.random.default_rng(5).uniform(0.3, 3.0, len(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        fit = fit_pls(MODEL, data, missing="mean", weights=weights, **TIGHT)
    result = cvpat(fit, k=5, repeats=2, seed=3)
    items = list(result.items)
    from csi_research.stats.predict import predict

    labels = predict(fit, k=5, repeats=2, seed=3).folds
    per_repeat = [hand_losses(fit, labels[r], items) for r in range(2)]
    loss = {key: (per_repeat[0][key] + per_repeat[1][key]) / 2 for key in ("pls", "mean")}
    d = loss["mean"] - loss["pls"]
    w = fit.sample.weights
    mean = np.sum(w * d) / np.sum(w)
    n = len(d)
    se = np.sqrt(n / (n - 1) * np.sum(w**2 * (d - mean) ** 2)) / np.sum(w)
    row = result.table.set_index("benchmark").loc["IA"]
    got = [row["loss_difference"], row["se"], row["t"]]
    np.testing.assert_allclose(got, [mean, se, mean / se], rtol=1e-8)
    np.testing.assert_allclose(row["p_value"], stats.t.sf(mean / se, n - 1), rtol=1e-7)
    # equal weights: the linearised standard error is the ordinary s / sqrt(n)
    assert result.seed == 3 and result.repeats == 2


def test_size_and_power_against_the_item_average(satisfaction):
    """Planted truth. Breaking the link between the exogenous and the endogenous items (rows of the
    endogenous blocks permuted together) leaves nothing to predict: the one-sided 5 % test may then
    reject in about 5 % of the samples at most (the PLS losses are even a little higher than the
    IA's, estimation noise). The real answers carry a strong structure: it rejects every time.
    Rates over 40 samples each: with a true rate of 5 %, 6 or more rejections have probability 0.14,
    so the bound 8 (20 %) fails a correct test with probability < 0.01."""
    rng = np.random.default_rng(2021)
    endogenous = [i for c in MODEL.endogenous for i in MODEL.constructs[c]]
    null_rejections = power_rejections = 0
    for _ in range(40):
        broken = satisfaction.copy()
        broken[endogenous] = satisfaction[endogenous].to_numpy()[rng.permutation(len(satisfaction))]
        resampled = satisfaction.iloc[rng.integers(0, len(satisfaction), 150)].reset_index(drop=True)
        seed = int(rng.integers(1 << 30))
        null = cvpat(fit_pls(MODEL, broken), k=10, repeats=1, seed=seed).table.set_index("benchmark")
        real = cvpat(fit_pls(MODEL, resampled), k=10, repeats=1, seed=seed).table.set_index("benchmark")
        null_rejections += bool(null.loc["IA", "p_value"] < 0.05)
        power_rejections += bool(real.loc["IA", "p_value"] < 0.05)
    assert null_rejections <= 8
    assert power_rejections == 40


def test_bad_requests_are_refused(satisfaction):
    fit = fit_pls(MODEL, satisfaction)
    with pytest.raises(ValueError, match="alternative must be one of greater, two-sided"):
        cvpat(fit, alternative="less")
    other = fit_pls(MODEL, satisfaction.iloc[:200])
    with pytest.raises(ModelSpecError, match="same respondents"):
        cvpat(fit, other)
    shifted = satisfaction.copy()
    shifted["sat1"] = shifted["sat1"].iloc[::-1].to_numpy()
    with pytest.raises(ModelSpecError, match="answers to their common items differ"):
        cvpat(fit, fit_pls(MODEL, shifted))
    single = CSIModel({"IMAG": BLOCKS["IMAG"], "EXPE": BLOCKS["EXPE"]}, [("IMAG", "EXPE")])
    lonely = CSIModel({"QUAL": BLOCKS["QUAL"], "VAL": BLOCKS["VAL"]}, [("QUAL", "VAL")])
    with pytest.raises(ModelSpecError, match="none in common"):
        cvpat(fit_pls(single, satisfaction), fit_pls(lonely, satisfaction))
