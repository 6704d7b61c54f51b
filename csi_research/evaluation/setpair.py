"""Set pair analysis (集对分析, SPA) of grade distributions, beside the fuzzy grade and the ACSI index.

SPA (Zhao Keqin) pairs the evaluated set — the respondents' answers to an indicator — with an
ideal set (everyone in the top grade) and measures their *connection degree*
μ = a + b·i + c·j: the identity share a (same as the ideal: the top grade), the contrary share
c (opposite of it: the bottom grade, coefficient j = −1) and the discrepancy share b (the
grades between, whose coefficient i ∈ [−1, 1] is uncertain).

Documented choice: the **multi-element connection degree** with evenly spaced coefficients
(均分原则). On an n-grade scale the middle grades are kept apart as b_1 (next to the top) ...
b_{n−2} (next to the bottom):

    μ = a + b_1 i_1 + ... + b_{n−2} i_{n−2} + c j,   j = −1,  i_k = 1 − 2k / (n − 1)

so on the power-industry five-grade semantic scale (very dissatisfied ... very satisfied)
μ = a + 0.5 b_1 + 0·b_2 − 0.5 b_3 − c, the five-element connection degree. It needs no
data-dependent choice of i, is linear in the shares (so the overall μ of weighted indicators is
the weighted mean of their μ, and equals the μ of the weighted grade distribution), gives
μ = 1 when all answers are in the top grade and μ = −1 when all are in the bottom grade, and
rises strictly when answers move up a grade.

Grade decision (``bands``):

* ``"equal"`` (default, the usual SPA rule): [−1, 1] cut into n equal intervals, the highest
  for the top grade; for five grades [0.6, 1] very satisfied, [0.2, 0.6) fairly satisfied,
  [−0.2, 0.2) basically satisfied, [−0.6, −0.2) not very satisfied, [−1, −0.6) very dissatisfied.
* ``"nearest"``: the grade whose coefficient is nearest to μ (edges at the midpoints between
  coefficients, e.g. ±0.25 and ±0.75), the score-band rule of the fuzzy evaluation applied to μ.

An exact edge goes to the higher grade, as in :mod:`csi_research.evaluation.fuzzy`.

Because the coefficients are evenly spaced, μ is an affine map of the ACSI-style linear 0–100
index of the same distribution (codes rescaled linearly to 0–100): index = 50 (μ + 1). The fuzzy
score uses the scale's own grade scores (0/40/60/80/100 for the semantic scale) instead, so the
three can disagree near band edges; :func:`compare_evaluations` shows them side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from csi_research.core.diagnostics import collect, public
from csi_research.core.errors import ModelSpecError, SurveyDataError
from csi_research.evaluation.fuzzy import FuzzyEvaluation, Operator, fuzzy_evaluation, score_grade

Bands = Literal["equal", "nearest"]
BANDS = ("equal", "nearest")
SHARE_TOLERANCE = 1e-6  # |Σ shares − 1| accepted for a grade distribution
_EDGE_DIGITS = 9


def connection_coefficients(n_grades: int) -> np.ndarray:
    """The coefficients of the grades, lowest grade first: j = −1, ..., i_k, ..., 1 (evenly spaced)."""
    if not isinstance(n_grades, int | np.integer) or n_grades < 2:
        raise ModelSpecError(f"set pair analysis needs a scale of at least two grades, got {n_grades!r}")
    return np.linspace(-1.0, 1.0, int(n_grades))


def spa_edges(n_grades: int, bands: Bands = "equal") -> np.ndarray:
    """Inner edges of the μ intervals of the grades (lowest first); see the module doc."""
    v = connection_coefficients(n_grades)
    if bands == "equal":
        return -1.0 + 2.0 * np.arange(1, n_grades) / n_grades
    if bands == "nearest":
        return (v[:-1] + v[1:]) / 2
    raise ModelSpecError(f"set pair bands must be one of {BANDS}, not {bands!r}")


def spa_grade(mu: Any, n_grades: int, bands: Bands = "equal") -> np.ndarray:
    """0-based grade position of each connection degree μ (an exact edge goes to the higher grade)."""
    edges = np.round(spa_edges(n_grades, bands), _EDGE_DIGITS)  # −1 + 2·4/5 is 0.6000000000000001
    return np.searchsorted(edges, np.round(np.asarray(mu, dtype=float), _EDGE_DIGITS), side="right")


def spa_bands(scale: Any, bands: Bands = "equal") -> pd.DataFrame:
    """One row per grade of ``scale``: code, label_zh, label_en, coefficient, lower, upper (of μ)."""
    n = len(scale.codes)
    edges = spa_edges(n, bands)
    return pd.DataFrame({
        "code": list(scale.codes), "label_zh": list(scale.labels_zh), "label_en": list(scale.labels_en),
        "coefficient": connection_coefficients(n),
        "lower": np.concatenate([[-1.0], edges]), "upper": np.concatenate([edges, [1.0]]),
    })


@dataclass(frozen=True, eq=False)
class SetPairResult:
    """Connection degrees per indicator and overall.

    ``table`` columns: indicator, weight, a (top-grade share), b1 ... b{n−2} (the middle grades,
    b1 next to the top), c (bottom-grade share), b (Σ b_k), mu, grade (code), grade_label_zh,
    grade_label_en. The last row is the weighted overall (its weight is 1).
    """

    scale: Any
    bands: str
    table: pd.DataFrame
    diagnostics: list[str] = field(default_factory=list)

    @property
    def mu(self) -> float:
        """The overall connection degree."""
        return float(self.table["mu"].iloc[-1])

    @property
    def coefficients(self) -> pd.Series:
        return pd.Series(connection_coefficients(len(self.scale.codes)), index=list(self.scale.codes),
                         name="coefficient")

    def summary(self) -> dict[str, pd.DataFrame]:
        return {"set_pair": self.table, "set_pair_bands": spa_bands(self.scale, self.bands)}


@public
def set_pair_analysis(
    memberships: pd.DataFrame,
    scale: Any,
    weights: pd.Series | Mapping[str, float] | None = None,
    bands: Bands = "equal",
    overall: str = "overall",
) -> SetPairResult:
    """Connection degree μ of each indicator's grade distribution and of their weighted whole.

    ``memberships``: indicators × grade codes (lowest first), rows of shares summing to 1, e.g.
    :func:`csi_research.evaluation.fuzzy.membership_matrix` or a fuzzy evaluation's
    ``memberships``. ``weights`` (indicator → weight, e.g. AHP or ANP weights; normalised; equal
    when not given) make the overall row. ``scale`` gives the grade labels.
    """
    codes = list(scale.codes)
    if [str(c) for c in memberships.columns] != [str(c) for c in codes]:
        raise SurveyDataError(
            f"set pair analysis: membership columns {list(memberships.columns)} must be the grade codes "
            f"{codes} of scale {scale.name}, lowest first"
        )
    r = memberships.to_numpy(dtype=float)
    labels = [str(i) for i in memberships.index]
    for k, row in enumerate(r):
        if not np.all(np.isfinite(row)) or np.any(row < 0) or abs(row.sum() - 1) > SHARE_TOLERANCE:
            raise SurveyDataError(
                f"set pair analysis: indicator {labels[k]}: grade shares {np.round(row, 6).tolist()} must be "
                "non-negative and sum to 1"
            )
    if overall in labels:
        raise ModelSpecError(f"set pair analysis: '{overall}' is also an indicator; pass another overall=")
    w = _weights(weights, labels)
    table = connection_table(np.vstack([r, w @ r]), [*labels, overall], scale, bands)
    table.insert(1, "weight", [*w, 1.0])
    return SetPairResult(scale, bands, table)


def connection_table(shares: np.ndarray, labels: list[str], scale: Any,
                     bands: Bands = "equal") -> pd.DataFrame:
    """indicator, a, b1 ... b{n−2}, c, b, mu, grade, grade_label_zh, grade_label_en of rows of shares."""
    codes = list(scale.codes)
    n = len(codes)
    shares = np.asarray(shares, dtype=float)
    mu = shares @ connection_coefficients(n)
    grade = spa_grade(mu, n, bands)
    table = pd.DataFrame({"indicator": labels, "a": shares[:, -1]})
    for k in range(1, n - 1):
        table[f"b{k}"] = shares[:, n - 1 - k]
    table["c"] = shares[:, 0]
    table["b"] = shares[:, 1:-1].sum(axis=1)
    table["mu"] = mu
    table["grade"] = np.asarray(codes)[grade]
    table["grade_label_zh"] = np.asarray(scale.labels_zh, dtype=object)[grade]
    table["grade_label_en"] = np.asarray(scale.labels_en, dtype=object)[grade]
    return table


def _weights(weights: Any, labels: list[str]) -> np.ndarray:
    if weights is None:
        return np.full(len(labels), 1.0 / len(labels))
    given = pd.Series(weights, dtype=float)
    given.index = [str(i) for i in given.index]
    missing, extra = set(labels) - set(given.index), set(given.index) - set(labels)
    if missing or extra:
        raise ModelSpecError(
            f"set pair analysis: weights must name exactly the indicators {labels}; "
            f"missing {sorted(missing)}, unknown {sorted(extra)}"
        )
    w = given.reindex(labels).to_numpy()
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ModelSpecError(
            f"set pair analysis: weights {w.tolist()} must be non-negative with a positive sum"
        )
    return w / w.sum()


# ---------------------------------------------------------------------- three methods side by side
@dataclass(frozen=True, eq=False)
class EvaluationComparison:
    """The fuzzy grade, the SPA grade and the ACSI-style index of every node, side by side.

    ``table`` (long): node, level, method (fuzzy | set_pair | acsi), value, value_range
    ("0-100" or "-1..1"), grade (code), grade_label_zh, grade_label_en, rule (how the grade was
    read). ``fuzzy`` and ``set_pair`` are the full results behind it.
    """

    table: pd.DataFrame
    fuzzy: FuzzyEvaluation
    set_pair: SetPairResult
    diagnostics: list[str] = field(default_factory=list)

    def wide(self) -> pd.DataFrame:
        """One row per node: value and grade label (English) of each method."""
        order = list(dict.fromkeys(self.table["node"]))
        out = pd.DataFrame(index=pd.Index(order, name="node"))
        for method in ("fuzzy", "set_pair", "acsi"):
            rows = self.table[self.table["method"] == method].set_index("node").reindex(order)
            out[method] = rows["value"]
            out[f"{method}_grade"] = rows["grade_label_en"]
        return out

    def summary(self) -> dict[str, pd.DataFrame]:
        return {"method_comparison": self.table, **self.set_pair.summary()}


@public
def compare_evaluations(
    data: Any,
    weights: Any,
    scale: Any = None,
    codebook: Any = None,
    operator: Operator = "weighted",
    survey_weights: np.ndarray | None = None,
    bands: Bands = "equal",
    acsi_index: float | None = None,
) -> EvaluationComparison:
    """Fuzzy evaluation, set pair analysis and the ACSI-style index of the same data and weights.

    ``data``, ``weights`` (a Series, AHP hierarchy result, (hierarchy, local weights) pair, e.g.
    ANP weights), ``scale``, ``codebook``, ``operator``, ``survey_weights`` go to
    :func:`csi_research.evaluation.fuzzy.fuzzy_evaluation`. Every node's membership vector then
    gets its μ (for the weighted operator the μ of a node is the weighted μ of its children) and
    its ACSI-style index Σ b_g · (code_g rescaled linearly to 0–100), graded by the nearest
    rescaled code. ``acsi_index`` replaces the root's index (e.g. the PLS-based ACSI CSI).
    """
    fuzzy = fuzzy_evaluation.quiet(data, weights, scale=scale, codebook=codebook, operator=operator,
                                   survey_weights=survey_weights)
    sc = fuzzy.scale
    table = fuzzy.table
    mem = fuzzy.memberships
    nodes = [str(x) for x in table["node"]]
    order = [*nodes[1:], nodes[0]]  # the root last: the overall row of a SetPairResult
    spa_table = connection_table(mem.loc[order].to_numpy(), order, sc, bands)
    spa_table.insert(1, "weight", table.set_index("node")["local_weight"].reindex(order).to_numpy())
    by_node = spa_table.set_index("indicator").loc[nodes]
    linear = np.asarray(sc.to_100(np.asarray(sc.codes, dtype=float)))
    index = mem.to_numpy() @ linear
    if acsi_index is not None:
        if not 0 <= float(acsi_index) <= 100:
            raise ModelSpecError(f"compare evaluations: acsi_index = {acsi_index!r} must be within 0–100")
        index[0] = float(acsi_index)
    acsi_grade = score_grade(index, linear)
    codes = np.asarray(sc.codes)
    zh, en = np.asarray(sc.labels_zh, dtype=object), np.asarray(sc.labels_en, dtype=object)
    levels = table["level"].to_numpy()
    parts = [
        pd.DataFrame({"node": nodes, "level": levels, "method": "fuzzy", "value": table["score"].to_numpy(),
                      "value_range": "0-100", "grade": table["grade"].to_numpy(),
                      "grade_label_zh": table["grade_label_zh"].to_numpy(),
                      "grade_label_en": table["grade_label_en"].to_numpy(), "rule": "score band"}),
        pd.DataFrame({"node": nodes, "level": levels, "method": "set_pair", "value": by_node["mu"].to_numpy(),
                      "value_range": "-1..1", "grade": by_node["grade"].to_numpy(),
                      "grade_label_zh": by_node["grade_label_zh"].to_numpy(),
                      "grade_label_en": by_node["grade_label_en"].to_numpy(), "rule": f"mu {bands} bands"}),
        pd.DataFrame({"node": nodes, "level": levels, "method": "acsi", "value": index,
                      "value_range": "0-100", "grade": codes[acsi_grade], "grade_label_zh": zh[acsi_grade],
                      "grade_label_en": en[acsi_grade], "rule": "nearest rescaled code"}),
    ]
    long = pd.concat(parts, ignore_index=True)
    return EvaluationComparison(long, fuzzy, SetPairResult(sc, bands, spa_table), list(collect(fuzzy)))
