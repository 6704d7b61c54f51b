"""The power industry's own evaluation methods: AHP, rough-set and combined weights, fuzzy
comprehensive evaluation, internal indicators and the supply-service quality index; ANP and set pair
analysis as alternatives found in the literature."""

from csi_research.evaluation.ahp import (
    AHPResult,
    GroupAHPResult,
    ahp_weights,
    group_ahp,
    judgement_matrix,
    read_judgement_matrix,
)
from csi_research.evaluation.anp import ANPFuzzyResult, ANPResult, anp_fuzzy, anp_weights
from csi_research.evaluation.combined import CombinedResult, combined_weights, objective_matrix
from csi_research.evaluation.fuzzy import FuzzyEvaluation, fuzzy_evaluation, membership_matrix
from csi_research.evaluation.hierarchy import Hierarchy, HierarchyResult, ahp_hierarchy
from csi_research.evaluation.industry import (
    IndustryEvaluation,
    default_industry_spec,
    industry_evaluation,
    resolve_industry_spec,
)
from csi_research.evaluation.internal import (
    IndicatorDefinition,
    InternalEvaluation,
    indicator_definitions,
    internal_evaluation,
    load_internal_indicators,
    service_quality_index,
)
from csi_research.evaluation.roughset import (
    RoughSetResult,
    dependency_degree,
    discretise,
    rough_set_weights,
)
from csi_research.evaluation.setpair import (
    EvaluationComparison,
    SetPairResult,
    compare_evaluations,
    set_pair_analysis,
)

__all__ = [
    "AHPResult",
    "ANPFuzzyResult",
    "ANPResult",
    "CombinedResult",
    "EvaluationComparison",
    "FuzzyEvaluation",
    "GroupAHPResult",
    "Hierarchy",
    "HierarchyResult",
    "IndicatorDefinition",
    "IndustryEvaluation",
    "InternalEvaluation",
    "RoughSetResult",
    "SetPairResult",
    "ahp_hierarchy",
    "ahp_weights",
    "anp_fuzzy",
    "anp_weights",
    "combined_weights",
    "compare_evaluations",
    "default_industry_spec",
    "dependency_degree",
    "discretise",
    "fuzzy_evaluation",
    "group_ahp",
    "indicator_definitions",
    "industry_evaluation",
    "internal_evaluation",
    "judgement_matrix",
    "load_internal_indicators",
    "membership_matrix",
    "objective_matrix",
    "read_judgement_matrix",
    "resolve_industry_spec",
    "rough_set_weights",
    "service_quality_index",
    "set_pair_analysis",
]
