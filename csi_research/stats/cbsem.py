"""Covariance-based SEM (CB-SEM) of a CSI model through semopy, with admissibility checks.

semopy does the optimisation; everything a researcher reads — the lavaan-style parameter table,
standardised solution, fit indices (χ², CFI, TLI, RMSEA with its CI, SRMR, AIC, BIC) and the
admissibility verdict — is computed here from the fitted matrices, so the numbers follow lavaan's
definitions and do not depend on semopy's reporting helpers.

Why the checks matter: Image, Expectation and Quality are often so collinear in CSI surveys that
CB-SEM returns standardised paths outside [-1, 1], negative variances or a non-positive-definite
latent covariance. lavaan fits such data "without error"; here the fit is marked ``admissible=False``
and every diagnostic says what is wrong, why, and what to do.

Estimators
----------
``"ML"``
    Normal-theory maximum likelihood (lavaan's ``sem()`` default). semopy's ``MLW`` objective is
    minimised against the N-divisor covariance matrix, which is lavaan's likelihood, so estimates,
    χ² = N·F and standard errors (expected information) reproduce lavaan's.
``"FIML"``
    Full-information ML for incomplete data (semopy's ``ModelMeans``, which adds item intercepts).
    semopy's plain ``Model`` also offers an ``FIML`` objective but it assumes zero item means, so it
    is wrong for raw survey scores; it is not used. χ² is the likelihood ratio against the saturated
    model estimated by EM; standard errors use the expected information of the observed patterns.
    semopy's FIML gradient loops in Python over respondents and patterns: expect ~20 s for the
    default model on 1,000 respondents (ML: ~0.25 s), so do not bootstrap FIML fits.

Not offered: DWLS/WLSMV for ordinal items. semopy's ``DWLS`` weights the residuals with the raw
fourth-order moments of the centred data rather than the asymptotic covariance of polychoric
correlations, has no thresholds, no mean-and-variance-adjusted test statistic and reports
normal-theory standard errors, so its "ordinal" results are neither lavaan's WLSMV nor a sound
approximation of it. For 5- to 10-point Likert items ML is the usual, defensible choice; PLS
(``fit_pls``) is the robust alternative used for CSI indices.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import semopy
from scipy import optimize, stats
from semopy.utils import chol_inv

from csi_research.core import options
from csi_research.core.diagnostics import public
from csi_research.core.errors import EstimationError, ModelSpecError
from csi_research.data.sample import OnSample, Sample, em_moments, rows_received, sample_of
from csi_research.model import CSIModel
from csi_research.stats import fiml

_OP_ORDER = {"=~": 0, "~": 1, "~~": 2, "~1": 3}
_COLLINEAR = 0.95  # construct correlation above which separate effects are not estimable
_SOLVER_OPTIONS = {"ftol": 1e-12, "maxiter": 10_000}  # semopy's default ftol stops far from lavaan's optimum


@dataclass(frozen=True)
class CBSEMFit(OnSample):
    """Result of :func:`fit_cbsem`; read ``admissible`` and ``diagnostics`` before the estimates."""

    sample: Sample
    estimator: str
    estimates: pd.DataFrame
    paths: pd.DataFrame
    loadings: pd.DataFrame
    r2: pd.Series
    fit_indices: pd.Series
    latent_cov: pd.DataFrame
    implied_cov: pd.DataFrame
    converged: bool
    admissible: bool
    diagnostics: list[str]
    parameters: np.ndarray = field(repr=False)  # free-parameter vector (semopy order), for warm starts
    options: Mapping[str, Any] = field(default_factory=dict)  # single_item_reliability, covariances

    def summary(self) -> dict[str, pd.DataFrame]:
        """Readable tables: overview, fit indices, paths, loadings, R² and diagnostics."""
        overview = pd.DataFrame(
            {
                "value": [
                    self.estimator,
                    self.n,
                    "yes" if self.converged else "no",
                    "yes" if self.admissible else "NO - do not interpret the estimates",
                ]
            },
            index=["estimator", "respondents", "converged", "admissible"],
        )
        return {
            "overview": overview,
            "fit_indices": self.fit_indices.to_frame("value"),
            "paths": self.paths,
            "loadings": self.loadings,
            "r2": self.r2.to_frame("r2"),
            "diagnostics": pd.DataFrame({"diagnostic": self.diagnostics or ["none"]}),
        }


@public
def fit_cbsem(
    model: CSIModel | Sample,
    data: Any = None,
    estimator: str = "auto",
    *,
    missing: str | None = None,
    weights: Any = None,
    single_item_reliability: float | Mapping[str, float] | None = None,
    start: CBSEMFit | None = None,
    covariances: Sequence[tuple[str, str]] = (),
    information: str | None = None,
    outcome_covariances: bool = True,
) -> CBSEMFit:
    """Fit ``model`` by covariance-based SEM and check that the solution is admissible.

    Give a model and its data (prepared here with ``missing`` and ``weights``, see
    :func:`csi_research.data.sample.prepare`) or a prepared :class:`Sample`. ``"ML"`` fits the
    sample's (weighted; with EM imputation the EM) covariance matrix; ``"FIML"`` uses the
    answers actually given by the sample's respondents (survey weights weight each respondent's
    log-likelihood: pseudo-ML); ``"auto"`` (default, see :func:`resolve_estimator`) is FIML when
    EM found answers missing and ML otherwise, so the standard errors and χ² of an incomplete
    survey never count imputed answers as observed. The result's ``estimator`` says which ran.
    ``single_item_reliability`` identifies one-item constructs: the item's error variance is fixed
    to (1 − reliability) × its variance (0 when not given, i.e. the item is taken as error-free).
    ``start`` is an earlier fit of the same model (e.g. the full sample when bootstrapping) whose
    estimates start the optimiser, which then needs only a few iterations.
    ``covariances`` lists item pairs whose residuals covary (e.g. the same question asked twice).
    ``outcome_covariances``: the disturbances of endogenous constructs that predict no other
    construct covary freely (lavaan's ``sem()`` convention, its ``auto.cov.y``; the default, as in
    :func:`csi_research.stats.multigroup.fit_multigroup`), or, when False, are uncorrelated. It
    matters only with two or more such outcomes; ``options`` records the choice.
    ``information`` chooses the standard errors as lavaan does: ``"expected"`` (ML default) or
    ``"observed"`` (FIML default: the Hessian of the incomplete-data likelihood, which stays valid
    when answers are missing at random, not only completely at random). ML offers expected only.
    """
    estimator = options.choice(estimator, options.ESTIMATORS, "estimator")
    if information is not None:
        options.choice(information, ("observed", "expected"), "information")
    if (rows := rows_received(model, data)) is not None:  # before preparing: size is the real problem
        _check_names(model)
        dummy = pd.DataFrame(np.eye(len(model.items)), index=model.items, columns=model.items)
        description = _description(model, dummy, single_item_reliability, covariances, outcome_covariances)
        _require_respondents(rows, _free_parameters(description, "ML" if estimator == "auto" else estimator))
    prepared = sample_of(model, data, missing=missing, weights=weights)
    model = prepared.model
    estimator = resolve_estimator(estimator, prepared)
    information = information or ("observed" if estimator == "FIML" else "expected")
    if estimator == "ML" and information == "observed":
        raise ValueError("information='observed' is offered for estimator='FIML' only; ML uses 'expected'")
    x = prepared.x.where(prepared.observed) if estimator == "FIML" else prepared.x
    _check_names(model)

    diagnostics: list[str] = []  # problems that make the solution non-admissible; notes come after
    weights = prepared.weights if prepared.weighted else None
    sample = _Sample(x, prepared.cov.to_numpy() if estimator == "ML" else None, weights)
    description = _description(model, sample.cov, single_item_reliability, covariances, outcome_covariances)
    sem = semopy.ModelMeans(description) if estimator == "FIML" else semopy.Model(description)
    for param in sem.parameters.values():  # lavaan leaves variances free: Heywood cases must show
        param.bound = (None, None)
    n_free = sum(p.active for p in sem.parameters.values())
    _require_respondents(sample.n, n_free)
    sample.require_positive_definite()  # after the size check: too few respondents also make it singular
    start_values = _start_vector(start, model, estimator, n_free)
    converged, hessian = _optimise(sem, model, sample, estimator, start_values)
    if not converged:
        diagnostics.append(
            "the optimiser did not converge: the estimates are not a maximum of the likelihood; "
            "check for near-duplicate items or constructs, or simplify the model"
        )
    info = hessian / 2.0 if information == "observed" else _information(sem, estimator, sample)
    table, info_ok = _parameter_table(sem, model, info)
    if not info_ok:
        diagnostics.append(
            "the information matrix is singular: some parameters are not identified and their standard "
            "errors and p-values are unreliable; fix a scale, drop redundant paths or use PLS"
        )
    latent_cov, implied_cov = _implied(sem, model)
    _standardise(table, latent_cov, implied_cov)
    diagnostics += _admissibility(model, table, latent_cov, implied_cov)
    admissible = converged and info_ok and not diagnostics
    diagnostics = [*prepared.diagnostics, *_sample_notes(prepared, estimator), *diagnostics]
    diagnostics += _discriminant_notes(model, latent_cov)
    diagnostics += [
        f"construct {name} is formative (Mode B) in the model but CB-SEM estimates it as reflective; "
        "use PLS (fit_pls) for formative blocks"
        for name, mode in model.modes.items()
        if mode == "B"
    ]
    return CBSEMFit(
        sample=prepared,
        estimator=estimator,
        estimates=table.drop(columns="_free"),
        paths=_paths(table),
        loadings=_loadings(table),
        r2=_r2(model, table, latent_cov),
        fit_indices=_fit_indices(sample, _implied_mean(sem, model), implied_cov.to_numpy(), n_free,
                                 estimator),
        latent_cov=latent_cov,
        implied_cov=implied_cov,
        converged=converged,
        admissible=admissible,
        diagnostics=diagnostics,
        parameters=np.array(sem.param_vals, dtype=float),
        options={"single_item_reliability": single_item_reliability, "covariances": tuple(covariances),
                 "outcome_covariances": bool(outcome_covariances), "information": information},
    )


def _check_names(model: CSIModel) -> None:
    clash = set(model.names) & set(model.items)
    if clash:
        raise ModelSpecError(
            f"construct name(s) {', '.join(sorted(clash))} are also item columns: rename the construct(s)"
        )


def resolve_estimator(estimator: str, sample: Sample) -> str:
    """``"auto"`` made concrete: FIML when EM found answers missing, else ML.

    ML stays for complete answers (where FIML equals it) and where the user chose listwise deletion
    or mean replacement; an explicit ``"ML"`` or ``"FIML"`` is returned as given."""
    if estimator != "auto":
        return estimator
    return "FIML" if sample.missing == "em" and sample.n_imputed else "ML"


def _free_parameters(description: str, estimator: str) -> int:
    """Free parameters of the semopy model (they do not depend on the data)."""
    sem = semopy.ModelMeans(description) if estimator == "FIML" else semopy.Model(description)
    return sum(p.active for p in sem.parameters.values())


def _require_respondents(n: int, n_free: int) -> None:
    if n < n_free:
        raise EstimationError(
            f"{n} respondents but the model has {n_free} free parameters: CB-SEM needs more "
            "respondents than parameters (as a rule 5-10 per parameter); collect more data, pool waves or "
            "regions, drop items, or use PLS (fit_pls)"
        )


def _sample_notes(sample: Sample, estimator: str) -> list[str]:
    """What the prepared sample means for covariance-based estimates."""
    notes = []
    if estimator == "ML" and sample.n_imputed and sample.missing == "em":
        notes.append(
            f"CB-SEM (ML) fitted the EM covariance matrix of {sample.n} respondents "
            f"({sample.n_imputed} answers imputed): estimates are consistent under MAR, but standard "
            "errors and χ² count imputed answers as observed and are slightly optimistic; estimator FIML "
            "gives exact ones"
        )
    if estimator == "ML" and sample.n_imputed and sample.missing == "mean":
        notes.append(
            f"CB-SEM (ML) fitted mean-imputed answers ({sample.n_imputed} imputed): covariances shrink "
            "towards zero; prefer missing='em' or estimator FIML"
        )
    if sample.weighted and estimator == "FIML":
        notes.append(
            "CB-SEM (FIML) weighted each respondent's log-likelihood by its survey weight (mean 1): the "
            "estimates are pseudo-ML; standard errors and χ² treat the weighted sample as a simple random "
            "sample"
        )
    elif sample.weighted:
        notes.append(
            "CB-SEM fitted the survey-weighted covariance matrix: the estimates are pseudo-ML; standard "
            "errors and χ² treat the weighted sample as a simple random sample"
        )
    return notes


@dataclass(frozen=True)
class RefitEstimates:
    """What a bootstrap collects from one re-fit: paths in ``model.paths`` order, R² in
    ``model.endogenous`` order, and the verdicts."""

    paths: np.ndarray
    std_paths: np.ndarray
    r2: np.ndarray
    converged: bool
    admissible: bool


class CBSEMRefit:
    """Re-fit one ML model to many covariance matrices of the same items (bootstrap resamples).

    :func:`fit_cbsem` rebuilds the semopy model and computes standard errors and fit indices on
    every call; a bootstrap needs none of that. Here the model, its parameter layout and the
    gradient are built once; each call only loads a covariance matrix, starts from the full-sample
    estimates, runs the same optimiser and reads off paths, standardised paths and R² through the
    same code as :func:`fit_cbsem`, so the numbers equal a ``fit_cbsem(..., start=...)`` of the
    materialised resample. ``admissible`` applies the same checks (negative variances,
    non-positive-definite matrices, standardised estimates outside [-1, 1], collinear
    co-predictors) except the regularity of the information matrix, which needs the standard errors.
    """

    def __init__(
        self,
        model: CSIModel,
        x: pd.DataFrame,
        cov: np.ndarray,
        start: np.ndarray,
        single_item_reliability: float | Mapping[str, float] | None = None,
        covariances: Sequence[tuple[str, str]] = (),
        outcome_covariances: bool = True,
    ) -> None:
        """``x``: the sample's completed items; ``cov``: its (weighted) covariance matrix."""
        sample = _Sample(x, cov=cov)
        sample.require_positive_definite()
        self.model = model
        self._sem, self._start, single = _refit_model(
            semopy.Model, model, sample, start, single_item_reliability, covariances, outcome_covariances)
        observed = self._sem.vars["observed"]
        self._order = np.array([model.items.index(item) for item in observed])
        self._fixed = [(k, model.items.index(item), share) for k, item, share in single]
        self._layout = _layout(self._sem, model)
        self._gradient = _MLWGradient(self._sem)

    def __call__(self, cov: np.ndarray) -> RefitEstimates:
        """Fit to ``cov``, the N-divisor covariance matrix of the items in ``model.items`` order."""
        sem, model = self._sem, self.model
        with _semopy_call():
            sem.load_cov(np.array(cov, dtype=float)[np.ix_(self._order, self._order)])
            for k, item, share in self._fixed:
                sem.matrices[3][k, k] = share * cov[item, item]
            sem.param_vals = self._start.copy()
            converged = _minimise_mlw(sem, self._gradient)
            return _refit_estimates(sem, model, self._layout, converged)


