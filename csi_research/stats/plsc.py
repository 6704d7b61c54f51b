"""Consistent PLS (PLSc, Dijkstra & Henseler 2015) for reflective (Mode A) blocks.

Plain PLS composites contain their items' measurement error, so correlations between
composites, and the paths computed from them, are attenuated towards zero when the constructs
are common factors. PLSc keeps the PLS weights and corrects afterwards:

* per Mode A block with two or more items, with weights ``w`` rescaled to a unit-variance
  composite and the items' moments ``S`` on the scale the weights were estimated on (item
  correlations for a scaled fit, covariances for a centred one: Mode A weights are proportional
  to the loadings on that scale only), ``c² = w'(S − diag S)w / w'(ww' − diag ww')w``; the
  consistent loadings are ``c·w`` (divided by the item sd for a centred fit, so they are
  standardised) and the consistent reliability is ``rho_A = (w'w)² c²`` (the same rho_A as
  :func:`csi_research.stats.measurement.measurement_quality`);
* construct correlations are disattenuated, ``r_ij / sqrt(rho_A_i rho_A_j)``; Mode B and
  single-item blocks keep ``rho_A = 1`` (they are taken as measured without error);
* paths and R² are OLS on the corrected correlation matrix; total effects follow.

Scores and outer weights stay the PLS ones. Everything works on a batch of resamples, so
multi-group tests and resampling can use PLSc at the same cost as plain PLS.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from csi_research.stats.pls_engine import Layout, PLSBatch, _solve


def consistent_batch(lay: Layout, est: PLSBatch, cov: np.ndarray) -> tuple[PLSBatch, np.ndarray]:
    """PLSc estimates of a batch: (corrected batch, rho_A ``(B, k)``).

    ``cov`` ``(B, p, p)`` are the item covariances the batch was estimated from. Loadings,
    latent correlations, paths, R² and total effects are replaced; a block whose rho_A cannot
    be computed (``c² ≤ 0``) gives NaN in everything it touches.
    """
    sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    # The correction holds on the scale the weights were estimated on: Mode A weights are proportional
    # to the loadings on that scale only (standardised items when scaled, the raw items when centred).
    # ``item_sd`` is the fit's divisor: the item sd when scaled, 1 when not.
    unit = est.item_sd
    s_fit = cov / (unit[:, :, None] * unit[:, None, :])
    fit_w = est.raw_weights * unit
    bsz, k = est.paths.shape[0], len(lay.names)
    rho = np.ones((bsz, k))
    loadings = est.loadings.copy()
    for j, block in enumerate(lay.blocks):
        if lay.mode_b[j] or block.size < 2:
            continue
        w = fit_w[:, block]
        s = s_fit[:, block[:, None], block]
        diag = np.diagonal(s, axis1=1, axis2=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            w = w / np.sqrt(np.einsum("bi,bij,bj->b", w, s, w))[:, None]  # a unit-variance composite
            ww = (w**2).sum(axis=1)
            off = 1.0 - (w**2 * diag).sum(axis=1)  # w'(S - diag S)w, as w'Sw = 1
            c2 = off / (ww**2 - (w**4).sum(axis=1))
            c2 = np.where(c2 > 0, c2, np.nan)
        rho[:, j] = ww**2 * c2
        # c·w are the consistent loadings on the fit's scale; on the standardised scale divide by the sd
        loadings[:, block] = np.sqrt(c2)[:, None] * w * (unit[:, block] / sd[:, block])
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
