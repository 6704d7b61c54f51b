"""0–100 satisfaction indices: the ACSI model-based index, the industry grade-score index, segments.

Two families of index are in use for power-supply surveys (see DOMAIN.md):

* the **ACSI method** — a PLS model's outer weights, taken on the raw item scale and normalised
  within each block, applied to the item means and rescaled from the scale's [min, max] to 0–100;
* the **grade-score method** of the power industry — every answer scored through its scale's
  fixed (uneven) grade scores, averaged, and rolled up item → sub-indicator → construct → overall.

The overall CSI of the ACSI method is the Satisfaction index (:func:`overall_csi`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from csi_research.data import MissingMethod, as_frame, item_frame
from csi_research.errors import CSIWarning, ModelSpecError, SurveyDataError
from csi_research.model import CSIModel

OVERALL = "Satisfaction"  # the ACSI overall index is the satisfaction construct's index
LEVELS = ("overall", "construct", "subindicator", "item")


# ---------------------------------------------------------------------------- vectorised core
def rescaled_weights(
    raw_weights: np.ndarray, blocks: Sequence[np.ndarray], scale_min: Any, scale_max: Any
) -> np.ndarray:
    """Outer weights that apply to items rescaled to 0–100, normalised to sum to 1 per block.

    A raw weight w applies to x = min + (max − min)·r/100, so the weight on the rescaled item r
    is proportional to w·(max − min); with a common scale this is just w normalised.
    Shapes: raw_weights (p,) or (B, p); returns the same shape (NaN for a block summing to 0).
    """
    w = np.asarray(raw_weights, dtype=float)
    p = w.shape[-1]
    lo, hi = _bounds(scale_min, scale_max, p)
    member = membership(blocks, p)
    ws = w * (hi - lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        return ws / ((ws @ member) @ member.T)


def acsi_index_from_arrays(
    raw_weights: np.ndarray,
    item_means: np.ndarray,
    blocks: Sequence[np.ndarray],
    scale_min: Any,
    scale_max: Any,
) -> np.ndarray:
    """ACSI construct indices (0–100) from raw outer weights and item means.

    ``raw_weights`` and ``item_means`` are (p,) or (B, p) (B resamples, broadcast against each
    other); ``blocks`` lists the integer item positions of each of the k constructs;
    ``scale_min``/``scale_max`` are scalars or (p,) arrays. Returns (k,) or (B, k). Kept free of
    pandas because the bootstrap calls it once for thousands of resamples.
    """
    m = np.asarray(item_means, dtype=float)
    p = m.shape[-1]
    lo, hi = _bounds(scale_min, scale_max, p)
    w = rescaled_weights(raw_weights, blocks, lo, hi)
    member = membership(blocks, p)
    return (w * ((m - lo) / (hi - lo) * 100.0)) @ member


def _bounds(scale_min: Any, scale_max: Any, p: int) -> tuple[np.ndarray, np.ndarray]:
    lo = np.broadcast_to(np.asarray(scale_min, dtype=float), (p,))
    hi = np.broadcast_to(np.asarray(scale_max, dtype=float), (p,))
    if np.any(~(hi > lo)):
        bad = int(np.flatnonzero(~(hi > lo))[0])
        raise ModelSpecError(
            f"scale bounds of item position {bad}: min {lo[bad]:g} is not below max {hi[bad]:g}; "
            "give scale_min < scale_max"
        )
    return lo, hi


def membership(blocks: Sequence[np.ndarray], p: int) -> np.ndarray:
    member = np.zeros((p, len(blocks)))
    for b, idx in enumerate(blocks):
        member[np.asarray(idx, dtype=int), b] = 1.0
    return member


# ---------------------------------------------------------------------------- shared helpers
def scale_bounds(
    items: Sequence[str],
    codebook: Any = None,
    scale_min: float | None = None,
    scale_max: float | None = None,
    data: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-item (min, max) of the answer scale: explicit bounds, else the codebook's scales.

    The codebook is ``codebook`` or the one a Survey carries; without either, the bounds must be
    given, because guessing them from the observed answers would move the index.
    """
    p = len(items)
    if (scale_min is None) != (scale_max is None):
        raise ModelSpecError("give both scale_min and scale_max (e.g. 1 and 10), or neither (codebook)")
    if scale_min is not None:
        return _bounds(scale_min, scale_max, p)
    book = resolve_codebook(codebook, data, default=False)
    if book is None:
        raise ModelSpecError(
            "the answer scale is unknown: pass scale_min/scale_max (e.g. 1 and 10) or a codebook"
        )
    scales = [scale_of(book, item) for item in items]
    return _bounds([s.min for s in scales], [s.max for s in scales], p)


