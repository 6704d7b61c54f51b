"""Cross-region comparison: bootstrap differences against normal theory, the p-value that inverts
the percentile interval (by hand and on random draws), rankings and pairs within one wave only,
Bonferroni intervals that agree with the verdict and the adjusted p-value, and bundle loading."""

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

from csi_research.core.errors import ModelSpecError
from csi_research.programme.compare import (
    PAIRWISE_COLUMNS,
    compare,
    index_table,
    pairwise_differences,
    ranking,
    wave_changes,
)
from csi_research.stats.intervals import percentile_p_value
from csi_research.study import bundle as bundle_format
from csi_research.study.bundle import Bundle, difference, load_bundle, load_bundles
from csi_research.study.waves import latest_wave

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




# ---------------------------------------------------------------- the bootstrap p-value
def test_p_value_by_hand_on_five_draws():
    # sorted (−1, 1, 2, 3, 4), positions 0..4: the interpolated quantile crosses 0 halfway between
    # −1 and 1, at position 0.5 of 4, so p = 2 · 0.5 / 4 = 0.25; the level-(1 − a) interval's lower
    # bound sits at position 4 · a/2 = 2a, which is past 0.5 exactly when a > 0.25
    d = np.array([3.0, -1.0, 4.0, 1.0, 2.0])
    assert percentile_p_value(d) == pytest.approx(0.25)
    for a, excludes in [(0.2, False), (0.3, True)]:
        lower = np.quantile(d, a / 2)
        assert (lower > 0) == excludes
    assert percentile_p_value(-d) == pytest.approx(0.25)  # two-sided
    # (−2, 0, 0, 1, 3): zero is held from position 1 to 2; no level lets the interval leave 0: p = 1
    assert percentile_p_value(np.array([0.0, -2.0, 3.0, 0.0, 1.0])) == 1.0
    assert percentile_p_value(np.zeros(7)) == 1.0
    # every draw on one side: the interval excludes 0 at every level
    assert percentile_p_value(np.array([0.5, 1.0, 2.0])) == 0.0
    assert percentile_p_value(np.array([-0.5, -1.0, -2.0])) == 0.0
    # (−1, 3) on two draws: the crossing is at position 1/4 of 1, so p = 0.5
    assert percentile_p_value(np.array([-1.0, 3.0])) == pytest.approx(0.5)


@pytest.mark.parametrize("seed", range(4))
def test_p_value_below_one_minus_level_exactly_when_the_interval_excludes_zero(seed):
    """On 500 random sets of draws (some rounded, so with ties and exact zeros) and many levels."""
    rng = np.random.default_rng(seed)
    for _ in range(500):
        d = rng.normal(rng.normal(0, 3), rng.uniform(0.5, 3), int(rng.integers(100, 3000)))
        if rng.random() < 0.3:
            d = np.round(d)
        p = percentile_p_value(d)
        for a in (0.2, 0.1, 0.05, 0.01, 0.05 / 6, 0.05 / 45):
            lower, upper = np.quantile(d, [a / 2, 1 - a / 2])
            assert (p < a) == (lower > 0 or upper < 0), (p, a, lower, upper)


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


def test_no_draw_beyond_zero_gives_p_zero():
    k = 2000
    a = make_bundle("beiling", "2026", {"Satisfaction": 80.0}, sd=np.sqrt(2), n_draws=k, seed=3)
    b = make_bundle("linxi", "2026", {"Satisfaction": 70.0}, sd=np.sqrt(2), n_draws=k, seed=4)
    out = difference(a, b, "Satisfaction")  # difference 10, SD of the difference 2: 5 SDs
    d = a.draws["Satisfaction"].to_numpy() - b.draws["Satisfaction"].to_numpy()
    assert d.min() > 0  # no draw on the far side of 0 ...
    assert out["p_value"] == 0.0  # ... so the percentile interval excludes 0 at every level
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


