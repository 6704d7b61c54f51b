"""Cross-region comparison: Holm against statsmodels, bootstrap differences against normal theory,
ranking / wave pairing / pairwise flags on hand-built bundles, and bundle loading."""

from __future__ import annotations

import json
import re
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from csi_research import bundle as bundle_format
from csi_research.compare import (
    Bundle,
    compare,
    difference,
    holm,
    index_table,
    latest_waves,
    load_bundle,
    load_bundles,
    pairwise_differences,
    ranking,
    wave_changes,
)
from csi_research.errors import ModelSpecError

NAMES = {"beiling": "北岭", "donggang": "东港", "linxi": "临溪", "nanyu": "南屿"}
Z975 = stats.norm.ppf(0.975)


def make_bundle(
    region: str, wave: str, means: dict[str, float], sd: float | dict[str, float] = 1.0,
    n_draws: int = 2000, seed: int = 0, n: int = 300, draw_centres: dict[str, float] | None = None,
    target: str = "Satisfaction", ci: float = 0.95,
) -> Bundle:
    """A bundle whose bootstrap draws of each construct are N(centre, sd²) samples.

    ``means`` are the point indices; the draws are centred on them unless ``draw_centres`` says
    otherwise (as a real bootstrap distribution is centred near, not at, the estimate).
    """
    rng = np.random.default_rng(seed)
    sds = sd if isinstance(sd, dict) else dict.fromkeys(means, sd)
    centres = draw_centres or means
    draws = pd.DataFrame({c: rng.normal(centres[c], sds[c], n_draws) for c in means})
    indices = pd.DataFrame(
        {"index": means, "ci_lower": {c: m - Z975 * sds[c] for c, m in means.items()},
         "ci_upper": {c: m + Z975 * sds[c] for c, m in means.items()}}
    ).rename_axis("construct")
    study = {"region_id": region, "region_zh": NAMES[region], "region_en": region.title(), "wave": wave}
    results = {"study": study, "values": {"n": n, "target": target}, "ci": ci, "synthetic": True}
    return Bundle(path=Path(f"/bundles/{region}-{wave}"), results=results, indices=indices, draws=draws)


# ---------------------------------------------------------------- Holm
def test_holm_hand_computed():
    # sorted: .005*4=.02, .01*3=.03, .03*2=.06, .04*1=.04 -> running max .02 .03 .06 .06
    assert holm(np.array([0.01, 0.04, 0.03, 0.005])) == pytest.approx([0.03, 0.06, 0.06, 0.02], abs=1e-15)
    assert holm(np.array([0.6, 0.7])) == pytest.approx([1.0, 1.0])  # capped at 1


@pytest.mark.parametrize("seed", range(12))
def test_holm_equals_statsmodels_on_random_vectors_with_ties(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 40))
    p = rng.beta(0.5, 2.0, size=m)
    if seed % 2:
        p = np.round(p, 2)  # many ties
    if seed % 3 == 0:
        p[rng.integers(0, m)] = 0.0
        p[rng.integers(0, m)] = 1.0
    expected = multipletests(p, method="holm")[1]
    np.testing.assert_allclose(holm(p), expected, rtol=1e-12, atol=0)


def test_holm_all_tied_and_order_invariant():
    p = np.full(5, 0.01)
    np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1])
    rng = np.random.default_rng(5)
    q = rng.uniform(size=15)
    perm = rng.permutation(15)
    np.testing.assert_allclose(holm(q)[perm], holm(q[perm]))
    assert np.all(holm(q) >= q)


