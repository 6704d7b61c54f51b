"""Measurement quality: reliability, convergent and discriminant validity, collinearity.

Thresholds used in the diagnostics (Hair et al.; Henseler et al. 2015): Cronbach's alpha and
rho_C ≥ 0.7, AVE ≥ 0.5, HTMT < 0.85 (strict) or < 0.90 (liberal), VIF < 5.

Where the numbers come from
---------------------------
* alpha, HTMT and HTMT2 need only the item correlations; they equal semTools' ``reliability`` and
  ``htmt`` (``htmt2 = FALSE`` / ``TRUE``).
* rho_C, AVE, rho_A, Fornell–Larcker and VIF use a PLS fit (loadings = correlations of the items
  with the composite scores), as SmartPLS/seminr report them. semTools computes omega (rho_C) and
  AVE from the CFA loadings instead. PLS loadings correlate each item with a composite that
  contains the item itself and its error, so they are larger than the factor loadings and PLS rho_C
  and AVE are biased upwards (typically by 0.01-0.1 for blocks of 3-5 items); the gap shrinks as
  blocks get longer. Pass ``cbsem=`` (a :func:`fit_cbsem` result) to get the CFA-based values too
  (columns ``rho_c_cfa``, ``ave_cfa``), which match semTools.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from csi_research.core.diagnostics import public
from csi_research.model import CSIModel

if TYPE_CHECKING:
    from csi_research.stats.cbsem import CBSEMFit
    from csi_research.stats.pls import PLSFit

ALPHA_MIN = 0.7
RHO_C_MIN = 0.7
AVE_MIN = 0.5
HTMT_STRICT = 0.85
HTMT_LIBERAL = 0.90
VIF_MAX = 5.0


@dataclass(frozen=True)
class MeasurementQuality:
    """Result of :func:`measurement_quality`."""

    model: CSIModel
    reliability: pd.DataFrame
    htmt: pd.DataFrame
    htmt2: pd.DataFrame
    fornell_larcker: pd.DataFrame
    cross_loadings: pd.DataFrame
    indicator_vif: pd.DataFrame
    inner_vif: pd.DataFrame
    diagnostics: list[str]

    def summary(self) -> dict[str, pd.DataFrame]:
        """Tables with the thresholds they are judged against."""
        thresholds = pd.DataFrame(
            {
                "criterion": ["Cronbach's alpha", "rho_C (composite reliability)", "AVE",
                              "HTMT", "HTMT", "VIF (indicators and inner model)"],
                "rule": [f">= {ALPHA_MIN}", f">= {RHO_C_MIN}", f">= {AVE_MIN}",
                         f"< {HTMT_STRICT} (strict)", f"< {HTMT_LIBERAL} (liberal)", f"< {VIF_MAX}"],
                "meaning": ["internal consistency", "internal consistency (weighted)",
                            "convergent validity: the construct explains half its items' variance",
                            "discriminant validity between two constructs", "discriminant validity",
                            "no harmful collinearity"],
            }
        )
        return {
            "thresholds": thresholds,
            "reliability": self.reliability,
            "htmt": self.htmt,
            "htmt2": self.htmt2,
            "fornell_larcker": self.fornell_larcker,
            "indicator_vif": self.indicator_vif,
            "inner_vif": self.inner_vif,
            "diagnostics": pd.DataFrame({"diagnostic": self.diagnostics or ["none"]}),
        }


@public
def measurement_quality(pls: PLSFit, cbsem: CBSEMFit | None = None) -> MeasurementQuality:
    """Reliability and validity of every block of a PLS fit, on the fit's own sample.

    Item correlations and covariances are the sample's (weighted, with EM the ML) moments, so
    every number stands on the respondents the fit used. ``cbsem`` adds the CFA-based rho_C/AVE.
    """
    model = pls.model
    cov, corr = pls.sample.cov.to_numpy(), pls.sample.corr.to_numpy()
    sd = np.sqrt(np.diag(cov))
    index = {item: i for i, item in enumerate(model.items)}
    blocks = [np.array([index[i] for i in items]) for items in model.constructs.values()]
    names = model.names

    loading = pls.loadings.set_index("item")["loading"].reindex(model.items).to_numpy()
    # rho_A on the scale the weights were estimated on (see csi_research.stats.plsc): standardised
    # items for a scaled fit, the raw items for a centred one
    unit = sd if pls.scaled else np.ones_like(sd)
    fit_weight = pls.raw_weights().reindex(model.items).to_numpy() * unit
    fit_moments = cov / np.outer(unit, unit)
    rows = []
    for name, block in zip(names, blocks, strict=True):
        lam = loading[block]
        rows.append(
            {
                "construct": name,
                "n_items": len(block),
                "alpha": _alpha(cov[np.ix_(block, block)]),
                "rho_c": _rho_c(lam) if len(block) > 1 else np.nan,
                "rho_a": _rho_a(fit_weight[block], fit_moments[np.ix_(block, block)]),
                "ave": float(np.mean(lam**2)) if len(block) > 1 else np.nan,
            }
        )
    rel = pd.DataFrame(rows).set_index("construct")
    if cbsem is not None:
        rel = rel.join(_cfa_reliability(model, cbsem))
    rel["alpha_ok"] = rel["alpha"] >= ALPHA_MIN
    rel["rho_c_ok"] = rel["rho_c"] >= RHO_C_MIN
    rel["ave_ok"] = rel["ave"] >= AVE_MIN

    htmt = pd.DataFrame(htmt_from_corr(corr, blocks, "htmt"), index=names, columns=names)
    htmt2 = pd.DataFrame(htmt_from_corr(corr, blocks, "htmt2"), index=names, columns=names)
    lv_corr = pls.latent_corr.loc[names, names].to_numpy()
    fl_values = lv_corr.copy()
    np.fill_diagonal(fl_values, np.sqrt(rel["ave"].to_numpy()))
    fl = pd.DataFrame(fl_values, index=names, columns=names)
    indicator_vif = _indicator_vif(model, corr, blocks)
    inner_vif = _inner_vif(model, fl.index, lv_corr)
    return MeasurementQuality(
        model=model,
        reliability=rel,
        htmt=htmt,
        htmt2=htmt2,
        fornell_larcker=fl,
        cross_loadings=pls.cross_loadings,
        indicator_vif=indicator_vif,
        inner_vif=inner_vif,
        diagnostics=_diagnostics(model, rel, htmt, fl, indicator_vif, inner_vif),
    )


def htmt_from_corr(
    corr: np.ndarray, blocks: list[np.ndarray], kind: Literal["htmt", "htmt2"] = "htmt"
) -> np.ndarray:
    """HTMT matrix from item correlations, for one (p, p) or a batch (B, p, p) of matrices.

    ``kind="htmt"`` uses arithmetic means of absolute correlations (Henseler et al. 2015),
    ``"htmt2"`` geometric means (Roemer et al. 2021). A one-item block has no monotrait
    correlations; its monotrait mean is taken as 1 (the item is its own perfect indicator).
    """
    if kind not in ("htmt", "htmt2"):
        raise ValueError(f"kind must be 'htmt' or 'htmt2', not {kind!r}")
    a = np.abs(np.asarray(corr, dtype=float))
    single = a.ndim == 2
    if single:
        a = a[None]
    with np.errstate(divide="ignore"):
        values = np.log(a) if kind == "htmt2" else a

    def mean(v: np.ndarray) -> np.ndarray:
        m = v.mean(axis=-1)
        return np.exp(m) if kind == "htmt2" else m

    k = len(blocks)
    mono = np.ones((a.shape[0], k))
    for i, b in enumerate(blocks):
        if len(b) > 1:
            iu = np.triu_indices(len(b), 1)
            mono[:, i] = mean(values[:, b[:, None], b[None, :]][:, iu[0], iu[1]])
    out = np.ones((a.shape[0], k, k))
    for i in range(k):
        for j in range(i + 1, k):
            het = mean(values[:, blocks[i][:, None], blocks[j][None, :]].reshape(a.shape[0], -1))
            out[:, i, j] = out[:, j, i] = het / np.sqrt(mono[:, i] * mono[:, j])
    return out[0] if single else out


# ----------------------------------------------------------------------------- reliability
def _alpha(cov: np.ndarray) -> float:
    """Cronbach's (raw) alpha from the block's item covariances, as semTools reports it."""
    k = cov.shape[0]
    if k < 2:
        return np.nan
    return float(k / (k - 1) * (1 - np.trace(cov) / cov.sum()))


def _rho_c(lam: np.ndarray) -> float:
    s = lam.sum() ** 2
    return float(s / (s + np.sum(1 - lam**2)))


def _rho_a(w: np.ndarray, r: np.ndarray) -> float:
    """Dijkstra–Henseler rho_A from weights and item moments on one scale (rescaled to a unit-variance
    composite)."""
    if len(w) < 2:
        return np.nan
    w = w / np.sqrt(w @ r @ w)
    off = r - np.diag(np.diag(r))
    ww = np.outer(w, w)
    return float((w @ w) ** 2 * (w @ off @ w) / (w @ (ww - np.diag(np.diag(ww))) @ w))


def _cfa_reliability(model: CSIModel, cbsem: CBSEMFit) -> pd.DataFrame:
    """semTools' omega and AVE from the CB-SEM loadings, latent variances and error variances."""
    est = cbsem.estimates
    lam = est[est["op"] == "=~"].set_index(["lhs", "rhs"])["est"]
    theta = est[(est["op"] == "~~") & (est["lhs"] == est["rhs"])].set_index("lhs")["est"]
    rows = {}
    for name, items in model.constructs.items():
        loadings = lam.loc[name].reindex(list(items)).to_numpy()
        psi = cbsem.latent_cov.loc[name, name]
        errors = theta.reindex(list(items)).to_numpy()
        true = loadings.sum() ** 2 * psi
        rows[name] = {
            "rho_c_cfa": true / (true + errors.sum()),
            "ave_cfa": np.sum(loadings**2 * psi) / np.sum(loadings**2 * psi + errors),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


# ----------------------------------------------------------------------------- collinearity
def _vif(r: np.ndarray) -> np.ndarray:
    """VIF of each variable given the others: the diagonal of the inverse correlation matrix."""
    return np.diag(np.linalg.pinv(r)) if r.shape[0] > 1 else np.ones(r.shape[0])


def _indicator_vif(model: CSIModel, corr: np.ndarray, blocks: list[np.ndarray]) -> pd.DataFrame:
    rows = [
        {"construct": name, "item": model.items[i], "vif": v}
        for name, block in zip(model.names, blocks, strict=True)
        if model.modes[name] == "B"
        for i, v in zip(block, _vif(corr[np.ix_(block, block)]), strict=True)
    ]
    return pd.DataFrame(rows, columns=["construct", "item", "vif"])


def _inner_vif(model: CSIModel, names: pd.Index, lv_corr: np.ndarray) -> pd.DataFrame:
    pos = {n: i for i, n in enumerate(names)}
    rows = []
    for target in model.endogenous:
        preds = model.predecessors(target)
        idx = [pos[p] for p in preds]
        for p, v in zip(preds, _vif(lv_corr[np.ix_(idx, idx)]), strict=True):
            rows.append({"target": target, "predictor": p, "vif": v})
    return pd.DataFrame(rows, columns=["target", "predictor", "vif"])


# ----------------------------------------------------------------------------- verdicts
def _diagnostics(
    model: CSIModel,
    rel: pd.DataFrame,
    htmt: pd.DataFrame,
    fl: pd.DataFrame,
    indicator_vif: pd.DataFrame,
    inner_vif: pd.DataFrame,
) -> list[str]:
    out = []
    reflective = [n for n in model.names if model.modes[n] == "A" and rel.loc[n, "n_items"] > 1]
    for name in reflective:
        row = rel.loc[name]
        low = [f"{label} {row[col]:.3f} < {limit}" for col, label, limit in
               (("alpha", "alpha", ALPHA_MIN), ("rho_c", "rho_C", RHO_C_MIN), ("ave", "AVE", AVE_MIN))
               if row[col] < limit]
        if low:
            out.append(
                f"construct {name}: {', '.join(low)}; its items do not measure one thing consistently: "
                "inspect the loadings and drop or reword weak items"
            )
    names = model.names
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            h = htmt.loc[a, b]
            if h >= HTMT_STRICT:
                level = "above the liberal 0.90" if h >= HTMT_LIBERAL else "above the strict 0.85"
                out.append(
                    f"HTMT {a}–{b} = {h:.3f} ({level} limit): the two constructs are not clearly distinct "
                    "(discriminant validity); consider merging them or revising their items"
                )
            if abs(fl.loc[a, b]) > min(fl.loc[a, a], fl.loc[b, b]):
                out.append(
                    f"Fornell–Larcker: the correlation of {a} and {b} ({fl.loc[a, b]:.3f}) exceeds the "
                    "square root of the AVE of one of them: they share more variance with each other "
                    "than with their own items"
                )
    for table, what in ((indicator_vif, "item {item} of {construct}"),
                        (inner_vif, "predictor {predictor} of {target}")):
        for row in table[table["vif"] >= VIF_MAX].to_dict("records"):
            out.append(
                f"VIF of {what.format(**row)} is {row['vif']:.2f} (>= {VIF_MAX}): collinearity inflates "
                "its weight or path and its standard error; merge or drop redundant items/constructs"
            )
    return out
