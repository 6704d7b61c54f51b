"""The regional studies' default CB-SEM on the bundled incomplete surveys against R lavaan 0.6-14.

Beiling 2025 (450 respondents, 206 unanswered items in 64 patterns) and Yunchuan 2025 (500, 140,
42) are the bundled surveys with holes, so their studies fit CB-SEM by FIML (estimator ``auto``
with EM missing-data treatment). Reference: tests/reference_scripts/bundled_fiml.R fits the same
answers (tests/data/bundled_<study>.csv, exported by bundled_fiml_data.py) with ``sem(...,
missing = "ml")`` and writes every estimate, SE, standardised estimate and fit measure to
tests/data/lavaan/bundled_fiml_{estimates,fit}.csv at 15 significant digits.

Tolerances follow tests/test_fiml_patterns.py, where they are derived: lavaan stops up to ~1e-4
standard errors short of the optimum (relative change of 1e-10 in the objective), so estimates are
compared at 2e-4 × SE (observed: 9.1e-5 SE at most); SEs come from numerically differentiated
gradients in both programs, 5e-5 relative (observed 1.0e-5; an SE that counted EM-imputed answers
as observed was 8.7 % off); fit indices depend on −2 log L differences and the saturated moments,
1e-5 relative (observed: 6.4e-7, SRMR).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from csi_research import CSIModel, CSIWarning
from csi_research.data.survey import load_survey
from csi_research.stats.cbsem import fit_cbsem

ROOT = Path(__file__).resolve().parents[1]
LAVAAN = Path(__file__).parent / "data" / "lavaan"
STUDIES = ("beiling_2025", "yunchuan_2025")
MODEL = CSIModel.default()
# our fit_indices key -> lavaan fitMeasures name
FIT_NAMES = {
    "chi2": "chisq", "df": "df", "cfi": "cfi", "tli": "tli", "rmsea": "rmsea",
    "rmsea_ci_lower": "rmsea.ci.lower", "rmsea_ci_upper": "rmsea.ci.upper", "srmr": "srmr",
    "aic": "aic", "bic": "bic",
}


def _survey(study: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        return load_survey(ROOT / "data" / f"{study}.csv")


@pytest.fixture(scope="module", params=STUDIES)
def case(request):
    study = request.param
    survey = _survey(study)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        fit = fit_cbsem(MODEL, survey)  # the study's settings: missing="em", estimator="auto"
    return study, survey, fit


def _key(lhs: str, op: str, rhs) -> tuple[str, str, str]:
    rhs = "" if not isinstance(rhs, str) else rhs
    return (*sorted((lhs, rhs)), op) if op == "~~" else (lhs, rhs, op)


def test_the_reference_data_are_the_answers_the_study_fits(case):
    study, survey, _ = case
    exported = pd.read_csv(Path(__file__).parent / "data" / f"bundled_{study}.csv")
    given = survey.frame[["respondent_id", *MODEL.items]].reset_index(drop=True)
    assert exported["respondent_id"].astype(str).tolist() == given["respondent_id"].astype(str).tolist()
    np.testing.assert_array_equal(exported[MODEL.items].to_numpy(float), given[MODEL.items].to_numpy(float))
    assert given[MODEL.items].isna().to_numpy().any()


def test_auto_fits_fiml_on_the_incomplete_survey(case):
    study, _, fit = case
    assert fit.estimator == "FIML"
    assert fit.converged and fit.admissible
    expected_n = {"beiling_2025": 450, "yunchuan_2025": 500}[study]
    assert fit.n == expected_n


def test_fit_indices_match_lavaan(case):
    study, _, fit = case
    ref = pd.read_csv(LAVAAN / "bundled_fiml_fit.csv")
    ref = ref[ref["study"] == study].set_index("measure")["value"]
    for ours, theirs in FIT_NAMES.items():
        assert fit.fit_indices[ours] == pytest.approx(ref[theirs], rel=1e-5, abs=1e-9), ours
    assert fit.fit_indices["aic"] == pytest.approx(-2 * ref["logl"] + 2 * ref["npar"], rel=1e-9)


def test_estimates_and_standard_errors_match_lavaan(case):
    study, _, fit = case
    ref = pd.read_csv(LAVAAN / "bundled_fiml_estimates.csv", keep_default_na=False)
    ref = ref[ref["study"] == study]
    ref.index = [_key(*k) for k in zip(ref["lhs"], ref["op"], ref["rhs"], strict=True)]
    got = fit.estimates.copy()
    got.index = [_key(*k) for k in zip(got["lhs"], got["op"], got["rhs"], strict=True)]
    assert set(got.index) <= set(ref.index)
    absent = ref.index.difference(got.index)  # only lavaan's fixed latent means (0)
    assert (ref.loc[absent, "op"] == "~1").all() and (ref.loc[absent, "est"].astype(float) == 0).all()
    ref = ref.loc[got.index]
    se = ref["se"].astype(float)
    free = (se > 0).to_numpy()
    assert free.sum() == 102
    assert got["se"].isna().to_numpy().tolist() == (~free).tolist()
    gap = (got["est"] - ref["est"].astype(float)).abs()[free] / se[free]
    assert gap.max() < 2e-4, gap.idxmax()
    np.testing.assert_allclose(got.loc[free, "se"], se[free], rtol=5e-5)
    np.testing.assert_allclose(got["std_all"], ref["std_all"].astype(float), rtol=1e-4, atol=1e-7)
