"""Bring your own survey: a survey firm's export (SPSS, Excel, GB18030 or `;` CSV, its own codes,
extra columns, title rows) loads or is refused with one bounded message naming every problem.

Every refusal names the file and what is wrong (column, row, value, hint), stays short, and leaves
every input file as it was.
"""

from __future__ import annotations

import gzip
import pickle
import warnings
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from faults import Snapshot

from csi_research.core.errors import CSIWarning, ModelSpecError, SurveyDataError
from csi_research.data.codebook import Codebook
from csi_research.data.survey import Survey, SurveyProblem, check_identity, load_survey

DATA = Path(__file__).resolve().parents[1] / "data"
BEILING = DATA / "beiling_2025.csv"
BOOK = Codebook.default()
ITEMS = BOOK.item_ids
LIMIT = 2000  # the loader's bound on a message
BEILING_NAMES = ("beiling", "北岭", "Beiling")
ZH = {"residential": "居民", "commercial": "商业", "industrial": "工业"}


# ---------------------------------------------------------------------------- helpers
def raw() -> pd.DataFrame:
    """The bundled survey as the file's own text (codes as written, blanks as NaN)."""
    return pd.read_csv(BEILING, dtype=str)


def typed() -> pd.DataFrame:
    """The bundled survey with pandas' types (numbers as numbers), for Excel and SPSS."""
    return pd.read_csv(BEILING)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return load_survey.quiet(BEILING).frame


def quiet(path: Path, **kwargs) -> Survey:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        return load_survey(path, **kwargs)


def csv_file(tmp_path: Path, frame: pd.DataFrame, name: str = "survey.csv", encoding: str = "utf-8",
             **kwargs) -> Path:
    path = tmp_path / name
    path.write_bytes(frame.to_csv(index=False, **kwargs).encode(encoding))
    return path


def rows_of(frame: pd.DataFrame) -> list[list]:
    """Header and rows as plain Python values (None for blanks), as a worksheet holds them."""
    values = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    return [list(frame.columns), *values]


def xlsx_file(tmp_path: Path, sheets: dict[str, list[list]], name: str = "survey.xlsx") -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    path = tmp_path / name
    book.save(path)
    return path


def sav_file(tmp_path: Path, frame: pd.DataFrame, name: str = "survey.sav", **kwargs) -> Path:
    import pyreadstat

    path = tmp_path / name
    pyreadstat.write_sav(frame, str(path), **kwargs)
    return path


def spss_coded(frame: pd.DataFrame) -> pd.DataFrame:
    """customer_class as the codes 1–3 of an SPSS export (labels carry the names)."""
    out = frame.copy()
    out["customer_class"] = out["customer_class"].map({"residential": 1, "commercial": 2, "industrial": 3})
    return out.astype({"customer_class": float})


SPSS_LABELS = {"customer_class": {1.0: "居民", 2.0: "商业", 3.0: "工业"}}


def refused(path: Path, *fragments: str, limit: int = LIMIT, **kwargs) -> SurveyDataError:
    """Loading ``path`` fails with a bounded SurveyDataError naming the file and every fragment."""
    snap = Snapshot(path.parent if path.parent != DATA else path)
    with pytest.raises(SurveyDataError) as info:
        quiet(path, **kwargs)
    snap.unchanged()
    message = str(info.value)
    assert path.name in message, message
    assert len(message) <= limit, len(message)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return info.value


def loaded(path: Path, *notes: str, **kwargs) -> Survey:
    """Loading ``path`` succeeds, leaves every file beside it as it was, and notes each of ``notes``."""
    snap = Snapshot(path.parent if path.parent != DATA else path)
    survey = quiet(path, **kwargs)
    snap.unchanged()
    for note in notes:
        assert any(note in d for d in survey.diagnostics), f"{note!r} not in {survey.diagnostics!r}"
    return survey


def from_frame(frame: pd.DataFrame, **kwargs) -> Survey:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        return Survey.from_frame(frame, **kwargs)


def kinds(error: SurveyDataError) -> list[tuple[str, str]]:
    return [(p.kind, p.column) for p in error.problems]


# ---------------------------------------------------------------------------- one pass, every problem
def test_every_problem_of_the_file_is_reported_at_once_grouped_by_column(tmp_path):
    frame = raw()
    frame.loc[[2, 7, 15, 20], "QUA3"] = ["7", "8", "0", "6"]  # spreadsheet rows 4, 9, 17, 22
    frame.loc[[1, 6], "customer_class"] = ["shop", "x"]
    frame.loc[4, "SAT1"] = "满意"
    frame.loc[[9, 10], "respondent_id"] = np.nan
    frame.loc[30, "area"] = "suburb"
    error = refused(csv_file(tmp_path, frame), "survey.csv: 5 problems in 5 columns:\n",
                    "column QUA3: 4 values outside the 1–5 scale (rows 4, 9, 17: 7, 8, 0 …); correct them",
                    "column customer_class: 2 values are not categories (rows 3, 8: 'shop', 'x'); use "
                    "residential, commercial, industrial",
                    "column SAT1 row 6: value '满意' is not a number",
                    "column respondent_id: 2 ids are blank (rows 11, 12)",
                    "column area row 32: value 'suburb' is not a category of area (urban, rural)")
    assert set(kinds(error)) == {("outside_scale", "QUA3"), ("not_a_category", "customer_class"),
                                 ("not_a_number", "SAT1"), ("blank_id", "respondent_id"),
                                 ("not_a_category", "area")}
    qua3 = next(p for p in error.problems if p.column == "QUA3")
    assert isinstance(qua3, SurveyProblem)
    assert (qua3.count, qua3.rows, qua3.values) == (4, (4, 9, 17), ("7", "8", "0"))
    assert all(line.startswith("  column ") for line in str(error).splitlines()[1:])


def test_a_problem_in_every_column_is_counted_and_the_message_stays_short(tmp_path):
    frame = raw()
    frame.loc[:, ITEMS] = "7"
    frame["customer_class"] = "shop"
    error = refused(csv_file(tmp_path, frame), "31 problems in 31 columns",
                    "more problem(s) in 19 more columns")
    assert len(error.problems) == 31 and sum(p.count for p in error.problems) == 31 * 450
    assert len(str(error).splitlines()) <= 14


