"""PLS path modelling (Lohmöller/Wold), computed on covariance matrices so resamples batch.

Every quantity PLS-PM reports is a function of the items' covariance matrix (plus n), so one
engine works on a stack ``(B, p, p)`` of covariance matrices: a single fit is B = 1, and a
bootstrap or jackknife expresses each resample as a count vector over respondents whose
weighted moments are one matrix product away. The numerical conventions are those of R
``plspm`` (population variances, its convergence rule and its scaling of Mode A updates) so
results agree with it to rounding error.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from csi_research.data import as_frame, item_frame
from csi_research.errors import CSIWarning, EstimationError
from csi_research.model import CSIModel

Scheme = Literal["path", "centroid", "factorial"]
SCHEMES = ("path", "centroid", "factorial")


# ---------------------------------------------------------------------------- model layout
@dataclass(frozen=True)
class Layout:
    """The model compiled to index arrays (constructs in ``model.names`` order)."""

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


# ---------------------------------------------------------------------------- moments
def _triu(p: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(p)


def _unpack(vec: np.ndarray, p: int) -> np.ndarray:
    """(B, p(p+1)/2) upper-triangle vectors → symmetric (B, p, p) matrices."""
    iu, ju = _triu(p)
    out = np.empty((vec.shape[0], p, p))
    out[:, iu, ju] = vec
    out[:, ju, iu] = vec
    return out


def _moments(sxx: np.ndarray, sx: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means and population covariances from sums of cross-products, sums and counts."""
    p = sx.shape[1]
    mean = sx / count[:, None]
    cov = _unpack(sxx, p) / count[:, None, None] - mean[:, :, None] * mean[:, None, :]
    return mean, cov


def weighted_moments(
    x: np.ndarray, counts: np.ndarray, row_chunk: int = 20_000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means ``(B, p)``, population covariances ``(B, p, p)`` and sizes ``(B,)`` of resamples.

    ``counts[b, i]`` is how often respondent i is drawn in resample b. The cross-products of
    each respondent are formed once (upper triangle) and every resample is a matrix product;
    rows are processed in chunks so memory stays bounded for large n. ``x`` should be centred
    (e.g. at the full-sample mean) for accuracy.
    """
    counts = np.asarray(counts, dtype=float)
    p = x.shape[1]
    iu, ju = _triu(p)
    sxx = np.zeros((counts.shape[0], iu.size))
    for start in range(0, x.shape[0], row_chunk):
        rows = x[start:start + row_chunk]
        sxx += counts[:, start:start + row_chunk] @ (rows[:, iu] * rows[:, ju])
    mean, cov = _moments(sxx, counts @ x, counts.sum(axis=1))
    return mean, cov, counts.sum(axis=1)


def jackknife_moments(
    x: np.ndarray, chunk: int = 1_000
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Leave-one-out moments in chunks of respondents: the jackknife without an (n, n) matrix."""
    n, p = x.shape
    iu, ju = _triu(p)
    sxx_all = (x[:, iu] * x[:, ju]).sum(axis=0)
    sx_all = x.sum(axis=0)
    for start in range(0, n, chunk):
        rows = x[start:start + chunk]
        size = np.full(rows.shape[0], n - 1.0)
        mean, cov = _moments(sxx_all - rows[:, iu] * rows[:, ju], sx_all - rows, size)
        yield mean, cov, size


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
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, not {scheme!r}")
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
    k = len(lay.names)
    direct = np.zeros_like(r)
    r2 = np.full((r.shape[0], lay.endogenous.size), np.nan)
    for e, j in enumerate(lay.endogenous):
        pred = lay.predecessors[j]
        beta = _solve(r[:, pred[:, None], pred], r[:, pred, j][..., None])[..., 0]
        direct[:, pred, j] = beta
        r2[:, e] = (beta * r[:, pred, j]).sum(axis=1)
    total, power = direct.copy(), direct.copy()
    for _ in range(k - 2):  # the structural model is acyclic: powers vanish after k-1 steps
        power = power @ direct
        total += power
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
    model: CSIModel,
    x: np.ndarray,
    counts: np.ndarray,
    scheme: Scheme = "path",
    scaled: bool = True,
    tol: float = 1e-6,
    max_iter: int = 100,
    chunk_size: int = 500,
) -> PLSBatch:
    """Fit every resample given as a row of ``counts`` (B, n) over the rows of ``x`` (n, p).

    ``x`` holds the model's items in ``model.items`` order, complete (no NaN).
    """
    x = np.asarray(x, dtype=float)
    counts = np.atleast_2d(counts)
    if counts.shape[1] != x.shape[0]:
        raise ValueError(f"counts has {counts.shape[1]} columns but x has {x.shape[0]} rows")
    lay = Layout.of(model)
    centre = x.mean(axis=0)
    parts = []
    for start in range(0, counts.shape[0], chunk_size):
        mean, cov, size = weighted_moments(x - centre, counts[start:start + chunk_size])
        parts.append(pls_from_moments(lay, mean + centre, cov, size, scheme, scaled, tol, max_iter))
    return concat_batches(parts)


