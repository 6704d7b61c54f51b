"""The programme's headline figures: hand counts, grade rules, the bootstrap hook, coverage, the
roll-up, and where they appear (summary in both languages, bundle, workbook, Word report).

Every expected value is counted here from the answers as given (pandas/numpy on the raw codes),
never taken from the module under test.
"""

from __future__ import annotations

import dataclasses
import io
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from small_study import small_study

from csi_research.core.errors import ModelSpecError
from csi_research.data.codebook import Codebook, Item, Scale
from csi_research.data.sample import prepare
from csi_research.data.simulate import simulate_survey
from csi_research.data.survey import Survey
from csi_research.evaluation.fuzzy import score_grade
from csi_research.model import CSIModel
from csi_research.stats.bootstrap import _Extras, bootstrap, count_chunks
from csi_research.stats.headline import (
    Ratio,
    band_table,
    default_items,
    headline_figures,
    recommendation_codes,
    top_codes,
)
from csi_research.stats.pls import fit_pls
from csi_research.study import bundle as bundle_format
from csi_research.study.config import StudyConfig
from csi_research.study.pipeline import run_study

BOOK = Codebook.default()
SMALL = CSIModel(constructs={"Quality": ["QUA1", "QUA2", "QUA3"], "Satisfaction": ["SAT1", "SAT2", "SAT3"]},
                 paths=[("Quality", "Satisfaction")], target="Satisfaction")


def answers(n: int, rate: float, seed: int) -> pd.DataFrame:
    """Six 1–5 items of SMALL; P(SAT1 in {4, 5}) = ``rate`` exactly in the population."""
    rng = np.random.default_rng(seed)
    top = rng.random(n) < rate
    sat1 = np.where(top, rng.choice([4, 5], n), rng.choice([1, 2, 3], n))
    out = {"SAT1": sat1.astype(float)}
    base = sat1 + rng.normal(0, 0.8, n)
    for item in ("SAT2", "SAT3", "QUA1", "QUA2", "QUA3"):
        out[item] = np.clip(np.rint(base + rng.normal(0, 0.9, n)), 1, 5)
    return pd.DataFrame(out)


def hand_share(values: pd.Series, counted: set[int], w: np.ndarray | None = None) -> float:
    answered = values.notna().to_numpy()
    w = np.ones(len(values)) if w is None else np.asarray(w, float)
    hit = values.isin(counted).to_numpy()
    return 100 * float((w * hit * answered).sum() / (w * answered).sum())


# ---------------------------------------------------------------- hand counts
def test_satisfaction_rate_and_recommendation_index_by_hand_unweighted():
    frame = answers(300, 0.7, 1)
    frame["LOY1"] = np.random.default_rng(2).integers(1, 6, 300).astype(float)
    frame.loc[[3, 17, 40], "SAT1"] = np.nan  # unanswered: out of numerator and denominator
    figures = headline_figures.quiet(prepare(SMALL, frame, codebook=BOOK))
    values = figures.values()
    assert values["satisfaction_rate"] == pytest.approx(hand_share(frame["SAT1"], {4, 5}))
    assert figures.n["satisfaction_rate"] == 297 and figures.items["satisfaction_rate"] == "SAT1"
    promoters = (frame["LOY1"] == 5).mean() * 100
    detractors = frame["LOY1"].isin([1, 2, 3]).mean() * 100
    assert values["recommendation_index"] == pytest.approx(promoters - detractors)
    assert figures.rules == {"satisfaction_rate": "4–5", "recommendation_index": "5 vs 1–3"}
    assert "complaints_per_10k" not in values  # no service records given


def test_weighted_rate_by_hand():
    frame = answers(250, 0.6, 3)
    w = np.random.default_rng(4).uniform(0.3, 3.0, 250)
    frame.loc[[0, 1, 2, 99], "SAT1"] = np.nan
    sample = prepare(SMALL, frame, codebook=BOOK, weights=w)
    rate = headline_figures.quiet(sample).values()["satisfaction_rate"]
    assert rate == pytest.approx(hand_share(frame["SAT1"], {4, 5}, w))
    assert rate != pytest.approx(hand_share(frame["SAT1"], {4, 5}))  # the weights matter


