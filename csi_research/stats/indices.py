"""0–100 satisfaction indices: the ACSI model-based index, the industry grade-score index, segments.

Two families of index are in use for power-supply surveys (see DOMAIN.md):

* the **ACSI method** — a PLS model's outer weights, taken on the raw item scale and normalised
  within each block, applied to the item means and rescaled from the scale's [min, max] to 0–100;
* the **grade-score method** of the power industry — every answer scored through its scale's
  fixed (uneven) grade scores, averaged, and rolled up item → sub-indicator → construct → overall.

The overall CSI of the ACSI method is the index of the model's target construct (by default
Satisfaction; :func:`overall_csi`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.diagnostics import public
from csi_research.core.errors import ModelSpecError, SurveyDataError
from csi_research.data.sample import respondents
from csi_research.model import CSIModel

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
def raw_weight_vector(pls: Any, items: Sequence[str]) -> np.ndarray:
    """The fit's raw-scale outer weights in the order of ``items``."""
    return pls.raw_weights().reindex(list(items)).to_numpy(dtype=float)


def block_positions(model: CSIModel, items: Sequence[str]) -> list[np.ndarray]:
    position = {item: k for k, item in enumerate(items)}
    return [np.array([position[i] for i in model.constructs[c]]) for c in model.names]


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


