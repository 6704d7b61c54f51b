"""The industry's own evaluation in one call, driven by the ``industry_evaluation:`` study section.

Steps: local weights per node of the indicator hierarchy (experts' AHP, rough-set objective
weights from the survey, or the combined judgement matrix of both); fuzzy comprehensive
evaluation of the survey up the hierarchy with those weights (its M(·,+) score is the
industry's weighted-average index CSD); internal indicators normalised and weighted; and the
supply-service quality index β · external CSI + (1 − β) · internal score.

Spec keys (all optional; defaults in ``resources/industry_evaluation_default.yaml``; unknown keys
are errors): ``weighting`` (ahp | rough_set | combined), ``alpha`` (share of the experts in the
combined matrix), ``decision`` (rough-set decision item), ``bins`` (rough-set grades),
``operator`` (weighted | maxmin), ``beta``, ``internal_weights`` (indicator → weight),
``hierarchy`` (see :mod:`csi_research.evaluation.hierarchy`), ``anp`` (a network of the
hierarchy's top-level indicators with their mutual influence, :mod:`csi_research.evaluation.anp`:
its limit weights replace the top level's weights, so the fuzzy evaluation becomes the ANP-fuzzy
model) and ``set_pair`` (false, true or ``{bands: equal | nearest}``: set pair analysis of the
same memberships and weights, set beside the fuzzy grade and the ACSI index,
:mod:`csi_research.evaluation.setpair`).

Rough-set input per node: an item's own grades; a sub-indicator's or construct's grade is the
weighted mean of its children's values rounded to the nearest scale code. Nodes with the
decision item below them (the root, Satisfaction) keep their expert weights — the decision would
otherwise explain itself — and single-child nodes need no weights; both are listed in
diagnostics only when weighting is not ``ahp``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import yaml

from csi_research.core.diagnostics import collect, public
from csi_research.core.errors import EstimationError, ModelSpecError
from csi_research.data.sample import respondents
from csi_research.evaluation.anp import ANPResult, anp_weights
from csi_research.evaluation.combined import combined_weights, objective_matrix
from csi_research.evaluation.fuzzy import FuzzyEvaluation, fuzzy_evaluation
from csi_research.evaluation.hierarchy import Hierarchy, node_weights, weight_table
from csi_research.evaluation.internal import InternalEvaluation, internal_evaluation, service_quality_index
from csi_research.evaluation.roughset import RoughSetResult, rough_set_weights
from csi_research.evaluation.setpair import BANDS, EvaluationComparison, compare_evaluations

SPEC_KEYS = ("weighting", "alpha", "decision", "bins", "operator", "beta", "internal_weights", "hierarchy",
             "anp", "set_pair")
WEIGHTINGS = ("ahp", "rough_set", "combined")


def default_industry_spec() -> dict[str, Any]:
    """The bundled default spec for the built-in questionnaire."""
    text = resources.files("csi_research").joinpath("resources", "industry_evaluation_default.yaml")
    return yaml.safe_load(text.read_text("utf-8"))


def resolve_industry_spec(spec: Mapping[str, Any] | None) -> dict[str, Any]:
    """``spec`` over the defaults, with unknown keys and bad values rejected."""
    spec = dict(spec or {})
    unknown = set(spec) - set(SPEC_KEYS)
    if unknown:
        raise ModelSpecError(
            f"industry_evaluation: unknown key(s) {sorted(unknown)}; allowed: {', '.join(SPEC_KEYS)}"
        )
    out = {**default_industry_spec(), **spec}
    if out["weighting"] not in WEIGHTINGS:
        raise ModelSpecError(
            f"industry_evaluation: weighting {out['weighting']!r} is not one of {WEIGHTINGS}"
        )
    for key in ("alpha", "beta"):
        if not isinstance(out[key], int | float) or not 0 <= out[key] <= 1:
            raise ModelSpecError(f"industry_evaluation: {key} = {out[key]!r} must be a number in [0, 1]")
    out["set_pair"] = _set_pair_spec(out.get("set_pair"))
    if out.get("anp") is not None and not isinstance(out["anp"], Mapping):
        raise ModelSpecError("industry_evaluation: anp must be a network (clusters, comparisons, evaluate), "
                             f"not {out['anp']!r}")
    return out


def _set_pair_spec(value: Any) -> dict[str, str] | None:
    """``set_pair`` as ``{bands: ...}`` or None (off)."""
    if value in (None, False):
        return None
    if value is True:
        return {"bands": "equal"}
    if isinstance(value, Mapping) and set(value) <= {"bands"} and value.get("bands", "equal") in BANDS:
        return {"bands": value.get("bands", "equal")}
    raise ModelSpecError(f"industry_evaluation: set_pair must be true, false or {{bands: equal | nearest}}, "
                         f"not {value!r}")


@dataclass(frozen=True, eq=False)
class IndustryEvaluation:
    """Weights, fuzzy evaluation, internal score and service-quality index of one study.

    ``weights``: level, node, parent, subjective_weight, objective_weight, local_weight,
    global_weight, cr, source. ``quality_index``: region, year, external_csi, internal_score,
    beta, service_quality_index (None without internal indicators). ``summary()["fuzzy_evaluation"]``
    is the fuzzy table with node as a column and one membership column per grade (English labels);
    its ``grade`` follows the score band, ``max_grade`` only a valid maximum membership (see
    :mod:`csi_research.evaluation.fuzzy`).
    """

    spec: Mapping[str, Any]
    weights: pd.DataFrame
    rough_sets: Mapping[str, RoughSetResult]
    fuzzy: FuzzyEvaluation
    external_csi: float
    internal: InternalEvaluation | None
    quality_index: pd.DataFrame | None
    diagnostics: list[str] = field(default_factory=list)
    anp: ANPResult | None = None  # the network behind the top level's weights, when ``anp`` is given
    methods: EvaluationComparison | None = None  # fuzzy, set pair and ACSI side by side (``set_pair``)

    def summary(self) -> dict[str, pd.DataFrame]:
        out = {
            "weights": self.weights,
            # node as a column: the bundle writes tables without their index
            "fuzzy_evaluation": self.fuzzy.summary("both")["evaluation"].reset_index(),
        }
        if self.internal is not None:
            out.update(self.internal.summary())
        if self.quality_index is not None:
            out["service_quality_index"] = self.quality_index
        if self.anp is not None:
            out["anp_weights"] = self.anp.weights
        if self.methods is not None:
            out["set_pair"] = self.methods.set_pair.table
            out["method_comparison"] = self.methods.table
        if self.diagnostics:
            out["diagnostics"] = pd.DataFrame({"diagnostic": self.diagnostics})
        return out


@public
def industry_evaluation(
    data: Any,
    codebook: Any = None,
    spec: Mapping[str, Any] | None = None,
    internal: pd.DataFrame | None = None,
    external_csi: float | None = None,
) -> IndustryEvaluation:
    """Run the industry evaluation (see module doc) on ``data``.

    ``data`` is a PLS fit or prepared Sample (its kept respondents, and its codebook unless
    ``codebook`` is given), a Survey or a DataFrame (all rows). The fuzzy grade shares are weighted
    by the sample's survey weights; the rough sets count the same respondents unweighted, being
    set-based (classes of indiscernible respondents). ``external_csi`` defaults to the fuzzy
    (grade-score) index of the survey; ``internal`` holds the study's region rows of internal
    indicators, and the quality index is computed for each of them. The diagnostics of every step
    (AHP nodes, rough sets, combined matrices, internal indicators) are gathered in the result's.
    """
    spec = resolve_industry_spec(spec)
    tree = Hierarchy.from_spec(spec["hierarchy"], "industry_evaluation.hierarchy")
    frame, survey_weights, book = respondents(data)
    local, table_extra, rough, notes, found = _local_weights(tree, frame, spec)
    network = None
    if spec.get("anp") is not None:
        network = _anp_top_level(tree, spec["anp"], local, table_extra)
        found.append(network)
    book = codebook if codebook is not None else book
    fuzzy = fuzzy_evaluation.quiet(frame, (tree, local), codebook=book, operator=spec["operator"],
                                   survey_weights=survey_weights)
    csi = fuzzy.score if external_csi is None else float(external_csi)
    methods = None
    if spec["set_pair"] is not None:
        methods = compare_evaluations.quiet(frame, (tree, local), codebook=book, operator=spec["operator"],
                                            survey_weights=survey_weights, bands=spec["set_pair"]["bands"],
                                            acsi_index=external_csi)
        found.append(methods)
    internal_result, quality = None, None
    if internal is not None:
        internal_result = internal_evaluation.quiet(internal, spec["internal_weights"])
        quality = internal_result.internal.assign(external_csi=csi, beta=spec["beta"])
        quality["service_quality_index"] = service_quality_index(
            csi, quality["internal_score"], spec["beta"]
        )
        quality = quality[
            ["region", "year", "external_csi", "internal_score", "beta", "service_quality_index"]
        ]
    diagnostics = list(collect(*found, fuzzy, internal_result, extra=notes))
    crs = {n: v for n, (_, _, v, _) in table_extra.items() if np.isfinite(v)}
    weights = weight_table(tree, local, crs)
    parent = weights["parent"].fillna("")
    extra = {(p, c): table_extra[p] for p, c in zip(parent, weights["node"], strict=True) if p in table_extra}
    weights.insert(3, "subjective_weight", [extra[k][0][k[1]] if k in extra else 1.0
                                            for k in zip(parent, weights["node"], strict=True)])
    weights.insert(4, "objective_weight", [extra[k][1].get(k[1], np.nan) if k in extra else np.nan
                                           for k in zip(parent, weights["node"], strict=True)])
    weights["source"] = [extra[k][3] if k in extra else "" for k in zip(parent, weights["node"], strict=True)]
    return IndustryEvaluation(MappingProxyType(spec), weights, MappingProxyType(rough), fuzzy, csi,
                              internal_result, quality, diagnostics, network, methods)


def _anp_top_level(tree: Hierarchy, spec: Mapping[str, Any], local: dict[str, pd.Series],
                   extra: dict[str, tuple]) -> ANPResult:
    """The ANP limit weights of the root's children, put in place of the root's local weights."""
    network = anp_weights.quiet(spec, source="industry_evaluation.anp")
    weights = network.evaluated_weights
    kids = list(tree.children[tree.root])
    if sorted(weights.index) != sorted(kids):
        raise ModelSpecError(
            f"industry_evaluation.anp: the network evaluates {list(weights.index)}, but the hierarchy's top "
            f"level is {kids}: evaluate exactly the children of {tree.root}"
        )
    local[tree.root] = weights.reindex(kids)
    subjective = extra[tree.root][0]
    extra[tree.root] = (subjective, pd.Series(dtype=float), np.nan, "ANP")
    return network


def _local_weights(tree: Hierarchy, data: pd.DataFrame, spec: Mapping[str, Any]):
    """Per node: final local weights, and (subjective, objective, cr, source) for the table."""
    alpha = {"ahp": 1.0, "rough_set": 0.0, "combined": float(spec["alpha"])}[spec["weighting"]]
    decision = spec["decision"]
    values: dict[str, pd.Series] = {}
    local: dict[str, pd.Series] = {}
    extra: dict[str, tuple[pd.Series, pd.Series, float, str]] = {}
    rough: dict[str, RoughSetResult] = {}
    notes: list[str] = []
    found: list[Any] = []  # results whose diagnostics the evaluation reports
    for node in tree.postorder():
        kids = list(tree.children[node])
        subjective, result = node_weights(tree, node)
        found.append(result)
        cr = float(result.cr) if result is not None else np.nan
        weights, objective, source = subjective, pd.Series(dtype=float), "experts"
        if alpha < 1 and len(kids) > 1:
            if decision in tree.leaves_under(node):
                notes.append(f"industry evaluation: node {node} contains the decision item {decision}; "
                             "its weights stay the experts' (the decision cannot weight itself)")
            else:
                grades = pd.DataFrame({k: _values(k, data, values).round() for k in kids})
                grades[decision] = _values(decision, data, values)
                try:
                    rs = rough_set_weights.quiet(grades, kids, decision, spec["bins"],
                                                 f"rough set at node {node}")
                except EstimationError as exc:
                    notes.append(f"industry evaluation: node {node}: {exc}; the experts' weights are used")
                else:
                    rough[node] = rs
                    expert = result if result is not None else objective_matrix(subjective)
                    comb = combined_weights.quiet(expert, rs, alpha, name=node)
                    found += [rs, comb]
                    weights, objective = comb.weights, rs.weights
                    cr, source = comb.cr, ("rough set" if alpha == 0 else f"combined (alpha={alpha:g})")
        local[node] = weights
        extra[node] = (subjective, objective, cr, source)
        values[node] = _weighted_mean([_values(k, data, values) for k in kids], weights.to_numpy())
    return local, extra, rough, notes, found


def _values(name: str, data: pd.DataFrame, values: Mapping[str, pd.Series]) -> pd.Series:
    if name in values:
        return values[name]
    if name not in data.columns:
        raise ModelSpecError(
            f"industry evaluation: item {name} of the hierarchy is not a column of the survey"
        )
    return pd.to_numeric(data[name], errors="coerce")


def _weighted_mean(columns: list[pd.Series], w: np.ndarray) -> pd.Series:
    x = np.column_stack([c.to_numpy(dtype=float) for c in columns])
    present = ~np.isnan(x)
    total = present @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(present, x, 0) @ w / total
    return pd.Series(np.where(total > 0, mean, np.nan), index=columns[0].index)
