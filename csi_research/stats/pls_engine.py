"""The PLS path-modelling engine (Lohmöller/Wold), computed on covariance matrices so resamples batch.

Every quantity PLS-PM reports is a function of the items' covariance matrix (plus n), so one
engine works on a stack ``(B, p, p)`` of covariance matrices: a single fit is B = 1, and a
bootstrap or jackknife expresses each resample as a count vector over respondents whose
weighted moments are one matrix product away. The numerical conventions are those of R
``plspm`` (population variances, its convergence rule and its scaling of Mode A updates) so
results agree with it to rounding error. The fit a user holds (:class:`~csi_research.stats.pls.PLSFit`)
is assembled from this engine's batch in :mod:`csi_research.stats.pls`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from csi_research.core import options
from csi_research.data.sample import Sample
from csi_research.model import CSIModel

Scheme = Literal["path", "centroid", "factorial"]


# ---------------------------------------------------------------------------- model layout
@dataclass(frozen=True)
class Layout:
    """The model compiled to index arrays (constructs in ``model.names`` order)."""

    model: CSIModel
    names: tuple[str, ...]
    items: tuple[str, ...]
    blocks: tuple[np.ndarray, ...]  # item indices of each construct
    mask: np.ndarray  # (p, k) 1 where item i belongs to construct j
    mode_b: np.ndarray  # (k,) bool
    adjacency: np.ndarray  # (k, k) A[s, t] = 1 for a path s -> t
    predecessors: tuple[np.ndarray, ...]
    successors: tuple[np.ndarray, ...]
    path_index: tuple[tuple[int, int], ...]  # model.paths as (source, target) indices
    endogenous: np.ndarray  # construct indices with at least one predecessor
    isolated: np.ndarray  # constructs without neighbours (only in a one-construct model)

    @classmethod
    def of(cls, model: CSIModel) -> Layout:
        names = tuple(model.names)
        items = tuple(model.items)
        pos = {n: j for j, n in enumerate(names)}
        blocks, start = [], 0
        for n in names:
            size = len(model.constructs[n])
            blocks.append(np.arange(start, start + size))
            start += size
        mask = np.zeros((len(items), len(names)))
        for j, b in enumerate(blocks):
            mask[b, j] = 1.0
        adj = model.adjacency()
        return cls(
            model=model,
            names=names,
            items=items,
            blocks=tuple(blocks),
            mask=mask,
            mode_b=np.array([model.modes[n] == "B" for n in names]),
            adjacency=adj,
            predecessors=tuple(np.flatnonzero(adj[:, j]) for j in range(len(names))),
            successors=tuple(np.flatnonzero(adj[j, :]) for j in range(len(names))),
            path_index=tuple((pos[s], pos[t]) for s, t in model.paths),
            endogenous=np.flatnonzero(adj.sum(axis=0) > 0),
            isolated=np.flatnonzero((adj + adj.T).sum(axis=0) == 0),
        )


# ---------------------------------------------------------------------------- the engine
def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched solve; a singular system gives NaN for that resample instead of failing all."""
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        out = np.full(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + b.shape[-2:], np.nan)
        for i in range(a.shape[0]):
            try:
                out[i] = np.linalg.solve(a[i], b[i])
            except np.linalg.LinAlgError:
                pass
        return out


