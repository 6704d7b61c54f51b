"""PLSpredict: against seminr, against explicit slow loops of fit_pls, and its weights, folds and options."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from ecsi_reference import BLOCKS, ecsi_model, satisfaction_data

from csi_research.core.errors import CSIWarning, ModelSpecError
from csi_research.data.sample import prepare
from csi_research.model import CSIModel
from csi_research.stats.pls import fit_pls
from csi_research.stats.predict import PredictResult, predict

MODEL = ecsi_model()
METRICS = ["rmse_pls", "mae_pls", "rmse_lm", "mae_lm", "q2_predict", "q2_predict_lm"]
TIGHT = {"tol": 1e-20, "max_iter": 2000}  # iterate to the fixed point: peers stop at other criteria

# ---------------------------------------------------------------------------- the peer's numbers
# seminr 0.2.1 (the Python port of R seminr, installed in a separate environment; the project does not
# depend on it), produced by tests/reference_scripts/plspredict_reference.py on the 250 ECSI answers:
# every block a Mode A composite, the 10 ECSI paths, estimate_pls(max_it=1000, stop_criterion=12),
# predict_pls(technique=predict_EA). K10_*: 10 folds, respondent ordering[i] in fold i * 10 // 250 with
# ordering = numpy.random.default_rng(2019).permutation(250) (seminr's `ordering=`), inner weighting
# path_weighting / path_factorial; LOO_PATH: leave-one-out (no_folds=None). RMSE and MAE are seminr's
# item_metrics of its out-of-sample predictions; Q² = 1 - SSE / SSE(training mean) from seminr's
# out-of-sample residuals (seminr's table has no Q²). Printed to 10 decimals.
K10_PATH = {  # item: rmse_pls, mae_pls, rmse_lm, mae_lm, q2_pls, q2_lm
    "expe1": (1.8270758289, 1.3877481134, 1.7871152580, 1.3576906499, 0.1300248075, 0.1676636726),
    "expe2": (1.9073537813, 1.3889920065, 1.8918266169, 1.3937673211, 0.2256554432, 0.2382115155),
    "expe3": (2.1042243888, 1.6218658258, 2.0740411224, 1.6136944298, 0.1393965205, 0.1639086627),
    "expe4": (1.4871011214, 1.1477923029, 1.4811696154, 1.1491493667, 0.2131447329, 0.2194091741),
    "expe5": (2.0294294682, 1.5904021304, 2.0521993820, 1.5895065624, 0.2088589944, 0.1910064193),
    "sat1": (1.6249300372, 1.2113417781, 1.5480850748, 1.1905628827, 0.3580995029, 0.4173764627),
    "sat2": (1.5996414925, 1.1775605630, 1.5322814135, 1.1458700741, 0.3437273126, 0.3978342135),
    "sat3": (1.6509206815, 1.3002911158, 1.6469094067, 1.2790218912, 0.2314096346, 0.2351400158),
    "sat4": (1.6510383357, 1.3033511058, 1.5948893812, 1.2482639314, 0.2892016192, 0.3367255805),
    "loy1": (2.1943425725, 1.6531883949, 2.2002921064, 1.6387044835, 0.2956140348, 0.2917892451),
    "loy2": (1.8811781469, 1.4423280454, 1.9344940563, 1.4670560179, 0.1619020305, 0.1137224718),
    "loy3": (2.2478280100, 1.6702333876, 2.2149777990, 1.6317245209, 0.2925360257, 0.3130629710),
    "loy4": (2.1083267404, 1.6214552010, 2.1157019509, 1.5993960665, 0.1421570014, 0.1361448036),
    "qual1": (1.8570111370, 1.4185676492, 1.8639874068, 1.3735459163, 0.1816550262, 0.1754948920),
    "qual2": (1.9855716505, 1.5141123538, 1.9557867521, 1.4842594598, 0.2606759853, 0.2826903287),
    "qual3": (2.1653065767, 1.6693533162, 2.1039158459, 1.6202780140, 0.1644313751, 0.2111397674),
    "qual4": (1.5000599191, 1.1527781977, 1.4382168059, 1.0868925438, 0.3200390707, 0.3749489872),
    "qual5": (1.8961912685, 1.4627944329, 1.8082155189, 1.4103693858, 0.2283771814, 0.2983166655),
    "val1": (1.8364545369, 1.4042973074, 1.6880986368, 1.3119158925, 0.2788142252, 0.3906280951),
    "val2": (1.6051963003, 1.1898626209, 1.5938429393, 1.1577222684, 0.2216437478, 0.2326152509),
    "val3": (1.9041434461, 1.4242677838, 1.8572358126, 1.3306469304, 0.2028767235, 0.2416664587),
    "val4": (1.8832306895, 1.4749633242, 1.7349325266, 1.3661021022, 0.2902790740, 0.3976543987),
}
K10_FACTORIAL = {  # item: rmse_pls, mae_pls, rmse_lm, mae_lm, q2_pls, q2_lm
    "expe1": (1.8270610233, 1.3877409818, 1.7871152580, 1.3576906499, 0.1300389070, 0.1676636726),
    "expe2": (1.9073826701, 1.3890113510, 1.8918266169, 1.3937673211, 0.2256319865, 0.2382115155),
    "expe3": (2.1042513326, 1.6218880530, 2.0740411224, 1.6136944298, 0.1393744809, 0.1639086627),
    "expe4": (1.4871065715, 1.1477822915, 1.4811696154, 1.1491493667, 0.2131389654, 0.2194091741),
    "expe5": (2.0294463201, 1.5904131463, 2.0521993820, 1.5895065624, 0.2088458554, 0.1910064193),
    "sat1": (1.6255399028, 1.2117612704, 1.5480850748, 1.1905628827, 0.3576175787, 0.4173764627),
    "sat2": (1.5995934923, 1.1774840046, 1.5322814135, 1.1458700741, 0.3437666973, 0.3978342135),
    "sat3": (1.6509598796, 1.3003437232, 1.6469094067, 1.2790218912, 0.2313731366, 0.2351400158),
    "sat4": (1.6522101492, 1.3044187244, 1.5948893812, 1.2482639314, 0.2881922923, 0.3367255805),
    "loy1": (2.1945835711, 1.6534768440, 2.2002921064, 1.6387044835, 0.2954593047, 0.2917892451),
    "loy2": (1.8809274237, 1.4419719519, 1.9344940563, 1.4670560179, 0.1621254188, 0.1137224718),
    "loy3": (2.2481077034, 1.6704633663, 2.2149777990, 1.6317245209, 0.2923599577, 0.3130629710),
    "loy4": (2.1081962153, 1.6210859460, 2.1157019509, 1.5993960665, 0.1422632150, 0.1361448036),
    "qual1": (1.8570018590, 1.4185674905, 1.8639874068, 1.3735459163, 0.1816632034, 0.1754948920),
    "qual2": (1.9855963617, 1.5141203649, 1.9557867521, 1.4842594598, 0.2606575828, 0.2826903287),
    "qual3": (2.1653178218, 1.6693657647, 2.1039158459, 1.6202780140, 0.1644226963, 0.2111397674),
    "qual4": (1.5000798699, 1.1527919853, 1.4382168059, 1.0868925438, 0.3200209837, 0.3749489872),
    "qual5": (1.8962306440, 1.4628198818, 1.8082155189, 1.4103693858, 0.2283451347, 0.2983166655),
    "val1": (1.8356519208, 1.4036522930, 1.6880986368, 1.3119158925, 0.2794444709, 0.3906280951),
    "val2": (1.6054484346, 1.1900376923, 1.5938429393, 1.1577222684, 0.2213992098, 0.2326152509),
    "val3": (1.9041721303, 1.4243060095, 1.8572358126, 1.3306469304, 0.2028527074, 0.2416664587),
    "val4": (1.8823189149, 1.4741491741, 1.7349325266, 1.3661021022, 0.2909661368, 0.3976543987),
}
LOO_PATH = {  # item: rmse_pls, mae_pls, rmse_lm, mae_lm, q2_pls, q2_lm
    "expe1": (1.8293614916, 1.3847111352, 1.7979630685, 1.3594014924, 0.1301510820, 0.1597543062),
    "expe2": (1.9000120781, 1.3815953885, 1.8771324837, 1.3825175874, 0.2283150238, 0.2467881012),
    "expe3": (2.1079915563, 1.6231764887, 2.0878302827, 1.6169729768, 0.1394660670, 0.1558480046),
    "expe4": (1.4884519775, 1.1497726393, 1.4976248526, 1.1607953818, 0.2144247185, 0.2047123621),
    "expe5": (2.0316242099, 1.5906558827, 2.0493937146, 1.5929069777, 0.2083886921, 0.1944805520),
    "sat1": (1.6244687207, 1.2100625340, 1.5481022591, 1.1930050006, 0.3564191027, 0.4155064447),
    "sat2": (1.5982089464, 1.1744586598, 1.5314982053, 1.1442862488, 0.3442777782, 0.3978762311),
    "sat3": (1.6467644441, 1.2984522820, 1.6289174316, 1.2719276284, 0.2347315487, 0.2512290470),
    "sat4": (1.6551692569, 1.3081096090, 1.5954518875, 1.2552987649, 0.2880768759, 0.3385215478),
    "loy1": (2.1929339623, 1.6496824769, 2.1898285119, 1.6376461937, 0.2946357511, 0.2966320927),
    "loy2": (1.8687171352, 1.4317464638, 1.9030714014, 1.4461922030, 0.1706004487, 0.1398249803),
    "loy3": (2.2477280549, 1.6705765194, 2.2175272702, 1.6386912557, 0.2912975121, 0.3102140193),
    "loy4": (2.1120649595, 1.6239400276, 2.1309792543, 1.6126422041, 0.1410708037, 0.1256178846),
    "qual1": (1.8555302240, 1.4193243010, 1.8683882459, 1.3727472219, 0.1811574687, 0.1697696996),
    "qual2": (1.9807590983, 1.5145731213, 1.9510594554, 1.4807219609, 0.2620246251, 0.2839892225),
    "qual3": (2.1662669017, 1.6717112138, 2.1152903492, 1.6291031347, 0.1636882591, 0.2025852927),
    "qual4": (1.5056478103, 1.1581002775, 1.4490908336, 1.0941836812, 0.3181092184, 0.3683750976),
    "qual5": (1.8980526746, 1.4598181169, 1.8234112348, 1.4150181792, 0.2270677690, 0.2866639892),
    "val1": (1.8315072559, 1.4035066208, 1.6739899927, 1.3021749769, 0.2805569312, 0.3989856235),
    "val2": (1.5983056997, 1.1827836904, 1.5823645085, 1.1506985071, 0.2229133240, 0.2383370456),
    "val3": (1.9061167774, 1.4245983338, 1.8503158775, 1.3324067000, 0.2009227596, 0.2470233580),
    "val4": (1.8884229778, 1.4771710167, 1.7442274871, 1.3718072110, 0.2857487558, 0.3906613785),
}


@pytest.fixture(scope="module")
def satisfaction() -> pd.DataFrame:
    return satisfaction_data()


def seminr_folds(n: int = 250, k: int = 10) -> np.ndarray:
    folds = np.empty(n, dtype=int)
    folds[np.random.default_rng(2019).permutation(n)] = np.arange(n) * k // n
    return folds


@pytest.mark.parametrize(("table", "scheme", "design"), [
    (K10_PATH, "path", "k10"), (K10_FACTORIAL, "factorial", "k10"), (LOO_PATH, "path", "loo"),
])
def test_matches_seminr(satisfaction, table, scheme, design):
    fit = fit_pls(MODEL, satisfaction, scheme=scheme, **TIGHT)
    folds = seminr_folds() if design == "k10" else np.arange(len(satisfaction))
    result = predict(fit, folds=folds)
    assert result.k == (10 if design == "k10" else 250) and result.repeats == 1 and not result.diagnostics
    got = result.items.set_index("item").loc[list(table), METRICS].to_numpy(dtype=float)
    np.testing.assert_allclose(got, np.array(list(table.values())), atol=1e-9, rtol=0)
    endogenous = [i for c in ("EXPE", "QUAL", "VAL", "SAT", "LOY") for i in BLOCKS[c]]
    assert list(result.items["item"]) == endogenous and (result.items["n_answers"] == 250).all()


# ---------------------------------------------------------------------------- explicit slow loops
def with_holes(data: pd.DataFrame, share: float = 0.04, seed: int = 7) -> pd.DataFrame:
    holes = data.copy()
    items = holes[MODEL.items]
    mask = np.random.default_rng(seed).random(items.shape) < share
    holes[MODEL.items] = items.mask(mask)
    return holes


def slow_predict(fit, folds: np.ndarray) -> dict[str, np.ndarray]:
    """One repeat by an explicit loop: fit_pls on each training set's completed answers and weights,
    predictions from the fitted tables, the LM by weighted least squares, metrics by their formulas."""
    sample, model = fit.sample, fit.model
    x, w = sample.x, sample.weights
    exo_items = [i for c in model.exogenous for i in model.constructs[c]]
    targets = [i for c in model.endogenous for i in model.constructs[c]]
    pls, lm, base = (np.full((len(x), len(targets)), np.nan) for _ in range(3))
    for f in np.unique(folds):
        train, test = folds != f, folds == f
        train_sample = prepare(model, x[train], weights=w[train], missing="listwise")
        part = fit_pls(train_sample, scheme=fit.scheme, scaled=fit.scaled, tol=fit.tol, max_iter=fit.max_iter)
        xt, wt = x[train].to_numpy(), w[train]
        mean = pd.Series(np.average(xt, weights=wt, axis=0), index=x.columns)
        sd = pd.Series(np.sqrt(np.average((xt - mean.to_numpy()) ** 2, weights=wt, axis=0)), index=x.columns)
        raw = part.raw_weights()
        scores = {c: (x.loc[test, list(items)] - mean[list(items)]) @ raw[list(items)]
                  for c, items in model.constructs.items() if c in model.exogenous}
        total = part.effects.set_index(["source", "target"])["total"]
        loading = part.loadings.set_index("item")["loading"]
        for c in model.endogenous:
            hat = sum(total.get((s, c), 0.0) * scores[s] for s in model.exogenous).to_numpy()
            for i in model.constructs[c]:
                pls[test, targets.index(i)] = mean[i] + sd[i] * loading[i] * hat
        design = np.column_stack([np.ones(train.sum()), x.loc[train, exo_items].to_numpy()])
        root = np.sqrt(wt)[:, None]
        coef = np.linalg.lstsq(design * root, x.loc[train, targets].to_numpy() * root, rcond=None)[0]
        lm[test] = np.column_stack([np.ones(test.sum()), x.loc[test, exo_items].to_numpy()]) @ coef
        base[test] = mean[targets].to_numpy()
    seen = sample.observed[targets].to_numpy()
    y = x[targets].to_numpy()
    out = {}
    for name, pred in (("pls", pls), ("lm", lm), ("mean", base)):
        e = np.where(seen, y - pred, 0.0)
        weight = w[:, None] * seen
        out[f"mse_{name}"] = (weight * e**2).sum(axis=0) / weight.sum(axis=0)
        out[f"mae_{name}"] = (weight * np.abs(e)).sum(axis=0) / weight.sum(axis=0)
        out[name] = pred
    return out


@pytest.mark.parametrize(("scheme", "scaled", "missing"), [
    ("centroid", False, "mean"), ("path", True, "listwise"), ("factorial", True, "mean"),
])
def test_batched_folds_equal_an_explicit_loop_with_weights_and_holes(satisfaction, scheme, scaled, missing):
    """Survey weights (not integers) and missing answers: the batch equals fit_pls fold by fold."""
    data = with_holes(satisfaction)
    weights = np.random.default_rng(3).uniform(0.4, 2.5, len(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        fit = fit_pls(MODEL, data, scheme=scheme, scaled=scaled, missing=missing, weights=weights, **TIGHT)
    result = predict(fit, k=5, repeats=2, seed=11)
    assert result.folds.shape == (2, fit.n)
    for r in range(2):
        slow = slow_predict(fit, result.folds[r])
        np.testing.assert_allclose(result.predictions["pls"][r], slow["pls"], atol=1e-8, rtol=0)
        np.testing.assert_allclose(result.predictions["lm"][r], slow["lm"], atol=1e-8, rtol=0)
        np.testing.assert_allclose(result.predictions["mean"][r], slow["mean"], atol=1e-10, rtol=0)
        rows = result.per_repeat[result.per_repeat["repeat"] == r]
        np.testing.assert_allclose(rows["rmse_pls"], np.sqrt(slow["mse_pls"]), atol=1e-8)
        np.testing.assert_allclose(rows["mae_pls"], slow["mae_pls"], atol=1e-8)
        np.testing.assert_allclose(rows["rmse_lm"], np.sqrt(slow["mse_lm"]), atol=1e-8)
        np.testing.assert_allclose(rows["mae_lm"], slow["mae_lm"], atol=1e-8)
        np.testing.assert_allclose(rows["q2_predict"], 1 - slow["mse_pls"] / slow["mse_mean"], atol=1e-8)
        np.testing.assert_allclose(rows["q2_predict_lm"], 1 - slow["mse_lm"] / slow["mse_mean"], atol=1e-8)
        # only observed answers are scored
        answered = fit.sample.observed[list(result.items["item"])].sum().to_numpy()
        np.testing.assert_array_equal(rows["n_answers"], answered)
    # the reported metrics are the means over repeats
    means = result.per_repeat.groupby("item", sort=False)[METRICS].mean()
    np.testing.assert_allclose(result.items.set_index("item")[METRICS], means.loc[result.items["item"]],
                               atol=1e-14)


def test_one_predictor_one_target_is_ols(satisfaction):
    """A single-item exogenous construct predicting a single-item endogenous one: PLS is OLS, = LM."""
    model = CSIModel({"X": ["imag1"], "Y": ["sat1"]}, [("X", "Y")])
    weights = np.random.default_rng(5).uniform(0.5, 2.0, len(satisfaction))
    for scaled in (True, False):
        fit = fit_pls(model, satisfaction, scaled=scaled, weights=weights)
        result = predict(fit, k=7, repeats=3, seed=2)
        np.testing.assert_allclose(result.predictions["pls"], result.predictions["lm"], atol=1e-10, rtol=0)
        row = result.items.iloc[0]
        assert row["rmse_pls"] == pytest.approx(row["rmse_lm"], abs=1e-10)
        assert row["q2_predict"] == pytest.approx(row["q2_predict_lm"], abs=1e-10)


def test_construct_scores_are_predicted_from_the_training_composites(satisfaction):
    fit = fit_pls(MODEL, satisfaction, **TIGHT)
    folds = seminr_folds(k=5)
    result = predict(fit, folds=folds)
    x = fit.sample.x
    sse, ss = np.zeros(5), np.zeros(5)
    endogenous = list(MODEL.endogenous)
    for f in range(5):
        train, test = folds != f, folds == f
        part = fit_pls(MODEL, x[train], **TIGHT)
        raw, mean = part.raw_weights(), part.item_mean
        own = {c: (x.loc[test, list(i)] - mean[list(i)]) @ raw[list(i)] for c, i in MODEL.constructs.items()}
        total = part.effects.set_index(["source", "target"])["total"]
        for e, c in enumerate(endogenous):
            hat = total[("IMAG", c)] * own["IMAG"]
            sse[e] += ((own[c] - hat) ** 2).sum()
            ss[e] += (own[c] ** 2).sum()
    table = result.constructs.set_index("construct").loc[endogenous]
    np.testing.assert_allclose(table["q2_predict"], 1 - sse / ss, atol=1e-9)
    np.testing.assert_allclose(table["rmse"], np.sqrt(sse / 250), atol=1e-9)


# ---------------------------------------------------------------------------- survey weights
@pytest.mark.parametrize("scheme", ["path", "centroid"])
def test_integer_weights_equal_replicated_rows(satisfaction, scheme):
    """Weight 1/2/3 = that many copies of the respondent, each copy held out with the original."""
    w = np.resize([1, 2, 3], len(satisfaction))
    weighted = fit_pls(MODEL, satisfaction, scheme=scheme, weights=w, **TIGHT)
    copies = np.repeat(np.arange(len(satisfaction)), w)
    replicated = fit_pls(MODEL, satisfaction.iloc[copies].reset_index(drop=True), scheme=scheme, **TIGHT)
    folds = np.random.default_rng(4).integers(0, 6, size=(2, len(satisfaction)))
    a = predict(weighted, folds=folds)
    b = predict(replicated, folds=folds[:, copies])
    np.testing.assert_allclose(a.items[METRICS], b.items[METRICS], atol=1e-9, rtol=0)
    np.testing.assert_allclose(a.constructs[["rmse", "mae", "q2_predict"]],
                               b.constructs[["rmse", "mae", "q2_predict"]], atol=1e-9, rtol=0)
    np.testing.assert_allclose(a.predictions["pls"][:, copies], b.predictions["pls"], atol=1e-9, rtol=0)
    # and the weights matter
    plain = predict(fit_pls(MODEL, satisfaction, scheme=scheme, **TIGHT), folds=folds)
    assert np.abs(plain.items["rmse_pls"] - a.items["rmse_pls"]).max() > 1e-3


# ---------------------------------------------------------------------------- every sample option
def test_em_training_moments_carry_the_conditional_covariances(satisfaction):
    """With EM the LM benchmark is the regression of the fold's EM moments (completed answers plus each
    pattern's conditional covariance), as PLS sees them; only observed answers are scored."""
    data = with_holes(satisfaction)
    fit = fit_pls(MODEL, data, missing="em", **TIGHT)
    sample = fit.sample
    assert sample.missing == "em" and sample.n == 250 and sample.extra.any()
    result = predict(fit, k=4, repeats=1, seed=8)
    assert not result.diagnostics
    x = sample.x.to_numpy()
    exo = [MODEL.items.index(i) for i in MODEL.constructs["IMAG"]]
    targets = [MODEL.items.index(i) for i in result.items["item"]]
    folds = result.folds[0]
    for f in range(4):
        train, test = folds != f, folds == f
        xt = x[train]
        mean = xt.mean(axis=0)
        cov = (xt - mean).T @ (xt - mean) / train.sum() + sample.extra[sample.pattern[train]].mean(axis=0)
        coef = np.linalg.solve(cov[np.ix_(exo, exo)], cov[np.ix_(exo, targets)])
        expected = mean[targets] + (x[test][:, exo] - mean[exo]) @ coef
        np.testing.assert_allclose(result.predictions["lm"][0][test], expected, atol=1e-9, rtol=0)
        # without the EM terms the regression differs: they are not dropped
        plain = np.linalg.solve(((xt - mean).T @ (xt - mean))[np.ix_(exo, exo)],
                                ((xt - mean).T @ (xt - mean))[np.ix_(exo, targets)])
        assert np.abs(plain - coef).max() > 1e-4
    answered = sample.observed[list(result.items["item"])].sum().to_numpy()
    np.testing.assert_array_equal(result.items["n_answers"], answered)
    assert (answered < 250).all()
    # the errors are those of the observed answers alone
    seen = sample.observed[list(result.items["item"])].to_numpy()
    e = np.where(seen, x[:, targets] - result.predictions["pls"][0], 0.0)
    np.testing.assert_allclose(result.items["rmse_pls"], np.sqrt((e**2).sum(axis=0) / seen.sum(axis=0)),
                               atol=1e-12)


