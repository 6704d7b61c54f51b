"""Time the FIML fit of the default CSI model against independent FIML computations.

1. data/beiling_2025.csv (its own "don't know" answers): against semopy's ``ModelMeans`` FIML
   (``obj="ML"`` on incomplete data: its own objective, gradient and SLSQP, looping over
   respondents). Prints both times, their ratio, and the −2 log-likelihood of both solutions
   evaluated by a plain per-respondent numpy loop (a third, deliberately naive implementation), so a
   faster fit at a worse optimum would show. lavaan 0.6 (``sem(..., missing = "ml")``) reports
   χ² = 477.5 here.
2. tests/data/fiml_patterns.csv (Donggang 2025 with extra MCAR/MAR holes: 600 respondents, 220
   missing-data patterns): our time against lavaan's, measured with
   tests/reference_scripts/fiml_patterns.R, and our −2 log L against a per-respondent scipy
   evaluation at our estimates and against lavaan's. ``--semopy`` also runs semopy's FIML there
   (minutes).

Run: .venv/bin/python benchmarks/bench_fiml.py [--semopy]
Wall time depends on the machine's load; the CPU time of this process is printed too (numpy's
BLAS threads are counted in it).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import semopy
from scipy import stats

from csi_research import CSIModel, CSIWarning
from csi_research.data.survey import load_survey
from csi_research.stats import fiml
from csi_research.stats.cbsem import _description, fit_cbsem

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "beiling_2025.csv"
PATTERNS = ROOT / "tests" / "data" / "fiml_patterns.csv"

# lavaan 0.6-14 on tests/data/fiml_patterns.csv (Rscript tests/reference_scripts/fiml_patterns.R, same
# 2-core machine shared with other jobs): sem(model, data, missing = "ml") converged in 114 iterations;
# system.time: 7.5 s CPU (user + system), 11.2 s and 31.7 s elapsed in two runs at load ~3 and ~6;
# -2 log L = 43248.477560809712, chi2 = 425.6063315 (df 393).
LAVAAN_CPU_SECONDS = 7.5
LAVAAN_WALL_SECONDS = 11.2
LAVAAN_MINUS2LL = 43248.477560809712


def naive_minus2ll(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> float:
    """−2 log L one respondent at a time (no pattern grouping)."""
    total = 0.0
    for row in x:
        o = np.isfinite(row)
        if not o.any():
            continue
        s = sigma[np.ix_(o, o)]
        r = row[o] - mu[o]
        total += o.sum() * np.log(2 * np.pi) + np.linalg.slogdet(s)[1] + r @ np.linalg.solve(s, r)
    return float(total)


def scipy_minus2ll(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> float:
    """−2 log L one respondent at a time from scipy's multivariate normal density."""
    total = 0.0
    for row in x:
        o = np.isfinite(row)
        if o.any():
            total -= 2.0 * stats.multivariate_normal(mu[o], sigma[np.ix_(o, o)]).logpdf(row[o])
    return float(total)


def timed(f, *args, **kwargs):
    """Result, wall seconds and CPU seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = f(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def semopy_fiml(model: CSIModel, x: pd.DataFrame) -> tuple[semopy.ModelMeans, object]:
    """semopy's own FIML (ModelMeans, objective "ML" on incomplete data), variances unbounded."""
    sem = semopy.ModelMeans(_description(model, x.cov(), None, ()))
    for param in sem.parameters.values():
        param.bound = (None, None)
    with np.errstate(all="ignore"):
        result = sem.fit(x, obj="ML", options={"ftol": 1e-12, "maxiter": 10_000})
    return sem, result


def semopy_moments(sem: semopy.ModelMeans, model: CSIModel) -> tuple[np.ndarray, np.ndarray]:
    sigma = sem.calc_sigma()[0]
    order = [sem.vars["observed"].index(item) for item in model.items]
    mu = sem.calc_mean(sem.calc_sigma()[1][0])[:, 0][order]
    return mu, sigma[np.ix_(order, order)]


