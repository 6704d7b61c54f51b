"""Provincial and national aggregation: weighted indices and intervals by hand and against normal
theory, coverage of a known true provincial index in simulation, missing regions reported, rank
intervals, changes between waves, and the study.yaml keys place / customers / weight."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from figure_checks import assert_fits
from scipy import stats

from csi_research.core.errors import CSIWarning, ModelSpecError
from csi_research.programme.rollup import (
    changes,
    distribution,
    missing_regions,
    national_figures,
    national_ranking,
    national_tables,
    rollup,
)
from csi_research.study import bundle as bundle_format
from csi_research.study.bundle import Bundle, load_bundles
from csi_research.study.config import StudyConfig, parse_place

Z975 = stats.norm.ppf(0.975)
YUNLING = {"zh": "云岭省", "en": "Yunling"}
HAIBIN = {"zh": "海滨省", "en": "Haibin"}


def make(region: str, wave: str = "2026", index: float | dict[str, float] = 70.0, draws=None, sd: float = 1.0,
         province: dict | None = YUNLING, city: str | None = None, customers: float | None = 1000.0,
         n_draws: int = 400, seed: int = 0, ci: float = 0.95, weight: dict | None = None) -> Bundle:
    """A bundle in memory: draws given, or N(index, sd²); place and customers in ``study``."""
    means = index if isinstance(index, dict) else {"Satisfaction": index}
    rng = np.random.default_rng(seed)
    if draws is None:
        draws = pd.DataFrame({c: rng.normal(m, sd, n_draws) for c, m in means.items()})
    elif not isinstance(draws, pd.DataFrame):
        draws = pd.DataFrame({"Satisfaction": np.asarray(draws, dtype=float)})
    bounds = {"ci_lower": {c: m - Z975 * sd for c, m in means.items()},
              "ci_upper": {c: m + Z975 * sd for c, m in means.items()}}
    indices = pd.DataFrame({"index": means, **bounds}).rename_axis("construct")
    study = {"region_id": region, "region_zh": f"{region}区", "region_en": region.title(), "wave": wave}
    if province is not None:
        study["place"] = {"province": province, **({"city": city} if city else {})}
    if customers is not None:
        study["customers"] = customers
    if weight is not None:
        study["weight"] = weight
    results = {"study": study, "values": {"n": 300, "target": "Satisfaction"}, "ci": ci, "synthetic": True}
    return Bundle(path=Path(f"/bundles/{region}-{wave}"), results=results, indices=indices, draws=draws)


def row(table: pd.DataFrame, **where) -> pd.Series:
    mask = np.ones(len(table), dtype=bool)
    for key, value in where.items():
        mask &= (table[key] == value).to_numpy()
    assert mask.sum() == 1, f"{mask.sum()} rows match {where}"
    return table[mask].iloc[0]


# ---------------------------------------------------------------- closed forms
def test_two_regions_weighted_index_and_interval_by_hand():
    # A's 201 draws run evenly from 50 to 70: numpy's quantile at 2.5% is position 0.025 · 200 = 5,
    # the draw 50 + 5/10 = 50.5, and at 97.5% position 195, 69.5. B's draws are all 80. With
    # customers 3000 : 1000 the shares are 0.75 : 0.25, so the index is 0.75·60 + 0.25·80 = 65 and
    # the interval [0.75·50.5 + 20, 0.75·69.5 + 20] = [57.875, 72.125].
    a = make("anning", index=60.0, draws=50 + np.arange(201) / 10, customers=3000)
    b = make("baishui", index=80.0, draws=np.full(201, 80.0), customers=1000)
    table = rollup.quiet([a, b], levels=("province",))
    r = row(table, level="province", construct="Satisfaction")
    assert r["unit"] == "Yunling" and r["wave"] == "2026"
    assert r["index"] == pytest.approx(65.0)
    assert (r["ci_lower"], r["ci_upper"]) == (pytest.approx(57.875), pytest.approx(72.125))
    assert (r["n_regions"], r["weight_total"], r["coverage"], r["n_missing"]) == (2, 4000.0, 1.0, 0)
    assert r["ci"] == 0.95 and r["missing_regions"] == ""
    # the same shares from sales, or from a mapping, give the same aggregate
    sales = [make("anning", index=60.0, draws=50 + np.arange(201) / 10, customers=None,
                  weight={"sales_gwh": 30.0}),
             make("baishui", index=80.0, draws=np.full(201, 80.0), customers=None,
                  weight={"sales_gwh": 10.0})]
    by_sales = rollup.quiet(sales, "sales", levels=("province",))
    assert row(by_sales, level="province")["index"] == pytest.approx(65)
    mapped = rollup.quiet([a, b], {"anning": 3, "baishui": 1}, levels=("nation",))
    assert row(mapped, level="nation")["ci_upper"] == pytest.approx(72.125)
    equal = rollup.quiet([a, b], "equal", levels=("nation",))
    assert row(equal, level="nation")["index"] == pytest.approx(70)


def test_interval_matches_normal_theory_for_normal_draws():
    # independent N(μ_r, σ_r²) draws: Σ w_r draw_r is N(Σ w μ, Σ w² σ²); with 20000 draws the
    # percentile bounds' standard error is about 0.02 · sd, far below the 0.03 tolerance below
    sds, means, customers = [1.0, 2.0, 0.5], [70.0, 76.0, 82.0], [2.0, 1.0, 1.0]
    bundles = [make(f"r{k}", index=m, sd=s, customers=c, n_draws=20000, seed=k)
               for k, (m, s, c) in enumerate(zip(means, sds, customers, strict=True))]
    w = np.array(customers) / sum(customers)
    centre = float(w @ means)
    half = Z975 * float(np.sqrt(np.sum(w**2 * np.array(sds) ** 2)))
    r = row(rollup.quiet(bundles, levels=("nation",)), level="nation")
    assert r["unit"] == "National" and r["index"] == pytest.approx(centre)
    # the 2.5% quantile of B = 20000 normal draws has sd √(0.025·0.975/B)/φ(1.96) ≈ 0.019 sd(sum),
    # about 0.014 here: 0.06 is over four of them
    assert r["ci_lower"] == pytest.approx(centre - half, abs=0.06)
    assert r["ci_upper"] == pytest.approx(centre + half, abs=0.06)


def test_provinces_and_nation_and_cities():
    bundles = [make("a1", index=60, province=YUNLING, city="青州市", customers=1, seed=1),
               make("a2", index=70, province=YUNLING, city="青州市", customers=3, seed=2),
               make("a3", index=90, province=YUNLING, city="石门市", customers=1, seed=3),
               make("b1", index=80, province=HAIBIN, city="青州市", customers=5, seed=4)]
    table = rollup.quiet(bundles, levels=("city", "province", "nation"), language="zh")
    assert row(table, level="province", unit="云岭省")["index"] == pytest.approx((60 + 210 + 90) / 5)
    assert row(table, level="province", unit="海滨省")["index"] == pytest.approx(80)
    assert row(table, level="nation", unit="全国")["index"] == pytest.approx((60 + 210 + 90 + 400) / 10)
    # a city's name is unique only within its province: two 青州市 stay apart
    assert row(table, level="city", parent="云岭省", unit="青州市")["index"] == pytest.approx(67.5)
    assert row(table, level="city", parent="海滨省", unit="青州市")["index"] == pytest.approx(80)


def test_every_shared_construct_is_aggregated():
    bundles = [make("a", index={"Satisfaction": 70, "Loyalty": 60}, seed=1),
               make("b", index={"Satisfaction": 80, "Loyalty": 50, "Trust": 1}, seed=2)]
    table = rollup.quiet(bundles, levels=("province",))
    assert sorted(table["construct"]) == ["Loyalty", "Satisfaction"]
    assert row(table, construct="Loyalty")["index"] == pytest.approx(55)


# ---------------------------------------------------------------- simulation with known truth
def test_interval_covers_the_true_provincial_index_at_the_nominal_rate():
    # 6 regions with true indices μ_r and standard errors se_r; each replication draws the
    # estimates I_r ~ N(μ_r, se_r²) and bootstrap draws N(I_r, se_r²) (the bootstrap's picture of
    # the sampling distribution). The aggregate's 95% interval should cover Σ w μ in ~95% of
    # replications: over 300 the count is Binomial(300, 0.95), sd 3.8, and [270, 297] holds
    # it with probability > 99.9%.
    rng = np.random.default_rng(2026)
    mu = np.array([68.0, 72.0, 75.0, 79.0, 81.0, 85.0])
    se = np.array([1.5, 0.8, 2.0, 1.0, 1.2, 2.5])
    customers = np.array([5.0, 1.0, 2.0, 8.0, 3.0, 1.0])
    truth = float(customers @ mu / customers.sum())
    covered = 0
    for rep in range(300):
        estimates = rng.normal(mu, se)
        bundles = [make(f"r{k}", index=float(estimates[k]), draws=rng.normal(estimates[k], se[k], 400),
                        customers=float(customers[k]), seed=rep) for k in range(len(mu))]
        r = rollup.quiet(bundles, levels=("province",)).iloc[0]
        covered += bool(r["ci_lower"] <= truth <= r["ci_upper"])
    assert 270 <= covered <= 297


# ---------------------------------------------------------------- missing regions
def three_regions_two_waves() -> list[Bundle]:
    return [make("a", "2025", 70, customers=1, seed=1), make("b", "2025", 80, customers=1, seed=2),
            make("c", "2025", 60, customers=2, seed=3),
            make("a", "2026", 72, customers=1, seed=4), make("b", "2026", 84, customers=3, seed=5),
            make("d", "2026", 50, province=HAIBIN, customers=1, seed=6)]


def test_a_missing_region_is_reported_and_the_weights_renormalised():
    bundles = three_regions_two_waves()
    with pytest.warns(CSIWarning, match=r"wave 2026: 1 region\(s\) of province Yunling have no bundle \(c\)"):
        table = rollup(bundles)
    r = row(table, level="province", unit="Yunling", wave="2026")
    assert r["index"] == pytest.approx((72 + 3 * 84) / 4)  # over a and b, weights 1 : 3 renormalised
    assert (r["n_regions"], r["n_missing"], r["missing_regions"]) == (2, 1, "c")
    assert r["coverage"] == pytest.approx(4 / 6)  # c's latest weight is 2
    nation = row(table, level="nation", wave="2025")
    assert nation["missing_regions"] == "d" and nation["n_regions"] == 3
    assert any("province Haibin" in m and "(d)" in m for m in table.attrs["diagnostics"])
    missing = missing_regions(bundles)
    assert missing[["wave", "region", "province", "last_wave"]].values.tolist() == [
        ["2025", "d", "海滨省", ""], ["2026", "c", "云岭省", "2025"]]


def test_missing_regions_can_be_refused_and_expected_regions_are_named():
    bundles = three_regions_two_waves()
    with pytest.raises(ModelSpecError, match="no bundle for c"):
        rollup.quiet(bundles, missing="refuse")
    latest = [b for b in bundles if b.wave == "2026"]
    table = rollup.quiet(latest, levels=("nation",), expected=["a", "b", "d", "z"])
    assert row(table, level="nation")["missing_regions"] == "z"
    assert missing_regions(bundles[:2], expected=["a", "b", "z"])["region"].tolist() == ["z"]


# ---------------------------------------------------------------- draws and levels
def test_different_draw_counts_need_a_common_count():
    bundles = [make("a", n_draws=400, seed=1), make("b", n_draws=1000, seed=2)]
    with pytest.raises(ModelSpecError, match=r"different numbers of bootstrap draws.*n_draws="):
        rollup.quiet(bundles)
    with pytest.raises(ModelSpecError, match="needs a seed"):
        rollup.quiet(bundles, n_draws=500)
    one = rollup.quiet(bundles, n_draws=500, seed=3)
    assert one.equals(rollup.quiet(bundles, n_draws=500, seed=3))  # deterministic
    # resampled draws keep the distribution: normal theory with sd sqrt(0.25 + 0.25)
    r = row(one, level="nation")
    assert r["ci_upper"] - r["ci_lower"] == pytest.approx(2 * Z975 * np.sqrt(0.5), rel=0.15)


def test_different_levels_need_ci():
    bundles = [make("a", ci=0.95, seed=1), make("b", ci=0.9, seed=2)]
    with pytest.raises(ModelSpecError, match=r"different levels.*ci="):
        rollup.quiet(bundles)
    assert set(rollup.quiet(bundles, ci=0.9)["ci"]) == {0.9}


def test_non_finite_draws_are_dropped_and_noted():
    draws = np.random.default_rng(1).normal(70, 1, 400)
    draws[:10] = np.nan
    table = rollup.quiet([make("a", draws=draws), make("b", seed=2)], levels=("nation",))
    assert np.isfinite(table[["ci_lower", "ci_upper"]].to_numpy()).all()
    assert any("a 2026 Satisfaction: 390" in m for m in table.attrs["diagnostics"])


def test_missing_weights_and_places_are_named():
    with pytest.raises(ModelSpecError, match=r"lack a positive customers weight.*b 2026"):
        rollup.quiet([make("a"), make("b", customers=None)])
    with pytest.raises(ModelSpecError, match=r"place down to its city.*a 2026"):
        rollup.quiet([make("a")], levels=("city",))
    assert len(rollup.quiet([make("a", province=None)], levels=("nation",))) == 1


# ---------------------------------------------------------------- ranking, distribution, changes
def test_rank_intervals_from_the_draws():
    # c is far ahead; a and b have the same draw distribution, so each is 2nd or 3rd about half
    # of the time: rank interval [2, 3]. Tiny-sd d is surely last.
    bundles = [make("a", index=70.1, n_draws=2000, seed=1), make("b", index=70.0, n_draws=2000, seed=2),
               make("c", index=90, n_draws=2000, seed=3), make("d", index=20, sd=0.01, n_draws=2000, seed=4)]
    table = national_ranking(bundles, language="zh")
    assert table["region"].tolist() == ["c", "a", "b", "d"]
    assert table["rank"].tolist() == [1, 2, 3, 4]
    assert table[["rank_lower", "rank_upper"]].values.tolist() == [[1, 1], [2, 3], [2, 3], [4, 4]]
    assert table["province"].iloc[0] == "云岭省" and table["name"].iloc[0] == "c区"


def test_distribution_quantiles():
    bundles = [make(f"r{k}", index=float(v), seed=k) for k, v in enumerate([60, 70, 80, 90, 100])]
    r = distribution(bundles).iloc[0]
    assert (r["min"], r["q25"], r["median"], r["q75"], r["max"], r["mean"]) == (60, 70, 80, 90, 100, 80)
    assert r["q10"] == pytest.approx(64) and r["n_regions"] == 5


def test_changes_per_region_and_province():
    bundles = three_regions_two_waves()
    with pytest.warns(CSIWarning, match="province Yunling 2025→2026: the change is over the 2 regions"):
        table = changes(bundles)
    a = row(table, level="region", unit="A")
    assert a["difference"] == pytest.approx(2.0) and a["parent"] == "Yunling"
    # two independent N(·, 1) draws: the difference's interval is about ±1.96·√2
    assert a["ci_upper"] - a["ci_lower"] == pytest.approx(2 * Z975 * np.sqrt(2), rel=0.15)
    p = row(table, level="province", unit="Yunling")
    # over a and b only (c is absent in 2026), with 2026 weights 1 : 3
    assert (p["before"], p["after"]) == (pytest.approx((70 + 240) / 4), pytest.approx((72 + 252) / 4))
    assert p["regions_not_compared"] == "c" and p["n_regions"] == 2
    assert row(table, level="nation")["regions_not_compared"] == "c, d"
    assert set(table["level"]) == {"region", "province", "nation"}
    assert "d" not in set(table.loc[table["level"] == "region", "unit"])  # d has one wave only


def test_national_tables_round_trip_through_saved_bundles(tmp_path):
    paths = []
    for b in three_regions_two_waves():
        records = [{"construct": c, **r.to_dict()} for c, r in b.indices.iterrows()]
        results = {**b.results, "tables": {"indices": records}}
        # the saved form of the place: records from the top down (JSON sorts their keys)
        results["study"] = {**results["study"], "place": [dict(p) for p in parse_place(b.study["place"])]}
        paths.append(bundle_format.write_bundle(tmp_path / f"{b.region}-{b.wave}", results, b.draws, {}))
    tables, notes = national_tables(load_bundles(paths))
    assert set(tables) == {"rollup", "headline", "ranking", "distribution", "changes", "missing"}
    direct = rollup.quiet(three_regions_two_waves())
    assert np.allclose(tables["rollup"]["index"], direct["index"])
    assert tables["missing"]["region"].tolist() == ["d", "c"] and notes


# ---------------------------------------------------------------- study.yaml: place, customers, weight
MINIMAL = {"region": {"id": "qz", "name_zh": "青州", "name_en": "Qingzhou"}, "wave": 2026,
           "data": "survey.csv", "seed": 1}


def study(tmp_path: Path, **extra) -> StudyConfig:
    (tmp_path / "survey.csv").write_text("respondent_id\nR1\n", encoding="utf-8")
    file = tmp_path / "study.yaml"
    file.write_text(yaml.safe_dump({**MINIMAL, **extra}, allow_unicode=True), encoding="utf-8")
    return StudyConfig.from_yaml(file)


def test_place_forms(tmp_path):
    assert study(tmp_path).place is None and study(tmp_path).weight is None
    expected = ({"level": "province", "zh": "云岭省", "en": "云岭省"},
                {"level": "city", "zh": "青州市", "en": "青州市"})
    assert study(tmp_path, place={"province": "云岭省", "city": "青州市"}).place == expected
    assert study(tmp_path, place=["云岭省", "青州市"]).place == expected
    both = study(tmp_path, place={"province": {"zh": "云岭省", "en": "Yunling"}})
    assert both.place == ({"level": "province", "zh": "云岭省", "en": "Yunling"},)
    saved = both.to_dict()["place"]
    assert parse_place(saved) == both.place  # the bundle's form reads back


@pytest.mark.parametrize(("place", "message"), [
    ({"city": "青州市"}, "from the top down"),
    ({"province": "云岭省", "town": "x"}, "from the top down"),
    (["a", "b", "c", "d"], "place must be"),
    ("云岭省", "place must be"),
    ({"province": {"zh": "云岭省", "fr": "x"}}, "place.province must be a name"),
    ({"province": ""}, "place.province must be a name"),
])
def test_bad_places_are_refused(tmp_path, place, message):
    with pytest.raises(ModelSpecError, match=message) as info:
        study(tmp_path, place=place)
    assert "study.yaml" in str(info.value)


def test_customers_and_weight(tmp_path):
    assert study(tmp_path, customers=182000).weight == {"customers": 182000.0}
    assert study(tmp_path, weight={"sales_gwh": 1350.5}).to_dict()["weight"] == {"sales_gwh": 1350.5}
    for extra, message in [({"customers": 0}, "customers must be a positive number"),
                           ({"customers": "many"}, "customers must be a positive number"),
                           ({"weight": {"sales_gwh": -1}}, "weight.sales_gwh must be a positive"),
                           ({"weight": {"revenue": 1}}, "weight must be a mapping with customers"),
                           ({"customers": 1, "weight": {"customers": 2}}, "given twice"),
                           ({"costumers": 1}, "unknown key")]:
        with pytest.raises(ModelSpecError, match=message):
            study(tmp_path, **extra)


# ---------------------------------------------------------------- figures
def many_regions(n: int = 300) -> list[Bundle]:
    rng = np.random.default_rng(5)
    provinces = [{"zh": f"{k}省", "en": f"Province {k}"} for k in range(12)]
    return [make(f"r{k:03d}", index=float(rng.normal(78, 5)), sd=float(rng.uniform(0.5, 2.5)), n_draws=200,
                 province=provinces[k % 12], customers=float(rng.integers(1000, 90000)), seed=k)
            for k in range(n)]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_figures_of_300_regions(language):
    from matplotlib.text import Text

    from csi_research.render.plots import to_png

    bundles = many_regions()
    ranking = national_ranking(bundles, language=language)
    aggregate = rollup.quiet(bundles, language=language)
    figures = national_figures({"ranking": ranking, "rollup": aggregate}, language=language)
    rank = figures["ranking"]
    assert len(rank.axes) == 12  # one panel per province
    ticks = [t.get_text() for ax in rank.axes for t in ax.get_yticklabels()]
    assert len(ticks) == 300 and set(ticks) == set(ranking["name"])
    assert min(t.get_fontsize() for ax in rank.axes for t in ax.get_yticklabels()) >= 4
    strip = figures["provinces"]
    weighted = [c for c in strip.axes[0].collections if c.get_gid() == "weighted"]
    assert len(weighted) == 1 and len(weighted[0].get_offsets()) == 12
    titles = " ".join(t.get_text() for f in figures.values() for t in f.findobj(Text))
    assert ("排名" in titles) == (language == "zh") and ("ranked" in titles) == (language == "en")
    for f in figures.values():
        assert_fits(f)
        assert to_png(f, dpi=40)[:4] == b"\x89PNG"


def test_strip_plot_marks_the_ranked_constructs_aggregate_among_several():
    """With several constructs rolled up, each province's diamond is the ranked construct's index."""
    bundles = [make(f"r{k}", index={"Satisfaction": 70.0 + k, "Loyalty": 50.0 + k}, seed=k,
                    province=YUNLING if k < 2 else {"zh": "海滨省", "en": "Haibin"}) for k in range(4)]
    ranking = national_ranking(bundles)
    aggregate = rollup.quiet(bundles)
    figures = national_figures({"ranking": ranking, "rollup": aggregate})
    weighted = [c for c in figures["provinces"].axes[0].collections if c.get_gid() == "weighted"]
    x = sorted(weighted[0].get_offsets()[:, 0])
    expected = aggregate[(aggregate["level"] == "province") & (aggregate["construct"] == "Satisfaction")]
    np.testing.assert_allclose(x, sorted(expected["index"]))


def test_the_report_counts_missing_regions_by_province_and_names_the_first_few():
    from csi_research.reporting.comparison import MISSING_NAMED, _missing_by_province

    n = MISSING_NAMED + 3
    missing = pd.DataFrame({
        "wave": ["2025"] * (n + 1), "region": [f"r{k}" for k in range(n + 1)],
        "region_zh": [f"区{k}" for k in range(n + 1)], "region_en": [f"R{k}" for k in range(n + 1)],
        "province": ["甲省"] * n + ["乙省"], "province_en": ["Jia"] * n + ["Yi"],
    })
    zh = _missing_by_province(missing, "zh")
    assert zh.to_dict("records") == [
        {"wave": "2025", "province": "乙省", "n_missing": 1, "missing_regions": f"区{n}"},
        {"wave": "2025", "province": "甲省", "n_missing": n,
         "missing_regions": "、".join(f"区{k}" for k in range(MISSING_NAMED)) + f" 等 {n} 个"},
    ]
    en = _missing_by_province(missing, "en").set_index("province")
    assert en.loc["Jia", "missing_regions"].endswith(", R7 and 3 more") and en.loc["Yi", "n_missing"] == 1
