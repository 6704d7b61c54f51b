"""Effect sizes and specific indirect effects of a structural model, batched over resamples.

* **f²** (Cohen 1988) of a path i → t: ``(R²_incl − R²_excl) / (1 − R²_incl)``, where R²_excl is the
  R² of t regressed on its other predictors, on the same construct scores (the convention of
  SmartPLS's f² table; seminr's ``fSquared`` re-estimates the model without the path instead). For
  standardised predictors the R² lost by dropping i is ``β_i² / [R_PP⁻¹]_ii`` (R_PP the
  correlations of t's predictors), so f² comes in closed form from the batch's construct
  correlations and paths: PLS, PLSc (its disattenuated correlations) and every resample alike.
* **Specific indirect effects**: every directed chain of two or more paths from a construct to
  another (Quality → Value → Satisfaction), the product of its path coefficients. Their sum over
  the chains of a pair is the pair's total indirect effect.

Cohen's thresholds for f² (0.02 small, 0.15 medium, 0.35 large) label the sizes.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from csi_research.model import CSIModel

F2_SIZES = ((0.35, "large"), (0.15, "medium"), (0.02, "small"))  # Cohen (1988)


def chains(model: CSIModel) -> list[tuple[str, ...]]:
    """Every directed chain of at least two paths (source, mediators…, target), ordered by source,
    target and then chain, in the model's construct order."""
    out: list[tuple[str, ...]] = []

    def extend(chain: tuple[str, ...]) -> None:
        for source, target in model.paths:
            if source == chain[-1]:
                longer = (*chain, target)
                if len(longer) >= 3:
                    out.append(longer)
                extend(longer)

    for start in model.names:
        extend((start,))
    rank = {name: k for k, name in enumerate(model.names)}
    return sorted(out, key=lambda c: (rank[c[0]], rank[c[-1]], [rank[n] for n in c[1:-1]]))


def chain_positions(model: CSIModel, found: list[tuple[str, ...]]) -> list[list[int]]:
    """For each chain, the positions of its paths in ``model.paths``."""
    where = {path: k for k, path in enumerate(model.paths)}
    return [[where[(a, b)] for a, b in itertools.pairwise(c)] for c in found]


def indirect_from_paths(paths: np.ndarray, positions: list[list[int]]) -> np.ndarray:
    """Specific indirect effects ``(B, chains)`` from path coefficients ``(B, m)``."""
    paths = np.atleast_2d(paths)
    if not positions:
        return np.empty((paths.shape[0], 0))
    return np.stack([np.prod(paths[:, p], axis=1) for p in positions], axis=1)


def f2_from_batch(model: CSIModel, latent_corr: np.ndarray, paths: np.ndarray, r2: np.ndarray) -> np.ndarray:
    """f² of every path ``(B, m)`` (model.paths order) from the construct correlations ``(B, k, k)``,
    the paths ``(B, m)`` and the R² ``(B, e)`` of the endogenous constructs (model.endogenous order)."""
    names = model.names
    out = np.full(paths.shape, np.nan)
    for e, target in enumerate(model.endogenous):
        rows = [k for k, (_, t) in enumerate(model.paths) if t == target]
        columns = [names.index(model.paths[k][0]) for k in rows]
        block = latent_corr[:, columns][:, :, columns]
        with np.errstate(invalid="ignore", divide="ignore"):
            inverse = np.linalg.inv(block)
            lost = paths[:, rows] ** 2 / np.diagonal(inverse, axis1=1, axis2=2)
            out[:, rows] = lost / (1.0 - r2[:, [e]])
    return out


def f2_size(value: float) -> str:
    """Cohen's label of an f²: large, medium, small or none."""
    for bound, label in F2_SIZES:
        if value >= bound:
            return label
    return "none"


