"""Moderation: does one construct change the strength of a path? The two-stage approach.

Stage 1 estimates the main-effects model (the moderator's own path to the target included) and
takes the composite scores of the predictor X and the moderator M; their product X·M becomes the
single indicator of an interaction construct; stage 2 re-estimates the model with that construct
and its path to the target (SmartPLS's default, and seminr's ``two_stage``; Hair et al. 2022,
ch. 7; Becker, Ringle & Sarstedt 2018). The interaction path b(X·M) says by how much the
X → target path changes when M is one standard deviation higher: the simple slope of X at
M = m (in standard deviations) is b(X) + b(X·M)·m.

Point estimate and bootstrap are one batch of the PLS engine: for every resample both stages are
computed from its weighted moments, the product column's moments with the items being one more
matrix product, so the interval of b(X·M) and of the simple slopes come from resamples that re-run
both stages (as they must: stage 1's weights change from resample to resample).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.diagnostics import public
from csi_research.core.errors import ModelSpecError
from csi_research.model import CSIModel
from csi_research.stats.bootstrap import count_chunks
from csi_research.stats.intervals import percentile_interval
from csi_research.stats.pls import fit_pls
from csi_research.stats.pls_engine import Layout, pls_from_moments
from csi_research.stats.plsc import consistent_batch

SLOPES_AT = (-1.0, 0.0, 1.0)  # moderator levels (standard deviations) of the simple slopes
CHUNK = 250


@dataclass(frozen=True)
class ModerationResult:
    """The two-stage moderation analysis of one path (see :func:`moderation`).

    ``paths``: stage 2's paths into the target (the predictor, the moderator, the interaction
    ``X×M`` and the target's other predictors) with bootstrap SE and percentile interval;
    ``slopes``: the simple slope of the predictor at the moderator's levels ``SLOPES_AT`` with
    intervals; ``r2_main`` / ``r2``: the target's R² without and with the interaction, and ``f2``
    the interaction's effect size (R² change over 1 − R²).
    """

    predictor: str
    moderator: str
    target: str
    interaction: str
    paths: pd.DataFrame
    slopes: pd.DataFrame
    r2_main: float
    r2: float
    f2: float
    n_boot: int
    n_failed: int
    ci: float
    seed: int | None
    added_main_effect: bool
    diagnostics: list[str] = field(default_factory=list)
    moderator_label: tuple[str, str] | None = None  # (chinese, english) of an observed moderator

    @property
    def estimate(self) -> float:
        """The interaction path b(X×M)."""
        return float(self.paths.set_index("source").at[self.interaction, "estimate"])

    @property
    def significant(self) -> bool:
        """Whether the interaction's interval excludes zero."""
        row = self.paths.set_index("source").loc[self.interaction]
        return bool(row["ci_lower"] > 0 or row["ci_upper"] < 0)


def _models(model: CSIModel, predictor: str, moderator: str,
            target: str) -> tuple[CSIModel, CSIModel, str, bool]:
    """The main-effects model (moderator → target added when absent) and the stage-2 model."""
    for role, name in (("predictor", predictor), ("moderator", moderator), ("target", target)):
        if name not in model.constructs:
            raise ModelSpecError(
                f"moderation: the {role} {name!r} is not a construct of the model; constructs: "
                f"{', '.join(model.constructs)}"
            )
    if predictor == moderator:
        raise ModelSpecError(f"moderation: the moderator must differ from the predictor ({predictor!r})")
    paths = [tuple(p) for p in model.paths]
    if (predictor, target) not in paths:
        raise ModelSpecError(
            f"moderation: the model has no path {predictor} → {target} to moderate; add it to the model"
        )
    if moderator == target or target in model.ancestors(moderator):
        raise ModelSpecError(
            f"moderation: the moderator {moderator!r} must not be the target {target!r} or depend on it"
        )
    added = (moderator, target) not in paths
    main = model.with_paths([*paths, (moderator, target)]) if added else model
    interaction = f"{predictor}×{moderator}"
    if interaction in main.constructs or interaction in main.items:
        raise ModelSpecError(f"moderation: the model already has a construct or item named {interaction!r}")
    blocks = {name: list(items) for name, items in main.constructs.items()} | {interaction: [interaction]}
    stage2 = CSIModel(blocks, [*main.paths, (interaction, target)], target=main.target)
    return main, stage2, interaction, added