# ---------------------------------------------------------------- difference
def test_difference_interval_matches_normal_theory():
    sa, sb, k = 1.5, 2.0, 20_000
    a = make_bundle("beiling", "2026", {"Satisfaction": 70.0}, sd=sa, n_draws=k, seed=1)
    b = make_bundle("linxi", "2026", {"Satisfaction": 68.0}, sd=sb, n_draws=k, seed=2)
    out = difference(a, b, "Satisfaction")
    s = np.hypot(sa, sb)
    # SE of a sample 2.5% quantile of N(·, s²) from k draws: sqrt(p(1-p)/k) / density at the quantile
    se_q = np.sqrt(0.025 * 0.975 / k) / (stats.norm.pdf(Z975) / s)
    assert out["difference"] == pytest.approx(2.0)
    assert out["ci_lower"] == pytest.approx(2.0 - Z975 * s, abs=4 * se_q)
    assert out["ci_upper"] == pytest.approx(2.0 + Z975 * s, abs=4 * se_q)
    # two-sided p = 2 P(D <= 0), D ~ N(2, s²); the share of draws below 0 has binomial SE
    p_true = 2 * stats.norm.cdf(-2.0 / s)
    se_p = 2 * np.sqrt(p_true / 2 * (1 - p_true / 2) / k)
    assert out["p_value"] == pytest.approx(p_true, abs=4 * se_p)


def test_difference_is_antisymmetric():
    a = make_bundle("beiling", "2026", {"Satisfaction": 70.0}, seed=1)
    b = make_bundle("linxi", "2026", {"Satisfaction": 73.0}, seed=2)
    ab, ba = difference(a, b, "Satisfaction"), difference(b, a, "Satisfaction")
    assert ab["difference"] == pytest.approx(-ba["difference"])
    assert ab["ci_lower"] == pytest.approx(-ba["ci_upper"])
    assert ab["p_value"] == pytest.approx(ba["p_value"])


def test_five_sd_difference_has_the_smallest_possible_p_value():
    k = 2000
    a = make_bundle("beiling", "2026", {"Satisfaction": 80.0}, sd=np.sqrt(2), n_draws=k, seed=3)
    b = make_bundle("linxi", "2026", {"Satisfaction": 70.0}, sd=np.sqrt(2), n_draws=k, seed=4)
    out = difference(a, b, "Satisfaction")  # difference 10, SD of the difference 2: 5 SDs
    assert out["p_value"] == pytest.approx(2 / (k + 1))  # no draw on the far side of 0
    assert out["p_value"] < 0.001
    assert out["ci_lower"] > 0


def test_p_value_is_uniform_under_the_null():
    """200 replications with equal true indices: about 5 % rejections at 0.05, p-values ~ U(0, 1)."""
    rng = np.random.default_rng(2024)
    sa, sb, reps, k = 1.5, 2.0, 200, 1000
    p_values = []
    for r in range(reps):
        ea, eb = rng.normal(75.0, sa), rng.normal(75.0, sb)  # the two regions' estimates
        a = make_bundle("beiling", "2026", {"Satisfaction": ea}, sd=sa, n_draws=k, seed=2 * r + 10)
        b = make_bundle("linxi", "2026", {"Satisfaction": eb}, sd=sb, n_draws=k, seed=2 * r + 11)
        p_values.append(difference(a, b, "Satisfaction")["p_value"])
    rejections = int(np.sum(np.array(p_values) < 0.05))
    lo, hi = stats.binom.ppf([0.0005, 0.9995], reps, 0.05)  # 99.9 % binomial range: 2 to 21
    assert lo <= rejections <= hi
    assert stats.kstest(p_values, "uniform").pvalue > 0.001


def test_non_finite_draws_are_dropped():
    a = make_bundle("beiling", "2026", {"Satisfaction": 70.0}, seed=1)
    b = make_bundle("linxi", "2026", {"Satisfaction": 70.0}, seed=2)
    a.draws.loc[::20, "Satisfaction"] = np.nan  # failed bootstrap resamples
    out = difference(a, b, "Satisfaction")
    assert np.isfinite([out["ci_lower"], out["ci_upper"], out["p_value"]]).all()
    assert out["ci_lower"] < 0 < out["ci_upper"]


def test_difference_needs_enough_draws():
    a = make_bundle("beiling", "2026", {"Satisfaction": 70.0}, n_draws=50)
    b = make_bundle("linxi", "2026", {"Satisfaction": 70.0})
    with pytest.raises(ModelSpecError, match="only 50 bootstrap draws"):
        difference(a, b, "Satisfaction")
    c = make_bundle("beiling", "2026", {"Satisfaction": 70.0})
    c.draws["Satisfaction"] = np.nan
    with pytest.raises(ModelSpecError, match="only 0 finite bootstrap draws of Satisfaction"):
        difference(c, b, "Satisfaction")


