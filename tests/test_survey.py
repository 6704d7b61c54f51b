"""load_survey: formats, encodings, every validation error's message, cleaning and data quality."""

from __future__ import annotations

import hashlib
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from csi_research.core.errors import CSIWarning, ModelSpecError, SurveyDataError
from csi_research.data.codebook import Codebook
from csi_research.data.sample import as_frame, prepare
from csi_research.data.survey import Survey, load_survey

ITEMS = Codebook.default().item_ids


def raw_frame(n: int = 40, seed: int = 1) -> pd.DataFrame:
    """A hand-made raw survey: codes 1–5 drawn independently, a few 9s, attributes, ids."""
    rng = np.random.default_rng(seed)
    codes = rng.choice([2, 3, 4, 5], size=(n, len(ITEMS)), p=[0.1, 0.2, 0.4, 0.3])
    codes[0, 3] = 9
    frame = pd.DataFrame(codes, columns=ITEMS)
    frame.insert(0, "respondent_id", [f"R{k:03d}" for k in range(1, n + 1)])
    frame.insert(1, "region", "test")
    frame.insert(2, "customer_class", np.resize(["residential", "commercial", "industrial"], n))
    frame.insert(3, "area", np.resize(["urban", "rural"], n))
    return frame


def write_csv(frame: pd.DataFrame, path, encoding: str = "utf-8") -> None:
    path.write_bytes(frame.to_csv(index=False).encode(encoding))


def load_quietly(path, **kwargs) -> Survey:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        return load_survey(path, **kwargs)


def expect_error(path, message: str, **kwargs) -> None:
    with pytest.raises(SurveyDataError, match="^" + re.escape(message)):
        load_quietly(path, **kwargs)


# ---------------------------------------------------------------------------- cleaning
def test_clean_frame_from_csv(tmp_path):
    raw = raw_frame()
    path = tmp_path / "survey.csv"
    write_csv(raw, path)
    before = path.read_bytes()
    survey = load_quietly(path)
    assert path.read_bytes() == before  # the input is never modified
    assert survey.sha256 == hashlib.sha256(before).hexdigest()
    assert survey.source == str(path)
    f = survey.frame
    assert list(f.columns) == ["respondent_id", "region", "customer_class", "area", *ITEMS]
    assert np.isnan(f.loc[0, ITEMS[3]])  # don't-know code 9 -> missing
    assert f["CMP2"].tolist() == (6 - raw["CMP2"]).astype(float).tolist()  # reverse item: 1 + 5 - x
    assert f["IMG1"].tolist() == raw["IMG1"].astype(float).tolist()
    assert f[ITEMS].dtypes.eq(float).all()
    assert isinstance(f["customer_class"].dtype, pd.CategoricalDtype)
    assert list(f["customer_class"].cat.categories) == ["residential", "commercial", "industrial"]
    assert f["respondent_id"].iloc[0] == "R001"


def test_survey_works_where_a_frame_is_expected(tmp_path):
    path = tmp_path / "survey.csv"
    write_csv(raw_frame(), path)
    survey = load_quietly(path)
    assert as_frame(survey) is survey.frame
    with pytest.warns(CSIWarning, match="1 of 40 respondents have missing items and were dropped"):
        x = prepare(survey.model(), survey, missing="listwise").x
    assert x.shape == (39, 30)  # respondent 1 answered "don't know" once
    tables = survey.summary()
    assert set(tables) == {"overview", "items", "quality"}
    items = tables["items"].set_index("item")
    assert items.loc["IMG1", "n"] == 40
    assert items.loc["IMG1", "mean"] == pytest.approx(raw_frame()["IMG1"].mean(), abs=1e-3)