def test_reverse_keyed_item_counts_as_the_codebook_recodes_it():
    sim = simulate_survey("beiling", n=300, seed=5, wave=2025)
    raw = sim.frame.copy()
    reversed_book = dataclasses.replace(
        BOOK, items=tuple(dataclasses.replace(i, reverse=True) if i.id == "SAT1" else i for i in BOOK.items))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the simulated straight-liners are not the point here
        survey = Survey.from_frame(raw, reversed_book, source="reversed.csv")
    pls = fit_pls.quiet(reversed_book.model(), survey)
    # SAT1 as recorded is reversed: raw codes 1–2 are the top grades 4–5 once recoded (9: don't know)
    given = pd.to_numeric(raw["SAT1"]).where(lambda s: s != 9)
    kept = given.loc[pls.sample.frame.index]
    assert headline_figures.quiet(pls).values()["satisfaction_rate"] == pytest.approx(
        hand_share(kept, {1, 2}))


def test_complaint_rates_per_10000_respondents_by_hand():
    frame = answers(200, 0.7, 5)
    w = np.random.default_rng(6).uniform(0.5, 2.0, 200)
    complaints = np.random.default_rng(7).poisson(0.4, 200)
    sample = prepare(SMALL, frame, codebook=BOOK, weights=w)
    values = headline_figures.quiet(sample, complaints=complaints).values()
    assert values["complaints_per_10k"] == pytest.approx(1e4 * (w * complaints).sum() / w.sum())
    repeat = 1e4 * (w * (complaints >= 2)).sum() / w.sum()
    assert values["repeat_complainants_per_10k"] == pytest.approx(repeat)


# ---------------------------------------------------------------- grade rules
def test_top_grade_rules():
    assert top_codes([1, 2, 3, 4, 5]) == (4, 5)
    assert top_codes(range(1, 8)) == (6, 7)  # 7 points: top 2
    assert top_codes(range(1, 11)) == (8, 9, 10)  # 10 points: top 3
    assert top_codes(range(0, 11)) == (8, 9, 10)
    assert top_codes([1, 2, 3, 4, 5], top_grades=1) == (5,)
    with pytest.raises(ModelSpecError, match="top_grades 5"):
        top_codes([1, 2, 3, 4, 5], top_grades=5)


def test_recommendation_rules_on_five_and_ten_point_scales():
    assert recommendation_codes([1, 2, 3, 4, 5]) == ((5,), (1, 2, 3))
    assert recommendation_codes(range(0, 11)) == ((9, 10), (0, 1, 2, 3, 4, 5, 6))
    assert recommendation_codes(range(1, 11)) == ((9, 10), (1, 2, 3, 4, 5, 6))
    assert recommendation_codes(range(1, 8)) is None


def ten_point_sample(values: list[float]) -> SimpleNamespace:
    scale = Scale.linear("nps", range(0, 11))
    item = Item("REC", "Loyalty", "loyalty", "愿意推荐", "Would recommend", "nps")
    book = SimpleNamespace(items=[item], scale_of=lambda _: scale)
    frame = pd.DataFrame({"REC": values})
    return SimpleNamespace(frame=frame, weights=np.ones(len(frame)), codebook=book,
                           model=SimpleNamespace(target="Satisfaction", constructs={"Satisfaction": []}))


def test_ten_point_recommendation_index_by_hand():
    # promoters 10, 10, 9 (3); passives 8, 7 (2); detractors 6, 0 (2); one unanswered
    sample = ten_point_sample([10, 10, 9, 8, 7, 6, 0, np.nan])
    figures = headline_figures.quiet(sample)
    assert figures.items == {"recommendation_index": "REC"}  # found by its text; no overall item: left out
    assert figures.values()["recommendation_index"] == pytest.approx(100 * (3 - 2) / 7)
    assert any("satisfaction_item" in d for d in figures.diagnostics)


def test_ten_point_satisfaction_rate_counts_the_top_three():
    sample = ten_point_sample([10, 9, 8, 7, 3, np.nan])
    figures = headline_figures.quiet(sample, satisfaction_item="REC")
    assert figures.values()["satisfaction_rate"] == pytest.approx(100 * 3 / 5)
    assert figures.rules["satisfaction_rate"] == "8–10"