def test_difference_of_unknown_construct_names_it():
    a = make_bundle("beiling", "2026", {"Satisfaction": 70.0})
    b = make_bundle("linxi", "2026", {"Satisfaction": 70.0})
    with pytest.raises(ModelSpecError, match="'Loyalty'"):
        difference(a, b, "Loyalty")


# ---------------------------------------------------------------- ranking, waves, pairs
def regions() -> list[Bundle]:
    sat_loy = [
        ("donggang", "2025", 85.0, 60.0), ("donggang", "2026", 76.0, 74.0),
        ("beiling", "2026", 70.0, 80.0), ("linxi", "2026", 80.0, 65.0),
    ]
    return [
        make_bundle(r, w, {"Satisfaction": s, "Loyalty": lo}, seed=k, n=100 + k)
        for k, (r, w, s, lo) in enumerate(sat_loy)
    ]


def test_ranking_orders_latest_waves_by_index():
    table = ranking(regions()[::-1])
    assert list(table["region"]) == ["Linxi 2026", "Donggang 2026", "Beiling 2026"]  # not Donggang 2025's 85
    assert list(table["rank"]) == [1, 2, 3]
    assert list(table["index"]) == [80.0, 76.0, 70.0]
    assert list(table["n"]) == [103, 101, 102]
    assert table.loc[0, "ci_lower"] == pytest.approx(80.0 - Z975)
    assert table.loc[0, "ci_upper"] == pytest.approx(80.0 + Z975)
    by_loyalty = ranking(regions(), "Loyalty", language="zh")
    assert list(by_loyalty["region"]) == ["北岭 2026", "东港 2026", "临溪 2026"]


def test_latest_wave_compares_waves_not_input_order():
    bundles = regions()
    assert [b.label() for b in latest_waves(bundles)] == ["Beiling 2026", "Donggang 2026", "Linxi 2026"]
    assert [b.label() for b in latest_waves(bundles[::-1])] == ["Beiling 2026", "Donggang 2026", "Linxi 2026"]


def test_index_table_has_every_region_wave():
    table = index_table(regions())
    assert list(table.columns) == ["Donggang 2025", "Donggang 2026", "Beiling 2026", "Linxi 2026"]
    assert table.loc["Loyalty", "Beiling 2026"] == 80.0


def test_wave_changes_pair_consecutive_waves_of_one_region():
    dg = [
        make_bundle("donggang", w, {"Satisfaction": s, "Image": 70.0}, seed=k)
        for k, (w, s) in enumerate([("2027", 90.0), ("2025", 70.0), ("2026", 80.0)])
    ]
    other = make_bundle("beiling", "2026", {"Satisfaction": 10.0, "Image": 10.0}, seed=9)
    table = wave_changes([dg[0], other, dg[1], dg[2]])
    assert set(table["region"]) == {"Donggang"}
    assert sorted(set(zip(table["from_wave"], table["to_wave"], strict=True))) == [
        ("2025", "2026"), ("2026", "2027")]
    assert len(table) == 4  # 2 pairs × 2 constructs
    sat = table[table["construct"] == "Satisfaction"].set_index("to_wave")
    assert sat.loc["2026", "difference"] == pytest.approx(10.0)  # later minus earlier
    assert sat.loc["2027", "difference"] == pytest.approx(10.0)
    assert sat["significant"].all()  # 10 points with SD of the change sqrt(2)
    img = table[table["construct"] == "Image"]
    assert (img["difference"] == 0).all()
    assert ((img["ci_lower"] < 0) & (img["ci_upper"] > 0)).all()
    assert not img["significant"].any()


def test_wave_changes_empty_without_repeated_waves():
    assert wave_changes(regions()[1:]).empty