def concat_batches(parts: list[PLSBatch]) -> PLSBatch:
    """Join batches along the resample axis."""
    fields = PLSBatch.__dataclass_fields__
    return PLSBatch(**{f: np.concatenate([getattr(b, f) for b in parts]) for f in fields})


# ---------------------------------------------------------------------------- the single fit
@dataclass(frozen=True)
class PLSFit:
    """A fitted PLS path model (tables follow plspm's outputs, with English column names)."""

    model: CSIModel
    scheme: str
    scaled: bool
    missing: str
    n: int
    weights: pd.DataFrame
    loadings: pd.DataFrame
    cross_loadings: pd.DataFrame
    scores: pd.DataFrame
    paths: pd.DataFrame
    r2: pd.Series
    r2_adj: pd.Series
    effects: pd.DataFrame
    constructs: pd.DataFrame
    gof: float
    iterations: int
    item_mean: pd.Series
    item_sd: pd.Series
    diagnostics: list[str] = field(default_factory=list)

    def raw_weights(self) -> pd.Series:
        """Outer weights applying to the raw items (weight / sd when scaled), indexed by item.

        ``(raw - item_mean) @ raw_weights`` per block reproduces the scores.
        """
        w = self.weights.set_index("item")["weight"]
        return (w / self.item_sd.loc[w.index]).rename("raw_weight")

    def summary(self) -> dict[str, pd.DataFrame]:
        """Readable tables: overview, paths, constructs, loadings and weights, effects."""
        overview = pd.Series(
            {
                "scheme": self.scheme,
                "indicators": "standardised" if self.scaled else "centred (raw scale)",
                "missing data": self.missing,
                "respondents used": self.n,
                "iterations": self.iterations,
                "GoF": round(self.gof, 4),
                "diagnostics": len(self.diagnostics),
            },
            name="value",
        ).to_frame()
        outer = self.loadings.merge(self.weights, on=["construct", "item"])
        return {
            "overview": overview,
            "paths": self.paths.round(4),
            "constructs": self.constructs.round(4),
            "outer_model": outer.round(4),
            "effects": self.effects.round(4),
        }


def fit_pls(
    model: CSIModel,
    data: Any,
    scheme: Scheme = "path",
    scaled: bool = True,
    missing: Literal["listwise", "mean"] = "listwise",
    tol: float = 1e-6,
    max_iter: int = 100,
) -> PLSFit:
    """Estimate the model by PLS path modelling (Lohmöller's algorithm, as R plspm).

    ``scaled=True`` standardises the items (population sd); ``scaled=False`` only centres them,
    so the weights apply to the raw item scale. Latent scores have unit population variance.
    """
    if missing not in ("listwise", "mean"):
        raise ValueError(f"PLS needs complete rows: missing must be 'listwise' or 'mean', not {missing!r}")
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, not {scheme!r}")
    frame = item_frame(model, data, missing=missing)
    diagnostics = _missing_notes(as_frame(data)[model.items], missing)
    x = frame.to_numpy()
    n = x.shape[0]
    lay = Layout.of(model)
    centre = x.mean(axis=0)
    xc = x - centre
    cov = (xc.T @ xc / n)[None]
    est = pls_from_moments(lay, centre[None], cov, np.array([n]), scheme, scaled, tol, max_iter)
    if not est.converged[0]:
        raise EstimationError(
            f"PLS did not converge in {max_iter} iterations (last change in outer weights "
            f"{est.change[0]:.3g}, tolerance {tol:g}); raise max_iter, or check for a block whose "
            "items barely correlate with its neighbours"
        )
    diagnostics += [
        f"construct {lay.names[j]}: most items correlate negatively with the composite, so its sign "
        "was reversed (as plspm does); check for reverse-coded items"
        for j in np.flatnonzero(est.flipped[0])
    ]
    for msg in diagnostics:
        warnings.warn(msg, CSIWarning, stacklevel=2)
    return _assemble(model, lay, frame, est, scheme, scaled, missing, diagnostics)


def _missing_notes(raw: pd.DataFrame, missing: str) -> list[str]:
    incomplete = int(raw.isna().any(axis=1).sum())
    if not incomplete:
        return []
    if missing == "listwise":
        return [
            f"{incomplete} of {len(raw)} respondents have missing items and were dropped (listwise); "
            "use missing='mean' to keep them"
        ]
    return [f"{int(raw.isna().sum().sum())} missing item answers were replaced by the item mean"]


