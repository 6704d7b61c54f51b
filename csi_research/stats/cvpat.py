"""CVPAT: is a model's out-of-sample prediction significantly better than a benchmark's, or another model's?

Liengaard, Sharma, Hult, Jensen, Sarstedt, Hair & Ringle (2021), "Prediction: coveted, yet
forsaken? Introducing a cross-validated predictive ability test in partial least squares path
modeling", Decision Sciences 52(2). Each respondent's *loss* is the mean squared prediction error
over its observed answers to the indicators of the endogenous constructs, from the k-fold
cross-validation of :func:`csi_research.stats.predict.predict`; the test is a paired t-test of the
respondents' loss differences. Benchmarks (Sharma et al. 2023): the indicator average (IA, the
training mean) and the linear model (LM); or a second model estimated on the same respondents and
predicting the same indicators with the same folds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from csi_research.core.diagnostics import public
from csi_research.core.errors import ModelSpecError
from csi_research.stats.predict import predict

ALTERNATIVES = ("greater", "two-sided")
COLUMNS = ["model", "benchmark", "loss_model", "loss_benchmark", "loss_difference", "se", "t", "df",
           "p_value", "alternative", "n"]


@dataclass(frozen=True)
class CVPATResult:
    """CVPAT's tests, one row per comparison (``table``), and what they rest on.

    ``table``: ``model`` vs ``benchmark``, their average losses, ``loss_difference`` =
    loss(benchmark) − loss(model) (positive: the model predicts better), its standard error, ``t``, ``df`` and
    ``p_value`` under ``alternative``; ``n`` respondents. ``losses``: each respondent's loss under
    every predictor compared (NaN where it has none). ``items``: the indicators whose predictions are
    scored.
    """

    table: pd.DataFrame
    losses: pd.DataFrame
    items: tuple[str, ...]
    k: int
    repeats: int
    seed: int | None
    alternative: str
    diagnostics: list[str] = field(default_factory=list)

    def significant(self, level: float = 0.05) -> pd.Series:
        """Whether each comparison's p-value is below ``level`` (indexed by model and benchmark)."""
        return (self.table.set_index(["model", "benchmark"])["p_value"] < level).rename("significant")