def test_ranking_ranks_within_each_wave():
    table = ranking(regions()[::-1])
    assert list(table.columns) == ["wave", "rank", "region", "index", "ci_lower", "ci_upper", "level", "n"]
    # Donggang 2025's 85 is ranked in 2025 only, never against the 2026 regions
    assert list(zip(table["wave"], table["rank"], table["region"], strict=True)) == [
        ("2025", 1, "Donggang"), ("2026", 1, "Linxi"), ("2026", 2, "Donggang"), ("2026", 3, "Beiling")]
    assert list(table["index"]) == [85.0, 80.0, 76.0, 70.0]
    assert list(table["n"]) == [100, 103, 101, 102]
    assert table.loc[1, "ci_lower"] == pytest.approx(80.0 - Z975)
    assert table.loc[1, "ci_upper"] == pytest.approx(80.0 + Z975)
    by_loyalty = ranking(regions(), "Loyalty", language="zh")
    assert list(by_loyalty["region"]) == ["东港", "北岭", "东港", "临溪"]
    assert list(by_loyalty["rank"]) == [1, 1, 2, 3]


def test_ranking_of_one_wave_and_the_latest_wave():
    bundles = regions()
    assert latest_wave(bundles) == latest_wave(bundles[::-1]) == "2026"
    latest = ranking(bundles, wave=latest_wave(bundles))
    assert list(latest["region"]) == ["Linxi", "Donggang", "Beiling"] and set(latest["wave"]) == {"2026"}
    assert list(ranking(bundles, wave="2025")["region"]) == ["Donggang"]
    with pytest.raises(ModelSpecError, match="no bundle of wave '2024'"):
        ranking(bundles, wave="2024")
    # waves order as numbers where they are numbers
    nine = [make_bundle("linxi", w, {"Satisfaction": 70.0}, seed=k) for k, w in enumerate(["9", "10"])]
    assert latest_wave(nine) == "10" and list(ranking(nine)["wave"]) == ["9", "10"]


def test_one_region_twice_in_a_wave_is_refused():
    twice = [make_bundle("linxi", "2026", {"Satisfaction": 70.0}, seed=k) for k in range(2)]
    for call in (ranking, pairwise_differences, compare):
        with pytest.raises(ModelSpecError, match="two bundles for region linxi wave 2026"):
            call(twice)


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

def test_pairwise_differences_compare_pairs_within_a_wave():
    bundles = [
        make_bundle("beiling", "2026", {"Satisfaction": 80.0}, seed=1),
        make_bundle("donggang", "2026", {"Satisfaction": 80.2}, seed=2),
        make_bundle("linxi", "2026", {"Satisfaction": 70.0}, seed=3),
        make_bundle("linxi", "2025", {"Satisfaction": 95.0}, seed=4),  # alone in 2025: no pair
        make_bundle("nanyu", "2025", {"Satisfaction": 93.0}, seed=5),
    ]
    table = pairwise_differences(bundles)
    assert list(table.columns) == PAIRWISE_COLUMNS
    assert list(zip(table["wave"], table["region_a"], table["region_b"], strict=True)) == [
        ("2025", "Linxi", "Nanyu"),
        ("2026", "Beiling", "Donggang"), ("2026", "Beiling", "Linxi"), ("2026", "Donggang", "Linxi")]
    assert table["difference"].tolist() == pytest.approx([2.0, -0.2, 10.0, 10.2])
    assert table["distinguishable"].tolist() == [False, False, True, True]
    # the families: 1 pair in 2025 (no adjustment), 3 in 2026
    assert table["adjusted_level"].tolist() == pytest.approx([0.95, 1 - 0.05 / 3, 1 - 0.05 / 3, 1 - 0.05 / 3])
    assert (table["level"] == 0.95).all()
    for _, part in table.groupby("wave"):
        np.testing.assert_allclose(part["p_adjusted"],
                                   multipletests(part["p_value"], method="bonferroni")[1])