@pytest.mark.parametrize("missing", ["em", "mean", "listwise"])
@pytest.mark.parametrize("scheme", ["path", "centroid", "factorial"])
def test_every_missing_treatment_and_scheme(satisfaction, missing, scheme):
    data = with_holes(satisfaction, share=0.02)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)  # listwise deletion reports the dropped respondents
        fit = fit_pls(MODEL, data, missing=missing, scheme=scheme)
    result = predict(fit, k=5, repeats=2, seed=1)
    assert isinstance(result, PredictResult) and result.scheme == scheme and not result.diagnostics
    assert np.isfinite(result.items[METRICS].to_numpy()).all()
    assert np.isfinite(result.constructs[["rmse", "mae", "q2_predict"]].to_numpy()).all()
    # the ECSI items are predictable: Q²predict positive for every indicator
    assert (result.items["q2_predict"] > 0).all()
    answered = fit.sample.observed[list(result.items["item"])].sum().to_numpy()
    np.testing.assert_array_equal(result.items["n_answers"], answered)
    if missing == "listwise":
        assert fit.n < len(data) and (result.items["n_answers"] == fit.n).all()


def test_plsc_predicts_with_the_pls_estimates(satisfaction):
    plain = fit_pls(MODEL, satisfaction)
    consistent = fit_pls(MODEL, satisfaction, consistent=True)
    a, b = predict(plain, k=5, repeats=2, seed=3), predict(consistent, k=5, repeats=2, seed=3)
    assert b.consistent and not a.consistent
    pd.testing.assert_frame_equal(a.items, b.items)
    pd.testing.assert_frame_equal(a.constructs, b.constructs)