def beiling() -> None:
    model = CSIModel.default()
    survey = load_survey(DATA)
    fit, ours, _ = timed(fit_cbsem, model, survey, estimator="FIML")
    x = fit.sample.x.where(fit.sample.observed)
    print(f"n = {fit.n}, missing answers = {int(x.isna().to_numpy().sum())}, converged = {fit.converged}")
    chi2, df = fit.fit_indices["chi2"], fit.fit_indices["df"]
    print(f"this FIML:   {ours:7.2f} s   chi2 = {chi2:.4f}, df = {df:.0f}")

    (sem, result), theirs, _ = timed(semopy_fiml, model, x)
    print(f"semopy FIML: {theirs:7.2f} s   success = {result.success}")
    print(f"ratio semopy / this: {theirs / ours:.1f}")

    values = x.to_numpy()
    ll_ours = naive_minus2ll(values, _implied_mean_of(fit), fit.implied_cov.to_numpy())
    ll_theirs = naive_minus2ll(values, *semopy_moments(sem, model))
    print(f"-2 log L (per-respondent loop): this {ll_ours:.6f}, semopy {ll_theirs:.6f}")


def many_patterns(with_semopy: bool) -> None:
    model = CSIModel.default()
    x = pd.read_csv(PATTERNS)[model.items].astype(float)
    values = x.to_numpy()
    n_patterns = fiml.Patterns.of(values).n_patterns
    print(f"n = {len(x)}, missing answers = {int(x.isna().to_numpy().sum())}, patterns = {n_patterns}")
    fit, wall, cpu = timed(fit_cbsem, model, x, estimator="FIML")
    ind = fit.fit_indices
    print(f"this FIML:   {wall:7.2f} s wall, {cpu:6.2f} s CPU   converged = {fit.converged}, "
          f"chi2 = {ind['chi2']:.7f}, df = {ind['df']:.0f}, CFI = {ind['cfi']:.6f}, "
          f"RMSEA = {ind['rmsea']:.6f}")
    print(f"lavaan 0.6:  {LAVAAN_WALL_SECONDS:7.2f} s wall, {LAVAAN_CPU_SECONDS:6.2f} s CPU (measured "
          f"separately, see the comment)   CPU ratio lavaan / this: {LAVAAN_CPU_SECONDS / cpu:.1f}")
    mu, sigma = _implied_mean_of(fit), fit.implied_cov.loc[model.items, model.items].to_numpy()
    ll_scipy, t_scipy, _ = timed(scipy_minus2ll, values, mu, sigma)
    ll_grouped, t_grouped, _ = timed(fiml.minus2ll, fiml.Patterns.of(values), mu, sigma)
    print(f"-2 log L at our estimates: per-respondent scipy {ll_scipy:.9f} ({t_scipy:.3f} s), "
          f"by pattern {ll_grouped:.9f} ({t_grouped:.4f} s), lavaan at its own {LAVAAN_MINUS2LL:.9f}")
    print(f"ours - lavaan: {ll_scipy - LAVAAN_MINUS2LL:.3e} (negative: our optimum is at least as good)")
    if with_semopy:
        (sem, result), theirs, _ = timed(semopy_fiml, model, x)
        ll = naive_minus2ll(values, *semopy_moments(sem, model))
        print(f"semopy FIML: {theirs:7.2f} s   success = {result.success}, -2 log L = {ll:.6f}")


def _implied_mean_of(fit) -> np.ndarray:
    """Implied item means of a FIML fit from its intercepts (latent means are fixed at 0)."""
    est = fit.estimates
    intercepts = est[est["op"] == "~1"].set_index("lhs")["est"]
    return intercepts.reindex(fit.model.items).to_numpy(dtype=float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--semopy", action="store_true", help="also run semopy's FIML on the 220 patterns")
    args = parser.parse_args()
    warnings.simplefilter("ignore", CSIWarning)
    print("== beiling_2025 ==")
    beiling()
    print("== fiml_patterns (220 missing-data patterns) ==")
    many_patterns(args.semopy)


if __name__ == "__main__":
    main()