def _two_stages(fit: Any, main: CSIModel, stage2: CSIModel, predictor: str, moderator: str,
                counts: np.ndarray) -> dict[str, np.ndarray]:
    """Both stages on every resample (rows of ``counts``): stage-1 and stage-2 estimates."""
    sample = fit.sample
    settings = (fit.scheme, fit.scaled, fit.tol, fit.max_iter)
    lay1, lay2 = Layout.of(main), Layout.of(stage2)
    mean, cov, size = sample.moments(counts)
    first = pls_from_moments(lay1, mean, cov, size, *settings)
    x = sample.x.to_numpy()
    j_x, j_m = lay1.names.index(predictor), lay1.names.index(moderator)
    raw = first.raw_weights  # (B, p); a resample's scores have unit weighted variance in it
    score = {j: (x @ (raw * lay1.mask[:, j]).T - np.sum(first.item_mean * raw * lay1.mask[:, j], axis=1))
             for j in (j_x, j_m)}  # (n, B)
    z = (score[j_x] * score[j_m]).T  # (B, n) the interaction's single indicator
    a = np.asarray(counts, dtype=float) * sample.weights
    total = a.sum(axis=1)
    mean_z = (a * z).sum(axis=1) / total
    moments = sample.moments  # its items are centred at the full-sample means, for accuracy
    cross = (a * z) @ moments.x / total[:, None] - mean_z[:, None] * (mean - moments.centre)
    var_z = (a * z**2).sum(axis=1) / total - mean_z**2
    p = x.shape[1]
    cov2 = np.empty((len(total), p + 1, p + 1))
    cov2[:, :p, :p] = cov
    cov2[:, :p, p] = cov2[:, p, :p] = cross
    cov2[:, p, p] = var_z
    mean2 = np.concatenate([mean, mean_z[:, None]], axis=1)
    second = pls_from_moments(lay2, mean2, cov2, size, *settings)
    if getattr(fit, "consistent", False):  # PLSc in both stages: the scores stay the composites'
        first, second = consistent_batch(lay1, first, cov)[0], consistent_batch(lay2, second, cov2)[0]
    ok = first.converged & second.converged & np.isfinite(second.paths).all(axis=1)
    paths = second.paths.copy()
    into_interaction = [k for k, (src, _) in enumerate(stage2.paths) if src == stage2.names[-1]]
    # per unit of X·M, not per standard deviation of it: the product of two standardised scores has
    # no unit variance, and only this coefficient makes b(X) + b(X·M)·m the slope at M = m
    paths[:, into_interaction] /= np.sqrt(var_z)[:, None]
    return {"paths": paths, "r2": second.r2, "r2_main": first.r2, "ok": ok & (var_z > 0)}


@public
def moderation(
    fit: Any,
    predictor: str,
    moderator: str,
    target: str,
    *,
    n_boot: int = 2000,
    seed: int | None = 0,
    ci: float = 0.95,
    values: pd.Series | None = None,
    level: Any = None,
    above: float | None = None,
    label: tuple[str, str] | None = None,
) -> ModerationResult:
    """Two-stage moderation of the path ``predictor`` → ``target`` by the construct ``moderator``.

    ``fit`` is a PLS fit of the main-effects model; its sample (survey weights, missing-data
    treatment), scheme and scaling are used for both stages. When the model lacks the moderator's
    own path to the target it is added (a moderation model needs the main effect; the result says
    so). Stage-1 scores are the composites of the fit's settings; their product is scored for
    every respondent from its completed answers (with EM the items keep their conditional
    covariances in the moments, the product has none). ``n_boot`` resamples (0: none) re-run both
    stages; intervals are percentile intervals at ``ci``.
    """
    if moderator not in fit.model.constructs:  # an observed variable: a single-item construct
        coded, label = observed_moderator(fit.sample, moderator, values, level, above, label)
        fit = _with_observed(fit, moderator, coded, target, label)
    main, stage2, interaction, added = _models(fit.model, predictor, moderator, target)
    n = fit.sample.n
    point = _two_stages(fit, main, stage2, predictor, moderator, np.ones((1, n)))
    if not point["ok"][0]:
        raise ModelSpecError(
            f"moderation: the two-stage estimation did not converge in {fit.max_iter} iterations; raise "
            "max_iter in the fit"
        )
    draws = [_two_stages(fit, main, stage2, predictor, moderator, counts)
             for counts in count_chunks(np.random.default_rng(seed), n, None, int(n_boot), CHUNK)]
    ok = np.concatenate([d["ok"] for d in draws]) if draws else np.zeros(0, bool)
    boot_paths = (np.concatenate([d["paths"] for d in draws])[ok] if draws
                  else np.zeros((0, len(stage2.paths))))

    rows = [k for k, (_, t) in enumerate(stage2.paths) if t == target]
    into = [stage2.paths[k][0] for k in rows]
    estimate = point["paths"][0, rows]
    b_x, b_xm = rows[into.index(predictor)], rows[into.index(interaction)]
    slope_point = point["paths"][0, b_x] + point["paths"][0, b_xm] * np.array(SLOPES_AT)
    slope_draws = boot_paths[:, [b_x]] + boot_paths[:, [b_xm]] * np.array(SLOPES_AT)[None, :]

    def interval(values: np.ndarray, width: int) -> tuple[np.ndarray, ...]:
        if len(values) < 2:
            return tuple(np.full(width, np.nan) for _ in range(3))
        lower, upper = percentile_interval(values, ci)
        return values.std(axis=0, ddof=1), lower, upper

    se, lower, upper = interval(boot_paths[:, rows], len(rows))
    paths = pd.DataFrame({"source": into, "target": target, "estimate": estimate, "se": se,
                          "ci_lower": lower, "ci_upper": upper})
    s_se, s_lower, s_upper = interval(slope_draws, len(SLOPES_AT))
    slopes = pd.DataFrame({"moderator_sd": SLOPES_AT, "slope": slope_point, "se": s_se,
                           "ci_lower": s_lower, "ci_upper": s_upper})
    lay1, lay2 = Layout.of(main), Layout.of(stage2)
    r2 = float(point["r2"][0, list(lay2.endogenous).index(lay2.names.index(target))])
    r2_main = float(point["r2_main"][0, list(lay1.endogenous).index(lay1.names.index(target))])
    failed = int(n_boot) - int(ok.sum())
    diagnostics = []
    if getattr(fit, "consistent", False):
        diagnostics.append(
            "moderation with PLSc: the main effects are corrected for measurement error, but the interaction "
            "term, a product of composite scores, is taken as measured without error (rho_A = 1, as seminr "
            "does), so its coefficient is attenuated when the predictor and moderator are unreliable"
        )
    if added:
        diagnostics.append(
            f"moderation: the model has no path {moderator} → {target}; it was added to both stages, as a "
            "moderation model needs the moderator's main effect"
        )
    if failed:
        diagnostics.append(
            f"moderation: {failed} of {int(n_boot)} bootstrap resamples did not converge in one of the two "
            "stages and are left out of the intervals"
        )
    return ModerationResult(
        predictor=predictor, moderator=moderator, target=target, interaction=interaction, paths=paths,
        slopes=slopes, r2_main=r2_main, r2=r2, f2=(r2 - r2_main) / (1 - r2), n_boot=int(ok.sum()),
        n_failed=failed, ci=ci, seed=seed, added_main_effect=added, diagnostics=diagnostics,
        moderator_label=label,
    )