class FIMLRefit:
    """Re-fit one FIML model to many reweightings of the same respondents (bootstrap resamples).

    A resample of respondents is the original answers with each respondent counted as often as it
    was drawn (times its survey weight), so the answer patterns are grouped once per call and no
    resampled frame is built. Each call starts from the full-sample estimates and runs the
    L-BFGS-B stage of :func:`csi_research.stats.fiml.fit` (no Hessian: a bootstrap needs no
    standard errors), then reads paths, standardised paths, R² and admissibility as
    :class:`CBSEMRefit` does.
    """

    def __init__(
        self,
        model: CSIModel,
        x: pd.DataFrame,
        weights: np.ndarray,
        start: np.ndarray,
        single_item_reliability: float | Mapping[str, float] | None = None,
        covariances: Sequence[tuple[str, str]] = (),
        outcome_covariances: bool = True,
    ) -> None:
        """``x``: the items as answered (NaN where skipped); ``weights``: the survey weights (mean 1)."""
        self._w = np.asarray(weights, dtype=float)
        sample = _Sample(x, None, self._w)
        self.model = model
        self._sem, self._start, single = _refit_model(
            semopy.ModelMeans, model, sample, start, single_item_reliability, covariances,
            outcome_covariances)
        observed = self._sem.vars["observed"]
        self._x = sample.frame[observed].to_numpy(dtype=float)
        self._fixed = [(k, observed.index(item), share) for k, item, share in single]
        self._structure = fiml.MeanStructure(self._sem)
        self._layout = _layout(self._sem, model)

    def __call__(self, counts: np.ndarray) -> RefitEstimates:
        """Fit to the resample that draws respondent i ``counts[i]`` times (0 = not drawn)."""
        counts = np.asarray(counts, dtype=float)
        drawn = counts > 0
        w = counts[drawn] * self._w[drawn]
        x, w = self._x[drawn], w * (counts.sum() / w.sum())  # the likelihood counts the resample's rows
        with _semopy_call():
            if self._fixed:  # as fit_cbsem: the share of the item's EM variance in this resample
                variance = np.diag(em_moments(x, w)[1])
                for k, item, share in self._fixed:
                    self._sem.matrices[3][k, k] = share * variance[item]
            theta, converged = fiml.fit_complete(self._structure, fiml.Patterns.of(x, w), self._start)
            self._structure.moments(theta)
            self._sem.param_vals = theta
            return _refit_estimates(self._sem, self.model, self._layout, converged)


