"""Fuzzy comprehensive evaluation (模糊综合评价) over the indicator hierarchy.

Each item's membership row is its grade distribution (share of respondents per grade of the
answer scale, missing answers excluded). A parent's distribution is the composition of its
children's rows with their local weights:

* ``"weighted"`` — M(·, +): b = w · R, the weighted-average operator; every judgement counts.
  Its score B · X (X the grade scores) equals the industry's weighted-average index
  CSD = Σ_i Σ_j K_i X_j n_ij, which :func:`csi_research.indices.grade_score_index` computes.
* ``"maxmin"`` — M(∧, ∨): b_j = max_i min(w_i, r_ij), normalised to sum 1; the classical
  Zadeh operator, dominated by the single most important indicator.

Each node reports its distribution, its score on the grade scores (0–100; for the semantic
5-level scale 0/40/60/80/100) and its maximum-membership grade.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from csi_research.diagnostics import public
from csi_research.errors import ModelSpecError, SurveyDataError
from csi_research.evaluation.hierarchy import Hierarchy, HierarchyResult, weight_table
from csi_research.sample import as_frame, respondents

Operator = Literal["weighted", "maxmin"]


@dataclass(frozen=True, eq=False)
class FuzzyEvaluation:
    """Grade distributions of every node of the hierarchy.

    ``table``: level, node, parent, local_weight, score (0–100), max_grade (code),
    max_grade_label; ``memberships``: node × grade code shares (rows sum to 1); ``n``: the
    respondents evaluated (each item's shares are over those of them who answered it).
    """

    operator: str
    scale: Any
    table: pd.DataFrame
    memberships: pd.DataFrame
    n: int
    diagnostics: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        """The root's score."""
        return float(self.table["score"].iloc[0])

    def summary(self) -> dict[str, pd.DataFrame]:
        labels = dict(zip(self.scale.codes, self.scale.labels_en, strict=True))
        dist = self.memberships.rename(columns=labels)
        return {"evaluation": self.table.set_index("node").join(dist)}


def membership_matrix(
    data: Any, items: list[str], scale: Any, weights: np.ndarray | None = None
) -> pd.DataFrame:
    """Items × grade codes: the (survey-weighted) share of respondents giving each grade (missing out).

    Row i, grade j: Σ w over the respondents answering j / Σ w over those answering item i.
    """
    frame = as_frame(data)
    w = np.ones(len(frame)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (len(frame),):
        raise SurveyDataError(
            f"fuzzy evaluation: {w.size} survey weights for {len(frame)} rows: give one weight per row"
        )
    absent = [i for i in items if i not in frame.columns]
    if absent:
        raise SurveyDataError(f"fuzzy evaluation: item(s) {', '.join(absent)} are not columns of the data")
    codes = np.asarray(scale.codes, dtype=float)
    rows = []
    for item in items:
        x = pd.to_numeric(frame[item], errors="coerce")
        bad = frame[item][(x.isna() & frame[item].notna()) | (x.notna() & ~np.isin(x, codes))]
        if len(bad):
            raise SurveyDataError(
                f"column {item} row {bad.index[0]}: answer {bad.iloc[0]} is not a code of the {scale.span} "
                f"scale {scale.name}; recode 'don't know' answers to missing"
            )
        answered = x.notna().to_numpy()
        if not answered.any():
            raise SurveyDataError(f"item {item} has no answer: its grade distribution is undefined")
        hits = x.to_numpy()[answered, None] == codes[None, :]
        rows.append(w[answered] @ hits / w[answered].sum())
    return pd.DataFrame(rows, index=items, columns=list(scale.codes))


def compose(weights: np.ndarray, r: np.ndarray, operator: Operator = "weighted") -> np.ndarray:
    """B = w ∘ R with M(·,+) (``weighted``) or normalised M(∧,∨) (``maxmin``)."""
    if operator == "weighted":
        return weights @ r
    if operator == "maxmin":
        b = np.minimum(weights[:, None], r).max(axis=0)
        return b / b.sum()
    raise ModelSpecError(f"fuzzy operator must be 'weighted' (M(·,+)) or 'maxmin' (M(∧,∨)), not {operator!r}")


@public
def fuzzy_evaluation(
    data: Any,
    weights: HierarchyResult | tuple[Hierarchy, Mapping[str, pd.Series]] | pd.Series,
    scale: Any = None,
    codebook: Any = None,
    operator: Operator = "weighted",
    survey_weights: np.ndarray | None = None,
) -> FuzzyEvaluation:
    """Multi-level fuzzy comprehensive evaluation up a weighted hierarchy.

    ``weights`` is an AHP hierarchy result, a (hierarchy, local weights per node) pair (e.g.
    combined weights), or a Series item → weight for a one-level evaluation. The grade scale is
    ``scale``, else the leaves' common scale in ``codebook`` (else the data's, else the built-in one).
    ``data`` is a PLS fit or prepared Sample (its kept respondents; grade shares weighted by its
    survey weights), a Survey or a DataFrame (all rows; ``survey_weights``, one per row, optional).
    """
    frame, sample_weights, book = respondents(data)
    if sample_weights is not None and survey_weights is not None:
        raise TypeError("a fit or prepared Sample carries its survey weights; do not pass survey_weights too")
    if sample_weights is not None:
        survey_weights = sample_weights
    tree, local = _tree(weights)
    leaves = tree.leaves
    if scale is None:
        from csi_research.codebook import Codebook

        book = codebook if codebook is not None else book
        scale = _common_scale(book if book is not None else Codebook.default(), leaves)
    r = membership_matrix(frame, leaves, scale, survey_weights)
    dist: dict[str, np.ndarray] = {leaf: r.loc[leaf].to_numpy() for leaf in leaves}
    for node in tree.postorder():
        kids = list(tree.children[node])
        w = local[node].reindex(kids).to_numpy(dtype=float)
        dist[node] = compose(w, np.vstack([dist[k] for k in kids]), operator)
    table = weight_table(tree, local, {})[["level", "node", "parent", "local_weight"]]
    memberships = pd.DataFrame([dist[n] for n in table["node"]], index=table["node"].to_numpy(),
                               columns=list(scale.codes))
    memberships.index.name = "node"
    scores = np.asarray(scale.grade_scores, dtype=float)
    table = table.assign(
        score=memberships.to_numpy() @ scores,
        max_grade=[scale.codes[k] for k in memberships.to_numpy().argmax(axis=1)],
        max_grade_label=[scale.labels_en[k] for k in memberships.to_numpy().argmax(axis=1)],
    )
    return FuzzyEvaluation(operator, scale, table.reset_index(drop=True), memberships, len(frame))


def _tree(weights: Any) -> tuple[Hierarchy, Mapping[str, pd.Series]]:
    if isinstance(weights, HierarchyResult):
        tree = weights.hierarchy
        return tree, {n: weights.local_weights(n) for n in tree.children}
    if isinstance(weights, pd.Series):
        tree = Hierarchy.from_spec({"overall": {"children": list(weights.index), "weights": "equal"}})
        total = weights.sum()
        if not np.all(weights >= 0) or total <= 0:
            raise ModelSpecError(f"fuzzy evaluation: weights {dict(weights)} must be non-negative, sum > 0")
        return tree, {"overall": weights / total}
    tree, local = weights
    return tree, local


def _common_scale(codebook: Any, items: list[str]) -> Any:
    try:
        scales = {i: codebook.scale_of(i) for i in items}
    except KeyError as exc:
        raise ModelSpecError(f"fuzzy evaluation: item {exc.args[0]} is not in the codebook") from None
    first = next(iter(scales.values()))
    for item, s in scales.items():
        if (s.codes, s.grade_scores) != (first.codes, first.grade_scores):
            raise ModelSpecError(
                f"fuzzy evaluation: item {item} uses scale {s.name} but {items[0]} uses {first.name}; "
                "grade distributions can only be combined on one scale"
            )
    return first
