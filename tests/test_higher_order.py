"""Higher-order constructs: declaration, seminr side by side, planted truth, explicit refits, bootstrap."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import yaml
from ecsi_reference import BLOCKS, ecsi_model, satisfaction_data
from test_predict import with_holes

from csi_research.core.errors import CSIWarning, ModelSpecError
from csi_research.data.sample import prepare
from csi_research.model import CSIModel
from csi_research.stats.bootstrap import bootstrap, count_chunks
from csi_research.stats.indices import csi_indices
from csi_research.stats.pls import fit_pls

TIGHT = {"tol": 1e-20, "max_iter": 2000}
PATHS = [("IMAG", "EXPE"), ("IMAG", "SAT"), ("EXPE", "PERC"), ("PERC", "SAT"), ("SAT", "LOY")]


def perc_model(mode: str = "A", method: str = "two-stage") -> CSIModel:
    """ECSI's blocks and a higher-order PERC over QUAL and VAL (as the seminr reference script)."""
    return CSIModel(BLOCKS, PATHS, modes={"PERC": mode},
                    higher_order={"PERC": {"components": ["QUAL", "VAL"], "method": method}})


# seminr 0.2.1 (Python port, separate environment), tests/reference_scripts/higher_order_reference.py on the
# 250 ECSI answers: higher_composite("PERC", c("QUAL", "VAL"), method = "two_stage", weights = A or B).
SEMINR = {
    "A": {"paths": {("IMAG", "EXPE"): 0.5636195916, ("IMAG", "SAT"): 0.2233879241,
                    ("EXPE", "PERC"): 0.8129029882, ("PERC", "SAT"): 0.6520566956,
                    ("SAT", "LOY"): 0.6739177906},
          "r2": {"EXPE": 0.3176670440, "PERC": 0.6608112682, "SAT": 0.6792940442, "LOY": 0.4541651885},
          "weights": {"QUAL": 0.5418625756, "VAL": 0.5241448798},
          "loadings": {"QUAL": 0.9401712184, "VAL": 0.9359175697}},
    "B": {"paths": {("IMAG", "EXPE"): 0.5635654657, ("IMAG", "SAT"): 0.2393988964,
                    ("EXPE", "PERC"): 0.8221402357, ("PERC", "SAT"): 0.6339617043,
                    ("SAT", "LOY"): 0.6739092629},
          "r2": {"EXPE": 0.3176060341, "PERC": 0.6759145672, "SAT": 0.6704031999, "LOY": 0.4541536946},
          "weights": {"QUAL": 0.6013119180, "VAL": 0.4634997571},
          "loadings": {"QUAL": 0.9535350652, "VAL": 0.9204492440}},
}


@pytest.fixture(scope="module")
def satisfaction() -> pd.DataFrame:
    return satisfaction_data()


# ---------------------------------------------------------------------------- declaration
def test_model_yaml_round_trips_a_higher_order_construct(tmp_path):
    model = perc_model("B")
    assert model.constructs["PERC"] == (*BLOCKS["QUAL"], *BLOCKS["VAL"])
    assert model.items == [i for b in BLOCKS.values() for i in b]  # each item once
    assert model.components == {"QUAL": "PERC", "VAL": "PERC"}
    path = tmp_path / "model.yaml"
    model.to_yaml(path)
    text = path.read_text(encoding="utf-8")
    assert "components:" in text and "method: two-stage" in text
    again = CSIModel.from_yaml(path)
    assert again == model and again.higher_order["PERC"].components == ("QUAL", "VAL")
    assert "PERC =~ QUAL + VAL" in model.lavaan_syntax()


@pytest.mark.parametrize(("spec", "message"), [
    ({"PERC": {"components": ["QUAL"]}}, "at least two first-order constructs"),
    ({"PERC": {"components": ["QUAL", "NOPE"]}}, "component NOPE is not a first-order construct"),
    ({"PERC": {"components": ["QUAL", "VAL"], "method": "embedded"}}, "method 'embedded' is not one of"),
    ({"PERC": {"components": ["QUAL", "QUAL"]}}, "lists a component twice"),
])
def test_bad_declarations_name_the_construct(spec, message):
    with pytest.raises(ModelSpecError, match=message):
        CSIModel(BLOCKS, PATHS, higher_order=spec)