def test_intervals_p_values_and_verdicts_use_one_adjustment_by_hand():
    """Neighbours 3 points apart (SD of the difference √2): each unadjusted 95 % interval clears 0,
    but not the Bonferroni interval of the family of 3 (level 1 − 0.05/3), nor p × 3."""
    bundles = [
        make_bundle(r, "2026", {"Satisfaction": m}, n_draws=20_000, seed=k)
        for k, (r, m) in enumerate([("beiling", 80.0), ("donggang", 83.0), ("linxi", 86.0)])
    ]
    by_name = {b.name(): b.draws["Satisfaction"].to_numpy() for b in bundles}
    table = pairwise_differences(bundles).set_index(["region_a", "region_b"])
    a = 0.05 / 3
    for (ra, rb), row in table.iterrows():
        d = by_name[ra] - by_name[rb]
        lower, upper = np.quantile(d, [a / 2, 1 - a / 2])  # the interval shown is the adjusted one
        assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((lower, upper), abs=1e-12)
        assert row["distinguishable"] == (lower > 0 or upper < 0)
        assert row["p_adjusted"] == pytest.approx(min(1.0, 3 * row["p_value"]))
        assert row["distinguishable"] == (row["p_adjusted"] < 0.05)
    neighbours = [("Beiling", "Donggang"), ("Donggang", "Linxi")]
    for ra, rb in neighbours:
        d = by_name[ra] - by_name[rb]
        assert np.quantile(d, 0.975) < 0  # unadjusted: would be called a difference
    # z = 3/√2 = 2.12: p ≈ 0.034 alone, ≈ 0.10 after Bonferroni
    assert (table.loc[neighbours, "p_value"] < 0.05).all()
    assert (table.loc[neighbours, "p_adjusted"] > 0.05).all()
    assert not table.loc[neighbours, "distinguishable"].any()
    assert table.loc[("Beiling", "Linxi"), "distinguishable"]  # 6 points: z = 4.2
    # normal theory for the adjusted bounds: 3 ± z(1 − a/2) · √2, up to the draws' noise
    z = stats.norm.ppf(1 - a / 2)
    row = table.loc[("Beiling", "Donggang")]
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((-3 - z * np.sqrt(2), -3 + z * np.sqrt(2)),
                                                               abs=0.15)


@pytest.mark.parametrize("seed", range(6))
def test_verdict_interval_and_adjusted_p_agree_on_random_families(seed):
    rng = np.random.default_rng(seed)
    for _ in range(15):
        names = list(NAMES)[: int(rng.integers(2, 5))]
        ci = float(rng.choice([0.8, 0.9, 0.95, 0.99]))
        bundles = [
            make_bundle(r, "2026", {"Satisfaction": float(rng.normal(75, 3))}, sd=float(rng.uniform(0.5, 3)),
                        n_draws=int(rng.integers(100, 1500)), seed=int(rng.integers(1 << 30)),
                        draw_centres={"Satisfaction": float(rng.normal(75, 3))})
            for r in names
        ]
        if rng.random() < 0.3:  # discrete draws: ties and exact zeros in the differences
            for b in bundles:
                b.draws["Satisfaction"] = np.round(b.draws["Satisfaction"])
        table = pairwise_differences(bundles, ci=ci)
        m = len(names) * (len(names) - 1) // 2
        assert len(table) == m
        excludes = (table["ci_lower"] > 0) | (table["ci_upper"] < 0)
        assert table["distinguishable"].tolist() == excludes.tolist()
        assert table["distinguishable"].tolist() == (table["p_adjusted"] < 1 - ci).tolist()
        np.testing.assert_allclose(table["p_adjusted"], np.minimum(1, m * table["p_value"]))
        assert table["adjusted_level"].tolist() == pytest.approx([1 - (1 - ci) / m] * m)


def test_few_draws_for_the_adjusted_level_are_noted():
    # 4 regions: 6 pairs, a = 0.05/6; 1000 draws leave 1000 · a/2 = 4.2 beyond each bound (< 5)
    few = [make_bundle(r, "2026", {"Satisfaction": 75.0}, n_draws=1000, seed=k) for k, r in enumerate(NAMES)]
    notes = compare(few).diagnostics
    assert len(notes) == 1 and "4.2 of 1000 bootstrap draws" in notes[0] and "at least 1200 draws" in notes[0]
    enough = [make_bundle(r, "2026", {"Satisfaction": 75.0}, n_draws=2000, seed=k)
              for k, r in enumerate(NAMES)]
    assert compare(enough).diagnostics == []


