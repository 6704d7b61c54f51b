"""Two-stage moderation: planted truth, seminr side by side, explicit two-stage refits, its bootstrap."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from ecsi_reference import BLOCKS, satisfaction_data
from test_predict import with_holes

from csi_research.core.errors import CSIWarning, ModelSpecError
from csi_research.model import CSIModel
from csi_research.stats.bootstrap import count_chunks
from csi_research.stats.moderation import moderation
from csi_research.stats.pls import fit_pls

TIGHT = {"tol": 1e-20, "max_iter": 2000}
SAT_MODEL = CSIModel(BLOCKS, [(s, "SAT") for s in ("IMAG", "EXPE", "QUAL", "VAL")] + [("SAT", "LOY")])

# seminr 0.2.1 (Python port, separate environment), tests/reference_scripts/moderation_reference.py on the
# 250 ECSI answers: interaction_term("QUAL", "IMAG", method=two_stage), the stage-2 paths into SAT.
SEMINR_SAT_PATHS = {"IMAG": 0.1843018310, "EXPE": 0.0085457793, "QUAL": 0.1267491340, "VAL": 0.5738903461,
                    "QUAL×IMAG": -0.0246934198}
SEMINR_SAT_R2 = 0.7039874974
# the same with reflective() constructs: seminr applies PLSc to both stages and reports the interaction's
# path on the standardised product (the main effects and R² are comparable as they are)
SEMINR_PLSC_PATHS = {"IMAG": 0.0019020556, "EXPE": 0.5233991923, "QUAL": -0.8419592077, "VAL": 1.2314479248,
                     "QUAL×IMAG": -0.0602238470}
SEMINR_PLSC_R2 = 0.8870414257


@pytest.fixture(scope="module")
def satisfaction() -> pd.DataFrame:
    return satisfaction_data()


def planted(n: int, seed: int, b_xm: float = -0.2) -> pd.DataFrame:
    """X, M standard normal with correlation 0.3; Y = 0.4 X + 0.3 M + b_xm X·M + e with Var(Y) = 1.
    For normal X and M, X·M is uncorrelated with both, so the population regression of Y on X, M and
    X·M has exactly these coefficients; single-item constructs make PLS that regression."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    m = 0.3 * x + np.sqrt(1 - 0.09) * rng.standard_normal(n)
    explained = 0.16 + 0.09 + 2 * 0.4 * 0.3 * 0.3 + b_xm**2 * 1.09
    y = 0.4 * x + 0.3 * m + b_xm * x * m + np.sqrt(1 - explained) * rng.standard_normal(n)
    return pd.DataFrame({"x": x, "m": m, "y": y})


SINGLE = CSIModel({"X": ["x"], "M": ["m"], "Y": ["y"]}, [("X", "Y"), ("M", "Y")])


def test_recovers_planted_paths_within_their_standard_errors():
    result = moderation(fit_pls(SINGLE, planted(20_000, 1)), "X", "M", "Y", n_boot=300, seed=2)
    paths = result.paths.set_index("source")
    truth = {"X": 0.4, "M": 0.3, "X×M": -0.2}
    for source, value in truth.items():
        # the bootstrap SE at n = 20,000 is about 0.006: 4 SE covers a correct estimator but not a bias
        assert abs(paths.at[source, "estimate"] - value) < 4 * paths.at[source, "se"], source
    assert result.significant and result.interaction == "X×M" and not result.added_main_effect
    slopes = result.slopes.set_index("moderator_sd")["slope"]
    for m, expected in ((-1.0, 0.6), (0.0, 0.4), (1.0, 0.2)):
        assert abs(slopes[m] - expected) < 4 * result.slopes.set_index("moderator_sd").at[m, "se"]
    assert 0 < result.r2_main < result.r2 and result.f2 == pytest.approx(
        (result.r2 - result.r2_main) / (1 - result.r2))