def _refit_model(
    kind: type, model: CSIModel, sample: _Sample, start: np.ndarray,
    reliability: float | Mapping[str, float] | None, covariances: Sequence[tuple[str, str]],
    outcome_covariances: bool,
) -> tuple[semopy.Model, np.ndarray, list[tuple[int, str, float]]]:
    """The semopy model a re-fitter reuses, loaded with ``sample``; the checked start vector; and
    each one-item construct's error variance as (Θ cell, item, 1 − reliability): a resample sets it
    to that share of its own item variance."""
    sem = kind(_description(model, sample.cov, reliability, covariances, outcome_covariances))
    for param in sem.parameters.values():
        param.bound = (None, None)
    with _semopy_call():
        sem.load(sample.frame, cov=sample.cov)
    start = np.array(start, dtype=float)
    if start.shape != sem.param_vals.shape:
        raise ValueError(
            f"start has {start.size} values but the model has {sem.param_vals.size} free parameters: pass "
            "CBSEMFit.parameters of a fit with the same estimator and options"
        )
    theta_names = sem.names[3][0]
    single = [(theta_names.index(model.constructs[name][0]), model.constructs[name][0], 1.0 - rel)
              for name, rel in _reliabilities(model, reliability).items()]
    return sem, start, single


def _refit_estimates(
    sem: semopy.Model, model: CSIModel, layout: pd.DataFrame, converged: bool
) -> RefitEstimates:
    """Paths, standardised paths, R² and admissibility of a re-fit, through the same code as fit_cbsem."""
    table = _read_estimates(sem, layout)
    latent_cov, implied_cov = _implied(sem, model)
    _standardise(table, latent_cov, implied_cov)
    admissible = converged and not _admissibility(model, table, latent_cov, implied_cov)
    paths = table[table["op"] == "~"].set_index(["rhs", "lhs"]).reindex(list(model.paths))
    return RefitEstimates(
        paths=paths["est"].to_numpy(dtype=float),
        std_paths=paths["std_all"].to_numpy(dtype=float),
        r2=_r2(model, table, latent_cov).reindex(model.endogenous).to_numpy(dtype=float),
        converged=converged,
        admissible=admissible,
    )


