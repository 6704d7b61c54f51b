"""PLSpredict: how well a PLS path model predicts respondents it was not estimated on.

Shmueli, Ray, Velasquez Estrada & Chatla (2016), "The elephant in the room: predictive performance
of PLS models", and Shmueli et al. (2019), "Predictive model assessment in PLS-SEM: guidelines
for using PLSpredict". The respondents of the fit's prepared sample are split into ``k`` folds
(``repeats`` times); for each fold the model is re-estimated on the other folds and the held-out
respondents' indicators of every endogenous construct are predicted from their indicators of the
exogenous constructs. The errors are compared with two benchmarks: a linear regression of each
indicator on all exogenous indicators (LM) and the training mean (which defines Q²predict).

All folds of all repeats are one batch of the PLS engine: a training set is a count vector with 0
for its held-out respondents, so its weighted moments are one matrix product away (as the
bootstrap's resamples are), and predictions are gathered per respondent from its fold's estimates.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.diagnostics import public
from csi_research.core.errors import ModelSpecError
from csi_research.stats.pls import minimum_respondents
from csi_research.stats.pls_engine import Layout, _solve, pls_from_moments

ITEM_COLUMNS = ["construct", "item", "rmse_pls", "mae_pls", "rmse_lm", "mae_lm", "q2_predict",
                "q2_predict_lm", "n_answers"]
SINGULAR = 1e-10  # smallest / largest eigenvalue of the LM predictors' correlations: collinear below it


# ---------------------------------------------------------------------------- result
@dataclass(frozen=True)
class PredictResult:
    """PLSpredict's tables, its settings and what went wrong (see :func:`predict`).

    ``items``: one row per indicator of an endogenous construct (weighted RMSE and MAE of the PLS
    and LM predictions, Q²predict of both against the training mean, ``n_answers`` the observed
    held-out answers per repeat); ``constructs``: one row per endogenous construct (errors of its
    predicted score). Metrics are computed per repeat over all held-out respondents, then averaged
    over repeats; ``per_repeat`` keeps the item metrics of each repeat (for their spread).
    ``folds`` ``(repeats, n)`` is each respondent's fold in each repeat (sample order);
    ``predictions`` holds the out-of-sample predictions ``(repeats, n, items)`` of ``"pls"``,
    ``"lm"`` and ``"mean"`` (NaN for respondents of unusable folds).
    """

    items: pd.DataFrame
    constructs: pd.DataFrame
    per_repeat: pd.DataFrame
    folds: np.ndarray
    predictions: dict[str, np.ndarray]
    k: int
    repeats: int
    seed: int | None
    scheme: str
    consistent: bool
    diagnostics: list[str] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """The indicator table, rounded, with whether PLS predicts better than the LM (lower RMSE)."""
        table = self.items.assign(pls_beats_lm=self.items["rmse_pls"] < self.items["rmse_lm"])
        return table.round(4)

    def power(self, construct: str) -> PredictivePower:
        """How well the model predicts ``construct``'s indicators (:func:`predictive_power`)."""
        return predictive_power(self, construct)


POWER_LEVELS = ("high", "medium", "low", "none", "no relevance")


@dataclass(frozen=True)
class PredictivePower:
    """Shmueli et al. (2019)'s reading of a construct's PLSpredict: ``level`` is ``no relevance``
    when some indicator has Q²predict ≤ 0 (the model predicts it no better than the training mean),
    else ``high`` / ``medium`` / ``low`` / ``none`` as all, most, a minority or none of the
    indicators have a lower PLS RMSE than the LM benchmark."""

    construct: str
    level: str
    n_items: int
    n_relevant: int  # indicators with Q²predict > 0
    n_beating_lm: int  # indicators with RMSE(PLS) < RMSE(LM)
    q2_min: float