def test_no_planted_interaction_is_rarely_significant():
    """Size at 5 %: 30 samples of n = 400 without interaction; 5 or more rejections have probability
    0.06 under a correct 5 % test, 8 or more less than 0.002."""
    rejected = sum(moderation(fit_pls(SINGLE, planted(400, s, b_xm=0.0)), "X", "M", "Y", n_boot=300,
                              seed=s).significant for s in range(30))
    assert rejected <= 7


def test_matches_seminr_two_stage(satisfaction):
    fit = fit_pls(SAT_MODEL, satisfaction, **TIGHT)
    result = moderation(fit, "QUAL", "IMAG", "SAT", n_boot=0)
    paths = result.paths.set_index("source")["estimate"]
    for source, value in SEMINR_SAT_PATHS.items():
        if source == "QUAL×IMAG":
            # seminr standardises scores with the n - 1 divisor, this toolkit with n: the product of two
            # scores, hence its coefficient per unit, differs by sqrt(n / (n - 1)) exactly
            value /= np.sqrt(250 / 249)
        assert paths[source] == pytest.approx(value, abs=1e-9), source
    assert result.r2 == pytest.approx(SEMINR_SAT_R2, abs=1e-9)


def test_plsc_in_both_stages_matches_seminr(satisfaction):
    fit = fit_pls(SAT_MODEL, satisfaction, consistent=True, **TIGHT)
    with pytest.warns(CSIWarning, match="interaction term, a product of composite scores, is taken as"):
        result = moderation(fit, "QUAL", "IMAG", "SAT", n_boot=0)
    paths = result.paths.set_index("source")["estimate"]
    product = fit.scores["QUAL"] * fit.scores["IMAG"]
    sd_product = np.sqrt(((product - product.mean()) ** 2).mean())  # the product's (population) sd
    for source, value in SEMINR_PLSC_PATHS.items():
        got = paths[source] * (sd_product if source == "QUAL×IMAG" else 1.0)  # seminr: per sd of the product
        assert got == pytest.approx(value, abs=1e-9), source
    assert result.r2 == pytest.approx(SEMINR_PLSC_R2, abs=1e-9)


