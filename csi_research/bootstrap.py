"""Bootstrap intervals for PLS and CB-SEM estimates: percentile and BCa.

Resamples are drawn as count vectors over respondents from one ``numpy`` generator, chunk by
chunk in a fixed order *before* any work is handed to workers, so the result depends on
``seed`` only, never on ``workers``. PLS resamples go through the batched covariance engine
(thousands per second); CB-SEM resamples re-fit one prepared semopy model to each resample's
weighted covariance matrix, starting from the full-sample estimates.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from tqdm import tqdm

from csi_research.data import as_frame, item_frame
from csi_research.errors import CSIWarning, EstimationError, ModelSpecError
from csi_research.estimation.pls import (
    Layout,
    PLSBatch,
    fit_pls,
    jackknife_moments,
    pls_from_moments,
    weighted_moments,
)
from csi_research.model import CSIModel

LABELS = ["statistic", "source", "target", "construct", "item"]


# ---------------------------------------------------------------------------- intervals on arrays
def percentile_interval(draws: np.ndarray, ci: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of bootstrap draws ``(B,)`` or ``(B, m)``; NaN draws are ignored."""
    alpha = (1 - _check_ci(ci)) / 2
    lower, upper = np.nanquantile(np.asarray(draws, dtype=float), [alpha, 1 - alpha], axis=0)
    return lower, upper


def bca_interval(
    draws: np.ndarray, estimate: np.ndarray, jackknife: np.ndarray, ci: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Bias-corrected and accelerated interval (Efron 1987).

    ``draws`` (B, m) bootstrap replicates, ``estimate`` (m,) the full-sample value, ``jackknife``
    (n, m) leave-one-out values. Bias correction z0 = Φ⁻¹(share of draws below the estimate,
    ties counted half); acceleration from the skewness of the jackknife values. NaN rows are
    ignored; a statistic whose draws all lie on one side of the estimate gets NaN.
    """
    draws = np.atleast_2d(np.asarray(draws, dtype=float).T).T
    jack = np.atleast_2d(np.asarray(jackknife, dtype=float).T).T
    est = np.atleast_1d(np.asarray(estimate, dtype=float))
    alpha = (1 - _check_ci(ci)) / 2
    valid = np.isfinite(draws)
    below = ((draws < est) & valid).sum(axis=0) + 0.5 * ((draws == est) & valid).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z0 = stats.norm.ppf(below / valid.sum(axis=0))
        d = np.nanmean(jack, axis=0) - jack
        accel = np.nansum(d**3, axis=0) / (6 * np.nansum(d**2, axis=0) ** 1.5)
    accel = np.where(np.isfinite(accel), accel, 0.0)
    bounds = []
    for z in stats.norm.ppf([alpha, 1 - alpha]):
        level = stats.norm.cdf(z0 + (z0 + z) / (1 - accel * (z0 + z)))
        bounds.append(
            np.array(
                [
                    np.nanquantile(draws[:, j], level[j]) if np.isfinite(level[j]) else np.nan
                    for j in range(draws.shape[1])
                ]
            )
        )
    lower, upper = bounds
    if np.ndim(estimate) == 0:
        return lower[0], upper[0]
    return lower, upper


def _check_ci(ci: float) -> float:
    if not 0 < ci < 1:
        raise ValueError(f"ci must be a coverage level between 0 and 1 (e.g. 0.95), not {ci!r}")
    return float(ci)


# ---------------------------------------------------------------------------- result
@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap estimates: one tidy row per statistic, the raw draws, and what went wrong."""

    estimates: pd.DataFrame
    draws: dict[str, np.ndarray]
    n_boot: int
    n_failed: int
    seed: Any
    method: str
    ci: float
    diagnostics: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, pd.DataFrame]:
        """Overview and one table per statistic kind (rounded)."""
        overview = pd.DataFrame(
            {
                "value": [
                    self.method,
                    self.n_boot,
                    self.n_boot - self.n_failed,
                    self.n_failed,
                    f"{self.ci:.0%}",
                    self.seed if isinstance(self.seed, int) else "generator",
                ]
            },
            index=["method", "resamples", "resamples used", "failed", "interval level", "seed"],
        )
        tables = {"overview": overview}
        for kind, rows in self.estimates.groupby("statistic", sort=False):
            tables[str(kind)] = rows.dropna(axis=1, how="all").drop(columns="statistic").round(4)
        return tables