def _assemble(model, lay, frame, est, scheme, scaled, missing, diagnostics) -> PLSFit:
    names, items = list(lay.names), list(lay.items)
    n = len(frame)
    block_of = [lay.names[int(np.argmax(lay.mask[i]))] for i in range(len(items))]
    endo = [lay.names[j] for j in lay.endogenous]
    r2 = pd.Series(est.r2[0], index=endo, name="r2")
    n_pred = pd.Series({t: len(lay.predecessors[j]) for j, t in zip(lay.endogenous, endo, strict=True)})
    r2_adj = (1 - (1 - r2) * (n - 1) / (n - n_pred - 1)).rename("r2_adj")

    mean = pd.Series(est.item_mean[0], index=items, name="mean")
    sd = pd.Series(est.item_sd[0], index=items, name="sd")
    raw_w = est.raw_weights[0][:, None] * lay.mask
    scores = pd.DataFrame((frame.to_numpy() - mean.to_numpy()) @ raw_w, index=frame.index, columns=names)

    item_r2 = np.array([r2.get(b, np.nan) for b in block_of])
    communality = est.loadings[0] ** 2
    loadings = pd.DataFrame(
        {
            "construct": block_of,
            "item": items,
            "loading": est.loadings[0],
            "communality": communality,
            "redundancy": communality * item_r2,
        }
    )
    weights = pd.DataFrame({"construct": block_of, "item": items, "weight": est.weights[0]})
    cross = pd.DataFrame(est.cross_loadings[0], index=pd.Index(items, name="item"), columns=names)

    paths = _path_table(lay, est, r2, n)
    effects = _effects_table(lay, est)
    constructs = _construct_table(model, lay, loadings, r2)
    multi = [i for i, b in enumerate(block_of) if len(model.constructs[b]) > 1]
    # GoF averages communalities over multi-item blocks only (plspm); undefined without any
    gof = float(np.sqrt(communality[multi].mean() * r2.mean())) if multi else float("nan")
    return PLSFit(
        model=model,
        scheme=scheme,
        scaled=scaled,
        missing=missing,
        n=n,
        weights=weights,
        loadings=loadings,
        cross_loadings=cross,
        scores=scores,
        paths=paths,
        r2=r2,
        r2_adj=r2_adj,
        effects=effects,
        constructs=constructs,
        gof=gof,
        iterations=int(est.iterations[0]),
        item_mean=mean,
        item_sd=sd,
        diagnostics=diagnostics,
    )


def _path_table(lay: Layout, est: PLSBatch, r2: pd.Series, n: int) -> pd.DataFrame:
    """Path estimates with the OLS standard errors of each endogenous regression (as plspm's lm)."""
    r = est.latent_corr[0]
    rows = []
    for s, t in lay.path_index:
        pred = lay.predecessors[t]
        q = pred.size
        inv = np.linalg.inv(r[np.ix_(pred, pred)])
        k = int(np.flatnonzero(pred == s)[0])
        b = est.paths[0][lay.path_index.index((s, t))]
        se = np.sqrt((1 - r2[lay.names[t]]) / (n - q - 1) * inv[k, k])
        t_value = b / se
        rows.append(
            {
                "source": lay.names[s],
                "target": lay.names[t],
                "estimate": b,
                "std_error": se,
                "t": t_value,
                "p_value": 2 * stats.t.sf(abs(t_value), n - q - 1),
            }
        )
    return pd.DataFrame(rows)


def _effects_table(lay: Layout, est: PLSBatch) -> pd.DataFrame:
    total = est.total_effects[0]
    reach = lay.adjacency.copy()
    for _ in range(len(lay.names)):
        reach = np.minimum(reach + reach @ lay.adjacency, 1)
    direct = {(s, t): est.paths[0][i] for i, (s, t) in enumerate(lay.path_index)}
    rows = [
        {
            "source": lay.names[s],
            "target": lay.names[t],
            "direct": direct.get((s, t), 0.0),
            "indirect": total[s, t] - direct.get((s, t), 0.0),
            "total": total[s, t],
        }
        for s in range(len(lay.names))
        for t in range(len(lay.names))
        if reach[s, t]
    ]
    return pd.DataFrame(rows, columns=["source", "target", "direct", "indirect", "total"])


def _construct_table(model: CSIModel, lay: Layout, loadings: pd.DataFrame, r2: pd.Series) -> pd.DataFrame:
    by = loadings.groupby("construct", sort=False)
    table = pd.DataFrame(
        {
            "type": ["Endogenous" if n in r2.index else "Exogenous" for n in lay.names],
            "mode": [model.modes[n] for n in lay.names],
            "n_items": [len(model.constructs[n]) for n in lay.names],
            "r2": r2.reindex(list(lay.names)).to_numpy(),
            "communality": by["communality"].mean().reindex(list(lay.names)).to_numpy(),
            "mean_redundancy": by["redundancy"].mean().reindex(list(lay.names)).to_numpy(),
        },
        index=pd.Index(lay.names, name="construct"),
    )
    # AVE is defined for reflective (Mode A) blocks: with standardised loadings it is the mean communality
    table["ave"] = table["communality"].where(table["mode"] == "A")
    return table
