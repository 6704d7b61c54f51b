"""The one registry of estimation options, shared by the estimators and ``study.yaml``.

Every function that takes one of these options and the study reader check it here, so an
unknown value gets the same message — naming where it came from and what is allowed —
whether it was typed in Python or in a study file.
"""

from __future__ import annotations

from typing import Any

from csi_research.core.errors import ModelSpecError

SCHEMES = ("path", "centroid", "factorial")  # PLS inner weighting schemes
MISSING = ("em", "mean", "listwise")  # missing-data treatments of the prepared sample (first = default)
ESTIMATORS = ("auto", "ML", "FIML")  # covariance-based SEM estimators (auto: FIML when answers are missing)
BOOTSTRAP_METHODS = ("pls", "cbsem")
LANGUAGES = ("zh", "en")  # report languages; a batch may ask for both
EXTRA_COLUMNS = ("keep", "error")  # survey columns the codebook does not know: kept aside, or refused

DEFAULT_MISSING = MISSING[0]
DEFAULT_CI = 0.95
MIN_N_BOOT = 2  # a percentile interval or a standard error needs at least two resamples

MISSING_TEXT = {
    "em": "EM imputation (conditional means; moments are the EM maximum-likelihood estimates)",
    "mean": "item-mean replacement",
    "listwise": "listwise deletion",
}


def choice(value: Any, allowed: tuple[str, ...], key: str, where: str = "") -> str:
    """``value`` if it is one of ``allowed``; else a ModelSpecError naming ``where`` and ``key``."""
    if isinstance(value, str) and value in allowed:
        return value
    prefix = f"{where}: " if where else ""
    raise ModelSpecError(f"{prefix}{key} {value!r} is not allowed; use one of: {', '.join(allowed)}")


def ci_level(value: Any, key: str = "ci", where: str = "") -> float:
    """A coverage level strictly between 0 and 1 (0.95, not 95)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1:
        return float(value)
    prefix = f"{where}: " if where else ""
    raise ModelSpecError(
        f"{prefix}{key} must be a coverage level between 0 and 1, e.g. 0.95 or 0.90, not {value!r}"
    )


def level_text(ci: float) -> str:
    """'95%' for 0.95, '90%' for 0.9, '97.5%' for 0.975: how a report names an interval's level."""
    return f"{ci * 100:.10g}%"


def language(value: Any, key: str = "language", where: str = "") -> str:
    """A report language: ``zh`` or ``en``."""
    return choice(value, LANGUAGES, key, where)
