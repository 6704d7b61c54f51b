"""ACSI indices, grade-score roll-up, segments and post-stratification against hand-computed values."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from ecsi_reference import PATHS, reference_csv, satisfaction_data

from csi_research import Codebook, CSIModel, CSIWarning, ModelSpecError, SurveyDataError
from csi_research.data.sample import Sample, poststratify, prepare
from csi_research.data.survey import Survey
from csi_research.stats.indices import (
    acsi_index_from_arrays,
    csi_indices,
    grade_score_index,
    overall_csi,
    segment_indices,
)


@dataclass(frozen=True)
class FixedFit:
    """A fit with known raw weights on a prepared sample, so the index arithmetic can be checked by hand."""

    sample: Sample
    weights_by_item: dict

    @property
    def model(self) -> CSIModel:
        return self.sample.model

    def raw_weights(self) -> pd.Series:
        return pd.Series(self.weights_by_item, name="raw_weight", dtype=float)


def fixed_fit(model: CSIModel, data, weights_by_item: dict, **settings) -> FixedFit:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        return FixedFit(prepare(model, data, **settings), weights_by_item)


def ecsi_with_plspm_outer() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list[str]]]:
    """The ECSI answers, R plspm's outer model on them and the blocks it lists, so weights match items."""
    data = satisfaction_data()
    outer = reference_csv("plspm_outer-model.csv")
    return data, outer, {b: list(g["name"]) for b, g in outer.groupby("block", sort=False)}


TWO = CSIModel({"A": ["a1", "a2"], "B": ["b1"]}, [("A", "B")])


def test_two_item_block_by_hand():
    # weights 1 and 3 -> 0.25/0.75; means 4 and 8 on 1..10: (0.25*4 + 0.75*8 - 1) / 9 * 100 = 66.67
    frame = pd.DataFrame({"a1": [3, 5, 4, 4], "a2": [7, 9, 8, 8], "b1": [1, 10, 1, 10]})
    fit = fixed_fit(TWO, frame, {"a1": 1.0, "a2": 3.0, "b1": 0.5}, scale_min=1, scale_max=10)
    idx = csi_indices(fit)
    assert idx.name == "index"
    assert idx["A"] == pytest.approx((0.25 * 4 + 0.75 * 8 - 1) / 9 * 100)
    assert idx["B"] == pytest.approx(50.0)
    assert idx.attrs["n"] == 4
    assert overall_csi(idx, "B") == pytest.approx(50.0)
    assert idx.attrs["target"] is None  # neither a Satisfaction construct nor a named target
    with pytest.raises(ModelSpecError, match="target construct None"):
        overall_csi(idx)
    targeted = fixed_fit(CSIModel(TWO.constructs, TWO.paths, target="B"), frame,
                         {"a1": 1.0, "a2": 3.0, "b1": 0.5}, scale_min=1, scale_max=10)
    idx = csi_indices(targeted)
    assert idx.attrs["target"] == "B" and overall_csi(idx) == pytest.approx(50.0)


def test_array_core_batches_and_per_item_scales():
    blocks = [np.array([0, 1]), np.array([2])]
    w = np.array([[1.0, 3.0, 2.0], [1.0, 1.0, 1.0]])
    m = np.array([[4.0, 8.0, 3.0], [1.0, 10.0, 5.0]])
    out = acsi_index_from_arrays(w, m, blocks, 1, np.array([10, 10, 5]))
    assert out.shape == (2, 2)
    assert out[0] == pytest.approx([(0.25 * 4 + 0.75 * 8 - 1) / 9 * 100, 50.0])
    assert out[1] == pytest.approx([50.0, 100.0])
    # a 1..5 item and a 1..10 item: raw weight w on x equals weight w*(max-min) on the 0-100 item
    single = acsi_index_from_arrays([1.0, 1.0], [3.0, 5.5], [np.array([0, 1])], [1, 1], [5, 10])
    r1, r2 = 50.0, 50.0
    assert single[0] == pytest.approx((4 * r1 + 9 * r2) / 13)
    mixed = acsi_index_from_arrays([1.0, 1.0], [5.0, 1.0], [np.array([0, 1])], [1, 1], [5, 10])
    assert mixed[0] == pytest.approx(4 * 100 / 13)