def resolve_codebook(codebook: Any, data: Any, default: bool) -> Any:
    """The codebook given, else the Survey's, else (when ``default``) the built-in one."""
    if codebook is not None:
        return codebook
    book = getattr(data, "codebook", None)
    if book is None and default:
        from csi_research.codebook import Codebook

        book = Codebook.default()
    return book


def scale_of(codebook: Any, item: str) -> Any:
    """The Scale of ``item`` in ``codebook`` (error naming the item when it is not listed)."""
    try:
        return codebook.scale_of(item)
    except KeyError:
        raise ModelSpecError(
            f"item {item} is not in the codebook: add it to the codebook or pass scale_min/scale_max"
        ) from None


def raw_weight_vector(pls: Any, items: Sequence[str]) -> np.ndarray:
    """The fit's raw-scale outer weights in the order of ``items``."""
    return pls.raw_weights().reindex(list(items)).to_numpy(dtype=float)


def survey_weight_vector(frame: pd.DataFrame, survey_weights: Any) -> pd.Series | None:
    """Respondent weights as a Series aligned with ``frame`` (a column name or array-like)."""
    if survey_weights is None:
        return None
    if isinstance(survey_weights, str):
        if survey_weights not in frame.columns:
            raise SurveyDataError(f"survey weight column {survey_weights!r} is not in the data")
        w = pd.to_numeric(frame[survey_weights], errors="coerce")
    elif isinstance(survey_weights, pd.Series):
        w = survey_weights.reindex(frame.index).astype(float)
    else:
        w = pd.Series(np.asarray(survey_weights, dtype=float), index=frame.index)
    bad = w[~(w >= 0) | w.isna()]
    if len(bad):
        raise SurveyDataError(
            f"survey weight of row {bad.index[0]} is {bad.iloc[0]!r}: weights must be non-negative numbers"
        )
    return w


def weighted_item_means(x: pd.DataFrame, w: pd.Series | None) -> pd.Series:
    """Item means over each item's observed answers, weighted by respondent weights when given."""
    if w is None:
        return x.mean()
    ww = x.notna().mul(w.reindex(x.index), axis=0)
    return x.fillna(0.0).mul(ww).sum() / ww.sum()


def check_range(x: pd.DataFrame, lo: np.ndarray, hi: np.ndarray) -> None:
    """Refuse answers outside the scale: a "don't know" code (9, 99) averaged in moves the index."""
    outside = (x.lt(lo) | x.gt(hi)) & x.notna()
    if outside.to_numpy().any():
        col = outside.any().idxmax()
        row = outside[col].idxmax()
        k = list(x.columns).index(col)
        raise SurveyDataError(
            f"column {col} row {row}: value {x.at[row, col]:g} is outside the scale "
            f"[{lo[k]:g}, {hi[k]:g}]; recode 'don't know' codes to missing (load_survey does this)"
        )


def block_positions(model: CSIModel, items: Sequence[str]) -> list[np.ndarray]:
    position = {item: k for k, item in enumerate(items)}
    return [np.array([position[i] for i in model.constructs[c]]) for c in model.names]


def _warn(diagnostics: list[str], message: str) -> None:
    diagnostics.append(message)
    warnings.warn(message, CSIWarning, stacklevel=3)


def negative_weight_messages(model: CSIModel, items: Sequence[str], raw: np.ndarray) -> list[str]:
    """One message per block whose raw outer weights are not all positive."""
    weights = dict(zip(items, raw, strict=True))
    out = []
    for name, block in model.constructs.items():
        negative = [i for i in block if weights[i] < 0]
        if negative:
            out.append(
                f"construct {name}: negative outer weight(s) for {', '.join(negative)}; its index is not a "
                "weighted average of the items (check for a reversed item or collinear indicators)"
            )
    return out


# ---------------------------------------------------------------------------- ACSI index
def csi_indices(
    pls: Any,
    data: Any,
    scale_min: float | None = None,
    scale_max: float | None = None,
    codebook: Any = None,
    missing: MissingMethod = "listwise",
    survey_weights: Any = None,
) -> pd.Series:
    """ACSI-method construct indices on 0–100 (``Series`` named ``index``, construct → value).

    Raw-scale outer weights of ``pls`` normalised per block × item means, rescaled from the
    answer scale ([scale_min, scale_max], or each item's codebook scale) to 0–100. The overall
    CSI is the Satisfaction index (:func:`overall_csi`). ``.attrs`` carries ``n`` (respondents
    used, after ``missing`` handling as in the fit) and ``diagnostics``.
    """
    model: CSIModel = pls.model
    items = model.items
    x = item_frame(model, data, missing=missing)
    lo, hi = scale_bounds(items, codebook, scale_min, scale_max, data)
    check_range(x, lo, hi)
    w = survey_weight_vector(as_frame(data).loc[x.index], survey_weights)
    raw = raw_weight_vector(pls, items)
    diagnostics: list[str] = []
    for message in negative_weight_messages(model, items, raw):
        _warn(diagnostics, message)
    means = weighted_item_means(x, w).to_numpy()
    values = acsi_index_from_arrays(raw, means, block_positions(model, items), lo, hi)
    out = pd.Series(values, index=pd.Index(model.names, name="construct"), name="index")
    out.attrs.update(n=len(x), diagnostics=diagnostics)
    return out