# ---------------------------------------------------------------------------- resampling
def _strata_codes(strata: Any, data: Any, used: pd.Index) -> np.ndarray | None:
    """Integer stratum of every used respondent (None: no strata)."""
    if strata is None:
        return None
    frame = as_frame(data)
    if isinstance(strata, str):
        if strata not in frame.columns:
            raise ModelSpecError(
                f"strata column {strata!r} is not in the data; columns: {', '.join(map(str, frame.columns))}"
            )
        values = frame[strata]
    else:
        values = pd.Series(np.asarray(strata), index=frame.index) if len(strata) == len(frame) else None
        if values is None:
            raise ModelSpecError(
                f"strata has {len(strata)} values but the data has {len(frame)} rows: give one per row"
            )
    values = values.loc[used]
    if values.isna().any():
        row = values.index[values.isna()][0]
        raise ModelSpecError(f"strata: row {row} has no stratum; fill it or drop the respondent")
    return pd.factorize(values)[0]


def _count_chunks(
    rng: np.random.Generator, n: int, codes: np.ndarray | None, n_boot: int, chunk_size: int
) -> Iterator[np.ndarray]:
    """Resample count matrices (b, n) in a fixed order; within strata the stratum sizes are kept."""
    groups = [np.arange(n)] if codes is None else [np.flatnonzero(codes == g) for g in np.unique(codes)]
    for start in range(0, n_boot, chunk_size):
        b = min(chunk_size, n_boot - start)
        counts = np.zeros((b, n), dtype=np.int64)
        offsets = np.arange(b)[:, None] * n
        for members in groups:
            draws = members[rng.integers(0, members.size, size=(b, members.size))]
            counts += np.bincount((draws + offsets).ravel(), minlength=b * n).reshape(b, n)
        yield counts


def _run(
    task: Callable[[Any], dict[str, np.ndarray]],
    chunks: Iterator[Any],
    sizes: Sequence[int],
    pool: Executor | None,
    workers: int,
    bar: tqdm,
) -> list[dict[str, np.ndarray]]:
    """Apply ``task`` to every chunk in order (serially without a pool); ≤ 2 × workers in flight."""
    out: list[dict[str, np.ndarray]] = []
    pending: list[tuple[Any, int]] = []
    for chunk, size in zip(chunks, sizes, strict=True):
        if pool is None:
            out.append(task(chunk))
            bar.update(size)
            continue
        pending.append((pool.submit(task, chunk), size))
        if len(pending) >= 2 * workers:
            future, done = pending.pop(0)
            out.append(future.result())
            bar.update(done)
    for future, done in pending:
        out.append(future.result())
        bar.update(done)
    return out