# ----------------------------------------------------------------------------- data and description
class _Sample:
    """What semopy is given: the item matrix (with NaN for FIML) and its ML moments.

    With ``cov`` (the prepared sample's weighted, EM-aware covariance) ML fits it; otherwise (FIML)
    the moments are the (weighted) EM estimates of the incomplete matrix, FIML's saturated model.
    ``w``: survey weights of mean 1 (None: unweighted), so the likelihood still counts ``n``.
    """

    def __init__(self, x: pd.DataFrame, cov: np.ndarray | None = None, w: np.ndarray | None = None) -> None:
        self.frame = x
        self.n = len(x)
        self.w = w
        if cov is not None:
            mean = x.to_numpy().mean(axis=0)  # only FIML reads means, and FIML never passes cov
        else:
            mean, cov = em_moments(x.to_numpy(), w)  # complete data: one pattern, the (weighted) moments
        self.mean = mean
        self.cov = pd.DataFrame(cov, index=x.columns, columns=x.columns)

    def require_positive_definite(self) -> None:
        eig = np.linalg.eigvalsh(self.cov.to_numpy())
        if eig[0] <= 1e-10 * eig[-1]:  # semopy would only log this; the likelihood is undefined
            raise EstimationError(
                "the items' covariance matrix is not positive definite: some items are (nearly) exact "
                "linear combinations of others, or the survey weights or missing answers leave fewer "
                "effective respondents than items; drop the redundant items, check the weights, or use PLS "
                "(fit_pls)"
            )


def _reliabilities(model: CSIModel, reliability: float | Mapping[str, float] | None) -> dict[str, float]:
    """Reliability of every one-item construct (1 when not given: the item is taken as error-free)."""
    single = [name for name, items in model.constructs.items() if len(items) == 1]
    if isinstance(reliability, Mapping):
        extra = set(reliability) - set(single)
        if extra:
            raise ModelSpecError(
                f"single_item_reliability names {', '.join(sorted(extra))}, which are not one-item "
                f"constructs; one-item constructs: {', '.join(single) or 'none'}"
            )
        rel = {name: float(reliability.get(name, 1.0)) for name in single}
    else:
        rel = dict.fromkeys(single, 1.0 if reliability is None else float(reliability))
    for name, value in rel.items():
        if not 0.0 < value <= 1.0:
            raise ModelSpecError(
                f"single_item_reliability for {name} is {value}; a reliability must be in (0, 1]"
            )
    return rel


def _description(
    model: CSIModel,
    cov: pd.DataFrame,
    reliability: float | Mapping[str, float] | None,
    covariances: Sequence[tuple[str, str]],
    outcome_covariances: bool = True,
) -> str:
    """semopy syntax: the model's lavaan syntax, residual covariances (of items; of the outcomes'
    disturbances under lavaan's convention), fixed one-item error variances."""
    rel = _reliabilities(model, reliability)
    lines = []
    if outcome_covariances:
        outcomes = outcome_constructs(model)
        lines += [f"{a} ~~ {b}" for i, a in enumerate(outcomes) for b in outcomes[i + 1:]]
    for a, b in covariances:
        unknown = [v for v in (a, b) if v not in model.items]
        if unknown:
            raise ModelSpecError(
                f"residual covariance {a} ~~ {b}: {', '.join(unknown)} is not an item of the model"
            )
        lines.append(f"{a} ~~ {b}")
    for name, value in rel.items():
        item = model.constructs[name][0]
        lines.append(f"{item} ~~ {(1.0 - value) * cov.loc[item, item]:.12f}*{item}")
    return model.lavaan_syntax() + "".join(line + "\n" for line in lines)


def outcome_constructs(model: CSIModel) -> list[str]:
    """Endogenous constructs that predict no other construct (lavaan's pure "y" latent variables)."""
    sources = {s for s, _ in model.paths}
    return [name for name in model.endogenous if name not in sources]