def test_negative_weight_and_out_of_scale_answers():
    frame = pd.DataFrame({"a1": [3, 5, 4, 4], "a2": [7, 9, 8, 8], "b1": [1, 10, 1, 10]})
    fit = fixed_fit(TWO, frame, {"a1": -0.2, "a2": 1.0, "b1": 1.0}, scale_min=1, scale_max=10)
    with pytest.warns(CSIWarning, match="construct A: negative outer weight"):
        idx = csi_indices(fit)
    assert any("a1" in d for d in idx.attrs["diagnostics"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", CSIWarning)
        quiet = csi_indices.quiet(fit)  # the same diagnostics, carried but not warned
    assert quiet.attrs["diagnostics"] == idx.attrs["diagnostics"]
    # no scale known: the index cannot be computed (the scale is the sample's, set when preparing it)
    with pytest.raises(ModelSpecError, match="scale_min/scale_max"):
        csi_indices(fixed_fit(TWO, frame, {"a1": 1, "a2": 1, "b1": 1}))
    frame.loc[2, "b1"] = 99
    with pytest.raises(SurveyDataError, match="column b1 row 2: value 99"):
        prepare(TWO, frame, scale_min=1, scale_max=10)


def test_survey_weights_enter_item_means():
    frame = pd.DataFrame({"a1": [1, 1, 1, 10], "a2": [1, 1, 1, 10], "b1": [1, 2, 3, 10], "w": [1.0] * 4})
    raw = {"a1": 1, "a2": 1, "b1": 1}
    idx = csi_indices(fixed_fit(TWO, frame, raw, scale_min=1, scale_max=10, weights="w"))
    assert idx["A"] == pytest.approx(25.0)  # equal weights: three at 0, one at 100
    frame["w"] = [1.0, 1.0, 1.0, 9.0]
    heavy = csi_indices(fixed_fit(TWO, frame, raw, scale_min=1, scale_max=10, weights="w"))
    assert heavy["A"] == pytest.approx(75.0)  # (3*0 + 9*100) / 12


def test_plspm_weights_on_ecsi_survey():
    """Index from R plspm's raw-scale outer weights equals the hand-normalised weighted means."""
    data, outer, blocks = ecsi_with_plspm_outer()
    model = CSIModel(blocks, [("IMAG", "EXPE"), ("EXPE", "QUAL"), ("QUAL", "VAL"), ("VAL", "SAT"),
                              ("SAT", "LOY"), ("IMAG", "SAT")])
    # the README says 1-10, but 25 of the 27 items have answers 0: the scale is 0-10
    raw = dict(zip(outer["name"], outer["weight"], strict=True))
    fit = fixed_fit(model, data, raw, scale_min=0, scale_max=10)
    idx = csi_indices(fit)
    for block, g in outer.groupby("block"):
        w = g["weight"].to_numpy() / g["weight"].sum()
        expected = (w @ data[list(g["name"])].mean().to_numpy()) / 10 * 100
        assert idx[block] == pytest.approx(expected, abs=1e-10)
    assert 60 < idx["SAT"] < 85  # the ECSI sample is satisfied on average (item means 6.9-7.8 of 10)


# ---------------------------------------------------------------- grade scores
def small_codebook() -> Codebook:
    """Two constructs, three sub-indicators, on the power industry's semantic 5-level scale."""
    scale = Codebook.default().scales["semantic5"]
    return Codebook.from_dict({
        "scales": {"semantic5": {
            "codes": list(scale.codes), "labels_zh": list(scale.labels_zh),
            "labels_en": list(scale.labels_en), "grade_scores": list(scale.grade_scores),
        }},
        "constructs": {"Quality": {"label_zh": "感知质量", "label_en": "Perceived quality"},
                       "Satisfaction": {"label_zh": "客户满意度", "label_en": "Satisfaction"}},
        "subindicators": {
            "Fault repair": {"construct": "Quality", "label_zh": "抢修", "label_en": "Fault repair"},
            "Billing": {"construct": "Quality", "label_zh": "收费", "label_en": "Billing"},
            "Overall": {"construct": "Satisfaction", "label_zh": "总体", "label_en": "Overall"},
        },
        "items": [
            {"id": "Q1", "construct": "Quality", "subindicator": "Fault repair", "scale": "semantic5"},
            {"id": "Q2", "construct": "Quality", "subindicator": "Fault repair", "scale": "semantic5"},
            {"id": "Q3", "construct": "Quality", "subindicator": "Billing", "scale": "semantic5"},
            {"id": "S1", "construct": "Satisfaction", "subindicator": "Overall", "scale": "semantic5"},
        ],
    })


def test_default_scale_is_the_uneven_industry_scale():
    assert list(Codebook.default().scales["semantic5"].grade_scores) == [0, 40, 60, 80, 100]


def test_grade_scores_are_the_uneven_ones():
    frame = pd.DataFrame({"Q1": [1, 2, 3, 4, 5], "Q2": [2, 2, 2, 2, 2], "Q3": [5, 5, 5, 5, 1], "S1": [3] * 5})
    out = grade_score_index(frame, small_codebook()).set_index(["level", "node"])
    assert out.loc[("item", "Q1"), "score"] == pytest.approx((0 + 40 + 60 + 80 + 100) / 5)
    assert out.loc[("item", "Q2"), "score"] == pytest.approx(40.0)  # not 25 as a linear 1-5 map would say
    assert out.loc[("item", "Q3"), "score"] == pytest.approx(80.0)
    assert out.loc[("subindicator", "Fault repair"), "score"] == pytest.approx((56 + 40) / 2)
    assert out.loc[("construct", "Quality"), "score"] == pytest.approx((48 + 80) / 2)
    assert out.loc[("construct", "Satisfaction"), "score"] == pytest.approx(60.0)
    assert out.loc[("overall", "overall"), "score"] == pytest.approx((64 + 60) / 2)
    assert list(out.columns) == ["parent", "score", "weight", "n"]
    assert out.loc[("item", "Q1"), "weight"] == pytest.approx(0.5)


def test_grade_roll_up_with_given_weights_and_missing_answers():
    frame = pd.DataFrame({"Q1": [5, np.nan], "Q2": [1, 1], "Q3": [4, 4], "S1": [5, 5]})
    weights = {"item": {"Q1": 3, "Q2": 1, "Q3": 1, "S1": 1},
               "subindicator": {"Fault repair": 1, "Billing": 3, "Overall": 1},
               "construct": {"Quality": 0.4, "Satisfaction": 0.6}}
    out = grade_score_index(frame, small_codebook(), weights=weights).set_index(["level", "node"])
    assert out.loc[("item", "Q1"), "n"] == 1
    fault = 0.75 * 100 + 0.25 * 0
    quality = 0.25 * fault + 0.75 * 80
    assert out.loc[("subindicator", "Fault repair"), "score"] == pytest.approx(fault)
    assert out.loc[("construct", "Quality"), "score"] == pytest.approx(quality)
    assert out.loc[("overall", "overall"), "score"] == pytest.approx(0.4 * quality + 0.6 * 100)
    assert out.loc[("subindicator", "Fault repair"), "n"] == 2
    with pytest.raises(ModelSpecError, match="construct weights lack Satisfaction"):
        grade_score_index(frame, small_codebook(), weights={"construct": {"Quality": 1}})
    bad = frame.assign(Q3=[4, 9])
    with pytest.raises(SurveyDataError, match="column Q3 row 1: answer 9"):
        grade_score_index(bad, small_codebook())


# ---------------------------------------------------------------- segments and weights
def test_poststratify_reproduces_population_mix():
    frame = pd.DataFrame({"area": ["urban"] * 8 + ["rural"] * 2, "y": [80.0] * 8 + [40.0] * 2})
    w = poststratify(frame, "area", {"urban": 0.5, "rural": 0.5})
    assert w.mean() == pytest.approx(1.0)
    assert np.average(frame["y"], weights=w) == pytest.approx(60.0)
    with pytest.raises(SurveyDataError, match="'rural'"):
        poststratify(frame, "area", {"urban": 1.0})
    with pytest.warns(CSIWarning, match="'town'"):
        poststratify(frame, "area", {"urban": 1, "rural": 1, "town": 1})


def test_segments_with_full_sample_weights():
    rng = np.random.default_rng(1)
    n = 80
    area = np.where(np.arange(n) < 60, "urban", "rural")
    base = np.where(area == "urban", 8.0, 5.0)
    frame = pd.DataFrame({c: np.clip(np.round(base + rng.normal(0, 1, n)), 1, 10) for c in ("a1", "a2", "b")})
    frame = frame.rename(columns={"b": "b1"})
    frame["area"] = area
    fit = fixed_fit(TWO, frame, {"a1": 1.0, "a2": 1.0, "b1": 1.0}, scale_min=1, scale_max=10)
    with pytest.warns(CSIWarning, match="area=rural: only 20"):
        out = segment_indices(fit, "area")
    rural = out[(out["area"] == "rural") & (out["construct"] == "A")].iloc[0]
    sub = frame[frame["area"] == "rural"]
    assert rural["index"] == pytest.approx(((sub["a1"].mean() + sub["a2"].mean()) / 2 - 1) / 9 * 100)
    assert rural["n"] == 20 and rural["small"]
    assert not out[out["area"] == "urban"]["small"].any()
    with pytest.raises(SurveyDataError, match="segment column"):
        segment_indices(fit, "region")


def test_simulated_truth_is_recovered():
    """Items = true score on 1..10 + noise: the index recovers the true 0-100 index within 4 SE."""
    rng = np.random.default_rng(7)
    n = 2000
    true = {"A": 72.0, "B": 55.0}
    latent = {c: 1 + 9 * t / 100 + rng.normal(0, 0.8, n) for c, t in true.items()}
    frame = pd.DataFrame({
        "a1": latent["A"] + rng.normal(0, 0.7, n), "a2": latent["A"] + rng.normal(0, 0.7, n),
        "b1": latent["B"] + rng.normal(0, 0.7, n),
    })
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sample = prepare(TWO, frame.clip(1, 10), scale_min=1, scale_max=10)
        fit = FixedFit(sample, {"a1": 0.6, "a2": 0.4, "b1": 1.0})
        idx = csi_indices(fit)
    se = 100 / 9 * np.sqrt(0.8**2 + 0.7**2) / np.sqrt(n)  # SE of a block mean in index points, ~0.26
    for c, t in true.items():
        assert abs(idx[c] - t) < 4 * se + 0.5  # +0.5: the few answers clipped at 1/10


def test_poststratify_on_categorical_columns_reproduces_population_shares():
    """Survey attributes are Categoricals (load_survey makes them so); weights must still be numbers."""
    n = 12
    frame = pd.DataFrame({
        "area": pd.Categorical(["urban"] * 9 + ["rural"] * 3, categories=["urban", "rural"]),
        "customer_class": pd.Categorical(np.resize(["residential", "commercial"], n),
                                         categories=["residential", "commercial", "industrial"]),
        "y": np.arange(n, dtype=float),
    })
    shares = {"urban": 0.4, "rural": 0.6}
    w = poststratify(frame, "area", shares)
    assert w.dtype == float and w.index.equals(frame.index)
    assert w.mean() == pytest.approx(1.0)
    for cell, share in shares.items():
        assert w[frame["area"] == cell].sum() / n == pytest.approx(share)
    assert w[frame["area"] == "urban"].iloc[0] == pytest.approx(0.4 / (9 / 12))
    # several categorical columns: cells are tuples
    cells = {("urban", "residential"): 1, ("urban", "commercial"): 1, ("rural", "residential"): 1,
             ("rural", "commercial"): 1}
    w2 = poststratify(frame, ["area", "customer_class"], cells)
    for (area, cls), _ in cells.items():
        members = (frame["area"] == area) & (frame["customer_class"] == cls)
        assert w2[members].sum() / n == pytest.approx(0.25)
    # an unused category with a zero share is no cell at all; with a positive share it is reported
    with warnings.catch_warnings():
        warnings.simplefilter("error", CSIWarning)
        poststratify(frame, "customer_class", {"residential": 1, "commercial": 1, "industrial": 0})
    with pytest.warns(CSIWarning, match="'industrial'"):
        poststratify(frame, "customer_class", {"residential": 1, "commercial": 1, "industrial": 1})


@pytest.fixture(scope="module")
def holes() -> Survey:
    """A simulated survey with missing answers (about 58 % of respondents skip at least one item)."""
    from csi_research.data.simulate import RegionProfile, simulate_survey

    profile = RegionProfile("holes", "缺失", "holes", mcar_rate=0.02, mar_rural_rate=0.02,
                            straight_liner_share=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        return simulate_survey(profile, n=600, seed=3).survey()


def test_poststratified_sample_reproduces_population_shares(holes):
    model = holes.model()
    shares = {"urban": 0.3, "rural": 0.7}
    sample = prepare(model, holes, weights={"by": "area", "population_shares": shares})
    area = holes.frame.loc[sample.frame.index, "area"]
    assert isinstance(area.dtype, pd.CategoricalDtype)
    assert sample.weighted and sample.weights.mean() == pytest.approx(1.0)
    for cell, share in shares.items():
        assert sample.weights[(area == cell).to_numpy()].sum() / sample.n == pytest.approx(share)


def test_weighted_index_is_the_weighted_item_mean():
    from csi_research.stats.pls import fit_pls

    data, _, blocks = ecsi_with_plspm_outer()
    model = CSIModel(blocks, PATHS)
    w = np.random.default_rng(2).uniform(0.2, 3.0, len(data))
    fit = fit_pls(prepare(model, data, weights=w, scale_min=0, scale_max=10))
    idx = csi_indices(fit)
    assert idx.attrs["n"] == len(data)
    raw = fit.raw_weights()
    for name, items in blocks.items():
        share = raw[items].to_numpy() / raw[items].sum()
        means = (data[items].to_numpy() * w[:, None]).sum(axis=0) / w.sum()
        assert idx[name] == pytest.approx(share @ means / 10 * 100, abs=1e-10), name
    # survey weights move the index: the unweighted item means give other values
    plain = (data[blocks["SAT"]].mean().to_numpy() @ (raw[blocks["SAT"]] / raw[blocks["SAT"]].sum())) * 10
    assert abs(idx["SAT"] - plain) > 1e-3


def test_listwise_index_stands_on_the_complete_respondents(holes):
    from csi_research.stats.pls import fit_pls

    model = holes.model()
    with pytest.warns(CSIWarning, match="listwise deletion"):
        fit = fit_pls(prepare(model, holes, missing="listwise"))
    complete = holes.frame[model.items].dropna()
    idx = csi_indices(fit)
    assert idx.attrs["n"] == fit.n == len(complete) < len(holes.frame)
    raw = fit.raw_weights()
    for name, items in model.constructs.items():
        share = raw[list(items)] / raw[list(items)].sum()
        expected = float(share @ ((complete[list(items)].mean() - 1) / 4 * 100))
        assert idx[name] == pytest.approx(expected, abs=1e-9), name


@pytest.mark.parametrize("missing", ["em", "mean", "listwise"])
def test_segment_sizes_add_up_to_the_sample(holes, missing):
    from csi_research.stats.pls import fit_pls

    model = holes.model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        fit = fit_pls(prepare(model, holes, missing=missing))
        out = segment_indices(fit, ["area", "customer_class"], min_n=30)
    sizes = out.groupby(["area", "customer_class"])["n"].first()
    assert sizes.sum() == fit.n
    assert fit.n == (len(holes.frame) if missing != "listwise" else len(holes.frame[model.items].dropna()))
    assert set(out["construct"]) == set(model.names)
    assert (out["small"] == (out["n"] < 30)).all()


def test_weighted_segments_use_the_weights(holes):
    from csi_research.stats.pls import fit_pls

    model = holes.model()
    w = np.random.default_rng(8).uniform(0.5, 2.0, len(holes.frame))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        fit = fit_pls(prepare(model, holes, missing="listwise", weights=w))
        out = segment_indices(fit, "area")
    kept = fit.sample.frame.index
    x, wk = holes.frame.loc[kept, model.items], pd.Series(w, index=holes.frame.index).loc[kept]
    raw = fit.raw_weights()
    for area in ("urban", "rural"):
        rows = (holes.frame.loc[kept, "area"] == area).to_numpy()
        means = (x[rows].to_numpy() * wk[rows].to_numpy()[:, None]).sum(axis=0) / wk[rows].sum()
        means = pd.Series(means, index=model.items)
        for name, items in model.constructs.items():
            share = raw[list(items)] / raw[list(items)].sum()
            expected = float(share @ ((means[list(items)] - 1) / 4 * 100))
            got = out[(out["area"] == area) & (out["construct"] == name)]["index"].item()
            assert got == pytest.approx(expected, abs=1e-9), (area, name)


# ---------------------------------------------------------------- with the real estimator and simulator
def test_real_pls_matches_plspm_weights_on_ecsi_survey():
    from csi_research.stats.pls import fit_pls

    data, outer, blocks = ecsi_with_plspm_outer()
    sample = prepare(CSIModel(blocks, PATHS), data, scale_min=0, scale_max=10)
    fit = fit_pls(sample, scheme="centroid", scaled=False)
    idx = csi_indices(fit)
    for block, g in outer.groupby("block"):
        w = g["weight"].to_numpy() / g["weight"].sum()
        assert idx[block] == pytest.approx(w @ data[list(g["name"])].mean().to_numpy() * 10, abs=1e-6)


@pytest.fixture(scope="module")
def simulated():
    from csi_research.data.simulate import RegionProfile, simulate_survey
    from csi_research.stats.pls import fit_pls

    clean = RegionProfile("clean", "无污染", "clean", mcar_rate=0.0, mar_rural_rate=0.0,
                          straight_liner_share=0.0)
    sim = simulate_survey(clean, n=3000, seed=42)
    survey = sim.survey()
    model = sim.codebook.model()
    return sim, survey, model, fit_pls(model, survey)


def test_grade_scores_recover_population_truth(simulated):
    sim, survey, _, _ = simulated
    out = grade_score_index(survey, levels=("item",)).set_index("node")
    truth = sim.truth.item_means.set_index("item")["grade_score"]
    scale = sim.codebook.scales["semantic5"]
    graded = survey.frame[truth.index].apply(lambda c: pd.Series(scale.grade_score(c), index=c.index))
    se = graded.std() / np.sqrt(graded.count())  # ~0.5 points at n = 3000
    assert (out.loc[truth.index, "score"] - truth).abs().lt(4.5 * se).all()


def test_acsi_index_recovers_population_truth(simulated):
    sim, survey, model, fit = simulated
    idx = csi_indices(fit)  # the scale comes from the Survey's codebook
    truth = sim.truth.item_means.set_index("item")["index_0_100"]
    raw = fit.raw_weights()
    x = survey.frame[model.items]
    for name, items in model.constructs.items():
        w = raw[list(items)] / raw[list(items)].sum()
        expected = float(w @ truth[list(items)])
        composite = ((x[list(items)] - 1) / 4 * 100).to_numpy() @ w.to_numpy()
        se = np.nanstd(composite) / np.sqrt(np.isfinite(composite).sum())  # ~0.4 points
        assert abs(idx[name] - expected) < 4.5 * se, name
    assert overall_csi(idx) == idx["Satisfaction"]


def test_model_weights_roll_up_like_the_acsi_index(simulated):
    _, _, model, fit = simulated
    out = grade_score_index(fit, weights="model")
    constructs = out[out["level"] == "construct"].set_index("node")["weight"]
    effects = fit.effects[fit.effects["target"] == "Satisfaction"].set_index("source")["total"]
    drivers = {c: effects.get(c, 0.0) for c in model.names}
    drivers["Satisfaction"] = 1.0
    expected = pd.Series(drivers).clip(lower=0)
    expected = expected / expected.sum()
    assert constructs.reindex(expected.index).to_numpy() == pytest.approx(expected.to_numpy())
    assert constructs["Loyalty"] == 0.0 and constructs["Complaints"] == 0.0
    items = out[out["level"] == "item"].set_index("node")
    raw = fit.raw_weights()
    sub = items.loc["QUA1", "parent"]
    same = items.index[items["parent"] == sub]
    assert items.loc[same, "weight"].to_numpy() == pytest.approx((raw[same] / raw[same].sum()).to_numpy())


def test_segments_partition_the_fit_sample(simulated):
    _, survey, model, fit = simulated
    out = segment_indices(fit, "area", min_n=30)
    assert set(out["area"]) == {"urban", "rural"}
    assert out["n"].groupby(out["area"]).first().sum() == fit.n
    # the fit's weights applied to each segment's item means, computed here by hand (1-5 scale)
    raw = fit.raw_weights()
    x = survey.frame[model.items]
    for area, group in x.groupby(survey.frame["area"].astype(str)):
        for name, items in model.constructs.items():
            w = raw[list(items)] / raw[list(items)].sum()
            expected = float(w @ ((group[list(items)].mean() - 1) / 4 * 100))
            got = out[(out["area"] == area) & (out["construct"] == name)]["index"].item()
            assert got == pytest.approx(expected, abs=1e-9), (area, name)


def test_a_segments_sd_ratio_is_the_spread_of_its_respondents_index_by_hand():
    """Each respondent's own index ((a1 + a2)/2 on 1–10, as 0–100): its SD in a segment over the sample's."""
    rng = np.random.default_rng(4)
    n = 90
    area = np.where(np.arange(n) < 60, "urban", "rural")
    spread = np.where(area == "urban", 0.7, 2.0)  # rural answers vary more
    frame = pd.DataFrame({c: np.clip(np.round(6 + spread * rng.normal(0, 1, n)), 1, 10)
                          for c in ("a1", "a2", "b1")})
    frame["area"] = area
    fit = fixed_fit(TWO, frame, {"a1": 1.0, "a2": 1.0, "b1": 1.0}, scale_min=1, scale_max=10)
    out = segment_indices(fit, "area").set_index(["area", "construct"])
    own = ((frame["a1"] + frame["a2"]) / 2 - 1) / 9 * 100
    for segment in ("urban", "rural"):
        mine = own[frame["area"] == segment]
        expected = mine.std(ddof=0) / own.std(ddof=0)
        assert out.at[(segment, "A"), "sd_ratio"] == pytest.approx(expected, rel=1e-12)
        assert out.at[(segment, "A"), "index"] == pytest.approx(mine.mean(), rel=1e-12)
    assert out.at[("rural", "A"), "sd_ratio"] > 1 > out.at[("urban", "A"), "sd_ratio"]