# ---------------------------------------------------------------- jackknife and the bootstrap hook
def test_closed_form_jackknife_equals_brute_force_leave_one_out():
    rng = np.random.default_rng(8)
    n = 60
    answered = (rng.random(n) > 0.1).astype(float)
    num = 100 * (rng.random(n) < 0.7) * answered
    w = rng.uniform(0.2, 3, n)
    ratio = Ratio(num, answered)
    brute = [np.sum(np.delete(w * num, i)) / np.sum(np.delete(w * answered, i)) for i in range(n)]
    assert np.allclose(ratio.jackknife(w), brute)
    # the hook's generic path (a callable without .jackknife) gives the same values
    assert np.allclose(_Extras({"r": lambda a: ratio(a)}, w).jackknife(lambda a: ratio(a), chunk=7), brute)


@pytest.fixture(scope="module")
def small_fit():
    frame = answers(300, 0.7, 9)
    w = np.random.default_rng(10).uniform(0.5, 2.0, 300)
    return frame, w, fit_pls.quiet(prepare(SMALL, frame, codebook=BOOK, weights=w))


def test_a_bootstrap_draw_is_the_rate_of_that_resamples_rows(small_fit):
    frame, w, pls = small_fit
    figures = headline_figures.quiet(pls)
    boot = bootstrap.quiet(pls, n_boot=40, seed=11, extra=figures.extra(), progress=False, chunk_size=40,
                           workers=1)
    counts = next(count_chunks(np.random.default_rng(11), 300, None, 40, 40))  # the same resamples
    for b in (0, 7, 39):
        rows = np.repeat(np.arange(300), counts[b])
        expected = hand_share(frame["SAT1"].iloc[rows].reset_index(drop=True), {4, 5}, w[rows])
        assert boot.draws["satisfaction_rate"][b, 0] == pytest.approx(expected)
    # and the extras leave the fit's own statistics as they were
    plain = bootstrap.quiet(pls, n_boot=40, seed=11, progress=False, chunk_size=40, workers=1)
    assert np.array_equal(plain.draws["index"], boot.draws["index"], equal_nan=True)
    row = boot.estimates.set_index("statistic").loc["satisfaction_rate"]
    assert row["estimate"] == pytest.approx(figures.values()["satisfaction_rate"])
    assert np.isfinite(row["bca_lower"]) and row["bca_lower"] < row["estimate"] < row["bca_upper"]


def test_extra_names_may_not_shadow_the_bootstraps_own(small_fit):
    with pytest.raises(ValueError, match="index"):
        bootstrap.quiet(small_fit[2], n_boot=10, extra={"index": lambda a: a.sum(axis=1)}, progress=False)


def test_interval_covers_a_known_70_percent_rate():
    # 200 seeded surveys of 300 respondents from a population with P(top 2 grades) = 0.7 exactly,
    # each through the index bootstrap (400 resamples); a 95% interval should cover ~95% of the time
    # (binomial SD over 200 surveys ≈ 1.5 points, so [0.90, 0.99] is ~3 SD wide on each side)
    covered = 0
    for seed in range(200):
        pls = fit_pls.quiet(prepare(SMALL, answers(300, 0.7, 1000 + seed), codebook=BOOK))
        boot = bootstrap.quiet(pls, n_boot=400, seed=seed, extra=headline_figures.quiet(pls).extra(),
                               progress=False, bca=False, workers=1)
        row = boot.estimates.set_index("statistic").loc["satisfaction_rate"]
        covered += row["ci_lower"] <= 70.0 <= row["ci_upper"]
    assert 0.90 <= covered / 200 <= 0.99


# ---------------------------------------------------------------- bands
def test_bands_of_value_and_both_interval_ends():
    scale = BOOK.scale_of("SAT1")  # grade scores 0/40/60/80/100: bands at 20, 50, 70, 90
    table = band_table({"csi": (85.0, 69.9, 90.0)}, score_grade, scale).iloc[0]
    bands = (table["band_zh"], table["lower_band_zh"], table["upper_band_zh"])
    assert bands == ("比较满意", "基本满意", "很满意")
    assert table["band_en"] == "fairly satisfied" and table["band_code"] == 4
    assert not band_table({"a": (10.0, 5.0, 20.0)}, score_grade, scale).isna().any().any()


