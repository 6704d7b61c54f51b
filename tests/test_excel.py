"""Bilingual headers, reader formatting and the tables workbook of every bundle: sheet names,
headers and numbers read back with openpyxl and pandas against the bundle's CSV tables."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from csi_research.evaluation.ahp import ahp_weights, judgement_matrix
from csi_research.evaluation.fuzzy import grade_bands
from csi_research.programme.compare import compare
from csi_research.render.excel import WORKBOOK, sheet_names, workbook_bytes, write_workbook
from csi_research.render.headers import COLUMNS, TABLE_NAMES, header, reader_table
from csi_research.study.bundle import Bundle
from csi_research.study.pipeline import run_study

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    result = run_study.quiet(ROOT / "studies" / "beiling-2025", quick=True)
    folder = result.save(tmp_path_factory.mktemp("bundle") / "beiling", figures=False)
    return result, folder


# ---------------------------------------------------------------- headers
def test_header_in_each_language_and_fallback():
    assert header("index", "zh") == "指数" and header("index", "en") == "Index"
    assert header("index") == header("index", "both") == "指数 Index"
    assert header("ci_lower", "both") == "区间下限 Lower bound"
    assert header("p_value", "zh") == "p 值" and header("p_value", "en") == "p-value"
    assert header("r2", "both") == "R²"  # the same in both languages: said once
    assert header("no_such_column", "zh") == "no_such_column"
    with pytest.raises(ValueError, match="language 'fr'"):
        header("index", "fr")


def test_every_column_of_a_study_and_a_comparison_has_headers(saved):
    result, _ = saved
    frames = dict(result.tables())
    industry = result.industry
    frames.update({f"rough_{k}": t for rs in industry.rough_sets.values() for k, t in rs.summary().items()})
    ahp = ahp_weights.quiet(judgement_matrix([[1, 3], [1 / 3, 1]], labels=["a", "b"]))
    frames.update({f"ahp_{k}": t.reset_index() for k, t in ahp.summary().items()})
    frames["internal_scores"] = industry.internal.scores
    frames["fuzzy_zh"] = industry.fuzzy.summary("en")["evaluation"].reset_index()
    frames["bands"] = grade_bands(industry.fuzzy.scale)
    frames["comparison"] = pd.DataFrame(columns=[
        "wave", "rank", "region", "index", "ci_lower", "ci_upper", "level", "n", "region_a", "region_b",
        "difference", "adjusted_level", "p_value", "p_adjusted", "distinguishable", "from_wave", "to_wave",
        "construct", "significant", "before", "now", "label_zh", "label_en"])
    missing = {f"{name}.{c}" for name, t in frames.items() for c in t.columns if str(c) not in COLUMNS}
    # the rough-set attributes are the hierarchy's node names: data, not headers
    missing = {m for m in missing if not m.startswith("rough_")}
    assert missing == set()
    for zh, en in COLUMNS.values():
        assert zh and en
    assert set(result.tables()) <= set(TABLE_NAMES)
    assert {"ranking", "pairwise", "waves", "indices"} <= set(TABLE_NAMES)


@pytest.mark.parametrize("language", ["zh", "en", "both"])
def test_sheet_names_are_valid_and_unique(language):
    names = sheet_names(list(TABLE_NAMES), language)
    assert len(set(n.lower() for n in names)) == len(names)
    for n in names:
        assert 0 < len(n) <= 31 and not set(n) & set("[]:*?/\\")
    # unknown, too long, forbidden characters, clashing: still valid and unique
    odd = sheet_names(["a/b", "a:b", "x" * 40, "x" * 40], language)
    assert odd[:2] == ["a_b", "a_b (2)"] and odd[2] == "x" * 31 and odd[3] == "x" * 27 + " (2)"


# ---------------------------------------------------------------- reader tables
def test_reader_table_formats_by_column_by_hand():
    table = pd.DataFrame({
        "construct": ["Image", "Loyalty"],
        "index": [71.4257, np.nan],
        "ci_lower": [69.04, 70.0],
        "estimate": [0.12345, 0.5],
        "p_value": [0.0004, 0.0123],
        "missing_share": [0.1234, 0.0],
        "level": [0.95, 1 - 0.05 / 3],
        "n": [450, 12],
        "excludes_zero": [True, False],
        "max_validity": [np.inf, 0.21875],
        "mystery": [1.23456, 2.0],
    })
    out = reader_table(table, "en")
    assert list(out.columns) == ["Construct", "Index", "Lower bound", "Estimate", "p-value", "Missing",
                                 "Confidence level", "n", "Excludes zero", "Max-membership validity α",
                                 "mystery"]
    assert out.iloc[0].tolist() == ["Image", "71.4", "69.0", "0.123", "<0.001", "12.3%", "95%", "450", "✓",
                                    "∞", "1.235"]
    assert out.iloc[1].tolist() == ["Loyalty", "–", "70.0", "0.500", "0.012", "0.0%", "98.33%", "12", "–",
                                    "0.219", "2.000"]
    # bounds take the precision of the statistic they bound: a path's interval keeps three decimals
    paths = reader_table(pd.DataFrame({"estimate": [0.31], "ci_lower": [0.123456], "level": [0.9]}), "zh")
    assert paths.iloc[0].tolist() == ["0.310", "0.123", "90%"] and paths.columns[-1] == "置信水平"
    # a hierarchy level (integers or text) is a level, not a confidence level; a reset row label is a name
    tree = pd.DataFrame({"level": [1, 2], "node": ["CSI", "Image"], "local_weight": [1.0, 0.2]})
    levels = reader_table(tree, "both")
    assert list(levels.columns) == ["层级 Level", "指标节点 Node", "局部权重 Local weight"]
    assert levels.iloc[1].tolist() == ["2", "Image", "0.200"]
    assert reader_table(pd.DataFrame({"index": ["Image"], "Loyalty": [0.81]}), "en").columns.tolist() == [
        "Name", "Loyalty"]
    # a table whose columns are data sets the kind of its other float columns
    wide = pd.DataFrame({"construct": ["Image"], "Linxi 2026": [80.04]})
    wide.attrs["kinds"] = {"*": "index"}
    assert reader_table(wide, "en").iloc[0].tolist() == ["Image", "80.0"]
    assert reader_table(pd.DataFrame({"x": [""]}), "en").iloc[0, 0] == "–"


# ---------------------------------------------------------------- the workbook
def _csv(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / "tables" / f"{name}.csv", keep_default_na=True)


def test_bundle_workbook_matches_the_csv_tables(saved):
    result, folder = saved
    tables = result.tables()
    assert (folder / WORKBOOK).is_file()
    sheets = pd.read_excel(folder / WORKBOOK, sheet_name=None)
    expected_names = sheet_names(list(tables), "both")
    assert list(sheets) == expected_names
    assert expected_names[:3] == ["指数 Indices", "路径系数 Paths", "效应分解 Effects"]
    assert "模糊综合评价 Fuzzy evaluation" in sheets and "供电服务品质指数 Service quality index" in sheets
    for (name, table), sheet_name in zip(tables.items(), expected_names, strict=True):
        sheet = sheets[sheet_name]
        csv = _csv(folder, name)
        for k, column in enumerate(table.columns):
            if column not in ("level", "index"):  # those two read their content (tested below)
                assert sheet.columns[k] == header(column), (name, column)
        assert len(sheet) == len(csv), name
        for k, column in enumerate(table.columns):
            shown, raw = sheet.iloc[:, k], csv.iloc[:, k]
            if pd.api.types.is_bool_dtype(table[column]):
                assert shown.tolist() == ["✓" if v else "–" for v in raw], (name, column)
            elif pd.api.types.is_numeric_dtype(table[column]):
                numbers = pd.to_numeric(shown.replace({"∞": np.inf, "-∞": -np.inf}))
                np.testing.assert_allclose(numbers.to_numpy(float), raw.to_numpy(float), rtol=1e-12,
                                           err_msg=f"{name}.{column}")
    indices = sheets["指数 Indices"]
    assert list(indices.columns[:5]) == ["构念 Construct", "中文名称 Chinese label", "英文名称 English label",
                                         "指数 Index", "区间下限 Lower bound"]
    assert indices["指数 Index"].tolist() == pytest.approx(result.indices["index"].tolist(), rel=1e-12)


def test_workbook_cells_keep_numbers_with_number_formats(saved):
    _, folder = saved
    book = load_workbook(folder / WORKBOOK)
    sheet = book["指数 Indices"]
    assert sheet.freeze_panes == "A2"
    first = {sheet.cell(1, k).value: sheet.cell(2, k) for k in range(1, sheet.max_column + 1)}
    assert isinstance(first["指数 Index"].value, float) and first["指数 Index"].number_format == "0.0"
    assert first["置信水平 Confidence level"].value == 0.95
    assert first["置信水平 Confidence level"].number_format == "0%"
    assert isinstance(first["样本量 n"].value, int) and first["样本量 n"].number_format == "0"
    assert first["标准误 Standard error"].number_format == "0.0"  # the SE of an index, in points
    paths = book["路径系数 Paths"]
    head = [c.value for c in paths[1]]
    assert paths.cell(2, head.index("估计值 Estimate") + 1).number_format == "0.000"
    assert paths.cell(2, head.index("区间下限 Lower bound") + 1).number_format == "0.000"
    assert paths.cell(2, head.index("区间不含零 Excludes zero") + 1).value in ("✓", "–")
    assert sheet.column_dimensions["B"].width >= len("中文名称 Chinese label")
    cbsem = book["CB-SEM估计 CB-SEM estimates"]
    head = [c.value for c in cbsem[1]]
    ops = {cbsem.cell(r, head.index("运算符 Operator") + 1).value for r in range(2, cbsem.max_row + 1)}
    assert "=~" in ops  # text, not a formula
    column = head.index("p 值 p-value") + 1
    p_cells = [cbsem.cell(r, column) for r in range(2, cbsem.max_row + 1)]
    assert {c.number_format for c in p_cells if c.value is not None} == {'[<0.001]"<0.001";0.000'}
    assert any(c.value is None for c in p_cells)  # fixed parameters have no p-value: empty, not text
    missing = book["题项缺失率 Item missingness"]
    assert missing.cell(1, 1).value == "题项 Item"  # the key column is named, not an anonymous index
    assert missing.cell(2, 2).number_format == "0.0%"


def test_workbook_bytes_depend_only_on_the_tables(tmp_path):
    tables = {"indices": pd.DataFrame({"construct": ["Image"], "index": [71.25], "level": [0.95]})}
    first = write_workbook(tables, tmp_path / "a.xlsx")
    second = write_workbook(tables, tmp_path / "b.xlsx", language="both")
    assert first.read_bytes() == second.read_bytes()
    assert workbook_bytes(tables, "zh") != first.read_bytes()
    with pytest.raises(FileExistsError):
        write_workbook(tables, first)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    zh = load_workbook(tmp_path / "a.xlsx")
    assert zh.sheetnames == ["指数 Indices"]
    en = pd.read_excel(io.BytesIO(workbook_bytes(tables, "en")), sheet_name=None)
    assert list(en) == ["Indices"]
    assert list(en["Indices"].columns) == ["Construct", "Index", "Confidence level"]
    book = load_workbook(io.BytesIO(workbook_bytes({"t": pd.DataFrame({"x": [math.inf, np.nan]})})))
    assert book["t"]["A2"].value == "∞" and book["t"]["A3"].value is None


def _bundle(region: str, index: float, seed: int) -> Bundle:
    rng = np.random.default_rng(seed)
    indices = pd.DataFrame({"index": [index], "ci_lower": [index - 2], "ci_upper": [index + 2]},
                           index=pd.Index(["Satisfaction"], name="construct"))
    study = {"region_id": region, "region_zh": region, "region_en": region.title(), "wave": "2026"}
    results = {"study": study, "values": {"n": 300, "target": "Satisfaction"}, "ci": 0.95}
    return Bundle(Path(f"/b/{region}"), results, indices,
                  pd.DataFrame({"Satisfaction": rng.normal(index, 1, 400)}))


def test_comparison_folder_has_the_workbook(tmp_path):
    comparison = compare([_bundle("beiling", 80.0, 1), _bundle("linxi", 70.0, 2)])
    folder = comparison.save(tmp_path / "cmp")
    sheets = pd.read_excel(folder / WORKBOOK, sheet_name=None)
    assert list(sheets) == ["排名 Ranking", "指数 Indices", "两两比较 Pairwise differences",
                            "年度变化 Wave changes"]
    ranking = sheets["排名 Ranking"]
    assert list(ranking.columns) == ["调查批次 Wave", "排名 Rank", "地区 Region", "指数 Index",
                                     "区间下限 Lower bound", "区间上限 Upper bound",
                                     "置信水平 Confidence level", "样本量 n"]
    assert ranking["指数 Index"].tolist() == [80.0, 70.0]
    pairs = sheets["两两比较 Pairwise differences"]
    csv = pd.read_csv(folder / "pairwise.csv")
    assert pairs["差值 Difference"].tolist() == pytest.approx(csv["difference"].tolist())
    assert pairs["调整后 p 值 Adjusted p-value"].tolist() == pytest.approx(csv["p_adjusted"].tolist())
    assert pairs["差异显著 Distinguishable"].tolist() == ["✓" if v else "–" for v in csv["distinguishable"]]
    book = load_workbook(folder / WORKBOOK)
    wide = book["指数 Indices"]
    assert wide.cell(1, 2).value == "Beiling 2026" and wide.cell(2, 2).number_format == "0.0"


def test_no_study_table_carries_a_row_number_as_a_column(saved):
    # a bare RangeIndex turned into a column reads as data ("index" 0, 1, 2… beside the construct index)
    result, _ = saved
    for name, table in result.tables().items():
        assert "level_0" not in table.columns, name
        for column in table.columns:
            values = table[column]
            if str(column) != "rank" and len(table) > 2 and values.dtype.kind in "iu":
                assert not (values.to_numpy() == np.arange(len(table))).all(), f"{name}.{column} is 0, 1, 2…"