def test_bad_model_files_name_file_and_key(tmp_path):
    base = perc_model().to_dict()
    cases = {
        "both": ({"items": ["qual1"], "components": ["QUAL", "VAL"]}, "construct PERC: give either items"),
        "method": ({"items": ["qual1"], "method": "two-stage"}, "method applies to a higher-order"),
    }
    for name, (block, message) in cases.items():
        spec = {**base, "constructs": {**base["constructs"], "PERC": block}}
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(spec), encoding="utf-8")
        with pytest.raises(ModelSpecError, match=f"{name}.yaml: .*{message}"):
            CSIModel.from_yaml(path)
    paths = [*PATHS, ("QUAL", "LOY")]
    with pytest.raises(ModelSpecError, match="QUAL is a component of the higher-order construct PERC"):
        CSIModel(BLOCKS, paths, higher_order={"PERC": ["QUAL", "VAL"]})


# ---------------------------------------------------------------------------- two-stage
@pytest.mark.parametrize("mode", ["A", "B"])
def test_two_stage_matches_seminr(satisfaction, mode):
    fit = fit_pls(perc_model(mode), satisfaction, **TIGHT)
    ref = SEMINR[mode]
    paths = fit.paths.set_index(["source", "target"])["estimate"]
    for key, value in ref["paths"].items():
        assert paths[key] == pytest.approx(value, abs=1e-8), key
    for target, value in ref["r2"].items():
        assert fit.r2[target] == pytest.approx(value, abs=1e-8), target
    perc = fit.weights.query("construct == 'PERC'").set_index("item")["weight"]
    loads = fit.loadings.query("construct == 'PERC'").set_index("item")["loading"]
    for dim in ("QUAL", "VAL"):
        assert perc[dim] == pytest.approx(ref["weights"][dim], abs=1e-8)
        assert loads[dim] == pytest.approx(ref["loadings"][dim], abs=1e-8)
    first = fit.first_stage  # stage 1: QUAL and VAL in PERC's place, their items' weights
    assert set(first.model.names) == {"IMAG", "EXPE", "QUAL", "VAL", "SAT", "LOY"}
    assert ("EXPE", "QUAL") in first.model.paths and ("VAL", "SAT") in first.model.paths


def explicit_two_stage(model: CSIModel, data: pd.DataFrame, weights=None, **settings) -> object:
    """Both stages by fit_pls on data frames: stage 1 on the components, their index-scale scores as
    stage 2's columns (each component's items weighted by its raw weights normalised to sum 1)."""
    blocks = {n: list(i) for n, i in model.constructs.items() if n != "PERC"}
    first_paths = [(a, b) for s, t in model.paths for a in (("QUAL", "VAL") if s == "PERC" else (s,))
                   for b in (("QUAL", "VAL") if t == "PERC" else (t,))]
    first = fit_pls(CSIModel(blocks, first_paths), data, weights=weights, **settings)
    raw = first.raw_weights()
    columns = {c: data[BLOCKS[c]].to_numpy() @ (raw[BLOCKS[c]] / raw[BLOCKS[c]].sum()).to_numpy()
               for c in ("QUAL", "VAL")}
    second_blocks = {n: i for n, i in blocks.items() if n not in ("QUAL", "VAL")} | {"PERC": ["QUAL", "VAL"]}
    stage2 = CSIModel(second_blocks, model.paths, modes=dict(model.modes))
    return fit_pls(stage2, data.assign(**columns), weights=weights, **settings)


@pytest.mark.parametrize(("scheme", "scaled", "mode"), [("path", True, "A"), ("centroid", False, "B"),
                                                        ("factorial", False, "A")])
def test_two_stage_equals_explicit_refits_with_weights_and_holes(satisfaction, scheme, scaled, mode):
    weights = np.random.default_rng(3).uniform(0.5, 2.0, len(satisfaction))
    settings = {"scheme": scheme, "scaled": scaled, **TIGHT}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        fit = fit_pls(perc_model(mode), with_holes(satisfaction), weights=weights, missing="mean", **settings)
    slow = explicit_two_stage(perc_model(mode), fit.sample.first.x, weights, **settings)
    np.testing.assert_allclose(fit.paths["estimate"], slow.paths["estimate"], atol=1e-9)
    got, want = (f.weights.set_index(["construct", "item"])["weight"] for f in (fit, slow))
    np.testing.assert_allclose(got[want.index], want, atol=1e-9)
    np.testing.assert_allclose(fit.scores["PERC"], slow.scores["PERC"], atol=1e-8)