# ----------------------------------------------------------------------------- optimisation
def _optimise(
    sem: semopy.Model, model: CSIModel, sample: _Sample, estimator: str, start: np.ndarray | None
) -> tuple[bool, np.ndarray | None]:
    """Load the data, set the starting values and minimise: whether the optimiser converged, and
    for FIML the Hessian of −2 log L at the estimates (the observed information × 2)."""
    with _semopy_call():
        sem.load(sample.frame, cov=sample.cov)
        if start is not None:
            sem.param_vals = start.copy()
        if estimator == "ML":
            return _minimise_mlw(sem, _MLWGradient(sem)), None
        structure = fiml.MeanStructure(sem)
        observed = sem.vars["observed"]
        if start is None:  # first fit the EM moments (one pattern: cheap), then the real patterns
            order = [sample.frame.columns.get_loc(item) for item in observed]
            mean, cov = sample.mean[order], sample.cov.to_numpy()[np.ix_(order, order)]
            saturated = fiml.Patterns.complete(mean, cov, sample.n)
            theta, ok = fiml.fit_complete(structure, saturated, _with_intercepts(sem, observed, mean))
            if not ok:  # rare: then semopy's ML (SLSQP) fit of the EM covariance
                theta = _saturated_start(sem, model, sample)
            sem.param_vals = theta
        data = fiml.Patterns.of(sample.frame[observed].to_numpy(), sample.w)
        result = fiml.fit(structure, data, sem.param_vals)
        sem.param_vals = result.theta
    return result.converged, result.hessian


def _with_intercepts(sem: semopy.ModelMeans, items: Sequence[str], mean: np.ndarray) -> np.ndarray:
    """semopy's starting values with each free item intercept at the item's (EM) mean."""
    values = np.array(sem.param_vals, dtype=float)
    where = dict(zip(items, mean, strict=True))
    rows = sem.names[sem.matrices_names.index("gamma2")][0]
    k_free = 0
    for param in sem.parameters.values():
        if not param.active:
            continue
        loc = param.locations[0]
        if loc.matrix is sem.mx_gamma2:
            values[k_free] = where[rows[loc.indices[0]]]
        k_free += 1
    return values


def _saturated_start(sem: semopy.ModelMeans, model: CSIModel, sample: _Sample) -> np.ndarray:
    """Starting values from semopy's ML fit of the EM covariance, item intercepts at the EM means."""
    values = np.array(sem.param_vals, dtype=float)
    mean = dict(zip(sample.frame.columns, sample.mean, strict=True))
    ml = semopy.Model(sem.description)
    for param in ml.parameters.values():
        param.bound = (None, None)
    ml.load(sample.frame.fillna(0.0), cov=sample.cov)  # the frame only names the items; cov is fitted
    ml_ok = _minimise_mlw(ml, _MLWGradient(ml))
    ml_layout = _layout(ml, model)
    ml_free = {(lhs, op, rhs): ml.param_vals[k] for lhs, op, rhs, k in zip(
        ml_layout["lhs"], ml_layout["op"], ml_layout["rhs"], ml_layout["_free"], strict=True) if k >= 0}
    layout = _layout(sem, model)
    for lhs, op, rhs, k in zip(layout["lhs"], layout["op"], layout["rhs"], layout["_free"], strict=True):
        if k < 0:
            continue
        if op == "~1" and lhs in mean:
            values[k] = mean[lhs]
        elif ml_ok and (lhs, op, rhs) in ml_free:
            values[k] = ml_free[(lhs, op, rhs)]
    return values


@contextlib.contextmanager
def _semopy_call() -> Iterator[None]:
    """Name semopy's numerical failures (its log messages concern cases checked before the call)."""
    try:
        yield
    except (np.linalg.LinAlgError, ValueError) as exc:
        if isinstance(exc, EstimationError):
            raise
        raise EstimationError(
            f"CB-SEM estimation failed inside semopy ({str(exc)[:80]}): the model-implied covariance "
            "matrix could not be formed or inverted, which happens with nearly collinear items or "
            "constructs, too few respondents or a model that is not identified; drop near-duplicate items, "
            "simplify the model, or use PLS (fit_pls)"
        ) from exc


def _minimise_mlw(sem: semopy.Model, gradient: _MLWGradient) -> bool:
    """SLSQP on semopy's Wishart ML objective, as ``Model.fit(obj="MLW")`` does, with a faster gradient."""
    with np.errstate(all="ignore"):
        result = optimize.minimize(
            sem.obj_mlw, sem.param_vals, jac=gradient, method="SLSQP",
            bounds=sem.get_bounds(), options=dict(_SOLVER_OPTIONS),
        )
    sem.param_vals = result.x
    sem.update_matrices(result.x)
    return bool(result.success) and bool(np.isfinite(result.fun))


class _MLWGradient:
    """Gradient of semopy's MLW objective without its loop of p × p products over the parameters.

    With CS = Σ⁻¹ − Σ⁻¹SΣ⁻¹, M = ΛC, C = (I − B)⁻¹ and P = CΨ, the derivatives with respect to
    whole matrices are 2(PMᵀCSM)ᵀ (B), 2(PMᵀCS)ᵀ (Λ), MᵀCSM (Ψ) and CS (Θ); each parameter's
    derivative is then the sum over where it sits, i.e. one product with semopy's ``mx_diffs``.
    """

    def __init__(self, sem: semopy.Model) -> None:
        self.sem = sem
        self.where = [
            np.array([np.ravel(d[k]) if d[k] is not None else np.zeros(sem.matrices[k].size)
                      for d in sem.mx_diffs]).reshape(len(sem.mx_diffs), sem.matrices[k].size)
            for k in range(4)
        ]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        sem = self.sem
        sem.update_matrices(x)
        try:
            sigma, (m, c) = sem.calc_sigma()
            inv = chol_inv(sigma)
        except np.linalg.LinAlgError:
            return np.full(len(x), np.inf)
        cs = inv - inv @ sem.mx_cov @ inv
        p = c @ sem.matrices[2]
        a = m.T @ cs @ m
        b = p @ m.T @ cs
        return (
            self.where[0] @ (2.0 * (p @ a).T).ravel()
            + self.where[1] @ (2.0 * b.T).ravel()
            + self.where[2] @ a.ravel()
            + self.where[3] @ cs.ravel()
        )


