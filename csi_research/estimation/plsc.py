"""Consistent PLS (PLSc, Dijkstra & Henseler 2015) for reflective (Mode A) blocks.

Plain PLS composites contain their items' measurement error, so correlations between
composites, and the paths computed from them, are attenuated towards zero when the constructs
are common factors. PLSc keeps the PLS weights and corrects afterwards:

* per Mode A block with two or more items, with weights ``w`` on standardised items rescaled to
  a unit-variance composite and item correlations ``S``, ``c² = w'(S − diag S)w / w'(ww' −
  diag ww')w``; the consistent loadings are ``c·w`` and the consistent reliability is
  ``rho_A = (w'w)² c²`` (the same rho_A as :func:`csi_research.measurement.measurement_quality`);
* construct correlations are disattenuated, ``r_ij / sqrt(rho_A_i rho_A_j)``; Mode B and
  single-item blocks keep ``rho_A = 1`` (they are taken as measured without error);
* paths and R² are OLS on the corrected correlation matrix; total effects follow.

Scores and outer weights stay the PLS ones. Everything works on a batch of resamples, so
multi-group tests and resampling can use PLSc at the same cost as plain PLS.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from csi_research.errors import EstimationError
from csi_research.estimation.pls import Layout, PLSBatch, _solve


def consistent_batch(lay: Layout, est: PLSBatch, cov: np.ndarray) -> tuple[PLSBatch, np.ndarray]:
    """PLSc estimates of a batch: (corrected batch, rho_A ``(B, k)``).

    ``cov`` ``(B, p, p)`` are the item covariances the batch was estimated from. Loadings,
    latent correlations, paths, R² and total effects are replaced; a block whose rho_A cannot
    be computed (``c² ≤ 0``) gives NaN in everything it touches.
    """
    sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    corr = cov / (sd[:, :, None] * sd[:, None, :])
    std_w = est.raw_weights * sd  # weights on standardised items, whatever the fit's scaling
    bsz, k = est.paths.shape[0], len(lay.names)
    rho = np.ones((bsz, k))
    loadings = est.loadings.copy()
    for j, block in enumerate(lay.blocks):
        if lay.mode_b[j] or block.size < 2:
            continue
        w = std_w[:, block]
        r = corr[:, block[:, None], block]
        with np.errstate(invalid="ignore", divide="ignore"):
            w = w / np.sqrt(np.einsum("bi,bij,bj->b", w, r, w))[:, None]
            ww = (w**2).sum(axis=1)
            c2 = (1.0 - ww) / (ww**2 - (w**4).sum(axis=1))  # w'(S - diag S)w = 1 - w'w since diag S = 1
            c2 = np.where(c2 > 0, c2, np.nan)
        rho[:, j] = ww**2 * c2
        loadings[:, block] = np.sqrt(c2)[:, None] * w
    with np.errstate(invalid="ignore", divide="ignore"):
        r = est.latent_corr / np.sqrt(rho[:, :, None] * rho[:, None, :])
    idx = np.arange(k)
    r[:, idx, idx] = 1.0
    direct = np.zeros_like(r)
    r2 = np.full((bsz, lay.endogenous.size), np.nan)
    for e, j in enumerate(lay.endogenous):
        pred = lay.predecessors[j]
        a, b = r[:, pred[:, None], pred], r[:, pred, j][..., None]
        ok = np.isfinite(a).all(axis=(1, 2)) & np.isfinite(b).all(axis=(1, 2))
        beta = np.full((bsz, pred.size), np.nan)
        if ok.any():
            beta[ok] = _solve(a[ok], b[ok])[..., 0]
        direct[:, pred, j] = beta
        r2[:, e] = (beta * r[:, pred, j]).sum(axis=1)
    paths = direct[:, [s for s, _ in lay.path_index], [t for _, t in lay.path_index]]
    corrected = replace(
        est,
        loadings=loadings,
        latent_corr=r,
        paths=paths,
        r2=r2,
        total_effects=lay.model.total_effects(direct),
    )
    return corrected, rho


def consistent_fit(sample, lay: Layout, est: PLSBatch, cov: np.ndarray, scheme: str, scaled: bool,
                   tol: float, max_iter: int, diagnostics: list[str]):
    """The PLSFit of a single (B = 1) estimate, corrected by PLSc (called by ``fit_pls(consistent=True)``).

    Path standard errors, t and p values are left empty: the OLS formula does not hold for
    disattenuated correlations; bootstrap the PLSc estimates instead.
    """
    from csi_research.estimation.pls import _assemble

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