def test_integer_weights_equal_replicated_rows(satisfaction):
    w = np.random.default_rng(5).integers(1, 4, len(satisfaction))
    weighted = fit_pls(perc_model("B"), satisfaction, weights=w, **TIGHT)
    copies = satisfaction.loc[np.repeat(satisfaction.index, w)].reset_index(drop=True)
    replicated = fit_pls(perc_model("B"), copies, **TIGHT)
    np.testing.assert_allclose(weighted.paths["estimate"], replicated.paths["estimate"], atol=1e-10)
    np.testing.assert_allclose(weighted.weights["weight"], replicated.weights["weight"], atol=1e-10)


def test_em_moments_carry_through_both_stages(satisfaction):
    """With EM the stage-2 moments are the transformed EM moments: the conditional covariances of
    the imputed answers pass through the components' weights (not the plain completed answers)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        fit = fit_pls(perc_model(), with_holes(satisfaction, share=0.1), missing="em")
    first = fit.sample.first
    weights = fit.first_stage.raw_weights()
    t = np.zeros((len(first.x.columns), 2))
    for k, c in enumerate(("QUAL", "VAL")):
        cols = [list(first.x.columns).index(i) for i in BLOCKS[c]]
        t[cols, k] = weights[BLOCKS[c]] / weights[BLOCKS[c]].sum()
    expected = t.T @ first.cov.to_numpy() @ t
    np.testing.assert_allclose(fit.sample.cov.loc[["QUAL", "VAL"], ["QUAL", "VAL"]], expected, atol=1e-10)
    assert fit.sample.extra.any()


def test_each_bootstrap_resample_reruns_stage_one(satisfaction):
    fit = fit_pls(perc_model("B"), satisfaction, **TIGHT)
    boot = bootstrap(fit, n_boot=3, seed=11, progress=False, bca=False, workers=1, chunk_size=3)
    counts = next(count_chunks(np.random.default_rng(11), len(satisfaction), None, 3, 3))
    rows = boot.estimates.query("statistic == 'path'").reset_index(drop=True)
    for b in range(3):
        copies = satisfaction.loc[np.repeat(satisfaction.index, counts[b])].reset_index(drop=True)
        slow = explicit_two_stage(perc_model("B"), copies, **TIGHT)
        np.testing.assert_allclose(boot.draws["path"][b], slow.paths["estimate"], atol=1e-8)
    assert len(rows) == len(PATHS)


# ---------------------------------------------------------------------------- planted truth
def planted(n: int, seed: int) -> tuple[pd.DataFrame, dict[str, float]]:
    """Two correlated factors F1, F2 (r = 0.4), three items each (loading 0.8), Y = 0.5 F1 + 0.3 F2 + e.

    With equal loadings, Mode A weights a block's items equally, so each component is its items'
    mean C_k, whatever stage 1's inner weights; a Mode B higher-order construct over C1, C2 with the
    single outcome Y is then the regression of Y on them: weights ∝ Σ_CC⁻¹ σ_CY, path = √R².
    Those population values are computed here in closed form from the factor model.
    """
    lam, r, b = 0.8, 0.4, np.array([0.5, 0.3])
    phi = np.array([[1, r], [r, 1]])
    var_c = lam**2 + (1 - lam**2) / 3  # variance of a mean of three items
    cov_cc = lam**2 * phi + np.diag([var_c - lam**2] * 2)
    cov_cy = lam * phi @ b
    var_y = 1.0
    beta = np.linalg.solve(cov_cc, cov_cy)
    sd_hoc = np.sqrt(beta @ cov_cc @ beta)
    # weights on standardised component scores, for a unit-variance higher-order score
    truth = {"w1": beta[0] * np.sqrt(cov_cc[0, 0]) / sd_hoc, "w2": beta[1] * np.sqrt(cov_cc[1, 1]) / sd_hoc,
             "path": np.sqrt(cov_cy @ beta / var_y)}
    rng = np.random.default_rng(seed)
    f = rng.multivariate_normal([0, 0], phi, n)
    e_y = np.sqrt(var_y - b @ phi @ b) * rng.standard_normal(n)
    data = {f"x{k + 1}{i}": lam * f[:, k] + np.sqrt(1 - lam**2) * rng.standard_normal(n)
            for k in range(2) for i in range(1, 4)}
    data["y"] = f @ b + e_y
    return pd.DataFrame(data), truth


def test_recovers_planted_higher_order_weights_and_path():
    data, truth = planted(20_000, 1)
    model = CSIModel({"C1": ["x11", "x12", "x13"], "C2": ["x21", "x22", "x23"], "Y": ["y"]}, [("H", "Y")],
                     modes={"H": "B"}, higher_order={"H": ["C1", "C2"]})
    fit = fit_pls(model, data)
    boot = bootstrap(fit, n_boot=300, seed=2, progress=False, bca=False)
    weights = boot.estimates.query("statistic == 'weight' and construct == 'H'").set_index("item")
    path = boot.estimates.query("statistic == 'path'").iloc[0]
    # bootstrap SEs at n = 20,000 are about 0.01 (weights) and 0.005 (path): 4 SE admits no bias
    assert abs(weights.at["C1", "estimate"] - truth["w1"]) < 4 * weights.at["C1", "se"]
    assert abs(weights.at["C2", "estimate"] - truth["w2"]) < 4 * weights.at["C2", "se"]
    assert abs(path["estimate"] - truth["path"]) < 4 * path["se"]


# ---------------------------------------------------------------------------- repeated indicators
@pytest.mark.parametrize("mode", ["A", "B"])
def test_repeated_indicators_equal_an_explicit_model_with_copied_columns(satisfaction, mode):
    fit = fit_pls(perc_model(mode, "repeated"), satisfaction, **TIGHT)
    copies = {f"PERC:{i}": satisfaction[i] for i in (*BLOCKS["QUAL"], *BLOCKS["VAL"])}
    blocks = dict(BLOCKS) | {"PERC": list(copies)}
    links = [("PERC", "QUAL"), ("PERC", "VAL")] if mode == "A" else [("QUAL", "PERC"), ("VAL", "PERC")]
    explicit = CSIModel(blocks, [*links, *PATHS], modes={"PERC": mode})
    plain = prepare(ecsi_model(), satisfaction)  # complete data: no EM terms to carry
    x = plain.x.assign(**copies)  # prepare() rightly refuses copied columns: the sample is built by hand
    duplicated = replace(plain, model=explicit, x=x, observed=x.notna(), extra=np.zeros((1, 54, 54)))
    slow = fit_pls(duplicated, **TIGHT)
    got = fit.paths.set_index(["source", "target"])["estimate"]
    want = slow.paths.set_index(["source", "target"])["estimate"]
    np.testing.assert_allclose(got[want.index], want, atol=1e-10)
    assert fit.first_stage is None and fit.sample.declared.higher_order


def test_indices_of_a_higher_order_construct_are_on_the_items_scale(satisfaction):
    """The two-stage PERC index is the weighted mean of its components' indices (all 0–100)."""
    fit = fit_pls(prepare(perc_model("A"), satisfaction, scale_min=0, scale_max=10), **TIGHT)
    index, first = csi_indices(fit), csi_indices(fit.first_stage)
    w = fit.raw_weights()[["QUAL", "VAL"]]
    expected = (w * first[["QUAL", "VAL"]]).sum() / w.sum()
    assert index["PERC"] == pytest.approx(expected, abs=1e-9)
    assert 0 < index["PERC"] < 100


def test_plsc_on_repeated_indicators_is_flagged_and_two_stage_is_not(satisfaction):
    repeated = fit_pls(perc_model("B", "repeated"), satisfaction, consistent=True)
    assert any("PLSc with repeated indicators" in d for d in repeated.diagnostics)
    two_stage = fit_pls(perc_model("B"), satisfaction, consistent=True)
    assert not any("repeated" in d for d in two_stage.diagnostics)
    assert two_stage.consistent and two_stage.paths["estimate"].abs().max() < 1