def _start_vector(start: CBSEMFit | None, model: CSIModel, estimator: str, n_free: int) -> np.ndarray | None:
    if start is None:
        return None
    if not isinstance(start, CBSEMFit) or start.model != model or start.estimator != estimator:
        raise ValueError("start must be a CBSEMFit of the same model with the same estimator")
    if len(start.parameters) != n_free:  # e.g. another single_item_reliability setting
        raise ValueError("start has a different number of free parameters than this model")
    return start.parameters


# ----------------------------------------------------------------------------- parameter table
def _layout(sem: semopy.Model, model: CSIModel) -> pd.DataFrame:
    """One row per parameter (lhs, op, rhs; _free: index in the free vector or −1) in lavaan's order,
    with the semopy matrix and cell it is read from."""
    names = list(sem.matrices_names)
    rows, k_free = [], 0
    for param in sem.parameters.values():
        loc = param.locations[0]
        k = next(i for i, mx in enumerate(sem.matrices) if mx is loc.matrix)
        row, col = sem.names[k][0][loc.indices[0]], sem.names[k][1][loc.indices[1]]
        kind = names[k]
        if kind == "lambda":
            lhs, op, rhs = col, "=~", row
        elif kind == "beta" and model.components.get(row) == col:  # a second-order loading, as lavaan
            lhs, op, rhs = col, "=~", row
        elif kind == "beta":
            lhs, op, rhs = row, "~", col
        elif kind in ("psi", "theta"):
            lhs, op, rhs = row, "~~", col
        else:  # gamma1/gamma2 of ModelMeans: intercepts
            lhs, op, rhs = row, "~1", ""
        rows.append((lhs, op, rhs, k_free if param.active else -1, k, *loc.indices))
        k_free += param.active
    table = pd.DataFrame(rows, columns=["lhs", "op", "rhs", "_free", "_matrix", "_row", "_col"])
    order = {name: i for i, name in enumerate([*model.names, *model.items])}
    table["_key"] = [
        (_OP_ORDER[op], order.get(lhs, len(order)), order.get(rhs, len(order)))
        for lhs, op, rhs in zip(table["lhs"], table["op"], table["rhs"], strict=True)
    ]
    return table.sort_values("_key", kind="stable").drop(columns="_key").reset_index(drop=True)


def _read_estimates(sem: semopy.Model, layout: pd.DataFrame) -> pd.DataFrame:
    """lhs, op, rhs, est (free and fixed values, as they sit in the fitted matrices) and _free."""
    est = [float(sem.matrices[k][i, j])
           for k, i, j in zip(layout["_matrix"], layout["_row"], layout["_col"], strict=True)]
    return layout[["lhs", "op", "rhs"]].assign(est=est, _free=layout["_free"].to_numpy())


def _parameter_table(sem: semopy.Model, model: CSIModel, info: np.ndarray) -> tuple[pd.DataFrame, bool]:
    """lavaan-style table (lhs, op, rhs, est, se, z, p_value; private _free) and whether the
    information matrix (of the whole sample) is regular."""
    table = _read_estimates(sem, _layout(sem, model))
    cov, info_ok = _invert_information(info)
    se_free = np.sqrt(np.where(np.diag(cov) > 0, np.diag(cov), np.nan))
    free = table["_free"].to_numpy()
    table["se"] = np.where(free >= 0, se_free[np.maximum(free, 0)], np.nan)
    table["z"] = table["est"] / table["se"]
    table["p_value"] = 2.0 * stats.norm.sf(np.abs(table["z"]))
    return table[["lhs", "op", "rhs", "est", "se", "z", "p_value", "_free"]], info_ok


def _information(sem: semopy.Model, estimator: str, sample: _Sample) -> np.ndarray:
    """Expected information; for FIML summed over missing-data patterns (each sees its own Σ, μ)."""
    if estimator == "ML":
        return sem.calc_fim()
    sigma, (m, c) = sem.calc_sigma()
    d_sigma = sem.calc_sigma_grad(m, c)
    d_mu = [np.atleast_2d(g)[:, 0] if np.ndim(g) else None for g in sem.calc_mean_grad(m, c)]
    p, k = sigma.shape[0], len(d_sigma)
    ds = np.array([g if np.ndim(g) else np.zeros((p, p)) for g in d_sigma])
    dm = np.array([g if g is not None else np.zeros(p) for g in d_mu])
    observed = np.isfinite(sample.frame[sem.vars["observed"]].to_numpy())  # Σ and μ are in semopy's order
    patterns, inverse = np.unique(observed, axis=0, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=sample.w, minlength=len(patterns))  # weighted counts
    info = np.zeros((k, k))
    for pattern, count in zip(patterns, counts, strict=True):
        idx = np.flatnonzero(pattern)
        inv = np.linalg.pinv(sigma[np.ix_(idx, idx)])
        a = np.einsum("ij,kjl->kil", inv, ds[:, idx][:, :, idx])
        info += count * (0.5 * np.einsum("aij,bji->ab", a, a) + dm[:, idx] @ inv @ dm[:, idx].T)
    return info


def _invert_information(info: np.ndarray) -> tuple[np.ndarray, bool]:
    """Inverse (pseudo-inverse when singular) and whether the information matrix is regular."""
    eig = np.linalg.eigvalsh((info + info.T) / 2)
    regular = bool(eig.size == 0 or (eig[0] > 1e-10 * max(eig[-1], 1e-300)))
    return (np.linalg.inv(info) if regular else np.linalg.pinv(info)), regular


def _implied(sem: semopy.Model, model: CSIModel) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Total latent covariance C Ψ Cᵀ and implied item covariance, in the model's order."""
    sigma, (_, c) = sem.calc_sigma()
    psi = sem.matrices[2]
    lat_names = sem.names[2][0]
    phi = pd.DataFrame(c @ psi @ c.T, index=lat_names, columns=lat_names).loc[model.names, model.names]
    obs = sem.vars["observed"]
    implied = pd.DataFrame(sigma, index=obs, columns=obs).loc[model.items, model.items]
    return phi, implied


