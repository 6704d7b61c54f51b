"""Rough-set (粗糙集) attribute dependency, significance, reduct and objective weights.

The survey is read as a decision table: condition attributes C (items or sub-indicators,
discretised into grades) and a decision attribute D (overall satisfaction). Respondents
with identical grades on a set of attributes B are indiscernible; the B-positive region is
the set of respondents whose B-class has a single decision value, and the dependency degree
γ_B(D) = |POS_B(D)| / |U|. The significance of attribute a is σ(a) = γ_C(D) − γ_{C−{a}}(D):
how much classification power is lost without it.

Weight rule (documented choice). σ(a) is zero for every attribute whose information is also
carried by the others, which on survey data is most of them, so weights from σ alone drop
items the questionnaire deliberately asks. We therefore use the *importance*
``r(a) = σ(a) + γ_{a}(D)``, significance within C plus the dependency of D on a alone (the
"improved attribute importance" of the Chinese rough-set weighting literature); weights are
r(a) / Σ r. An attribute with r(a) = 0 (dispensable *and* no stand-alone dependency) gets half
the smallest positive importance instead of zero, and a diagnostic says so: a zero weight
would silently drop an item and makes the ratio judgement matrix of the combined method
undefined. If every r(a) is zero, no objective weights exist and an error says so.

Survey weights do not enter: rough sets are set-based (classes of indiscernible respondents,
positive regions counted by membership), so every respondent given counts once. Given a study's
sample, :func:`csi_research.evaluation.industry_evaluation` passes its kept respondents.

Everything is vectorised: each attribute set is encoded to one integer class label per
respondent (mixed-radix codes, re-compressed with ``pandas.factorize`` so they never overflow)
and consistency is checked per class with ``np.unique``; the C−{a} partitions come from prefix
and suffix encodings, so all p significances cost O(p) passes over the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.diagnostics import public
from csi_research.core.errors import EstimationError, ModelSpecError, SurveyDataError
from csi_research.data.sample import as_frame

Bins = Sequence[float] | Mapping[str, Sequence[float]] | None


@dataclass(frozen=True, eq=False)
class RoughSetResult:
    """Dependency, significance, reduct and objective weights of a decision table.

    ``table`` columns: attribute, significance (σ), gamma_without (γ_{C−{a}}(D)),
    gamma_alone (γ_{a}(D)), importance (σ + γ_alone, floored as documented), weight,
    in_reduct.
    """

    decision: str
    attributes: tuple[str, ...]
    n: int
    gamma: float
    positive_region: pd.Index
    table: pd.DataFrame
    reduct: tuple[str, ...]
    diagnostics: list[str] = field(default_factory=list)

    @property
    def weights(self) -> pd.Series:
        return pd.Series(self.table["weight"].to_numpy(), index=self.table["attribute"].to_numpy(),
                         name="weight")

    @property
    def core(self) -> tuple[str, ...]:
        """Attributes with positive significance: indispensable, in every reduct."""
        return tuple(self.table.loc[self.table["significance"] > 0, "attribute"])

    def summary(self) -> dict[str, pd.DataFrame]:
        overview = pd.DataFrame(
            {"value": [self.decision, self.n, len(self.positive_region), self.gamma,
                       ", ".join(self.reduct), ", ".join(self.core)]},
            index=pd.Index(["decision", "respondents", "positive_region", "gamma", "reduct", "core"],
                           name="statistic"),
        )
        return {"overview": overview, "attributes": self.table}


# ---------------------------------------------------------------------- decision table
def discretise(data: Any, columns: Sequence[str], bins: Bins = None) -> pd.DataFrame:
    """Grades per column: the scale codes themselves, or user bins.

    Without ``bins`` every value must be a whole number (a scale code). With bins (one list
    of edges for all columns, or a mapping column → edges), a value gets the grade "number of
    edges strictly below it": edges [2, 4] give 0 for x ≤ 2, 1 for 2 < x ≤ 4, 2 for x > 4.
    Missing values stay missing.
    """
    frame = as_frame(data)
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ModelSpecError(f"rough set: column(s) {absent} are not in the data")
    out = {}
    for col in columns:
        x = pd.to_numeric(frame[col], errors="coerce")
        bad = frame[col][x.isna() & frame[col].notna()]
        if len(bad):
            raise SurveyDataError(
                f"column {col} row {bad.index[0]}: value {bad.iloc[0]!r} is not numeric; "
                "recode it to a scale code"
            )
        edges = bins.get(col) if isinstance(bins, Mapping) else bins
        if edges is None:
            frac = x[(x.notna()) & (x != np.round(x))]
            if len(frac):
                raise SurveyDataError(
                    f"column {col} row {frac.index[0]}: value {frac.iloc[0]:g} is not a scale code; "
                    "give bins for continuous scores (e.g. bins={'" + col + "': [40, 60, 80]})"
                )
            out[col] = x
        else:
            e = np.asarray(edges, dtype=float)
            if e.ndim != 1 or np.any(np.diff(e) <= 0):
                raise ModelSpecError(f"rough set: bins for {col} must be increasing edges, got {list(edges)}")
            out[col] = pd.Series(np.searchsorted(e, x.to_numpy(), side="left").astype(float),
                                 index=x.index).where(x.notna())
    return pd.DataFrame(out, index=frame.index)


def _codes(grades: pd.DataFrame) -> np.ndarray:
    """Each column's grades as integer codes 0..k−1 (n × p, int64)."""
    return np.column_stack([pd.factorize(grades[c], sort=True)[0] for c in grades.columns]).astype(np.int64)


