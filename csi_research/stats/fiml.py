"""Full-information maximum likelihood (FIML) for incomplete item data, computed pattern by pattern.

Respondents are grouped by which items they answered. Within a pattern the normal log-likelihood
depends on the data only through the pattern's size, mean vector and (N-divisor) covariance, so
the likelihood, its gradient and the observed information cost one small matrix inversion per
pattern rather than per respondent. The model-implied moments and their derivatives come from the
fitted semopy ``ModelMeans`` matrices (Λ, B, Ψ, Θ and the intercepts), the same parameterisation as
the ML fit, so the parameter table reads the estimates from the same cells.

-2 log L of pattern g with n_g respondents, observed items o, mean x̄_g and covariance S_g is
n_g [p_g log 2π + log|Σ_oo| + tr(Σ_oo⁻¹ (S_g + d dᵀ))], d = x̄_g − μ_o. Its derivatives are
n_g (Σ⁻¹ − Σ⁻¹ (S_g + d dᵀ) Σ⁻¹) for Σ_oo and −2 n_g Σ⁻¹ d for μ_o; the chain rule through the
RAM-like matrices then gives the gradient for all parameters in a handful of matrix products.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class Patterns:
    """Sufficient statistics of incomplete data, stacked by the number of answered items so that one
    batched matrix operation serves every pattern of the same size."""

    groups: tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...]  # idx, counts, means, covs
    n: float  # respondents with at least one answer (their total weight when weighted)
    p: int

    @classmethod
    def of(cls, x: np.ndarray, weights: np.ndarray | None = None) -> Patterns:
        """Group the rows of ``x`` (NaN = not answered) by pattern; empty rows carry no information.

        ``weights`` make each respondent count ``w`` times in the likelihood (Σ w ℓ): for integer
        weights exactly the data with every row replicated ``w`` times."""
        x = np.asarray(x, dtype=float)
        w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
        answered = np.isfinite(x)
        keep = answered.any(axis=1)
        x, answered, w = x[keep], answered[keep], w[keep]
        patterns, inverse = np.unique(answered, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        by_size: dict[int, list] = {}
        for g, pattern in enumerate(patterns):
            idx = np.flatnonzero(pattern)
            rows, rw = x[inverse == g][:, idx], w[inverse == g]
            size = rw.sum()
            mean = rw @ rows / size
            centred = rows - mean
            by_size.setdefault(len(idx), []).append((idx, size, mean, (centred.T * rw) @ centred / size))
        groups = tuple(
            (np.array([e[0] for e in entries]), np.array([e[1] for e in entries], dtype=float),
             np.array([e[2] for e in entries]), np.array([e[3] for e in entries]))
            for entries in by_size.values()
        )
        return cls(groups, float(w.sum()) if weights is not None else int(keep.sum()), x.shape[1])

    @classmethod
    def complete(cls, mean: np.ndarray, cov: np.ndarray, n: int) -> Patterns:
        """Complete data summarised by its ML mean and covariance (e.g. the EM estimates)."""
        p = len(mean)
        group = (np.arange(p)[None], np.array([float(n)]), np.asarray(mean, float)[None],
                 np.asarray(cov, float)[None])
        return cls((group,), n, p)

    @property
    def n_patterns(self) -> int:
        return sum(len(g[1]) for g in self.groups)


def minus2ll(data: Patterns, mu: np.ndarray, sigma: np.ndarray) -> float:
    """−2 log-likelihood of the data under N(μ, Σ); +inf when a pattern's Σ is not positive definite."""
    return _evaluate(data, mu, sigma, derivatives=False)[0]


def independence_minus2ll(x: np.ndarray, weights: np.ndarray | None = None) -> float:
    """−2 log L of the independence (baseline) model: every item its own (weighted) ML mean and
    variance, each from the respondents who answered it — closed form under FIML."""
    x = np.asarray(x, dtype=float)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    answered = np.isfinite(x)
    size = (w[:, None] * answered).sum(axis=0)
    filled = np.where(answered, x, 0.0)
    mean = (w @ filled) / size
    var = (w @ np.where(answered, (filled - mean) ** 2, 0.0)) / size
    return float(size @ (_LOG_2PI + np.log(var) + 1.0))