# ---------------------------------------------------------------------------- folds and reproducibility
@pytest.fixture(scope="module")
def ecsi_fit(satisfaction):
    return fit_pls(MODEL, satisfaction)


def test_same_seed_same_numbers_other_seed_other_folds(ecsi_fit):
    a, b = predict(ecsi_fit, k=10, repeats=3, seed=42), predict(ecsi_fit, k=10, repeats=3, seed=42)
    pd.testing.assert_frame_equal(a.items, b.items, check_exact=True)
    pd.testing.assert_frame_equal(a.constructs, b.constructs, check_exact=True)
    np.testing.assert_array_equal(a.folds, b.folds)
    assert a.seed == 42 and a.k == 10 and a.repeats == 3
    # a Generator gives the same folds as its seed, and is advanced
    rng = np.random.default_rng(42)
    c = predict(ecsi_fit, k=10, repeats=3, seed=rng)
    np.testing.assert_array_equal(c.folds, a.folds)
    assert c.seed is None
    assert not np.array_equal(predict(ecsi_fit, k=10, repeats=3, seed=rng).folds, a.folds)
    other = predict(ecsi_fit, k=10, repeats=3, seed=43)
    assert not np.array_equal(other.folds, a.folds)
    assert not np.allclose(other.items["rmse_pls"], a.items["rmse_pls"])
    # folds of 25, each respondent once per repeat; repeats differ from each other
    for row in a.folds:
        np.testing.assert_array_equal(np.bincount(row), np.full(10, 25))
    assert not np.array_equal(a.folds[0], a.folds[1])
    # given folds reproduce a random run
    given = predict(ecsi_fit, folds=a.folds)
    pd.testing.assert_frame_equal(given.items, a.items, check_exact=True)
    by_series = predict(ecsi_fit, folds=pd.Series(a.folds[0], index=ecsi_fit.sample.x.index)[::-1])
    pd.testing.assert_frame_equal(by_series.items, predict(ecsi_fit, folds=a.folds[0]).items)