def test_pairwise_differences_need_two_regions_in_a_wave():
    one = [make_bundle("beiling", w, {"Satisfaction": 80.0}, seed=k) for k, w in enumerate(["2025", "2026"])]
    table = pairwise_differences(one)
    assert table.empty and list(table.columns) == PAIRWISE_COLUMNS


def test_compare_collects_all_tables_and_saves_them_once(tmp_path):
    result = compare(regions())
    assert set(result.tables()) == {"ranking", "indices", "pairwise", "waves"}
    assert len(result.pairwise) == len(list(combinations(range(3), 2)))  # the three 2026 regions
    assert result.synthetic
    folder = result.save(tmp_path / "cmp")
    assert sorted(p.name for p in folder.iterdir()) == [
        "indices.csv", "pairwise.csv", "ranking.csv", "tables.xlsx", "waves.csv"]
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(FileExistsError):
        result.save(folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    with pytest.raises(ModelSpecError, match="no study bundles"):
        compare([])


# ---------------------------------------------------------------- target, levels
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
    assert list(ranking(bundles, "Satisfaction")["region"]) == ["Linxi", "Donggang", "Beiling"]


def test_comparison_level_and_intervals_at_the_requested_ci():
    bundles = regions()
    result = compare(bundles, ci=0.9)
    assert result.ci == 0.9
    assert (result.pairwise["level"] == 0.9).all()
    assert (result.waves["level"] == 0.9).all()
    # the pairs of 2026 (3 of them): 90 % for the family, each interval at 1 − 0.1/3, from the raw draws
    by_name = {b.name(): b for b in bundles if b.wave == "2026"}
    a = 0.1 / 3
    for row in result.pairwise.itertuples():
        d = (by_name[row.region_a].draws["Satisfaction"].to_numpy()
             - by_name[row.region_b].draws["Satisfaction"].to_numpy())
        expected = tuple(np.quantile(d, [a / 2, 1 - a / 2]))
        assert (row.ci_lower, row.ci_upper) == pytest.approx(expected, abs=1e-12)
        assert row.adjusted_level == pytest.approx(1 - a)
    # a wave change is one comparison: its 90 % interval is not adjusted
    dg = {b.wave: b for b in bundles if b.region == "donggang"}
    change = dg["2026"].draws["Loyalty"].to_numpy() - dg["2025"].draws["Loyalty"].to_numpy()
    row = result.waves.set_index("construct").loc["Loyalty"]
    expected = tuple(np.quantile(change, [0.05, 0.95]))
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx(expected, abs=1e-12)
    assert row["significant"] == (row["p_value"] < 0.1)
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
    assert list(zip(table["region"], table["level"], strict=True)) == [("Linxi", 0.95), ("Beiling", 0.9)]
    assert compare(bundles, ci=0.8).ranking["level"].tolist() == [0.95, 0.9]  # not the comparison's ci


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
    assert list(ranking(loaded)["region"]) == ["Donggang", "Linxi", "Donggang", "Beiling"]


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


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_report_counts_pairs_of_a_large_wave_and_lists_those_of_a_small_one(language):
    """300 regions make 44,850 pairs: the report counts the real ones and points at the table."""
    from types import SimpleNamespace

    from csi_research.programme.compare import PAIRWISE_COLUMNS
    from csi_research.reporting.comparison import PAIRS_LISTED, pairwise

    def wave(name: str, regions: int) -> pd.DataFrame:
        pairs = list(combinations([f"{name}-r{k}" for k in range(regions)], 2))
        real = [k % 7 == 0 for k in range(len(pairs))]
        return pd.DataFrame({"wave": name, "region_a": [a for a, _ in pairs],
                             "region_b": [b for _, b in pairs], "difference": 1.0, "ci_lower": 0.5,
                             "ci_upper": 1.5, "level": 0.95,
                             "adjusted_level": 0.999, "p_value": 0.001, "p_adjusted": 0.01,
                             "distinguishable": real})[PAIRWISE_COLUMNS]

    big, small = wave("2026", PAIRS_LISTED + 1), wave("2025", 3)
    html = pairwise(SimpleNamespace(pairwise=pd.concat([small, big])), language).html
    later = html.split(">2026<")[1]
    assert "<table" not in later and "2026-r0 −" not in later
    real = int(big["distinguishable"].sum())
    assert (f"{real} / {len(big)} 对" if language == "zh" else f"{real} of {len(big)} pairs") in later
    assert "pairwise.csv" in later
    earlier = html.split(">2026<")[0]
    assert earlier.count("<table") == 1 and "2025-r0 − 2025-r1" in earlier


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_heatmap_gives_way_to_a_note_beyond_what_it_can_show(language):
    from types import SimpleNamespace

    from csi_research.reporting.comparison import HEATMAP_COLUMNS, heatmap

    def comparison(columns: int) -> SimpleNamespace:
        indices = pd.DataFrame(np.linspace(60, 90, 2 * columns).reshape(2, columns),
                               index=["Satisfaction", "Loyalty"],
                               columns=[f"r{k} 2026" for k in range(columns)])
        bundle = SimpleNamespace(results={"values": {"index_target": 80.0}})
        return SimpleNamespace(indices=indices, bundles=[bundle])

    assert "<img" in heatmap(comparison(HEATMAP_COLUMNS), language).html
    many = heatmap(comparison(HEATMAP_COLUMNS + 1), language).html
    assert "<img" not in many and "indices.csv" in many and str(HEATMAP_COLUMNS + 1) in many


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_wave_of_many_regions_is_ranked_one_line_per_region_or_in_the_national_section(language):
    """Bars for a few regions; beyond RANKING_BARS a bar chart would be hundreds of inches wide."""
    import base64
    import struct
    from types import SimpleNamespace

    from csi_research.render.plots import PRINT_DPI
    from csi_research.reporting.comparison import RANKING_BARS, ranking_figures

    def wave(name: str, regions: int) -> pd.DataFrame:
        index = np.linspace(90, 60, regions)
        return pd.DataFrame({"wave": name, "rank": np.arange(1, regions + 1),
                             "region": [f"{name}-r{k}" for k in range(regions)], "index": index,
                             "ci_lower": index - 2, "ci_upper": index + 2, "level": 0.95, "n": 400})

    def widths(html: str) -> list[float]:  # printed widths (inches) of the embedded PNGs: IHDR pixels / dpi
        return [struct.unpack(">I", base64.b64decode(data)[16:20])[0] / PRINT_DPI
                for data in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)]

    bundle = SimpleNamespace(results={"values": {"index_target": 80.0}})
    ranking = pd.concat([wave("2025", RANKING_BARS), wave("2026", RANKING_BARS + 1)], ignore_index=True)
    alone = ranking_figures(SimpleNamespace(ranking=ranking, bundles=[bundle], national=None), language).html
    bars, lines = widths(alone)
    assert bars < 14 and lines < 7.5  # bars for RANKING_BARS regions, then one line per region
    national = {"ranking": ranking[ranking["wave"] == "2026"]}
    html = ranking_figures(SimpleNamespace(ranking=ranking, bundles=[bundle], national=national),
                           language).html
    assert len(widths(html)) == 1  # 2026's ranking is drawn by province in the national section
    note = ("2026 年共 13 个地区" if language == "zh" else "2026: 13 regions, too many")
    below = "全国汇总" if language == "zh" else "national roll-up"
    assert RANKING_BARS == 12 and note in html and below in html


