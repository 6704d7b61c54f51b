"""Combined weighting: rough set + AHP (粗糙集 + 层次分析法 组合判断矩阵).

The industry method builds an *objective* judgement matrix from the survey's own rough-set
attribute importances and merges it with the experts' *subjective* matrix, so that neither
opinion nor data alone decides the weights (DOMAIN.md, "rough set + AHP combined judgement
matrix").

Objective matrix (documented choice): b_ij = w_i / w_j, the exact ratio of the objective
weights (not rounded onto Saaty's 1–9 grid). It is perfectly consistent and its principal
eigenvector is w itself, so the method reduces to the objective weights exactly.

Combination: c_ij = a_ij^α · b_ij^(1−α), a weighted geometric mean of the two judgements.
Geometric (not arithmetic) because it keeps reciprocity — c_ji = a_ji^α b_ji^(1−α) =
1 / c_ij — so C is again a judgement matrix with λmax, CI and CR. α = 1 gives the experts'
AHP, α = 0 the objective weights; α is the share of trust in the experts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.diagnostics import collect, public
from csi_research.core.errors import ModelSpecError
from csi_research.evaluation.ahp import AHPResult, GroupAHPResult, Method, ahp_weights, judgement_matrix
from csi_research.evaluation.roughset import RoughSetResult


@dataclass(frozen=True, eq=False)
class CombinedResult:
    """Subjective (AHP), objective (rough set) and combined weights of one set of indicators."""

    name: str
    alpha: float
    subjective: pd.Series
    objective: pd.Series
    objective_matrix: pd.DataFrame
    combined: AHPResult
    diagnostics: list[str] = field(default_factory=list)

    @property
    def weights(self) -> pd.Series:
        return self.combined.weights

    @property
    def cr(self) -> float:
        return self.combined.cr

    def summary(self) -> dict[str, pd.DataFrame]:
        weights = pd.DataFrame(
            {"subjective": self.subjective, "objective": self.objective, "combined": self.weights}
        )
        stats = pd.DataFrame(
            {"value": [self.alpha, self.combined.lambda_max, self.combined.cr]},
            index=pd.Index(["alpha", "lambda_max", "CR"], name="statistic"),
        )
        return {"weights": weights, "combined_consistency": stats}


def objective_matrix(weights: pd.Series) -> pd.DataFrame:
    """b_ij = w_i / w_j for positive objective weights (a perfectly consistent matrix)."""
    w = weights.to_numpy(dtype=float)
    if np.any(~np.isfinite(w)) or np.any(w <= 0):
        bad = weights[~(np.isfinite(w) & (w > 0))]
        raise ModelSpecError(
            f"objective weights must be positive to form ratios; {dict(bad)} are not "
            "(rough_set_weights floors zero importances for this reason)"
        )
    labels = [str(i) for i in weights.index]
    return pd.DataFrame(np.outer(w, 1 / w), index=labels, columns=labels)


@public
def combined_weights(
    expert: AHPResult | GroupAHPResult | Any,
    objective: pd.Series | RoughSetResult,
    alpha: float = 0.5,
    method: Method = "eigen",
    name: str | None = None,
) -> CombinedResult:
    """Weights of the combined judgement matrix c_ij = a_ij^α · b_ij^(1−α) (see module doc).

    ``expert`` is an AHP result (its matrix is used), a group result (its AIJ matrix; for AIP the
    consistent matrix of the aggregated priorities) or a judgement matrix; ``objective`` the
    objective weights (a Series over the same indicators, or a rough-set result).
    """
    if not 0 <= alpha <= 1:
        raise ModelSpecError(
            f"combined weighting: alpha = {alpha} must lie in [0, 1] (the share of trust in the experts)"
        )
    a = _expert_matrix(expert, name)
    name = name or getattr(expert, "name", "matrix")
    w_obj = objective.weights if isinstance(objective, RoughSetResult) else pd.Series(objective, dtype=float)
    w_obj.index = [str(i) for i in w_obj.index]
    labels = list(a.index)
    if set(w_obj.index) != set(labels):
        raise ModelSpecError(
            f"combined weighting '{name}': the experts compare {labels} but the objective weights cover "
            f"{list(w_obj.index)}; both must weight the same indicators"
        )
    w_obj = w_obj[labels] / w_obj.sum()
    b = objective_matrix(w_obj)
    c = np.exp(alpha * np.log(a.to_numpy()) + (1 - alpha) * np.log(b.to_numpy()))
    matrix = judgement_matrix(pd.DataFrame(c, index=labels, columns=labels), name=name, check_scale=False)
    subjective = getattr(expert, "weights", None)
    expert_result = ahp_weights.quiet(a, method, name) if subjective is None else None
    if expert_result is not None:
        subjective = expert_result.weights
    result = ahp_weights.quiet(matrix, method, f"{name} (combined, alpha={alpha:g})")
    diagnostics = list(collect(expert_result, result))
    return CombinedResult(name, float(alpha), subjective, w_obj.rename("weight"), b, result, diagnostics)


def _expert_matrix(expert: Any, name: str | None) -> pd.DataFrame:
    if isinstance(expert, AHPResult):
        return expert.matrix
    if isinstance(expert, GroupAHPResult):
        if expert.aggregate is not None:
            return expert.aggregate.matrix
        return objective_matrix(expert.weights)
    return judgement_matrix(expert, name=name or "matrix")