def test_uneven_folds_and_leave_one_out(ecsi_fit):
    result = predict(ecsi_fit, k=7, repeats=1, seed=0)
    sizes = np.bincount(result.folds[0])
    assert sizes.sum() == 250 and sizes.max() - sizes.min() <= 1
    loo = predict(ecsi_fit, k=250, repeats=2, seed=0)  # leave-one-out: the repeats are identical
    np.testing.assert_allclose(loo.per_repeat.query("repeat == 0")[METRICS],
                               loo.per_repeat.query("repeat == 1")[METRICS], atol=1e-12)


# ---------------------------------------------------------------------------- errors and diagnostics
def test_bad_settings_are_refused(ecsi_fit, satisfaction):
    for k, message in ((1, "k .* = 1 is not allowed"), (251, "between 2 and 250"), (0, "k"),
                       (2.5, "whole number"), (True, "whole number")):
        with pytest.raises(ModelSpecError, match=message):
            predict(ecsi_fit, k=k)
    with pytest.raises(ModelSpecError, match="repeats = 0"):
        predict(ecsi_fit, repeats=0)
    with pytest.raises(ModelSpecError, match="one fold per respondent"):
        predict(ecsi_fit, folds=np.zeros(10))
    with pytest.raises(ModelSpecError, match="at least 2"):
        predict(ecsi_fit, folds=np.zeros(250))
    with pytest.raises(ModelSpecError, match="same number"):
        predict(ecsi_fit, folds=np.vstack([np.arange(250) % 2, np.arange(250) % 3]))
    lone = fit_pls(CSIModel({"QUAL": BLOCKS["QUAL"]}, []), satisfaction)
    with pytest.raises(ModelSpecError, match="no paths"):
        predict(lone)