def test_sample_prepared_from_a_survey_knows_its_scales_and_source(tmp_path):
    path = tmp_path / "survey.csv"
    raw = raw_frame()
    write_csv(raw, path)
    survey = load_quietly(path)
    model = survey.model()
    sample = prepare(model, survey)  # default: EM keeps the respondent with a "don't know"
    assert sample.missing == "em" and sample.n == 40 and sample.n_dropped == 0 and sample.n_imputed == 1
    assert sample.codebook is survey.codebook
    assert sample.source == survey.source and sample.sha256 == survey.sha256
    lo, hi = sample.bounds()
    assert (lo == 1).all() and (hi == 5).all()  # every item of the default questionnaire is on 1-5
    np.testing.assert_allclose(sample.rescaled(), (sample.x.to_numpy() - 1) / 4 * 100)
    observed = sample.observed.to_numpy()
    assert (~observed).sum() == 1 and not sample.observed.loc[0, ITEMS[3]]
    # answered cells are the cleaned answers themselves (reverse items recoded), the gap is filled
    clean = survey.frame[model.items].to_numpy()
    np.testing.assert_array_equal(sample.x.to_numpy()[observed], clean[observed])
    assert np.isfinite(sample.x.loc[0, ITEMS[3]])
    assert sample.describe().startswith("40 respondents of 40 received; missing answers: EM imputation")
    assert "有效样本 40 份" in sample.describe("zh")
    # scales can be given without a codebook, and must come as a pair
    frame_sample = prepare(model, survey.frame, scale_min=1, scale_max=5)
    assert frame_sample.codebook is None and (frame_sample.bounds()[1] == 5).all()
    with pytest.raises(ModelSpecError, match="scale is unknown"):
        prepare(model, survey.frame).bounds()
    with pytest.raises(ModelSpecError, match="give both scale_min and scale_max"):
        prepare(model, survey.frame, scale_min=1)
    with pytest.raises(ModelSpecError, match="missing 'pairwise' is not allowed"):
        prepare(model, survey, missing="pairwise")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings(tmp_path, encoding):
    raw = raw_frame()
    raw["customer_class"] = np.resize(["居民", "商业", "工业"], len(raw))  # Chinese labels are accepted
    path = tmp_path / "survey.csv"
    write_csv(raw, path, encoding)
    survey = load_quietly(path)
    assert survey.frame["customer_class"].tolist()[:3] == ["residential", "commercial", "industrial"]
    assert survey.frame.columns[0] == "respondent_id"  # a BOM does not stick to the first name


def test_text_no_supported_encoding_decodes_is_an_error(tmp_path):
    path = tmp_path / "survey.csv"
    # 0x80 followed by 0xFF: invalid in UTF-8, GB18030 and Big5 alike
    path.write_bytes(raw_frame().to_csv(index=False).encode("utf-8") + b"\x80\xff\n")
    expect_error(path, "survey.csv: the text is neither UTF-8 nor GB18030 nor Big5")


def test_other_formats_give_the_same_frame(tmp_path):
    import pyreadstat

    raw = raw_frame()
    write_csv(raw, tmp_path / "s.csv")
    reference = load_quietly(tmp_path / "s.csv").frame
    raw.to_excel(tmp_path / "s.xlsx", index=False, sheet_name="answers")
    raw.to_parquet(tmp_path / "s.parquet", index=False)
    pyreadstat.write_sav(raw, str(tmp_path / "s.sav"))
    for name, kwargs in [("s.xlsx", {"sheet": "answers"}), ("s.parquet", {}), ("s.sav", {})]:
        got = load_quietly(tmp_path / name, **kwargs).frame
        pd.testing.assert_frame_equal(got, reference, check_categorical=False)


# ---------------------------------------------------------------------------- errors
def test_value_outside_scale_names_file_column_spreadsheet_row_and_value(tmp_path):
    raw = raw_frame(n=300)
    raw.loc[212, "QUA7"] = 12  # 0-based data row 212 = spreadsheet row 214 (header is row 1)
    path = tmp_path / "survey.csv"
    write_csv(raw, path)
    expect_error(path, "survey.csv: column QUA7 row 214: value 12 is outside the 1–5 scale; "
                       "correct it to a code 1–5 or the missing code 9, or blank it")
    raw.loc[250, "QUA7"] = 0  # several bad cells: counted, with their rows and values
    write_csv(raw, path)
    expect_error(path, "survey.csv: column QUA7: 2 values outside the 1–5 scale (rows 214, 252: 12, 0); "
                       "correct them to a code 1–5 or the missing code 9, or blank them")


def test_text_in_an_item_column(tmp_path):
    raw = raw_frame().astype({"SAT1": object})
    raw.loc[4, "SAT1"] = "满意"
    path = tmp_path / "survey.csv"
    write_csv(raw, path)
    expect_error(path, "survey.csv: column SAT1 row 6: value '满意' is not a number")


