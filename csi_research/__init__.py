"""csi_research — customer satisfaction index (CSI) research for power-supply companies.

The public names are imported lazily so that ``import csi_research`` stays fast and the
command line does not pay for semopy or matplotlib unless it needs them.
"""

from __future__ import annotations

import importlib
from typing import Any

from csi_research.errors import (
    CSIError,
    CSIWarning,
    EstimationError,
    ModelSpecError,
    SurveyDataError,
)
from csi_research.model import CSIModel

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    "Scale": "csi_research.codebook",
    "Item": "csi_research.codebook",
    "Codebook": "csi_research.codebook",
    "Survey": "csi_research.survey",
    "DataQuality": "csi_research.survey",
    "load_survey": "csi_research.survey",
    "Sample": "csi_research.sample",
    "prepare": "csi_research.sample",
    "simulate_survey": "csi_research.simulate",
    "RegionProfile": "csi_research.simulate",
    "SimulatedSurvey": "csi_research.simulate",
    "load_regions": "csi_research.simulate",
    "write_bundled_data": "csi_research.simulate",
    "fit_pls": "csi_research.estimation.pls",
    "PLSFit": "csi_research.estimation.pls",
    "fit_cbsem": "csi_research.estimation.cbsem",
    "CBSEMFit": "csi_research.estimation.cbsem",
    "measurement_quality": "csi_research.measurement",
    "MeasurementQuality": "csi_research.measurement",
    "csi_indices": "csi_research.indices",
    "grade_score_index": "csi_research.indices",
    "segment_indices": "csi_research.indices",
    "overall_csi": "csi_research.indices",
    "poststratify": "csi_research.indices",
    "bootstrap": "csi_research.bootstrap",
    "BootstrapResult": "csi_research.bootstrap",
    "percentile_interval": "csi_research.intervals",
    "bca_interval": "csi_research.intervals",
    "ipma": "csi_research.ipma",
    "IPMAResult": "csi_research.ipma",
    "describe_priorities": "csi_research.ipma",
    "industry_evaluation": "csi_research.evaluation",
    "IndustryEvaluation": "csi_research.evaluation",
    "ahp_weights": "csi_research.evaluation",
    "ahp_hierarchy": "csi_research.evaluation",
    "rough_set_weights": "csi_research.evaluation",
    "combined_weights": "csi_research.evaluation",
    "fuzzy_evaluation": "csi_research.evaluation",
    "internal_evaluation": "csi_research.evaluation",
    "service_quality_index": "csi_research.evaluation",
    "StudyConfig": "csi_research.study",
    "StudyResult": "csi_research.study",
    "run_study": "csi_research.study",
    "run_batch": "csi_research.batch",
    "fit_multigroup": "csi_research.estimation.multigroup",
    "invariance": "csi_research.estimation.multigroup",
    "micom": "csi_research.groups",
    "permutation_mga": "csi_research.groups",
    "micom_and_mga": "csi_research.groups",
    "bootstrap_mga": "csi_research.groups",
    "anp_weights": "csi_research.evaluation",
    "anp_fuzzy": "csi_research.evaluation",
    "set_pair_analysis": "csi_research.evaluation",
    "rollup": "csi_research.rollup",
    "national_ranking": "csi_research.rollup",
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
