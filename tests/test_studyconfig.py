"""StudyConfig: strict keys, defaults, required keys, paths relative to the study file, value errors."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from csi_research.core import options
from csi_research.core.errors import CSIError, ModelSpecError
from csi_research.study.config import StudyConfig

REPO = Path(__file__).resolve().parents[1]

MINIMAL = {
    "region": {"id": "beiling", "name_zh": "北岭", "name_en": "Beiling"},
    "wave": 2026,
    "data": "../../data/beiling_2026.csv",
    "seed": 7,
}


def make_study(root: Path, spec: dict | None = None, name: str = "beiling-2026") -> Path:
    """``root/studies/<name>/study.yaml`` and the survey file its ``data`` key points to."""
    data = root / "data" / "beiling_2026.csv"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text("respondent_id\nR1\n", encoding="utf-8")
    folder = root / "studies" / name
    folder.mkdir(parents=True, exist_ok=True)
    study = folder / "study.yaml"
    study.write_text(yaml.safe_dump(MINIMAL if spec is None else spec, allow_unicode=True), encoding="utf-8")
    return study


def with_(**changes) -> dict:
    """MINIMAL with top-level keys replaced (value ``...`` deletes the key)."""
    spec = json.loads(json.dumps(MINIMAL))
    for key, value in changes.items():
        if value is ...:
            spec.pop(key)
        else:
            spec[key] = value
    return spec


def error_of(tmp_path: Path, spec) -> str:
    study = make_study(tmp_path, spec)
    with pytest.raises(ModelSpecError) as info:
        StudyConfig.from_yaml(study)
    message = str(info.value)
    assert str(study.resolve()) in message, "the error must name the study file"
    return message


# ---------------------------------------------------------------- defaults and paths
def test_minimal_study_gets_documented_defaults(tmp_path):
    cfg = StudyConfig.from_yaml(make_study(tmp_path))
    assert cfg.study_id == "beiling-2026"
    assert (cfg.region_id, cfg.region_zh, cfg.region_en) == ("beiling", "北岭", "Beiling")
    assert cfg.wave == "2026"
    assert cfg.seed == 7
    assert cfg.data == (tmp_path / "data" / "beiling_2026.csv").resolve()
    assert cfg.synthetic is False
    assert cfg.codebook is None and cfg.model is None
    assert (cfg.scheme, cfg.scaled, cfg.missing) == ("path", True, "em")
    assert (cfg.cbsem, cfg.cbsem_estimator) == (True, "auto")
    assert (cfg.n_boot, cfg.quick_n_boot, cfg.ci) == (2000, 200, 0.95)
    assert cfg.segments == ()
    assert cfg.index_target == 80.0
    assert cfg.weighting is None and cfg.industry_evaluation is None and cfg.internal_indicators is None
    assert cfg.description == ""


def test_given_values_override_defaults(tmp_path):
    spec = with_(
        synthetic=True, segments=["customer_class", "area"], index_target=85, description="山区县",
        estimation={"scheme": "centroid", "scaled": False, "missing": "mean", "cbsem": False,
                    "cbsem_estimator": "FIML"},
        bootstrap={"n_boot": 500, "quick_n_boot": 2, "ci": 0.9},
        weighting={"by": "area", "population_shares": {"urban": 0.6, "rural": 0.4}},
    )
    cfg = StudyConfig.from_yaml(make_study(tmp_path, spec))
    assert cfg.synthetic is True
    assert cfg.segments == ("customer_class", "area")
    assert cfg.index_target == 85.0 and isinstance(cfg.index_target, float)
    assert cfg.description == "山区县"
    assert (cfg.scheme, cfg.scaled, cfg.missing, cfg.cbsem, cfg.cbsem_estimator) == (
        "centroid", False, "mean", False, "FIML")
    assert (cfg.n_boot, cfg.quick_n_boot, cfg.ci) == (500, 2, 0.9)
    assert cfg.weighting == {"by": "area", "population_shares": {"urban": 0.6, "rural": 0.4}}


def test_default_missing_is_the_registry_default_em(tmp_path):
    cfg = StudyConfig.from_yaml(make_study(tmp_path, with_(estimation={"scheme": "path"})))
    assert cfg.missing == "em" == options.DEFAULT_MISSING


@pytest.mark.parametrize(("key", "value"), [
    *(("scheme", v) for v in options.SCHEMES),
    *(("missing", v) for v in options.MISSING),
    *(("cbsem_estimator", v) for v in options.ESTIMATORS),
])
def test_every_registry_option_is_accepted(tmp_path, key, value):
    cfg = StudyConfig.from_yaml(make_study(tmp_path, with_(estimation={key: value})))
    assert getattr(cfg, key) == value


def test_shipped_studies_pass_the_checks():
    studies = sorted((REPO / "studies").glob("*/study.yaml"))
    assert studies
    for study in studies:
        assert StudyConfig.from_yaml(study).missing in options.MISSING


def test_partial_section_keeps_the_other_defaults(tmp_path):
    cfg = StudyConfig.from_yaml(make_study(tmp_path, with_(bootstrap={"n_boot": 999})))
    assert (cfg.n_boot, cfg.quick_n_boot, cfg.ci) == (999, 200, 0.95)


def test_folder_and_file_give_the_same_config(tmp_path):
    study = make_study(tmp_path)
    assert StudyConfig.from_yaml(study.parent) == StudyConfig.from_yaml(study)


def test_paths_are_relative_to_the_study_file_not_the_working_directory(tmp_path, monkeypatch):
    study = make_study(tmp_path)
    elsewhere = tmp_path / "elsewhere" / "deeper"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    from_far = StudyConfig.from_yaml(study)
    monkeypatch.chdir(tmp_path)
    from_relative = StudyConfig.from_yaml(Path("studies/beiling-2026/study.yaml"))
    expected = (tmp_path / "data" / "beiling_2026.csv").resolve()
    assert from_far.data == expected and from_relative.data == expected
    assert from_relative.path == study.resolve()


def test_codebook_model_and_internal_files_are_resolved(tmp_path):
    folder = tmp_path / "studies" / "beiling-2026"
    folder.mkdir(parents=True)
    for name in ("codebook.yaml", "model.yaml", "internal.csv"):
        (folder / name).write_text("x: 1\n", encoding="utf-8")
    spec = with_(codebook="codebook.yaml", model="./model.yaml", internal_indicators="internal.csv")
    cfg = StudyConfig.from_yaml(make_study(tmp_path, spec))
    assert cfg.codebook == (folder / "codebook.yaml").resolve()
    assert cfg.model == (folder / "model.yaml").resolve()
    assert cfg.internal_indicators == (folder / "internal.csv").resolve()


def test_default_keywords_are_not_paths(tmp_path):
    spec = with_(codebook="default", model="default", internal_indicators="default",
                 industry_evaluation="default", synthetic=True)  # bundled inputs: synthetic studies only
    cfg = StudyConfig.from_yaml(make_study(tmp_path, spec))
    assert cfg.codebook is None and cfg.model is None
    assert cfg.internal_indicators == "default" and cfg.industry_evaluation == "default"


def test_from_dict_resolves_against_the_given_path(tmp_path):
    study = make_study(tmp_path)
    cfg = StudyConfig.from_dict(dict(MINIMAL), study)
    assert cfg == StudyConfig.from_yaml(study)


def test_config_is_frozen(tmp_path):
    cfg = StudyConfig.from_yaml(make_study(tmp_path))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 8


# ---------------------------------------------------------------- to_dict
def test_to_dict_paths_are_relative_to_the_study_folder(tmp_path):
    folder = tmp_path / "studies" / "beiling-2026"
    folder.mkdir(parents=True)
    (folder / "codebook.yaml").write_text("x: 1\n", encoding="utf-8")
    cfg = StudyConfig.from_yaml(make_study(tmp_path, with_(codebook="codebook.yaml", segments=["area"])))
    out = cfg.to_dict()
    assert out["data"] == "../../data/beiling_2026.csv"
    assert out["codebook"] == "codebook.yaml"
    assert out["model"] is None
    assert out["segments"] == ["area"]
    assert "raw" not in out and "path" not in out
    assert out["region_id"] == "beiling" and out["wave"] == "2026" and out["region_zh"] == "北岭"
    assert json.loads(json.dumps(out, ensure_ascii=False)) == out  # JSON-ready as it is


def test_to_dict_is_the_same_after_moving_the_whole_tree(tmp_path):
    first = make_study(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b" / "moved")
    second = tmp_path / "b" / "moved" / "studies" / "beiling-2026" / "study.yaml"
    one, two = StudyConfig.from_yaml(first), StudyConfig.from_yaml(second)
    assert one.data != two.data
    assert one.to_dict() == two.to_dict()


# ---------------------------------------------------------------- key errors
def test_unknown_top_level_key_is_an_error(tmp_path):
    message = error_of(tmp_path, with_(seeed=3))
    assert "unknown key(s) seeed" in message
    assert "allowed:" in message and "seed" in message


def test_unknown_nested_key_names_its_section(tmp_path):
    message = error_of(tmp_path, with_(estimation={"schem": "path"}))
    assert "estimation.schem" in message
    assert "estimation.scheme" in message  # the allowed keys, with their section


@pytest.mark.parametrize("key", ["region", "wave", "data", "seed"])
def test_missing_required_top_level_key(tmp_path, key):
    assert f"required key {key}" in error_of(tmp_path, with_(**{key: ...}))


@pytest.mark.parametrize("key", ["id", "name_zh", "name_en"])
def test_missing_required_region_key(tmp_path, key):
    region = {k: v for k, v in MINIMAL["region"].items() if k != key}
    assert f"required key region.{key}" in error_of(tmp_path, with_(region=region))


@pytest.mark.parametrize("key", ["wave", "seed", "data"])
def test_required_key_without_a_value_is_missing(tmp_path, key):
    # `wave:` with nothing after it loads as None; it must not become the wave "None"
    assert f"required key {key}" in error_of(tmp_path, with_(**{key: None}))


@pytest.mark.parametrize(("spec", "what"), [([1, 2], "the study"), (with_(region="beiling"), "region")])
def test_non_mapping_is_an_error(tmp_path, spec, what):
    assert f"{what} must be a mapping" in error_of(tmp_path, spec)


def test_unreadable_and_invalid_yaml_files(tmp_path):
    with pytest.raises(ModelSpecError, match="cannot read the study file"):
        StudyConfig.from_yaml(tmp_path / "nope.yaml")
    with pytest.raises(ModelSpecError, match="cannot read the study file"):
        StudyConfig.from_yaml(tmp_path)  # a folder without study.yaml
    bad = tmp_path / "study.yaml"
    bad.write_text("region: {id: x\nwave: [", encoding="utf-8")
    with pytest.raises(ModelSpecError, match="not valid YAML"):
        StudyConfig.from_yaml(bad)


def test_non_utf8_study_file_says_so(tmp_path):
    study = make_study(tmp_path)
    study.write_bytes(study.read_text(encoding="utf-8").encode("gbk"))  # saved by a GBK editor
    with pytest.raises(ModelSpecError, match="not UTF-8"):
        StudyConfig.from_yaml(study)


# ---------------------------------------------------------------- value errors
def test_missing_data_file_names_key_value_and_where_it_looked(tmp_path):
    message = error_of(tmp_path, with_(data="../../data/absent.csv"))
    assert "data file '../../data/absent.csv' does not exist" in message
    assert str((tmp_path / "data" / "absent.csv").resolve()) in message


def test_missing_codebook_file(tmp_path):
    assert "codebook file 'my_codebook.yaml' does not exist" in error_of(
        tmp_path, with_(codebook="my_codebook.yaml"))


@pytest.mark.parametrize("data", ["default", 3, ["a.csv"]])
def test_data_must_be_a_path(tmp_path, data):
    assert "data must be the survey file's path" in error_of(tmp_path, with_(data=data))


CHOICES = {"scheme": options.SCHEMES, "missing": options.MISSING, "cbsem_estimator": options.ESTIMATORS}


@pytest.mark.parametrize(("key", "value"), [
    ("scheme", "pathweighting"),
    ("scheme", "Path"),
    ("missing", "drop"),
    ("missing", "pairwise"),  # offered before the registry; refused at read time now
    ("missing", None),
    ("cbsem_estimator", "DWLS"),
    ("cbsem_estimator", "MLR"),
    ("cbsem_estimator", "ml"),
    ("cbsem_estimator", 3),
])
def test_bad_choice_lists_the_allowed_values(tmp_path, key, value):
    message = error_of(tmp_path, with_(estimation={key: value}))
    assert f"estimation.{key} {value!r} is not allowed" in message
    assert f"use one of: {', '.join(CHOICES[key])}" in message


def test_dwls_is_not_offered(tmp_path):
    message = error_of(tmp_path, with_(estimation={"cbsem_estimator": "DWLS"}))
    assert "estimation.cbsem_estimator" in message and "'DWLS' is not offered" in message
    assert "auto, ML, FIML" in message


@pytest.mark.parametrize("key", ["n_boot", "quick_n_boot"])
@pytest.mark.parametrize("value", [-1, 0, 1, 2.5, "200", True, None])
def test_bad_bootstrap_sizes(tmp_path, key, value):
    message = error_of(tmp_path, with_(bootstrap={key: value}))
    assert f"bootstrap.{key} must be an integer of at least 2" in message and repr(value) in message


def test_two_resamples_are_enough(tmp_path):
    cfg = StudyConfig.from_yaml(make_study(tmp_path, with_(bootstrap={"n_boot": 2, "quick_n_boot": 2})))
    assert (cfg.n_boot, cfg.quick_n_boot) == (2, 2)


@pytest.mark.parametrize("value", [0, 1, 1.5, -0.95, "0.95", None, True, float("nan"), 95, 100])
def test_bad_bootstrap_ci(tmp_path, value):
    message = error_of(tmp_path, with_(bootstrap={"ci": value}))
    assert "bootstrap.ci must be a coverage level between 0 and 1" in message and "0.95" in message


@pytest.mark.parametrize(("value", "hint"), [(95, "write 0.95"), (90, "write 0.9"), (97.5, "write 0.975")])
def test_percentage_ci_gets_a_hint(tmp_path, value, hint):
    message = error_of(tmp_path, with_(bootstrap={"ci": value}))
    assert "looks like a percentage" in message and hint in message


@pytest.mark.parametrize("value", ["42", 4.2, True, [1]])
def test_seed_must_be_an_integer(tmp_path, value):
    message = error_of(tmp_path, with_(seed=value))
    assert "seed must be an integer" in message and repr(value) in message


def test_large_and_zero_seeds_are_fine(tmp_path):
    assert StudyConfig.from_yaml(make_study(tmp_path, with_(seed=0))).seed == 0
    assert StudyConfig.from_yaml(make_study(tmp_path, with_(seed=2**40))).seed == 2**40


@pytest.mark.parametrize(("changes", "key"), [
    ({"synthetic": "yes"}, "synthetic"),
    ({"estimation": {"scaled": "false"}}, "estimation.scaled"),
    ({"estimation": {"cbsem": 1}}, "estimation.cbsem"),
])
def test_flags_must_be_booleans(tmp_path, changes, key):
    assert f"{key} must be true or false" in error_of(tmp_path, with_(**changes))


@pytest.mark.parametrize("value", ["area", [1, 2], {"area": 1}])
def test_segments_must_be_a_list_of_names(tmp_path, value):
    assert "segments must be a list of column names" in error_of(tmp_path, with_(segments=value))


@pytest.mark.parametrize(
    "value", ["eighty", None, True, 0, -5, 0.8, 1, 100.5, 1000, float("nan"), float("inf")])
def test_index_target_must_be_on_the_0_100_scale(tmp_path, value):
    message = error_of(tmp_path, with_(index_target=value))
    assert "index_target must be a number on the 0-100 scale (0 < index_target <= 100)" in message
    assert repr(value) in message


@pytest.mark.parametrize(("value", "suggestion"), [(0.8, "e.g. 80"), (0.85, "e.g. 85"), (1, "e.g. 100")])
def test_index_target_given_as_a_share_gets_a_hint(tmp_path, value, suggestion):
    message = error_of(tmp_path, with_(index_target=value))
    assert "looks like a share" in message and "0-100 scale" in message and suggestion in message


@pytest.mark.parametrize("value", [100, 1.5, 80.5])
def test_index_target_range_ends(tmp_path, value):
    assert StudyConfig.from_yaml(make_study(tmp_path, with_(index_target=value))).index_target == value


# ---------------------------------------------------------------- weighting
SHARES = {"urban": 0.6, "rural": 0.4}


@pytest.mark.parametrize("weighting", [
    None,
    {"by": "area", "population_shares": SHARES},
    {"by": ["area"], "population_shares": {"urban": 3, "rural": 0}},  # counts; an empty cell
    {"by": "voltage", "population_shares": {1: 10, 2: 30}},  # cells coded as numbers
])
def test_good_weighting_is_kept_as_a_plain_dict(tmp_path, weighting):
    cfg = StudyConfig.from_yaml(make_study(tmp_path, with_(weighting=weighting)))
    assert cfg.weighting == weighting
    assert cfg.weighting is None or type(cfg.weighting) is dict
    assert json.loads(json.dumps(cfg.to_dict()))["weighting"] == json.loads(json.dumps(weighting))


@pytest.mark.parametrize(("weighting", "key", "expected"), [
    ("area", "weighting", "by and population_shares"),
    (["area"], "weighting", "by and population_shares"),
    ({"by": "area"}, "weighting.population_shares", "required key"),
    ({"population_shares": SHARES}, "weighting.by", "required key"),
    ({"by": "area", "population_shares": SHARES, "trim": 5}, "weighting.trim", "weighting.by"),
    ({"by": "", "population_shares": SHARES}, "weighting.by", "a non-empty list of column names"),
    ({"by": [], "population_shares": SHARES}, "weighting.by", "a non-empty list of column names"),
    ({"by": ["area", 3], "population_shares": SHARES}, "weighting.by", "a non-empty list of column names"),
    ({"by": {"area": 1}, "population_shares": SHARES}, "weighting.by", "a non-empty list of column names"),
    ({"by": "area", "population_shares": {}}, "weighting.population_shares", "non-empty mapping"),
    ({"by": "area", "population_shares": [0.6, 0.4]}, "weighting.population_shares", "non-empty mapping"),
    ({"by": "area", "population_shares": {"urban": -0.1, "rural": 1}}, "weighting.population_shares.urban",
     "non-negative number"),
    ({"by": "area", "population_shares": {"urban": "60%"}}, "weighting.population_shares.urban",
     "non-negative number"),
    ({"by": "area", "population_shares": {"urban": True}}, "weighting.population_shares.urban",
     "non-negative number"),
    ({"by": "area", "population_shares": {"urban": float("inf")}}, "weighting.population_shares.urban",
     "non-negative number"),
    ({"by": "area", "population_shares": {"urban": None}}, "weighting.population_shares.urban",
     "non-negative number"),
    ({"by": "area", "population_shares": {"urban": 0, "rural": 0.0}}, "weighting.population_shares",
     "all 0"),
])
def test_bad_weighting(tmp_path, weighting, key, expected):
    message = error_of(tmp_path, with_(weighting=weighting))
    assert key in message and expected in message


def test_weighting_column_is_not_checked_against_the_data_here(tmp_path):
    # the study file does not know the data's columns; prepare() checks them when the sample is built
    spec = with_(weighting={"by": "no_such_column", "population_shares": SHARES})
    assert StudyConfig.from_yaml(make_study(tmp_path, spec)).weighting["by"] == "no_such_column"


# ---------------------------------------------------------------- error type
@pytest.mark.parametrize("changes", [
    {"estimation": {"missing": "pairwise"}},
    {"estimation": {"cbsem_estimator": "DWLS"}},
    {"bootstrap": {"quick_n_boot": 1}},
    {"bootstrap": {"ci": 95}},
    {"index_target": 0.8},
    {"weighting": {"by": "area", "population_shares": {}}},
])
def test_every_value_error_is_a_model_spec_error(tmp_path, changes):
    with pytest.raises(ModelSpecError) as info:
        StudyConfig.from_yaml(make_study(tmp_path, with_(**changes)))
    assert isinstance(info.value, CSIError)
    assert "study.yaml" in str(info.value)


def test_errors_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match=re.escape("seed")):
        StudyConfig.from_yaml(make_study(tmp_path, with_(seed="x")))


# ---------------------------------------------------------------- bring your own data
def test_reading_options_default_and_round_trip(tmp_path):
    cfg = StudyConfig.from_yaml(make_study(tmp_path))
    assert (cfg.sheet, cfg.missing_codes, cfg.extra_columns) == (None, (), "keep")
    cfg = StudyConfig.from_yaml(make_study(tmp_path, with_(missing_codes=[9, 99], extra_columns="error",
                                                           sheet="问卷")))
    assert (cfg.sheet, cfg.missing_codes, cfg.extra_columns) == ("问卷", (9, 99), "error")
    assert cfg.to_dict()["missing_codes"] == [9, 99]


@pytest.mark.parametrize(("changes", "expected"), [
    ({"missing_codes": "99"}, "missing_codes must be a list of integer codes"),
    ({"missing_codes": [9.5]}, "missing_codes must be a list of integer codes"),
    ({"missing_codes": [True]}, "missing_codes must be a list of integer codes"),
    ({"extra_columns": "drop"}, "extra_columns 'drop' is not allowed; use one of: keep, error"),
    ({"sheet": ""}, "sheet must be an Excel sheet's name or its number"),
    ({"sheet": [1]}, "sheet must be an Excel sheet's name or its number"),
])
def test_reading_options_are_checked(tmp_path, changes, expected):
    assert expected in error_of(tmp_path, with_(**changes))


@pytest.mark.parametrize(("changes", "key"), [
    ({"region": {"id": "x", "name_zh": "TODO", "name_en": "X"}}, "region.name_zh"),
    ({"wave": "TODO: the survey year"}, "wave"),
    ({"segments": ["area", "TODO"]}, "segments[1]"),
])
def test_a_todo_left_by_the_scaffold_is_refused(tmp_path, changes, key):
    message = error_of(tmp_path, with_(**changes))
    assert f"{key} is still" in message and "fill it in" in message


def test_a_description_mentioning_todo_lists_is_fine(tmp_path):
    assert StudyConfig.from_yaml(make_study(tmp_path, with_(description="Todo list of the county")))


@pytest.mark.parametrize("changes", [
    {"industry_evaluation": "default"},
    {"industry_evaluation": {"weighting": "ahp"}},  # no hierarchy: the bundled matrices would fill in
])
def test_real_data_refuses_the_bundled_expert_matrices(tmp_path, changes):
    message = error_of(tmp_path, with_(synthetic=False, **changes))
    assert "industry_evaluation_default.yaml" in message and "not your experts'" in message


@pytest.mark.parametrize("value", ["default", str(REPO / "csi_research/resources/internal_indicators.csv")])
def test_real_data_refuses_the_bundled_kpis(tmp_path, value):
    message = error_of(tmp_path, with_(synthetic=False, internal_indicators=value))
    assert "internal_indicators.csv" in message and "fictional regions" in message


def test_synthetic_studies_and_own_inputs_are_accepted(tmp_path):
    study = make_study(tmp_path, with_(synthetic=True, industry_evaluation="default",
                                       internal_indicators="default"))
    assert StudyConfig.from_yaml(study).industry_evaluation == "default"
    hierarchy = {"CSI": {"children": ["Image", "Quality"], "upper": [[3]]}}
    (study.parent / "experts.yaml").write_text(yaml.safe_dump({"weighting": "ahp", "hierarchy": hierarchy}))
    (study.parent / "kpis.csv").write_text("region,year\nbeiling,2026\n")
    cfg = StudyConfig.from_yaml(make_study(tmp_path, with_(industry_evaluation="experts.yaml",
                                                           internal_indicators="kpis.csv")))
    assert cfg.industry_evaluation["hierarchy"] == hierarchy
    assert cfg.internal_indicators == (study.parent / "kpis.csv").resolve()


def test_an_industry_file_that_is_not_a_mapping_is_named(tmp_path):
    study = make_study(tmp_path)
    (study.parent / "experts.yaml").write_text("- 1\n- 2\n")
    message = error_of(tmp_path, with_(industry_evaluation="experts.yaml"))
    assert "experts.yaml" in message and "must be a mapping" in message
