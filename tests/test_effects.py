"""Effect sizes f² and specific indirect effects: against explicit regressions, the model's algebra,
the bootstrap's own resamples, and simulated mediation with a known answer."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from ecsi_reference import BLOCKS, ecsi_model, satisfaction_data

from csi_research.data.sample import prepare
from csi_research.model import CSIModel
from csi_research.stats.bootstrap import bootstrap
from csi_research.stats.effects import (
    chains,
    f2_size,
    f_squared,
    indirect_effects,
    mediation_type,
)
from csi_research.stats.pls import fit_pls

MODEL = ecsi_model()


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return satisfaction_data()


def weighted_r2(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> float:
    """R² of a weighted least-squares regression with an intercept (independent of the package)."""
    if x.shape[1] == 0:
        return 0.0
    design = np.column_stack([np.ones(len(y)), x])
    root = np.sqrt(w)
    beta = np.linalg.lstsq(design * root[:, None], y * root, rcond=None)[0]
    resid = y - design @ beta
    centred = y - np.average(y, weights=w)
    return 1.0 - np.sum(w * resid**2) / np.sum(w * centred**2)


@pytest.mark.parametrize("scheme", ["path", "centroid", "factorial"])
@pytest.mark.parametrize("weighted", [False, True])
def test_f2_is_the_r2_change_of_explicit_regressions_on_the_scores(data, scheme, weighted):
    weights = np.random.default_rng(3).integers(1, 4, len(data)).astype(float) if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_pls(MODEL, data, scheme=scheme, weights=weights)
    table = f_squared(fit).set_index(["source", "target"])
    w = fit.sample.weights
    scores = fit.scores
    for (source, target), row in table.iterrows():
        predictors = MODEL.predecessors(target)
        y = scores[target].to_numpy()
        included = weighted_r2(y, scores[predictors].to_numpy(), w)
        excluded = weighted_r2(y, scores[[p for p in predictors if p != source]].to_numpy(), w)
        assert row["r2_included"] == pytest.approx(included, abs=1e-10)
        assert row["r2_excluded"] == pytest.approx(excluded, abs=1e-10)
        assert row["f2"] == pytest.approx((included - excluded) / (1 - included), abs=1e-9)
        assert row["size"] == f2_size(row["f2"])


def test_f2_sizes_follow_cohen():
    assert [f2_size(v) for v in (0.0, 0.019, 0.02, 0.149, 0.15, 0.349, 0.35, 2.0)] == [
        "none", "none", "small", "small", "medium", "medium", "large", "large"]


def test_f2_of_a_plsc_fit_uses_its_disattenuated_correlations(data):
    fit = fit_pls(MODEL, data, consistent=True)
    table = f_squared(fit).set_index(["source", "target"])
    r = fit.latent_corr
    for target in MODEL.endogenous:
        predictors = MODEL.predecessors(target)
        rpp = r.loc[predictors, predictors].to_numpy()
        rpy = r.loc[predictors, target].to_numpy()
        full = rpy @ np.linalg.solve(rpp, rpy)
        assert fit.r2[target] == pytest.approx(full, abs=1e-10)
        for source in predictors:
            rest = [p for p in predictors if p != source]
            reduced = (r.loc[rest, target].to_numpy() @ np.linalg.solve(r.loc[rest, rest].to_numpy(),
                                                                         r.loc[rest, target].to_numpy())
                       if rest else 0.0)
            assert table.at[(source, target), "f2"] == pytest.approx((full - reduced) / (1 - full), abs=1e-9)


def test_chains_are_every_directed_path_and_sum_to_the_indirect_effects(data):
    fit = fit_pls(MODEL, data)
    found = chains(MODEL)
    assert ("QUAL", "VAL", "SAT") in found and ("IMAG", "SAT", "LOY") in found
    assert all(len(c) >= 3 and len(set(c)) == len(c) for c in found)
    assert len(found) == len(set(found))
    # brute force: every sequence of constructs joined by paths
    edges = set(MODEL.paths)

    def walks(chain):
        for s, t in edges:
            if s == chain[-1]:
                yield (*chain, t)
                yield from walks((*chain, t))

    brute = {c for start in MODEL.names for c in walks((start,)) if len(c) >= 3}
    assert set(found) == brute
    paths = fit.paths.set_index(["source", "target"])["estimate"]
    effects = fit.effects.set_index(["source", "target"])
    for (source, target), row in effects.iterrows():
        specific = [np.prod([paths[(a, b)] for a, b in itertools.pairwise(c)])
                    for c in found if c[0] == source and c[-1] == target]
        assert sum(specific) == pytest.approx(row["indirect"], abs=1e-10)


@pytest.mark.parametrize(("indirect", "isig", "direct", "dsig", "expected"), [
    (0.2, True, 0.3, True, "complementary"),
    (0.2, True, -0.3, True, "competitive"),
    (-0.2, True, -0.3, True, "complementary"),
    (0.2, True, 0.01, False, "indirect-only"),
    (0.2, True, np.nan, False, "indirect-only"),
    (0.01, False, 0.3, True, "direct-only"),
    (0.01, False, 0.02, False, "no effect"),
])
def test_mediation_types_follow_zhao_lynch_and_chen(indirect, isig, direct, dsig, expected):
    assert mediation_type(indirect, isig, direct, dsig) == expected


# ---------------------------------------------------------------------------- in the bootstrap
def rows(boot, statistic: str) -> pd.DataFrame:
    return boot.estimates[boot.estimates["statistic"] == statistic].reset_index(drop=True)


@pytest.mark.parametrize("consistent", [False, True])
def test_bootstrap_carries_f2_and_every_indirect_effect_from_the_same_resamples(data, consistent):
    fit = fit_pls(MODEL, data, consistent=consistent)
    boot = bootstrap(fit, n_boot=200, seed=5, progress=False)
    f2 = rows(boot, "f2")
    np.testing.assert_allclose(f2["estimate"], f_squared(fit)["f2"], atol=1e-12)
    found = chains(MODEL)
    indirect = rows(boot, "indirect_effect")
    assert list(zip(indirect["source"], indirect["via"], indirect["target"], strict=True)) == [
        (c[0], " → ".join(c[1:-1]), c[-1]) for c in found]
    # each draw: the product of that draw's own paths (explicitly, chain by chain)
    where = {p: k for k, p in enumerate(MODEL.paths)}
    paths = boot.draws["path"]
    for k, chain in enumerate(found):
        product = np.ones(len(paths))
        for a, b in itertools.pairwise(chain):
            product = product * paths[:, where[(a, b)]]
        np.testing.assert_allclose(boot.draws["indirect_effect"][:, k], product, atol=1e-12)
    # and per pair, in every draw, the specific effects add up to total minus direct
    total = rows(boot, "total_effect")
    for t, (source, target) in enumerate(zip(total["source"], total["target"], strict=True)):
        ks = [k for k, c in enumerate(found) if c[0] == source and c[-1] == target]
        direct = paths[:, where[(source, target)]] if (source, target) in where else 0.0
        np.testing.assert_allclose(boot.draws["indirect_effect"][:, ks].sum(axis=1),
                                   boot.draws["total_effect"][:, t] - direct, atol=1e-10)
    table = indirect_effects(boot, "bca")
    assert set(table["type"]) <= {"complementary", "competitive", "indirect-only", "direct-only", "no effect"}
    assert table["bca_lower"].notna().all() and (table["level"] == boot.ci).all()


def test_weighted_f2_and_indirect_effects_equal_those_on_replicated_rows(data):
    weights = np.random.default_rng(11).integers(1, 4, len(data))
    fit_w = fit_pls(MODEL, data, weights=weights.astype(float))
    fit_r = fit_pls(MODEL, data.loc[data.index.repeat(weights)].reset_index(drop=True))
    np.testing.assert_allclose(f_squared(fit_w)["f2"], f_squared(fit_r)["f2"], atol=1e-9)
    est_w = rows(bootstrap(fit_w, n_boot=20, seed=1, progress=False, bca=False), "indirect_effect")
    est_r = rows(bootstrap(fit_r, n_boot=20, seed=1, progress=False, bca=False), "indirect_effect")
    np.testing.assert_allclose(est_w["estimate"], est_r["estimate"], atol=1e-9)


def test_em_and_cbsem_fits_have_indirect_effects_too(data):
    from csi_research.stats.cbsem import fit_cbsem

    holes = data.copy()
    mask = np.random.default_rng(2).random(holes[MODEL.items].shape) < 0.03
    holes[MODEL.items] = holes[MODEL.items].mask(mask)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_pls(MODEL, prepare(MODEL, holes, missing="em"))
        boot = bootstrap(fit, n_boot=50, seed=3, progress=False, bca=False)
    assert rows(boot, "indirect_effect")["estimate"].notna().all()
    small = CSIModel({k: BLOCKS[k] for k in ("IMAG", "SAT", "LOY")},
                     [("IMAG", "SAT"), ("SAT", "LOY"), ("IMAG", "LOY")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cb = fit_cbsem(small, data)
        cboot = bootstrap(cb, n_boot=20, seed=3, progress=False, workers=1)
    row = rows(cboot, "indirect_effect")
    paths = cb.paths.set_index(["source", "target"])["estimate"]
    assert list(row["via"]) == ["SAT"]
    assert row.at[0, "estimate"] == pytest.approx(paths[("IMAG", "SAT")] * paths[("SAT", "LOY")], abs=1e-12)


# ---------------------------------------------------------------------------- planted mediation
TRUTH = {"indirect-only": 0.0, "complementary": 0.35, "competitive": -0.35}


def mediation_sample(direct: float, seed: int, n: int = 300) -> tuple[CSIModel, pd.DataFrame]:
    """x → m → y (paths 0.5 and 0.5) plus a direct x → y path; three items per construct."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    m = 0.5 * x + np.sqrt(1 - 0.25) * rng.standard_normal(n)
    mean_y = 0.5 * m + direct * x
    y = mean_y + np.sqrt(max(1 - np.var(mean_y), 0.2)) * rng.standard_normal(n)
    columns = {}
    for name, score in (("X", x), ("M", m), ("Y", y)):
        for i in range(3):
            columns[f"{name.lower()}{i + 1}"] = 0.8 * score + 0.6 * rng.standard_normal(n)
    model = CSIModel({c: [f"{c.lower()}{i}" for i in (1, 2, 3)] for c in "XMY"},
                     [("X", "M"), ("M", "Y"), ("X", "Y")])
    return model, pd.DataFrame(columns)


@pytest.mark.parametrize("expected", list(TRUTH))
def test_planted_mediation_types_are_found(expected):
    """With n = 300, paths of 0.5 · 0.5 and a direct effect of 0 or ±0.35, the indirect effect's
    and the non-zero direct effect's power is ~1, so at the 95% level the type is right in nearly
    every sample (an indirect-only sample is wrong only when the zero direct path's interval
    misses zero, 5% of the time: P(≥ 4 misses of 20) ≈ 0.016), so at least 17 of 20 must be right."""
    hits = 0
    for seed in range(20):
        model, frame = mediation_sample(TRUTH[expected], seed)
        boot = bootstrap(fit_pls(model, frame), n_boot=500, seed=seed, progress=False, bca=False)
        table = indirect_effects(boot)
        hits += table.loc[table["via"] == "M", "type"].item() == expected
    assert hits >= 17