def test_wave_changes_skip_constructs_absent_from_one_wave():
    before = make_bundle("donggang", "2025", {"Satisfaction": 70.0}, seed=1)
    after = make_bundle("donggang", "2026", {"Satisfaction": 72.0, "Loyalty": 60.0}, seed=2)
    assert list(wave_changes([before, after])["construct"]) == ["Satisfaction"]


def test_pairwise_differences_flag_distinguishable_pairs():
    bundles = [
        make_bundle("beiling", "2026", {"Satisfaction": 80.0}, seed=1),
        make_bundle("donggang", "2026", {"Satisfaction": 80.2}, seed=2),
        make_bundle("linxi", "2026", {"Satisfaction": 70.0}, seed=3),
        make_bundle("linxi", "2025", {"Satisfaction": 95.0}, seed=4),  # older wave: not compared
    ]
    table = pairwise_differences(bundles)
    assert len(table) == 3
    pairs = dict(zip(zip(table["region_a"], table["region_b"], strict=True), table["distinguishable"],
                     strict=True))
    assert pairs == {("Beiling 2026", "Donggang 2026"): False, ("Beiling 2026", "Linxi 2026"): True,
                     ("Donggang 2026", "Linxi 2026"): True}
    np.testing.assert_allclose(table["p_holm"], multipletests(table["p_value"], method="holm")[1])
    assert (table["p_holm"] >= table["p_value"]).all()


def test_distinguishable_uses_the_holm_adjusted_p_value():
    """Neighbours 3 points apart (z = 3/√2 ≈ 2.1, p ≈ 0.034) pass alone but not after Holm (×2)."""
    bundles = [
        make_bundle(r, "2026", {"Satisfaction": m}, n_draws=20_000, seed=k)
        for k, (r, m) in enumerate([("beiling", 80.0), ("donggang", 83.0), ("linxi", 86.0)])
    ]
    table = pairwise_differences(bundles).set_index(["region_a", "region_b"])
    neighbours = [("Beiling 2026", "Donggang 2026"), ("Donggang 2026", "Linxi 2026")]
    assert (table.loc[neighbours, "p_value"] < 0.05).all()
    assert not table.loc[neighbours, "distinguishable"].any()
    assert table.loc[("Beiling 2026", "Linxi 2026"), "distinguishable"]


def test_pairwise_differences_need_two_regions():
    one = [make_bundle("beiling", w, {"Satisfaction": 80.0}, seed=k) for k, w in enumerate(["2025", "2026"])]
    assert pairwise_differences(one).empty


def test_compare_collects_all_tables_and_saves_them_once(tmp_path):
    result = compare(regions())
    assert set(result.tables()) == {"ranking", "indices", "pairwise", "waves"}
    assert len(result.pairwise) == len(list(combinations(range(3), 2)))
    assert result.synthetic
    folder = result.save(tmp_path / "cmp")
    assert sorted(p.name for p in folder.iterdir()) == [
        "indices.csv", "pairwise.csv", "ranking.csv", "waves.csv"]
    with pytest.raises(FileExistsError):
        result.save(folder)
    with pytest.raises(ModelSpecError, match="no study bundles"):
        compare([])


# ---------------------------------------------------------------- target, levels, both verdicts
def test_default_construct_is_the_bundles_common_target():
    bundles = [
        make_bundle(r, "2026", {"Satisfaction": s, "Loyalty": lo}, seed=k, target="Loyalty")
        for k, (r, s, lo) in enumerate(
            [("beiling", 70.0, 80.0), ("donggang", 76.0, 74.0), ("linxi", 80.0, 65.0)])
    ]
    assert list(ranking(bundles)["index"]) == [80.0, 74.0, 65.0]  # Loyalty, not Satisfaction
    assert list(pairwise_differences(bundles)["difference"]) == pytest.approx([6.0, 15.0, 9.0])
    result = compare(bundles)
    assert result.construct == "Loyalty"
    assert list(compare(bundles, construct="Satisfaction").ranking["index"]) == [80.0, 76.0, 70.0]