def test_problems_are_reported_not_hidden(ecsi_fit, satisfaction):
    # training fits that cannot converge: left out, and said
    stubborn = dataclasses.replace(ecsi_fit, max_iter=2)
    with pytest.warns(CSIWarning, match="10 of 10 training fits did not converge"):
        result = predict(stubborn, k=10, repeats=1)
    assert result.items[METRICS].isna().all().all() and (result.items["n_answers"] == 0).all()
    assert len(result.diagnostics) == 1
    # an indicator without a scored answer (observed nowhere among the held-out respondents)
    observed = ecsi_fit.sample.observed.assign(sat1=False)
    blind = dataclasses.replace(ecsi_fit, sample=dataclasses.replace(ecsi_fit.sample, observed=observed))
    result = predict.quiet(blind, k=5, repeats=1)
    assert result.diagnostics == ["PLSpredict: item(s) sat1 have no observed answer of a held-out respondent "
                                  "with a positive weight in a usable fold, so their prediction errors are "
                                  "undefined"]
    assert result.items.set_index("item").loc["sat1", METRICS].isna().all()
    assert np.isfinite(result.items.set_index("item").drop("sat1")[METRICS].to_numpy()).all()
    # folds so large that the training sets are too small for the model
    small = fit_pls(MODEL, satisfaction.iloc[:60])
    result = predict.quiet(small, k=2, repeats=1)
    assert any("as few as 30 respondents, fewer than the 40" in d for d in result.diagnostics)
    # collinear exogenous items in a training set: the LM is refused there
    folds = np.arange(250) % 5
    data = satisfaction.copy()
    data.loc[folds != 0, "imag2"] = data.loc[folds != 0, "imag1"]  # a copy except in fold 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        collinear = predict(fit_pls(MODEL, data), folds=folds)
    assert any("the LM benchmark cannot be fitted" in d for d in collinear.diagnostics)


