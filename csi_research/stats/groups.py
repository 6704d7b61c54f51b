"""Comparing groups of one PLS study: MICOM, permutation MGA and bootstrap (Henseler) MGA.

Groups are values of a column of the fit's prepared sample (region, wave, customer class, ...),
so every group stands on the same respondents, item treatment (missing data, survey weights,
scaling) and algorithm settings as the pooled fit. Group moments are weighted sums over the
group's respondents (survey weights and EM terms included); a permutation or a bootstrap
resample is a row of weights, so thousands of them are estimated by one batched PLS call per
group per chunk. With ``fit_pls(..., consistent=True)`` every group estimate is PLSc.

* :func:`micom` — measurement invariance of composites (Henseler, Ringle & Sarstedt 2016),
  steps 1-3 for every pair of groups.
* :func:`permutation_mga` — permutation test of group differences in paths, total effects
  and R² (Chin & Dibbern 2010).
* :func:`bootstrap_mga` — Henseler's PLS-MGA (Henseler 2009; Sarstedt et al. 2011) from the
  bootstrap distributions of both groups.
* :func:`micom_and_mga` — the first two from one set of permuted group fits (the costly part),
  as when each is called with the same seed.

Pairs of groups are tested with permutations among the respondents of the two groups only.
Multiplicity: MICOM uses Bonferroni across the pairs of groups (per construct and step, so the
permutation intervals and the decisions agree); the MGA functions use Holm across every path ×
pair (separately for total effects and for R² when asked for).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.diagnostics import public
from csi_research.core.errors import EstimationError, ModelSpecError
from csi_research.data.sample import check_constant
from csi_research.stats.pls import require_respondents
from csi_research.stats.pls_engine import Layout, PLSBatch, pls_from_moments

ALPHA = 0.05
CHUNK = 500  # permutations or resamples per batched PLS call


# ---------------------------------------------------------------------------- helpers
def holm(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values (NaN entries are left out of the family and stay NaN)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adjusted, 1.0)
    return out


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check_count(value: Any, name: str, minimum: int = 19) -> int:
    if not (isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= minimum):
        raise ValueError(f"{name} must be an integer of at least {minimum}, not {value!r}")
    return int(value)


def _labels(sample, group: Any) -> tuple[str, np.ndarray, list[Any]]:
    """Name, integer code per respondent and the sorted levels of the grouping."""
    frame = sample.frame
    if isinstance(group, str):
        if group not in frame.columns:
            raise ModelSpecError(
                f"group column {group!r} is not in the data; columns: {', '.join(map(str, frame.columns))}"
            )
        name, values = group, frame[group]
    else:
        values = pd.Series(np.asarray(group), index=frame.index)
        if len(values) != len(frame):
            raise ModelSpecError(
                f"group has {len(values)} values but the sample has {len(frame)} respondents: give one each"
            )
        name = "group"
    if values.isna().any():
        row = values.index[values.isna()][0]
        raise ModelSpecError(
            f"group column {name!r}: row {row} has no group; fill it or drop the respondent before fitting"
        )
    codes, levels = pd.factorize(values, sort=True)
    if len(levels) < 2:
        raise ModelSpecError(
            f"group column {name!r} has only one value ({levels[0]!r}) among the {len(values)} respondents: "
            "a group comparison needs at least two groups; choose another column, or pool the data sets "
            "to compare with a column telling them apart"
        )
    return name, codes, list(levels)


@dataclass(frozen=True)
class _Engine:
    """Batched group estimates of one fit: weighted moments of any row-weighting of respondents."""

    lay: Layout
    products: np.ndarray  # (n, q) centred cross-products (upper triangle) plus EM terms
    x: np.ndarray  # (n, p) centred items
    centre: np.ndarray
    weights: np.ndarray
    scheme: str
    scaled: bool
    tol: float
    max_iter: int
    consistent: bool

    @classmethod
    def of(cls, fit: Any) -> _Engine:
        m = fit.sample.moments
        p = m.x.shape[1]
        iu, ju = np.triu_indices(p)
        products = m.x[:, iu] * m.x[:, ju] + m.extra[:, iu, ju][m.pattern]
        return cls(Layout.of(fit.model), products, m.x, m.centre, m.weights, fit.scheme, fit.scaled,
                   fit.tol, fit.max_iter, bool(getattr(fit, "consistent", False)))

    def sums(self, a: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Weighted sums of cross-products, of items and of weights; ``a`` (B, len(rows)) row weights."""
        a = a * self.weights[rows]
        return a @ self.products[rows], a @ self.x[rows], a.sum(axis=1)

    def finish(self, sxx: np.ndarray, sx: np.ndarray, total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = sx.shape[1]
        iu, ju = np.triu_indices(p)
        mean = sx / total[:, None]
        cov = np.empty((sxx.shape[0], p, p))
        cov[:, iu, ju] = sxx
        cov[:, ju, iu] = sxx
        cov = cov / total[:, None, None] - mean[:, :, None] * mean[:, None, :]
        return mean + self.centre, cov

    def estimate(self, mean: np.ndarray, cov: np.ndarray, size: np.ndarray) -> tuple[PLSBatch, np.ndarray]:
        with np.errstate(invalid="ignore", divide="ignore"):
            est = pls_from_moments(self.lay, mean, cov, size, self.scheme, self.scaled, self.tol,
                                   self.max_iter)
            if self.consistent:
                from csi_research.stats.plsc import consistent_batch

                est = consistent_batch(self.lay, est, cov)[0]
        return est, cov

    def statistics(self, est: PLSBatch, effects: tuple[tuple[int, int], ...]) -> dict[str, np.ndarray]:
        src, tgt = [s for s, _ in effects], [t for _, t in effects]
        out = {"path": est.paths.copy(), "total_effect": est.total_effects[:, src, tgt], "r2": est.r2.copy()}
        for v in out.values():
            v[~est.converged] = np.nan
        return out


def _setup(fit: Any, group: Any) -> tuple[_Engine, str, np.ndarray, list[Any]]:
    """Engine, grouping and the configural checks every group must pass to be estimated."""
    if not hasattr(fit, "scheme") or not hasattr(fit, "sample"):
        raise TypeError(f"expected a PLS fit (fit_pls), got {type(fit).__name__}")
    sample = fit.sample
    name, codes, levels = _labels(sample, group)
    for g, level in enumerate(levels):
        source = f"{sample.source}, group {name} = {level}"
        require_respondents(sample.model, int((codes == g).sum()), source)
        check_constant(sample.x[codes == g], source)
    return _Engine.of(fit), name, codes, levels


def _require_converged(est: PLSBatch, level: Any, name: str) -> None:
    if not est.converged[0]:
        raise EstimationError(
            f"PLS did not converge in group {name} = {level} ({est.iterations[0]} iterations): the group "
            "cannot be compared; raise max_iter of the fit, check that group's items, or merge it with "
            "another group"
        )


def _effects(lay: Layout) -> tuple[tuple[int, int], ...]:
    pos = {n: j for j, n in enumerate(lay.names)}
    return tuple((pos[s], pos[t]) for s, t in lay.model.effect_pairs())


def _perm_chunks(rng: np.random.Generator, n_a: int, n_b: int, n_perm: int):
    """Membership rows (b, n_a + n_b): 1 for the respondents given to group a in each permutation."""
    base = np.r_[np.ones(n_a), np.zeros(n_b)]
    for start in range(0, n_perm, CHUNK):
        b = min(CHUNK, n_perm - start)
        yield rng.permuted(np.tile(base, (b, 1)), axis=1)


def _pair_estimates(engine: _Engine, rows: np.ndarray, member: np.ndarray):
    """Estimates of groups a (``member`` rows) and b (the other rows) for a stack of memberships."""
    ones = np.ones((1, rows.size))
    tot_xx, tot_x, tot_w = engine.sums(ones, rows)
    axx, ax, aw = engine.sums(member, rows)
    mean_a, cov_a = engine.finish(axx, ax, aw)
    mean_b, cov_b = engine.finish(tot_xx - axx, tot_x - ax, tot_w - aw)
    size_a = member.sum(axis=1)
    est_a, _ = engine.estimate(mean_a, cov_a, size_a)
    est_b, _ = engine.estimate(mean_b, cov_b, rows.size - size_a)
    pooled_mean, pooled_cov = engine.finish(tot_xx, tot_x, tot_w)
    return (est_a, mean_a, cov_a), (est_b, mean_b, cov_b), (pooled_mean[0], pooled_cov[0])


def _p_abs(observed: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Permutation p-value of |difference| (Chin & Dibbern): (1 + #|d*| >= |d|) / (1 + used)."""
    used = np.isfinite(draws).sum(axis=0)
    hits = (np.abs(draws) >= np.abs(observed) - 1e-12).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = (1.0 + hits) / (1.0 + used)
    return np.where(np.isfinite(observed), p, np.nan)


# ---------------------------------------------------------------------------- MICOM
@dataclass(frozen=True)
class MICOMResult:
    """MICOM steps 1-3 for every pair of groups, and a verdict per pair and construct."""

    group: str
    groups: pd.DataFrame  # group, n
    configural: pd.DataFrame  # check, passed, detail
    compositional: pd.DataFrame  # step 2
    equality: pd.DataFrame  # step 3 (composite means and log variances)
    construct_verdict: pd.DataFrame  # group_a, group_b, construct, invariance
    verdict: pd.DataFrame  # group_a, group_b, invariance, reason
    n_perm: int
    seed: Any
    correction: str
    diagnostics: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, pd.DataFrame]:
        return {
            "groups": self.groups,
            "step 1 configural": self.configural,
            "step 2 compositional": self.compositional.round(4),
            "step 3 means and variances": self.equality.round(4),
            "verdict by construct": self.construct_verdict,
            "verdict": self.verdict,
        }


def _composite_corr(w_a: np.ndarray, w_b: np.ndarray, r: np.ndarray, lay: Layout) -> np.ndarray:
    """Correlation on pooled data of each construct's composites built with two weight vectors (B, k)."""
    out = np.empty((w_a.shape[0], len(lay.names)))
    for j, b in enumerate(lay.blocks):
        rb = r[np.ix_(b, b)]
        xa, xb = w_a[:, b], w_b[:, b]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, j] = np.einsum("bi,ij,bj->b", xa, rb, xb) / np.sqrt(
                np.einsum("bi,ij,bj->b", xa, rb, xa) * np.einsum("bi,ij,bj->b", xb, rb, xb))
    return out


def _std_weights(est: PLSBatch, pooled_sd: np.ndarray, scaled: bool) -> np.ndarray:
    """Each group's weights for pooled standardised items: as estimated when the items were
    standardised (the SmartPLS/cSEM convention), raw weights × pooled sd when only centred."""
    return est.weights if scaled else est.raw_weights * pooled_sd


def _moments_step3(mean: np.ndarray, cov: np.ndarray, raw_w: np.ndarray, pooled_mean: np.ndarray,
                   lay: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Group means (pooled-sd units, centred at the pooled mean) and variances of pooled-weight composites."""
    k = len(lay.names)
    m = np.empty((mean.shape[0], k))
    v = np.empty((mean.shape[0], k))
    for j, b in enumerate(lay.blocks):
        w = raw_w[b]
        m[:, j] = (mean[:, b] - pooled_mean[b]) @ w
        v[:, j] = np.einsum("i,bij,j->b", w, cov[:, b[:, None], b], w)
    return m, v


@dataclass(frozen=True)
class _Pooled:
    """What MICOM reads from a pair's pooled data: item sd and correlations, pooled-model weights."""

    sd: np.ndarray
    corr: np.ndarray
    raw_weights: np.ndarray  # per block scaled to a unit-variance composite on the pooled data
    mean: np.ndarray


def _micom_stats(engine: _Engine, ref: _Pooled, ea: PLSBatch, eb: PLSBatch, ma: np.ndarray, ca: np.ndarray,
                 mb: np.ndarray, cb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step 2 correlations c, step 3 mean differences and log variance ratios (each (B, k))."""
    lay = engine.lay
    c = _composite_corr(_std_weights(ea, ref.sd, engine.scaled), _std_weights(eb, ref.sd, engine.scaled),
                        ref.corr, lay)
    mu_a, var_a = _moments_step3(ma, ca, ref.raw_weights, ref.mean, lay)
    mu_b, var_b = _moments_step3(mb, cb, ref.raw_weights, ref.mean, lay)
    with np.errstate(invalid="ignore", divide="ignore"):
        logv = np.log(var_a) - np.log(var_b)
    bad = ~(ea.converged & eb.converged)
    c[bad], logv[bad] = np.nan, np.nan
    return c, mu_a - mu_b, logv


@public
def micom(
    fit: Any,
    group: Any,
    n_perm: int = 5000,
    seed: int | np.random.Generator = 0,
    *,
    alpha: float = ALPHA,
) -> MICOMResult:
    """Measurement invariance of composites (MICOM, Henseler, Ringle & Sarstedt 2016), steps 1-3.

    ``group`` is a column of the fit's sample (or one label per respondent). Step 1 (configural)
    is checked and stated: one model, one item treatment, one set of algorithm settings, every item
    varying and every group estimable. Step 2: per construct, the correlation ``c`` on the pair's
    pooled data between the composites built with each group's weights; invariance is rejected when
    ``c`` is below the ``alpha`` quantile of its permutation distribution (one-sided p-value).
    Step 3: composites with the pooled (pair) weights, standardised on the pooled data; the groups'
    mean difference and log variance ratio are compared with their permutation intervals. With more
    than two groups every pair is tested, Bonferroni-corrected across pairs. Verdict per pair:
    ``no`` (step 2 fails for a construct), ``partial`` (step 2 holds, step 3 fails somewhere) or
    ``full``; per construct likewise.
    """
    return _permutation_tests(fit, group, n_perm, seed, alpha, ["path"])[0]


def _configural(fit: Any, name: str, levels: list[Any], codes: np.ndarray) -> pd.DataFrame:
    sample = fit.sample
    smallest = int(np.bincount(codes).min())
    rows = [
        ("same constructs, items and paths", True,
         f"one model ({len(sample.model.names)} constructs, {len(sample.model.items)} items, "
         f"{len(sample.model.paths)} paths) estimated in every group"),
        ("same item treatment", True,
         f"items prepared once for all groups: missing answers by {sample.missing}, "
         f"{'survey weights' if sample.weighted else 'unweighted'}, "
         f"{'standardised' if fit.scaled else 'centred'} items"),
        ("same algorithm settings", True,
         f"scheme {fit.scheme}, tol {fit.tol:g}, max_iter {fit.max_iter}"
         + (", consistent PLS" if getattr(fit, "consistent", False) else "")),
        ("every group estimable", True,
         f"{len(levels)} groups of {name}; smallest has {smallest} respondents; every item varies in "
         "every group"),
    ]
    return pd.DataFrame(rows, columns=["check", "passed", "detail"])


def _verdicts(compositional: pd.DataFrame, equality: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    keys = ["group_a", "group_b", "construct"]
    eq = equality.groupby(keys, sort=False)["equal"].all().rename("equal")
    per = compositional.set_index(keys)[["invariant"]].join(eq)
    per["invariance"] = np.where(~per["invariant"], "no", np.where(per["equal"], "full", "partial"))
    construct_verdict = per.reset_index()[[*keys, "invariance"]]
    rows = []
    for (a, b), part in construct_verdict.groupby(["group_a", "group_b"], sort=False):
        no = part.loc[part["invariance"] == "no", "construct"].tolist()
        partial = part.loc[part["invariance"] == "partial", "construct"].tolist()
        if no:
            rows.append((a, b, "no", f"compositional invariance (step 2) rejected for {', '.join(no)}"))
        elif partial:
            rows.append((a, b, "partial",
                         "composites invariant, but means or variances (step 3) differ for "
                         f"{', '.join(partial)}"))
        else:
            rows.append((a, b, "full", "steps 2 and 3 hold for every construct"))
    return construct_verdict, pd.DataFrame(rows, columns=["group_a", "group_b", "invariance", "reason"])


# ---------------------------------------------------------------------------- MGA
@dataclass(frozen=True)
class MGAResult:
    """Group differences with p-values: one tidy row per statistic and pair of groups."""

    method: str
    group: str
    groups: pd.DataFrame  # group, n
    estimates: pd.DataFrame
    family: str
    n_resamples: int
    seed: Any
    alpha: float
    diagnostics: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, pd.DataFrame]:
        overview = pd.DataFrame(
            {"value": [self.method, self.group, len(self.groups), self.n_resamples, self.family, self.alpha,
                       self.seed]},
            index=["method", "grouping", "groups", "resamples", "multiple testing", "alpha", "seed"],
        )
        return {"overview": overview, "groups": self.groups, "estimates": self.estimates.round(4)}


def _kinds(total_effects: bool, r2: bool) -> list[str]:
    return ["path"] + ["total_effect"] * total_effects + ["r2"] * r2


def _labels_of(lay: Layout, effects: tuple[tuple[int, int], ...]) -> dict[str, pd.DataFrame]:
    names = lay.names
    return {
        "path": pd.DataFrame({"source": [names[s] for s, _ in lay.path_index],
                              "target": [names[t] for _, t in lay.path_index]}),
        "total_effect": pd.DataFrame({"source": [names[s] for s, _ in effects],
                                      "target": [names[t] for _, t in effects]}),
        "r2": pd.DataFrame({"source": None, "target": [names[j] for j in lay.endogenous]}),
    }


def _family_text(kinds: list[str], m: int) -> str:
    what = {"path": "paths", "total_effect": "total effects", "r2": "R²"}
    pairs = "the pair" if m == 1 else f"the {m} pairs of groups"
    return "; ".join(f"Holm across all {what[k]} × {pairs}" for k in kinds)


def _mga_table(rows: list[pd.DataFrame], kinds: list[str], alpha: float) -> pd.DataFrame:
    table = pd.concat(rows, ignore_index=True)
    table["p_adjusted"] = np.nan
    for kind in kinds:
        sel = table["statistic"] == kind
        table.loc[sel, "p_adjusted"] = holm(table.loc[sel, "p_value"].to_numpy())
    table["significant"] = table["p_adjusted"] < alpha
    return table


@public
def permutation_mga(
    fit: Any,
    group: Any,
    n_perm: int = 5000,
    seed: int | np.random.Generator = 0,
    *,
    total_effects: bool = False,
    r2: bool = False,
    alpha: float = ALPHA,
) -> MGAResult:
    """Permutation test of group differences (Chin & Dibbern 2010) for every path and pair of groups.

    For a pair, the group labels of its respondents are permuted ``n_perm`` times; the p-value of a
    difference is ``(1 + #{|d*| >= |d|}) / (1 + permutations used)``. Optionally also total effects
    and R². ``p_adjusted`` is Holm-adjusted across every path × pair (total effects and R² are
    separate families); ``significant`` compares it with ``alpha``.
    """
    return _permutation_tests(fit, group, n_perm, seed, alpha, _kinds(total_effects, r2))[1]


@public
def micom_and_mga(
    fit: Any,
    group: Any,
    n_perm: int = 5000,
    seed: int | np.random.Generator = 0,
    *,
    total_effects: bool = False,
    r2: bool = False,
    alpha: float = ALPHA,
) -> tuple[MICOMResult, MGAResult]:
    """:func:`micom` and :func:`permutation_mga` from one set of permuted group fits.

    Both tests permute a pair's group labels and estimate both groups for every permutation; with
    one seed they draw the same permutations, so estimating them once halves the work and gives
    exactly what the two functions give when called one after the other with that seed.
    """
    return _permutation_tests(fit, group, n_perm, seed, alpha, _kinds(total_effects, r2))


# ---------------------------------------------------------------------------- one permutation pass
def _permuted_pairs(engine: _Engine, name: str, codes: np.ndarray, levels: list[Any],
                    rng: np.random.Generator, n_perm: int):
    """Each pair of groups: its indices, respondents, observed estimates and permuted estimates.

    The permuted estimates come chunk by chunk as the permutations are drawn from ``rng``: a pair's
    chunks are to be used up before the next pair is asked for, so that every test run with one seed
    sees the same permutations.
    """
    for ga, gb in combinations(range(len(levels)), 2):
        rows = np.r_[np.flatnonzero(codes == ga), np.flatnonzero(codes == gb)]
        n_a = int((codes == ga).sum())
        observed = _pair_estimates(engine, rows, np.r_[np.ones(n_a), np.zeros(rows.size - n_a)][None])
        _require_converged(observed[0][0], levels[ga], name)
        _require_converged(observed[1][0], levels[gb], name)
        permuted = (_pair_estimates(engine, rows, member)
                    for member in _perm_chunks(rng, n_a, rows.size - n_a, n_perm))
        yield (ga, gb), rows, observed, permuted


class _MICOMDraws:
    """One pair's MICOM statistics (step 2 ``c``, step 3 mean and log variance differences):
    observed, and their permutation distributions as permuted estimates are added."""

    def __init__(self, engine: _Engine, rows: np.ndarray, observed: tuple) -> None:
        p_mean, p_cov = observed[2]
        p_sd = np.sqrt(np.diag(p_cov))
        pooled, _ = engine.estimate(p_mean[None], p_cov[None], np.array([float(rows.size)]))
        raw_w = pooled.raw_weights[0]
        for b in engine.lay.blocks:  # pooled composites: unit variance on the pooled data
            raw_w[b] /= np.sqrt(raw_w[b] @ p_cov[np.ix_(b, b)] @ raw_w[b])
        self.engine = engine
        self.ref = _Pooled(p_sd, p_cov / np.outer(p_sd, p_sd), raw_w, p_mean)
        self.observed = [s[0] for s in self._stats(observed)]
        self.draws: list[list[np.ndarray]] = [[], [], []]

    def _stats(self, estimates: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        (ea, ma, ca), (eb, mb, cb), _ = estimates
        return _micom_stats(self.engine, self.ref, ea, eb, ma, ca, mb, cb)

    def add(self, estimates: tuple) -> None:
        for store, value in zip(self.draws, self._stats(estimates), strict=True):
            store.append(value)

    def rows(self, a: Any, b: Any, m: int, alpha: float) -> tuple[list[dict], list[dict], int]:
        """Step 2 and step 3 rows per construct (Bonferroni across ``m`` pairs) and the failed count."""
        c_obs, d_obs, v_obs = self.observed
        c_perm, d_perm, v_perm = (np.concatenate(d) for d in self.draws)
        level = alpha / m
        used = np.isfinite(c_perm).sum(axis=0)
        p_c = (1.0 + (c_perm <= c_obs + 1e-12).sum(axis=0)) / (1.0 + used)
        comp_rows, eq_rows = [], []
        for j, construct in enumerate(self.engine.lay.names):
            p_adj = min(1.0, p_c[j] * m)
            comp_rows.append({
                "group_a": a, "group_b": b, "construct": construct,
                "c": c_obs[j], "quantile": np.nanquantile(c_perm[:, j], level),
                "p_value": p_c[j], "p_adjusted": p_adj, "invariant": bool(p_adj >= alpha),
            })
            for kind, obs, perm in (("mean", d_obs, d_perm), ("log_variance", v_obs, v_perm)):
                col = perm[:, j]
                n_used = np.isfinite(col).sum()
                lower_hits = (col <= obs[j] + 1e-12).sum()
                upper_hits = (col >= obs[j] - 1e-12).sum()
                p = min(1.0, 2 * min(1 + lower_hits, 1 + upper_hits) / (1 + n_used))
                p_adj = min(1.0, p * m)
                eq_rows.append({
                    "group_a": a, "group_b": b, "construct": construct,
                    "statistic": kind, "difference": obs[j],
                    "lower": np.nanquantile(col, level / 2), "upper": np.nanquantile(col, 1 - level / 2),
                    "p_value": p, "p_adjusted": p_adj, "equal": bool(p_adj >= alpha),
                })
        return comp_rows, eq_rows, int(np.isnan(c_perm[:, 0]).sum())


class _MGADraws:
    """One pair's group differences (paths, and total effects or R² when asked): observed, and their
    permutation distributions as permuted estimates are added."""

    def __init__(self, engine: _Engine, effects: tuple[tuple[int, int], ...], kinds: list[str],
                 observed: tuple) -> None:
        self.engine, self.effects, self.kinds = engine, effects, kinds
        self.observed = tuple(engine.statistics(est, effects) for (est, *_) in observed[:2])
        self.draws: dict[str, list[np.ndarray]] = {k: [] for k in kinds}
        self.failed = 0

    def add(self, estimates: tuple) -> None:
        (ea, *_), (eb, *_), _ = estimates
        sa, sb = self.engine.statistics(ea, self.effects), self.engine.statistics(eb, self.effects)
        self.failed += int((~(ea.converged & eb.converged)).sum())
        for k in self.kinds:
            self.draws[k].append(sa[k] - sb[k])

    def parts(self, labels: dict[str, pd.DataFrame], a: Any, b: Any) -> list[pd.DataFrame]:
        obs_a, obs_b = self.observed
        parts = []
        for k in self.kinds:
            perm = np.concatenate(self.draws[k])
            diff = obs_a[k][0] - obs_b[k][0]
            part = labels[k].copy()
            part.insert(0, "statistic", k)
            part.insert(1, "group_a", a)
            part.insert(2, "group_b", b)
            parts.append(part.assign(estimate_a=obs_a[k][0], estimate_b=obs_b[k][0], difference=diff,
                                     p_value=_p_abs(diff, perm), n_used=np.isfinite(perm).sum(axis=0)))
        return parts


def _permutation_tests(fit: Any, group: Any, n_perm: int, seed: int | np.random.Generator, alpha: float,
                       kinds: list[str]) -> tuple[MICOMResult, MGAResult]:
    """MICOM and the permutation MGA of ``kinds``, every pair's permuted fits estimated once for both."""
    n_perm = _check_count(n_perm, "n_perm")
    engine, name, codes, levels = _setup(fit, group)
    effects = _effects(engine.lay)
    labels = _labels_of(engine.lay, effects)
    m = len(levels) * (len(levels) - 1) // 2
    comp_rows, eq_rows, parts = [], [], []
    micom_failed = mga_failed = 0
    pairs = _permuted_pairs(engine, name, codes, levels, _rng(seed), n_perm)
    for (ga, gb), rows, observed, permuted in pairs:
        invariance = _MICOMDraws(engine, rows, observed)
        differences = _MGADraws(engine, effects, kinds, observed)
        for estimates in permuted:
            invariance.add(estimates)
            differences.add(estimates)
        comp, eq, failed = invariance.rows(levels[ga], levels[gb], m, alpha)
        comp_rows += comp
        eq_rows += eq
        micom_failed += failed
        parts += differences.parts(labels, levels[ga], levels[gb])
        mga_failed += differences.failed
    return (_micom_result(fit, name, codes, levels, comp_rows, eq_rows, micom_failed, m, n_perm, seed),
            _mga_result("permutation (Chin & Dibbern 2010)", engine, name, levels, codes, parts, kinds, m,
                         n_perm, seed, alpha, _failed_note(mga_failed, n_perm * m, "")))


def _failed_note(failed: int, total: int, which: str) -> list[str]:
    if not failed:
        return []
    return [f"{failed} of {total} permutations did not converge in a group and were left out of the "
            f"{which}permutation distributions; if many fail, raise max_iter of the fit"]


def _micom_result(fit: Any, name: str, codes: np.ndarray, levels: list[Any], comp_rows: list[dict],
                  eq_rows: list[dict], failed: int, m: int, n_perm: int, seed: Any) -> MICOMResult:
    """The MICOM result of ``m`` tested pairs from their rows."""
    compositional = pd.DataFrame(comp_rows)
    equality = pd.DataFrame(eq_rows)
    construct_verdict, verdict = _verdicts(compositional, equality)
    return MICOMResult(
        group=name,
        groups=pd.DataFrame({"group": levels, "n": np.bincount(codes)}),
        configural=_configural(fit, name, levels, codes),
        compositional=compositional,
        equality=equality,
        construct_verdict=construct_verdict,
        verdict=verdict,
        n_perm=n_perm,
        seed=seed if isinstance(seed, int) else "generator",
        correction="none (two groups)" if m == 1 else f"Bonferroni across the {m} pairs of groups",
        diagnostics=_failed_note(failed, n_perm * m, "MICOM "),
    )


def henseler_probability(draws_a: np.ndarray, draws_b: np.ndarray) -> np.ndarray:
    """Henseler's PLS-MGA one-sided p-value of "a exceeds b" per column of two bootstrap stacks.

    ``Σ_j Σ_i [2·mean(a) − a_j ≤ 2·mean(b) − b_i] / (J·I)`` (Henseler 2009; Sarstedt et al. 2011):
    small when group a's parameter is larger, near 1 when it is smaller. NaN draws are left out.
    """
    out = np.full(draws_a.shape[1], np.nan)
    for s in range(draws_a.shape[1]):
        a, b = draws_a[:, s], draws_b[:, s]
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if a.size == 0 or b.size == 0:
            continue
        x = np.sort(2 * a.mean() - a)
        y = 2 * b.mean() - b
        # for each y_i: how many x_j <= y_i
        out[s] = np.searchsorted(x, y, side="right").sum() / (a.size * b.size)
    return out


@public
def bootstrap_mga(
    fit: Any,
    group: Any,
    n_boot: int = 5000,
    seed: int | np.random.Generator = 0,
    *,
    total_effects: bool = False,
    r2: bool = False,
    alpha: float = ALPHA,
) -> MGAResult:
    """Henseler's bootstrap MGA (PLS-MGA) for every path and pair of groups.

    Each group is bootstrapped ``n_boot`` times on its own respondents (survey weights and EM terms
    kept); ``p_a_greater`` is Henseler's one-sided p-value for "group a's parameter exceeds group
    b's" (see :func:`henseler_probability`), ``p_value`` the two-sided ``2·min(p, 1 − p)``,
    ``p_adjusted`` Holm across every path × pair (total effects and R² separate families).
    """
    n_boot = _check_count(n_boot, "n_boot")
    engine, name, codes, levels = _setup(fit, group)
    lay = engine.lay
    effects = _effects(lay)
    labels = _labels_of(lay, effects)
    kinds = _kinds(total_effects, r2)
    rng = _rng(seed)
    estimates, boots, failed = [], [], 0
    for g in range(len(levels)):
        rows = np.flatnonzero(codes == g)
        est, _ = engine.estimate(*_counts_moments(engine, rows, np.ones((1, rows.size))))
        _require_converged(est, levels[g], name)
        estimates.append(engine.statistics(est, effects))
        draws: dict[str, list[np.ndarray]] = {k: [] for k in kinds}
        for start in range(0, n_boot, CHUNK):
            b = min(CHUNK, n_boot - start)
            picks = rng.integers(0, rows.size, size=(b, rows.size))
            offsets = np.arange(b)[:, None] * rows.size
            counts = np.bincount((picks + offsets).ravel(), minlength=b * rows.size).reshape(b, rows.size)
            est, _ = engine.estimate(*_counts_moments(engine, rows, counts))
            failed += int((~est.converged).sum())
            stats = engine.statistics(est, effects)
            for k in kinds:
                draws[k].append(stats[k])
        boots.append({k: np.concatenate(v) for k, v in draws.items()})
    parts = []
    pairs = list(combinations(range(len(levels)), 2))
    for ga, gb in pairs:
        for k in kinds:
            p_one = henseler_probability(boots[ga][k], boots[gb][k])
            part = labels[k].copy()
            part.insert(0, "statistic", k)
            part.insert(1, "group_a", levels[ga])
            part.insert(2, "group_b", levels[gb])
            ea, eb = estimates[ga][k][0], estimates[gb][k][0]
            parts.append(part.assign(
                estimate_a=ea, estimate_b=eb, difference=ea - eb,
                se_a=np.nanstd(boots[ga][k], axis=0, ddof=1), se_b=np.nanstd(boots[gb][k], axis=0, ddof=1),
                p_a_greater=p_one, p_value=np.minimum(1.0, 2 * np.minimum(p_one, 1 - p_one)),
            ))
    diagnostics: list[str] = []
    if failed:
        diagnostics.append(
            f"{failed} of {n_boot * len(levels)} group bootstrap resamples did not converge and were left "
            "out; if many fail, raise max_iter of the fit"
        )
    return _mga_result("bootstrap PLS-MGA (Henseler 2009)", engine, name, levels, codes, parts, kinds,
                       len(pairs), n_boot, seed, alpha, diagnostics)


def _mga_result(method: str, engine: _Engine, name: str, levels: Any, codes: np.ndarray,
                parts: list[pd.DataFrame], kinds: list[str], n_pairs: int, n_resamples: int, seed: Any,
                alpha: float, diagnostics: list[str]) -> MGAResult:
    return MGAResult(
        method=method + (", PLSc" if engine.consistent else ""),
        group=name,
        groups=pd.DataFrame({"group": levels, "n": np.bincount(codes)}),
        estimates=_mga_table(parts, kinds, alpha),
        family=_family_text(kinds, n_pairs),
        n_resamples=n_resamples,
        seed=seed if isinstance(seed, int) else "generator",
        alpha=alpha,
        diagnostics=diagnostics,
    )


def _counts_moments(engine: _Engine, rows: np.ndarray, counts: np.ndarray):
    sxx, sx, total = engine.sums(counts, rows)
    mean, cov = engine.finish(sxx, sx, total)
    return mean, cov, counts.sum(axis=1)