def test_bundles_with_different_targets_need_an_explicit_construct():
    bundles = [
        make_bundle("beiling", "2026", {"Satisfaction": 70.0, "Loyalty": 80.0}, seed=1),
        make_bundle("donggang", "2026", {"Satisfaction": 76.0, "Loyalty": 74.0}, seed=2, target="Loyalty"),
        make_bundle("linxi", "2026", {"Satisfaction": 80.0, "Loyalty": 65.0}, seed=3),
    ]
    for call in (ranking, pairwise_differences, compare):
        with pytest.raises(ModelSpecError, match="different target constructs") as info:
            call(bundles)
        message = str(info.value)
        for b in bundles:
            assert str(b.path) in message
        assert "Satisfaction" in message and "Loyalty" in message
    assert compare(bundles, construct="Loyalty").construct == "Loyalty"
    assert list(ranking(bundles, "Satisfaction")["region"]) == ["Linxi 2026", "Donggang 2026", "Beiling 2026"]


def test_comparison_level_and_intervals_at_the_requested_ci():
    bundles = regions()
    result = compare(bundles, ci=0.9)
    assert result.ci == 0.9
    assert (result.pairwise["level"] == 0.9).all()
    assert (result.waves["level"] == 0.9).all()
    # the 90 % percentile interval of each difference, from the raw draws by hand
    by_label = {b.label(): b for b in latest_waves(bundles)}
    for row in result.pairwise.itertuples():
        d = (by_label[row.region_a].draws["Satisfaction"].to_numpy()
             - by_label[row.region_b].draws["Satisfaction"].to_numpy())
        assert (row.ci_lower, row.ci_upper) == pytest.approx(tuple(np.quantile(d, [0.05, 0.95])), abs=1e-12)
    dg = {b.wave: b for b in bundles if b.region == "donggang"}
    change = dg["2026"].draws["Loyalty"].to_numpy() - dg["2025"].draws["Loyalty"].to_numpy()
    row = result.waves.set_index("construct").loc["Loyalty"]
    expected = tuple(np.quantile(change, [0.05, 0.95]))
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx(expected, abs=1e-12)
    assert compare(bundles).ci == 0.95
    for bad in (95, 0.0, 1.0, True):
        with pytest.raises(ModelSpecError, match="coverage level"):
            compare(bundles, ci=bad)


def test_ranking_level_is_each_bundles_own_ci():
    bundles = [
        make_bundle("beiling", "2026", {"Satisfaction": 70.0}, seed=1, ci=0.9),
        make_bundle("linxi", "2026", {"Satisfaction": 80.0}, seed=2),
    ]
    table = ranking(bundles)
    assert list(zip(table["region"], table["level"], strict=True)) == [
        ("Linxi 2026", 0.95), ("Beiling 2026", 0.9)]
    assert compare(bundles, ci=0.8).ranking["level"].tolist() == [0.95, 0.9]  # not the comparison's ci


def test_pairwise_reports_the_unadjusted_interval_verdict_beside_the_holm_one():
    bundles = [
        make_bundle(r, "2026", {"Satisfaction": m}, n_draws=20_000, seed=k)
        for k, (r, m) in enumerate([("beiling", 80.0), ("donggang", 83.0), ("linxi", 86.0)])
    ]
    table = pairwise_differences(bundles).set_index(["region_a", "region_b"])
    by_hand = (table["ci_lower"] > 0) | (table["ci_upper"] < 0)
    assert table["excludes_zero"].tolist() == by_hand.tolist()
    assert table["excludes_zero"].all()  # 3 points apart, SD of the difference √2: each interval clears 0
    neighbours = [("Beiling 2026", "Donggang 2026"), ("Donggang 2026", "Linxi 2026")]
    assert not table.loc[neighbours, "distinguishable"].any()  # ... but not after Holm
    assert (table["level"] == 0.95).all()


# ---------------------------------------------------------------- loading bundles
def write_bundle(folder: Path, bundle: Bundle) -> Path:
    """Write ``bundle`` the way a saved study does: dumps_json'd results.json and index_draws.csv."""
    records = [
        {"construct": c, "label_zh": c, "label_en": c, "index": r["index"], "ci_lower": r["ci_lower"],
         "ci_upper": r["ci_upper"], "se": 1.0, "n": 300}
        for c, r in bundle.indices.iterrows()
    ]
    results = {**bundle.results, "tables": {"indices": records}}
    return bundle_format.write_bundle(folder, results, bundle.draws, {})