def test_a_study_wide_dont_know_code_not_declared_is_hinted_once(tmp_path):
    path = csv_file(tmp_path, raw().replace({"9": "99"}))
    error = refused(path, "values outside the 1–5 scale", "99", "declare it: missing_codes: [99]")
    assert str(error).count("missing_codes: [99]") == 1
    assert all(p.kind == "outside_scale" for p in error.problems)


def test_text_answers_of_many_kinds_in_one_column(tmp_path):
    frame = raw()
    frame.loc[0:99, "LOY2"] = [f"答案{k}" for k in range(100)]
    error = refused(csv_file(tmp_path, frame), "column LOY2: 100 values are not numbers "
                    "(rows 2, 3, 4: '答案0', '答案1', '答案2' …); enter answer codes (1–5)")
    assert error.problems[0].rows == (2, 3, 4)


@pytest.mark.parametrize("column", ["QUA5", "customer_class", "area"])
def test_a_huge_cell_is_quoted_cut(tmp_path, column):
    frame = raw()
    frame.loc[3, column] = "满" * 3_000_000  # a few MB in one cell
    error = refused(csv_file(tmp_path, frame), f"column {column} row 5: value '{'满' * 39}…'", limit=2500)
    assert error.problems[0].values == (f"'{'满' * 39}…'",)


def test_a_huge_repeated_id_is_cut_in_the_notes(tmp_path):
    frame = raw()
    frame.loc[[3, 4], "respondent_id"] = "R" * 3_000_000  # a valid id, repeated: a note, not an error
    survey = quiet(csv_file(tmp_path, frame))
    assert survey.quality.duplicate_ids == ("R" * 3_000_000,)
    assert all(len(d) < 500 for d in survey.diagnostics)
    assert any("R" * 39 + "…" in d for d in survey.diagnostics)


def test_a_huge_unknown_column_name_is_cut(tmp_path):
    frame = raw()
    frame["x" * 1_000_000] = "1"
    refused(csv_file(tmp_path, frame), "unknown column(s) xxxx", "…", extra_columns="error")
    survey = quiet(csv_file(tmp_path, frame, "kept.csv"))
    assert len(survey.diagnostics[0]) < 400 and survey.extra.shape == (450, 1)


def test_blank_and_all_repeated_ids(tmp_path):
    frame = raw()
    frame.loc[[4, 8, 12, 16], "respondent_id"] = " "
    frame.loc[[4, 8, 12, 16], "respondent_id"] = np.nan
    refused(csv_file(tmp_path, frame), "column respondent_id: 4 ids are blank (rows 6, 10, 14 …); "
            "give every respondent an id")
    doubled = pd.concat([raw(), raw()])
    refused(csv_file(tmp_path, doubled, "doubled.csv"), "every respondent id occurs more than once",
            "pasted twice")


# ---------------------------------------------------------------------------- columns
def test_a_duplicated_csv_column_is_named_with_both_positions(tmp_path):
    lines = BEILING.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    header[-1] = "IMG1"  # LOY4's column (36) now says IMG1 (column 7)
    path = tmp_path / "survey.csv"
    path.write_text("\n".join([",".join(header), *lines[1:]]) + "\n", encoding="utf-8")
    error = refused(path, "column IMG1 appears twice (columns 7 and 36)", "LOY4 are missing")
    assert "IMG1.1" not in str(error)
    assert ("duplicate_column", "IMG1") in kinds(error)


def test_a_duplicated_excel_column_is_named_with_both_positions(tmp_path):
    rows = rows_of(typed())
    rows[0][10] = "IMG1"
    refused(xlsx_file(tmp_path, {"data": rows}), "column IMG1 appears twice (columns 7 and 11)")


def test_a_pandas_mangled_duplicate_in_a_frame_is_a_duplicate(tmp_path):
    frame = typed()
    frame["IMG1.1"] = frame["IMG1"]
    snap = Snapshot(DATA)
    with pytest.raises(SurveyDataError, match=r"column IMG1 appears twice \(columns 7 and 37\)"):
        from_frame(frame, source="firm.csv")
    snap.unchanged()


def test_a_column_without_header_is_named_by_position(tmp_path):
    frame = raw()
    frame.insert(3, "", "x")
    refused(csv_file(tmp_path, frame), "column 4 has no header", "row 2: 'x'")
    unnamed = typed()
    unnamed.insert(3, "Unnamed: 3", "x")  # what pandas calls it
    with pytest.raises(SurveyDataError, match="frame: column 4 has no header"):
        from_frame(unnamed)


def test_rows_wider_than_the_header(tmp_path):
    lines = BEILING.read_text(encoding="utf-8").splitlines()
    lines[5] += ",oops"
    lines[9] += ",,"  # empty extra cells are export debris
    path = tmp_path / "survey.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    refused(path, "column 37 has no header but holds values (e.g. row 6: 'oops')", "shifted")
    lines[5] = lines[5].removesuffix(",oops")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert len(quiet(path).frame) == 450


def test_missing_item_columns_are_listed_with_a_case_hint(tmp_path):
    frame = raw().drop(columns=["EXP2", "LOY4"]).rename(columns={"QUA1": "qua1"})
    error = refused(csv_file(tmp_path, frame), "required item column(s) EXP2, QUA1, LOY4 are missing",
                    "qua1 for QUA1", "case included")
    assert error.problems[0].kind == "missing_column"


def test_unknown_columns_refused_on_request_with_a_short_message(tmp_path):
    frame = raw()
    for k in range(200):
        frame[f"extra_{k}"] = "1"
    error = refused(csv_file(tmp_path, frame), "unknown column(s) extra_0, extra_1", "(200 in all)",
                    "extra_columns: keep", limit=700, extra_columns="error")
    assert error.problems[0].count == 200


def test_a_file_of_another_questionnaire_shows_its_header(tmp_path):
    frame = pd.DataFrame({"编号": ["1", "2"], "问题1": ["3", "4"]})
    refused(csv_file(tmp_path, frame), "none of the codebook's columns is in the header (row 1 reads: "
            "'编号 | 问题1')")