def case_losses(predicted: np.ndarray, actual: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Each respondent's loss: the squared errors of its observed answers, averaged over those answers
    in each repeat, then over the repeats in which it was predicted (``predicted`` is ``(repeats, n,
    items)``, NaN for respondents of unusable folds); NaN for a respondent with neither."""
    usable = seen[None] & np.isfinite(predicted)
    squared = np.where(usable, (actual[None] - np.where(usable, predicted, 0.0)) ** 2, 0.0)
    answered = usable.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_repeat = np.where(answered > 0, squared.sum(axis=2) / answered, np.nan)
        counted = np.isfinite(per_repeat).sum(axis=0)
        return np.where(counted > 0, np.nansum(per_repeat, axis=0) / counted, np.nan)


def paired_test(model: np.ndarray, benchmark: np.ndarray, weights: np.ndarray,
                alternative: str) -> dict[str, float]:
    """The (survey-weighted) paired t-test of loss(benchmark) − loss(model) over respondents with both.

    The weighted mean difference D = Σ w d / Σ w has the linearised standard error
    sqrt(n / (n − 1) · Σ w² (d − D)²) / Σ w, which with equal weights is the ordinary s / √n.
    """
    both = np.isfinite(model) & np.isfinite(benchmark) & (weights > 0)
    d, w = (benchmark - model)[both], weights[both]
    n = int(both.sum())
    mean = float(np.sum(w * d) / np.sum(w)) if n else np.nan
    se = float(np.sqrt(n / (n - 1) * np.sum(w**2 * (d - mean) ** 2)) / np.sum(w)) if n > 1 else np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        t = mean / se if se > 0 else np.nan
    df = n - 1
    if np.isnan(t):
        p = np.nan
    elif alternative == "greater":
        p = float(stats.t.sf(t, df))
    else:
        p = float(2 * stats.t.sf(abs(t), df))
    loss = lambda v: float(np.sum(w * v[both]) / np.sum(w)) if n else np.nan  # noqa: E731
    return {"loss_model": loss(model), "loss_benchmark": loss(benchmark), "loss_difference": mean,
            "se": se, "t": float(t), "df": df, "p_value": p, "alternative": alternative, "n": n}


def _check(alternative: str) -> None:
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(ALTERNATIVES)}, not {alternative!r}")


def _targets(prediction: Any) -> list[str]:
    return list(prediction.items["item"])


def _same_respondents(fit: Any, other: Any) -> None:
    a, b = fit.sample, other.sample
    if not a.x.index.equals(b.x.index) or not np.array_equal(a.weights, b.weights):
        raise ModelSpecError(
            "CVPAT compares two models on the same respondents with the same weights, but the two fits' "
            f"samples differ ({a.n} and {b.n} respondents): fit both models to the same prepared data"
        )
    common = [i for i in a.x.columns if i in b.x.columns]
    if not a.x[common].equals(b.x[common]):
        raise ModelSpecError(
            "CVPAT: the two fits' answers to their common items differ (other data or another missing-data "
            "treatment): fit both models to the same data with the same missing-data treatment"
        )


@public
def cvpat(
    fit: Any,
    other: Any = None,
    *,
    k: int = 10,
    repeats: int = 10,
    seed: int | None = 0,
    folds: Any = None,
    alternative: str = "greater",
) -> CVPATResult:
    """CVPAT of a PLS fit against the IA and LM benchmarks, or against a second PLS fit ``other``.

    Both models are cross-validated with the same folds (``k``, ``repeats``, ``seed`` or ``folds`` as
    in :func:`~csi_research.stats.predict.predict`); the losses are scored on the indicators of the
    endogenous constructs (for two models: those endogenous in both). ``alternative="greater"``
    (the default) tests whether ``fit`` predicts better than the benchmark (one-sided, as Liengaard
    et al. recommend against a benchmark); ``"two-sided"`` whether the two differ (their advice when
    comparing two theoretically motivated models). Survey weights weight the respondents' losses;
    missing answers are not scored.
    """
    _check(alternative)  # before the cross-validation, not after
    settings = {"k": k, "repeats": repeats, "seed": seed, "folds": folds}
    first = predict.quiet(fit, **settings)
    if other is None:
        return cvpat_of(fit.sample, first, alternative=alternative)
    _same_respondents(fit, other)
    return cvpat_of(fit.sample, first, predict.quiet(other, **settings), alternative=alternative)


def cvpat_of(sample: Any, first: Any, second: Any = None, alternative: str = "greater") -> CVPATResult:
    """CVPAT from PLSpredict results already computed on ``sample`` with the same folds (a study reuses
    its PLSpredict this way): ``first`` against its IA and LM benchmarks, or against ``second``."""
    _check(alternative)
    diagnostics = list(first.diagnostics)
    items = _targets(first)
    if second is not None:
        if not np.array_equal(first.folds, second.folds):
            raise ValueError("CVPAT compares two models' predictions from the same folds; these differ")
        diagnostics += [m for m in second.diagnostics if m not in diagnostics]
        items = [i for i in items if i in set(_targets(second))]
        if not items:
            raise ModelSpecError(
                "CVPAT compares the predictions of indicators of endogenous constructs, but the two models "
                "have none in common: the second model must predict some of the same items"
            )
    actual = sample.x[items].to_numpy()
    seen = sample.observed[items].to_numpy()

    def losses_of(prediction: Any, which: str) -> np.ndarray:
        columns = [_targets(prediction).index(i) for i in items]
        return case_losses(prediction.predictions[which][:, :, columns], actual, seen)

    if second is None:
        predictors = {"PLS": "pls", "IA": "mean", "LM": "lm"}
        losses = {name: losses_of(first, which) for name, which in predictors.items()}
        pairs = [("PLS", "IA"), ("PLS", "LM")]
    else:
        losses = {"model": losses_of(first, "pls"), "other": losses_of(second, "pls")}
        pairs = [("model", "other")]
    rows = [{"model": a, "benchmark": b, **paired_test(losses[a], losses[b], sample.weights, alternative)}
            for a, b in pairs]
    return CVPATResult(
        table=pd.DataFrame(rows)[COLUMNS],
        losses=pd.DataFrame(losses, index=sample.x.index),
        items=tuple(items),
        k=first.k,
        repeats=first.repeats,
        seed=first.seed,
        alternative=alternative,
        diagnostics=diagnostics,
    )