def test_load_bundle_round_trip(tmp_path):
    built = make_bundle("linxi", "2026", {"Satisfaction": 80.0, "Loyalty": 65.5}, seed=7)
    loaded = load_bundle(write_bundle(tmp_path / "linxi", built))
    assert loaded.path == tmp_path / "linxi"
    assert (loaded.region, loaded.wave, loaded.label(), loaded.label("zh")) == (
        "linxi", "2026", "Linxi 2026", "临溪 2026")
    assert list(loaded.indices.index) == ["Satisfaction", "Loyalty"]
    assert loaded.indices.at["Loyalty", "index"] == 65.5
    np.testing.assert_allclose(loaded.draws.to_numpy(), built.draws.to_numpy(), rtol=1e-9)
    other = load_bundle(write_bundle(tmp_path / "beiling", make_bundle("beiling", "2026",
                                                                        {"Satisfaction": 70.0}, seed=8)))
    assert difference(loaded, other, "Satisfaction")["difference"] == pytest.approx(10.0)


def test_load_bundles_sorts_by_region_then_wave(tmp_path):
    folders = [write_bundle(tmp_path / f"b{k}", b) for k, b in enumerate(regions())]
    loaded = load_bundles(folders)
    assert [(b.region, b.wave) for b in loaded] == [
        ("beiling", "2026"), ("donggang", "2025"), ("donggang", "2026"), ("linxi", "2026")]
    assert list(ranking(loaded)["region"]) == ["Linxi 2026", "Donggang 2026", "Beiling 2026"]


def test_folder_that_is_not_a_bundle(tmp_path):
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "empty", tmp_path / "absent"):
        with pytest.raises(ModelSpecError, match=re.escape("not a study bundle (no results.json)")) as info:
            load_bundle(folder)
        assert str(folder) in str(info.value)


def broken(tmp_path: Path, edit) -> str:
    folder = write_bundle(tmp_path / "b", make_bundle("linxi", "2026", {"Satisfaction": 80.0}))
    edit(folder)
    with pytest.raises(ModelSpecError) as info:
        load_bundle(folder)
    assert str(folder) in str(info.value)
    return str(info.value)


def rewrite_results(change):
    def edit(folder: Path) -> None:
        results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        change(results)
        (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
    return edit


def add_index_record(construct: str):
    def change(results: dict) -> None:
        records = results["tables"]["indices"]
        records.append({**records[0], "construct": construct})
    return change


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda f: (f / "index_draws.csv").unlink(), "index_draws.csv"),
    (lambda f: (f / "index_draws.csv").write_text("", encoding="utf-8"), "not a readable study bundle"),
    (lambda f: (f / "results.json").write_text("{not json", encoding="utf-8"), "not a readable study bundle"),
    (lambda f: (f / "results.json").write_text("[1, 2]", encoding="utf-8"), "JSON object"),
    (rewrite_results(lambda r: r.pop("tables")), "tables.indices"),
    (rewrite_results(lambda r: r["tables"].update(indices=[])), "tables.indices"),
    (rewrite_results(lambda r: r["study"].pop("region_id")), "study.{region_id"),
    (rewrite_results(lambda r: r.pop("values")), "values.{n, target}"),
    (rewrite_results(lambda r: r["values"].pop("target")), "values.{n, target}"),
    (rewrite_results(lambda r: r.pop("ci")), "needs ci"),
    (rewrite_results(lambda r: r["tables"]["indices"][0].pop("ci_upper")), "lack ci_upper"),
    (rewrite_results(add_index_record("Trust")), "index_draws.csv has no column for Trust"),
    (rewrite_results(lambda r: r["values"].update(target="Trust")),
     "no record for the target construct 'Trust'"),
    (rewrite_results(lambda r: r.update(ci=95)), "needs ci"),
])
def test_incomplete_bundle_says_what_is_missing(tmp_path, edit, expected):
    assert expected in broken(tmp_path, edit)