def overall_csi(indices: pd.Series, construct: str = OVERALL) -> float:
    """The overall CSI of the ACSI method: the index of the Satisfaction construct."""
    if construct not in indices.index:
        raise ModelSpecError(
            f"no {construct} index among {', '.join(map(str, indices.index))}: name the satisfaction "
            "construct with construct=..."
        )
    return float(indices[construct])


# ---------------------------------------------------------------------------- grade-score index
def grade_score_index(
    data: Any,
    codebook: Any = None,
    weights: Mapping[str, Mapping[str, float]] | str | None = None,
    levels: Sequence[str] = LEVELS,
    pls: Any = None,
    items: Sequence[str] | None = None,
    survey_weights: Any = None,
) -> pd.DataFrame:
    """The power industry's grade-score index, rolled up item → sub-indicator → construct → overall.

    Every answer is scored through its scale's grade scores (for the 5-level semantic scale
    0/40/60/80/100, uneven on purpose) and averaged per item (weighted by ``survey_weights``).
    Each parent's score is the weighted mean of its children's scores, weights normalised within
    the parent. ``weights`` is

    * ``None`` — equal weights at every level;
    * a dict per level (``{"item": {...}, "subindicator": {...}, "construct": {...}}``, e.g. from
      AHP or Delphi); a level left out gets equal weights;
    * ``"model"`` — from the PLS fit ``pls``: items by their raw outer weights within the
      sub-indicator, sub-indicators by the sum of their items' raw weights within the construct
      (so a construct's score weights its items as the ACSI index does), constructs by their
      total effect on Satisfaction (Satisfaction itself 1, constructs it does not depend on 0):
      the overall score leans on what drives satisfaction.

    Returns a tidy frame (level, node, parent, score, weight, n) for the requested ``levels``;
    ``n`` counts respondents who answered at least one item under the node.
    """
    frame = as_frame(data)
    book = resolve_codebook(codebook, data, default=True)
    ids = list(items) if items is not None else [i.id for i in book.items if i.id in frame.columns]
    if not ids:
        raise SurveyDataError("none of the codebook's items is a column of the data: check the item ids")
    unknown_levels = set(levels) - set(LEVELS)
    if unknown_levels:
        raise ValueError(f"levels must be among {LEVELS}, not {sorted(unknown_levels)}")
    graded = _graded_answers(frame, book, ids)
    entries = {i: _codebook_item(book, i) for i in ids}
    item_parent = {i: e.subindicator or e.construct for i, e in entries.items()}
    sub_parent = {item_parent[i]: e.construct for i, e in entries.items()}
    hierarchy = {
        "item": item_parent,
        "subindicator": sub_parent,
        "construct": dict.fromkeys(sub_parent.values(), "overall"),
    }
    diagnostics: list[str] = []
    given = _model_weights(pls, ids, hierarchy, diagnostics) if isinstance(weights, str) else (weights or {})
    if isinstance(weights, str) and weights != "model":
        raise ValueError(f"weights must be None, 'model' or a dict per level, not {weights!r}")

    answered = graded.notna()
    mean = weighted_item_means(graded, survey_weight_vector(frame, survey_weights))
    score = {("item", i): float(mean[i]) for i in ids}
    members: dict[tuple[str, str], list[str]] = {("item", i): [i] for i in ids}
    rows = []
    parent_level = {"item": "subindicator", "subindicator": "construct", "construct": "overall"}
    for level, parent_of in hierarchy.items():
        w = _normalised_weights(level, given.get(level), parent_of)
        up = parent_level[level]
        for child, par in parent_of.items():
            members.setdefault((up, par), []).extend(members[(level, child)])
            rows.append([level, child, par, score[(level, child)], w[child], members[(level, child)]])
        for par in dict.fromkeys(parent_of.values()):
            kids = [c for c, p in parent_of.items() if p == par]
            values = np.array([score[(level, c)] for c in kids])
            weight = np.array([w[c] for c in kids]) * np.isfinite(values)
            total = weight.sum()
            score[(up, par)] = float(np.nansum(values * weight) / total) if total > 0 else np.nan
    top = ("overall", "overall")
    rows.append(["overall", "overall", "", score[top], 1.0, members[top]])
    for row in rows:
        row[5] = int(answered[row[5]].any(axis=1).sum())
    out = pd.DataFrame(rows, columns=["level", "node", "parent", "score", "weight", "n"])
    out["level"] = pd.Categorical(out["level"], categories=list(LEVELS), ordered=True)
    out = out[out["level"].isin(list(levels))].sort_values("level", kind="stable").reset_index(drop=True)
    out["level"] = out["level"].astype(str)
    out.attrs["diagnostics"] = diagnostics
    return out