# ---------------------------------------------------------------------------- encodings and file types
def test_a_utf8_file_with_two_gbk_rows_names_the_rows(tmp_path):
    frame = raw()
    frame["customer_class"] = frame["customer_class"].map(ZH)  # Chinese text on every row
    lines = frame.to_csv(index=False).splitlines()
    body = [line.encode("gbk" if number in (11, 12) else "utf-8") for number, line in enumerate(lines, 1)]
    path = tmp_path / "survey.csv"
    path.write_bytes(b"\n".join(body) + b"\n")
    error = refused(path, "rows 11, 12 are not UTF-8 while the rest of the file is",
                    "they look GBK/GB18030", "re-save the whole file as UTF-8")
    assert error.problems[0].rows == (11, 12)


def test_utf16_is_read_with_a_note_and_undecodable_bytes_are_refused(tmp_path, reference):
    path = tmp_path / "survey.csv"
    path.write_bytes(raw().to_csv(index=False).encode("utf-16"))
    survey = loaded(path, "survey.csv: the text is not UTF-8; it was read as UTF-16")
    pd.testing.assert_frame_equal(survey.frame, reference)
    path.write_bytes(bytes(range(128, 256)) * 50)  # 0x80 starts no character of any supported encoding
    refused(path, "neither UTF-8 nor GB18030 nor Big5")


def test_binary_garbage_named_csv(tmp_path):
    path = tmp_path / "survey.csv"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes() + b"\x00")
    refused(path, "the file is binary, not text")


def test_a_workbook_named_csv_and_a_csv_named_xlsx_are_read_for_what_they_are(tmp_path, reference):
    workbook = xlsx_file(tmp_path, {"data": rows_of(typed())})
    renamed = tmp_path / "survey.csv"
    renamed.write_bytes(workbook.read_bytes())
    survey = loaded(renamed, "survey.csv: the file is an Excel workbook (.xlsx), not what its extension "
                    "'.csv' says; read it as such")
    pd.testing.assert_frame_equal(survey.frame, reference)
    text = csv_file(tmp_path, raw(), "text.xlsx")
    survey = loaded(text, "text.xlsx: the file is text, not an Excel workbook (.xlsx) as its extension says; "
                    "read as text: columns separated by ',', encoding UTF-8")
    pd.testing.assert_frame_equal(survey.frame, reference)