def _standardise(table: pd.DataFrame, phi: pd.DataFrame, implied: pd.DataFrame) -> None:
    """Add lavaan's std.all column (latent and observed variances both set to 1).

    A covariance between two different variables is a residual (disturbance) covariance unless both
    are exogenous; like lavaan it is standardised by the two residual variances, i.e. it becomes the
    residual correlation. Variances are standardised by the total variances.
    """
    with np.errstate(invalid="ignore"):
        sd = pd.concat([pd.Series(np.sqrt(np.diag(phi)), phi.index),
                        pd.Series(np.sqrt(np.diag(implied)), implied.index)])
        own = table[(table["op"] == "~~") & (table["lhs"] == table["rhs"])].drop_duplicates("lhs")
        residual_sd = pd.Series(np.sqrt(own["est"].to_numpy(dtype=float)), own["lhs"].to_numpy())
    lhs_sd = sd.reindex(table["lhs"]).to_numpy()
    rhs_sd = sd.reindex(table["rhs"]).to_numpy()
    op = table["op"].to_numpy()
    est = table["est"].to_numpy()
    between = (op == "~~") & (table["lhs"] != table["rhs"]).to_numpy()
    lhs_rsd = residual_sd.reindex(table["lhs"]).to_numpy()
    rhs_rsd = residual_sd.reindex(table["rhs"]).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.select(
            [op == "=~", op == "~", between, op == "~~", op == "~1"],
            [est * lhs_sd / rhs_sd, est * rhs_sd / lhs_sd, est / (lhs_rsd * rhs_rsd),
             est / (lhs_sd * rhs_sd), est / lhs_sd],
        )
    table["std_all"] = std


# ----------------------------------------------------------------------------- admissibility
def _admissibility(
    model: CSIModel, table: pd.DataFrame, phi: pd.DataFrame, implied: pd.DataFrame
) -> list[str]:
    """One diagnostic per kind of problem, naming the parameters, the reason and the remedy."""
    out = []
    variances = table[(table["op"] == "~~") & (table["lhs"] == table["rhs"]) & (table["_free"] >= 0)]
    negative = variances[variances["est"] < 0]
    if len(negative):
        names = ", ".join(f"{r.lhs} ({r.est:.3f})" for r in negative.itertuples())
        out.append(
            f"negative variance estimate (Heywood case): {names}; a variance cannot be negative, so the "
            "model does not fit these data (too few items per construct, collinear constructs or a "
            "misspecified model); fix the item or construct, or use PLS (fit_pls)"
        )
    for what, mat in (("latent covariance matrix", phi), ("model-implied item covariance matrix", implied)):
        if np.linalg.eigvalsh(mat.to_numpy())[0] <= 1e-10:
            out.append(
                f"the {what} is not positive definite: some constructs or items are linear combinations "
                "of others in the solution; the estimates are not interpretable — merge or drop "
                "redundant constructs, or use PLS (fit_pls)"
            )
    bad = table[table["op"].isin(["~", "=~"]) & (table["std_all"].abs() > 1.0)]
    if len(bad):
        names = ", ".join(
            f"{r.lhs} {r.op} {r.rhs}: standardised {r.std_all:.2f}" for r in bad.itertuples()
        )
        out.append(
            f"standardised estimate(s) outside [-1, 1]: {names}; such a solution is not interpretable — "
            "it arises when predictors are almost collinear, so their separate effects are not identified"
        )
    corr = _to_corr(phi)
    collinear = {}  # co-predictors of a common target: their separate effects are not estimable
    for target in model.endogenous:
        preds = model.predecessors(target)
        for i, a in enumerate(preds):
            for b in preds[i + 1 :]:
                if abs(corr.loc[a, b]) > _COLLINEAR:
                    collinear.setdefault((a, b), []).append(target)
    if collinear:
        pairs = ", ".join(
            f"{a}–{b} {corr.loc[a, b]:.3f} (both predict {', '.join(t)})" for (a, b), t in collinear.items()
        )
        out.append(
            f"construct correlation(s) above {_COLLINEAR} between predictors of the same construct: {pairs}; "
            "the constructs are not empirically distinct (collinearity), so their separate paths are not "
            "identified: use PLS path modelling for the indices, merge the constructs, or model them as "
            "facets of a higher-order construct"
        )
    return out


def _discriminant_notes(model: CSIModel, phi: pd.DataFrame) -> list[str]:
    """High correlations between constructs with no path between them (a validity, not a fit, issue)."""
    corr = _to_corr(phi)
    hoc = {(h, c) for c, h in model.components.items()}  # a second-order factor and its facets
    linked = set(model.paths) | {(t, s) for s, t in model.paths} | hoc | {(c, h) for h, c in hoc}
    return [
        f"constructs {a} and {b} correlate {corr.loc[a, b]:.3f} (> {_COLLINEAR}) with no path between them: "
        "they may not be distinct constructs; check discriminant validity (measurement_quality: HTMT)"
        for i, a in enumerate(model.names)
        for b in model.names[i + 1 :]
        if abs(corr.loc[a, b]) > _COLLINEAR and (a, b) not in linked
    ]


def _to_corr(cov: pd.DataFrame) -> pd.DataFrame:
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(np.diag(cov.to_numpy()))
        return cov / np.outer(sd, sd)


# ----------------------------------------------------------------------------- tidy views
def _rows(table: pd.DataFrame, op: str, first: str, second: str) -> pd.DataFrame:
    """Parameters of one operator as a tidy frame (lavaan writes ``lhs op rhs``)."""
    rows = table[table["op"] == op]
    return pd.DataFrame(
        {
            first: rows["rhs" if op == "~" else "lhs"].to_numpy(),
            second: rows["lhs" if op == "~" else "rhs"].to_numpy(),
            "estimate": rows["est"].to_numpy(),
            "std_estimate": rows["std_all"].to_numpy(),
            "se": rows["se"].to_numpy(),
            "p_value": rows["p_value"].to_numpy(),
        }
    )