def _codebook_item(book: Any, item: str) -> Any:
    try:
        return book.item(item)
    except KeyError:
        raise ModelSpecError(f"item {item} is not in the codebook: add it or leave it out of items") from None


def _graded_answers(frame: pd.DataFrame, book: Any, ids: Sequence[str]) -> pd.DataFrame:
    """Each answer replaced by its grade score (0–100) from the item's Scale; NaN stays missing."""
    absent = [i for i in ids if i not in frame.columns]
    if absent:
        raise SurveyDataError(f"item(s) {', '.join(absent)} are not columns of the data")
    out = {}
    for item in ids:
        column = pd.to_numeric(frame[item], errors="coerce").where(frame[item].notna(), np.nan)
        scale = scale_of(book, item)
        bad = column[column.notna() & ~scale.is_code(column)]
        if len(bad) or column.isna().sum() > frame[item].isna().sum():
            row = bad.index[0] if len(bad) else column.index[column.isna() & frame[item].notna()][0]
            raise SurveyDataError(
                f"column {item} row {row}: answer {frame.at[row, item]} is not a code of the "
                f"{scale.span} scale {scale.name}; recode 'don't know' answers to missing"
            )
        out[item] = scale.grade_score(column.to_numpy())
    return pd.DataFrame(out, index=frame.index)


def _normalised_weights(
    level: str, given: Mapping[str, float] | None, parent_of: Mapping[str, str]
) -> dict[str, float]:
    """Weights of ``level``'s nodes, normalised to sum to 1 within each parent (equal when not given)."""
    if given is None:
        raw = dict.fromkeys(parent_of, 1.0)
    else:
        given = dict(given)
        missing = [c for c in parent_of if c not in given]
        if missing:
            raise ModelSpecError(f"{level} weights lack {', '.join(missing)}: weight every {level}")
        raw = {c: float(given[c]) for c in parent_of}
        negative = [c for c, v in raw.items() if not v >= 0]
        if negative:
            bad = negative[0]
            raise ModelSpecError(f"{level} weight of {bad} is {raw[bad]!r}: weights must be >= 0")
    total: dict[str, float] = {}
    for child, par in parent_of.items():
        total[par] = total.get(par, 0.0) + raw[child]
    zero = [p for p, t in total.items() if t <= 0]
    if zero:
        raise ModelSpecError(f"the {level} weights under {zero[0]} sum to 0: give one positive weight")
    return {c: raw[c] / total[parent_of[c]] for c in parent_of}


def _model_weights(
    pls: Any, ids: Sequence[str], hierarchy: Mapping[str, Mapping[str, str]], diagnostics: list[str]
) -> dict[str, dict[str, float]]:
    """Level weights from a PLS fit: raw outer weights below the construct, total effects above it."""
    if pls is None:
        raise ModelSpecError("weights='model' needs the PLS fit: pass pls=fit_pls(model, data)")
    raw = dict(zip(ids, raw_weight_vector(pls, ids), strict=True))
    lost = [i for i, v in raw.items() if not np.isfinite(v)]
    if lost:
        raise ModelSpecError(f"item(s) {', '.join(lost)} are not in the PLS model: fit it with these items")
    subs: dict[str, float] = {}
    for item, sub in hierarchy["item"].items():
        subs[sub] = subs.get(sub, 0.0) + raw[item]
    effects = pls.effects
    to_target = effects[effects["target"] == OVERALL].set_index("source")["total"]
    constructs = {c: (1.0 if c == OVERALL else float(to_target.get(c, 0.0))) for c in hierarchy["construct"]}
    for name, table in (("item", raw), ("subindicator", subs), ("construct", constructs)):
        negative = [k for k, v in table.items() if v < 0]
        if negative:
            _warn(diagnostics, f"negative model-derived {name} weight(s) for {', '.join(negative)} set to 0: "
                  "the roll-up needs non-negative weights")
            for k in negative:
                table[k] = 0.0
    return {"item": raw, "subindicator": subs, "construct": constructs}


