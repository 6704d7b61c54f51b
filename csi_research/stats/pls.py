"""PLS path modelling: the fit of one prepared sample (tables as plspm reports them), plain or consistent.

The numbers come from the batched engine (:mod:`csi_research.stats.pls_engine`) at B = 1; with
``consistent=True`` the PLSc correction (:mod:`csi_research.stats.plsc`) is applied to that batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from csi_research.core import options
from csi_research.core.diagnostics import public
from csi_research.core.errors import EstimationError
from csi_research.data.sample import OnSample, Sample, check_constant, rows_received, sample_of
from csi_research.model import CSIModel
from csi_research.stats.higher_order import first_stage_sample, higher_order_sample
from csi_research.stats.pls_engine import Layout, PLSBatch, Scheme, pls_from_moments
from csi_research.stats.plsc import consistent_batch


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
    consistent: bool = False  # PLSc (see stats/plsc.py): corrected loadings, correlations, paths
    first_stage: PLSFit | None = None  # two-stage higher-order model: stage 1 (its components' blocks)

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
    ``weights``, see :func:`csi_research.data.sample.prepare`), or a prepared :class:`Sample` alone.
    ``scaled=True`` standardises the items (population sd); ``scaled=False`` only centres them,
    so the weights apply to the raw item scale. Latent scores have unit (weighted) variance.
    ``consistent=True`` corrects reflective blocks by PLSc (:mod:`csi_research.stats.plsc`).
    """
    scheme = options.choice(scheme, options.SCHEMES, "scheme")
    (model.model if isinstance(model, Sample) else model).require_paths("PLS path modelling")
    if (rows := rows_received(model, data)) is not None:  # before preparing: size is the real problem
        require_respondents(model, rows, str(getattr(data, "source", "data")))
    sample = sample_of(model, data, missing=missing, weights=weights)
    require_respondents(sample.model, sample.n, sample.source)
    check_constant(sample.x, sample.source)  # a Sample not made by prepare may hold one
    first = None
    if sample.model.higher_order:  # estimated as a first-order model on a transformed sample
        sample = higher_order_sample(sample, scheme, scaled, tol, max_iter)
        if sample.stage1 is not None:  # two-stage: stage 1's fit, for its measurement model
            first = fit_pls(first_stage_sample(sample.first), scheme=scheme, scaled=scaled, tol=tol,
                            max_iter=max_iter)
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
    if consistent and sample.model is not getattr(sample, "declared", sample.model) and first is None:
        diagnostics.append(
            "PLSc with repeated indicators: a higher-order block repeats its components' items, so their "
            "measurement errors are shared between blocks and PLSc's correction does not hold for it; "
            "estimate the higher-order construct by the two-stage method or report plain PLS"
        )
    if consistent:
        fit = _consistent_fit(sample, lay, est, cov[0], scheme, scaled, tol, max_iter, diagnostics)
    else:
        fit = _assemble(sample, lay, est, scheme, scaled, tol, max_iter, diagnostics)
    return replace(fit, first_stage=first) if first is not None else fit


def _consistent_fit(sample, lay: Layout, est: PLSBatch, cov: np.ndarray, scheme: str, scaled: bool,
                   tol: float, max_iter: int, diagnostics: list[str]):
    """The PLSFit of a single (B = 1) estimate, corrected by PLSc (called by ``fit_pls(consistent=True)``).

    Path standard errors, t and p values are left empty: the OLS formula does not hold for
    disattenuated correlations; bootstrap the PLSc estimates instead.
    """
    corrected, rho = consistent_batch(lay, est, cov[None])
    bad = [lay.names[j] for j in range(len(lay.names)) if not np.isfinite(rho[0, j])]
    if bad:
        raise EstimationError(
            f"consistent PLS cannot correct {', '.join(bad)}: the composite weights and the item "
            "correlations of the block give no positive reliability (rho_A); its items do not measure one "
            "common factor (check for a reverse-coded or unrelated item), or estimate with plain PLS"
        )
    notes = list(diagnostics)
    for j in np.flatnonzero(rho[0] > 1):
        notes.append(
            f"construct {lay.names[j]}: consistent reliability rho_A = {rho[0, j]:.3f} exceeds 1, so "
            "PLSc inflates its correlations; its items do not fit one common factor: check the block's "
            "items or report plain PLS"
        )
    r = corrected.latent_corr[0]
    iu = np.triu_indices(len(lay.names), 1)
    worst = int(np.argmax(np.abs(r[iu])))
    eig = np.linalg.eigvalsh(r)
    if abs(r[iu][worst]) > 1 or eig[0] <= 0:
        a, b = lay.names[iu[0][worst]], lay.names[iu[1][worst]]
        notes.append(
            f"PLSc: the disattenuated construct correlations are not a valid correlation matrix (largest "
            f"|r| = {abs(r[iu][worst]):.3f}, between {a} and {b}); the PLSc paths are not admissible: the "
            "constructs are not distinct or a block is unreliable; report plain PLS"
        )
    fit = _assemble(sample, lay, corrected, scheme, scaled, tol, max_iter, notes)
    paths = fit.paths.assign(std_error=np.nan, t=np.nan, p_value=np.nan)
    constructs = fit.constructs.assign(rho_a=rho[0])
    return replace(fit, paths=paths, constructs=constructs, consistent=True)


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