def test_unknown_and_missing_columns(tmp_path):
    path = tmp_path / "survey.csv"
    write_csv(raw_frame().assign(Q07=1, interviewer="x"), path)
    expect_error(path, "survey.csv: unknown column(s) Q07, interviewer; "
                       "the codebook power_supply_csi_default knows respondent_id, region, wave",
                 extra_columns="error")
    assert list(load_quietly(path).extra.columns) == ["Q07", "interviewer"]  # by default kept aside
    write_csv(raw_frame().drop(columns=["LOY4", "EXP2"]), path)
    expect_error(path, "survey.csv: required item column(s) EXP2, LOY4 are missing")


def test_empty_and_header_only_files(tmp_path):
    path = tmp_path / "survey.csv"
    path.write_bytes(b"")
    expect_error(path, "survey.csv: the file is empty")
    write_csv(raw_frame().iloc[:0], path)
    expect_error(path, "survey.csv: the file has a header but no respondents")


def test_attribute_outside_categories(tmp_path):
    raw = raw_frame()
    raw.loc[9, "area"] = "suburb"
    path = tmp_path / "survey.csv"
    write_csv(raw, path)
    expect_error(path, "survey.csv: column area row 11: value 'suburb' is not a category of area "
                       "(urban, rural)")


def test_ids_all_duplicated_is_an_error_some_duplicated_is_reported(tmp_path):
    raw = raw_frame()
    path = tmp_path / "survey.csv"
    write_csv(pd.concat([raw, raw]), path)
    expect_error(path, "survey.csv: column respondent_id: every respondent id occurs more than once")
    raw.loc[5, "respondent_id"] = "R001"
    write_csv(raw, path)
    with pytest.warns(CSIWarning, match="respondent id"):
        survey = load_survey(path)
    assert survey.quality.duplicate_ids == ("R001",)
    assert any("R001" in d for d in survey.diagnostics)


def test_unsupported_type_and_absent_file(tmp_path):
    path = tmp_path / "survey.json"
    path.write_text("{}")
    expect_error(path, "survey.json: unsupported file type '.json'")
    with pytest.raises(SurveyDataError, match="cannot read the survey file"):
        load_survey(tmp_path / "absent.csv")


# ---------------------------------------------------------------------------- quality
def test_quality_flags_planted_problems(tmp_path):
    raw = raw_frame(n=200)
    raw.loc[10, ITEMS] = 4  # straight-liner
    raw.loc[11, ITEMS] = 9  # answered nothing: not a straight-liner, but >50 % missing
    raw.loc[12, ITEMS[:9]] = 5  # only 9 answered the same way: below the 10-item minimum
    raw.loc[12, ITEMS[9:]] = 9
    raw.loc[13, ITEMS] = np.resize([1, 5], len(ITEMS))  # 1 never occurs elsewhere: far out of pattern
    raw["EXP3"] = np.where(raw.index == 11, 9, 4)  # one observed answer only
    raw.loc[20:79, "QUA6"] = 9  # 30 % don't know
    path = tmp_path / "survey.csv"
    write_csv(raw, path)
    with pytest.warns(CSIWarning) as record:
        survey = load_survey(path)
    q = survey.quality
    assert q.straight_liners == ("R011",)
    assert "R014" in q.outliers and len(q.outliers) <= 3
    assert q.zero_variance_items == ("EXP3",)
    assert q.item_missing["QUA6"] == pytest.approx(62 / 200)  # rows 11, 12 and 20–79
    assert q.respondent_missing.iloc[11] == 1.0
    # a heavily missing item, sparse respondents, a straight-liner, a constant item
    assert len(record) == len(survey.diagnostics) == 4
    overview = q.summary()["overview"].set_index("metric")["value"]
    assert overview["straight-liners"] == 1 and overview["respondents missing > 50% of items"] == 2


def test_bundled_file_loads_and_from_frame_agrees(tmp_path):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "data" / "yunchuan_2025.csv"
    survey = load_quietly(path)
    assert len(survey.frame) == 500
    assert (survey.frame["wave"] == 2025).all() and (survey.frame["region"] == "yunchuan").all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        again = Survey.from_frame(pd.read_csv(path))
    pd.testing.assert_frame_equal(again.frame, survey.frame)