def _normalise(c: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights rescaled so each composite has unit (population) variance, and C @ W for them."""
    cw = c @ w
    sd = np.sqrt(np.einsum("bpk,bpk->bk", w, cw))
    return w / sd[:, None, :], cw / sd[:, None, :]


def _inner_weights(r: np.ndarray, lay: Layout, scheme: str) -> np.ndarray:
    """Inner weights E (B, k, k): column j combines the neighbours of construct j."""
    sym = lay.adjacency + lay.adjacency.T
    if scheme == "centroid":
        e = np.sign(r * sym)
    elif scheme == "factorial":
        e = r * sym
    else:
        e = np.zeros_like(r)
        for j in range(len(lay.names)):
            pred, succ = lay.predecessors[j], lay.successors[j]
            if pred.size:  # regression of j on its predecessors
                e[:, pred, j] = _solve(r[:, pred[:, None], pred], r[:, pred, j][..., None])[..., 0]
            if succ.size:  # correlation with its successors
                e[:, succ, j] = r[:, j, succ]
    # a lone construct is its own inner proxy: Mode A then converges to the first principal component
    e[:, lay.isolated, lay.isolated] = 1.0
    return e


def _outer_update(c: np.ndarray, w: np.ndarray, n: np.ndarray, lay: Layout, scheme: str) -> np.ndarray:
    """One Lohmöller step: outer proxies → inner proxies → new (unnormalised) outer weights.

    plspm standardises the proxies with ``scale(Y) * sqrt((n-1)/n)``, which makes the Mode A
    and Mode B updates (n-1)/n times the covariances; that factor matters for its convergence
    test, so it is kept.
    """
    wn, cwn = _normalise(c, w)
    r = np.einsum("bpk,bpl->bkl", wn, cwn)
    g = cwn @ _inner_weights(r, lay, scheme)  # cov(items, inner proxies)
    g *= ((n - 1.0) / n)[:, None, None]
    new = g * lay.mask
    for j in np.flatnonzero(lay.mode_b):
        b = lay.blocks[j]
        new[:, b, j] = _solve(c[:, b[:, None], b], g[:, b, j][..., None])[..., 0]
    return new


@dataclass(frozen=True)
class PLSBatch:
    """Estimates of B resamples (arrays with a leading batch axis; items/constructs in model order)."""

    weights: np.ndarray  # (B, p) outer weights on the scaled (or centred) items
    raw_weights: np.ndarray  # (B, p) weights applying to the raw items
    item_mean: np.ndarray  # (B, p)
    item_sd: np.ndarray  # (B, p) scaling divisor used (1 when scaled=False)
    loadings: np.ndarray  # (B, p)
    cross_loadings: np.ndarray  # (B, p, k)
    latent_corr: np.ndarray  # (B, k, k)
    paths: np.ndarray  # (B, m) in model.paths order
    r2: np.ndarray  # (B, e) for Layout.endogenous
    total_effects: np.ndarray  # (B, k, k) T[s, t] total effect of s on t
    converged: np.ndarray  # (B,) bool
    iterations: np.ndarray  # (B,) int
    change: np.ndarray  # (B,) last change in weights (plspm's criterion)
    flipped: np.ndarray  # (B, k) bool: composite sign reversed so most loadings are positive


def pls_from_moments(
    lay: Layout,
    mean: np.ndarray,
    cov: np.ndarray,
    n: np.ndarray,
    scheme: str = "path",
    scaled: bool = True,
    tol: float = 1e-6,
    max_iter: int = 100,
) -> PLSBatch:
    """The PLS algorithm on a stack of item covariance matrices (the single implementation).

    Iterations are vectorised over the batch; resamples freeze once converged. Convergence
    follows plspm: stop when sum((|w_old| - |w_new|)^2) < tol; reaching ``max_iter`` means
    not converged.
    """
    options.choice(scheme, options.SCHEMES, "scheme")
    n = np.asarray(n, dtype=float)
    bsz = cov.shape[0]
    var = np.diagonal(cov, axis1=1, axis2=2)
    sd = np.sqrt(var) if scaled else np.ones_like(var)
    c = cov / (sd[:, :, None] * sd[:, None, :])
    w, _ = _normalise(c, np.broadcast_to(lay.mask, (bsz, *lay.mask.shape)).copy())
    w_old = w.sum(axis=2)
    converged = np.zeros(bsz, dtype=bool)
    iterations = np.zeros(bsz, dtype=int)
    change = np.full(bsz, np.nan)
    active = np.arange(bsz)
    for it in range(1, max_iter + 1):
        with np.errstate(invalid="ignore", divide="ignore"):
            new = _outer_update(c[active], w[active], n[active], lay, scheme)
        w_new = new.sum(axis=2)
        dif = ((np.abs(w_old[active]) - np.abs(w_new)) ** 2).sum(axis=1)
        w[active], iterations[active], change[active] = new, it, dif
        done = dif < tol
        if it == max_iter:
            break
        converged[active[done]] = True
        w_old[active] = w_new
        active = active[~done]
        if active.size == 0:
            break
    with np.errstate(invalid="ignore", divide="ignore"):
        return _final(lay, mean, c, sd, w, n, converged, iterations, change)


def _final(lay, mean, c, sd, w, n, converged, iterations, change) -> PLSBatch:
    """Everything plspm reports, from the converged weights."""
    wn, cwn = _normalise(c, w)
    cross = cwn / np.sqrt(np.diagonal(c, axis1=1, axis2=2))[:, :, None]
    # plspm (get_scores) reverses a composite when most of its items correlate negatively with it
    votes = np.einsum("bpk,pk->bk", np.sign(cross), lay.mask)
    flip = votes <= 0
    sign = np.where(flip, -1.0, 1.0)
    wn, cross = wn * sign[:, None, :], cross * sign[:, None, :]
    r = np.einsum("bpk,bpl->bkl", wn, c @ wn)
    direct = np.zeros_like(r)
    r2 = np.full((r.shape[0], lay.endogenous.size), np.nan)
    for e, j in enumerate(lay.endogenous):
        pred = lay.predecessors[j]
        beta = _solve(r[:, pred[:, None], pred], r[:, pred, j][..., None])[..., 0]
        direct[:, pred, j] = beta
        r2[:, e] = (beta * r[:, pred, j]).sum(axis=1)
    total = lay.model.total_effects(direct)
    weights = wn.sum(axis=2)
    return PLSBatch(
        weights=weights,
        raw_weights=weights / sd,
        item_mean=mean,
        item_sd=sd,
        loadings=(cross * lay.mask).sum(axis=2),
        cross_loadings=cross,
        latent_corr=r,
        paths=direct[:, [s for s, _ in lay.path_index], [t for _, t in lay.path_index]],
        r2=r2,
        total_effects=total,
        converged=converged,
        iterations=iterations,
        change=change,
        flipped=flip,
    )


def fit_pls_batch(
    sample: Sample,
    counts: np.ndarray,
    scheme: Scheme = "path",
    scaled: bool = True,
    tol: float = 1e-6,
    max_iter: int = 100,
    chunk_size: int = 500,
) -> PLSBatch:
    """Fit every resample of ``sample`` given as a row of ``counts`` (B, n) over its respondents."""
    counts = np.atleast_2d(counts)
    lay = Layout.of(sample.model)
    parts = []
    for start in range(0, counts.shape[0], chunk_size):
        mean, cov, size = sample.moments(counts[start:start + chunk_size])
        parts.append(pls_from_moments(lay, mean, cov, size, scheme, scaled, tol, max_iter))
    return concat_batches(parts)


def concat_batches(parts: list[PLSBatch]) -> PLSBatch:
    """Join batches along the resample axis."""
    fields = PLSBatch.__dataclass_fields__
    return PLSBatch(**{f: np.concatenate([getattr(b, f) for b in parts]) for f in fields})
