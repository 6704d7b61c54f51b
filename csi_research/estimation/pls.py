"""PLS path modelling (Lohmöller/Wold), computed on covariance matrices so resamples batch.

Every quantity PLS-PM reports is a function of the items' covariance matrix (plus n), so one
engine works on a stack ``(B, p, p)`` of covariance matrices: a single fit is B = 1, and a
bootstrap or jackknife expresses each resample as a count vector over respondents whose
weighted moments are one matrix product away. The numerical conventions are those of R
``plspm`` (population variances, its convergence rule and its scaling of Mode A updates) so
results agree with it to rounding error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from csi_research import options
from csi_research.diagnostics import public
from csi_research.errors import EstimationError
from csi_research.model import CSIModel
from csi_research.sample import OnSample, Sample, check_constant, rows_received, sample_of

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


# ---------------------------------------------------------------------------- the single fit
@dataclass(frozen=True)
class PLSFit(OnSample):
    """A fitted PLS path model (tables follow plspm's outputs, with English column names).

    ``sample`` is the prepared sample it was estimated on; every later step (indices, IPMA,
    measurement quality, bootstrap, segments) reads the respondents, weights and settings from it.
    """

    sample: Sample
    scheme: str
    scaled: bool
    tol: float
    max_iter: int
    weights: pd.DataFrame
    loadings: pd.DataFrame
    cross_loadings: pd.DataFrame
    scores: pd.DataFrame
    paths: pd.DataFrame
    r2: pd.Series
    r2_adj: pd.Series
    effects: pd.DataFrame
    constructs: pd.DataFrame
    latent_corr: pd.DataFrame
    gof: float
    iterations: int
    item_mean: pd.Series
    item_sd: pd.Series
    diagnostics: list[str] = field(default_factory=list)
    consistent: bool = False  # PLSc (see estimation/plsc.py): corrected loadings, correlations, paths

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
                "sample": self.sample.describe(),
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


@public
def fit_pls(
    model: CSIModel | Sample,
    data: Any = None,
    scheme: Scheme = "path",
    scaled: bool = True,
    *,
    missing: str | None = None,
    weights: Any = None,
    tol: float = 1e-6,
    max_iter: int = 100,
    consistent: bool = False,
) -> PLSFit:
    """Estimate the model by PLS path modelling (Lohmöller's algorithm, as R plspm).

    Give a model and its data (a Survey or DataFrame, prepared here with ``missing`` and survey
    ``weights``, see :func:`csi_research.sample.prepare`), or a prepared :class:`Sample` alone.
    ``scaled=True`` standardises the items (population sd); ``scaled=False`` only centres them,
    so the weights apply to the raw item scale. Latent scores have unit (weighted) variance.
    ``consistent=True`` corrects reflective blocks by PLSc (:mod:`csi_research.estimation.plsc`).
    """
    scheme = options.choice(scheme, options.SCHEMES, "scheme")
    (model.model if isinstance(model, Sample) else model).require_paths("PLS path modelling")
    if (rows := rows_received(model, data)) is not None:  # before preparing: size is the real problem
        require_respondents(model, rows, str(getattr(data, "source", "data")))
    sample = sample_of(model, data, missing=missing, weights=weights)
    require_respondents(sample.model, sample.n, sample.source)
    check_constant(sample.x, sample.source)  # a Sample not made by prepare may hold one
    lay = Layout.of(sample.model)
    mean, cov, size = sample.moments(np.ones((1, sample.n)))
    est = pls_from_moments(lay, mean, cov, size, scheme, scaled, tol, max_iter)
    if not est.converged[0]:
        _not_converged(lay, est, cov[0], tol, max_iter)
    diagnostics = list(sample.diagnostics) + [
        f"construct {lay.names[j]}: most items correlate negatively with the composite, so its sign "
        "was reversed (as plspm does); check for reverse-coded items"
        for j in np.flatnonzero(est.flipped[0])
    ]
    if consistent:
        from csi_research.estimation.plsc import consistent_fit

        return consistent_fit(sample, lay, est, cov[0], scheme, scaled, tol, max_iter, diagnostics)
    return _assemble(sample, lay, est, scheme, scaled, tol, max_iter, diagnostics)


ITEM_MARGIN = 10  # respondents beyond the number of items, so the item correlations are well estimated


def minimum_respondents(model: CSIModel) -> tuple[int, str, int]:
    """Respondents PLS needs for ``model``, the construct with most arrows into it and their number.

    The "10-times rule" (Hair et al.): 10 × the largest number of arrows pointing at a construct
    (structural paths into it; for a formative block also its indicators), and at least
    :data:`ITEM_MARGIN` more respondents than items.
    """
    arrows = {n: max(len(model.predecessors(n)), len(items) if model.modes[n] == "B" else 0)
              for n, items in model.constructs.items()}
    busiest = max(arrows, key=lambda n: arrows[n])
    return max(10 * arrows[busiest], len(model.items) + ITEM_MARGIN), busiest, arrows[busiest]


def require_respondents(model: CSIModel, n: int, source: str) -> None:
    """Refuse a sample too small for PLS estimation of ``model`` (see :func:`minimum_respondents`)."""
    needed, busiest, arrows = minimum_respondents(model)
    if n < needed:
        raise EstimationError(
            f"{source}: {n} respondents are too few to estimate this model by PLS: it needs at least "
            f"{needed} (10 per arrow into {busiest}, which has {arrows}, and {ITEM_MARGIN} more than its "
            f"{len(model.items)} items); survey more respondents, pool waves or regions, or drop items "
            "or paths"
        )


def _not_converged(lay: Layout, est: PLSBatch, cov: np.ndarray, tol: float, max_iter: int) -> None:
    """Why the iterations stopped without converging: a singular system, or too few iterations."""
    weights = est.weights[0]
    broken = [lay.names[j] for j, block in enumerate(lay.blocks) if not np.isfinite(weights[block]).all()]
    if broken or not np.isfinite(est.change[0]):
        # a NaN spreads to every block through the inner weights: name the formative blocks that caused it
        singular = [lay.names[j] for j in np.flatnonzero(lay.mode_b)
                    if _singular(cov[np.ix_(lay.blocks[j], lay.blocks[j])])]
        raise EstimationError(
            f"PLS could not compute the outer weights of {', '.join(singular or broken or lay.names)}: a "
            "linear system in the algorithm is singular because the items of a formative (Mode B) block, "
            "or the constructs predicting one construct, are (nearly) collinear; drop near-duplicate items "
            "or constructs, or estimate the block in Mode A"
        )
    more = max(300, 3 * max_iter)
    raise EstimationError(
        f"PLS did not converge in {max_iter} iterations (last change in outer weights {est.change[0]:.3g}, "
        f"tolerance {tol:g}): the weights were still moving; raise max_iter (e.g. to {more}) or loosen "
        "tol, and if it still fails look for a block whose items barely correlate with each other or "
        "with its neighbours, or try scheme='factorial' or 'centroid'"
    )


def _singular(cov: np.ndarray) -> bool:
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(sd, sd)
    if not np.isfinite(corr).all():
        return True
    eig = np.linalg.eigvalsh(corr)
    return bool(eig[0] <= 1e-10 * eig[-1])


def _assemble(sample, lay, est, scheme, scaled, tol, max_iter, diagnostics) -> PLSFit:
    model, names, items = sample.model, list(lay.names), list(lay.items)
    n = sample.n
    block_of = [lay.names[int(np.argmax(lay.mask[i]))] for i in range(len(items))]
    endo = [lay.names[j] for j in lay.endogenous]
    r2 = pd.Series(est.r2[0], index=endo, name="r2")
    n_pred = pd.Series({t: len(lay.predecessors[j]) for j, t in zip(lay.endogenous, endo, strict=True)})
    r2_adj = (1 - (1 - r2) * (n - 1) / (n - n_pred - 1)).rename("r2_adj")

    mean = pd.Series(est.item_mean[0], index=items, name="mean")
    sd = pd.Series(est.item_sd[0], index=items, name="sd")
    raw_w = est.raw_weights[0][:, None] * lay.mask
    x = sample.x
    scores = pd.DataFrame((x.to_numpy() - mean.to_numpy()) @ raw_w, index=x.index, columns=names)

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
        sample=sample,
        scheme=scheme,
        scaled=scaled,
        tol=tol,
        max_iter=max_iter,
        weights=weights,
        loadings=loadings,
        cross_loadings=cross,
        scores=scores,
        paths=paths,
        r2=r2,
        r2_adj=r2_adj,
        effects=effects,
        constructs=constructs,
        latent_corr=pd.DataFrame(est.latent_corr[0], index=names, columns=names),
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
    pos = {name: j for j, name in enumerate(lay.names)}
    direct = {(lay.names[s], lay.names[t]): est.paths[0][i] for i, (s, t) in enumerate(lay.path_index)}
    rows = [
        {
            "source": s,
            "target": t,
            "direct": direct.get((s, t), 0.0),
            "indirect": total[pos[s], pos[t]] - direct.get((s, t), 0.0),
            "total": total[pos[s], pos[t]],
        }
        for s, t in lay.model.effect_pairs()
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