def _one_blas_thread() -> contextlib.AbstractContextManager:
    """Limit BLAS to one thread while workers run: many small matrix products across threads
    and processes otherwise oversubscribe the cores (measured: CB-SEM re-fits 2-4x slower,
    PLS chunks about 20 % slower)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _stack(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


# ---------------------------------------------------------------------------- PLS statistics
@dataclass(frozen=True)
class _PLSTask:
    """Everything a worker needs to turn count vectors (or jackknife moments) into statistics."""

    lay: Layout
    x: np.ndarray  # items centred at the full-sample mean
    centre: np.ndarray
    scheme: str
    scaled: bool
    tol: float
    max_iter: int
    effects: tuple[tuple[int, int], ...]
    index_scale: tuple[Any, Any] | None

    def __call__(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        mean, cov, size = weighted_moments(self.x, counts)
        return self.statistics(mean, cov, size)

    def statistics(self, mean: np.ndarray, cov: np.ndarray, size: np.ndarray) -> dict[str, np.ndarray]:
        est = pls_from_moments(
            self.lay, mean + self.centre, cov, size, self.scheme, self.scaled, self.tol, self.max_iter
        )
        out = _pls_statistics(est, self)
        out["htmt"] = _htmt(cov, self.lay)
        if self.index_scale is not None:
            out["index"] = _indices(est, self.lay, self.index_scale)
        out = {k: v for k, v in out.items() if v is not None}
        for value in out.values():
            value[~est.converged] = np.nan
        out["converged"] = est.converged
        return out

    def jackknife(self, part: tuple[np.ndarray, np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
        return self.statistics(*part)


def _pls_statistics(est: PLSBatch, task: _PLSTask) -> dict[str, np.ndarray]:
    src = [s for s, _ in task.effects]
    tgt = [t for _, t in task.effects]
    return {
        "path": est.paths,
        "total_effect": est.total_effects[:, src, tgt],
        "weight": est.weights,
        "loading": est.loadings,
        "r2": est.r2,
    }


def _htmt(cov: np.ndarray, lay: Layout) -> np.ndarray | None:
    """Upper-triangle HTMT values (B, k(k-1)/2), when the measurement module provides them."""
    try:
        from csi_research.measurement import htmt_from_corr
    except ImportError:
        return None
    sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    with np.errstate(invalid="ignore", divide="ignore"):
        values = htmt_from_corr(cov / (sd[:, :, None] * sd[:, None, :]), list(lay.blocks))
    iu, ju = np.triu_indices(len(lay.names), k=1)
    return values[:, iu, ju]


def _indices(est: PLSBatch, lay: Layout, scale: tuple[Any, Any]) -> np.ndarray | None:
    try:
        from csi_research.indices import acsi_index_from_arrays
    except ImportError:
        return None
    return acsi_index_from_arrays(est.raw_weights, est.item_mean, list(lay.blocks), scale[0], scale[1])


def _pls_labels(model: CSIModel, lay: Layout, task: _PLSTask) -> dict[str, pd.DataFrame]:
    owner = [model.construct_of(i) for i in lay.items]
    names = lay.names
    iu, ju = np.triu_indices(len(names), k=1)
    return {
        "path": pd.DataFrame({"source": [s for s, _ in model.paths], "target": [t for _, t in model.paths]}),
        "total_effect": pd.DataFrame(
            {"source": [names[s] for s, _ in task.effects], "target": [names[t] for _, t in task.effects]}
        ),
        "weight": pd.DataFrame({"construct": owner, "item": list(lay.items)}),
        "loading": pd.DataFrame({"construct": owner, "item": list(lay.items)}),
        "r2": pd.DataFrame({"construct": [names[j] for j in lay.endogenous]}),
        "htmt": pd.DataFrame({"source": [names[i] for i in iu], "target": [names[j] for j in ju]}),
        "index": pd.DataFrame({"construct": list(names)}),
    }


def _reachable(adjacency: np.ndarray) -> tuple[tuple[int, int], ...]:
    reach = adjacency.copy()
    for _ in range(len(adjacency)):
        reach = np.minimum(reach + reach @ adjacency, 1)
    return tuple((int(s), int(t)) for s, t in zip(*np.nonzero(reach), strict=True))


# ---------------------------------------------------------------------------- CB-SEM statistics
_CB_STATE: dict[str, Any] = {}


def _cb_init(model_spec: dict, frame: pd.DataFrame, options: dict, start: np.ndarray, worker: bool) -> None:
    """Per-process state: the re-fitter (semopy model built once) and the centred items."""
    from csi_research.estimation.cbsem import CBSEMRefit

    model = CSIModel.from_dict(model_spec)
    if worker:  # a worker process: keep it to one BLAS thread for its lifetime
        _CB_STATE["blas"] = _one_blas_thread()
    x = frame[list(model.items)].to_numpy(dtype=float)
    _CB_STATE.update(refit=CBSEMRefit(model, frame, start, **options), x=x - x.mean(axis=0))


def _cb_statistics(fit: Any, model: CSIModel) -> dict[str, np.ndarray]:
    paths = fit.paths.set_index(["source", "target"]).reindex(list(model.paths))
    return {
        "path": paths["estimate"].to_numpy(dtype=float)[None],
        "std_path": paths["std_estimate"].to_numpy(dtype=float)[None],
        "r2": fit.r2.reindex(model.endogenous).to_numpy(dtype=float)[None],
    }


def _cb_task(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Re-fit every resample of a chunk from its weighted covariance (no resampled frames)."""
    refit = _CB_STATE["refit"]
    _, covs, _ = weighted_moments(_CB_STATE["x"], counts)
    out = {
        "path": np.full((len(counts), len(refit.model.paths)), np.nan),
        "std_path": np.full((len(counts), len(refit.model.paths)), np.nan),
        "r2": np.full((len(counts), len(refit.model.endogenous)), np.nan),
        "converged": np.zeros(len(counts), dtype=bool),
        "admissible": np.zeros(len(counts), dtype=bool),
    }
    for b, cov in enumerate(covs):
        try:
            fit = refit(cov)
        except (ValueError, np.linalg.LinAlgError):
            continue
        if fit.converged:
            out["path"][b], out["std_path"][b], out["r2"][b] = fit.paths, fit.std_paths, fit.r2
            out["converged"][b], out["admissible"][b] = True, fit.admissible
    return out