def _with_cbsem(bundle: Bundle, estimator: str, information: str, *, missing: str = "em", imputed: int = 0,
                weighted: bool = False, admissible: bool = True, chi2: float = 450.0) -> Bundle:
    values = {**bundle.results["values"], "cbsem_estimator": estimator, "cbsem_information": information,
              "missing": missing, "n_imputed": imputed, "weighted": weighted, "cbsem_admissible": admissible}
    fit = [{"measure": m, "value": v} for m, v in
           {"chi2": chi2, "df": 393, "cfi": 0.99, "tli": 0.98, "rmsea": 0.02, "srmr": 0.03}.items()]
    results = {**bundle.results, "values": values, "tables": {"cbsem_fit": fit}}
    return Bundle(path=bundle.path, results=results, indices=bundle.indices, draws=bundle.draws)


def _cbsem_bundles() -> list[Bundle]:
    means = {"Satisfaction": 80.0}
    return [
        _with_cbsem(make_bundle("beiling", "2025", means), "FIML", "observed", imputed=206, chi2=477.5),
        _with_cbsem(make_bundle("donggang", "2025", means), "ML", "expected"),
        _with_cbsem(make_bundle("linxi", "2025", means), "ML", "expected", imputed=12, weighted=True),
        _with_cbsem(make_bundle("nanyu", "2025", means), "ML", "expected", admissible=False),
        make_bundle("donggang", "2026", means),  # an older bundle: no record of its estimator
    ]