# ---------------------------------------------------------------- the study, its bundle and reports
@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("headline")
    records = root / "records.csv"
    sim = simulate_survey("beiling", n=300, seed=5, wave=2025)
    from csi_research.records.synthetic import synthetic_records

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the simulated straight-liners are not the point here
        synthetic_records(sim.survey(), seed=5).records.frame.to_csv(records, index=False)
    path = small_study(root, "service_records", str(records))
    result = run_study.quiet(path, quick=True)
    folder = result.save(root / "bundle", figures=False)
    return result, folder


def test_study_complaints_come_from_its_service_records(study):
    result, _ = study
    records = pd.read_csv(Path(result.config.service_records))
    start = pd.to_datetime(records["start"])
    complaints = records[(records["event_type"] == "complaint") & (start.dt.year == 2025)
                         & records["customer_id"].isin(result.sample.frame["respondent_id"])]
    table = result.headline.set_index("figure")
    assert table.loc["complaints_per_10k", "value"] == pytest.approx(1e4 * len(complaints) / result.sample.n)
    repeat = (complaints["customer_id"].value_counts() >= 2).sum()
    assert table.loc["repeat_complainants_per_10k", "value"] == pytest.approx(1e4 * repeat / result.sample.n)
    assert set(table.index) == {"satisfaction_rate", "recommendation_index", "complaints_per_10k",
                                "repeat_complainants_per_10k"}
    assert (table.loc["complaints_per_10k", "n"] == result.sample.n)
    assert table.loc["complaints_per_10k", "value"] >= table.loc["repeat_complainants_per_10k", "value"]


def test_bundle_round_trip(study):
    result, folder = study
    b = bundle_format.load_bundle(folder)
    pd.testing.assert_frame_equal(b.headline(), result.headline, check_dtype=False)
    draws = b.headline_draws()
    assert list(draws.columns) == list(result.headline["figure"])
    drawn = result.boot.draws["satisfaction_rate"][:, 0]
    assert np.allclose(draws["satisfaction_rate"], drawn, equal_nan=True)
    bands = pd.read_csv(folder / "tables" / "index_bands.csv")
    assert list(bands["figure"]) == ["csi", "satisfaction_rate"] and not bands.isna().any().any()
    pd.testing.assert_frame_equal(bands, result.index_bands, check_dtype=False)


def test_workbook_has_the_headline_sheet(study):
    from openpyxl import load_workbook

    _, folder = study
    book = load_workbook(folder / "tables.xlsx", read_only=True)
    sheet = next(s for s in book.sheetnames if "Headline" in s)
    rows = list(book[sheet].values)
    assert "核心指标" in sheet and rows[0][0] == "指标 Figure"
    assert rows[1][0] == "satisfaction_rate" and isinstance(rows[1][3], float)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_summary_shows_cards_table_and_definitions(study, language):
    from csi_research.reporting import regional

    result, _ = study
    html = str(regional.summary(result, language).html)
    words = {"zh": ["满意率", "推荐指数", "每万名受访者投诉量", "指标定义", "分母是受访者人数"],
             "en": ["Satisfaction rate", "Recommendation index", "Complaints per 10,000 respondents",
                    "Definitions", "the denominator is the respondents"]}[language]
    for word in words:
        assert word in html
    assert html.count('class="card"') >= 3


@pytest.mark.parametrize("language", ["zh", "en"])
def test_word_report_has_the_headline_section(study, language):
    from docx import Document

    from csi_research.render.word import word_report
    from csi_research.reporting import regional

    result, _ = study
    doc = Document(io.BytesIO(word_report([str(regional.summary(result, language).html)], "t", language)))
    text = "\n".join(p.text for p in doc.paragraphs)
    title = "核心指标及其 95% 区间" if language == "zh" else "Headline figures with their 95% intervals"
    assert title in text
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    assert ("满意率" if language == "zh" else "Satisfaction rate") in cells