def minus2ll_derivatives(
    data: Patterns, mu: np.ndarray, sigma: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """−2 log L and its derivatives with respect to every cell of Σ (symmetric matrix) and μ."""
    return _evaluate(data, mu, sigma, derivatives=True)


def _evaluate(data: Patterns, mu: np.ndarray, sigma: np.ndarray, derivatives: bool) -> tuple:
    p = data.p
    d_sigma, d_mu, total = np.zeros((p, p)), np.zeros(p), 0.0
    for idx, n_g, mean, cov in data.groups:
        sub = sigma[idx[:, :, None], idx[:, None, :]]
        try:
            chol = np.linalg.cholesky(sub)
        except np.linalg.LinAlgError:
            return np.inf, np.full((p, p), np.nan), np.full(p, np.nan)
        inv = np.linalg.inv(sub)
        d = mean - mu[idx]
        moment = cov + d[:, :, None] * d[:, None, :]
        logdet = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
        total += float(n_g @ (idx.shape[1] * _LOG_2PI + logdet + np.einsum("gij,gij->g", inv, moment)))
        if derivatives:
            grad_s = n_g[:, None, None] * (inv - inv @ moment @ inv)
            np.add.at(d_sigma, (idx[:, :, None], idx[:, None, :]), grad_s)
            np.add.at(d_mu, idx, -2.0 * n_g[:, None] * np.einsum("gij,gj->gi", inv, d))
    return total, d_sigma, d_mu


def moment_hessian(
    data: Patterns, mu: np.ndarray, sigma: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Second derivatives of −2 log L with respect to the moments, as three blocks (Σ–Σ, Σ–μ, μ–μ).

    In directions (dΣ₁, dμ₁), (dΣ₂, dμ₂) a pattern with A = Σ_oo⁻¹, B = A (S_g + d dᵀ) A and u = A d
    contributes n_g [−tr(A dΣ₁ A dΣ₂) + tr(dΣ₁ B dΣ₂ A) + tr(dΣ₁ A dΣ₂ B) + 2 uᵀdΣ₁A dμ₂
    + 2 uᵀdΣ₂A dμ₁ + 2 dμ₁ᵀA dμ₂]. With A, B and u padded by zeros to all p items, the Σ–Σ form is
    vec(dΣ₁)ᵀ K vec(dΣ₂) with K = Σ n_g [A ⊗ (B − A/2) + (B − A/2) ⊗ A]: one p² × p² sum over the
    patterns, whatever their number. Blocks: K (p² × p², row-major vec), the Σ–μ block (p² × p),
    the μ–μ block (p × p).
    """
    p = data.p
    kron_sum, cross, mean_block = np.zeros((p * p, p * p)), np.zeros((p, p, p)), np.zeros((p, p))
    for idx, n_g, mean, cov in data.groups:
        inv = np.linalg.inv(sigma[idx[:, :, None], idx[:, None, :]])
        d = mean - mu[idx]
        b = inv @ (cov + d[:, :, None] * d[:, None, :]) @ inv
        a_full, e_full = _pad(inv, idx, p), _pad(b - inv / 2.0, idx, p)
        u_full = np.zeros((len(n_g), p))
        np.put_along_axis(u_full, idx, np.einsum("gij,gj->gi", inv, d), axis=1)
        kron_sum += (n_g[:, None] * a_full.reshape(len(n_g), -1)).T @ e_full.reshape(len(n_g), -1)
        cross += np.einsum("g,ga,gbc->abc", 2.0 * n_g, u_full, a_full)
        mean_block += 2.0 * np.einsum("g,gab->ab", n_g, a_full)
    # kron_sum[(a,c),(b,d)] = Σ n A_ac E_bd; its transpose adds E ⊗ A; reorder to [(a,b),(c,d)]
    k_ss = (kron_sum + kron_sum.T).reshape(p, p, p, p).transpose(0, 2, 1, 3).reshape(p * p, p * p)
    return k_ss, cross.reshape(p * p, p), mean_block


def projected_hessian(data: Patterns, mu: np.ndarray, sigma: np.ndarray, j_sigma: np.ndarray,
                      j_mu: np.ndarray) -> np.ndarray:
    """Jᵀ H J: :func:`moment_hessian` carried to parameters whose moments move by ``j_sigma``
    (k × p², row-major vec of ∂Σ) and ``j_mu`` (k × p); the curvature of Σ(θ), μ(θ) is not in it."""
    k_ss, k_sm, k_mm = moment_hessian(data, mu, sigma)
    cross = j_sigma @ k_sm @ j_mu.T
    first = j_sigma @ k_ss @ j_sigma.T + cross + cross.T + j_mu @ k_mm @ j_mu.T
    return (first + first.T) / 2.0


def _pad(blocks: np.ndarray, idx: np.ndarray, p: int) -> np.ndarray:
    """Each pattern's matrix over its observed items, placed in a p × p matrix of zeros."""
    full = np.zeros((len(blocks), p, p))
    full[np.arange(len(blocks))[:, None, None], idx[:, :, None], idx[:, None, :]] = blocks
    return full


class MeanStructure:
    """μ(θ), Σ(θ) and the chain rule of a semopy ``ModelMeans`` (items in its observed order).

    Σ = M Ψ Mᵀ + Θ and μ = M a + ν with M = Λ C, C = (I − B)⁻¹, a = Γ₁ (latent intercepts) and
    ν = Γ₂ (item intercepts). For a scalar f with ∂f/∂Σ = G (symmetric) and ∂f/∂μ = h the matrix
    derivatives are 2 G M Ψ Cᵀ + h (C a)ᵀ (Λ), 2 (C Ψ Mᵀ G M)ᵀ + (Mᵀ h)(C a)ᵀ (B), Mᵀ G M (Ψ),
    G (Θ), Mᵀ h (Γ₁) and h (Γ₂); each parameter's derivative sums the cells it occupies.
    """

    def __init__(self, sem: object) -> None:
        names = list(sem.matrices_names)
        self.sem = sem
        self.k = {name: names.index(name) for name in ("beta", "lambda", "psi", "theta", "gamma1", "gamma2")}
        exo = sem.names[self.k["gamma2"]][1]
        if list(exo) != ["1"]:
            raise ValueError(f"only item and latent intercepts are supported as mean structure, not {exo}")
        self.where = [
            np.array([np.ravel(d[k]) if d[k] is not None else np.zeros(sem.matrices[k].size)
                      for d in sem.mx_diffs]).reshape(len(sem.mx_diffs), sem.matrices[k].size)
            for k in range(len(names))
        ]

    def moments(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Model-implied mean vector and covariance matrix at the free-parameter vector ``theta``."""
        sem = self.sem
        sem.update_matrices(theta)
        mx = sem.matrices
        lam, beta, psi, theta_mx = (mx[self.k[n]] for n in ("lambda", "beta", "psi", "theta"))
        c = np.linalg.inv(np.eye(beta.shape[0]) - beta)
        m = lam @ c
        sigma = m @ psi @ m.T + theta_mx
        mu = m @ mx[self.k["gamma1"]][:, 0] + mx[self.k["gamma2"]][:, 0]
        return mu, sigma

    def gradient(self, d_sigma: np.ndarray, d_mu: np.ndarray) -> np.ndarray:
        """Derivatives with respect to the free parameters (at the last ``moments`` call)."""
        mx = self.sem.matrices
        lam, beta, psi = (mx[self.k[n]] for n in ("lambda", "beta", "psi"))
        c = np.linalg.inv(np.eye(beta.shape[0]) - beta)
        m = lam @ c
        ca = c @ mx[self.k["gamma1"]][:, 0]
        mth = m.T @ d_mu
        parts = {
            "lambda": 2.0 * d_sigma @ m @ psi @ c.T + np.outer(d_mu, ca),
            "beta": 2.0 * (c @ psi @ m.T @ d_sigma @ m).T + np.outer(mth, ca),
            "psi": m.T @ d_sigma @ m,
            "theta": d_sigma,
            "gamma1": mth[:, None],
            "gamma2": d_mu[:, None],
        }
        return sum(self.where[self.k[name]] @ value.ravel() for name, value in parts.items())

    def jacobian(self) -> tuple[np.ndarray, np.ndarray]:
        """∂Σ/∂θ (k × p × p) and ∂μ/∂θ (k × p) at the last ``moments`` call, one slice per parameter:
        dC = C dB C, dM = dΛ C + Λ dC, dΣ = dM Ψ Mᵀ + M Ψ dMᵀ + M dΨ Mᵀ + dΘ, dμ = dM a + M dΓ₁ + dΓ₂."""
        mx = self.sem.matrices
        lam, beta, psi, gamma1 = (mx[self.k[n]] for n in ("lambda", "beta", "psi", "gamma1"))
        c = np.linalg.inv(np.eye(beta.shape[0]) - beta)
        m = lam @ c
        d = {name: self.where[self.k[name]].reshape(-1, *mx[self.k[name]].shape) for name in self.k}
        dm = d["lambda"] @ c + lam @ (c @ d["beta"] @ c)
        half = dm @ (psi @ m.T)
        d_sigma = half + half.transpose(0, 2, 1) + m @ d["psi"] @ m.T + d["theta"]
        d_mu = dm @ gamma1[:, 0] + d["gamma1"][:, :, 0] @ m.T + d["gamma2"][:, :, 0]
        return d_sigma, d_mu


@dataclass
class FIMLResult:
    theta: np.ndarray
    minus2ll: float
    converged: bool
    hessian: np.ndarray  # of −2 log L (observed information × 2)


def fit(
    structure: MeanStructure, data: Patterns, start: np.ndarray, saturated: Patterns | None = None,
    max_iter: int = 10_000,
) -> FIMLResult:
    """Minimise −2 log L by L-BFGS-B with the analytic gradient, then polish with Newton steps.

    ``saturated`` (the EM mean and covariance as :meth:`Patterns.complete`) gives a first fit that
    costs one pattern per evaluation and starts the incomplete-data fit next to its optimum. The
    Newton steps use the Hessian of −2 log L (:func:`hessian`), which at the estimates is also the
    observed information for the standard errors (lavaan's default with missing data).
    """
    theta = np.asarray(start, dtype=float)
    if saturated is not None:
        theta = fit_complete(structure, saturated, theta, max_iter)[0]
    result = _lbfgs(structure, data, theta, max_iter)
    theta, value = result.x, float(result.fun)
    scale = 1.0 / max(data.n, 1)

    def grad(t: np.ndarray) -> np.ndarray:
        return _scaled(structure, data, t, scale)[1]

    # at the L-BFGS-B point: the polish moves the estimates by ~1e-9 relative, far below the SEs' digits
    curvature = hessian(structure, data, theta)
    for _ in range(3):  # Newton polish: L-BFGS-B stops at ~1e-9 relative change, Newton goes further
        g = grad(theta)
        if not np.all(np.isfinite(g)) or _small(g, 1e-11):
            break
        try:
            candidate = theta - np.linalg.solve(curvature * scale, g)
        except np.linalg.LinAlgError:
            break
        new_value = _scaled(structure, data, candidate, scale)[0]
        if not new_value <= value + 1e-12:
            break
        theta, value = candidate, new_value
    # L-BFGS-B also reports success when its line search stalls: judge by the gradient itself
    converged = bool(np.isfinite(value)) and _small(grad(theta), 1e-6)
    structure.moments(theta)  # leave the semopy matrices at the estimates
    return FIMLResult(theta, value / scale, converged, curvature)


def fit_complete(
    structure: MeanStructure, data: Patterns, start: np.ndarray, max_iter: int = 10_000
) -> tuple[np.ndarray, bool]:
    """L-BFGS-B only (no Hessian): the estimates and whether the gradient vanished there."""
    result = _lbfgs(structure, data, np.asarray(start, dtype=float), max_iter)
    ok = bool(np.isfinite(result.fun)) and _small(result.jac, 1e-6)
    return (result.x if np.isfinite(result.fun) else np.asarray(start, dtype=float)), ok


def _scaled(
    structure: MeanStructure, data: Patterns, theta: np.ndarray, scale: float
) -> tuple[float, np.ndarray]:
    """−2 log L / N and its gradient (the scale keeps the optimiser's tolerances meaningful)."""
    mu, sigma = structure.moments(theta)
    value, d_sigma, d_mu = minus2ll_derivatives(data, mu, sigma)
    if not np.isfinite(value):
        return np.inf, np.zeros_like(theta)
    return value * scale, structure.gradient(d_sigma, d_mu) * scale


def _lbfgs(
    structure: MeanStructure, data: Patterns, theta: np.ndarray, max_iter: int
) -> optimize.OptimizeResult:
    """L-BFGS-B; when its line search stalls far from a stationary point (it can when a trial step
    leaves the positive-definite region, where −2 log L is +inf), BFGS, whose line search backs off."""
    scale = 1.0 / max(data.n, 1)

    def objective(t: np.ndarray) -> tuple[float, np.ndarray]:
        return _scaled(structure, data, t, scale)

    with np.errstate(all="ignore"):
        result = optimize.minimize(objective, theta, jac=True, method="L-BFGS-B",
                                   options={"maxiter": max_iter, "maxcor": 30, "ftol": 1e-15, "gtol": 1e-9})
        if not _small(result.jac, 1e-6):
            x = result.x if np.isfinite(result.fun) else theta
            retry = optimize.minimize(objective, x, jac=True, method="BFGS",
                                      options={"maxiter": max_iter, "gtol": 1e-9})
            if np.isfinite(retry.fun) and not retry.fun > result.fun:
                result = retry
    return result


def hessian(structure: MeanStructure, data: Patterns, theta: np.ndarray) -> np.ndarray:
    """Hessian of −2 log L at ``theta`` (the observed information × 2), by the chain rule.

    With J = ∂(Σ, μ)/∂θ and g = ∂(−2 log L)/∂(Σ, μ), it is Jᵀ H J + Σ g · ∂²(Σ, μ)/∂θ∂θᵀ. The first
    term is exact (:func:`moment_hessian`, :meth:`MeanStructure.jacobian`); the second holds g fixed and
    differentiates θ ↦ Jᵀg numerically, which needs no pass over the patterns, so the whole costs about
    one gradient evaluation rather than the 2k of :func:`numerical_hessian` (k parameters).
    """
    mu, sigma = structure.moments(theta)
    _, d_sigma, d_mu = minus2ll_derivatives(data, mu, sigma)
    j_sigma, j_mu = structure.jacobian()
    first = projected_hessian(data, mu, sigma, j_sigma.reshape(len(theta), -1), j_mu)

    def chain(t: np.ndarray) -> np.ndarray:
        structure.moments(t)
        return structure.gradient(d_sigma, d_mu)

    second = numerical_hessian(chain, theta)
    structure.moments(theta)
    return first + second


def _small(g: np.ndarray, tol: float = 1e-6) -> bool:
    return bool(np.all(np.isfinite(g)) and np.max(np.abs(g), initial=0.0) < tol)


def numerical_hessian(grad: object, theta: np.ndarray, step: float = 1e-5) -> np.ndarray:
    """Symmetrised central differences of an analytic gradient (error ~ step², far below the SEs' digits)."""
    k = len(theta)
    h = np.zeros((k, k))
    for j in range(k):
        e = np.zeros(k)
        e[j] = step * max(1.0, abs(theta[j]))
        h[:, j] = (grad(theta + e) - grad(theta - e)) / (2 * e[j])
    return (h + h.T) / 2.0