def test_the_cbsem_table_says_each_studys_estimator_standard_errors_and_fit():
    from csi_research.programme.compare import CBSEM_COLUMNS, cbsem_table

    table = cbsem_table(_cbsem_bundles())
    assert list(table.columns) == CBSEM_COLUMNS
    assert table["region"].tolist() == ["Beiling", "Donggang", "Linxi", "Nanyu"]  # the 2026 one unrecorded
    assert table["estimator"].tolist() == ["FIML", "ML", "ML", "ML"]
    assert table["information"].tolist() == ["observed", "expected", "expected", "expected"]
    assert table["n_imputed"].tolist() == [206, 0, 12, 0]
    assert table["admissible"].tolist() == [True, True, True, False]
    assert table.loc[0, "chi2"] == 477.5 and table.loc[0, "df"] == 393
    assert "cbsem" in compare(_cbsem_bundles()).tables()
    assert "cbsem" not in compare([make_bundle("beiling", "2025", {"Satisfaction": 80.0}),
                                   make_bundle("nanyu", "2025", {"Satisfaction": 70.0})]).tables()


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_comparison_report_names_the_estimator_and_standard_errors_behind_each_cbsem_row(language):
    from csi_research.reporting.comparison import cbsem

    html = cbsem(compare(_cbsem_bundles(), language=language), language).html
    lines = dict(re.findall(r"<li>(.*?)：(.*?)</li>" if language == "zh" else r"<li>(.*?): (.*?)</li>", html))
    if language == "zh":
        assert lines["完全信息极大似然（FIML）"].startswith("北岭 2025。") and "观测信息矩阵" in html
        assert lines["极大似然（ML）"].startswith("东港 2025、南屿 2025。")
        assert lines["极大似然（ML），EM 补全"].startswith("临溪 2025。")
        assert lines["按调查权重加权（伪极大似然）"].startswith("临溪 2025")
        assert lines["解不可接受"].startswith("南屿 2025。")
        assert "估计方法" in html and "标准误来源" in html and "期望信息矩阵" in html
    else:
        assert lines["Full-information maximum likelihood (FIML)"].startswith("Beiling 2025.")
        assert lines["Maximum likelihood (ML)"].startswith("Donggang 2025, Nanyu 2025.")
        assert lines["Maximum likelihood (ML) on EM-completed answers"].startswith("Linxi 2025.")
        assert lines["Survey-weighted (pseudo-ML)"].startswith("Linxi 2025")
        assert lines["Not admissible"].startswith("Nanyu 2025.")
        assert "Estimator" in html and "Standard errors from" in html
        assert "observed information matrix" in html
    assert html.count("<tr") == 5  # header + the four recorded studies


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_comparison_without_cbsem_says_so(language):
    from csi_research.reporting.comparison import cbsem

    html = cbsem(compare([make_bundle("beiling", "2025", {"Satisfaction": 80.0})], language=language),
                 language).html
    assert "<table" not in html and "CB-SEM" in html