def f_squared(fit: Any) -> pd.DataFrame:
    """f² effect size of every structural path of a PLS fit (plain or consistent).

    Columns: source, target, f2, r2_included, r2_excluded, size (Cohen: none < 0.02 ≤ small < 0.15
    ≤ medium < 0.35 ≤ large). Computed on the fit's own construct scores and survey weights; for
    a PLSc fit on its disattenuated construct correlations. Bootstrap intervals: the ``f2`` rows
    of :func:`~csi_research.stats.bootstrap.bootstrap`.
    """
    model = fit.model
    corr = fit.latent_corr.loc[model.names, model.names].to_numpy(dtype=float)[None]
    paths = fit.paths.set_index(["source", "target"])["estimate"].reindex(model.paths).to_numpy(float)[None]
    r2 = fit.r2.reindex(model.endogenous).to_numpy(dtype=float)[None]
    f2 = f2_from_batch(model, corr, paths, r2)[0]
    included = fit.r2.reindex([t for _, t in model.paths]).to_numpy(dtype=float)
    table = pd.DataFrame({
        "source": [s for s, _ in model.paths],
        "target": [t for _, t in model.paths],
        "f2": f2,
        "r2_included": included,
        "r2_excluded": included - f2 * (1.0 - included),
    })
    table["size"] = [f2_size(v) if np.isfinite(v) else "" for v in f2]
    return table


# ---------------------------------------------------------------------------- mediation
MEDIATION_TYPES = ("complementary", "competitive", "indirect-only", "direct-only", "no effect")
INTERVALS = {"percentile": ("ci_lower", "ci_upper"), "bca": ("bca_lower", "bca_upper")}


def mediation_type(indirect: float, indirect_significant: bool, direct: float,
                   direct_significant: bool) -> str:
    """Zhao, Lynch & Chen (2010): complementary or competitive mediation (both effects significant,
    of the same or opposite sign), indirect-only (full mediation), direct-only (no mediation) or
    no effect. A direct path the model does not have counts as not significant."""
    if indirect_significant and direct_significant:
        return "complementary" if indirect * direct > 0 else "competitive"
    if indirect_significant:
        return "indirect-only"
    return "direct-only" if direct_significant else "no effect"


def _excludes_zero(lower: Any, upper: Any) -> np.ndarray:
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    return (lower > 0) | (upper < 0)


def indirect_effects(boot: Any, interval: str = "percentile") -> pd.DataFrame:
    """Every specific indirect effect of a bootstrap result, the direct effect beside it, and the
    mediation type (:func:`mediation_type`).

    ``boot``: a :class:`~csi_research.stats.bootstrap.BootstrapResult` of a PLS or CB-SEM fit; the
    indirect effects were computed on the same resamples as the paths, so their intervals (percentile
    and, where the bootstrap computed them, BCa, at the bootstrap's level) and the paths' are one
    resampling. ``interval`` ("percentile" or "bca") is the one whose exclusion of zero makes an
    effect significant. Columns: source, via (the mediators, in order), target, estimate, se,
    ci_lower, ci_upper, bca_lower, bca_upper, direct (NaN when the model has no direct path), its
    interval, indirect_significant, direct_significant, type, level.
    """
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, not {interval!r}")
    table = boot.estimates
    rows = table[table["statistic"] == "indirect_effect"]
    if rows.empty:
        return pd.DataFrame(columns=["source", "via", "target", "estimate", "type"])
    low, high = INTERVALS[interval]
    if rows[low].isna().all():
        raise ValueError(f"this bootstrap has no {interval} intervals; use interval='percentile' "
                         "or bootstrap with bca=True")
    direct = table[table["statistic"] == "path"].set_index(["source", "target"])
    keys = list(zip(rows["source"], rows["target"], strict=True))
    found = direct.reindex(keys)
    out = rows[["source", "via", "target", "estimate", "se", "ci_lower", "ci_upper", "bca_lower",
                "bca_upper"]].reset_index(drop=True)
    out["direct"] = found["estimate"].to_numpy(dtype=float)
    out["direct_ci_lower"] = found[low].to_numpy(dtype=float)
    out["direct_ci_upper"] = found[high].to_numpy(dtype=float)
    out["indirect_significant"] = _excludes_zero(rows[low], rows[high])
    out["direct_significant"] = _excludes_zero(out["direct_ci_lower"], out["direct_ci_upper"])
    out["type"] = [mediation_type(i, si, d, sd) for i, si, d, sd in zip(
        out["estimate"], out["indirect_significant"], out["direct"], out["direct_significant"], strict=True)]
    out["level"] = boot.ci
    return out