def weighted_means(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Column means of ``x`` weighted by respondent weights ``w``."""
    return w @ x / w.sum()


def _weighted_sd(v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Column SDs of ``v`` weighted by respondent weights ``w`` (population form)."""
    m = weighted_means(v, w)
    return np.sqrt(weighted_means((v - m) ** 2, w))


# ---------------------------------------------------------------------------- ACSI index
@public
def csi_indices(pls: Any) -> pd.Series:
    """ACSI-method construct indices on 0–100 (``Series`` named ``index``, construct → value).

    Raw-scale outer weights of the fit, normalised per block, × the weighted item means of the
    fit's sample, rescaled from each item's answer scale to 0–100. The overall CSI is the index
    of the model's target (:func:`overall_csi`). ``.attrs`` carries ``n`` (the sample's
    respondents), ``target`` and ``diagnostics``.
    """
    sample = pls.sample
    model: CSIModel = sample.model
    items = model.items
    lo, hi = sample.bounds()
    raw = raw_weight_vector(pls, items)
    values = acsi_index_from_arrays(raw, sample.mean.to_numpy(), block_positions(model, items), lo, hi)
    out = pd.Series(values, index=pd.Index(model.names, name="construct"), name="index")
    out.attrs.update(n=sample.n, target=model.target,
                     diagnostics=negative_weight_messages(model, items, raw))
    return out


def overall_csi(indices: pd.Series, construct: str | None = None) -> float:
    """The overall CSI of the ACSI method: the index of the model's target construct."""
    construct = construct or indices.attrs.get("target")
    if construct is None or construct not in indices.index:
        raise ModelSpecError(
            f"no index for the target construct {construct!r} among {', '.join(map(str, indices.index))}: "
            "name it with construct=... or give the model a target"
        )
    return float(indices[construct])


# ---------------------------------------------------------------------------- grade-score index
@public
def grade_score_index(
    data: Any,
    codebook: Any = None,
    weights: Mapping[str, Mapping[str, float]] | str | None = None,
    levels: Sequence[str] = LEVELS,
    items: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The power industry's grade-score index, rolled up item → sub-indicator → construct → overall.

    ``data`` is a PLS fit or a prepared Sample — the index then stands on the same respondents
    and survey weights as every other table — or a Survey/DataFrame (all rows, unweighted).
    Every answer is scored through its scale's grade scores (for the 5-level semantic scale
    0/40/60/80/100, uneven on purpose) and averaged per item over the answers given.
    Each parent's score is the weighted mean of its children's scores, weights normalised within
    the parent. ``weights`` is

    * ``None`` — equal weights at every level;
    * a dict per level (``{"item": {...}, "subindicator": {...}, "construct": {...}}``, e.g. from
      AHP or Delphi); a level left out gets equal weights;
    * ``"model"`` — from the PLS fit given as ``data``: items by their raw outer weights within the
      sub-indicator, sub-indicators by the sum of their items' raw weights within the construct
      (so a construct's score weights its items as the ACSI index does), constructs by their
      total effect on the model's target (the target itself 1, constructs it does not depend on
      0): the overall score leans on what drives satisfaction.

    Returns a tidy frame (level, node, parent, score, weight, n) for the requested ``levels``;
    ``n`` counts respondents who answered at least one item under the node.
    """
    pls = data if hasattr(data, "raw_weights") else None
    frame, w, book = respondents(data)
    book = codebook or book
    if book is None:
        from csi_research.data.codebook import Codebook

        book = Codebook.default()
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
    answered_w = answered.to_numpy() * (1.0 if w is None else w[:, None])
    mean = pd.Series((graded.fillna(0.0).to_numpy() * answered_w).sum(axis=0) / answered_w.sum(axis=0),
                     index=graded.columns)
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
        scale = book.scales[_codebook_item(book, item).scale]
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
        raise ModelSpecError("weights='model' needs the PLS fit: pass the fit as data (fit_pls(model, data))")
    raw = dict(zip(ids, raw_weight_vector(pls, ids), strict=True))
    lost = [i for i, v in raw.items() if not np.isfinite(v)]
    if lost:
        raise ModelSpecError(f"item(s) {', '.join(lost)} are not in the PLS model: fit it with these items")
    subs: dict[str, float] = {}
    for item, sub in hierarchy["item"].items():
        subs[sub] = subs.get(sub, 0.0) + raw[item]
    effects, target = pls.effects, pls.model.require_target()
    to_target = effects[effects["target"] == target].set_index("source")["total"]
    constructs = {c: (1.0 if c == target else float(to_target.get(c, 0.0))) for c in hierarchy["construct"]}
    for name, table in (("item", raw), ("subindicator", subs), ("construct", constructs)):
        negative = [k for k, v in table.items() if v < 0]
        if negative:
            diagnostics.append(f"negative model-derived {name} weight(s) for {', '.join(negative)} set to 0: "
                               "the roll-up needs non-negative weights")
            for k in negative:
                table[k] = 0.0
    return {"item": raw, "subindicator": subs, "construct": constructs}


# ---------------------------------------------------------------------------- segments and weights
@public
def segment_indices(pls: Any, by: str | Sequence[str], min_n: int = 30) -> pd.DataFrame:
    """ACSI construct indices per segment (customer class, urban/rural, any attribute column).

    The fit's full-sample raw weights are applied to each segment's weighted item means (from the
    fit's sample: the same respondents, imputations and survey weights), so the indices differ
    only through the answers and are comparable across segments. Segments with fewer than
    ``min_n`` respondents are flagged (``small``) and named in the diagnostics. Returns a tidy
    frame: the ``by`` columns, construct, index, n, small, sd_ratio.

    The index is linear in the item means, so each respondent contributes the index of their own
    answers; ``sd_ratio`` is the (weighted) SD of those contributions within the segment over that
    of the whole sample: how much more or less a segment's interviews vary (sample planning).
    """
    sample = pls.sample
    model, items = sample.model, sample.model.items
    frame = sample.frame
    cols = [by] if isinstance(by, str) else list(by)
    absent = [c for c in cols if c not in frame.columns]
    if absent:
        raise SurveyDataError(f"{sample.source}: segment column(s) {', '.join(absent)} are not in the data")
    lo, hi = sample.bounds()
    raw = raw_weight_vector(pls, items)
    blocks = block_positions(model, items)
    x = sample.x.to_numpy()
    each = acsi_index_from_arrays(raw, x, blocks, lo, hi)  # respondents × constructs
    spread = _weighted_sd(each, sample.weights)
    diagnostics = negative_weight_messages(model, items, raw)
    rows = []
    keys = frame[cols].astype(object)
    unstated = int(keys.isna().any(axis=1).sum())
    if unstated:
        diagnostics.append(
            f"segments by {', '.join(cols)}: {unstated} of {sample.n} respondents have no value and are in "
            "no segment (they still count in every full-sample table)"
        )
    for key, positions in keys.groupby(cols, sort=True, dropna=True).indices.items():
        key = key if isinstance(key, tuple) else (key,)
        n = len(positions)
        if n < min_n:
            label = ", ".join(f"{c}={v}" for c, v in zip(cols, key, strict=True))
            diagnostics.append(f"segment {label}: only {n} respondents (< {min_n}); read with care")
        means = weighted_means(x[positions], sample.weights[positions])
        values = acsi_index_from_arrays(raw, means, blocks, lo, hi)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = _weighted_sd(each[positions], sample.weights[positions]) / spread
        rows += [(*key, name, value, n, n < min_n, r)
                 for name, value, r in zip(model.names, values, ratio, strict=True)]
    out = pd.DataFrame(rows, columns=[*cols, "construct", "index", "n", "small", "sd_ratio"])
    out.attrs["diagnostics"] = diagnostics
    return out
