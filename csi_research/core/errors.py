"""Exceptions and warnings shared by the whole package.

All errors subclass ``ValueError`` so that callers who only know "bad input" can catch
them generically; the message always says where the problem is and how to fix it.
"""

from __future__ import annotations


class CSIError(ValueError):
    """Base class of every error raised by csi_research."""


class SurveyDataError(CSIError):
    """A survey file or frame cannot be used as it is (names file, column, row, value)."""


class ModelSpecError(CSIError):
    """A model, codebook or study specification is inconsistent."""


class EstimationError(CSIError):
    """An estimator cannot produce a result (non-convergence, too few respondents, ...)."""


class CSIWarning(UserWarning):
    """A problem that does not stop the work but must not go unnoticed (see ``diagnostics``)."""


class OutputError(CSIError):
    """An output cannot be written without losing something (the file exists, the folder is read-only)."""
