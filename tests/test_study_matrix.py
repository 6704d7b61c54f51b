"""End-to-end study matrix: every table of a study stands on one sample and one interval level.

Each configuration a researcher may write — the default (EM), mean replacement, listwise,
post-stratification weights, a model whose target is not called Satisfaction, a 90 % interval,
a 1–10 questionnaire — is run through ``run_study`` and checked for the invariants a reader
relies on: IPMA performance is the index, the bootstrap's full-sample estimate is the point
estimate, every table states the same n, and every interval sentence names its level.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from csi_research.core.options import level_text
from csi_research.data.codebook import Codebook
from csi_research.data.simulate import simulate_survey
from csi_research.model import CSIModel
from csi_research.reporting import regional as report
from csi_research.study.pipeline import run_study

ROOT = Path(__file__).resolve().parents[1]
SHARES = {"residential": 0.5, "commercial": 0.3, "industrial": 0.2}


def _study(folder: Path, data: str, **extra: object) -> Path:
    spec = {
        "region": {"id": "beiling", "name_zh": "北岭", "name_en": "Beiling"},
        "wave": 2025,
        "synthetic": True,
        "data": data,
        "bootstrap": {"n_boot": 200, "quick_n_boot": 60, "ci": 0.95},
        "seed": 5,
        "segments": ["customer_class", "area"],
        "industry_evaluation": "default",
        **extra,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return folder


def _renamed_model(folder: Path, with_target: bool) -> str:
    """The default model with Satisfaction renamed 'CS' (target given, or found by its label)."""
    model = CSIModel.default().to_dict()
    constructs = {("CS" if k == "Satisfaction" else k): v for k, v in model["constructs"].items()}
    spec = {"constructs": constructs,
            "paths": [p.replace("Satisfaction", "CS") for p in model["paths"]]}
    if with_target:
        spec["target"] = "CS"
    (folder / "model.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return "model.yaml"


def _ten_point(folder: Path) -> tuple[str, str]:
    """A 1–10 questionnaire (every item on the 'ten' scale, 99 = don't know) and a survey on it."""
    text = (ROOT / "csi_research" / "resources" / "codebook_default.yaml").read_text(encoding="utf-8")
    text = text.replace("scale: semantic5", "scale: ten").replace("missing_codes: [9]", "missing_codes: [99]")
    (folder / "codebook.yaml").write_text(text, encoding="utf-8")
    book = Codebook.from_yaml(folder / "codebook.yaml")
    simulate_survey("beiling", n=300, seed=3, wave=2025, codebook=book).to_csv(folder / "survey.csv")
    return "codebook.yaml", "survey.csv"


def _config(kind: str, folder: Path) -> Path:
    data = str(ROOT / "data" / "beiling_2025.csv")
    if kind == "default":
        return _study(folder, data)
    if kind == "mean":
        return _study(folder, data, estimation={"missing": "mean"})
    if kind == "listwise":
        return _study(folder, data, estimation={"missing": "listwise"})
    if kind == "weighted":
        return _study(folder, data, weighting={"by": "customer_class", "population_shares": SHARES})
    if kind == "ci90":
        return _study(folder, data, bootstrap={"n_boot": 200, "quick_n_boot": 60, "ci": 0.90})
    if kind in ("renamed", "renamed-by-label"):
        folder.mkdir(parents=True)
        return _study(folder, data, model=_renamed_model(folder, with_target=kind == "renamed"))
    if kind == "ten-point":
        folder.mkdir(parents=True)
        book, survey = _ten_point(folder)
        return _study(folder, survey, codebook=book)
    raise AssertionError(kind)


KINDS = ["default", "mean", "listwise", "weighted", "ci90", "renamed", "renamed-by-label", "ten-point"]


@pytest.fixture(scope="module", params=KINDS)
def result(request, tmp_path_factory):
    folder = _config(request.param, tmp_path_factory.mktemp("matrix") / request.param)
    with warnings.catch_warnings():  # run_study warns its diagnostics; the matrix reads the result
        warnings.simplefilter("ignore")
        return run_study(folder, quick=True)


def test_ipma_performance_is_the_index(result):
    table = result.ipma.constructs.set_index("construct")
    for construct, row in table.iterrows():
        assert row["performance"] == pytest.approx(result.indices.at[construct, "index"], abs=1e-9)


def test_bootstrap_full_sample_estimates_are_the_point_estimates(result):
    est = result.boot.estimates
    paths = est[est["statistic"] == "path"].set_index(["source", "target"])["estimate"]
    point = result.pls.paths.set_index(["source", "target"])["estimate"]
    assert np.array_equal(paths.reindex(point.index).to_numpy(), point.to_numpy())
    index = est[est["statistic"] == "index"].set_index("construct")["estimate"]
    assert np.array_equal(index.reindex(result.indices.index).to_numpy(), result.indices["index"].to_numpy())
    table = result.paths().set_index(["source", "target"])["estimate"]
    assert np.array_equal(table.reindex(point.index).to_numpy(), point.to_numpy())


def test_one_base_n_in_every_table(result):
    n = result.sample.n
    values = result.values()
    assert values["n"] == n == result.pls.n == result.ipma.n
    assert (result.indices["n"] == n).all()
    assert result.cbsem is None or result.cbsem.n == n
    overall = result.grade_index[result.grade_index["level"] == "overall"]
    assert int(overall["n"].iloc[0]) == n
    for _, part in result.segments.groupby("attribute"):
        assert part.drop_duplicates("segment")["n"].sum() == n  # no respondent lacks a segment here
    assert values["n_received"] == len(result.survey.frame)
    assert values["n_received"] - values["n_dropped"] == n
    head = report.summary(result, "en").html
    assert f"{n} respondents of {values['n_received']} received" in head
    if result.sample.missing != "listwise":
        assert f"{result.sample.n_imputed} answers imputed" in head
    assert f"used in every table: {n} " in report.data_quality(result, "en").html
    assert f"有效样本 {n} 份" in report.summary(result, "zh").html


def test_every_interval_states_its_level(result):
    ci = result.config.ci
    level = level_text(ci)
    assert result.boot.ci == ci
    assert (result.indices["level"] == ci).all()
    assert (result.paths()["level"] == ci).all()
    head = re.sub(r"<[^>]+>", " ", str(report.summary(result, "en").html))
    mentions = [m.start() for m in re.finditer("interval", head)]
    assert mentions and all(level in head[max(0, k - 12):k] for k in mentions)  # "95% interval"
    other = "95%" if ci != 0.95 else "90%"
    assert other not in head


def test_the_overall_csi_is_the_targets_index(result):
    target = result.model.target
    assert target in ("Satisfaction", "CS")
    assert result.overall_csi == result.indices.at[target, "index"]
    assert result.ipma.target == target
    assert result.values()["target"] == target


def test_weighting_reproduces_the_population_mix(result):
    if not result.sample.weighted:
        assert np.all(result.sample.weights == 1.0)
        return
    cells = result.sample.frame["customer_class"].astype(str).to_numpy()
    w = result.sample.weights
    for cell, share in SHARES.items():
        assert w[cells == cell].sum() / w.sum() == pytest.approx(share, abs=1e-12)
    # the weighted item means are the sample's means (computed here by hand)
    x = result.sample.x.to_numpy()
    np.testing.assert_allclose(result.sample.mean.to_numpy(), w @ x / w.sum(), atol=1e-12)


def test_missing_treatment_keeps_or_drops_as_documented(result):
    sample = result.sample
    raw = result.survey.frame[result.model.items]
    if sample.missing == "listwise":
        assert sample.n == int(raw.notna().all(axis=1).sum()) and sample.n_imputed == 0
    else:
        assert sample.n == int(raw.notna().any(axis=1).sum())
        assert sample.n_imputed == int(raw.loc[sample.x.index].isna().sum().sum())


def test_values_record_the_cbsem_estimator_and_standard_errors(result):
    values = result.values()
    if result.cbsem is None:
        assert values["cbsem_estimator"] is None and values["cbsem_information"] is None
        return
    assert values["cbsem_estimator"] == result.cbsem.estimator
    assert values["cbsem_information"] == ("observed" if result.cbsem.estimator == "FIML" else "expected")
    assert values["cbsem_estimator"] == ("FIML" if result.sample.n_imputed and result.sample.missing == "em"
                                         else "ML")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_structure_table_says_what_stands_behind_its_cbsem_column(result, language):
    import dataclasses

    column = "CB-SEM 标准化系数" if language == "zh" else "CB-SEM standardised"
    html = report.structure(result, language).html
    if result.cbsem is None:
        assert column not in html
        return
    method = str(report.cbsem_method(result.cbsem, language))
    assert column in html and method in html
    broken = dataclasses.replace(result, cbsem=dataclasses.replace(result.cbsem, admissible=False))
    html = report.structure(broken, language).html
    assert f"<th>{column}</th>" not in html and method not in html
    assert ("不可接受" if language == "zh" else "not admissible") in html
