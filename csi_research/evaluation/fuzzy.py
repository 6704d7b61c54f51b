"""Fuzzy comprehensive evaluation (模糊综合评价) over the indicator hierarchy.

Each item's membership row is its grade distribution (share of respondents per grade of the
answer scale, missing answers excluded). A parent's distribution is the composition of its
children's rows with their local weights:

* ``"weighted"`` — M(·, +): b = w · R, the weighted-average operator; every judgement counts.
  Its score B · X (X the grade scores) equals the industry's weighted-average index
  CSD = Σ_i Σ_j K_i X_j n_ij, which :func:`csi_research.stats.indices.grade_score_index` computes.
* ``"maxmin"`` — M(∧, ∨): b_j = max_i min(w_i, r_ij), normalised to sum 1; the classical
  Zadeh operator, dominated by the single most important indicator.

How a node is graded
--------------------
**Weighted-average (score-band) principle** — the grade every report quotes. The node's score
S = Σ_j b_j X_j (0–100) is placed in a band of the grade scores. The band edges are the
midpoints between consecutive grade scores, so a node gets the grade whose score is nearest to
S (an exact midpoint goes to the higher grade). For the power-industry semantic scale
0/40/60/80/100 the bands are::

    [90, 100]  很满意 very satisfied        [20, 50)  不太满意 not very satisfied
    [70, 90)   比较满意 fairly satisfied     [0, 20)   很不满意 very dissatisfied
    [50, 70)   基本满意 basically satisfied

:func:`grade_bands` gives them for any scale. Because the grade is read off the score, it never
contradicts it (a CSI of 63.8 cannot be "very satisfied").

**Maximum-membership principle (最大隶属原则)** — reported only when it is unambiguous. Its
validity (有效度) is α = (n·β − 1) / (2·γ·(n − 1)), n the number of grades, β the largest and γ
the second largest membership (α = ∞ when γ = 0): α ≥ 1 fully valid, 0.5 ≤ α < 1 fairly valid,
0 < α < 0.5 low validity, α = 0 invalid (a uniform distribution). The max-membership grade is
given only when α ≥ :data:`MIN_MAX_VALIDITY` (0.5); otherwise it is missing and α says why. A tie
for the largest membership (β = γ < 1) always has α < 0.5, so a tie is never reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from csi_research.core.diagnostics import public
from csi_research.core.errors import ModelSpecError, SurveyDataError
from csi_research.data.sample import as_frame, respondents
from csi_research.evaluation.hierarchy import Hierarchy, HierarchyResult, weight_table

Operator = Literal["weighted", "maxmin"]

MIN_MAX_VALIDITY = 0.5  # the max-membership grade is reported only when its validity α is at least this
# α thresholds of the maximum-membership principle, highest first: (lowest α of the class, zh, en)
VALIDITY_CLASSES = ((1.0, "完全有效", "fully valid"), (0.5, "比较有效", "fairly valid"),
                    (0.0, "低效", "low validity"))
INVALID = ("无效", "invalid")  # α = 0: a uniform distribution says nothing
SUMMARY_LANGUAGES = ("zh", "en", "both")
_EDGE_DIGITS = 9  # scores are compared with the band edges after rounding away float noise


def band_edges(grade_scores: Sequence[float]) -> np.ndarray:
    """The inner band edges of a scale: the midpoints between consecutive grade scores.

    Grade j (0-based) covers [edge_{j-1}, edge_j), the lowest grade from the lowest grade score,
    the highest up to and including the highest grade score. 0/40/60/80/100 → 20, 50, 70, 90.
    """
    x = np.asarray(grade_scores, dtype=float)
    if x.ndim != 1 or len(x) < 2 or np.any(np.diff(x) <= 0):
        raise ModelSpecError(f"grade scores {list(x)} must be at least two increasing numbers")
    return (x[:-1] + x[1:]) / 2


def grade_bands(scale: Any) -> pd.DataFrame:
    """One row per grade of ``scale``: code, label_zh, label_en, grade_score, lower, upper.

    A score S gets the grade with lower ≤ S < upper; the highest grade also takes S = upper.
    """
    scores = np.asarray(scale.grade_scores, dtype=float)
    edges = band_edges(scores)
    return pd.DataFrame({
        "code": list(scale.codes),
        "label_zh": list(scale.labels_zh),
        "label_en": list(scale.labels_en),
        "grade_score": scores,
        "lower": np.concatenate([[scores[0]], edges]),
        "upper": np.concatenate([edges, [scores[-1]]]),
    })


def score_grade(score: Any, grade_scores: Sequence[float]) -> np.ndarray:
    """0-based position of the grade whose band holds each score (weighted-average principle).

    Scores are rounded to 1e-9 first, so that Σ b_j X_j landing a rounding error below an edge
    (e.g. 89.99999999999999 for an exact 90) does not drop a grade.
    """
    s = np.round(np.asarray(score, dtype=float), _EDGE_DIGITS)
    return np.searchsorted(band_edges(grade_scores), s, side="right")


def max_membership_validity(b: Any) -> np.ndarray:
    """Validity α = (n·β − 1) / (2·γ·(n − 1)) of the maximum-membership principle, per row of ``b``.

    ``b`` is one membership vector (n,) or rows of them (m, n) summing to 1; β is the largest and γ
    the second largest membership; α = ∞ when γ = 0 (all mass on one grade).
    """
    b = np.asarray(b, dtype=float)
    n = b.shape[-1]
    if n < 2:
        raise ModelSpecError("maximum-membership validity needs at least two grades")
    top = np.sort(b, axis=-1)
    beta, gamma = top[..., -1], top[..., -2]
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.maximum(n * beta - 1, 0.0) / (2 * gamma * (n - 1))  # n·β ≥ 1 but for float noise
    return np.where(gamma > 0, alpha, np.inf)


def validity_class(alpha: float) -> tuple[str, str]:
    """(zh, en) name of a validity α: fully valid ≥ 1, fairly valid ≥ 0.5, low validity > 0, else invalid."""
    for lowest, zh, en in VALIDITY_CLASSES:
        if alpha >= lowest and (lowest > 0 or alpha > 0):
            return zh, en
    return INVALID


@dataclass(frozen=True, eq=False)
class FuzzyEvaluation:
    """Grade distributions of every node of the hierarchy, graded two ways (see the module doc).

    ``table`` columns: level, node, parent, local_weight, score (0–100, Σ b_j X_j); the
    weighted-average grade ``grade`` (code), ``grade_label_zh``, ``grade_label_en``; the validity
    ``max_validity`` (α) of the maximum-membership principle and its grade ``max_grade`` (code;
    missing when α < MIN_MAX_VALIDITY), ``max_grade_label_zh``, ``max_grade_label_en`` ("" then).
    ``memberships``: node × grade code shares (rows sum to 1); ``n``: the respondents evaluated
    (each item's shares are over those of them who answered it).
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

    @property
    def bands(self) -> pd.DataFrame:
        """The score band of each grade (:func:`grade_bands` of the evaluation's scale)."""
        return grade_bands(self.scale)

    def summary(self, language: str = "en") -> dict[str, pd.DataFrame]:
        """``{"evaluation": table by node}`` with the membership vector of each node.

        ``"zh"`` / ``"en"``: a reader's view — score, grade label, α, max-membership label in that
        language (columns ``grade_label``, ``max_grade_label``) and one membership column per grade
        named by its label in that language. ``"both"``: every column of ``table`` (codes and both
        languages' labels) and membership columns named by the English labels (the bundle's form).
        """
        if language not in SUMMARY_LANGUAGES:
            raise ModelSpecError(f"fuzzy summary language {language!r} is not one of {SUMMARY_LANGUAGES}")
        table = self.table.set_index("node")
        if language == "both":
            names = self.scale.labels_en
        else:
            names = self.scale.labels_zh if language == "zh" else self.scale.labels_en
            table = table[["level", "parent", "local_weight", "score", f"grade_label_{language}",
                           "max_validity", f"max_grade_label_{language}"]].rename(columns={
                f"grade_label_{language}": "grade_label", f"max_grade_label_{language}": "max_grade_label"})
        dist = self.memberships.rename(columns=dict(zip(self.scale.codes, names, strict=True)))
        return {"evaluation": table.join(dist)}


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
        from csi_research.data.codebook import Codebook

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
    table = _graded(table, memberships.to_numpy(), scale).reset_index(drop=True)
    return FuzzyEvaluation(operator, scale, table, memberships, len(frame))


def _graded(table: pd.DataFrame, b: np.ndarray, scale: Any) -> pd.DataFrame:
    """``table`` with the score, its band grade, and the max-membership grade where it is valid."""
    codes = np.asarray(scale.codes)
    zh, en = np.asarray(scale.labels_zh, dtype=object), np.asarray(scale.labels_en, dtype=object)
    score = b @ np.asarray(scale.grade_scores, dtype=float)
    grade = score_grade(score, scale.grade_scores)
    alpha = max_membership_validity(b)
    valid = alpha >= MIN_MAX_VALIDITY
    top = b.argmax(axis=1)
    return table.assign(
        score=score,
        grade=codes[grade],
        grade_label_zh=zh[grade],
        grade_label_en=en[grade],
        max_validity=alpha,
        max_grade=pd.array([int(c) if v else pd.NA for c, v in zip(codes[top], valid, strict=True)],
                           dtype="Int64"),
        max_grade_label_zh=np.where(valid, zh[top], ""),
        max_grade_label_en=np.where(valid, en[top], ""),
    )


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
