"""The prepared sample: respondents kept, item matrix, survey weights, missing data, scales — made once.

Every estimator and every table after it stands on one :class:`Sample`, so a study cannot report
PLS paths on 288 respondents and an index on 450. ``prepare`` is the only place that selects
respondents, validates the items, imputes missing answers and normalises weights; a fit carries
its Sample and nothing downstream re-reads the data.

Missing answers (see ``docs/missing-data.md`` for the simulation that chose the default):

``em`` (default)
    The items' mean vector and covariance matrix are the maximum-likelihood estimates under
    multivariate normality by EM (consistent under MCAR and MAR). A missing answer is replaced by
    its conditional expectation given the respondent's other answers, and the moments add each
    respondent's conditional covariance, so PLS — which needs only moments — sees exactly the EM
    estimates. Every respondent with at least one answer is kept.
``mean``
    Missing answers replaced by the item mean (SmartPLS/seminr's default). Keeps everyone, but
    shrinks covariances and so attenuates loadings and paths as missingness grows.
``listwise``
    Respondents with any missing model item are dropped. Unbiased only under MCAR and wasteful:
    1.5 % missing cells spread over 30 items drop about a third of a survey.

Survey weights (post-stratification or design weights) are normalised to mean 1 over the kept
respondents and enter every moment (weighted PLS, as SmartPLS's WPLS), index, IPMA and resample.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise
from typing import Any, NoReturn

import numpy as np
import pandas as pd
from scipy import sparse

from csi_research.core import options
from csi_research.core.diagnostics import public
from csi_research.core.errors import EstimationError, ModelSpecError, SurveyDataError
from csi_research.core.yamlfile import names
from csi_research.model import CSIModel

ROW_CHUNK = 20_000  # respondents per block of cross-products: bounded memory for large surveys


def as_frame(data: Any) -> pd.DataFrame:
    """The DataFrame behind ``data`` (a DataFrame, or a Survey with a ``frame``)."""
    frame = getattr(data, "frame", data)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame or a Survey, got {type(data).__name__}")
    return frame


def respondents(data: Any) -> tuple[pd.DataFrame, np.ndarray | None, Any]:
    """Rows, survey weights and codebook of a fit or prepared Sample (the study's respondents), or
    of a Survey/DataFrame (all rows, unweighted): for methods that read answers, not moments."""
    sample = getattr(data, "sample", data)
    if isinstance(sample, Sample):
        return sample.frame, sample.weights, sample.codebook
    return as_frame(data), None, getattr(data, "codebook", None)


class OnSample:
    """What every fit reads from the prepared sample it carries (``self.sample``)."""

    sample: Sample

    @property
    def model(self) -> CSIModel:
        return self.sample.model

    @property
    def n(self) -> int:
        return self.sample.n

    @property
    def missing(self) -> str:
        return self.sample.missing


@dataclass(frozen=True, eq=False)
class Sample:
    """Respondents × model items, ready for estimation (build it with :func:`prepare`).

    ``x`` is complete (imputed where ``observed`` is False); ``frame`` holds the same respondents'
    full rows (attributes and answers as given) for segments and the grade-score index;
    ``weights`` average 1. ``extra`` holds, per missing-data pattern, the conditional covariance
    of the imputed answers that EM adds to the cross-products (zeros otherwise).
    """

    model: CSIModel
    x: pd.DataFrame
    observed: pd.DataFrame
    frame: pd.DataFrame
    weights: np.ndarray
    weighted: bool
    missing: str
    scale_min: np.ndarray | None
    scale_max: np.ndarray | None
    codebook: Any
    n_received: int
    source: str
    sha256: str | None
    pattern: np.ndarray = field(repr=False)  # (n,) missing-data pattern of each respondent
    extra: np.ndarray = field(repr=False)  # (patterns, p, p) conditional covariances (EM)
    diagnostics: tuple[str, ...] = ()

    # ------------------------------------------------------------------ sizes and words
    @property
    def n(self) -> int:
        return len(self.x)

    @property
    def n_imputed(self) -> int:
        """Answers imputed (0 for listwise deletion)."""
        return int((~self.observed.to_numpy()).sum())

    @property
    def n_dropped(self) -> int:
        return self.n_received - self.n

    def describe(self, language: str = "en") -> str:
        """One sentence on the base of every table: respondents, treatment, imputed answers, weights."""
        zh = language == "zh"
        if zh:
            text = f"有效样本 {self.n} 份（收回 {self.n_received} 份）"
            if self.n_dropped:
                text += f"，剔除 {self.n_dropped} 份"
            text += {"em": "；缺失答案采用EM插补", "mean": "；缺失答案采用题项均值替代",
                     "listwise": "；缺失答案采用整份剔除"}[self.missing]
            if self.n_imputed:
                text += f"，共插补 {self.n_imputed} 个答案"
            return text + ("；按调查权重加权。" if self.weighted else "。")
        text = f"{self.n} respondents of {self.n_received} received"
        if self.n_dropped:
            text += f" ({self.n_dropped} dropped)"
        text += f"; missing answers: {options.MISSING_TEXT[self.missing]}"
        if self.n_imputed:
            text += f", {self.n_imputed} answers imputed"
        return text + ("; weighted by survey weights." if self.weighted else ".")

    # ------------------------------------------------------------------ moments
    @cached_property
    def moments(self) -> Moments:
        """The weighted moments of any resample of these respondents (``sample.moments(counts)``)."""
        x = self.x.to_numpy()
        centre = self.weights @ x / self.weights.sum()
        return Moments(x - centre, centre, self.weights, self.pattern, self.extra)

    @cached_property
    def _full(self) -> tuple[np.ndarray, np.ndarray]:
        mean, cov, _ = self.moments(np.ones((1, self.n)))
        return mean[0], cov[0]

    @property
    def mean(self) -> pd.Series:
        """Weighted item means (with EM: the ML means)."""
        return pd.Series(self._full[0], index=self.x.columns, name="mean")

    @property
    def cov(self) -> pd.DataFrame:
        """Weighted population (N-divisor) covariance of the items (with EM: the ML covariance)."""
        return pd.DataFrame(self._full[1], index=self.x.columns, columns=self.x.columns)

    @property
    def corr(self) -> pd.DataFrame:
        c = self._full[1]
        sd = np.sqrt(np.diag(c))
        return pd.DataFrame(c / np.outer(sd, sd), index=self.x.columns, columns=self.x.columns)

    # ------------------------------------------------------------------ scales
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-item (min, max) of the answer scales, or an error saying how to give them."""
        if self.scale_min is None or self.scale_max is None:
            raise ModelSpecError(
                "the answer scale is unknown: prepare the sample from a Survey (its codebook has the "
                "scales), or pass codebook= or scale_min/scale_max (e.g. 1 and 10)"
            )
        return self.scale_min, self.scale_max

    def rescaled(self) -> np.ndarray:
        """The completed items on 0–100 (each item's scale minimum → 0, maximum → 100)."""
        lo, hi = self.bounds()
        return (self.x.to_numpy() - lo) / (hi - lo) * 100.0


@dataclass(frozen=True, eq=False)
class Moments:
    """Weighted moments of resamples of one prepared sample (plain arrays: cheap to send to a worker)."""

    x: np.ndarray  # (n, p) completed items, centred at ``centre`` (for accuracy)
    centre: np.ndarray  # (p,) weighted item means
    weights: np.ndarray  # (n,) survey weights, mean 1
    pattern: np.ndarray  # (n,) missing-data pattern of each respondent
    extra: np.ndarray  # (patterns, p, p) EM conditional covariance of each pattern

    def __call__(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Means ``(B, p)``, population covariances ``(B, p, p)`` and sizes ``(B,)`` of resamples.

        ``counts[b, i]`` is how often respondent i is drawn in resample b (ones: the full sample).
        Each respondent enters with weight count × survey weight; sizes count respondents. The
        cross-products are formed once per block of respondents (upper triangle) and every
        resample is a matrix product, so thousands of resamples cost little more than one.
        """
        counts = np.atleast_2d(np.asarray(counts, dtype=float))
        n, p = self.x.shape
        if counts.shape[1] != n:
            raise ValueError(f"counts has {counts.shape[1]} columns but the sample has {n} respondents")
        a = counts * self.weights
        iu, ju = np.triu_indices(p)
        sxx = np.zeros((a.shape[0], iu.size))
        for start in range(0, n, ROW_CHUNK):
            rows = self.x[start:start + ROW_CHUNK]
            sxx += a[:, start:start + ROW_CHUNK] @ (rows[:, iu] * rows[:, ju])
        if self.extra.any():  # EM: each respondent adds its pattern's conditional covariance
            cells = (np.ones(n), (np.arange(n), self.pattern))
            one_hot = sparse.csr_matrix(cells, shape=(n, len(self.extra)))
            sxx += (one_hot.T @ a.T).T @ self.extra[:, iu, ju]
        return (*self._finish(sxx, a @ self.x, a.sum(axis=1)), counts.sum(axis=1))

    def jackknife(self, chunk: int = 1_000) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Leave-one-out moments in chunks of respondents, without an (n, n) count matrix."""
        x, w = self.x, self.weights
        n, p = x.shape
        iu, ju = np.triu_indices(p)
        own = self.extra[:, iu, ju][self.pattern]  # (n, q): each respondent's EM term
        products = x[:, iu] * x[:, ju] + own
        sxx_all, sx_all, w_all = w @ products, w @ x, w.sum()
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            wr = w[start:stop, None]
            mean, cov = self._finish(sxx_all - wr * products[start:stop], sx_all - wr * x[start:stop],
                                     w_all - wr[:, 0])
            yield mean, cov, np.full(stop - start, n - 1.0)

    def _finish(self, sxx: np.ndarray, sx: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Means and covariances from weighted sums of cross-products, sums and total weights."""
        p = sx.shape[1]
        iu, ju = np.triu_indices(p)
        mean = sx / size[:, None]
        cov = np.empty((sxx.shape[0], p, p))
        cov[:, iu, ju] = sxx
        cov[:, ju, iu] = sxx
        cov = cov / size[:, None, None] - mean[:, :, None] * mean[:, None, :]
        return mean + self.centre, cov


# ---------------------------------------------------------------------------- building it
@public
def prepare(
    model: CSIModel,
    data: Any,
    *,
    missing: str = options.DEFAULT_MISSING,
    weights: Any = None,
    codebook: Any = None,
    scale_min: float | None = None,
    scale_max: float | None = None,
    min_rows: int = 3,
) -> Sample:
    """Select, validate, impute and weight the respondents once (see the module documentation).

    ``data`` is a Survey (its codebook gives the scales) or a DataFrame. ``weights`` is a column
    name, one number per row of ``data`` (array or Series), or a post-stratification spec
    ``{"by": column(s), "population_shares": {cell: share}}`` applied to the kept respondents.
    """
    missing = options.choice(missing, options.MISSING, "missing")
    frame = as_frame(data)
    source = str(getattr(data, "source", "data"))
    raw = _items(model, frame, source)
    observed = raw.notna()
    keep = observed.all(axis=1) if missing == "listwise" else observed.any(axis=1)
    diagnostics = _missing_notes(raw, keep, missing)
    raw, observed = raw[keep], observed[keep]
    if len(raw) < min_rows:
        raise EstimationError(
            f"{source}: only {len(raw)} respondents remain after {options.MISSING_TEXT[missing]}; "
            f"at least {min_rows} are needed"
        )
    if len(raw) <= raw.shape[1]:  # checked before the items: with 3 respondents every item looks odd
        raise EstimationError(
            f"{source}: {len(raw)} respondents are too few for a model of {raw.shape[1]} items: the items' "
            f"covariance matrix needs more respondents than items (at least {raw.shape[1] + 1}; PLS wants "
            "10 per arrow into a construct); survey more respondents, pool waves or regions, or drop items"
        )
    check_constant(raw, source)
    _check_collinear(raw, source)
    book = codebook if codebook is not None else getattr(data, "codebook", None)
    lo, hi = _scale_bounds(model.items, book, scale_min, scale_max)
    if lo is not None:
        _check_range(raw, lo, hi, source)
    kept = frame.loc[raw.index]
    w, notes = _weights(weights, frame, kept, source)
    diagnostics += notes
    weighted = int((w > 0).sum())
    if weighted <= raw.shape[1]:  # zero weights drop respondents as surely as deletion does
        raise EstimationError(
            f"{source}: only {weighted} of the {len(raw)} respondents have a positive survey weight, too "
            f"few for a model of {raw.shape[1]} items (at least {raw.shape[1] + 1} are needed); check the "
            "weights or the weighting cells"
        )
    x, pattern, extra = _complete(raw.to_numpy(), w, missing)
    return Sample(
        model=model,
        x=pd.DataFrame(x, index=raw.index, columns=raw.columns),
        observed=observed,
        frame=kept,
        weights=w,
        weighted=weights is not None,
        missing=missing,
        scale_min=lo,
        scale_max=hi,
        codebook=book,
        n_received=len(frame),
        source=source,
        sha256=getattr(data, "sha256", None),
        pattern=pattern,
        extra=extra,
        diagnostics=tuple(diagnostics),
    )


def rows_received(model: Any, data: Any) -> int | None:
    """Rows of raw ``data`` for an estimator's size check before preparing it (None when ``data`` is
    no frame holding every item of ``model``: then :func:`prepare` reports what is wrong)."""
    frame = getattr(data, "frame", data)
    if not isinstance(model, CSIModel) or not isinstance(frame, pd.DataFrame):
        return None
    return len(frame) if set(model.items) <= set(frame.columns) else None


def sample_of(model: CSIModel | Sample, data: Any, **settings: Any) -> Sample:
    """``model`` itself when it is a prepared Sample, else ``prepare(model, data, **settings)``.

    Settings left at None take prepare's defaults; with a Sample, data and settings must not be
    given again (the Sample already fixed them).
    """
    given = {k: v for k, v in settings.items() if v is not None}
    if isinstance(model, Sample):
        if data is not None or given:
            raise TypeError(
                f"a prepared Sample already holds its data and settings; do not pass "
                f"{', '.join(['data'] * (data is not None) + sorted(given))} again"
            )
        return model
    if data is None:
        raise TypeError("give the data (a Survey or DataFrame) with the model, or a prepared Sample")
    return prepare.quiet(model, data, **given)


def _items(model: CSIModel, frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """The model's item columns as float, each checked: present, numeric, observed, not constant."""
    absent = [i for i in model.items if i not in frame.columns]
    if absent:
        more = " ..." if frame.shape[1] > 12 else ""
        raise ModelSpecError(
            f"{source}: item(s) {', '.join(absent)} of the model are not columns of the data; "
            f"data columns: {', '.join(map(str, frame.columns[:12]))}{more}"
        )
    x = frame[model.items]
    for col in x.columns:
        if not pd.api.types.is_numeric_dtype(x[col]) or pd.api.types.is_bool_dtype(x[col]):
            values = pd.to_numeric(x[col], errors="coerce")
            bad = x[col][values.isna() & x[col].notna()]
            row = bad.index[0] if len(bad) else "?"
            value = bad.iloc[0] if len(bad) else x[col].dtype
            raise SurveyDataError(
                f"{source}: column {col} row {row}: value {value!r} is not numeric; "
                "recode text answers to scale codes (load_survey does this from the codebook)"
            )
    x = x.astype(float)
    for col in x.columns:
        if x[col].isna().all():
            raise EstimationError(
                f"{source}: item {col} has no observed value: drop it from the model or fix the data"
            )
    return x


def check_constant(x: pd.DataFrame, source: str) -> None:
    """Every item must vary among the respondents kept (listwise deletion can leave one answer)."""
    for col in x.columns:
        answered = x[col].dropna()
        if answered.nunique() < 2:
            raise EstimationError(
                f"{source}: item {col} is constant (every answer is {answered.iloc[0]:g}): it carries no "
                "information; drop it from the model"
            )


COLLINEAR_R = 1 - 1e-9  # |correlation| of two items taken as the same answers twice
MIN_OVERLAP = 10  # respondents answering both items before their correlation is judged
SINGULAR = 1e-10  # smallest / largest eigenvalue of the item correlations below which they are singular


def _check_collinear(x: pd.DataFrame, source: str) -> None:
    """Refuse items that repeat others exactly: a copied column or an item that sums others.

    The answers' covariance matrix is then singular, so EM, CB-SEM and formative blocks fail with
    an algebra error; naming the items here tells the user which one to drop. Pairs are judged on
    the respondents answering both, linear combinations on the complete answers.
    """
    values = x.to_numpy()
    answered = ~np.isnan(values)
    centred = np.where(answered, values - np.nanmean(values, axis=0), 0.0)
    a = answered.astype(float)
    both = a.T @ a  # pairwise: respondents answering i and j
    sums = centred.T @ a  # [i, j] sum of item i over those respondents
    squares = (centred**2).T @ a
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = centred.T @ centred - sums * sums.T / both
        var = squares - sums**2 / both
        r = cov / np.sqrt(var * var.T)
    pairs = np.argwhere(np.triu(np.abs(np.nan_to_num(r)) >= COLLINEAR_R, 1) & (both >= MIN_OVERLAP))
    if len(pairs):
        i, j = pairs[0]
        raise EstimationError(
            f"{source}: items {x.columns[i]} and {x.columns[j]} are perfectly collinear (correlation "
            f"{r[i, j]:.6f}): one repeats the other, which makes the items' covariance matrix singular; "
            "drop one of them (or fix the column if it was copied by mistake)"
        )
    complete = values[answered.all(axis=1)]
    if len(complete) <= x.shape[1] or len(complete) < MIN_OVERLAP:
        return  # too few complete answers to judge (EM reports a singular matrix if it meets one)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(complete, rowvar=False)
    if not np.isfinite(corr).all():
        return  # an item constant among the complete answers: the other checks name it
    eig, vec = np.linalg.eigh(corr)
    if eig[0] > SINGULAR * eig[-1]:
        return
    weight = np.abs(vec[:, 0])
    involved = np.flatnonzero(weight > 0.01 * weight.max())
    target = int(np.argmax(weight))
    others = [k for k in involved if k != target]
    z = (complete - complete.mean(axis=0)) / complete.std(axis=0)
    coef = np.linalg.lstsq(z[:, others], z[:, target], rcond=None)[0]
    r2 = 1.0 - np.sum((z[:, target] - z[:, others] @ coef) ** 2) / np.sum(z[:, target] ** 2)
    raise EstimationError(
        f"{source}: item {x.columns[target]} is an exact linear combination of "
        f"{names(x.columns[others])} (R² {r2:.6f}): it adds nothing and makes the items' "
        "covariance matrix singular; drop it or one of those items"
    )


def _missing_notes(raw: pd.DataFrame, keep: pd.Series, missing: str) -> list[str]:
    notes = []
    dropped = int((~keep).sum())
    if dropped and missing == "listwise":
        notes.append(
            f"{dropped} of {len(raw)} respondents have missing items and were dropped (listwise deletion); "
            "missing='em' keeps them"
        )
    elif dropped:
        notes.append(f"{dropped} respondents answered none of the model's items and were left out")
    share = raw[keep].isna().mean()
    heavy = share[share > 0.2]
    if missing != "listwise" and len(heavy):
        notes.append(
            f"item(s) {', '.join(f'{i} ({s:.0%})' for i, s in heavy.items())} miss more than a fifth of "
            "their answers: the imputed values carry much of their weight; check the question"
        )
    return notes


def _scale_bounds(items: list[str], book: Any, scale_min: Any, scale_max: Any):
    """Per-item scale bounds: explicit ones, else the codebook's, else unknown (None, None)."""
    p = len(items)
    if (scale_min is None) != (scale_max is None):
        raise ModelSpecError("give both scale_min and scale_max (e.g. 1 and 10), or neither (codebook)")
    if scale_min is not None:
        lo, hi = np.broadcast_to(float(scale_min), (p,)), np.broadcast_to(float(scale_max), (p,))
    elif book is None:
        return None, None
    else:
        scales = []
        for item in items:
            try:
                scales.append(book.scale_of(item))
            except KeyError:
                raise ModelSpecError(
                    f"item {item} is not in the codebook: add it to the codebook or pass scale_min/scale_max"
                ) from None
        lo = np.array([s.min for s in scales], dtype=float)
        hi = np.array([s.max for s in scales], dtype=float)
    if np.any(~(hi > lo)):
        k = int(np.flatnonzero(~(hi > lo))[0])
        raise ModelSpecError(f"scale of item {items[k]}: min {lo[k]:g} is not below max {hi[k]:g}")
    return np.array(lo), np.array(hi)


def _check_range(x: pd.DataFrame, lo: np.ndarray, hi: np.ndarray, source: str) -> None:
    """Refuse answers outside the scale: a "don't know" code (9, 99) averaged in moves the index."""
    outside = (x.lt(lo) | x.gt(hi)) & x.notna()
    if outside.to_numpy().any():
        col = outside.any().idxmax()
        row = outside[col].idxmax()
        k = list(x.columns).index(col)
        raise SurveyDataError(
            f"{source}: column {col} row {row}: value {x.at[row, col]:g} is outside the scale "
            f"[{lo[k]:g}, {hi[k]:g}]; recode 'don't know' codes to missing (load_survey does this)"
        )


@public
def poststratify(
    data: Any, by: str | Sequence[str], population_shares: Mapping[Any, float] | pd.Series
) -> pd.Series:
    """Post-stratification weights: population share / sample share of each respondent's cell.

    ``population_shares`` maps each cell of ``by`` (a value; for several columns a tuple or the
    values joined by ``|``, e.g. ``"residential|urban"``) to
    its population share or count (normalised here). Weights average 1 over respondents, so a
    weighted mean reproduces the population mix of the cells.
    """
    frame = as_frame(data)
    cols = [by] if isinstance(by, str) else list(by)
    absent = [c for c in cols if c not in frame.columns]
    if absent:
        raise SurveyDataError(f"stratification column(s) {', '.join(absent)} are not in the data")
    blank = frame[cols].isna().any(axis=1)
    if blank.any():
        raise SurveyDataError(
            f"row {frame.index[blank][0]}: no value in {', '.join(cols)}; every respondent needs a cell"
        )
    if len(cols) == 1:  # plain values: a categorical would count (and map to) empty categories too
        cells = frame[cols[0]].astype(object)
        shares = pd.Series(dict(population_shares), dtype=float)
    else:  # a cell of several columns is named "a|b" (a YAML key cannot be a tuple); tuples work too
        cells = frame[cols].astype(str).agg("|".join, axis=1)
        keys = ["|".join(map(str, k)) if isinstance(k, tuple) else str(k) for k in dict(population_shares)]
        shares = pd.Series(list(dict(population_shares).values()), index=keys, dtype=float)
    if shares.lt(0).any() or not shares.sum() > 0:
        raise SurveyDataError("population shares must be non-negative and not all zero")
    shares = shares / shares.sum()
    sample = cells.value_counts(normalize=True)
    unknown = [c for c in sample.index if c not in shares.index]
    if unknown:
        raise SurveyDataError(
            f"cell {unknown[0]!r} of {', '.join(cols)} has respondents but no population share; add it"
        )
    empty = [c for c in shares.index if c not in sample.index and shares[c] > 0]
    diagnostics = []
    if empty:
        diagnostics.append(
            f"population cell(s) {', '.join(map(repr, empty))} have no respondents: the weighted sample "
            "represents the other cells only"
        )
        shares = shares.drop(empty) / shares.drop(empty).sum()
    weights = (cells.map(shares).astype(float) / cells.map(sample).astype(float)).rename("weight")
    weights.attrs["diagnostics"] = diagnostics
    return weights


def _weights(spec: Any, frame: pd.DataFrame, kept: pd.DataFrame, source: str) -> tuple[np.ndarray, list[str]]:
    """Survey weights of the kept respondents, normalised to mean 1 (ones when unweighted), and notes."""
    if spec is None:
        return np.ones(len(kept)), []
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"by", "population_shares"}
        if unknown or "by" not in spec or "population_shares" not in spec:
            raise ModelSpecError(
                f"weighting needs exactly the keys by and population_shares, got {sorted(spec)}"
            )
        w = poststratify.quiet(kept, spec["by"], spec["population_shares"])
    elif isinstance(spec, str):
        if spec not in frame.columns:
            raise SurveyDataError(f"{source}: survey weight column {spec!r} is not in the data")
        w = pd.to_numeric(kept[spec], errors="coerce")
    elif isinstance(spec, pd.Series):
        w = spec.reindex(kept.index).astype(float)
    else:
        values = np.asarray(spec, dtype=float)
        if values.shape != (len(frame),):
            raise SurveyDataError(
                f"{source}: {values.size} survey weights for {len(frame)} rows: give one weight per row"
            )
        w = pd.Series(values, index=frame.index).loc[kept.index]
    bad = w[~(w >= 0) | w.isna()]
    if len(bad):
        raise SurveyDataError(
            f"{source}: row {bad.index[0]}: survey weight {bad.iloc[0]!r} is not a non-negative number"
        )
    if not w.sum() > 0:
        raise SurveyDataError(f"{source}: every survey weight is 0")
    values = w.to_numpy(dtype=float)
    return values / values.mean(), list(w.attrs.get("diagnostics", []))


def _complete(x: np.ndarray, w: np.ndarray, missing: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The completed item matrix, each respondent's pattern and the patterns' EM covariance terms."""
    n, p = x.shape
    if missing != "em" or not np.isnan(x).any():
        if missing == "mean":
            means = np.nansum(w[:, None] * x, axis=0) / (w[:, None] * ~np.isnan(x)).sum(axis=0)
            x = np.where(np.isnan(x), means, x)
        return x, np.zeros(n, dtype=int), np.zeros((1, p, p))
    groups = _Patterns.of(x)
    mean, cov = em_moments(x, w, groups=groups)
    try:
        return _conditional(x, mean, cov, groups)
    except np.linalg.LinAlgError:
        _em_singular(x)


def _em_singular(x: np.ndarray) -> NoReturn:
    n, p = x.shape
    raise EstimationError(
        f"EM for the missing answers failed: the items' covariance matrix became singular ({n} "
        f"respondents, {p} items, {int(np.isnan(x).sum())} answers missing); two items may be answered "
        "by disjoint groups of respondents, or there are too few respondents for the items; use "
        "missing='mean', or survey more respondents"
    ) from None


@dataclass(frozen=True)
class _Patterns:
    """Missing-data patterns: each respondent's pattern and the respondents of each pattern."""

    observed: np.ndarray  # (patterns, p) bool
    inverse: np.ndarray  # (n,) pattern of each respondent
    members: tuple[np.ndarray, ...]  # row positions of each pattern

    @classmethod
    def of(cls, x: np.ndarray) -> _Patterns:
        observed, inverse = np.unique(~np.isnan(x), axis=0, return_inverse=True)
        inverse = inverse.ravel()
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(observed) + 1))
        return cls(observed, inverse, tuple(order[a:b] for a, b in pairwise(bounds)))


