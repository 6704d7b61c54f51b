"""The bundle format: write then read round-trips, incomplete bundles are refused by name, and
writing never replaces an existing file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from csi_research.core.errors import ModelSpecError
from csi_research.core.output import write_atomic_all
from csi_research.study import bundle
from csi_research.study.bundle import read_bundle, write_bundle


def sample_results() -> dict:
    return {
        "study": {"region_id": "linxi", "region_zh": "临溪", "region_en": "Linxi", "wave": "2026"},
        "ci": 0.9,
        "values": {"n": 300, "target": "Satisfaction", "gof": 0.61},
        "synthetic": True,
        "tables": {"indices": [
            {"construct": "Satisfaction", "index": 72.5, "ci_lower": 70.1, "ci_upper": 74.8},
            {"construct": "Loyalty", "index": 65.25, "ci_lower": 62.0, "ci_upper": 68.5},
        ]},
    }


def sample_draws(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame({"Satisfaction": rng.normal(72.5, 1.2, n), "Loyalty": rng.normal(65.25, 1.6, n)})


def sample_tables() -> dict[str, pd.DataFrame]:
    return {"indices": pd.DataFrame({"construct": ["Satisfaction", "Loyalty"], "index": [72.5, 65.25]}),
            "paths": pd.DataFrame({"source": ["Satisfaction"], "target": ["Loyalty"], "estimate": [0.4]})}


def files_in(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# ---------------------------------------------------------------- round trip
def test_write_then_read_round_trips(tmp_path):
    results, draws, tables = sample_results(), sample_draws(), sample_tables()
    folder = write_bundle(tmp_path / "b", results, draws, tables)
    assert folder == tmp_path / "b"
    assert files_in(folder) == ["index_draws.csv", "results.json", "tables.xlsx", "tables/indices.csv",
                                "tables/paths.csv"]
    read_results, read_draws = read_bundle(folder)
    assert read_results == results
    assert list(read_draws.columns) == ["Satisfaction", "Loyalty"]
    np.testing.assert_allclose(read_draws.to_numpy(), draws.to_numpy(), rtol=1e-9)  # 10 significant digits
    for name, table in tables.items():
        pd.testing.assert_frame_equal(pd.read_csv(folder / "tables" / f"{name}.csv"), table)


def test_files_hold_the_documented_encodings(tmp_path):
    results = {**sample_results(), "note": "满意度", "missing": float("nan")}
    draws = pd.DataFrame({"Satisfaction": [1 / 3, 72.0], "Loyalty": [2.0, 1e-12]})
    folder = write_bundle(tmp_path / "b", results, draws, {})
    text = (folder / "results.json").read_text(encoding="utf-8")
    assert "满意度" in text  # UTF-8, not \\u escapes
    assert json.loads(text)["missing"] is None  # JSON has no NaN
    assert list(json.loads(text)) == sorted(json.loads(text))  # sorted keys: same run, same bytes
    assert (folder / "index_draws.csv").read_text(encoding="utf-8").splitlines() == [
        "Satisfaction,Loyalty", "0.3333333333,2", "72,1e-12"]


def test_constants_name_the_layout(tmp_path):
    folder = write_bundle(tmp_path / "b", sample_results(), sample_draws(), sample_tables())
    assert (folder / bundle.RESULTS).is_file() and bundle.RESULTS == "results.json"
    assert (folder / bundle.DRAWS).is_file() and bundle.DRAWS == "index_draws.csv"
    assert (folder / bundle.TABLES / "paths.csv").is_file() and bundle.TABLES == "tables"
    assert bundle.FIGURES == "figures"
    assert not (folder / bundle.FIGURES).exists()  # figures are the caller's job


# ---------------------------------------------------------------- refusals
def refusal(folder: Path) -> str:
    with pytest.raises(ModelSpecError) as info:
        read_bundle(folder)
    message = str(info.value)
    assert str(folder) in message
    return message


def written(tmp_path: Path, results: dict | None = None, draws: pd.DataFrame | None = None) -> Path:
    return write_bundle(tmp_path / "b", sample_results() if results is None else results,
                        sample_draws() if draws is None else draws, {})


def test_folder_without_results_json_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "empty", tmp_path / "absent"):
        assert "no results.json" in refusal(folder)
    folder = written(tmp_path)
    (folder / "results.json").unlink()
    assert "no results.json" in refusal(folder)


def test_folder_without_draws_is_refused(tmp_path):
    folder = written(tmp_path)
    (folder / "index_draws.csv").unlink()
    assert "no index_draws.csv" in refusal(folder)


def test_bundle_without_ci_is_refused(tmp_path):
    results = sample_results()
    del results["ci"]
    assert "needs ci" in refusal(written(tmp_path, results))


@pytest.mark.parametrize("bad", [95, 0.0, 1.0, "0.95", None, True])
def test_bundle_with_a_ci_that_is_no_level_is_refused(tmp_path, bad):
    results = {**sample_results(), "ci": bad}
    message = refusal(written(tmp_path, results))
    assert "needs ci" in message and repr(bad) in message


def test_bundle_without_target_is_refused(tmp_path):
    results = sample_results()
    del results["values"]["target"]
    assert "values.{n, target}" in refusal(written(tmp_path, results))


@pytest.mark.parametrize("bad", ["", None, 3])
def test_bundle_with_a_target_that_names_nothing_is_refused(tmp_path, bad):
    results = sample_results()
    results["values"]["target"] = bad
    assert "values.target" in refusal(written(tmp_path, results))


def test_bundle_whose_target_has_no_index_is_refused(tmp_path):
    results = sample_results()
    results["values"]["target"] = "Trust"
    assert "no record for the target construct 'Trust'" in refusal(written(tmp_path, results))


def test_bundle_lacking_a_draws_column_is_refused(tmp_path):
    folder = written(tmp_path, draws=sample_draws().drop(columns="Loyalty"))
    message = refusal(folder)
    assert "index_draws.csv has no column for Loyalty" in message
    assert "Satisfaction" not in message.split("no column for")[1]


def test_unreadable_files_are_refused(tmp_path):
    folder = written(tmp_path)
    (folder / "index_draws.csv").write_text("", encoding="utf-8")
    assert "not a readable study bundle" in refusal(folder)


# ---------------------------------------------------------------- never overwrite
def test_second_write_into_a_bundle_is_refused_and_changes_nothing(tmp_path):
    folder = written(tmp_path)
    before = {name: (folder / name).read_bytes() for name in files_in(folder)}
    other = {**sample_results(), "ci": 0.95}
    with pytest.raises(FileExistsError, match="never overwritten"):
        write_bundle(folder, other, sample_draws(50), sample_tables())
    assert files_in(folder) == sorted(before)  # no table added, no temporary file left behind
    assert {name: (folder / name).read_bytes() for name in files_in(folder)} == before


def test_one_existing_file_stops_the_whole_bundle_before_anything_is_written(tmp_path):
    folder = tmp_path / "b"
    (folder / "tables").mkdir(parents=True)
    (folder / "tables" / "paths.csv").write_text("mine\n", encoding="utf-8")
    with pytest.raises(FileExistsError, match=r"paths\.csv"):
        write_bundle(folder, sample_results(), sample_draws(), sample_tables())
    assert files_in(folder) == ["tables/paths.csv"]  # no half bundle: results.json absent
    assert (folder / "tables" / "paths.csv").read_text(encoding="utf-8") == "mine\n"


def test_a_bundle_appearing_after_the_check_is_still_not_replaced(tmp_path, monkeypatch):
    """Another writer creating the bundle folder while ours is being staged: the rename refuses."""
    folder = tmp_path / "b"

    def racing_write(files):
        folder.mkdir()  # while the files are written: the existence check is long past
        (folder / "index_draws.csv").write_text("theirs\n", encoding="utf-8")
        return write_atomic_all(files)

    monkeypatch.setattr(bundle, "write_atomic_all", racing_write)
    with pytest.raises(FileExistsError, match="never overwritten"):
        write_bundle(folder, sample_results(), sample_draws(), {})
    assert files_in(folder) == ["index_draws.csv"]
    assert (folder / "index_draws.csv").read_text(encoding="utf-8") == "theirs\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # our staging folder is gone


def test_results_json_is_written_last(tmp_path, monkeypatch):
    """A folder is a bundle once results.json exists, so everything else must already be in place."""
    order: list[str] = []

    def recording_write(files):  # the files are placed in the order given
        for path in files:
            staging = Path(path).relative_to(tmp_path).parts[0]
            assert staging.startswith(".b.tmp-") and not (tmp_path / "b").exists()  # staged, not yet visible
            order.append(Path(*Path(path).relative_to(tmp_path).parts[1:]).as_posix())
        return write_atomic_all(files)

    monkeypatch.setattr(bundle, "write_atomic_all", recording_write)
    write_bundle(tmp_path / "b", sample_results(), sample_draws(), sample_tables())
    assert order[-1] == "results.json"
    assert sorted(order) == ["index_draws.csv", "results.json", "tables.xlsx", "tables/indices.csv",
                             "tables/paths.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_workbook_holds_every_table_and_is_absent_without_tables(tmp_path):
    folder = write_bundle(tmp_path / "b", sample_results(), sample_draws(), sample_tables())
    sheets = pd.read_excel(folder / bundle.WORKBOOK, sheet_name=None)
    assert list(sheets) == ["指数 Indices", "路径系数 Paths"]
    assert sheets["指数 Indices"]["指数 Index"].tolist() == [72.5, 65.25]  # numbers, not text
    assert sheets["路径系数 Paths"]["估计值 Estimate"].tolist() == [0.4]
    assert not (written(tmp_path / "none") / bundle.WORKBOOK).exists()  # an empty workbook is no workbook


def test_an_existing_workbook_stops_the_bundle(tmp_path):
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "tables.xlsx").write_bytes(b"mine")
    with pytest.raises(FileExistsError, match=r"tables\.xlsx"):
        write_bundle(folder, sample_results(), sample_draws(), sample_tables())
    assert files_in(folder) == ["tables.xlsx"]
    assert (folder / "tables.xlsx").read_bytes() == b"mine"


@pytest.mark.parametrize("name", ["../escape", "sub/table", "", ".."])
def test_table_names_must_be_plain_file_names(tmp_path, name):
    with pytest.raises(ValueError, match="plain file name"):
        write_bundle(tmp_path / "b", sample_results(), sample_draws(), {name: pd.DataFrame({"a": [1]})})
    assert not (tmp_path / "b").exists() or files_in(tmp_path / "b") == []
    assert not (tmp_path / "escape.csv").exists()


def test_non_finite_draws_survive_as_missing(tmp_path):
    draws = sample_draws()
    draws.loc[3, "Loyalty"] = np.nan  # a failed bootstrap resample
    _, read = read_bundle(written(tmp_path, draws=draws))
    assert math.isnan(read.loc[3, "Loyalty"])
    assert read["Loyalty"].isna().sum() == 1
