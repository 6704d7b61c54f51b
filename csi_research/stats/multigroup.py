"""Multi-group covariance-based SEM and measurement-invariance testing (lavaan's ``group.equal``).

Comparing a CSI, a path or a latent mean across regions, waves or customer segments is only
meaningful when the constructs are measured the same way in every group. The usual evidence is a
sequence of nested multi-group models, each adding equality constraints across groups:

``configural``  same pattern of loadings and paths, every parameter free per group;
``metric``      equal loadings (the constructs have the same units: paths and covariances comparable);
``scalar``      plus equal item intercepts (latent means comparable);
``strict``      plus equal residual variances (observed scale scores comparable);
``structural``  plus equal paths (the drivers of satisfaction act alike in every group).

The estimator is normal-theory maximum likelihood with a mean structure, as lavaan 0.6 fits
``sem(..., group=, group.equal=)``: the fit function is Σ_g (n_g/N) F_g with
F_g = log|Σ_g| + tr(S_g Σ_g⁻¹) − log|S_g| − p + (m_g − μ_g)' Σ_g⁻¹ (m_g − μ_g) (S_g with divisor
n_g), χ² = N·F, the first loading of each construct fixed to 1, latent means fixed to 0 in every
group until the intercepts are equal and then free in groups 2..G. Equality constraints share one
parameter across groups, so ``npar`` counts it once. Fit indices follow lavaan's multi-group
definitions: the baseline is the independence model of every group (own means and variances), RMSEA
is multiplied by √G, SRMR is the n_g-weighted mean of the groups' SRMR including the mean residuals.
ML standard errors come from the expected information at the model-implied moments.

The model is built in LISREL form from a :class:`CSIModel` (exogenous constructs covary, endogenous
constructs that predict nothing have correlated disturbances, as lavaan's ``sem()`` sets up) or, as a
confirmatory factor analysis with all factor covariances free, from a mapping construct → items or
with ``measurement_only=True``. A one-item construct has its item's residual variance fixed to 0.
Incomplete data: with ``estimator="FIML"`` (the default when a respondent skipped an item) every
respondent's given answers enter the likelihood pattern by pattern (lavaan's ``missing = "ml"``): χ²
is against the saturated model estimated by EM in each group, the baseline is the independence model
fitted to the same answers, SRMR compares with the EM moments, and standard errors come from the
observed information (the Hessian of −log L), as lavaan does. ``estimator="ML"`` drops rows with a
missing item (lavaan's listwise default). Survey weights weight each respondent's log-likelihood.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from csi_research.core.diagnostics import public
from csi_research.core.errors import EstimationError, ModelSpecError, SurveyDataError
from csi_research.data.sample import Sample, as_frame, em_moments
from csi_research.model import CSIModel
from csi_research.stats import fiml
from csi_research.stats.cbsem import rmsea_ci

EQUALITIES = ("loadings", "intercepts", "residuals", "regressions", "lv.variances", "lv.covariances",
              "means")
STEPS: dict[str, tuple[str, ...]] = {
    "configural": (),
    "metric": ("loadings",),
    "scalar": ("loadings", "intercepts"),
    "strict": ("loadings", "intercepts", "residuals"),
    "structural": ("loadings", "intercepts", "residuals", "regressions"),
}
CHEN_DELTA_CFI = -0.01  # Chen (2007): invariance holds when CFI drops by at most .010 ...
CHEN_DELTA_RMSEA = 0.015  # ... and RMSEA rises by at most .015
ALPHA = 0.05

# parameter kinds: loading, regression, latent (co)variance, residual (co)variance, intercept, latent mean
_LAMBDA, _BETA, _PSI, _THETA, _NU, _ALPHA = range(6)
_KIND_EQUALITY = {_LAMBDA: "loadings", _BETA: "regressions", _THETA: "residuals", _NU: "intercepts",
                  _ALPHA: "means"}
_OP_ORDER = {"=~": 0, "~": 1, "~~": 2, "~1": 3}


# ----------------------------------------------------------------------------- model layout
@dataclass(frozen=True)
class _Layout:
    """The per-group parameter slots of the model in LISREL form (the same in every group)."""

    latents: list[str]
    items: list[str]
    markers: list[tuple[int, int]]  # (item, latent) loadings fixed to 1
    paths: list[tuple[str, str]]
    kind: np.ndarray  # (q,) slot kind
    row: np.ndarray  # (q,) matrix row (item or target latent)
    col: np.ndarray  # (q,) matrix column (latent or source latent)
    keys: list[tuple[str, str, str]]  # (lhs, op, rhs) as lavaan writes the parameter

    @property
    def p(self) -> int:
        return len(self.items)

    @property
    def m(self) -> int:
        return len(self.latents)


def _layout(model: CSIModel | Mapping[str, Sequence[str]], measurement_only: bool) -> _Layout:
    if isinstance(model, CSIModel):
        blocks = {name: list(items) for name, items in model.constructs.items()}
        paths = [] if measurement_only else list(model.paths)
    elif isinstance(model, Mapping):
        blocks = {str(name): [str(i) for i in items] for name, items in model.items()}
        paths = []
        items = [i for block in blocks.values() for i in block]
        if not blocks or not all(blocks.values()) or len(items) != len(set(items)):
            raise ModelSpecError(
                "a measurement model maps each construct to its items, each item in one construct only, "
                f"e.g. {{'visual': ['x1', 'x2', 'x3']}}; got {dict(blocks)}"
            )
    else:
        raise ModelSpecError(
            f"the model must be a CSIModel or a mapping construct -> items, not {type(model).__name__}"
        )
    clash = set(blocks) & {i for items in blocks.values() for i in items}
    if clash:
        raise ModelSpecError(
            f"construct name(s) {', '.join(sorted(clash))} are also item columns: rename the construct(s)"
        )
    latents = list(blocks)
    items = [i for block in blocks.values() for i in block]
    li = {n: k for k, n in enumerate(latents)}
    ii = {n: k for k, n in enumerate(items)}
    slots: list[tuple[int, int, int, tuple[str, str, str]]] = []
    markers = []
    for name, block in blocks.items():
        markers.append((ii[block[0]], li[name]))
        slots += [(_LAMBDA, ii[i], li[name], (name, "=~", i)) for i in block[1:]]
    slots += [(_BETA, li[t], li[s], (t, "~", s)) for s, t in paths]
    targets = {t for _, t in paths}
    sources = {s for s, _ in paths}
    exogenous = [n for n in latents if n not in targets]
    pure_y = [n for n in latents if n in targets and n not in sources]  # lavaan's auto.cov.y
    for a in latents:
        slots.append((_PSI, li[a], li[a], (a, "~~", a)))
    for group in (exogenous, pure_y):
        slots += [(_PSI, li[a], li[b], (a, "~~", b)) for k, a in enumerate(group) for b in group[k + 1:]]
    for block in blocks.values():
        if len(block) > 1:  # a one-item construct is its item: residual variance fixed to 0
            slots += [(_THETA, ii[i], ii[i], (i, "~~", i)) for i in block]
    slots += [(_NU, ii[i], 0, (i, "~1", "")) for i in items]
    slots += [(_ALPHA, li[n], 0, (n, "~1", "")) for n in latents]
    kind, row, col, keys = zip(*slots, strict=True)
    return _Layout(latents, items, markers, paths, np.array(kind), np.array(row), np.array(col), list(keys))


def _free_key(text: str, layout: _Layout) -> tuple[str, str, str]:
    """A parameter named as lavaan writes it ("IMAG =~ imag3", "imag3 ~ 1", "imag3 ~~ imag3",
    "SAT ~ IMAG") or in words ("imag3 loading", "imag3 intercept", "imag3 residual", "IMAG -> SAT")."""
    raw = str(text).strip()
    words = re.fullmatch(r"(\S+)\s+(loading|intercept|residual)", raw)
    key: tuple[str, str, str] | None = None
    if words:
        item, what = words.groups()
        if item in layout.items:
            latent = next(layout.latents[c] for r, c in _all_loadings(layout) if layout.items[r] == item)
            key = {"loading": (latent, "=~", item), "intercept": (item, "~1", ""),
                   "residual": (item, "~~", item)}[what]
    elif (arrow := re.fullmatch(r"(\S+)\s*(?:->|→)\s*(\S+)", raw)):
        key = (arrow[2], "~", arrow[1])
    elif (lav := re.fullmatch(r"([^\s=~]+)\s*(=~|~~|~)\s*([^\s=~]+)", raw)):
        lhs, op, rhs = lav.groups()
        key = (lhs, "~1", "") if op == "~" and rhs == "1" else (lhs, op, rhs)
    if key is None or key not in layout.keys:
        raise ModelSpecError(
            f"free parameter {raw!r} is not a parameter of the model that equality constraints apply to; "
            "write it as lavaan does ('IMAG =~ imag3', 'imag3 ~1', 'imag3 ~~ imag3', 'SAT ~ IMAG') or as "
            "'imag3 loading', 'imag3 intercept', 'imag3 residual', 'IMAG -> SAT' (a marker loading, the "
            "first item of a construct, is fixed to 1 and cannot be freed)"
        )
    return key


def _all_loadings(layout: _Layout) -> list[tuple[int, int]]:
    free = [(r, c) for k, r, c in zip(layout.kind, layout.row, layout.col, strict=True) if k == _LAMBDA]
    return [*layout.markers, *free]


def _equality_kind(kind: int, row: int, col: int) -> str:
    if kind == _PSI:
        return "lv.variances" if row == col else "lv.covariances"
    return _KIND_EQUALITY[kind]


def _parameter_index(layout: _Layout, n_groups: int, equal: set[str], free: set[tuple[str, str, str]]
                     ) -> tuple[np.ndarray, int]:
    """``index[g, k]``: the free parameter of slot k in group g, -1 where the slot is fixed (to 0).

    A slot under an equality constraint shares one parameter across groups; latent means are
    fixed to 0 in group 1 and free in the others once the intercepts are equal (unless ``means``
    are equal too, which keeps them at 0)."""
    index = np.full((n_groups, len(layout.keys)), -1)
    count = 0
    means_free = "intercepts" in equal and "means" not in equal
    for k, (kind, row, col, key) in enumerate(zip(layout.kind, layout.row, layout.col, layout.keys,
                                                  strict=True)):
        if kind == _ALPHA:
            for g in range(1, n_groups) if means_free else ():
                index[g, k] = count
                count += 1
            continue
        if _equality_kind(kind, row, col) in equal and key not in free:
            index[:, k] = count
            count += 1
        else:
            index[:, k] = np.arange(count, count + n_groups)
            count += n_groups
    return index, count


# ----------------------------------------------------------------------------- group moments
WEIGHTINGS = ("sampling", "frequency")


@dataclass(frozen=True)
class _Group:
    """One group's data: its (weighted) ML moments, and for FIML its answer patterns.

    ``n`` is the group's size in the likelihood (its total weight when weighted). For FIML ``mean``
    and ``cov`` are the EM (saturated-model) estimates and ``saturated`` / ``baseline`` the −2 log L
    of the saturated and of the independence model."""

    label: str
    n: float
    mean: np.ndarray
    cov: np.ndarray  # divisor n
    respondents: int
    patterns: fiml.Patterns | None = None
    saturated: float = 0.0
    baseline: float = 0.0


def _groups(
    layout: _Layout, model: Any, data: Any, group: str, order: Sequence[Any] | None, estimator: str = "ML",
    weights: Any = None, weighting: str = "sampling",
) -> tuple[list[_Group], list[str]]:
    """The respondents of each group of ``group`` (first-appearance order, like lavaan): complete rows
    for ML (listwise deletion, lavaan's default), every row with an answer for FIML."""
    notes: list[str] = []
    if isinstance(model, Sample):
        frame = model.x.where(model.observed) if estimator == "FIML" else model.x.copy()
        labels = model.frame.loc[frame.index, group] if group in model.frame.columns else None
        w = pd.Series(model.weights if model.weighted else 1.0, index=frame.index, dtype=float)
        weighted = model.weighted
        if weights is not None:
            raise TypeError("a prepared Sample carries its survey weights; prepare it with weights= instead")
    else:
        source = as_frame(data)
        absent = [i for i in layout.items if i not in source.columns]
        if absent:
            raise ModelSpecError(
                f"item(s) {', '.join(absent)} of the model are not columns of the data; data columns: "
                f"{', '.join(map(str, source.columns[:12]))}{' ...' if source.shape[1] > 12 else ''}"
            )
        frame = source[layout.items].apply(pd.to_numeric, errors="coerce")
        labels = source[group] if group in source.columns else None
        w, weighted = _weights(source, weights), weights is not None
    if labels is None:
        raise SurveyDataError(f"grouping column {group!r} is not a column of the data: name the column "
                              "that holds the region, wave or segment of each respondent")
    answered = frame.notna().all(axis=1) if estimator == "ML" else frame.notna().any(axis=1)
    keep = answered & labels.notna()
    if not keep.all():
        k = int((~keep).sum())
        notes.append(f"{k} respondents with a missing item or group were left out of the multi-group model "
                     "(listwise deletion; estimator='FIML' keeps them)" if estimator == "ML" else
                     f"{k} respondents with no answer to any item or no group were left out of the "
                     "multi-group model (they carry no information)")
    frame, labels, w = frame[keep], labels[keep], w[keep]
    if weighted and weighting == "sampling":
        w = w * (len(w) / w.sum())  # mean 1 over all groups' respondents (lavaan's normalization "total")
    present = list(pd.unique(labels))
    if order is not None:
        wanted = list(order)
        unknown = [g for g in wanted if g not in present]
        if unknown or len(wanted) != len(set(wanted)):
            raise SurveyDataError(
                f"groups {wanted} do not match the groups in column {group!r}: {present}; list each once"
            )
        present = wanted
    elif isinstance(labels.dtype, pd.CategoricalDtype):
        present = [g for g in labels.cat.categories if g in present]
    if len(present) < 2:
        raise SurveyDataError(
            f"column {group!r} has {len(present)} group(s) among the usable answers: a multi-group model "
            "needs at least 2"
        )
    out = [_group(layout, str(g), frame[labels == g].to_numpy(dtype=float),
                  w[labels == g].to_numpy(dtype=float), estimator, group) for g in present]
    return out, notes


def _weights(source: pd.DataFrame, weights: Any) -> pd.Series:
    """Survey weights (a column name or one value per row), checked: finite and positive."""
    if weights is None:
        return pd.Series(1.0, index=source.index)
    if isinstance(weights, str):
        if weights not in source.columns:
            raise SurveyDataError(f"weight column {weights!r} is not a column of the data")
        given, name = source[weights], f"weight column {weights!r}"
    else:
        given, name = pd.Series(np.asarray(weights, dtype=object).ravel()), "weights"
        if len(given) != len(source):
            raise SurveyDataError(f"{len(given)} weights for {len(source)} rows of data: give one per row")
        given.index = source.index
    values = pd.to_numeric(given, errors="coerce").astype(float)
    bad = given[~(np.isfinite(values) & (values > 0))]
    if len(bad):
        raise SurveyDataError(
            f"{name}: row {bad.index[0]!r} has weight {bad.iloc[0]!r}; every weight must be a positive "
            f"number ({len(bad)} row(s) are not)"
        )
    return values


def _group(layout: _Layout, label: str, x: np.ndarray, w: np.ndarray, estimator: str, column: str) -> _Group:
    if len(x) <= layout.p:
        raise EstimationError(
            f"group {label} of {column!r} has {len(x)} respondents but the model has {layout.p} items: each "
            f"group needs more respondents than items (at least {layout.p + 1}); merge small groups"
        )
    if estimator == "FIML":
        patterns = fiml.Patterns.of(x, w)
        mean, cov = em_moments(x, w)
    else:
        patterns = None
        mean = w @ x / w.sum()
        cov = ((x - mean).T * w) @ (x - mean) / w.sum()
    if np.linalg.eigvalsh(cov)[0] <= 1e-10 * np.trace(cov) / layout.p:
        raise EstimationError(
            f"group {label} of {column!r}: the items' covariance matrix is singular (an item is constant or "
            "a linear combination of others in this group); drop the item or merge the group"
        )
    if patterns is None:
        return _Group(label, float(w.sum()), mean, cov, len(x))
    return _Group(label, patterns.n, mean, cov, len(x), patterns, fiml.minus2ll(patterns, mean, cov),
                  fiml.independence_minus2ll(x, w))


# ----------------------------------------------------------------------------- the ML problem
class _Problem:
    """Objective, analytic gradient and expected information of the multi-group ML fit."""

    def __init__(self, layout: _Layout, groups: list[_Group], index: np.ndarray, n_par: int) -> None:
        self.layout, self.groups, self.index, self.n_par = layout, groups, index, n_par
        self.n = sum(g.n for g in groups)
        self.weights = np.array([g.n / self.n for g in groups])
        self.logdet_s = [np.linalg.slogdet(g.cov)[1] for g in groups]

    def matrices(self, theta: np.ndarray, g: int) -> tuple[np.ndarray, ...]:
        lay = self.layout
        vals = np.where(self.index[g] >= 0, theta[self.index[g]], 0.0)
        lam = np.zeros((lay.p, lay.m))
        for r, c in lay.markers:
            lam[r, c] = 1.0
        beta, psi, th = np.zeros((lay.m, lay.m)), np.zeros((lay.m, lay.m)), np.zeros((lay.p, lay.p))
        nu, alpha = np.zeros(lay.p), np.zeros(lay.m)
        k, r, c = lay.kind, lay.row, lay.col
        lam[r[k == _LAMBDA], c[k == _LAMBDA]] = vals[k == _LAMBDA]
        beta[r[k == _BETA], c[k == _BETA]] = vals[k == _BETA]
        psi[r[k == _PSI], c[k == _PSI]] = vals[k == _PSI]
        psi[c[k == _PSI], r[k == _PSI]] = vals[k == _PSI]
        th[r[k == _THETA], c[k == _THETA]] = vals[k == _THETA]
        nu[r[k == _NU]] = vals[k == _NU]
        alpha[r[k == _ALPHA]] = vals[k == _ALPHA]
        return lam, beta, psi, th, nu, alpha

    def implied(self, theta: np.ndarray, g: int) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
        lam, beta, psi, th, nu, alpha = self.matrices(theta, g)
        a = np.linalg.inv(np.eye(len(beta)) - beta)
        lat_cov = a @ psi @ a.T
        sigma = lam @ lat_cov @ lam.T + th
        mu = nu + lam @ a @ alpha
        return sigma, mu, (lam, a, lat_cov, alpha)

    def _slot_vectors(self, parts: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each slot's dΣ = a bᵀ + b aᵀ and dμ = c (rows of the three returned matrices)."""
        lam, a_inv, lat_cov, alpha = parts
        lay = self.layout
        big_l = lam @ a_inv  # items on latent totals
        big_k = lam @ lat_cov  # Λ M
        mean_lat = a_inv @ alpha
        eye = np.eye(lay.p)
        q = len(lay.kind)
        va, vb, vc = np.zeros((q, lay.p)), np.zeros((q, lay.p)), np.zeros((q, lay.p))
        k, r, c = lay.kind, lay.row, lay.col
        half = np.where(r == c, 0.5, 1.0)[:, None]
        s = k == _LAMBDA
        va[s], vb[s], vc[s] = eye[r[s]], big_k[:, c[s]].T, eye[r[s]] * mean_lat[c[s], None]
        s = k == _BETA
        va[s], vb[s], vc[s] = big_l[:, r[s]].T, big_k[:, c[s]].T, big_l[:, r[s]].T * mean_lat[c[s], None]
        s = k == _PSI
        va[s], vb[s] = big_l[:, r[s]].T, big_l[:, c[s]].T * half[s]
        s = k == _THETA
        va[s], vb[s] = eye[r[s]], eye[c[s]] * half[s]
        s = k == _NU
        vc[s] = eye[r[s]]
        s = k == _ALPHA
        vc[s] = big_l[:, r[s]].T
        return va, vb, vc

    def value_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros(self.n_par)
        for g, (grp, w) in enumerate(zip(self.groups, self.weights, strict=True)):
            sigma, mu, parts = self.implied(theta, g)
            try:
                chol = np.linalg.cholesky(sigma)
            except np.linalg.LinAlgError:
                return 1e10, np.zeros(self.n_par)
            if grp.patterns is not None:  # FIML: −2 log L over the answer patterns, minus the saturated
                value, d_sigma, d_mu = fiml.minus2ll_derivatives(grp.patterns, mu, sigma)
                if not np.isfinite(value):
                    return 1e10, np.zeros(self.n_par)
                total += (value - grp.saturated) / self.n
                gs, gm = d_sigma / self.n, d_mu / self.n
            else:
                inv = np.linalg.inv(sigma)
                d = grp.mean - mu
                f = (2 * np.sum(np.log(np.diag(chol))) + np.sum(grp.cov * inv) - self.logdet_s[g]
                     - len(d) + d @ inv @ d)
                total += w * f
                gs = w * inv @ (sigma - grp.cov - np.outer(d, d)) @ inv
                gm = -2 * w * inv @ d
            grad += self._chain(g, parts, gs, gm)
        return float(total), grad

    def _chain(self, g: int, parts: tuple[np.ndarray, ...], gs: np.ndarray, gm: np.ndarray) -> np.ndarray:
        """Group g's ∂f/∂Σ = gs and ∂f/∂μ = gm carried to the free parameters (its slots summed)."""
        va, vb, vc = self._slot_vectors(parts)
        slot_grad = 2 * np.sum((va @ gs) * vb, axis=1) + vc @ gm
        used = self.index[g] >= 0
        return np.bincount(self.index[g][used], slot_grad[used], minlength=self.n_par)

    def fiml_hessian(self, theta: np.ndarray) -> np.ndarray:
        """Hessian of Σ_g −2 log L_g over the groups' answer patterns, by the chain rule as
        :func:`csi_research.stats.fiml.hessian`: each slot moves Σ by va vbᵀ + vb vaᵀ and μ by vc, so
        the exact moment Hessian of every group meets its Jacobian, and the curvature of Σ(θ), μ(θ)
        comes from differences of the pass-free chain rule with the moments' gradients held fixed."""
        first = np.zeros((self.n_par, self.n_par))
        fixed = []
        for g, grp in enumerate(self.groups):
            sigma, mu, parts = self.implied(theta, g)
            _, d_sigma, d_mu = fiml.minus2ll_derivatives(grp.patterns, mu, sigma)
            va, vb, vc = self._slot_vectors(parts)
            used = np.flatnonzero(self.index[g] >= 0)
            to_free = np.zeros((len(used), self.n_par))
            to_free[np.arange(len(used)), self.index[g][used]] = 1.0
            half = va[used][:, :, None] * vb[used][:, None, :]
            j_sigma = to_free.T @ (half + half.transpose(0, 2, 1)).reshape(len(used), -1)
            first += fiml.projected_hessian(grp.patterns, mu, sigma, j_sigma, to_free.T @ vc[used])
            fixed.append((d_sigma, d_mu))

        def chain(t: np.ndarray) -> np.ndarray:
            return sum(self._chain(g, self.implied(t, g)[2], gs, gm) for g, (gs, gm) in enumerate(fixed))

        return first + fiml.numerical_hessian(chain, theta)

    def information(self, theta: np.ndarray) -> np.ndarray:
        """Expected information of the whole sample (Σ_g n_g Jᵀ I_g J) at the implied moments."""
        info = np.zeros((self.n_par, self.n_par))
        for g, grp in enumerate(self.groups):
            sigma, _, parts = self.implied(theta, g)
            inv = np.linalg.inv(sigma)
            va, vb, vc = self._slot_vectors(parts)
            x, y, z = va @ inv @ va.T, vb @ inv @ vb.T, va @ inv @ vb.T
            slot_info = z * z.T + x * y + vc @ inv @ vc.T
            used = np.flatnonzero(self.index[g] >= 0)
            jac = np.zeros((len(used), self.n_par))
            jac[np.arange(len(used)), self.index[g][used]] = 1.0
            info += grp.n * jac.T @ slot_info[np.ix_(used, used)] @ jac
        return info


def _one_blas_thread() -> contextlib.AbstractContextManager:
    """Small matrices: BLAS threads only contend for the cores (up to 30x slower on a busy machine)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _start(problem: _Problem) -> np.ndarray:
    """Closed-form start per group (block principal components, then least-squares latent covariances
    and regressions among them), averaged over the groups that share a parameter."""
    lay = problem.layout
    total, count = np.zeros(problem.n_par), np.zeros(problem.n_par)
    blocks = [[r for r, c in _all_loadings(lay) if c == j] for j in range(lay.m)]
    markers = dict((c, r) for r, c in lay.markers)
    for g, grp in enumerate(problem.groups):
        s = grp.cov
        lam = np.zeros((lay.p, lay.m))
        phi_diag = np.zeros(lay.m)
        for j, rows in enumerate(blocks):
            rows = [markers[j], *[r for r in rows if r != markers[j]]]
            block = s[np.ix_(rows, rows)]
            val, vec = np.linalg.eigh(block)
            load = vec[:, -1] * np.sqrt(max(val[-1], 1e-8))
            if abs(load[0]) < 1e-3 * np.sqrt(block[0, 0]):
                load = np.full(len(rows), np.sqrt(np.mean(block)) if np.mean(block) > 0 else 1.0)
            lam[rows, j] = load / load[0]
            phi_diag[j] = load[0] ** 2
        phi = np.diag(phi_diag)
        for j in range(lay.m):
            for h in range(j):
                lj, lh = lam[:, j], lam[:, h]
                phi[j, h] = phi[h, j] = lj @ s @ lh / ((lj @ lj) * (lh @ lh))
        val, vec = np.linalg.eigh(phi)
        phi = vec @ np.diag(np.maximum(val, 0.05 * max(val[-1], 1e-8))) @ vec.T
        theta_diag = np.maximum(np.diag(s) - np.diag(lam @ phi @ lam.T), 0.05 * np.diag(s))
        beta = np.zeros((lay.m, lay.m))
        zeta = np.diag(phi).copy()
        for t in range(lay.m):
            preds = [int(c) for k, r, c in zip(lay.kind, lay.row, lay.col, strict=True)
                     if k == _BETA and r == t]
            if preds:
                coef = np.linalg.solve(phi[np.ix_(preds, preds)], phi[preds, t])
                beta[t, preds] = coef
                zeta[t] = max(phi[t, t] - coef @ phi[preds, t], 0.1 * phi[t, t])
        endogenous = set(lay.row[lay.kind == _BETA].tolist())
        values = np.zeros(len(lay.kind))
        for k, (kind, r, c) in enumerate(zip(lay.kind, lay.row, lay.col, strict=True)):
            if kind == _LAMBDA:
                values[k] = lam[r, c]
            elif kind == _BETA:
                values[k] = beta[r, c]
            elif kind == _PSI:
                values[k] = (zeta[r] if r in endogenous else phi[r, r]) if r == c else (
                    0.0 if r in endogenous else phi[r, c])
            elif kind == _THETA:
                values[k] = theta_diag[r]
            elif kind == _NU:
                values[k] = grp.mean[r]
        used = problem.index[g] >= 0
        np.add.at(total, problem.index[g][used], values[used])
        np.add.at(count, problem.index[g][used], 1.0)
    return total / np.maximum(count, 1.0)


def _optimise(problem: _Problem, start: np.ndarray) -> tuple[np.ndarray, bool]:
    """L-BFGS from the closed-form start, then second-order steps to the optimum lavaan's nlminb reaches.

    Fisher scoring (expected information) is cheap and usually finishes in a few steps; when the
    model misfits the expected and the actual curvature differ and scoring slows to a crawl, so
    Newton steps on a finite-difference Hessian of the analytic gradient take over."""
    res = optimize.minimize(problem.value_and_gradient, start, jac=True, method="L-BFGS-B",
                            options={"maxiter": 20_000, "maxfun": 40_000, "ftol": 1e-15, "gtol": 1e-9})
    theta = res.x
    value, grad = problem.value_and_gradient(theta)
    for iteration in range(60):
        if np.max(np.abs(grad)) < _GRADIENT_TOL:
            break
        curvature = 2 * problem.information(theta) / problem.n
        if iteration >= _SCORING_STEPS:
            hessian = _hessian(problem, theta)
            if np.linalg.eigvalsh(hessian)[0] > 0:
                curvature = hessian
        try:
            step = np.linalg.solve(curvature, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(curvature, grad, rcond=None)[0]
        if grad @ step < _DECREMENT_TOL:  # the predicted gain is below rounding of the objective
            break
        for _halving in range(40):
            new_value, new_grad = problem.value_and_gradient(theta - step)
            if new_value <= value:
                break
            step = step / 2
        else:
            break
        theta, value, grad = theta - step, new_value, new_grad
    return theta, bool(np.max(np.abs(grad)) < 1e-6)


_GRADIENT_TOL = 1e-9
_DECREMENT_TOL = 1e-12  # Newton decrement of F: χ² = N·F is then exact to well below 1e-6
_SCORING_STEPS = 8


def _hessian(problem: _Problem, theta: np.ndarray) -> np.ndarray:
    """Forward differences of the analytic gradient, symmetrised."""
    _, grad = problem.value_and_gradient(theta)
    hessian = np.empty((len(theta), len(theta)))
    for k in range(len(theta)):
        h = 1e-7 * max(1.0, abs(theta[k]))
        shifted = theta.copy()
        shifted[k] += h
        hessian[k] = (problem.value_and_gradient(shifted)[1] - grad) / h
    return (hessian + hessian.T) / 2


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class MultigroupFit:
    """Result of :func:`fit_multigroup`; read ``diagnostics`` before the estimates."""

    group: str
    equal: tuple[str, ...]
    free: tuple[str, ...]
    groups: pd.DataFrame  # group, n
    fit_indices: pd.Series
    parameters: pd.DataFrame  # lhs, op, rhs, group, free, est, se, z, p_value
    converged: bool
    diagnostics: list[str]
    implied: Mapping[str, tuple[pd.DataFrame, pd.Series]] = field(repr=False)  # group → (Σ, μ)
    estimator: str = "ML"  # "ML" (complete rows) or "FIML" (every given answer)
    information: str = "expected"  # behind the standard errors: "expected" (ML) or "observed" (FIML)
    weighting: str | None = None  # None (unweighted), "sampling" or "frequency"

    @property
    def n(self) -> int:
        return int(self.groups["n"].sum())


@dataclass(frozen=True)
class InvarianceResult:
    """Result of :func:`invariance`: one row of fit per step and the comparison of each step with
    the one before."""

    fits: pd.DataFrame
    comparisons: pd.DataFrame
    models: Mapping[str, MultigroupFit] = field(repr=False)
    diagnostics: list[str]


def _as_equal(equal: str | Sequence[str]) -> tuple[str, ...]:
    given = (equal,) if isinstance(equal, str) else tuple(equal)
    bad = [e for e in given if e not in EQUALITIES]
    if bad:
        raise ModelSpecError(f"unknown equality constraint(s) {bad}; allowed: {', '.join(EQUALITIES)}")
    return tuple(e for e in EQUALITIES if e in given)


@public
def fit_multigroup(
    model: CSIModel | Mapping[str, Sequence[str]] | Sample,
    data: Any = None,
    group: str = "group",
    equal: str | Sequence[str] = (),
    free: Sequence[str] = (),
    *,
    groups: Sequence[Any] | None = None,
    measurement_only: bool = False,
    estimator: str = "auto",
    weights: Any = None,
    weighting: str = "sampling",
) -> MultigroupFit:
    """Fit ``model`` in every group of column ``group`` with parameters of the kinds in ``equal``
    held equal across groups (lavaan's ``group.equal``), except those named in ``free``
    (``group.partial``: "IMAG =~ imag3", "imag3 ~1", "imag3 loading", "IMAG -> SAT").

    ``data`` is a DataFrame or Survey; a prepared :class:`Sample` may be passed as ``model``
    instead (its answers as given for FIML, its completed answers for ML, its survey weights).
    ``groups`` sets the order of the groups (the first is the reference whose latent means are 0);
    default: order of appearance.

    ``estimator``: ``"ML"`` fits the complete rows (lavaan's listwise default), ``"FIML"`` every
    respondent's given answers (lavaan's ``missing = "ml"``: χ² against the EM saturated model,
    standard errors from the observed information); ``"auto"`` (default) is FIML when some kept
    respondent skipped an item and ML otherwise. ``weights`` (a column or one value per row) weight
    each respondent's log-likelihood: ``weighting="sampling"`` normalises them to mean 1 over all
    groups' respondents (lavaan's ``sampling.weights.normalization = "total"``), so χ² and standard
    errors count respondents; ``"frequency"`` takes them as counts, so everything equals a fit on
    the data with each row replicated ``w`` times.
    """
    equal = _as_equal(equal)
    estimator = _estimator(estimator, model, data, spec_items(model, measurement_only))
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}, not {weighting!r}")
    spec = model.model if isinstance(model, Sample) else model
    if isinstance(model, Sample) and data is not None:
        raise TypeError("a prepared Sample already holds its data; do not pass data again")
    if not isinstance(model, Sample) and data is None:
        raise TypeError("give the data (a Survey or DataFrame) with the model, or a prepared Sample")
    layout = _layout(spec, measurement_only)
    free_keys = {_free_key(f, layout) for f in free}
    grps, diagnostics = _groups(layout, model, data, group, groups, estimator, weights, weighting)
    weighted = weights is not None or (isinstance(model, Sample) and model.weighted)
    if weighted:
        diagnostics.append(
            "survey weights: each respondent's log-likelihood is weighted by its weight normalised to mean "
            "1 over the respondents of all groups (pseudo-ML); the estimates equal a fit on replicated "
            "rows, but χ² and standard errors treat the weighted sample as a simple random sample of its "
            "respondents"
            if weighting == "sampling" else
            "frequency weights: each respondent counts as many times as its weight, so estimates, χ² and "
            "standard errors equal a fit on the data with every row replicated"
        )
    index, n_par = _parameter_index(layout, len(grps), set(equal), free_keys)
    problem = _Problem(layout, grps, index, n_par)
    if problem.n <= n_par:
        raise EstimationError(
            f"{problem.n} respondents but the multi-group model has {n_par} free parameters: collect more "
            "data, merge groups, or impose more equality constraints"
        )
    with _one_blas_thread():
        theta, converged = _optimise(problem, _start(problem))
    if not converged:
        diagnostics.append(
            "the optimiser did not converge: the estimates are not a maximum of the likelihood; check for "
            "near-duplicate items or constructs, or simplify the model"
        )
    if estimator == "FIML":  # observed information: the Hessian of −log L (lavaan's default for missing="ml")
        info = problem.fiml_hessian(theta) / 2
    else:
        info = problem.information(theta)
    eig = np.linalg.eigvalsh(info)
    regular = bool(eig[0] > 1e-10 * max(eig[-1], 1e-300))
    if not regular:
        diagnostics.append(
            "the information matrix is singular: some parameters are not identified and their "
            "standard errors and p-values are unreliable; fix a scale, drop redundant paths or use PLS"
        )
    cov = np.linalg.inv(info) if regular else np.linalg.pinv(info)
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    table = _parameter_table(problem, theta, se)
    negative = table[(table["op"] == "~~") & (table["lhs"] == table["rhs"]) & table["free"]
                     & (table["est"] < 0)]
    if len(negative):
        names = ", ".join(f"{r.lhs} [{r.group}] ({r.est:.3f})" for r in negative.itertuples())
        diagnostics.append(
            f"negative variance estimate (Heywood case): {names}; a variance cannot be negative, so the "
            "model does not fit these data (too few items per construct, collinear constructs or a "
            "misspecified model); fix the item or construct, or use PLS (fit_pls)"
        )
    implied = {}
    for g, grp in enumerate(grps):
        sigma, mu, _ = problem.implied(theta, g)
        implied[grp.label] = (pd.DataFrame(sigma, index=layout.items, columns=layout.items),
                              pd.Series(mu, index=layout.items))
    return MultigroupFit(
        group=group,
        equal=equal,
        free=tuple(free),
        groups=pd.DataFrame({"group": [g.label for g in grps], "n": [g.respondents for g in grps],
                             **({"weighted_n": [g.n for g in grps]} if weighted else {})}),
        fit_indices=_fit_indices(problem, theta),
        parameters=table,
        converged=converged,
        diagnostics=diagnostics,
        implied=implied,
        estimator=estimator,
        information="observed" if estimator == "FIML" else "expected",
        weighting=weighting if weighted else None,
    )


def spec_items(model: Any, measurement_only: bool) -> list[str]:
    """The model's item columns (whatever form the model is given in)."""
    spec = model.model if isinstance(model, Sample) else model
    return _layout(spec, measurement_only).items


def _estimator(estimator: str, model: Any, data: Any, items: list[str]) -> str:
    if estimator not in ("auto", "ML", "FIML"):
        raise ValueError(f"estimator must be 'auto', 'ML' or 'FIML', not {estimator!r}")
    if estimator != "auto":
        return estimator
    if isinstance(model, Sample):
        return "FIML" if model.n_imputed else "ML"
    frame = as_frame(data)
    present = [i for i in items if i in frame.columns]
    answers = frame[present].apply(pd.to_numeric, errors="coerce")
    partial = answers.notna().any(axis=1) & answers.isna().any(axis=1)
    return "FIML" if partial.any() else "ML"


def _parameter_table(problem: _Problem, theta: np.ndarray, se: np.ndarray) -> pd.DataFrame:
    lay = problem.layout
    rows = []
    for g, grp in enumerate(problem.groups):
        for r, c in lay.markers:
            rows.append((lay.latents[c], "=~", lay.items[r], grp.label, False, 1.0, np.nan))
        for k, (lhs, op, rhs) in enumerate(lay.keys):
            idx = problem.index[g, k]
            if lay.kind[k] == _ALPHA and idx < 0:
                rows.append((lhs, op, rhs, grp.label, False, 0.0, np.nan))
            elif idx >= 0:
                rows.append((lhs, op, rhs, grp.label, True, theta[idx], se[idx]))
    table = pd.DataFrame(rows, columns=["lhs", "op", "rhs", "group", "free", "est", "se"])
    table["z"] = table["est"] / table["se"].where(table["se"] > 0)
    table["p_value"] = 2 * stats.norm.sf(table["z"].abs())
    order = table["op"].map(_OP_ORDER)
    group_order = table["group"].map({g.label: k for k, g in enumerate(problem.groups)})
    table = table.assign(_g=group_order, _o=order).sort_values(["_g", "_o"], kind="stable")
    return table.drop(columns=["_g", "_o"]).reset_index(drop=True)


def _fit_indices(problem: _Problem, theta: np.ndarray) -> pd.Series:
    """χ², CFI, TLI, RMSEA (+90 % CI), SRMR, AIC, BIC with lavaan's multi-group definitions."""
    n, n_groups, p = problem.n, len(problem.groups), problem.layout.p
    value, _ = problem.value_and_gradient(theta)
    chi2 = max(n * value, 0.0)
    df = n_groups * (p * (p + 1) // 2 + p) - problem.n_par
    minus2ll, chi2_base, srmr = 0.0, 0.0, 0.0
    for g, grp in enumerate(problem.groups):
        sigma, mu, _ = problem.implied(theta, g)
        inv = np.linalg.inv(sigma)
        d = grp.mean - mu
        if grp.patterns is not None:
            minus2ll += fiml.minus2ll(grp.patterns, mu, sigma)
            chi2_base += grp.baseline - grp.saturated
        else:
            minus2ll += grp.n * (p * np.log(2 * np.pi) + np.linalg.slogdet(sigma)[1]
                                 + np.sum(grp.cov * inv) + d @ inv @ d)
            chi2_base += grp.n * (np.sum(np.log(np.diag(grp.cov))) - problem.logdet_s[g])
        sd = np.sqrt(np.diag(grp.cov))
        resid = (grp.cov - sigma) / np.outer(sd, sd)
        squares = np.sum(resid[np.tril_indices(p)] ** 2) + np.sum((d / sd) ** 2)
        srmr += grp.n / n * np.sqrt(squares / (p * (p + 1) / 2 + p))
    df_base = n_groups * p * (p - 1) // 2
    cfi_den = max(chi2 - df, chi2_base - df_base, 0.0)
    cfi = 1.0 - max(chi2 - df, 0.0) / cfi_den if cfi_den > 0 else 1.0
    tli = ((chi2_base / df_base) - (chi2 / df)) / ((chi2_base / df_base) - 1.0) if df > 0 else np.nan
    rmsea = np.sqrt(max(chi2 - df, 0.0) / (df * n)) * np.sqrt(n_groups) if df > 0 else np.nan
    lower, upper = rmsea_ci(chi2, df, n)
    return pd.Series(
        {
            "npar": float(problem.n_par),
            "chi2": chi2,
            "df": float(df),
            "p_value": float(stats.chi2.sf(chi2, df)) if df > 0 else np.nan,
            "cfi": cfi,
            "tli": tli,
            "rmsea": rmsea,
            "rmsea_ci_lower": lower * np.sqrt(n_groups),
            "rmsea_ci_upper": upper * np.sqrt(n_groups),
            "srmr": srmr,
            "aic": minus2ll + 2 * problem.n_par,
            "bic": minus2ll + problem.n_par * np.log(n),
        },
        name="fit_indices",
    )


# ----------------------------------------------------------------------------- invariance sequence
@public
def invariance(
    model: CSIModel | Mapping[str, Sequence[str]] | Sample,
    data: Any = None,
    group: str = "group",
    steps: Sequence[str] = ("configural", "metric", "scalar", "strict", "structural"),
    free: Sequence[str] = (),
    *,
    groups: Sequence[Any] | None = None,
    measurement_only: bool = False,
    estimator: str = "auto",
    weights: Any = None,
    weighting: str = "sampling",
) -> InvarianceResult:
    """Fit the nested invariance models ``steps`` (see :data:`STEPS`) and compare each with the
    previous one by the χ² difference test and by Chen's (2007) ΔCFI ≥ −.010 and ΔRMSEA ≤ .015.

    ``free`` releases the named parameters in every step that constrains their kind (partial
    invariance). The structural step is skipped for a model without paths. ``estimator``,
    ``weights`` and ``weighting`` are those of :func:`fit_multigroup`, the same in every step.
    """
    unknown = [s for s in steps if s not in STEPS]
    if unknown or not steps:
        raise ModelSpecError(f"unknown invariance step(s) {unknown or steps}; allowed: {', '.join(STEPS)}")
    spec = model.model if isinstance(model, Sample) else model
    has_paths = isinstance(spec, CSIModel) and bool(spec.paths) and not measurement_only
    diagnostics: list[str] = []
    models: dict[str, MultigroupFit] = {}
    for step in steps:
        if step == "structural" and not has_paths:
            diagnostics.append("the structural invariance step was skipped: the model has no paths between "
                               "constructs")
            continue
        models[step] = fit_multigroup.quiet(model, data, group, STEPS[step], free, groups=groups,
                                            measurement_only=measurement_only, estimator=estimator,
                                            weights=weights, weighting=weighting)
    fits = pd.DataFrame(
        [{"step": s, "equal": ", ".join(f.equal) or "none", **f.fit_indices.to_dict()}
         for s, f in models.items()]
    )
    fits["npar"] = fits["npar"].astype(int)
    fits["df"] = fits["df"].astype(int)
    comparisons = _compare(fits)
    for fit in models.values():
        diagnostics += [d for d in fit.diagnostics if d not in diagnostics]
    return InvarianceResult(fits=fits, comparisons=comparisons, models=models, diagnostics=diagnostics)


def _compare(fits: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for prev, cur in zip(fits.iloc[:-1].itertuples(), fits.iloc[1:].itertuples(), strict=True):
        d_chi2, d_df = cur.chi2 - prev.chi2, int(cur.df - prev.df)
        p = float(stats.chi2.sf(d_chi2, d_df)) if d_df > 0 else np.nan
        d_cfi, d_rmsea, d_srmr = cur.cfi - prev.cfi, cur.rmsea - prev.rmsea, cur.srmr - prev.srmr
        by_chi2 = bool(p >= ALPHA) if d_df > 0 else False
        by_chen = bool(d_cfi >= CHEN_DELTA_CFI and d_rmsea <= CHEN_DELTA_RMSEA)
        verdict = {(True, True): "invariant (both criteria)",
                   (False, True): "invariant by ΔCFI/ΔRMSEA only (Δχ² significant)",
                   (True, False): "invariant by Δχ² only (ΔCFI/ΔRMSEA beyond Chen's cut-offs)",
                   (False, False): "not invariant"}[(by_chi2, by_chen)]
        rows.append({"step": cur.step, "versus": prev.step, "delta_chi2": d_chi2, "delta_df": d_df,
                     "p_value": p, "delta_cfi": d_cfi, "delta_rmsea": d_rmsea, "delta_srmr": d_srmr,
                     "holds_chi2": by_chi2, "holds_chen": by_chen, "verdict": verdict})
    columns = ["step", "versus", "delta_chi2", "delta_df", "p_value", "delta_cfi", "delta_rmsea",
               "delta_srmr", "holds_chi2", "holds_chen", "verdict"]
    return pd.DataFrame(rows, columns=columns)