def test_empty_header_only_and_blank_rows_only(tmp_path):
    path = tmp_path / "survey.csv"
    path.write_bytes(b"")
    refused(path, "the file is empty")
    path.write_bytes(b" \r\n\n")
    refused(path, "the file is empty")
    path.write_text(BEILING.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    refused(path, "the file has a header but no respondents")
    path.write_text(BEILING.read_text(encoding="utf-8").splitlines()[0] + "\n,,,\n\n,,\n", encoding="utf-8")
    refused(path, "the file has a header but no respondents")


def test_unsupported_type_folder_and_missing_file(tmp_path):
    path = tmp_path / "survey.json"
    path.write_text('{"respondent_id": 1}')
    refused(path, "unsupported file type '.json'", ".csv", ".xlsx", ".sav", ".parquet")
    folder = tmp_path / "survey_folder"
    folder.mkdir()
    (folder / "inside.csv").write_bytes(BEILING.read_bytes())
    refused(folder, "is a folder, not a survey file")
    with pytest.raises(SurveyDataError, match=r"absent\.csv: cannot read the survey file"):
        quiet(tmp_path / "absent.csv")


def test_an_empty_excel_sheet(tmp_path):
    refused(xlsx_file(tmp_path, {"empty": []}), "sheet 'empty' is empty")


# ---------------------------------------------------------------------------- separators and title rows
@pytest.mark.parametrize(("separator", "said"), [(";", "';'"), ("\t", "tabs"), ("|", "'|'")])
def test_other_separators_are_read_and_noted(tmp_path, reference, separator, said):
    survey = quiet(csv_file(tmp_path, raw(), sep=separator))
    pd.testing.assert_frame_equal(survey.frame, reference)
    assert f"survey.csv: the columns are separated by {said}, not ','" in survey.diagnostics[0]


def test_a_tsv_file_needs_no_note(tmp_path, reference):
    survey = quiet(csv_file(tmp_path, raw(), "survey.tsv", sep="\t"))
    pd.testing.assert_frame_equal(survey.frame, reference)
    assert not any("separated" in d for d in survey.diagnostics)


def test_a_semicolon_file_with_errors_reports_cells_not_one_big_column(tmp_path):
    frame = raw()
    frame.loc[10, "VAL2"] = "6"
    error = refused(csv_file(tmp_path, frame, sep=";"),
                    "column VAL2 row 12: value 6 is outside the 1–5 scale")
    assert "unknown column" not in str(error)


def test_a_title_row_above_the_header_in_csv(tmp_path, reference):
    path = tmp_path / "survey.csv"
    path.write_bytes("2025年供电服务满意度调查,,\n".encode() + BEILING.read_bytes())
    survey = quiet(path)
    pd.testing.assert_frame_equal(survey.frame, reference)
    assert survey.diagnostics[0] == ("survey.csv: the header is on row 2; the 1 row(s) above it were skipped "
                                     "as a title ('2025年供电服务满意度调查'); row numbers in messages count "
                                     "from the top of the file")
    frame = raw()
    frame.loc[0, "QUA2"] = "0"
    path.write_bytes("2025年供电服务满意度调查\n".encode() + frame.to_csv(index=False).encode())
    refused(path, "column QUA2 row 3: value 0")  # respondent 1 is on spreadsheet row 3


def test_a_title_row_above_the_header_in_excel(tmp_path, reference):
    rows = rows_of(typed())
    survey = quiet(xlsx_file(tmp_path, {"数据": [["2025年供电服务满意度调查"], [], *rows]}))
    pd.testing.assert_frame_equal(survey.frame, reference)
    assert survey.diagnostics[0].startswith("survey.xlsx: the header is on row 3; the 2 row(s) above it "
                                            "were skipped as a title ('2025年供电服务满意度调查')")
    assert survey.row_numbers()[0] == 4
    rows[2][ITEMS.index("QUA1") + 6] = 7  # respondent 2
    refused(xlsx_file(tmp_path, {"数据": [["2025年供电服务满意度调查"], *rows]}, "bad.xlsx"),
            "column QUA1 row 4: value 7 is outside the 1–5 scale")


# ---------------------------------------------------------------------------- Excel sheets
def cover_and_answers(tmp_path: Path) -> Path:
    cover = [["2025年供电服务满意度调查"], ["说明：数据见第二页"]]
    return xlsx_file(tmp_path, {"说明": cover, "answers": rows_of(typed())})


def test_the_sheet_holding_the_survey_is_found_and_noted(tmp_path, reference):
    survey = quiet(cover_and_answers(tmp_path))
    pd.testing.assert_frame_equal(survey.frame, reference, check_categorical=False)
    assert "read sheet 'answers', the one holding the survey's columns (sheet '说明' does not)" in \
        survey.diagnostics[0]
    for sheet in ("answers", " ANSWERS ", 2, "2"):
        explicit = quiet(cover_and_answers(tmp_path), sheet=sheet)
        assert len(explicit.frame) == 450 and not any("read sheet" in d for d in explicit.diagnostics)


def test_a_sheet_without_the_survey_names_the_one_with_it(tmp_path):
    error = refused(cover_and_answers(tmp_path), "sheet '说明' has none of the codebook's columns; "
                    "sheet 'answers' has them: read it with --sheet answers (study.yaml: sheet: answers)",
                    sheet="说明")
    assert error.problems[0].kind == "sheet"


@pytest.mark.parametrize(("sheet", "said"), [
    ("answer", "no sheet 'answer'; its sheets are '说明', 'answers'"),
    (3, "no sheet number 3; sheets are numbered from 1 to 2"),
    (0, "no sheet number 0"),
])
def test_an_absent_sheet_lists_the_sheets(tmp_path, sheet, said):
    refused(cover_and_answers(tmp_path), said, sheet=sheet)


def test_two_sheets_holding_a_survey_must_be_chosen(tmp_path):
    rows = rows_of(typed())
    path = xlsx_file(tmp_path, {"2024": rows, "2025": rows})
    refused(path, "sheets '2024', '2025' both hold the codebook's columns; choose one with --sheet NAME")
    assert len(quiet(path, sheet="2025").frame) == 450


# ---------------------------------------------------------------------------- SPSS
def test_spss_value_labels_and_user_missing_codes(tmp_path, reference):
    frame = spss_coded(typed())
    frame[ITEMS] = frame[ITEMS].replace(9, 99)  # the firm's "don't know", declared user-missing
    path = sav_file(tmp_path, frame, variable_value_labels=SPSS_LABELS,
                    missing_ranges={item: [99] for item in ITEMS})
    survey = quiet(path)
    assert survey.frame["customer_class"].tolist() == reference["customer_class"].tolist()
    assert survey.frame.loc[1, "customer_class"] == "industrial"
    pd.testing.assert_frame_equal(survey.frame[ITEMS], reference[ITEMS])  # 99 → NaN like 9 was
    assert survey.frame[ITEMS].isna().sum().sum() == reference[ITEMS].isna().sum().sum() > 0


def test_spss_value_label_that_is_not_a_category(tmp_path):
    frame = spss_coded(typed())
    frame.loc[[3, 5], "customer_class"] = 4.0
    labels = {"customer_class": {**SPSS_LABELS["customer_class"], 4.0: "shop"}}
    path = sav_file(tmp_path, frame, variable_value_labels=labels)
    refused(path, "column customer_class: 2 values are not categories (rows 5, 7: 'shop', 'shop')")


def test_spss_code_without_label_is_named_by_its_code(tmp_path):
    path = sav_file(tmp_path, spss_coded(typed()))  # no labels: codes 1–3 mean nothing to the codebook
    refused(path, "column customer_class: 450 values are not categories (rows 2, 3, 4: '2', '3', '1' …)")


def test_spss_codes_not_declared_missing_are_out_of_scale(tmp_path):
    frame = spss_coded(typed())
    frame[ITEMS] = frame[ITEMS].replace(9, 99)
    error = refused(sav_file(tmp_path, frame, variable_value_labels=SPSS_LABELS), "99", "missing_codes: [99]")
    assert {p.kind for p in error.problems} == {"outside_scale"}
    assert quiet(tmp_path / "survey.sav", missing_codes=[99]).frame[ITEMS].isna().any().any()


# ---------------------------------------------------------------------------- study-wide codes, extras
def test_study_wide_missing_codes_equal_blanks(tmp_path):
    coded = quiet(csv_file(tmp_path, raw().replace({"9": "99"}), "coded.csv"), missing_codes=[99])
    blank = quiet(csv_file(tmp_path, raw().replace({"9": ""}), "blank.csv"))
    pd.testing.assert_frame_equal(coded.frame, blank.frame)
    assert coded.frame[ITEMS].isna().sum().sum() > 0


@pytest.mark.parametrize(("codes", "said"), [([3], "missing code 3 is an answer code of item(s) IMG1"),
                                             (["x"], "missing code 'x' is not an integer code"),
                                             ([2.5], "missing code 2.5 is not an integer code"),
                                             ("99", "missing_codes must be a list")])
def test_bad_study_wide_missing_codes(tmp_path, codes, said):
    path = csv_file(tmp_path, raw())
    snap = Snapshot(tmp_path)
    with pytest.raises(ModelSpecError, match="survey.csv: " + said.replace("(", r"\(").replace(")", r"\)")):
        quiet(path, missing_codes=codes)
    snap.unchanged()


def test_extra_columns_are_kept_aside_with_a_note(tmp_path, reference):
    frame = raw()
    frame.insert(1, "地区名称", "北岭")
    frame["interviewer"] = [f"A{k % 7}" for k in range(len(frame))]
    survey = quiet(csv_file(tmp_path, frame))
    pd.testing.assert_frame_equal(survey.frame, reference)
    assert list(survey.extra.columns) == ["地区名称", "interviewer"]
    assert survey.extra.index.equals(survey.frame.index) and survey.extra.loc[8, "interviewer"] == "A1"
    assert survey.diagnostics[0] == ("survey.csv: 2 column(s) the codebook does not know kept aside, "
                                     "not analysed: 地区名称, interviewer")
    refused(tmp_path / "survey.csv", "unknown column(s) 地区名称, interviewer", extra_columns="error")
    with pytest.raises(ModelSpecError, match="extra_columns 'drop' is not allowed; use one of: keep, error"):
        quiet(tmp_path / "survey.csv", extra_columns="drop")


def test_the_loaded_survey_still_has_its_old_shape(reference):
    survey = load_survey.quiet(BEILING)
    assert survey.extra.shape == (450, 0) and survey.row_numbers()[0] == 2
    legacy = Survey(survey.frame, survey.codebook, survey.source, survey.sha256, survey.quality)
    assert legacy.extra.empty and legacy.row_numbers()[-1] == 451


# ---------------------------------------------------------------------------- encodings and formats that load
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_chinese_labels_in_every_encoding(tmp_path, reference, encoding):
    frame = raw()
    frame["customer_class"] = frame["customer_class"].map(ZH)
    survey = quiet(csv_file(tmp_path, frame, encoding=encoding))
    pd.testing.assert_frame_equal(survey.frame, reference)


def test_parquet_loads_and_reports_spreadsheet_rows(tmp_path, reference):
    path = tmp_path / "survey.parquet"
    typed().to_parquet(path, index=False)
    pd.testing.assert_frame_equal(quiet(path).frame, reference)
    frame = typed()
    frame.loc[[0, 1], "SAT3"] = 6
    frame.to_parquet(path, index=False)
    refused(path, "column SAT3: 2 values outside the 1–5 scale (rows 2, 3: 6, 6)")


def test_the_error_keeps_its_problems_across_processes(tmp_path):
    frame = raw()
    frame.loc[0, "SAT2"] = "x"
    error = refused(csv_file(tmp_path, frame), "SAT2")
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.problems == error.problems


# ---------------------------------------------------------------------------- region and wave
def identity_file(tmp_path: Path, region, wave, name: str = "survey.csv") -> Survey:
    frame = raw()
    frame["region"] = region
    frame["wave"] = wave
    return quiet(csv_file(tmp_path, frame, name))


@pytest.mark.parametrize("spelling", ["beiling", "北岭", "Beiling", " BEILING "])
@pytest.mark.parametrize("wave", ["2025", "2025.0", 2025])
def test_identity_accepts_the_region_id_and_names_and_the_wave_as_number_or_text(tmp_path, spelling, wave):
    survey = identity_file(tmp_path, spelling, wave)
    check_identity(survey, region=BEILING_NAMES, wave="2025", where="beiling-2025/study.yaml")
    check_identity(survey, region=BEILING_NAMES, wave=2025, where="beiling-2025/study.yaml")


def test_identity_ignores_blanks_and_absent_columns(tmp_path):
    frame = raw()
    frame.loc[:9, "region"] = np.nan
    survey = quiet(csv_file(tmp_path, frame.drop(columns="wave")))
    check_identity(survey, region=BEILING_NAMES, wave="2031", where="study.yaml")


def identity_refused(survey: Survey, *fragments: str, **kwargs) -> SurveyDataError:
    snap = Snapshot(Path(survey.source).parent)
    with pytest.raises(SurveyDataError) as info:
        check_identity(survey, **{"region": ("linxi", "临溪", "Linxi"), "wave": "2025",
                                  "where": "linxi-2025/study.yaml", **kwargs})
    snap.unchanged()
    message = str(info.value)
    assert Path(survey.source).name in message and len(message) <= LIMIT
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return info.value


def test_another_regions_file_is_refused_naming_both():
    identity_refused(load_survey.quiet(BEILING),
                     "beiling_2025.csv: column region says 'beiling' (450 rows, e.g. row 2) but "
                     "linxi-2025/study.yaml is region linxi (临溪, Linxi); point data: at linxi's survey "
                     "or correct the region")


def test_another_waves_file_is_refused(tmp_path):
    survey = identity_file(tmp_path, "linxi", 2024)
    error = identity_refused(survey, "column wave says '2024' (450 rows, e.g. row 2) but "
                             "linxi-2025/study.yaml is wave 2025")
    assert kinds(error) == [("wrong_wave", "wave")]


def test_wrong_region_and_wave_are_reported_together():
    error = identity_refused(load_survey.quiet(BEILING), "2 problems in 2 columns", wave="2026")
    assert kinds(error) == [("wrong_region", "region"), ("wrong_wave", "wave")]


def test_a_file_of_several_regions_is_refused(tmp_path):
    linxi = pd.read_csv(DATA / "linxi_2025.csv", dtype=str)
    mixed = pd.concat([linxi, raw().head(5), raw().head(2).assign(region="Nanyu")])
    survey = quiet(csv_file(tmp_path, mixed, "mixed.csv"))
    error = identity_refused(survey, "column region holds 3 different values: 'linxi' (300 rows, e.g. "
                             "row 2), 'beiling' (5 rows, e.g. row 302), 'Nanyu' (2 rows, e.g. row 307); "
                             "one study is one region", "filter the file")
    assert error.problems[0].count == 7 and error.problems[0].rows == (302, 307)


# ---------------------------------------------------------------------------- more of the class
def test_a_blank_line_is_not_a_respondent_and_later_rows_keep_their_numbers(tmp_path):
    lines = BEILING.read_text(encoding="utf-8").splitlines()
    lines.insert(4, "")  # spreadsheet row 5 is empty
    cells = lines[10].split(",")
    cells[ITEMS.index("IMG5") + 6] = "8"
    lines[10] = ",".join(cells)
    path = tmp_path / "survey.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    refused(path, "column IMG5 row 11: value 8 is outside the 1–5 scale")


def test_an_old_excel_file_without_its_reader(tmp_path):
    path = tmp_path / "survey.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    try:
        import python_calamine  # noqa: F401
    except ImportError:
        refused(path, "reading .xls files needs the package xlrd (or python-calamine)", "save the workbook "
                "as .xlsx")
    else:  # a reader is installed: the bytes are no workbook
        refused(path, "cannot parse the file as .xls")


def test_a_sheet_given_for_a_csv_is_noted(tmp_path):
    survey = quiet(csv_file(tmp_path, raw()), sheet="answers")
    assert survey.diagnostics[0] == "survey.csv: sheet 'answers' ignored: only Excel workbooks have sheets"


def test_excel_debris_rows_and_columns_are_ignored(tmp_path, reference):
    rows = [[*row, None, None] for row in rows_of(typed())] + [[None] * 38] * 3
    rows[0][-1] = None  # a formatted but empty column without header
    survey = quiet(xlsx_file(tmp_path, {"data": rows}))
    pd.testing.assert_frame_equal(survey.frame, reference)
    assert survey.extra.shape == (450, 0)


def test_from_frame_takes_the_same_keywords(reference):
    frame = typed().replace({item: {9: 99} for item in ITEMS}).assign(interviewer="A1")
    survey = from_frame(frame, source="firm.csv", missing_codes=[99])
    pd.testing.assert_frame_equal(survey.frame, reference)
    assert list(survey.extra.columns) == ["interviewer"]
    snap = Snapshot(DATA)
    with pytest.raises(SurveyDataError, match=r"^firm\.csv: unknown column\(s\) interviewer"):
        from_frame(frame, source="firm.csv", missing_codes=[99], extra_columns="error")
    snap.unchanged()


def test_an_ascii_file_with_gbk_rows_is_a_gb18030_file(tmp_path, reference):
    frame = raw()
    frame.loc[[5, 6], "customer_class"] = "商业"
    lines = frame.to_csv(index=False).splitlines()
    path = tmp_path / "survey.csv"
    path.write_bytes(b"\n".join(line.encode("gbk") for line in lines) + b"\n")
    survey = quiet(path)
    assert survey.frame.loc[[5, 6], "customer_class"].tolist() == ["commercial", "commercial"]


# ============================================================================ held-out classes of bad files
# Each case: the error or note names the file (and sheet, column, row, value where they apply); the
# input and an earlier run's output beside it are unchanged (``folder`` holds that earlier output).
@pytest.fixture
def folder(tmp_path: Path) -> Path:
    earlier = tmp_path / "output" / "run-1"
    earlier.mkdir(parents=True)
    (earlier / "results.json").write_text('{"earlier": true}', encoding="utf-8")
    return tmp_path


def zipped(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


def chinese() -> pd.DataFrame:
    frame = raw()
    frame["customer_class"] = frame["customer_class"].map(ZH)
    return frame


# ---------------------------------------------------------------------------- encodings
@pytest.mark.parametrize(("codec", "label"), [("utf-16-le", "UTF-16 (little-endian)"),
                                              ("utf-16-be", "UTF-16 (big-endian)"), ("utf-32", "UTF-32"),
                                              ("gb18030", "GB18030 (GBK)")])
def test_text_in_another_encoding_is_read_naming_it(folder, reference, codec, label):
    path = folder / "survey.csv"
    path.write_bytes(chinese().to_csv(index=False).encode(codec))  # utf-16-le/be: no byte-order mark
    survey = loaded(path, f"survey.csv: the text is not UTF-8; it was read as {label}")
    pd.testing.assert_frame_equal(survey.frame, reference)


def test_big5_is_told_from_gb18030_by_its_common_characters(folder, reference):
    frame = raw()
    frame.insert(1, "地區名稱", ["北嶺供電區", "臺北營業處", "新竹服務所"] * 150)  # traditional script
    path = csv_file(folder, frame, encoding="big5")
    survey = loaded(path, "survey.csv: the text is not UTF-8; it was read as Big5")
    assert survey.extra["地區名稱"].tolist()[:3] == ["北嶺供電區", "臺北營業處", "新竹服務所"]
    simplified = raw()
    simplified.insert(1, "地区名称", ["北岭供电区", "城关营业所", "新区服务站"] * 150)
    survey = loaded(csv_file(folder, simplified, "gbk.csv", encoding="gbk"), "read as GB18030 (GBK)")
    assert survey.extra["地区名称"].tolist()[:3] == ["北岭供电区", "城关营业所", "新区服务站"]


# ---------------------------------------------------------------------------- file formats
def test_gzip_compressed_csv_is_read_with_a_note(folder, reference):
    for name in ("survey.csv.gz", "survey.csv"):
        path = folder / name
        path.write_bytes(gzip.compress(BEILING.read_bytes(), mtime=0))
        survey = loaded(path, f"{name}: the file is gzip-compressed; read the text inside it")
        pd.testing.assert_frame_equal(survey.frame, reference)


def test_a_zip_archive_is_refused_naming_its_members(folder):
    path = zipped(folder / "survey.zip", {"beiling.csv": BEILING.read_bytes(), "说明.txt": b"x"})
    refused(path, "survey.zip: the file is a zip archive holding 'beiling.csv', '说明.txt'; unpack it")
    path = zipped(folder / "survey.xlsx", {"data/beiling.csv": BEILING.read_bytes()})
    refused(path, "survey.xlsx: the file is a zip archive holding 'data/beiling.csv'")


@pytest.mark.parametrize(("members", "said"), [
    ({"word/document.xml": b"<w:document/>"}, "the file is a Word document (.docx); a survey table is not "
     "read from a Word document; export the answers as .xlsx or CSV"),
    ({"xl/workbook.bin": b"\x00"}, "the file is an Excel binary workbook (.xlsb); open it in Excel/WPS and "
     "save it as an Excel Workbook (.xlsx)"),
    ({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"}, "the file is an OpenDocument "
     "spreadsheet (.ods); open it in LibreOffice/WPS/Excel and save it as an Excel Workbook (.xlsx)"),
])
@pytest.mark.parametrize("name", ["survey.xlsx", "survey.csv"])
def test_office_files_no_reader_takes_are_named_with_what_to_do(folder, members, said, name):
    refused(zipped(folder / name, members), f"{name}: {said}")


@pytest.mark.parametrize("name", ["survey.xlsx", "survey.xls"])
def test_a_password_protected_workbook_is_named(folder, name):
    path = folder / name
    # an encrypted workbook is an OLE2 file with an "EncryptedPackage" stream (its name in UTF-16)
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500) + "EncryptedPackage".encode("utf-16-le")
                     + bytes(500))
    refused(path, f"{name}: the file is a password-protected (encrypted) Office file; open it in Excel/WPS "
            "with its password, remove the password")


@pytest.mark.parametrize("name", ["survey.xls", "survey.xml"])
def test_an_excel_2003_xml_spreadsheet_is_named(folder, name):
    path = folder / name
    path.write_text('<?xml version="1.0"?>\n<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">'
                    "<Worksheet/></Workbook>", encoding="utf-8")
    refused(path, f"{name}: the file is an Excel 2003 XML spreadsheet; open it in Excel/WPS and save it as "
            "an Excel Workbook (.xlsx)")


def html_page(rows: list[list], title: str = "", layout: bool = False) -> bytes:
    def cells(row: list, tag: str) -> str:
        return "".join(f"<{tag}>{'' if v is None else v}</{tag}>" for v in row)

    table = "<table border=1>" + "".join(
        f"<tr>{cells(r, 'th' if k == 0 else 'td')}</tr>" for k, r in enumerate(rows)) + "</table>"
    head = f"<table><tr><td>{title}</td></tr></table>" if layout else ""
    return (f'<html><head><meta charset="utf-8"></head><body>{head}{table}</body></html>').encode()


def test_an_html_table_saved_as_xls_is_read_with_a_note(folder, reference):
    path = folder / "survey.xls"
    path.write_bytes(html_page(rows_of(raw())))
    survey = loaded(path, "survey.xls: the file is an HTML table (a web page), not what its extension '.xls' "
                    "says; read it as such")
    pd.testing.assert_frame_equal(survey.frame, reference)
    path = folder / "report.xls"
    path.write_bytes(html_page(rows_of(raw()), "2025年满意度调查导出", layout=True))
    survey = loaded(path, "report.xls: read table 2 of the page's 2, the one holding the survey's columns")
    pd.testing.assert_frame_equal(survey.frame, reference)


def test_an_html_table_with_a_bad_answer_names_its_row(folder):
    rows = rows_of(raw())
    rows[3][ITEMS.index("SAT2") + 6] = "6"  # respondent 3: spreadsheet row 4
    path = folder / "survey.xls"
    path.write_bytes(html_page(rows))
    refused(path, "survey.xls: column SAT2 row 4: value 6 is outside the 1–5 scale")


@pytest.mark.parametrize(("name", "sep", "said"), [("survey.txt", "\t", "tabs"), ("survey.dat", ";", "';'"),
                                                   ("survey", ",", "','")])
def test_an_unknown_extension_with_the_codebook_header_says_how_it_was_read(folder, reference, name, sep,
                                                                               said):
    path = csv_file(folder, raw(), name, sep=sep)
    suffix = Path(name).suffix or "(none)"
    survey = loaded(path, f"{name}: the file type {suffix!r} is not a survey format, but the file is text "
                    f"with the codebook's columns; read as text: columns separated by {said}, encoding UTF-8")
    pd.testing.assert_frame_equal(survey.frame, reference)


def test_an_unknown_extension_without_the_codebook_header_is_refused(folder):
    path = folder / "notes.txt"
    path.write_text("meeting notes\nIMG1 means image\n", encoding="utf-8")
    refused(path, "notes.txt: unsupported file type '.txt'; use .csv",
            "no header with the codebook's columns")
    path = folder / "survey.dat"
    path.write_bytes(pd.DataFrame({"编号": ["1"], "问题1": ["3"]}).to_csv(index=False).encode())
    refused(path, "survey.dat: unsupported file type '.dat'")


# ---------------------------------------------------------------------------- title rows and sheets
def test_a_header_under_many_title_rows_is_found(folder, reference):
    titles = "".join(f"说明第{k}行,,\n" for k in range(1, 21)).encode()
    path = folder / "survey.csv"
    path.write_bytes(titles + BEILING.read_bytes())
    survey = loaded(path, "survey.csv: the header is on row 21; the 20 row(s) above it were skipped")
    pd.testing.assert_frame_equal(survey.frame, reference)
    book = xlsx_file(folder, {"数据": [[f"说明第{k}行"] for k in range(1, 31)] + rows_of(typed())})
    survey = loaded(book, "survey.xlsx: the header is on row 31")
    assert survey.row_numbers()[0] == 32


def test_errors_of_a_workbook_name_its_sheet(folder):
    rows = rows_of(typed())
    rows[2][ITEMS.index("QUA1") + 6] = 7
    refused(xlsx_file(folder, {"answers": rows}),
            "survey.xlsx, sheet 'answers': column QUA1 row 3: value 7 is outside the 1–5 scale")
    rows[5][ITEMS.index("LOY1") + 6] = "x"
    refused(xlsx_file(folder, {"第2页": rows}, "two.xlsx"),
            "two.xlsx, sheet '第2页': 2 problems in 2 columns")


def instructions() -> list[list]:
    """An instructions sheet listing the codebook's columns one per row (as a firm's cover sheet does)."""
    return [["字段", "说明"], ["respondent_id", "受访者编号"], *[[item, f"题项 {item}"] for item in ITEMS]]


def test_the_survey_sheet_is_found_by_its_item_columns_not_by_position(folder, reference):
    cover = [["respondent_id", "region", "wave", "IMG1", "IMG2"], ["编号", "地区", "轮次", "形象1", "形象2"]]
    for sheets in ({"说明": instructions(), "answers": rows_of(typed())},
                   {"字段说明": cover, "answers": rows_of(typed())}):
        path = xlsx_file(folder, sheets)
        survey = loaded(path, f"survey.xlsx: read sheet 'answers', the one holding the survey's columns "
                        f"(sheet {next(iter(sheets))!r} does not)")
        pd.testing.assert_frame_equal(survey.frame, reference, check_categorical=False)


def test_several_sheets_holding_the_items_are_named(folder):
    titled = [["2025年"], *rows_of(typed())]
    path = xlsx_file(folder, {"说明": instructions(), "2024": rows_of(typed()), "2025": titled})
    refused(path, "sheets '2024', '2025' both hold the codebook's columns; choose one with --sheet NAME")
    path = xlsx_file(folder, {"a": rows_of(typed()), "b": rows_of(typed()), "c": titled}, "three.xlsx")
    refused(path, "sheets 'a', 'b', 'c' all hold the codebook's columns")


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_a_hidden_survey_sheet_is_read_with_a_note(folder, reference, state):
    path = xlsx_file(folder, {"说明": [["见数据页"]], "data": rows_of(typed())})
    book = openpyxl.load_workbook(path)
    book["data"].sheet_state = state
    book.save(path)
    survey = loaded(path, "survey.xlsx: the survey sheet 'data' is hidden in the workbook; it was read "
                    "all the same")
    pd.testing.assert_frame_equal(survey.frame, reference, check_categorical=False)


def test_formulas_never_calculated_are_refused_naming_the_cells(folder):
    rows = rows_of(typed())
    column = openpyxl.utils.get_column_letter(ITEMS.index("SAT1") + 7)
    rows[4][ITEMS.index("SAT1") + 6] = f"={column}4"  # written by a program: no saved value
    rows[9][ITEMS.index("SAT1") + 6] = f"={column}9+0"
    refused(xlsx_file(folder, {"answers": rows}), "survey.xlsx, sheet 'answers': 2 cell(s) in survey columns "
            f"hold formulas that were never calculated, so they have no value: SAT1 row 5 ('={column}4'), "
            f"SAT1 row 10 ('={column}9+0'); open the workbook in Excel/WPS, let it calculate")
    many = rows_of(typed())
    for k in range(1, 8):
        many[k][6] = "=1+1"
    refused(xlsx_file(folder, {"data": many}, "many.xlsx"), "7 cell(s)", "IMG1 row 2 ('=1+1')", "…")


def test_a_formula_outside_the_survey_columns_is_left_alone(folder, reference):
    rows = [[*row, "note"] for row in rows_of(typed())]
    rows[0][-1] = "备注"
    rows[3][-1] = "=A4"  # an extra column: kept aside, never analysed
    survey = loaded(xlsx_file(folder, {"data": rows}), "kept aside, not analysed: 备注")
    pd.testing.assert_frame_equal(survey.frame, reference)


# ---------------------------------------------------------------------------- summary rows
def test_total_average_and_note_rows_under_the_data_are_dropped(folder, reference):
    lines = BEILING.read_text(encoding="utf-8").splitlines()
    width = len(lines[0].split(","))
    footer = [",".join(["合计", *["450"] * (width - 1)]),
              ",".join(["", "平均", "", "", "", "", *["3.87"] * (width - 6)]), "",
              "注：数据来源于2025年调查" + "," * (width - 1)]
    path = folder / "survey.csv"
    path.write_text("\n".join([*lines, *footer]) + "\n", encoding="utf-8")
    survey = loaded(path, "survey.csv: 3 summary row(s) under the data were dropped, not respondents: "
                    "row 452 ('合计'), row 453 ('平均'), row 455 ('注：数据来源于2025年调查')")
    pd.testing.assert_frame_equal(survey.frame, reference)
    rows = [*rows_of(typed()), ["Total", *[None] * 5, *[4.2] * len(ITEMS)], [None, "Note: weighted"]]
    survey = loaded(xlsx_file(folder, {"data": rows}), "survey.xlsx: 2 summary row(s) under the data were "
                    "dropped, not respondents: row 452 ('Total'), row 453 ('Note: weighted')")
    pd.testing.assert_frame_equal(survey.frame, reference)


def test_a_respondent_is_never_taken_for_a_summary_row(folder):
    frame = raw()
    frame.loc[449, "customer_class"] = "合计"  # the last respondent has an id: a bad value, not a footer
    refused(csv_file(folder, frame), "column customer_class row 451: value '合计' is not a category")
    frame = raw()
    frame.loc[449, "SAT1"] = "平均"
    refused(csv_file(folder, frame, "b.csv"), "column SAT1 row 451: value '平均' is not a number")


# ---------------------------------------------------------------------------- answers written otherwise
def test_full_width_digits_are_read_as_ascii_with_a_note(folder, reference):
    frame = raw()
    wide = str.maketrans("0123456789", "０１２３４５６７８９")
    frame.loc[[0, 3], "QUA2"] = frame.loc[[0, 3], "QUA2"].str.translate(wide)
    before = frame.loc[[0, 3], "QUA2"].tolist()
    survey = loaded(csv_file(folder, frame), "survey.csv: column QUA2: 2 cell(s) written in full-width "
                    f"characters were read as their ASCII form (rows 2, 5: {before[0]!r} as "
                    f"{before[0].translate({0xFF10 + k: 0x30 + k for k in range(10)})!r}")
    pd.testing.assert_frame_equal(survey.frame, reference)
    rows = rows_of(typed())
    rows[1][ITEMS.index("LOY1") + 6] = "５"
    rows[2][4] = "ｕｒｂａｎ"  # area, typed with a Chinese input method
    survey = loaded(xlsx_file(folder, {"data": rows}), "column LOY1: 1 cell(s)", "rows 2: '５' as '5'",
                    "column area: 1 cell(s) written in full-width characters were read as their ASCII form "
                    "(rows 3: 'ｕｒｂａｎ' as 'urban')")
    assert survey.frame.loc[0, "LOY1"] == 5 and survey.frame.loc[1, "area"] == "urban"


def test_a_decimal_comma_is_refused_naming_the_cell(folder):
    frame = raw()
    frame.loc[6, "VAL1"] = "4,5"
    refused(csv_file(folder, frame, sep=";"),
            "survey.csv: column VAL1 row 8: value '4,5' has a decimal comma; answer codes are whole numbers")
    frame.loc[[7, 8], "VAL1"] = ["3,0", "2,5"]
    error = refused(csv_file(folder, frame, "three.csv", sep="\t"),
                    "column VAL1: 3 values have a decimal comma; answer codes are whole numbers "
                    "(rows 8, 9, 10: '4,5', '3,0', '2,5'); enter answer codes (1–5)")
    assert kinds(error) == [("decimal_comma", "VAL1")]


def test_answers_formatted_as_dates_are_refused_showing_the_typed_number(folder):
    path = xlsx_file(folder, {"data": rows_of(typed())})
    book = openpyxl.load_workbook(path)
    sheet = book["data"]
    column = ITEMS.index("CMP1") + 7
    sheet.cell(row=6, column=column).number_format = "yyyy-mm-dd"
    sheet.cell(row=6, column=column).value = 5
    book.save(path)
    refused(path, "survey.xlsx, sheet 'data': column CMP1 row 6: value 1900-01-05 (Excel day 5) is a date: "
            "the cell is formatted as a date; format the column as a number")
    for row in range(2, 452):  # the whole column formatted as dates
        cell = sheet.cell(row=row, column=column)
        cell.number_format = "m/d/yyyy"
    book.save(folder / "all.xlsx")
    error = refused(folder / "all.xlsx",
                    "column CMP1: 450 values are dates: the cells are formatted as dates (rows 2, 3, 4: "
                    "1900-01-04 (Excel day 4)")
    assert kinds(error) == [("excel_date", "CMP1")]