def test_plsc_equals_explicit_plsc_refits(satisfaction):
    weights = np.random.default_rng(8).uniform(0.5, 2.0, len(satisfaction))
    fit = fit_pls(SAT_MODEL, satisfaction, weights=weights, consistent=True, **TIGHT)
    slow = explicit(SAT_MODEL, satisfaction, weights, consistent=True, **TIGHT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        got = moderation(fit, "QUAL", "IMAG", "SAT", n_boot=0).paths.set_index("source")["estimate"]
    np.testing.assert_allclose(got[slow.index], slow, atol=1e-9)


def explicit(model: CSIModel, data: pd.DataFrame, weights: np.ndarray | None, **settings) -> pd.Series:
    """Both stages by fit_pls on data frames: stage-1 scores, their product, stage 2 refitted."""
    first = fit_pls(model, data, weights=weights, **settings)
    z = first.scores["QUAL"] * first.scores["IMAG"]
    w = np.ones(len(z)) if weights is None else np.asarray(weights, dtype=float)
    sd_z = np.sqrt(np.average((z - np.average(z, weights=w)) ** 2, weights=w))
    blocks = {c: list(i) for c, i in model.constructs.items()} | {"QUAL×IMAG": ["qxi"]}
    stage2 = CSIModel(blocks, [*model.paths, ("QUAL×IMAG", "SAT")])
    second = fit_pls(stage2, first.sample.x.assign(qxi=z.to_numpy()), weights=weights, **settings)
    paths = second.paths.set_index(["source", "target"])["estimate"].xs("SAT", level="target")
    paths["QUAL×IMAG"] /= sd_z
    return paths


@pytest.mark.parametrize(("scheme", "scaled"), [("path", True), ("centroid", False), ("factorial", True)])
def test_equals_explicit_two_stage_refits_with_weights(satisfaction, scheme, scaled):
    weights = np.random.default_rng(4).uniform(0.5, 2.0, len(satisfaction))
    settings = {"scheme": scheme, "scaled": scaled, **TIGHT}
    fit = fit_pls(SAT_MODEL, with_holes(satisfaction), weights=weights, missing="mean", **settings)
    data = fit.sample.x  # the completed answers: stage 2 of the explicit refit sees no holes
    slow = explicit(SAT_MODEL, data, weights, **settings)
    got = moderation(fit, "QUAL", "IMAG", "SAT", n_boot=0).paths.set_index("source")["estimate"]
    np.testing.assert_allclose(got[slow.index], slow, atol=1e-9)


def test_each_resample_reruns_both_stages(satisfaction):
    """A resample's estimate equals both stages refitted on its rows (integer weights = replicated rows)."""
    fit = fit_pls(SAT_MODEL, satisfaction, **TIGHT)
    counts = next(count_chunks(np.random.default_rng(9), len(satisfaction), None, 3, 3))
    result = moderation(fit, "QUAL", "IMAG", "SAT", n_boot=3, seed=9)
    assert result.n_boot == 3
    from csi_research.stats.moderation import _models, _two_stages

    main, stage2, _, _ = _models(SAT_MODEL, "QUAL", "IMAG", "SAT")
    batch = _two_stages(fit, main, stage2, "QUAL", "IMAG", counts)["paths"]
    into = [k for k, (_, t) in enumerate(stage2.paths) if t == "SAT"]
    for b in range(3):
        replicated = satisfaction[SAT_MODEL.items].loc[np.repeat(satisfaction.index, counts[b])]
        slow = explicit(SAT_MODEL, replicated.reset_index(drop=True), None, **TIGHT)
        np.testing.assert_allclose(batch[b, into], slow[[stage2.paths[k][0] for k in into]], atol=1e-9)
    assert result.paths["se"].notna().all()


def test_em_and_a_missing_main_effect(satisfaction):
    without = CSIModel(BLOCKS, [("IMAG", "EXPE"), ("EXPE", "SAT"), ("QUAL", "SAT"), ("VAL", "SAT"),
                                ("SAT", "LOY")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        fit = fit_pls(without, with_holes(satisfaction), missing="em")
    with pytest.warns(CSIWarning, match="no path IMAG → SAT; it was added"):
        result = moderation(fit, "QUAL", "IMAG", "SAT", n_boot=50, seed=1)
    assert result.added_main_effect and "IMAG" in set(result.paths["source"])
    assert result.paths["estimate"].notna().all()


def test_bad_declarations_are_refused(satisfaction):
    fit = fit_pls(SAT_MODEL, satisfaction)
    with pytest.raises(ModelSpecError, match="moderator 'NOPE' is neither a construct"):
        moderation(fit, "QUAL", "NOPE", "SAT")
    with pytest.raises(ModelSpecError, match="no path QUAL → LOY to moderate"):
        moderation(fit, "QUAL", "IMAG", "LOY")
    with pytest.raises(ModelSpecError, match="must differ from the predictor"):
        moderation(fit, "QUAL", "QUAL", "SAT")
    with pytest.raises(ModelSpecError, match="moderator 'LOY' must not be the target 'SAT' or depend on it"):
        moderation(fit, "QUAL", "LOY", "SAT")  # LOY follows SAT: the path would close a circle
    with pytest.raises(ModelSpecError, match="moderator 'LOY' must not be the target 'LOY'"):
        moderation(fit, "SAT", "LOY", "LOY")


# ---------------------------------------------------------------------------- observed moderators
def planted_outage(n: int, seed: int, a: float = 0.5, b: float = -0.2, c: float = -0.3,
                   p: float = 0.3) -> tuple[pd.DataFrame, dict[str, float]]:
    """Y = a X + b D + c X·D + e with X standard normal and D ("had an outage") Bernoulli(p), independent.

    With D = p + s Z (s = √(p(1 − p)), Z standardised), Y = (a + c p) X + b s Z + c s X Z + const + e, and
    X, Z, X Z are uncorrelated with unit variance: the standardised regression — two-stage moderation
    with single items — has slopes (a + c p, b s, c s) / sd(Y), here in closed form."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    d = rng.random(n) < p
    e = 0.8 * rng.standard_normal(n)
    y = a * x + b * d + c * x * d + e
    s = np.sqrt(p * (1 - p))
    sd_y = np.sqrt((a + c * p) ** 2 + (b * s) ** 2 + (c * s) ** 2 + 0.64)
    truth = {"X": (a + c * p) / sd_y, "outage = yes": b * s / sd_y, "X×outage": c * s / sd_y}
    return pd.DataFrame({"x": x, "y": y, "outage": np.where(d, "yes", "no"), "outages": d * 2.0}), truth


XY = CSIModel({"X": ["x"], "Y": ["y"]}, [("X", "Y")])


def test_an_observed_segment_moderator_recovers_planted_truth():
    data, truth = planted_outage(20_000, 3)
    result = moderation(fit_pls(XY, data), "X", "outage", "Y", level="yes", n_boot=300, seed=4)
    paths = result.paths.set_index("source")
    assert result.moderator_label == ("outage = yes", "outage = yes") and result.significant
    expected = {"X": truth["X"], "outage": truth["outage = yes"], "X×outage": truth["X×outage"]}
    for source, value in expected.items():
        # bootstrap SEs at n = 20,000 are about 0.007: 4 SE admits no bias
        assert abs(paths.at[source, "estimate"] - value) < 4 * paths.at[source, "se"], source


def test_an_observed_moderator_equals_the_same_variable_as_a_construct():
    data, _ = planted_outage(600, 5)
    data = data.assign(had=(data["outage"] == "yes").astype(float))
    as_construct = CSIModel({"X": ["x"], "D": ["had"], "Y": ["y"]}, [("X", "Y"), ("D", "Y")])
    want = moderation(fit_pls(as_construct, data), "X", "D", "Y", n_boot=50, seed=2)
    for kwargs in ({"level": "yes"}, {"above": 0}):
        name = "outage" if "level" in kwargs else "outages"
        got = moderation(fit_pls(XY, data), "X", name, "Y", n_boot=50, seed=2, **kwargs)
        np.testing.assert_allclose(got.paths[["estimate", "se", "ci_lower", "ci_upper"]],
                                   want.paths[["estimate", "se", "ci_lower", "ci_upper"]], atol=1e-10)
    given = pd.Series(data["had"].to_numpy(), index=data.index)  # e.g. a service-record feature
    got = moderation(fit_pls(XY, data), "X", "had_outage", "Y", values=given, n_boot=50, seed=2)
    np.testing.assert_allclose(got.paths["estimate"], want.paths["estimate"], atol=1e-10)


def test_bad_observed_moderators_are_refused():
    data, _ = planted_outage(300, 6)
    fit = fit_pls(XY, data)
    with pytest.raises(ModelSpecError, match=r"neither a construct of the model .* nor a column"):
        moderation(fit, "X", "weather", "Y")
    with pytest.raises(ModelSpecError, match="never takes the level 'maybe'; its values: "):
        moderation(fit, "X", "outage", "Y", level="maybe")
    with pytest.raises(ModelSpecError, match=r"'outage' is not numeric .* give level"):
        moderation(fit, "X", "outage", "Y")
    holes = pd.Series(np.where(np.arange(300) == 7, np.nan, 1.0), index=data.index)
    with pytest.raises(ModelSpecError, match=r"missing for 1 respondent\(s\) \(e.g. row 7\)"):
        moderation(fit, "X", "feature", "Y", values=holes)
