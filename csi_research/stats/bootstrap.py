"""Bootstrap intervals for PLS and CB-SEM estimates: percentile and BCa.

``bootstrap(fit)`` resamples the respondents of the fit's own prepared sample with the fit's own
settings, so the full-sample estimate of every statistic *is* the fit's estimate. Resamples are
drawn as count vectors from one ``numpy`` generator, chunk by chunk in a fixed order *before* any
work is handed to workers, so the result depends on ``seed`` only, never on ``workers``. Survey
weights and EM terms enter every resample's moments. PLS resamples go through the batched
covariance engine (thousands per second); CB-SEM resamples re-fit one prepared semopy model to
each resample's weighted covariance matrix, starting from the full-sample estimates.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from tqdm import tqdm

from csi_research.core import options
from csi_research.core.diagnostics import public
from csi_research.core.errors import EstimationError, ModelSpecError
from csi_research.data.sample import Moments
from csi_research.model import CSIModel
from csi_research.stats.effects import chain_positions, chains, f2_from_batch, indirect_from_paths
from csi_research.stats.intervals import bca_interval, percentile_interval
from csi_research.stats.pls_engine import Layout, pls_from_moments

LABELS = ["statistic", "source", "via", "target", "construct", "item"]


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
                    options.level_text(self.ci),
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
def _strata_codes(strata: Any, frame: pd.DataFrame) -> np.ndarray | None:
    """Integer stratum of every respondent of the sample (None: no strata)."""
    if strata is None:
        return None
    if isinstance(strata, str):
        if strata not in frame.columns:
            raise ModelSpecError(
                f"strata column {strata!r} is not in the data; columns: {', '.join(map(str, frame.columns))}"
            )
        values = frame[strata]
    else:
        if len(strata) != len(frame):
            raise ModelSpecError(
                f"strata has {len(strata)} values but the sample has {len(frame)} respondents: give one each"
            )
        values = pd.Series(np.asarray(strata), index=frame.index)
    if values.isna().any():
        row = values.index[values.isna()][0]
        raise ModelSpecError(f"strata: row {row} has no stratum; fill it or drop the respondent")
    return pd.factorize(values)[0]


def count_chunks(
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
    moments: Moments
    scheme: str
    scaled: bool
    tol: float
    max_iter: int
    effects: tuple[tuple[int, int], ...]
    bounds: tuple[np.ndarray, np.ndarray] | None  # item scales, for the 0–100 indices
    model: CSIModel  # for the f² of each path
    consistent: bool = False  # PLSc: every resample is corrected as the fit was

    def __call__(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        return self.statistics(*self.moments(counts))

    def statistics(self, mean: np.ndarray, cov: np.ndarray, size: np.ndarray) -> dict[str, np.ndarray]:
        from csi_research.stats.indices import acsi_index_from_arrays

        est = pls_from_moments(self.lay, mean, cov, size, self.scheme, self.scaled, self.tol, self.max_iter)
        if self.consistent:
            from csi_research.stats.plsc import consistent_batch

            est = consistent_batch(self.lay, est, cov)[0]
        src, tgt = [s for s, _ in self.effects], [t for _, t in self.effects]
        out = {
            "path": est.paths,
            "total_effect": est.total_effects[:, src, tgt],
            "weight": est.weights,
            "loading": est.loadings,
            "r2": est.r2,
            "f2": f2_from_batch(self.model, est.latent_corr, est.paths, est.r2),
            "htmt": _htmt(cov, self.lay),
        }
        if self.bounds is not None:
            out["index"] = acsi_index_from_arrays(est.raw_weights, est.item_mean, list(self.lay.blocks),
                                                  *self.bounds)
        for value in out.values():
            value[~est.converged] = np.nan
        out["converged"] = est.converged
        return out

    def jackknife(self, part: tuple[np.ndarray, np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
        return self.statistics(*part)


def _htmt(cov: np.ndarray, lay: Layout) -> np.ndarray:
    """Upper-triangle HTMT values (B, k(k-1)/2)."""
    from csi_research.stats.measurement import htmt_from_corr

    sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    with np.errstate(invalid="ignore", divide="ignore"):
        values = htmt_from_corr(cov / (sd[:, :, None] * sd[:, None, :]), list(lay.blocks))
    iu, ju = np.triu_indices(len(lay.names), k=1)
    return values[:, iu, ju]


def _pls_labels(model: CSIModel, task: _PLSTask) -> dict[str, pd.DataFrame]:
    lay = task.lay
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
        "f2": pd.DataFrame({"source": [s for s, _ in model.paths], "target": [t for _, t in model.paths]}),
        "htmt": pd.DataFrame({"source": [names[i] for i in iu], "target": [names[j] for j in ju]}),
        "index": pd.DataFrame({"construct": list(names)}),
    }


# ---------------------------------------------------------------------------- CB-SEM statistics
def _cb_statistics(fit: Any, model: CSIModel) -> dict[str, np.ndarray]:
    paths = fit.paths.set_index(["source", "target"]).reindex(list(model.paths))
    return {
        "path": paths["estimate"].to_numpy(dtype=float)[None],
        "std_path": paths["std_estimate"].to_numpy(dtype=float)[None],
        "r2": fit.r2.reindex(model.endogenous).to_numpy(dtype=float)[None],
    }


@dataclass
class _CBTask:
    """Re-fits the resamples of a chunk from their weighted covariances (no resampled frames).

    It travels to worker processes by pickling; the semopy re-fitter is built on first use in
    each process and kept on the task, never in module state.
    """

    model: CSIModel
    x: pd.DataFrame
    moments: Moments
    start: np.ndarray
    options: dict[str, Any]
    fiml: bool = False  # x holds the answers as given (NaN where skipped)
    _refit: Any = field(default=None, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_refit": None}  # a semopy model is rebuilt, not shipped

    def __call__(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        from csi_research.stats.cbsem import CBSEMRefit, FIMLRefit

        if self._refit is None and self.fiml:
            self._refit = FIMLRefit(self.model, self.x, self.moments.weights, self.start, **self.options)
        elif self._refit is None:
            cov = self.moments(np.ones((1, len(self.x))))[1][0]
            self._refit = CBSEMRefit(self.model, self.x, cov, self.start, **self.options)
        # FIML re-fits the answers as given, counted as drawn; ML the resample's weighted covariance
        resamples = counts if self.fiml else self.moments(counts)[1]
        m = len(self.model.paths)
        out = {
            "path": np.full((len(counts), m), np.nan),
            "std_path": np.full((len(counts), m), np.nan),
            "r2": np.full((len(counts), len(self.model.endogenous)), np.nan),
            "converged": np.zeros(len(counts), dtype=bool),
            "admissible": np.zeros(len(counts), dtype=bool),
        }
        for b, resample in enumerate(resamples):
            try:
                fit = self._refit(resample)
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
@public
def bootstrap(
    fit: Any,
    n_boot: int = 5000,
    seed: int | np.random.Generator = 0,
    *,
    ci: float = options.DEFAULT_CI,
    strata: str | Sequence[Any] | np.ndarray | None = None,
    workers: int | None = None,
    progress: bool = True,
    chunk_size: int | None = None,
    bca: bool | None = None,
    backend: Literal["threads", "processes"] | None = None,
    extra: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None,
) -> BootstrapResult:
    """Resample the respondents of a fit ``n_boot`` times: SEs, percentile and BCa intervals.

    ``fit`` is a PLS fit (:func:`fit_pls`) or a CB-SEM fit (:func:`fit_cbsem`, ML or FIML: FIML
    re-fits each resample's answers as given, the respondents counted as drawn); its sample,
    survey weights and settings are reused, so the bootstrap's ``estimate`` column equals the fit.
    PLS statistics: paths, total effects, outer weights, loadings, R², f², HTMT and the 0–100
    construct indices (when the item scales are known). CB-SEM: paths (raw and standardised)
    and R². Both: every specific indirect effect (``indirect_effect``, one row per chain, its
    mediators in ``via``), the product of its paths in each resample. ``strata`` (a column of the
    sample or one value per respondent) resamples within strata, keeping their sizes. ``bca``
    (default: on for PLS, off for CB-SEM, where the jackknife would cost n further fits) adds BCa
    bounds at level ``ci``. Non-converged resamples are
    counted, reported in ``diagnostics`` and left out of every statistic (column ``n_used``);
    non-admissible CB-SEM resamples (e.g. a negative disturbance variance, R² > 1) likewise.
    ``backend``: threads (PLS default; numpy releases the GIL) or processes (CB-SEM default).
    ``extra`` maps a statistic's name to a callable of the respondents' resample weights
    (B, n) — survey weight × times drawn — returning (B,) values (e.g. a headline figure,
    :mod:`csi_research.stats.headline`); it is evaluated on the very resamples of the fit and
    gets rows ``statistic == name`` and ``draws[name]`` (NaN where the fit's resample failed).
    For BCa its leave-one-out values come from its ``jackknife(weights)`` method when it has
    one, else from calling it on the leave-one-out weights.
    """
    method = "cbsem" if hasattr(fit, "fit_indices") else "pls"
    if not (isinstance(n_boot, int) and n_boot >= options.MIN_N_BOOT):
        raise ValueError(f"n_boot must be an integer of at least {options.MIN_N_BOOT}, not {n_boot!r}")
    ci = options.ci_level(ci)
    workers = max(1, int(workers if workers is not None else os.cpu_count() or 1))
    bca = (method == "pls") if bca is None else bool(bca)
    backend = backend or ("threads" if method == "pls" else "processes")
    options.choice(backend, ("threads", "processes"), "backend")
    sample = fit.sample
    codes = _strata_codes(strata, sample.frame)
    n = sample.n
    if chunk_size is None:  # PLS: a chunk's count matrix stays around 40 MB; CB-SEM: a few chunks per worker
        chunk_size = (min(500, max(16, 5_000_000 // n)) if method == "pls"
                      else max(10, math.ceil(n_boot / (4 * workers))))
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive number of resamples, not {chunk_size}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    extras = _Extras(dict(extra or {}), np.asarray(sample.weights, dtype=float))
    plan = _Plan(
        chunks=extras.watch(count_chunks(rng, n, codes, n_boot, chunk_size)),
        sizes=[min(chunk_size, n_boot - s) for s in range(0, n_boot, chunk_size)],
        workers=workers,
        backend=backend,
        bca=bca,
        bar=tqdm(total=n_boot, desc=f"bootstrap ({method})", disable=not progress, leave=False),
    )
    try:
        run = _bootstrap_pls if method == "pls" else _bootstrap_cbsem
        estimate, draws, jack, labels = run(fit, plan)
    finally:
        plan.bar.close()
    if chains(fit.model):  # a model without a chain of two paths has no indirect effect
        estimate, draws, jack = (_with_indirect(fit.model, s) for s in (estimate, draws, jack))
        labels["indirect_effect"] = _indirect_labels(fit.model)
    estimate, draws, jack = extras.add(estimate, draws, jack, labels)

    converged = draws.pop("converged")
    admissible = draws.pop("admissible", None)
    n_failed = int((~converged).sum())
    diagnostics = []
    if n_failed:
        diagnostics.append(
            f"{n_failed} of {n_boot} resamples did not converge and were left out: the intervals use "
            f"{n_boot - n_failed}; if many fail, raise max_iter or check the model"
        )
    if admissible is not None and (bad := int((converged & ~admissible).sum())):
        for values in draws.values():
            values[converged & ~admissible] = np.nan
        n_failed += bad
        diagnostics.append(
            f"{bad} of {n_boot} CB-SEM resamples gave a non-admissible solution (e.g. a negative variance, "
            "standardised paths outside [-1, 1], R² above 1) and were left out of the intervals; many such "
            "resamples mean the full-sample solution is fragile: read the PLS results instead"
        )
    n_used = n_boot - n_failed
    if n_used < 2:
        raise EstimationError(f"only {n_used} of {n_boot} resamples were usable: no interval is possible")
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


def _with_indirect(model: CSIModel, statistics: dict[str, np.ndarray] | None) -> dict[str, np.ndarray] | None:
    """``statistics`` plus every specific indirect effect, the product of its paths in each resample
    (or jackknife fit), so their intervals come from the very resamples of the paths."""
    if statistics is None:
        return None
    paths = statistics["path"]
    indirect = indirect_from_paths(paths, chain_positions(model, chains(model)))
    return {**statistics, "indirect_effect": indirect[0] if paths.ndim == 1 else indirect}


def _indirect_labels(model: CSIModel) -> pd.DataFrame:
    found = chains(model)
    return pd.DataFrame({"source": [c[0] for c in found], "via": [" → ".join(c[1:-1]) for c in found],
                         "target": [c[-1] for c in found]})


@dataclass
class _Extras:
    """The ``extra=`` statistics: evaluated on each chunk of counts as it is handed out (in order,
    in the calling thread), so they see exactly the resamples of the fit."""

    functions: dict[str, Callable[[np.ndarray], np.ndarray]]
    weights: np.ndarray
    values: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clash = sorted(set(self.functions) & {*LABELS, "converged", "admissible", "path", "std_path", "r2",
                                              "total_effect", "weight", "loading", "f2", "htmt", "index",
                                              "indirect_effect"})
        if clash:
            raise ValueError(f"extra statistic name(s) {', '.join(clash)} are taken by the bootstrap's own "
                             "statistics: rename them")
        self.values = {name: [] for name in self.functions}

    def watch(self, chunks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        for counts in chunks:
            if self.functions:
                a = counts * self.weights
                for name, function in self.functions.items():
                    self.values[name].append(np.asarray(function(a), dtype=float).reshape(len(counts)))
            yield counts

    def jackknife(self, function: Callable[[np.ndarray], np.ndarray], chunk: int = 500) -> np.ndarray:
        if hasattr(function, "jackknife"):
            return np.asarray(function.jackknife(self.weights), dtype=float)
        n = len(self.weights)
        parts = []
        for start in range(0, n, chunk):
            rows = np.arange(start, min(start + chunk, n))
            a = np.tile(self.weights, (len(rows), 1))
            a[np.arange(len(rows)), rows] = 0.0
            parts.append(np.asarray(function(a), dtype=float).reshape(len(rows)))
        return np.concatenate(parts)

    def add(self, estimate: dict[str, np.ndarray], draws: dict[str, np.ndarray],
            jack: dict[str, np.ndarray] | None, labels: dict[str, pd.DataFrame]) -> tuple[Any, Any, Any]:
        """The statistics with the extras beside them, as one-column statistics."""
        if not self.functions:
            return estimate, draws, jack
        estimate, draws = dict(estimate), dict(draws)
        jack = None if jack is None else dict(jack)
        failed = ~draws["converged"]
        for name, function in self.functions.items():
            values = np.concatenate(self.values[name])
            values[failed] = np.nan  # the same resamples as the fit's statistics
            draws[name] = values[:, None]
            estimate[name] = np.asarray(function(self.weights[None]), dtype=float).reshape(1)
            if jack is not None:
                jack[name] = self.jackknife(function)[:, None]
            labels[name] = pd.DataFrame(index=[0])
        return estimate, draws, jack


@dataclass
class _Plan:
    """How the resamples are run: count chunks in order, workers, progress bar."""

    chunks: Iterator[np.ndarray]
    sizes: list[int]
    workers: int
    backend: str
    bca: bool
    bar: tqdm

    def pool(self) -> Any:
        """An executor (a context manager), or a null context yielding None when serial."""
        if self.workers <= 1:
            return contextlib.nullcontext()
        if self.backend == "processes":
            return ProcessPoolExecutor(self.workers, initializer=_limit_blas)
        return ThreadPoolExecutor(self.workers)

    def run(self, task: Callable, pool: Executor | None) -> dict[str, np.ndarray]:
        return _stack(_run(task, self.chunks, self.sizes, pool, self.workers, self.bar))

    def run_jackknife(self, task: Callable, parts: list[Any], pool: Executor | None) -> dict[str, np.ndarray]:
        jack = _stack(_run(task, iter(parts), [0] * len(parts), pool, self.workers, self.bar))
        jack.pop("converged")
        jack.pop("admissible", None)
        return jack


def _limit_blas() -> None:
    """Worker-process initializer: one BLAS thread for the worker's lifetime."""
    _one_blas_thread().__enter__()


def _bootstrap_pls(fit: Any, plan: _Plan):
    sample = fit.sample
    lay = Layout.of(sample.model)
    bounds = None if sample.scale_min is None else sample.bounds()
    pos = {name: j for j, name in enumerate(lay.names)}
    effects = tuple((pos[s], pos[t]) for s, t in sample.model.effect_pairs())
    task = _PLSTask(lay, sample.moments, fit.scheme, fit.scaled, fit.tol, fit.max_iter, effects, bounds,
                    sample.model, fit.consistent)
    estimate = task(np.ones((1, sample.n)))
    estimate.pop("converged")
    blas = _one_blas_thread() if plan.workers > 1 else contextlib.nullcontext()
    with plan.pool() as pool, blas:
        draws = plan.run(task, pool)
        parts = list(sample.moments.jackknife(500)) if plan.bca else []
        jack = plan.run_jackknife(task.jackknife, parts, pool) if plan.bca else None
    return {k: v[0] for k, v in estimate.items()}, draws, jack, _pls_labels(sample.model, task)


def _bootstrap_cbsem(fit: Any, plan: _Plan):
    sample, model = fit.sample, fit.model
    estimate = {k: v[0] for k, v in _cb_statistics(fit, model).items()}
    refit_options = {k: v for k, v in fit.options.items()  # a refit computes no standard errors
                     if v is not None and k != "information"}
    fiml = fit.estimator == "FIML"
    x = sample.x.where(sample.observed) if fiml else sample.x
    task = _CBTask(model, x, sample.moments, fit.parameters, refit_options, fiml)
    with plan.pool() as pool, _one_blas_thread():
        draws = plan.run(task, pool)
        jack = None
        if plan.bca:
            n = sample.n
            leave_out = np.ones((n, n), dtype=np.int64) - np.eye(n, dtype=np.int64)
            jack = plan.run_jackknife(task, [leave_out[s:s + 25] for s in range(0, n, 25)], pool)
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
