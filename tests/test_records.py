"""Service records: the loader refuses each bad input naming file, column, row and value without
touching the input; features match hand counts; synthetic records carry the effects they claim; and
the driver analysis finds the planted drivers (rates over many seeds: scripts/validate_records.py)."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from faults import Snapshot
from figure_checks import assert_fits
from sklearn.linear_model import PoissonRegressor

import csi_research as csi
from csi_research.core.errors import ModelSpecError, SurveyDataError
from csi_research.data.surveyproblems import MESSAGE_CHARS
from csi_research.records import (
    EVENT_TYPES,
    customer_features,
    driver_analysis,
    high_value_customers,
    load_records,
    pareto_chart_data,
    plot_pareto,
    satisfaction_scores,
    synthetic_records,
)

matplotlib.use("Agg")
DATA = Path(__file__).resolve().parents[1] / "data"

GOOD = pd.DataFrame(
    {
        "event_id": ["E1", "E2", "E3", "E4", "E5"],
        "customer_id": ["r1", "r1", "r2", "r2", "r3"],
        "event_type": ["outage", "停电", "Complaint", "hotline_contact", "fault_repair"],
        "start": [
            "2025-01-10 08:00",
            "2025/3/1 8:30",
            "2025-02-01 09:00",
            "2025-04-01 10:00",
            "2025-05-01 00:00",
        ],
        "end": ["2025-01-10 10:30", "2025-03-01 09:30", "2025-02-04 09:00", "", "2025-05-01 04:00"],
        "duration_hours": ["2.5", "", "72", "", "4"],
        "category": ["", "", "服务态度", "", ""],
        "planned": ["1", "否", "", "", ""],
    }
)


def survey(n: int = 6) -> pd.DataFrame:
    """A small survey frame: respondents r1..rn, wave 2025, satisfaction items."""
    return pd.DataFrame(
        {
            "respondent_id": [f"r{k}" for k in range(1, n + 1)],
            "wave": 2025,
            "customer_class": [
                "residential",
                "commercial",
                "industrial",
                "residential",
                "residential",
                "commercial",
            ][:n],
            "SAT1": [1.0, 2, 5, 4, 5, 3][:n],
            "SAT2": [1.0, 3, 5, 4, 4, 3][:n],
            "SAT3": [2.0, 2, 5, 5, 4, np.nan][:n],
        }
    )


@pytest.fixture(scope="module")
def donggang() -> csi.Survey:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", csi.CSIWarning)
        return csi.load_survey(DATA / "donggang_2025.csv")


# ---------------------------------------------------------------------------- format and loader
def test_good_records_load_with_labels_derived_durations_and_flags(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    GOOD.to_csv(path, index=False, encoding="utf-8")
    records = load_records(path)
    f = records.frame
    assert list(f["event_type"]) == ["outage", "outage", "complaint", "hotline_contact", "fault_repair"]
    # 08:30 → 09:30 is one hour; the other durations are given and agree with end − start
    assert f["duration_hours"].tolist()[:3] == [2.5, 1.0, 72.0] and np.isnan(f["duration_hours"][3])
    assert f["planned"].tolist()[:2] == [True, False] and f["planned"].isna()[2]
    assert f["category"][2] == "service_attitude"
    assert pd.isna(f["end"][3]) and not records.synthetic and records.diagnostics == []
    summary = records.summary().set_index("event_type")
    assert summary.loc["outage", "events"] == 2 and summary.loc["outage", "total_hours"] == 3.5


def test_gb18030_csv_with_chinese_headers(tmp_path: Path) -> None:
    chinese = GOOD.rename(
        columns={
            "event_id": "工单编号",
            "customer_id": "客户编号",
            "event_type": "事件类型",
            "start": "开始时间",
            "end": "结束时间",
            "duration_hours": "时长（小时）",
        }
    )
    path = tmp_path / "工单.csv"
    chinese.to_csv(path, index=False, encoding="gb18030")
    records = load_records(path)
    assert list(records.frame["event_id"]) == list(GOOD["event_id"])
    assert records.frame["category"][2] == "service_attitude"


def test_frame_input_is_not_modified() -> None:
    before = GOOD.copy()
    load_records(GOOD)
    pd.testing.assert_frame_equal(GOOD, before)


BAD = [  # (column, row, value, edit) — one fault each
    (
        "event_type",
        4,
        "'停水'",
        lambda f: f.__setitem__("event_type", [*f["event_type"][:2], "停水", *f["event_type"][3:]]),
    ),
    ("start", 3, "'2025-13-45'", lambda f: f.loc.__setitem__((1, "start"), "2025-13-45")),
    ("end", 2, "2025-01-09", lambda f: f.loc.__setitem__((0, "end"), "2025-01-09 07:00")),
    ("duration_hours", 5, "-3", lambda f: f.loc.__setitem__((3, "duration_hours"), "-3")),
    ("duration_hours", 2, "5", lambda f: f.loc.__setitem__((0, "duration_hours"), "5")),  # end − start = 2.5
    ("event_id", 2, "'E1'", lambda f: f.loc.__setitem__((1, "event_id"), "E1")),
    ("planned", 2, "'maybe'", lambda f: f.loc.__setitem__((0, "planned"), "maybe")),
    ("customer_id", 6, "", lambda f: f.loc.__setitem__((4, "customer_id"), "")),
]


@pytest.mark.parametrize(("column", "row", "value", "edit"), BAD, ids=[f"{b[0]}-{b[1]}" for b in BAD])
def test_each_bad_input_is_refused_naming_file_column_row_value(
    tmp_path: Path, column: str, row: int, value: str, edit
) -> None:
    frame = GOOD.copy()
    edit(frame)
    path = tmp_path / "orders_bad.csv"
    frame.to_csv(path, index=False)
    snapshot = Snapshot(tmp_path)
    with pytest.raises(SurveyDataError) as info:
        load_records(path)
    text = str(info.value)
    assert text.startswith("orders_bad.csv: ")
    assert f"column {column}" in text and (f"row {row}" in text or f"rows {row}" in text) and value in text, (
        text
    )
    assert info.value.problems[0].column == column and info.value.problems[0].rows[0] == row
    snapshot.unchanged()


def test_every_problem_at_once_grouped_and_bounded(tmp_path: Path) -> None:
    n = 3000
    frame = pd.DataFrame(
        {
            "event_id": ["E1"] * n,
            "customer_id": [f"c{k}" for k in range(n)],
            "event_type": ["gas leak"] * n,
            "start": ["yesterday"] * n,
            "duration_hours": ["-1"] * n,
        }
    )
    path = tmp_path / "many.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(SurveyDataError) as info:
        load_records(path)
    text = str(info.value)
    assert len(text) <= MESSAGE_CHARS
    assert {p.column for p in info.value.problems} == {"event_id", "event_type", "start", "duration_hours"}
    assert f"{n} event ids are repeated" in text and f"{n} values are not event types" in text
    assert "rows 2, 3, 4: 'E1', 'E1', 'E1' …" in text


def test_missing_required_column_and_unknown_file_type(tmp_path: Path) -> None:
    with pytest.raises(SurveyDataError, match=r"records: required column\(s\) event_type, start are missing"):
        load_records(GOOD.drop(columns=["event_type", "start"]))
    path = tmp_path / "orders.doc"
    path.write_text("x")
    with pytest.raises(SurveyDataError, match=r"orders\.doc: unsupported file type"):
        load_records(path)


def test_customers_not_in_survey_are_a_note_with_counts() -> None:
    records = load_records(GOOD, survey=survey(2), name="orders.csv")
    assert records.diagnostics == [
        "orders.csv: 1 event(s) of 1 customer(s) are not respondents of the survey (e.g. 'r3'); "
        "they are kept but are left out when joined to the survey"
    ]


# ---------------------------------------------------------------------------- features
def test_features_by_hand() -> None:
    extra = pd.DataFrame(
        [
            {
                "event_id": "E9",
                "customer_id": "r1",
                "event_type": "outage",
                "start": "2024-12-31 23:00",
                "end": "2025-01-01 01:00",
            }
        ]
    )  # before the period
    records = load_records(pd.concat([GOOD, extra], ignore_index=True))
    features = customer_features(records, survey(4))
    f = features.frame.set_index("respondent_id")
    assert features.period == (pd.Timestamp("2025-01-01"), pd.Timestamp("2026-01-01"))
    assert features.period_source == "calendar year of wave 2025"
    assert f.loc["r1", "outage_count"] == 2 and f.loc["r1", "outage_hours"] == 3.5
    assert f.loc["r1", "outage_mean_hours"] == 1.75 and f.loc["r1", "outage_max_hours"] == 2.5
    assert f.loc["r1", "outage_planned_count"] == 1 and f.loc["r1", "outage_unplanned_count"] == 1
    assert f.loc["r2", "complaint_count"] == 1 and f.loc["r2", "complaint_hours"] == 72
    assert f.loc["r2", "complaint_service_attitude_count"] == 1 and f.loc["r2", "hotline_contact_count"] == 1
    assert f.loc["r3", "fault_repair_count"] == 1 and f.loc["r3", "fault_repair_hours"] == 4
    assert (f.loc["r4"] == 0).all()  # no events: zeros, explicitly
    assert features.diagnostics == [
        "records: 1 event(s) outside the reference period 2025-01-01 to 2026-01-01 are not counted"
    ]
    assert not f.isna().any().any()
    assert {f"{t}_count" for t in EVENT_TYPES} <= set(features.features)


def test_period_must_be_given_without_a_wave() -> None:
    records = load_records(GOOD)
    with pytest.raises(ModelSpecError, match="give period="):
        customer_features(records, ["r1", "r2"])
    features = customer_features(records, ["r1", "r2"], period=("2025-02-01", "2025-06-01"))
    assert features.frame.set_index("respondent_id").loc["r1", "outage_count"] == 1


# ---------------------------------------------------------------------------- synthetic
def test_synthetic_records_are_deterministic_labelled_and_valid(donggang: csi.Survey) -> None:
    a = synthetic_records(donggang, seed=3)
    b = synthetic_records(donggang, seed=3)
    c = synthetic_records(donggang, seed=4)
    pd.testing.assert_frame_equal(a.records.frame, b.records.frame)
    assert not a.records.frame.equals(c.records.frame)
    assert a.records.synthetic and a.records.source.startswith("synthetic")
    assert set(a.records.frame["customer_id"]) <= set(donggang.frame["respondent_id"])
    reloaded = load_records(a.records.frame, survey=donggang)  # the generated rows pass the loader
    assert reloaded.diagnostics == [] and len(reloaded) == len(a.records)
    assert a.truth.drivers == ("outage_count", "fault_repair_count", "complaint_count")
    assert "billing_query_count" in a.truth.decoys and not set(a.truth.drivers) & set(a.truth.decoys)


def test_synthetic_counts_have_the_planted_rate_ratios() -> None:
    """Poisson regression of counts on z recovers β (SE ≈ 1/√(n·λ·var z) ≈ 0.02–0.05 here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", csi.CSIWarning)
        big = csi.load_survey(DATA / "xiyuan_2025.csv")
    syn = synthetic_records(
        big, seed=11, effects={"outage": 0.5, "complaint": 0.7}, base_rates={"complaint": 1.0}
    )
    features = customer_features(syn.records, big).frame
    s = satisfaction_scores(big).to_numpy()
    s = np.where(np.isnan(s), np.nanmean(s), s)
    z = (-(s - s.mean()) / s.std())[:, None]
    for event, beta in [
        ("outage", 0.5),
        ("complaint", 0.7),
        ("billing_query", 0.0),
        ("hotline_contact", 0.0),
    ]:
        fit = PoissonRegressor(alpha=0.0).fit(z, features[f"{event}_count"])
        assert abs(fit.coef_[0] - beta) < 0.12, (event, fit.coef_[0])


# ---------------------------------------------------------------------------- drivers and Pareto
def test_driver_analysis_recovers_the_planted_drivers(donggang: csi.Survey) -> None:
    for seed in range(3):
        syn = synthetic_records(donggang, seed=seed)
        result = driver_analysis(customer_features(syn.records, donggang), donggang, seed=seed, n_repeats=5)
        top = result.top(len(syn.truth.drivers))
        assert set(top) == set(syn.truth.drivers), (seed, result.ranking)
        ranks = result.ranking[result.ranking["segment"] == "all"].set_index("feature")["rank"]
        assert ranks[list(syn.truth.decoys)].min() > ranks[list(syn.truth.drivers)].max()
        assert (
            result.ranking.set_index("feature")
            .loc[list(syn.truth.drivers)]
            .query("segment == 'all'")["direction"]
            == "raises"
        ).all()
        assert set(result.vital_few()) <= {"outage", "fault_repair", "complaint", "hotline_contact"}


def test_driver_analysis_is_deterministic_and_states_its_definitions(donggang: csi.Survey) -> None:
    syn = synthetic_records(donggang, seed=5)
    features = customer_features(syn.records, donggang)
    a = driver_analysis(features, donggang, seed=9, n_repeats=3)
    b = driver_analysis(features, donggang, seed=9, n_repeats=3)
    pd.testing.assert_frame_equal(a.ranking, b.ranking)
    assert a.definitions["high_value"] == "customer_class in {industrial, commercial}"
    assert "below 80" in a.definitions["dissatisfied"]
    sizes = a.segments.set_index("segment")
    assert sizes.loc["high_value", "customers"] == int(
        donggang.frame["customer_class"].isin(["industrial", "commercial"]).sum()
    )


def test_pareto_by_hand() -> None:
    """Six customers; index (mean grade score of SAT1-3) r1 13.3, r2 46.7, r3 100, r4 86.7, r5 86.7,
    r6 60 → dissatisfied below 60: r1, r2. Outage hits r1, r2, r3: rate 2/3 vs 0/3 unaffected → excess
    2/3 × 3 = 2. Complaint hits r1, r6: 1/2 vs 1/4 → 1/4 × 2 = 0.5. Praise hits r4: 0 vs 2/5 → 0.
    Shares 0.8 and 0.2: outage alone reaches 80%."""
    frame = survey(6)
    records = load_records(
        pd.DataFrame(
            {
                "event_id": list("abcdef"),
                "customer_id": ["r1", "r2", "r3", "r1", "r6", "r4"],
                "event_type": ["outage", "outage", "outage", "complaint", "complaint", "praise"],
                "start": ["2025-03-01"] * 6,
            }
        )
    )
    result = driver_analysis(customer_features(records, frame), frame, threshold=60, high_value=None)
    p = result.pareto.set_index("event_type")
    assert p.loc["outage", "rank"] == 1 and p.loc["complaint", "rank"] == 2
    assert p.loc["outage", "contribution"] == pytest.approx(2.0)
    assert p.loc["complaint", "contribution"] == pytest.approx(0.5)
    assert p.loc["praise", "contribution"] == 0 and p.loc["praise", "excess_rate"] == pytest.approx(-0.4)
    assert p.loc["outage", "cumulative_share"] == pytest.approx(0.8)
    assert p.loc["complaint", "cumulative_share"] == pytest.approx(1.0)
    assert result.vital_few() == ["outage"]  # 80% reached by the first
    counted = driver_analysis(
        customer_features(records, frame), frame, threshold=60, high_value=None, basis="count"
    ).pareto.set_index("event_type")
    assert counted.loc["outage", "contribution"] == 2 and counted.loc["complaint", "contribution"] == 1
    assert result.diagnostics == [
        "segment all: 2 dissatisfied and 4 other customers; at least 5 of each are "
        "needed to rank drivers, so none are ranked"
    ]
    chart = pareto_chart_data(result, language="zh")
    assert list(chart["label"]) == ["停电", "投诉"] and list(chart["cumulative_share"]) == pytest.approx(
        [0.8, 1.0]
    )


def test_high_value_by_consumption_else_class() -> None:
    frame = survey(6)
    mask, text = high_value_customers(frame)
    assert mask.tolist() == [False, True, True, False, False, True] and "customer_class" in text
    frame["consumption"] = [10, 20, 30, 40, 50, 60]
    mask, text = high_value_customers(frame)
    # the 80th percentile (linear interpolation) of 10..60 is 50
    assert mask.tolist() == [False] * 4 + [True, True]
    assert text == "top 20% of customers by consumption (at least 50)"


def test_plot_pareto_in_both_languages(donggang: csi.Survey) -> None:
    syn = synthetic_records(donggang, seed=1)
    result = driver_analysis(customer_features(syn.records, donggang), donggang, seed=1, n_repeats=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing CJK glyph would warn
        for language in ("zh", "en"):
            fig = plot_pareto(result, "high_value", language=language)
            assert_fits(fig)
            title = fig.axes[0].get_title()
            assert ("高价值客户" in title) == (language == "zh")


# ---------------------------------------------------------------------------- files read for what they are
def test_records_in_another_encoding_or_named_otherwise_are_read_with_a_note(tmp_path: Path) -> None:
    earlier = tmp_path / "output" / "results.json"  # an earlier run's output beside the input
    earlier.parent.mkdir()
    earlier.write_text("{}")
    path = tmp_path / "orders.csv"
    path.write_bytes(GOOD.to_csv(index=False).encode("utf-16"))
    snap = Snapshot(tmp_path)
    records = load_records(path)
    assert list(records.frame["event_id"]) == list(GOOD["event_id"])
    assert records.diagnostics[0].startswith("orders.csv: the text is not UTF-8; it was read as UTF-16")
    book = tmp_path / "book.csv"  # a workbook saved under the name .csv
    GOOD.to_excel(book, index=False, engine="openpyxl")
    records = load_records(book)
    assert records.frame["category"][2] == "service_attitude"
    assert records.diagnostics[0] == ("book.csv: the file is an Excel workbook (.xlsx), not what its "
                                      "extension '.csv' says; read it as such")
    snap.unchanged()


@pytest.mark.parametrize(("members", "said"), [
    ({"orders.csv": b"event_id\n"}, "orders.csv: the file is a zip archive holding 'orders.csv'; unpack it"),
    ({"word/document.xml": b"<w/>"}, "orders.csv: the file is a Word document (.docx)"),
])
def test_records_in_an_archive_or_a_document_are_refused_naming_it(tmp_path: Path, members, said) -> None:
    import zipfile

    path = tmp_path / "orders.csv"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    snap = Snapshot(tmp_path)
    with pytest.raises(SurveyDataError) as info:
        load_records(path)
    assert said in str(info.value)
    snap.unchanged()
