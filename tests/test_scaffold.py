"""new_study: a study folder and a codebook draft from a survey file, refused until its TODOs are filled."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from faults import Snapshot

from csi_research.core.errors import ModelSpecError, OutputError, SurveyDataError
from csi_research.data.codebook import Codebook
from csi_research.data.scaffold import _Column, _scale_of, new_study
from csi_research.study.config import StudyConfig

DATA = Path(__file__).resolve().parents[1] / "data"
LINXI = DATA / "linxi_2025.csv"


def _same_as_default(book: Codebook) -> None:
    default = Codebook.default()
    assert dataclasses.replace(book, name=default.name) == default


def _filled(study: Path, **values: str) -> Path:
    """study.yaml with its TODOs replaced (what the researcher does next)."""
    spec = yaml.safe_load(study.read_text(encoding="utf-8"))
    spec["region"].update(values)
    study.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return study


def test_a_bundled_survey_gives_the_default_codebook_and_a_study_to_fill_in(tmp_path, capsys):
    snap = Snapshot(DATA)
    written = new_study(LINXI, tmp_path / "linxi")
    assert written == [tmp_path / "linxi" / "study.yaml", tmp_path / "linxi" / "codebook.yaml"]
    assert capsys.readouterr() == ("", "")  # the CLI prints, not the library
    _same_as_default(Codebook.from_yaml(written[1]))

    with pytest.raises(ModelSpecError, match=r"study\.yaml: region\.name_zh is still 'TODO"):
        StudyConfig.from_yaml(written[0])
    config = StudyConfig.from_yaml(_filled(written[0], name_zh="临溪", name_en="Linxi"))
    assert (config.region_id, config.wave, config.synthetic) == ("linxi", "2025", False)
    assert config.data == LINXI and config.codebook == written[1] and config.model is None
    assert config.segments == ("customer_class", "area", "voltage")
    assert config.industry_evaluation is None and config.internal_indicators is None
    # the seed comes from the file, so scaffolding the same file again gives the same one
    again = new_study(LINXI, tmp_path / "again")
    assert yaml.safe_load(again[0].read_text(encoding="utf-8"))["seed"] == config.seed
    snap.unchanged()


def test_an_unknown_column_is_a_todo_the_codebook_loader_refuses_by_line(tmp_path):
    frame = pd.read_csv(LINXI, dtype=str)
    rng = np.random.default_rng(1)
    frame["Q31"] = rng.integers(1, 11, len(frame)).astype(str)
    frame.loc[:9, "Q31"] = "99"
    frame["district"] = rng.choice(["east", "west"], len(frame))
    survey = tmp_path / "linxi_2025.csv"
    frame.to_csv(survey, index=False)
    snap = Snapshot(survey)
    book = new_study(survey, tmp_path / "study")[1]
    text = book.read_text(encoding="utf-8")
    line = next(k for k, row in enumerate(text.splitlines(), start=1) if "id: Q31" in row)
    assert "scale: ten, missing_codes: [99]" in text.splitlines()[line - 1]
    with pytest.raises(ModelSpecError) as caught:
        Codebook.from_yaml(book)
    assert str(caught.value).startswith(f"{book}: line {line}: items[Q31].construct is still 'TODO'")

    filled = (text.replace("construct: TODO, subindicator: TODO", "construct: Quality, subindicator: staff")
              .replace("text_zh: TODO, text_en: TODO", "text_zh: 服务态度, text_en: Staff attitude"))
    with pytest.raises(ModelSpecError, match=r"attributes\[district\]\.label_zh is still 'TODO'"):
        Codebook.from_yaml(_write(book, filled))
    filled = filled.replace("{id: district, label_zh: TODO, label_en: TODO}",
                            "{id: district, label_zh: 片区, label_en: District}")
    mine = Codebook.from_yaml(_write(book, filled))
    default = Codebook.default()
    assert mine.items[:30] == default.items and mine.item("Q31").scale == "ten"
    assert mine.attribute_ids[-1] == "district"
    snap.unchanged()


def test_an_existing_folder_with_files_is_never_touched(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me\n", encoding="utf-8")
    snap = Snapshot(tmp_path)
    with pytest.raises(OutputError, match=f"^{re.escape(str(folder))}: the folder exists and is not empty"):
        new_study(LINXI, folder)
    snap.unchanged()
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert [p.name for p in new_study(LINXI, empty)] == ["study.yaml", "codebook.yaml"]


def test_a_missing_or_unreadable_file_creates_nothing(tmp_path):
    with pytest.raises(SurveyDataError, match=r"survey\.sav: cannot read the survey file"):
        new_study(tmp_path / "survey.sav", tmp_path / "s")
    text = tmp_path / "survey.txt"
    text.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(SurveyDataError, match=r"unsupported file type '\.txt'"):
        new_study(text, tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_a_gb18030_csv_with_a_chinese_id_and_an_unknown_column(tmp_path):
    frame = pd.read_csv(LINXI, dtype=str).rename(columns={"respondent_id": "问卷编号", "IMG1": "img1"})
    frame["乡镇"] = np.where(np.arange(len(frame)) % 2, "城关镇", "河口乡")
    survey = tmp_path / "临溪_2025.csv"
    survey.write_bytes(frame.to_csv(index=False).encode("gb18030"))
    snap = Snapshot(survey)
    study, book = new_study(survey, tmp_path / "study")
    text = book.read_text(encoding="utf-8")
    assert "id_column: 问卷编号" in text and "{id: img1, construct: Image" in text
    assert "# TODO: column 乡镇 (2 values such as 城关镇, 河口乡)" in text
    with pytest.raises(ModelSpecError, match=r"line \d+: attributes\[乡镇\]\.label_zh is still 'TODO'"):
        Codebook.from_yaml(book)
    spec = yaml.safe_load(study.read_text(encoding="utf-8"))
    assert (spec["region"]["id"], spec["wave"]) == ("linxi", 2025)  # the file's columns
    snap.unchanged()


def test_an_excel_workbook_uses_the_sheet_holding_the_survey(tmp_path):
    survey = tmp_path / "survey.xlsx"
    with pd.ExcelWriter(survey) as writer:
        pd.DataFrame({"说明": ["封面"]}).to_excel(writer, sheet_name="封面", index=False)
        pd.read_csv(LINXI).to_excel(writer, sheet_name="问卷", index=False)
    snap = Snapshot(survey)
    study, book = new_study(survey, tmp_path / "study")
    _same_as_default(Codebook.from_yaml(book))
    spec = yaml.safe_load(study.read_text(encoding="utf-8"))
    assert spec["sheet"] == "问卷" and spec["data"] == "../survey.xlsx"
    snap.unchanged()


def test_an_spss_file_with_value_and_variable_labels(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    frame = pd.read_csv(LINXI)
    codes = {"residential": 1, "commercial": 2, "industrial": 3}
    frame["customer_class"] = frame["customer_class"].map(codes)
    frame["Q31"] = np.arange(len(frame)) % 5 + 1
    survey = tmp_path / "linxi_2025.sav"
    pyreadstat.write_sav(frame, str(survey), column_labels={"Q31": "电费发票是否清楚"},
                         variable_value_labels={"customer_class": {1: "居民", 2: "商业", 3: "工业"}})
    snap = Snapshot(survey)
    text = new_study(survey, tmp_path / "study")[1].read_text(encoding="utf-8")
    assert "{id: Q31, construct: TODO, subindicator: TODO, scale: semantic5, text_zh: 电费发票是否清楚" \
        in text
    assert "values not among the categories" not in text  # 1/2/3 read through their labels
    snap.unchanged()


def test_region_and_wave_from_the_file_name_or_the_arguments(tmp_path, monkeypatch):
    frame = pd.read_csv(LINXI).drop(columns=["region", "wave"])
    survey = tmp_path / "Hexi_Survey_2026.csv"
    frame.to_csv(survey, index=False)
    monkeypatch.chdir(tmp_path)
    study = new_study(survey)[0]
    assert study == tmp_path / "studies" / "hexi-survey-2026" / "study.yaml"
    spec = yaml.safe_load(study.read_text(encoding="utf-8"))
    assert spec["region"]["id"] == "hexi" and spec["wave"] == 2026
    assert spec["region"]["name_en"] == "TODO (e.g. Hexi)"
    spec = yaml.safe_load(new_study(survey, "other", region="he_xi", wave="2026b")[0].read_text("utf-8"))
    assert (spec["region"]["id"], spec["wave"]) == ("he_xi", "2026b")
    unnamed = tmp_path / "survey.csv"
    frame.to_csv(unnamed, index=False)
    spec = yaml.safe_load(new_study(unnamed, "third")[0].read_text(encoding="utf-8"))
    assert spec["region"]["id"].startswith("TODO") and spec["wave"].startswith("TODO")


@pytest.mark.parametrize(("codes", "expected"), [
    ([1, 2, 3, 4, 5, 9], ("semantic5", [9])),
    ([1, 2, 3, 4, 5], ("semantic5", [])),
    ([1, 2, 3, 4, 5, 6, 7, 99], ("seven", [99])),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 98, 99], ("ten", [98, 99])),
    ([0, 1, 2, 5, 8, 9, 10], ("eleven", [])),
    ([0, 1, 2, 3, 4, 5], None),  # 0 next to 1-5: not a "don't know" code, the scale is unclear
    ([1, 2], None),  # a yes/no or a category code
    ([18, 25, 40, 63], None),  # ages
])
def test_the_scale_is_inferred_from_the_codes(codes, expected):
    found = _scale_of(_Column("x", pd.Series(codes * 3)))
    assert (found and (found[0], found[3])) == expected


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