def _cb_labels(model: CSIModel) -> dict[str, pd.DataFrame]:
    paths = pd.DataFrame({"source": [s for s, _ in model.paths], "target": [t for _, t in model.paths]})
    return {"path": paths, "std_path": paths, "r2": pd.DataFrame({"construct": model.endogenous})}


# ---------------------------------------------------------------------------- the entry point
def bootstrap(
    model: CSIModel,
    data: Any,
    n_boot: int = 5000,
    seed: int | np.random.Generator = 0,
    method: Literal["pls", "cbsem"] = "pls",
    scheme: str = "path",
    scaled: bool = True,
    strata: str | Sequence[Any] | np.ndarray | None = None,
    ci: float = 0.95,
    workers: int | None = None,
    progress: bool = True,
    chunk_size: int | None = None,
    index_scale: tuple[Any, Any] | None = None,
    missing: Literal["listwise", "mean"] = "listwise",
    bca: bool | None = None,
    backend: Literal["threads", "processes"] | None = None,
    **fit_kwargs: Any,
) -> BootstrapResult:
    """Resample respondents ``n_boot`` times and give SEs, percentile and BCa intervals.

    PLS statistics: paths, total effects, outer weights, loadings, R², HTMT and (with
    ``index_scale=(min, max)``) the 0–100 construct indices. CB-SEM: paths (raw and
    standardised) and R². ``strata`` (a column name or one value per row) resamples within
    strata, keeping their sizes. ``bca`` (default: on for PLS, off for CB-SEM, where the
    jackknife would cost n further fits) adds BCa bounds. Non-converged resamples are counted,
    reported in ``diagnostics`` and left out of every statistic (see column ``n_used``).
    ``backend`` chooses threads (PLS default; measured faster than processes, since numpy
    releases the GIL) or processes (CB-SEM default). ``chunk_size`` resamples are estimated
    together (default: about 40 MB of counts per chunk for PLS, 10 re-fits for CB-SEM).
    """
    if method not in ("pls", "cbsem"):
        raise ValueError(f"method must be 'pls' or 'cbsem', not {method!r}")
    if n_boot < 2:
        raise ValueError(f"n_boot must be at least 2, not {n_boot}")
    _check_ci(ci)
    workers = max(1, int(workers if workers is not None else os.cpu_count() or 1))
    bca = (method == "pls") if bca is None else bool(bca)
    backend = backend or ("threads" if method == "pls" else "processes")
    if backend not in ("threads", "processes"):
        raise ValueError(f"backend must be 'threads' or 'processes', not {backend!r}")

    frame = item_frame(model, data, missing=missing)
    codes = _strata_codes(strata, data, frame.index)
    if chunk_size is None:  # a chunk's count matrix stays around 40 MB
        chunk_size = min(500, max(16, 5_000_000 // len(frame))) if method == "pls" else 10
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive number of resamples, not {chunk_size}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    plan = _Plan(
        chunks=_count_chunks(rng, len(frame), codes, n_boot, chunk_size),
        sizes=[min(chunk_size, n_boot - s) for s in range(0, n_boot, chunk_size)],
        workers=workers,
        backend=backend,
        bca=bca,
        bar=tqdm(total=n_boot, desc=f"bootstrap ({method})", disable=not progress, leave=False),
    )
    diagnostics: list[str] = []
    try:
        if method == "pls":
            unknown = set(fit_kwargs) - {"tol", "max_iter"}
            if unknown:
                raise TypeError(f"unexpected PLS option(s) {sorted(unknown)}; PLS takes tol and max_iter")
            pls_options = {"scheme": scheme, "scaled": scaled, "index_scale": index_scale, **fit_kwargs}
            estimate, draws, jack, labels = _bootstrap_pls(model, data, frame, missing, pls_options, plan)
        else:
            estimate, draws, jack, labels = _bootstrap_cbsem(model, data, frame, missing, fit_kwargs, plan)
    finally:
        plan.bar.close()
    diagnostics += plan.notes

    converged = draws.pop("converged")
    admissible = draws.pop("admissible", None)
    n_failed = int((~converged).sum())
    n_used = n_boot - n_failed
    if n_failed:
        diagnostics.append(
            f"{n_failed} of {n_boot} resamples did not converge and were left out: the intervals use "
            f"{n_used}; if many fail, raise max_iter or check the model"
        )
    if admissible is not None and (bad := int((converged & ~admissible).sum())):
        diagnostics.append(
            f"{bad} of {n_used} converged CB-SEM resamples are not admissible (e.g. standardised paths "
            "outside [-1, 1]); they are kept in the draws, so read the intervals with care or use PLS"
        )
    if n_used < 2:
        raise EstimationError(f"only {n_used} of {n_boot} resamples converged: no interval is possible")
    for msg in diagnostics:
        warnings.warn(msg, CSIWarning, stacklevel=2)
    return BootstrapResult(
        estimates=_table(estimate, draws, jack, labels, ci),
        draws=draws,
        n_boot=n_boot,
        n_failed=n_failed,
        seed=seed,
        method=method,
        ci=ci,
        diagnostics=diagnostics,
    )


@dataclass
class _Plan:
    """How the resamples are run: count chunks in order, workers, progress bar, notes found."""

    chunks: Iterator[np.ndarray]
    sizes: list[int]
    workers: int
    backend: str
    bca: bool
    bar: tqdm
    notes: list[str] = field(default_factory=list)

    def pool(self, initializer: Callable | None = None, initargs: tuple = ()) -> Any:
        """An executor (a context manager), or a null context yielding None when serial."""
        if self.workers <= 1:
            return contextlib.nullcontext()
        if self.backend == "processes":
            return ProcessPoolExecutor(self.workers, initializer=initializer, initargs=initargs)
        return ThreadPoolExecutor(self.workers)

    def run(self, task: Callable, pool: Executor | None) -> dict[str, np.ndarray]:
        return _stack(_run(task, self.chunks, self.sizes, pool, self.workers, self.bar))

    def run_jackknife(self, task: Callable, parts: list[Any], pool: Executor | None) -> dict[str, np.ndarray]:
        jack = _stack(_run(task, iter(parts), [0] * len(parts), pool, self.workers, self.bar))
        jack.pop("converged")
        jack.pop("admissible", None)
        return jack


def _record(plan: _Plan, fit: Callable[[], Any], prefix: str = "") -> Any:
    """Run the full-sample fit, keeping its CSIWarnings as notes (they are re-raised once)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CSIWarning)
        result = fit()
    plan.notes += [f"{prefix}{w.message}" for w in caught if issubclass(w.category, CSIWarning)]
    return result


def _bootstrap_pls(model: CSIModel, data: Any, frame: pd.DataFrame, missing: str, options: dict, plan: _Plan):
    fit_options = {k: options[k] for k in ("scheme", "scaled", "tol", "max_iter") if k in options}
    _record(plan, lambda: fit_pls(model, data, missing=missing, **fit_options))  # validates, converges
    lay = Layout.of(model)
    x = frame.to_numpy()
    centre = x.mean(axis=0)
    task = _PLSTask(
        lay=lay,
        x=x - centre,
        centre=centre,
        scheme=options["scheme"],
        scaled=options["scaled"],
        tol=options.get("tol", 1e-6),
        max_iter=options.get("max_iter", 100),
        effects=_reachable(lay.adjacency),
        index_scale=options["index_scale"],
    )
    estimate = task(np.ones((1, len(x))))
    estimate.pop("converged")
    if task.index_scale is not None and "index" not in estimate:
        plan.notes.append("construct indices were not bootstrapped: csi_research.indices is not available")
    blas = _one_blas_thread() if plan.workers > 1 else contextlib.nullcontext()
    with plan.pool() as pool, blas:
        draws = plan.run(task, pool)
        parts = list(jackknife_moments(task.x, 500)) if plan.bca else []
        jack = plan.run_jackknife(task.jackknife, parts, pool) if plan.bca else None
    return {k: v[0] for k, v in estimate.items()}, draws, jack, _pls_labels(model, lay, task)


def _bootstrap_cbsem(
    model: CSIModel, data: Any, frame: pd.DataFrame, missing: str, options: dict, plan: _Plan
):
    from csi_research.estimation.cbsem import fit_cbsem

    kwargs = {"missing": missing, **options}
    if kwargs.get("estimator", "ML") != "ML":
        raise ValueError("the CB-SEM bootstrap re-fits by ML only: FIML fits are far too slow to bootstrap")
    full = _record(plan, lambda: fit_cbsem(model, data, **kwargs), prefix="full sample: ")
    estimate = {k: v[0] for k, v in _cb_statistics(full, model).items()}
    refit_options = {k: v for k, v in options.items() if k in ("single_item_reliability", "covariances")}
    init = (model.to_dict(), frame, refit_options, full.parameters)
    _cb_init(*init, worker=False)
    with plan.pool(_cb_init, (*init, True)) as pool, _one_blas_thread():
        draws = plan.run(_cb_task, pool)
        jack = None
        if plan.bca:
            n = len(frame)
            leave_out = np.ones((n, n), dtype=np.int64) - np.eye(n, dtype=np.int64)
            jack = plan.run_jackknife(_cb_task, [leave_out[s:s + 25] for s in range(0, n, 25)], pool)
    return estimate, draws, jack, _cb_labels(model)


def _table(
    estimate: dict[str, np.ndarray],
    draws: dict[str, np.ndarray],
    jack: dict[str, np.ndarray] | None,
    labels: dict[str, pd.DataFrame],
    ci: float,
) -> pd.DataFrame:
    frames = []
    for kind, values in draws.items():
        est = estimate[kind]
        se = np.nanstd(values, axis=0, ddof=1)
        lower, upper = percentile_interval(values, ci)
        if jack is not None:
            bca_lower, bca_upper = bca_interval(values, est, jack[kind], ci)
        else:
            bca_lower = bca_upper = np.full(est.shape, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_value = est / se
        part = labels[kind].copy()
        part.insert(0, "statistic", kind)
        part = part.assign(
            estimate=est,
            boot_mean=np.nanmean(values, axis=0),
            se=se,
            t=t_value,
            ci_lower=lower,
            ci_upper=upper,
            bca_lower=bca_lower,
            bca_upper=bca_upper,
            n_used=np.isfinite(values).sum(axis=0),
        )
        frames.append(part)
    table = pd.concat(frames, ignore_index=True)
    for col in LABELS:
        if col not in table:
            table[col] = None
    return table[LABELS + [c for c in table.columns if c not in LABELS]]