def _combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Class labels of the partition generated by two labelings (both dense, < n)."""
    return pd.factorize(a * (int(b.max()) + 1) + b)[0].astype(np.int64)


def _key(codes: np.ndarray, columns: Sequence[int]) -> np.ndarray:
    n = codes.shape[0]
    key = np.zeros(n, dtype=np.int64)
    for j in columns:
        key = _combine(key, codes[:, j])
        if key[-1] == n - 1:  # factorize labels by first appearance: n classes, nothing left to split
            break
    return key


def _consistent(key: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Mask of rows whose indiscernibility class has a single decision value."""
    q = int(d.max()) + 1
    pairs = np.unique(key * q + d)
    n_decisions = np.bincount(pairs // q, minlength=int(key.max()) + 1)
    return n_decisions[key] == 1


def _table(data: Any, attributes: Sequence[str], decision: str, bins: Bins, name: str = "rough set"
           ) -> tuple[np.ndarray, np.ndarray, pd.Index, list[str]]:
    attributes = list(dict.fromkeys(attributes))
    if not attributes:
        raise ModelSpecError("rough set: give at least one condition attribute")
    if decision in attributes:
        raise ModelSpecError(
            f"rough set: the decision {decision} is also a condition attribute; it would explain itself"
        )
    grades = discretise(data, [*attributes, decision], bins)
    complete = grades.dropna()
    diagnostics = []
    dropped = len(grades) - len(complete)
    if dropped:
        diagnostics.append(
            f"{name}: {dropped} of {len(grades)} respondents have a missing grade on {decision} or a "
            "condition attribute and are left out of the decision table"
        )
    if len(complete) < 2:
        raise EstimationError(f"rough set: only {len(complete)} complete respondents; at least 2 are needed")
    codes = _codes(complete)
    return codes[:, :-1], codes[:, -1], complete.index, diagnostics


def _greedy_reduct(codes: np.ndarray, d: np.ndarray, order: list[int], pos_full: int) -> list[int]:
    """Backward elimination in ``order`` with O(p) partition passes.

    When attribute order[t] is tried, the candidate set is (kept among order[:t]) ∪ order[t+1:];
    its partition combines a running key of the kept attributes with a precomputed suffix key.
    """
    n, p = codes.shape
    suffix = [np.zeros(n, dtype=np.int64)] * (p + 1)
    for t in range(p - 1, -1, -1):
        suffix[t] = _combine(suffix[t + 1], codes[:, order[t]])
    running, kept = np.zeros(n, dtype=np.int64), []
    for t, j in enumerate(order):
        nonempty = bool(kept) or t < p - 1
        if nonempty and int(_consistent(_combine(running, suffix[t + 1]), d).sum()) == pos_full:
            continue  # dispensable given the rest: drop it
        kept.append(j)
        running = _combine(running, codes[:, j])
    return sorted(kept)


def dependency_degree(data: Any, attributes: Sequence[str], decision: str, bins: Bins = None) -> float:
    """γ_B(D): the share of respondents whose B-class has one decision value (among those with
    every grade; :func:`rough_set_weights` reports how many were left out)."""
    codes, d, _, _ = _table(data, attributes, decision, bins)
    return float(_consistent(_key(codes, range(codes.shape[1])), d).mean())


@public
def rough_set_weights(
    data: Any, attributes: Sequence[str], decision: str, bins: Bins = None, name: str = "rough set"
) -> RoughSetResult:
    """Dependency γ_C(D), significances, a greedy reduct and objective weights (see module doc).

    Reduct (greedy backward elimination): starting from C, attributes are tried in order of
    increasing importance (ties: later attributes first); one is dropped when the dependency of
    D on the remaining set still equals γ_C(D). Because γ can only fall when attributes are
    removed, every attribute left is indispensable: the result is a reduct (minimal, though not
    necessarily the smallest one). ``name`` prefixes diagnostics (e.g. the hierarchy node).
    """
    attributes = list(dict.fromkeys(attributes))
    codes, d, index, diagnostics = _table(data, attributes, decision, bins, name)
    n, p = codes.shape
    prefix = [np.zeros(n, dtype=np.int64)]
    for j in range(p):
        prefix.append(_combine(prefix[-1], codes[:, j]))
    suffix = [np.zeros(n, dtype=np.int64)]
    for j in range(p - 1, -1, -1):
        suffix.append(_combine(suffix[-1], codes[:, j]))
    suffix = suffix[::-1]  # suffix[j] encodes columns j..p−1
    full = _consistent(prefix[p], d)
    pos_full = int(full.sum())
    pos_without = np.array([_consistent(_combine(prefix[j], suffix[j + 1]), d).sum() for j in range(p)])
    pos_alone = np.array([_consistent(codes[:, j], d).sum() for j in range(p)])
    significance = (pos_full - pos_without) / n
    alone = pos_alone / n
    importance = significance + alone
    if not np.any(importance > 0):
        raise EstimationError(
            f"{name}: no attribute has any dependency or significance for {decision} "
            f"(γ_C(D) = {pos_full / n:.3f}); objective weights cannot be derived — use expert weights "
            "or coarser grades (bins)"
        )
    zero = importance <= 0
    if np.any(zero):
        importance = np.where(zero, importance[~zero].min() / 2, importance)
        diagnostics.append(
            f"{name}: attribute(s) {', '.join(np.asarray(attributes)[zero])}: zero significance and no "
            f"dependency of {decision} on them alone; given half the smallest positive importance, not 0"
        )
    kept = _greedy_reduct(codes, d, sorted(range(p), key=lambda j: (importance[j], -j)), pos_full)
    table = pd.DataFrame({
        "attribute": attributes,
        "significance": significance,
        "gamma_without": pos_without / n,
        "gamma_alone": alone,
        "importance": importance,
        "weight": importance / importance.sum(),
        "in_reduct": [j in kept for j in range(p)],
    })
    return RoughSetResult(decision, tuple(attributes), n, pos_full / n, index[full], table,
                          tuple(attributes[j] for j in kept), diagnostics)