def _conditional(x: np.ndarray, mean: np.ndarray, cov: np.ndarray, groups: _Patterns):
    """E-step: conditional means of the missing answers and each pattern's conditional covariance."""
    filled = np.where(np.isnan(x), 0.0, x)
    extra = np.zeros((len(groups.observed), x.shape[1], x.shape[1]))
    for g, (pattern, rows) in enumerate(zip(groups.observed, groups.members, strict=True)):
        o, m = np.flatnonzero(pattern), np.flatnonzero(~pattern)
        if not m.size:
            continue
        coef = np.linalg.solve(cov[np.ix_(o, o)], cov[np.ix_(o, m)]).T
        filled[np.ix_(rows, m)] = mean[m] + (x[np.ix_(rows, o)] - mean[o]) @ coef.T
        extra[g][np.ix_(m, m)] = cov[np.ix_(m, m)] - coef @ cov[np.ix_(o, m)]
    return filled, groups.inverse, extra


def em_moments(
    x: np.ndarray,
    w: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 5000,
    groups: _Patterns | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(Weighted) ML mean and covariance of incomplete normal data by EM (FIML's saturated model).

    The last result is kept: preparing a sample and then fitting FIML's saturated model run EM on
    the very same answers and weights, and the second call returns a copy of the first's moments.
    """
    w_key = np.ones(x.shape[0]) if w is None else np.asarray(w, dtype=float)
    key = (x.shape, np.asarray(x, dtype=float).tobytes(), w_key.tobytes(), tol, max_iter)
    if _LAST_EM and _LAST_EM[0][0] == key:
        return _LAST_EM[0][1].copy(), _LAST_EM[0][2].copy()
    mean, cov = _em(x, w, tol, max_iter, groups)
    _LAST_EM[:] = [(key, mean.copy(), cov.copy())]
    return mean, cov


_LAST_EM: list[tuple[tuple, np.ndarray, np.ndarray]] = []  # (inputs, mean, covariance) of the last EM


def _em(x: np.ndarray, w: np.ndarray | None, tol: float, max_iter: int,
        groups: _Patterns | None) -> tuple[np.ndarray, np.ndarray]:
    n = x.shape[0]
    groups = groups or _Patterns.of(x)
    w = np.ones(n) if w is None else np.asarray(w, dtype=float)
    total = w.sum()
    answered = ~np.isnan(x)
    mean = np.nansum(w[:, None] * x, axis=0) / (w[:, None] * answered).sum(axis=0)
    cov = np.diag(np.nansum(w[:, None] * (x - mean) ** 2, axis=0) / (w[:, None] * answered).sum(axis=0))
    for _ in range(max_iter):
        try:
            filled, inverse, extra = _conditional(x, mean, cov, groups)
        except np.linalg.LinAlgError:
            _em_singular(x)
        new_mean = w @ filled / total
        centred = filled - new_mean
        pattern_w = np.bincount(inverse, weights=w, minlength=len(extra))
        new_cov = (centred.T * w) @ centred / total + np.tensordot(pattern_w, extra, axes=1) / total
        done = max(np.abs(new_mean - mean).max(), np.abs(new_cov - cov).max()) < tol
        mean, cov = new_mean, new_cov
        if done:
            return mean, cov
    raise EstimationError(
        f"EM for the missing answers did not converge in {max_iter} iterations: an item may be missing "
        "almost everywhere or two items may be answered by disjoint groups; use missing='mean'"
    )
