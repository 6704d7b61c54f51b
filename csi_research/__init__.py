"""csi_research — customer satisfaction index (CSI) research for power-supply companies.

The public names are imported lazily so that ``import csi_research`` stays fast and the
command line does not pay for semopy or matplotlib unless it needs them.
"""

from __future__ import annotations

import importlib
from typing import Any

from csi_research.core import __version__
from csi_research.core.errors import (
    CSIError,
    CSIWarning,
    EstimationError,
    ModelSpecError,
    SurveyDataError,
)
from csi_research.model import CSIModel

# public name -> module that defines it
_LAZY = {
    "Scale": "csi_research.data.codebook",
    "Item": "csi_research.data.codebook",
    "Codebook": "csi_research.data.codebook",
    "Survey": "csi_research.data.survey",
    "DataQuality": "csi_research.data.survey",
    "load_survey": "csi_research.data.survey",
    "Sample": "csi_research.data.sample",
    "prepare": "csi_research.data.sample",
    "simulate_survey": "csi_research.data.simulate",
    "RegionProfile": "csi_research.data.simulate",
    "SimulatedSurvey": "csi_research.data.simulate",
    "load_regions": "csi_research.data.simulate",
    "write_bundled_data": "csi_research.study.bundled_data",
    "fit_pls": "csi_research.stats.pls",
    "PLSFit": "csi_research.stats.pls",
    "fit_cbsem": "csi_research.stats.cbsem",
    "CBSEMFit": "csi_research.stats.cbsem",
    "measurement_quality": "csi_research.stats.measurement",
    "MeasurementQuality": "csi_research.stats.measurement",
    "csi_indices": "csi_research.stats.indices",
    "grade_score_index": "csi_research.stats.indices",
    "segment_indices": "csi_research.stats.indices",
    "overall_csi": "csi_research.stats.indices",
    "poststratify": "csi_research.data.sample",
    "bootstrap": "csi_research.stats.bootstrap",
    "BootstrapResult": "csi_research.stats.bootstrap",
    "percentile_interval": "csi_research.stats.intervals",
    "bca_interval": "csi_research.stats.intervals",
    "f_squared": "csi_research.stats.effects",
    "indirect_effects": "csi_research.stats.effects",
    "predict": "csi_research.stats.predict",
    "PredictResult": "csi_research.stats.predict",
    "cvpat": "csi_research.stats.cvpat",
    "CVPATResult": "csi_research.stats.cvpat",
    "moderation": "csi_research.stats.moderation",
    "components": "csi_research.stats.higher_order",
    "ModerationResult": "csi_research.stats.moderation",
    "ipma": "csi_research.stats.ipma",
    "IPMAResult": "csi_research.stats.ipma",
    "describe_priorities": "csi_research.stats.ipma",
    "industry_evaluation": "csi_research.evaluation",
    "IndustryEvaluation": "csi_research.evaluation",
    "ahp_weights": "csi_research.evaluation",
    "ahp_hierarchy": "csi_research.evaluation",
    "rough_set_weights": "csi_research.evaluation",
    "combined_weights": "csi_research.evaluation",
    "fuzzy_evaluation": "csi_research.evaluation",
    "internal_evaluation": "csi_research.evaluation",
    "service_quality_index": "csi_research.evaluation",
    "StudyConfig": "csi_research.study.config",
    "StudyResult": "csi_research.study.pipeline",
    "run_study": "csi_research.study.pipeline",
    "run_batch": "csi_research.run.batch",
    "fit_multigroup": "csi_research.stats.multigroup",
    "invariance": "csi_research.stats.multigroup",
    "micom": "csi_research.stats.groups",
    "permutation_mga": "csi_research.stats.groups",
    "micom_and_mga": "csi_research.stats.groups",
    "bootstrap_mga": "csi_research.stats.groups",
    "anp_weights": "csi_research.evaluation",
    "anp_fuzzy": "csi_research.evaluation",
    "set_pair_analysis": "csi_research.evaluation",
    "rollup": "csi_research.programme.rollup",
    "national_ranking": "csi_research.programme.rollup",
    "plan_sample": "csi_research.programme.planning",
    "allocate_sample": "csi_research.programme.planning",
    "PlanAssumptions": "csi_research.programme.planning",
    "assumptions_from_bundle": "csi_research.programme.planning",
    "kish_deff": "csi_research.programme.planning",
}

__all__ = [
    "CSIError",
    "CSIModel",
    "CSIWarning",
    "EstimationError",
    "ModelSpecError",
    "SurveyDataError",
    "__version__",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'csi_research' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