# ---------------------------------------------------------------- roll-up
def test_headline_rollup_equals_a_hand_computation(tmp_path):
    from csi_research.programme.rollup import headline_rollup

    rng = np.random.default_rng(12)
    regions = {"a": (100.0, 80.0), "b": (300.0, 60.0)}  # customers, satisfaction rate
    paths, draws = [], {}
    for region, (customers, rate) in regions.items():
        d = rate + rng.normal(0, 2, 500)
        draws[region] = d
        headline = pd.DataFrame({"figure": ["satisfaction_rate"], "item": ["SAT1"], "counted": ["4–5"],
                                 "value": [rate], "ci_lower": [rate - 4], "ci_upper": [rate + 4],
                                 "level": [0.95], "se": [2.0], "n": [300], "unit": ["%"]})
        results = {"study": {"region_id": region, "region_zh": region, "region_en": region, "wave": "2025",
                             "customers": customers,
                             "place": [{"level": "province", "zh": "山岭", "en": "Shanling"}]},
                   "ci": 0.95, "values": {"n": 300, "target": "Satisfaction"},
                   "tables": {"indices": [{"construct": "Satisfaction", "index": 70.0, "ci_lower": 68.0,
                                           "ci_upper": 72.0}],
                              "headline": headline.to_dict("records")}}
        paths.append(bundle_format.write_bundle(
            tmp_path / region, results, pd.DataFrame({"Satisfaction": 70 + rng.normal(0, 1, 500)}),
            {"headline": headline}, headline_draws=pd.DataFrame({"satisfaction_rate": d})))
    table = headline_rollup.quiet(bundle_format.load_bundles(paths))
    nation = table[table["level"] == "nation"].iloc[0]
    assert nation["value"] == pytest.approx((100 * 80 + 300 * 60) / 400)
    lo, hi = np.quantile(0.25 * draws["a"] + 0.75 * draws["b"], [0.025, 0.975])
    assert (nation["ci_lower"], nation["ci_upper"]) == (pytest.approx(lo), pytest.approx(hi))
    assert nation["n_regions"] == 2 and nation["coverage"] == 1.0
    assert set(table["level"]) == {"province", "nation"} and not table.isna().any().any()


# ---------------------------------------------------------------- study.yaml
def write_study(tmp_path: Path, headline) -> Path:
    (tmp_path / "survey.csv").write_text("respondent_id\nR1\n", encoding="utf-8")
    spec = {"region": {"id": "qz", "name_zh": "青州", "name_en": "Qingzhou"}, "wave": 2026,
            "data": "survey.csv", "seed": 1, "headline": headline}
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return tmp_path / "study.yaml"


@pytest.mark.parametrize(("headline", "message"), [
    ({"top_grades": 0}, "headline.top_grades must be a whole number of grades of at least 1 .*not 0"),
    ({"top_grades": "two"}, "headline.top_grades .*not 'two'"),
    ({"satisfaction_item": 5}, "headline.satisfaction_item must be an item id .*not 5"),
    ({"recommendation_item": ""}, "headline.recommendation_item must be an item id"),
    ({"overall_item": "SAT1"}, "unknown key.* headline.overall_item"),
])
def test_config_errors_name_the_key_and_value(tmp_path, headline, message):
    with pytest.raises(ModelSpecError, match=message):
        StudyConfig.from_yaml(write_study(tmp_path, headline))


def test_config_defaults_and_overrides(tmp_path):
    assert StudyConfig.from_yaml(write_study(tmp_path, None)).headline == {
        "satisfaction_item": None, "recommendation_item": None, "top_grades": None}
    given = StudyConfig.from_yaml(write_study(tmp_path, {"satisfaction_item": "SAT2", "top_grades": 1}))
    assert given.headline == {"satisfaction_item": "SAT2", "recommendation_item": None, "top_grades": 1}


def test_an_unknown_item_stops_the_study_naming_the_file(tmp_path):
    path = small_study(tmp_path, "headline", "{satisfaction_item: XYZ9}")
    with pytest.raises(ModelSpecError, match=r"study.yaml: headline: satisfaction_rate item 'XYZ9'"):
        run_study.quiet(path, quick=True)


def test_the_default_overall_item_follows_the_model_not_the_codebooks_construct_names():
    """A model that renames the target ('CS' for Satisfaction) still finds SAT1 among its items."""
    from csi_research.data.codebook import Codebook

    book = Codebook.default()
    assert default_items(book, ["SAT1", "SAT2", "SAT3"]) == ("SAT1", "LOY1")
    assert default_items(book, ["SAT2", "SAT3"]) == (None, "LOY1")