def observed_moderator(sample: Any, name: str, values: pd.Series | None, level: Any, above: float | None,
                       label: tuple[str, str] | None = None) -> tuple[np.ndarray, tuple[str, str]]:
    """An observed moderator's values per respondent of ``sample``, coded, and its label."""
    zh, en = label or (name, name)
    if values is None:
        if name not in sample.frame.columns:
            raise ModelSpecError(
                f"moderation: the moderator {name!r} is neither a construct of the model "
                f"({', '.join(sample.model.constructs)}) nor a column of the respondents' data"
            )
        values = sample.frame[name]
    values = pd.Series(values).reindex(sample.x.index)
    missing = values.isna().to_numpy()
    if missing.any():
        row = sample.x.index[int(np.argmax(missing))]
        raise ModelSpecError(
            f"moderation: the moderator {name!r} is missing for {int(missing.sum())} respondent(s) (e.g. row "
            f"{row}); a moderator must be known for every respondent of the sample"
        )
    if level is not None:
        if not (values.astype(str) == str(level)).any():
            seen = ", ".join(map(str, pd.unique(values.astype(str))[:8]))
            raise ModelSpecError(f"moderation: {name!r} never takes the level {level!r}; its values: {seen}")
        coded = (values.astype(str) == str(level)).to_numpy(dtype=float)
        return coded, (f"{zh} = {level}", f"{en} = {level}")
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.isna().any():
        bad = values[numeric.isna()]
        raise ModelSpecError(
            f"moderation: the moderator {name!r} is not numeric (row {bad.index[0]}: value {bad.iloc[0]!r}); "
            "give level: <category> to compare that category with the others"
        )
    if above is not None:
        return (numeric > above).to_numpy(dtype=float), (f"{zh} > {above:g}", f"{en} > {above:g}")
    return numeric.to_numpy(dtype=float), (zh, en)


def _with_observed(fit: Any, name: str, coded: np.ndarray, target: str, label: tuple[str, str]) -> Any:
    """``fit`` refitted with the observed moderator as a single-item construct pointing at ``target``."""
    sample, model = fit.sample, fit.model
    if getattr(sample, "declared", None) is not None:
        raise ModelSpecError(
            "moderation: an observed moderator with a higher-order model is not supported; moderate by a "
            "construct, or declare the higher-order construct's components as first-order constructs"
        )
    if name in model.items:
        raise ModelSpecError(f"moderation: the moderator {name!r} is an item of the model, not a moderator")
    blocks = {c: list(i) for c, i in model.constructs.items()} | {name: [name]}
    augmented = CSIModel(blocks, [*model.paths, (name, target)], dict(model.modes),
                         dict(model.labels) | {name: label}, model.target)
    p, k = sample.x.shape[1], len(sample.extra)
    extra = np.zeros((k, p + 1, p + 1))
    extra[:, :p, :p] = sample.extra
    bounds = {} if sample.scale_min is None else {"scale_min": np.append(sample.scale_min, coded.min()),
                                                  "scale_max": np.append(sample.scale_max, coded.max())}
    with_m = replace(sample, model=augmented, x=sample.x.assign(**{name: coded}),
                     observed=sample.observed.assign(**{name: True}), extra=extra, **bounds)
    return fit_pls(with_m, scheme=fit.scheme, scaled=fit.scaled, tol=fit.tol, max_iter=fit.max_iter)