def _paths(table: pd.DataFrame) -> pd.DataFrame:
    return _rows(table, "~", "source", "target")


def _loadings(table: pd.DataFrame) -> pd.DataFrame:
    return _rows(table, "=~", "construct", "item")


def _r2(model: CSIModel, table: pd.DataFrame, phi: pd.DataFrame) -> pd.Series:
    var = table[(table["op"] == "~~") & (table["lhs"] == table["rhs"])].set_index("lhs")["est"]
    r2 = {t: 1.0 - var[t] / phi.loc[t, t] for t in model.endogenous}
    return pd.Series(r2, name="r2", dtype=float)


# ----------------------------------------------------------------------------- fit indices
def _implied_mean(sem: semopy.Model, model: CSIModel) -> np.ndarray | None:
    """Model-implied item means in the model's item order (None without a mean structure)."""
    if not isinstance(sem, semopy.ModelMeans):
        return None
    mean = sem.calc_mean(sem.calc_sigma()[1][0])[:, 0]
    return pd.Series(mean, index=sem.vars["observed"]).reindex(model.items).to_numpy(dtype=float)


def _fit_indices(
    sample: _Sample, mu: np.ndarray | None, sigma: np.ndarray, n_free: int, estimator: str
) -> pd.Series:
    """χ², CFI, TLI, RMSEA (+90 % CI), SRMR, AIC, BIC with lavaan's definitions (N, not N − 1).

    ``mu`` and ``sigma`` are the implied moments in the sample's item order. Under FIML the
    saturated model is the EM estimate, the baseline has free means and variances (closed form),
    and SRMR includes the standardised mean residuals, as lavaan's does with a mean structure.
    """
    s, n = sample.cov.to_numpy(), sample.n
    p = s.shape[0]
    if estimator == "ML":
        minus2ll_h1 = n * (p * np.log(2 * np.pi) + np.linalg.slogdet(s)[1] + p)
        minus2ll_h0 = n * (p * np.log(2 * np.pi) + np.linalg.slogdet(sigma)[1]
                           + np.trace(s @ np.linalg.inv(sigma)))
        chi2_base = n * (np.sum(np.log(np.diag(s))) - np.linalg.slogdet(s)[1])
        df = p * (p + 1) // 2 - n_free
    else:
        x = sample.frame.to_numpy()
        data = fiml.Patterns.of(x, sample.w)
        minus2ll_h1 = fiml.minus2ll(data, sample.mean, s)
        minus2ll_h0 = fiml.minus2ll(data, mu, sigma)
        chi2_base = fiml.independence_minus2ll(x, sample.w) - minus2ll_h1
        df = p * (p + 1) // 2 + p - n_free
    chi2 = max(float(minus2ll_h0 - minus2ll_h1), 0.0)
    df_base = p * (p - 1) // 2
    cfi_den = max(chi2 - df, chi2_base - df_base, 0.0)
    cfi = 1.0 - max(chi2 - df, 0.0) / cfi_den if cfi_den > 0 else 1.0
    tli = ((chi2_base / df_base) - (chi2 / df)) / ((chi2_base / df_base) - 1.0) if df > 0 else np.nan
    rmsea = np.sqrt(max(chi2 - df, 0.0) / (df * n)) if df > 0 else np.nan
    lower, upper = rmsea_ci(chi2, df, n)
    d = np.sqrt(np.diag(s))
    resid = (s - sigma) / np.outer(d, d)
    squares = resid[np.tril_indices(p)] ** 2
    if estimator == "FIML":
        squares = np.concatenate([squares, ((sample.mean - mu) / d) ** 2])
    srmr = float(np.sqrt(np.mean(squares)))
    return pd.Series(
        {
            "chi2": chi2,
            "df": float(df),
            "p_value": float(stats.chi2.sf(chi2, df)) if df > 0 else np.nan,
            "cfi": cfi,
            "tli": tli,
            "rmsea": rmsea,
            "rmsea_ci_lower": lower,
            "rmsea_ci_upper": upper,
            "srmr": srmr,
            "aic": float(minus2ll_h0 + 2 * n_free),
            "bic": float(minus2ll_h0 + n_free * np.log(n)),
        },
        name="fit_indices",
    )


def rmsea_ci(chi2: float, df: int, n: int, level: float = 0.90) -> tuple[float, float]:
    """Bounds from the non-centrality λ at which χ² is the upper/lower (1 − level)/2 quantile (lavaan)."""
    if df <= 0:
        return np.nan, np.nan
    tail = (1.0 - level) / 2.0

    def bound(prob: float) -> float:
        def f(lam: float) -> float:
            cdf = stats.ncx2.cdf(chi2, df, lam) if lam > 0 else stats.chi2.cdf(chi2, df)
            return float(cdf) - prob

        if f(0.0) < 0:
            return 0.0
        hi = max(chi2, 1.0)
        while f(hi) > 0:
            hi *= 2.0
        return float(np.sqrt(optimize.brentq(f, 0.0, hi, xtol=1e-12) / (df * n)))

    return bound(1.0 - tail), bound(tail)


# ----------------------------------------------------------------------------- incomplete data
def _minus2ll(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> float:
    """−2 log-likelihood of incomplete multivariate-normal data, pattern by pattern."""
    observed = np.isfinite(x)
    patterns, inverse = np.unique(observed, axis=0, return_inverse=True)
    total = 0.0
    for g, pattern in enumerate(patterns):
        idx = np.flatnonzero(pattern)
        r = x[inverse.ravel() == g][:, idx] - mean[idx]
        sub = cov[np.ix_(idx, idx)]
        total += len(r) * (len(idx) * np.log(2 * np.pi) + np.linalg.slogdet(sub)[1])
        total += float(np.einsum("ij,ij->", r @ np.linalg.inv(sub), r))
    return total
