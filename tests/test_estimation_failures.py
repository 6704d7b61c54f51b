"""Each way an estimation can fail has its own EstimationError: what is wrong, the numbers, the remedy.

A 3-respondent survey, a duplicated column and a model that needs more iterations used to share one
message; here every case names its own cause and the messages differ from one another.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from faults import Snapshot

from csi_research import load_survey
from csi_research.core.errors import CSIWarning, EstimationError
from csi_research.data.sample import prepare
from csi_research.model import CSIModel
from csi_research.stats import cbsem
from csi_research.stats.cbsem import fit_cbsem
from csi_research.stats.pls import fit_pls, minimum_respondents

DATA = Path(__file__).resolve().parents[1] / "data" / "beiling_2025.csv"
MODEL = CSIModel.default()


@pytest.fixture(scope="module")
def survey():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        return load_survey(DATA)


@pytest.fixture
def frame(survey) -> pd.DataFrame:
    return survey.frame.copy()


@pytest.fixture(autouse=True)
def untouched():
    snap = Snapshot(DATA)
    yield
    snap.unchanged()


def error(function, *args, **kwargs) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(EstimationError) as caught:
            function(*args, **kwargs)
    return str(caught.value)


def test_three_respondents(survey, frame):
    message = error(fit_pls, MODEL, frame.head(3))
    assert message.startswith("data: 3 respondents are too few to estimate this model by PLS: it needs "
                              "at least 40 (10 per arrow into Satisfaction, which has 4, and 10 more than "
                              "its 30 items)")
    assert "survey more respondents, pool waves or regions, or drop items or paths" in message
    prepared = error(prepare, MODEL, frame.head(3))
    assert prepared.startswith("data: 3 respondents are too few for a model of 30 items: the items' "
                               "covariance matrix needs more respondents than items (at least 31")
    assert "pool waves or regions" in prepared
    cb = error(fit_cbsem, MODEL, frame.head(3))
    assert cb.startswith("3 respondents but the model has 72 free parameters: CB-SEM needs more")
    assert "pool waves or regions" in cb


def test_just_below_the_minimum(survey, frame):
    needed, busiest, arrows = minimum_respondents(MODEL)
    assert (needed, busiest, arrows) == (40, "Satisfaction", 4)
    message = error(fit_pls, MODEL, frame.head(needed - 1))
    assert message.startswith("data: 39 respondents are too few to estimate this model by PLS: it needs "
                              "at least 40")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert fit_pls(MODEL, frame.head(needed)).n == needed
    # a formative block counts its indicators as arrows (the 10-times rule)
    formative = CSIModel(MODEL.constructs, MODEL.paths, modes={"Quality": "B"})
    assert minimum_respondents(formative) == (100, "Quality", 10)


def test_after_listwise_deletion_the_kept_respondents_count(frame):
    holes = frame.dropna(subset=MODEL.items).head(60)
    holes.iloc[:25, holes.columns.get_loc("LOY4")] = np.nan
    message = error(fit_pls, MODEL, holes, missing="listwise")
    assert "35 respondents are too few to estimate this model by PLS" in message


def test_duplicate_item_columns(frame):
    frame["IMG2"] = frame["IMG1"]
    message = error(fit_pls, MODEL, frame)
    assert message == ("data: items IMG1 and IMG2 are perfectly collinear (correlation 1.000000): one "
                       "repeats the other, which makes the items' covariance matrix singular; drop one "
                       "of them (or fix the column if it was copied by mistake)")
    assert error(fit_cbsem, MODEL, frame) == message  # found before either estimator runs


def test_an_item_that_is_a_linear_combination(frame):
    frame["QUA3"] = frame["QUA1"] + 2 * frame["QUA2"]
    message = error(fit_pls, MODEL, frame)
    assert message.startswith("data: item QUA3 is an exact linear combination of QUA1, QUA2 (R² 1.000000)")
    assert message.endswith("drop it or one of those items")


def test_a_constant_item(frame):
    frame["QUA3"] = 3.0
    message = error(fit_pls, MODEL, frame)
    assert message == ("data: item QUA3 is constant (every answer is 3): it carries no information; "
                       "drop it from the model")


def test_an_item_constant_after_listwise_deletion(frame):
    others = [i for i in MODEL.items if i != "QUA3"]
    frame["QUA3"] = np.where(frame[others].isna().any(axis=1), 2.0, 4.0)  # varies only where dropped
    assert frame["QUA3"].nunique() == 2
    message = error(fit_pls, MODEL, frame, missing="listwise")
    assert message.startswith("data: item QUA3 is constant (every answer is 4)")


def test_an_item_with_every_answer_missing(frame):
    frame["VAL2"] = np.nan
    message = error(fit_pls, MODEL, frame)
    assert message == "data: item VAL2 has no observed value: drop it from the model or fix the data"


def test_weights_on_too_few_respondents(frame):
    weights = np.r_[np.ones(12), np.zeros(len(frame) - 12)]
    message = error(fit_pls, MODEL, frame, weights=weights)
    assert message.startswith("data: only 12 of the 450 respondents have a positive survey weight, too few "
                              "for a model of 30 items (at least 31 are needed)")


def test_pls_that_does_not_converge(survey):
    message = error(fit_pls, MODEL, survey, max_iter=1)
    assert message.startswith("PLS did not converge in 1 iterations (last change in outer weights ")
    assert "tolerance 1e-06): the weights were still moving; raise max_iter (e.g. to 300)" in message


def test_pls_with_a_singular_formative_block(survey):
    # a Sample made by other code than prepare, with QUA2 a copy of QUA1: the estimator still says why
    message = _formative_singular(survey)
    assert message.startswith("PLS could not compute the outer weights of Quality: a linear system in the "
                              "algorithm is singular because the items of a formative (Mode B) block")


def test_cbsem_with_more_parameters_than_respondents(frame):
    message = error(fit_cbsem, MODEL, frame.head(60))
    assert message == ("60 respondents but the model has 72 free parameters: CB-SEM needs more respondents "
                       "than parameters (as a rule 5-10 per parameter); collect more data, pool waves or "
                       "regions, drop items, or use PLS (fit_pls)")


def test_cbsem_failing_inside_semopy(survey, monkeypatch):
    def singular(*args, **kwargs):
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(cbsem, "_minimise_mlw", singular)  # ML: semopy's objective
    monkeypatch.setattr(cbsem.fiml, "fit", singular)  # FIML (the default on this incomplete survey)
    for estimator in ("ML", "auto"):
        message = error(fit_cbsem, MODEL, survey, estimator=estimator)
        assert message.startswith("CB-SEM estimation failed inside semopy (Singular matrix): the "
                                  "model-implied covariance matrix could not be formed or inverted")
        assert message.endswith("simplify the model, or use PLS (fit_pls)")


def test_cbsem_non_convergence_stays_a_diagnostic(survey, monkeypatch):
    original = cbsem._minimise_mlw
    monkeypatch.setattr(cbsem, "_minimise_mlw", lambda sem, gradient: original(sem, gradient) and False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_cbsem(MODEL, survey, estimator="ML")
    assert not fit.converged and not fit.admissible
    assert any(d.startswith("the optimiser did not converge") for d in fit.diagnostics)


def _formative_singular(survey) -> str:
    formative = CSIModel(MODEL.constructs, MODEL.paths, modes={"Quality": "B"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sample = prepare(formative, survey, missing="mean")
    x = sample.x.copy()
    x["QUA2"] = x["QUA1"]
    return error(fit_pls, dataclasses.replace(sample, x=x))


CASES = {  # one input per kind of failure, each from the bundled survey
    "too few for PLS": lambda s, f: error(fit_pls, MODEL, f.head(3)),
    "too few for the items": lambda s, f: error(prepare, MODEL, f.head(3)),
    "too few for CB-SEM": lambda s, f: error(fit_cbsem, MODEL, f.head(60)),
    "duplicate": lambda s, f: error(fit_pls, MODEL, f.assign(IMG2=f["IMG1"])),
    "combination": lambda s, f: error(fit_pls, MODEL, f.assign(QUA3=f["QUA1"] + f["QUA2"])),
    "constant": lambda s, f: error(fit_pls, MODEL, f.assign(QUA3=3.0)),
    "all missing": lambda s, f: error(fit_pls, MODEL, f.assign(VAL2=np.nan)),
    "weights": lambda s, f: error(fit_pls, MODEL, f, weights=np.r_[np.ones(12), np.zeros(len(f) - 12)]),
    "iterations": lambda s, f: error(fit_pls, MODEL, s, max_iter=1),
    "singular": lambda s, f: _formative_singular(s),
}


def test_every_case_has_its_own_message(survey, frame):
    messages = {case: make(survey, frame) for case, make in CASES.items()}
    # the words after the file name and before the first number or item differ from case to case
    openings = {case: " ".join(m.removeprefix("data: ").split()[:8]) for case, m in messages.items()}
    assert len(set(openings.values())) == len(CASES), openings
    assert all("drop" in m or "raise max_iter" in m or "check the weights" in m or "survey more" in m
               for m in messages.values()), messages  # each says what to do