def test_summary_is_the_indicator_table(ecsi_fit):
    result = predict(ecsi_fit, k=5, repeats=2, seed=0)
    table = result.summary()
    assert list(table.columns[:8]) == ["construct", "item", *METRICS]
    assert table["pls_beats_lm"].dtype == bool and len(table) == 22
    assert set(result.constructs["construct"]) == set(MODEL.endogenous)


# ---------------------------------------------------------------------------- the reading
@pytest.mark.parametrize(("q2", "pls", "lm", "level"), [
    ([0.3, 0.2, 0.1], [1.0, 1.0, 1.0], [1.1, 1.2, 1.3], "high"),
    ([0.3, 0.2, 0.1], [1.0, 1.0, 1.4], [1.1, 1.2, 1.3], "medium"),
    ([0.3, 0.2, 0.1], [1.0, 1.3, 1.4], [1.1, 1.2, 1.3], "low"),
    ([0.3, 0.2, 0.1], [1.2, 1.3, 1.4], [1.1, 1.2, 1.3], "none"),
    ([0.3, -0.01, 0.1], [1.0, 1.0, 1.0], [1.1, 1.2, 1.3], "no relevance"),
    ([0.3, 0.2], [1.0, 1.3], [1.1, 1.2], "low"),  # half is not most
])
def test_predictive_power_follows_shmueli_et_al(ecsi_fit, q2, pls, lm, level):
    from csi_research.stats.predict import predictive_power

    items = pd.DataFrame({"construct": "SAT", "item": [f"s{i}" for i in range(len(q2))], "q2_predict": q2,
                          "rmse_pls": pls, "rmse_lm": lm})
    result = dataclasses.replace(predict(ecsi_fit, k=5, repeats=1), items=items)
    power = predictive_power(result, "SAT")
    assert power.level == level and power.n_items == len(q2) and power.q2_min == min(q2)
    with pytest.raises(ValueError, match="'IMAG' is not an endogenous construct"):
        predictive_power(result, "IMAG")