def predictive_power(result: PredictResult, construct: str) -> PredictivePower:
    """The predictive power of the model for ``construct`` (an endogenous construct) from RMSE."""
    rows = result.items[result.items["construct"] == construct]
    if rows.empty:
        known = ", ".join(dict.fromkeys(result.items["construct"]))
        raise ValueError(f"{construct!r} is not an endogenous construct of this PLSpredict; known: {known}")
    q2, pls, lm = (rows[c].to_numpy(dtype=float) for c in ("q2_predict", "rmse_pls", "rmse_lm"))
    relevant, beating = int((q2 > 0).sum()), int((pls < lm).sum())
    n = len(rows)
    if relevant < n:
        level = "no relevance"
    elif beating == n:
        level = "high"
    elif beating > n / 2:
        level = "medium"
    else:
        level = "low" if beating else "none"
    return PredictivePower(construct, level, n, relevant, beating, float(np.nanmin(q2)))


# ---------------------------------------------------------------------------- folds
def _check_count(value: Any, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ModelSpecError(f"PLSpredict: {name} must be a whole number, not {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high} (the number of respondents)" if high is not None else \
            f"at least {low}"
        raise ModelSpecError(f"PLSpredict: {name} = {value} is not allowed; it must be {bound}")
    return int(value)


def _random_folds(n: int, k: int, repeats: int, rng: np.random.Generator) -> np.ndarray:
    """(repeats, n) fold labels: each repeat a fresh permutation cut into k near-equal blocks."""
    block = np.arange(n) * k // n  # sizes differ by at most one
    folds = np.empty((repeats, n), dtype=np.int64)
    for r in range(repeats):
        folds[r, rng.permutation(n)] = block
    return folds


def _given_folds(folds: Any, index: pd.Index) -> np.ndarray:
    """Fold labels given by the user, one per respondent (a row per repeat), as 0..k-1."""
    if isinstance(folds, pd.Series):
        if not index.isin(folds.index).all():
            raise ModelSpecError(
                "PLSpredict: folds (a Series) gives no fold to some respondents of the sample"
            )
        folds = folds.reindex(index).to_numpy()
    labels = np.atleast_2d(np.asarray(folds))
    if labels.ndim != 2 or labels.shape[1] != len(index):
        raise ModelSpecError(
            f"PLSpredict: folds must hold one fold per respondent ({len(index)}), or one row of them per "
            f"repeat, not an array of shape {np.shape(folds)}"
        )
    coded = np.empty(labels.shape, dtype=np.int64)
    sizes = set()
    for r, row in enumerate(labels):
        values, coded[r] = np.unique(row, return_inverse=True)
        sizes.add(len(values))
    if len(sizes) > 1 or min(sizes) < 2:
        raise ModelSpecError(
            f"PLSpredict: folds must split the respondents into the same number (at least 2) of folds in "
            f"every repeat, not {sorted(sizes)}"
        )
    return coded


# ---------------------------------------------------------------------------- the estimates of every fold
@dataclass(frozen=True)
class _Training:
    """What prediction needs from each training set (arrays with a leading fold axis B)."""

    mean: np.ndarray  # (B, p) weighted item means
    sd: np.ndarray  # (B, p) weighted (population) item standard deviations
    raw_weights: np.ndarray  # (B, p) outer weights on the raw (centred) items
    loadings: np.ndarray  # (B, p)
    reduced: np.ndarray  # (B, exogenous, endogenous) total effects: the reduced form
    lm_coef: np.ndarray  # (B, exogenous items, targets) the LM benchmark's slopes
    converged: np.ndarray  # (B,) the PLS iterations converged
    lm_ok: np.ndarray  # (B,) the LM benchmark could be fitted


def _train(fit: Any, lay: Layout, counts: np.ndarray, exo: np.ndarray, endo: np.ndarray,
           predictors: np.ndarray, targets: np.ndarray) -> _Training:
    """Estimate PLS and the LM benchmark on every training set (rows of ``counts``), in chunks."""
    sample = fit.sample
    chunk = max(16, 5_000_000 // sample.n)  # a chunk's count matrix stays around 40 MB
    parts = []
    for start in range(0, counts.shape[0], chunk):
        mean, cov, size = sample.moments(counts[start:start + chunk])
        est = pls_from_moments(lay, mean, cov, size, fit.scheme, fit.scaled, fit.tol, fit.max_iter)
        # weighted OLS on the training rows is a function of their weighted moments (the divisor cancels)
        sxx = cov[:, predictors[:, None], predictors]
        with np.errstate(invalid="ignore", divide="ignore"):
            coef = _solve(sxx, cov[:, predictors[:, None], targets])
            sd = np.sqrt(np.diagonal(sxx, axis1=1, axis2=2))
            eig = np.linalg.eigvalsh(np.nan_to_num(sxx / (sd[:, :, None] * sd[:, None, :])))
        # solve() rarely fails on collinear items (round-off); their correlations' spectrum shows it
        full_rank = (eig[:, 0] > SINGULAR * eig[:, -1]) & np.isfinite(sd).all(axis=1) & (sd > 0).all(axis=1)
        parts.append({
            "mean": mean,
            "sd": np.sqrt(np.diagonal(cov, axis1=1, axis2=2)),
            "raw_weights": est.raw_weights,
            "loadings": est.loadings,
            "reduced": est.total_effects[:, exo[:, None], endo],
            "lm_coef": coef,
            "converged": est.converged & np.isfinite(est.raw_weights).all(axis=1),
            "lm_ok": full_rank & np.isfinite(coef).all(axis=(1, 2)),
        })
    return _Training(**{key: np.concatenate([p[key] for p in parts]) for key in parts[0]})


# ---------------------------------------------------------------------------- the entry point
@public
def predict(
    fit: Any,
    k: int = 10,
    repeats: int = 10,
    seed: int | np.random.Generator | None = 0,
    *,
    folds: Any = None,
) -> PredictResult:
    """PLSpredict of a PLS fit: k-fold cross-validated predictions of the endogenous indicators.

    For each fold, the model is re-estimated on the other respondents with the fit's settings
    (scheme, scaling, tol, max_iter, survey weights, missing-data treatment), and the held-out
    respondents are predicted the standard PLSpredict way (Shmueli et al. 2016, 2019): their items
    are standardised with the training means and standard deviations; the exogenous constructs'
    scores are those items times the training outer weights; the endogenous constructs' scores
    are predicted from the exogenous scores through the reduced form of the training paths (the
    total effects: the "earliest antecedents" approach, not the direct antecedents); an indicator's
    prediction is its construct's predicted score times the indicator's training loading, put back
    on the item's scale (training mean and standard deviation).

    Benchmarks, fitted on the training respondents: **LM**, for every indicator of an endogenous
    construct an OLS regression (with intercept, weighted by the survey weights) on *all*
    indicators of all exogenous constructs (seminr's and SmartPLS's convention for this prediction
    approach); **mean**, the training mean, which defines Q²predict = 1 − SSE(PLS) / SSE(mean).

    Metrics use the survey weights: RMSE = sqrt(Σ w e² / Σ w), MAE = Σ w |e| / Σ w over the held-out
    respondents of a repeat (with unit weights the ordinary formulas); each metric is computed per
    repeat and the mean over repeats is reported. The construct table compares each endogenous
    construct's predicted score with the held-out respondent's score under the training weights
    (the training mean of that score, 0, is the benchmark).

    Missing answers: training uses the sample's completed data exactly as the fit does (with EM,
    the training moments are the completed answers plus their conditional covariances, and the
    imputations themselves come from the full sample's preparation; the LM benchmark is the
    regression implied by the same training moments, i.e. plain weighted OLS on complete data). A
    held-out respondent's completed answers are its predictors, but only its *observed* answers are
    scored: a missing answer is never counted as an error (``n_answers``).

    PLSc fits (``consistent=True``): predictions use the plain PLS weights, loadings and paths of
    each training fit, as SmartPLS does: PLSpredict predicts from composites, and the PLSc
    corrections describe common factors whose scores cannot be computed; the numbers equal those of
    the same fit without PLSc.

    ``seed`` (an int, or a numpy Generator that is advanced) fixes the folds: the same seed gives the
    same numbers bit for bit. ``folds`` gives the folds instead: one label per respondent of the
    sample (sample order, or a Series indexed by respondent), or a row of labels per repeat; ``k``,
    ``repeats`` and ``seed`` are then taken from it. ``k = n`` is leave-one-out.
    """
    sample = fit.sample
    model = sample.model
    n = sample.n
    if not model.endogenous:
        raise ModelSpecError(
            "PLSpredict predicts the indicators of endogenous constructs, but this model has none (no "
            "paths): add the structural model"
        )
    if folds is not None:
        labels = _given_folds(folds, sample.x.index)
        seed = None
    else:
        k = _check_count(k, "k (the number of folds)", 2, n)
        repeats = _check_count(repeats, "repeats", 1)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        labels = _random_folds(n, k, repeats, rng)
    repeats, k = labels.shape[0], int(labels.max()) + 1
    seed = int(seed) if isinstance(seed, int | np.integer) and not isinstance(seed, bool) else None

    lay = Layout.of(model)
    endo = lay.endogenous
    exo = np.setdiff1d(np.arange(len(lay.names)), endo)
    predictors = np.concatenate([lay.blocks[j] for j in exo])
    targets = np.concatenate([lay.blocks[j] for j in endo])
    owner = np.concatenate([np.full(lay.blocks[j].size, e) for e, j in enumerate(endo)])  # target → endo

    # training set r·k + f holds every respondent not in fold f of repeat r
    counts = (labels[:, None, :] != np.arange(k)[None, :, None]).reshape(repeats * k, n).astype(float)
    tr = _train(fit, lay, counts, exo, endo, predictors, targets)
    usable = tr.converged & tr.lm_ok

    x = sample.x.to_numpy()
    seen = sample.observed.to_numpy()[:, targets]
    w = sample.weights
    y = x[:, targets]
    shape = (repeats, n, targets.size)
    pls, lm, base = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    score_hat = np.full((repeats, n, endo.size), np.nan)
    score_own = np.full((repeats, n, endo.size), np.nan)
    for r in range(repeats):  # vectorised over folds: each respondent takes its own fold's estimates
        m = r * k + labels[r]
        centred = x - tr.mean[m]
        scores = (centred * tr.raw_weights[m]) @ lay.mask  # (n, constructs) under the training weights
        hat = np.einsum("ne,net->nt", scores[:, exo], tr.reduced[m])
        mu, sd = tr.mean[m][:, targets], tr.sd[m][:, targets]
        pls[r] = mu + sd * tr.loadings[m][:, targets] * hat[:, owner]
        lm[r] = mu + np.einsum("nq,nqt->nt", centred[:, predictors], tr.lm_coef[m])
        base[r] = mu
        score_hat[r], score_own[r] = hat, scores[:, endo]
        bad = ~usable[m]
        for array in (pls[r], lm[r], base[r], score_hat[r], score_own[r]):
            array[bad] = np.nan

    counted = w[None, :, None] * (seen[None] & np.isfinite(pls))  # (repeats, n, targets) weights scored
    per_repeat = _item_metrics(y, pls, lm, base, counted)
    item_names = [lay.items[i] for i in targets]
    construct_of = [lay.names[endo[e]] for e in owner]
    means = {key: _average(v) for key, v in per_repeat.items()}
    items = pd.DataFrame({"construct": construct_of, "item": item_names, **means})[ITEM_COLUMNS]
    repeat_table = pd.DataFrame({  # one frame, repeat-major (one per repeat concatenated costs 10×)
        "repeat": np.repeat(np.arange(repeats), len(item_names)),
        "construct": construct_of * repeats,
        "item": item_names * repeats,
        **{key: v.reshape(-1) for key, v in per_repeat.items()},
    })
    constructs = _construct_metrics(score_own, score_hat, w, [lay.names[j] for j in endo])

    diagnostics = _diagnostics(fit, model, n, labels, tr, items)
    return PredictResult(
        items=items,
        constructs=constructs,
        per_repeat=repeat_table,
        folds=labels,
        predictions={"pls": pls, "lm": lm, "mean": base},
        k=k,
        repeats=repeats,
        seed=seed,
        scheme=fit.scheme,
        consistent=bool(getattr(fit, "consistent", False)),
        diagnostics=diagnostics,
    )


def _average(values: np.ndarray) -> np.ndarray:
    """Mean over repeats (axis 0), ignoring repeats where a metric is undefined; NaN when all are."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: reported by a diagnostic
        return np.nanmean(values, axis=0)


def _item_metrics(y: np.ndarray, pls: np.ndarray, lm: np.ndarray, base: np.ndarray,
                  counted: np.ndarray) -> dict[str, np.ndarray]:
    """Weighted RMSE, MAE and Q²predict per repeat and indicator, ``(repeats, targets)`` each."""
    total = counted.sum(axis=1)

    def sums(pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e = np.where(counted > 0, y[None] - pred, 0.0)  # unscored cells may hold NaN predictions
        return (counted * e**2).sum(axis=1), (counted * np.abs(e)).sum(axis=1)

    (sse_pls, sae_pls), (sse_lm, sae_lm), (sse_mean, _) = sums(pls), sums(lm), sums(base)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "rmse_pls": np.sqrt(sse_pls / total),
            "mae_pls": sae_pls / total,
            "rmse_lm": np.sqrt(sse_lm / total),
            "mae_lm": sae_lm / total,
            "q2_predict": 1.0 - sse_pls / sse_mean,
            "q2_predict_lm": 1.0 - sse_lm / sse_mean,
            "n_answers": (counted > 0).sum(axis=1).astype(float),
        }


def _construct_metrics(actual: np.ndarray, predicted: np.ndarray, w: np.ndarray,
                       names: list[str]) -> pd.DataFrame:
    """Errors of the predicted construct scores against the held-out scores under the training weights."""
    ok = np.isfinite(predicted)
    weight = w[None, :, None] * ok
    e = np.where(ok, actual - predicted, 0.0)
    total = weight.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rmse = np.sqrt((weight * e**2).sum(axis=1) / total)
        mae = (weight * np.abs(e)).sum(axis=1) / total
        q2 = 1.0 - (weight * e**2).sum(axis=1) / (weight * np.where(ok, actual, 0.0) ** 2).sum(axis=1)
    values = [_average(v) for v in (rmse, mae, q2)]
    return pd.DataFrame({"construct": names, "rmse": values[0], "mae": values[1], "q2_predict": values[2]})


def _diagnostics(fit: Any, model: Any, n: int, labels: np.ndarray, tr: _Training,
                 items: pd.DataFrame) -> list[str]:
    """What the reader must know: small training sets, unusable folds, indicators never scored."""
    diagnostics = []
    total = tr.converged.size
    needed = minimum_respondents(model)[0]
    smallest = n - max(int(np.bincount(row).max()) for row in labels)
    if smallest < needed:
        diagnostics.append(
            f"PLSpredict: the training sets hold as few as {smallest} respondents, fewer than the {needed} "
            "PLS needs for this model: the training fits are unstable; use fewer folds or more respondents"
        )
    if (failed := int((~tr.converged).sum())):
        diagnostics.append(
            f"PLSpredict: {failed} of {total} training fits did not converge in {fit.max_iter} iterations; "
            "their held-out respondents are left out of every prediction error: raise max_iter"
        )
    if (singular := int((tr.converged & ~tr.lm_ok).sum())):
        diagnostics.append(
            f"PLSpredict: in {singular} of {total} training sets the exogenous constructs' items are "
            "collinear, so the LM benchmark cannot be fitted; their held-out respondents are left out of "
            "every prediction error"
        )
    unscored = list(items.loc[items["n_answers"] == 0, "item"])
    if unscored and (tr.converged & tr.lm_ok).any():  # when no fold is usable, the notes above say why
        diagnostics.append(
            f"PLSpredict: item(s) {', '.join(unscored)} have no observed answer of a held-out respondent "
            "with a positive weight in a usable fold, so their prediction errors are undefined"
        )
    return diagnostics