# ---------------------------------------------------------------------------- segments and weights
def poststratify(
    data: Any, by: str | Sequence[str], population_shares: Mapping[Any, float] | pd.Series
) -> pd.Series:
    """Post-stratification weights: population share / sample share of each respondent's cell.

    ``population_shares`` maps each cell of ``by`` (a value, or a tuple for several columns) to
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
    if len(cols) == 1:
        cells = frame[cols[0]]
    else:
        cells = pd.Series(list(frame[cols].itertuples(index=False, name=None)), index=frame.index)
    shares = pd.Series(dict(population_shares), dtype=float)
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
    if empty:
        warnings.warn(
            f"population cell(s) {', '.join(map(repr, empty))} have no respondents: the weighted sample "
            "represents the other cells only",
            CSIWarning,
            stacklevel=2,
        )
        shares = shares.drop(empty) / shares.drop(empty).sum()
    return (cells.map(shares) / cells.map(sample)).rename("weight").astype(float)


def segment_indices(
    model: CSIModel,
    data: Any,
    by: str | Sequence[str],
    codebook: Any = None,
    survey_weights: Any = None,
    pls: Any = None,
    min_n: int = 30,
    scale_min: float | None = None,
    scale_max: float | None = None,
    missing: MissingMethod = "listwise",
) -> pd.DataFrame:
    """ACSI construct indices per segment (customer class, urban/rural, region, any column).

    With ``pls`` (a full-sample fit) the full-sample raw weights are applied to each segment's
    item means, so the indices differ only through the answers and are comparable across
    segments; without it the model is re-estimated in each segment (weights then differ too).
    Segments with fewer than ``min_n`` respondents are flagged (``small``) and warned about; a
    segment whose re-estimation fails gets NaN and a diagnostic. Returns a tidy frame: the
    ``by`` columns, construct, index, n, small.
    """
    frame = as_frame(data)
    cols = [by] if isinstance(by, str) else list(by)
    absent = [c for c in cols if c not in frame.columns]
    if absent:
        raise SurveyDataError(f"segment column(s) {', '.join(absent)} are not in the data")
    items = model.items
    x = item_frame(model, data, missing=missing)
    lo, hi = scale_bounds(items, codebook, scale_min, scale_max, data)
    check_range(x, lo, hi)
    w = survey_weight_vector(frame.loc[x.index], survey_weights)
    blocks = block_positions(model, items)
    diagnostics: list[str] = []
    if pls is not None:
        raw = raw_weight_vector(pls, items)
        for message in negative_weight_messages(model, items, raw):
            _warn(diagnostics, message)
    rows = []
    for key, seg in x.groupby([frame.loc[x.index, c] for c in cols], sort=True, dropna=True):
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{c}={v}" for c, v in zip(cols, key, strict=True))
        if len(seg) < min_n:
            _warn(diagnostics, f"segment {label}: only {len(seg)} respondents (< {min_n}); read with care")
        if pls is not None:
            values = acsi_index_from_arrays(raw, weighted_item_means(seg, w).to_numpy(), blocks, lo, hi)
        else:
            values = _refit_index(model, frame.loc[seg.index], seg, w, blocks, lo, hi, label, diagnostics)
        for name, value in zip(model.names, values, strict=True):
            rows.append((*key, name, value, len(seg), len(seg) < min_n))
    out = pd.DataFrame(rows, columns=[*cols, "construct", "index", "n", "small"])
    out.attrs["diagnostics"] = diagnostics
    return out


def _refit_index(
    model: CSIModel,
    frame: pd.DataFrame,
    x: pd.DataFrame,
    w: pd.Series | None,
    blocks: list[np.ndarray],
    lo: np.ndarray,
    hi: np.ndarray,
    label: str,
    diagnostics: list[str],
) -> np.ndarray:
    """Indices of one segment from its own PLS fit (NaN, with a diagnostic, when it cannot be fitted)."""
    from csi_research.errors import CSIError
    from csi_research.estimation.pls import fit_pls

    try:
        fit = fit_pls(model, frame.loc[x.index])
    except CSIError as exc:
        _warn(diagnostics, f"segment {label}: the model cannot be estimated ({exc}); its indices are NaN")
        return np.full(len(blocks), np.nan)
    return acsi_index_from_arrays(
        raw_weight_vector(fit, model.items), weighted_item_means(x, w).to_numpy(), blocks, lo, hi
    )
