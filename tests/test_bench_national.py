"""The simulated national survey set of benchmarks/bench_national.py (its set-up only, not the batch)."""

from pathlib import Path

import pandas as pd
import pytest

from csi_research.core.errors import ModelSpecError
from csi_research.programme.national import write_national_survey
from csi_research.study.config import StudyConfig


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    folder = tmp_path_factory.mktemp("national")
    return folder, write_national_survey(folder, 3, respondents=120, seed=11)


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_every_study_is_valid_synthetic_and_placed(national):
    _, table = national
    # 3 regions, a third of them (one) surveyed in 2025 and 2026
    assert len(table) == 4 and table["region"].nunique() == 3
    assert sorted(table.groupby("region")["wave"].count()) == [1, 1, 2]
    assert set(table.loc[table.groupby("region")["wave"].transform("count") == 1, "wave"]) == {2026}
    for row in table.itertuples():
        config = StudyConfig.from_yaml(row.study_yaml)
        assert config.synthetic and config.study_id == row.study
        assert config.region_id == row.region and config.wave == str(row.wave)
        assert "虚构" in config.region_zh and "fictional" in config.region_en
        assert [p["level"] for p in config.place] == ["province", "city"]
        assert all("虚构" in p["zh"] and "fictional" in p["en"] for p in config.place)
        assert config.weight == {"customers": float(row.customers)} and row.customers > 0
        assert "SYNTHETIC" in config.describe("en")
        assert "FICTIONAL" in row.study_yaml.read_text(encoding="utf-8").splitlines()[0]
        data = pd.read_csv(config.data)
        assert len(data) == row.n and 108 <= row.n <= 132  # 120 ± 10 %
        assert set(data["region"]) == {row.region} and set(data["wave"]) == {row.wave}


def test_regions_spread_over_provinces(national):
    _, table = national
    assert table.drop_duplicates("region")["province"].nunique() == 3  # round robin over 10 provinces


def test_same_seed_same_bytes_other_seed_other_data(national, tmp_path):
    folder, _ = national
    write_national_survey(tmp_path / "again", 3, respondents=120, seed=11)
    assert files(tmp_path / "again") == files(folder)
    assert write_national_survey(folder, 3, respondents=120, seed=11)["n"].sum() > 0  # equal files: kept
    write_national_survey(tmp_path / "other", 3, respondents=120, seed=12)
    name = "data/sim001_2026.csv"  # every region has the latest wave
    assert files(tmp_path / "other")[name] != files(folder)[name]


@pytest.mark.parametrize("kwargs", [{"provinces": 11}, {"respondents": 10}, {"two_wave_share": 1.5},
                                    {"cities_per_province": 0}])
def test_bad_arguments_are_refused(tmp_path, kwargs):
    with pytest.raises(ModelSpecError):
        write_national_survey(tmp_path, 2, **kwargs)
