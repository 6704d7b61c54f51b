"""Getting the item matrix an estimator needs out of a frame or a Survey, with clear errors.

Every estimator (PLS, CB-SEM, measurement quality) starts here, so the checks that protect
them — items present, numeric, not empty, not constant, enough respondents — live once.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from csi_research.errors import EstimationError, ModelSpecError, SurveyDataError
from csi_research.model import CSIModel

MissingMethod = Literal["listwise", "mean", "pairwise"]


def as_frame(data: Any) -> pd.DataFrame:
    """The DataFrame behind ``data`` (a DataFrame, or a Survey with a ``frame``)."""
    frame = getattr(data, "frame", data)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame or a Survey, got {type(data).__name__}")
    return frame


def item_frame(
    model: CSIModel,
    data: Any,
    missing: MissingMethod = "listwise",
    min_rows: int = 3,
) -> pd.DataFrame:
    """The model's item columns as float, checked, with missing values handled.

    ``listwise`` drops respondents with any missing item, ``mean`` imputes item means,
    ``pairwise`` keeps NaN for estimators that use pairwise-complete moments.
    """
    frame = as_frame(data)
    absent = [i for i in model.items if i not in frame.columns]
    if absent:
        raise ModelSpecError(
            f"item(s) {', '.join(absent)} of the model are not columns of the data; "
            f"data columns: {', '.join(map(str, frame.columns[:12]))}{' ...' if frame.shape[1] > 12 else ''}"
        )
    x = frame[model.items]
    for col in x.columns:
        if not pd.api.types.is_numeric_dtype(x[col]) or pd.api.types.is_bool_dtype(x[col]):
            values = pd.to_numeric(x[col], errors="coerce")
            bad = x[col][values.isna() & x[col].notna()]
            row = bad.index[0] if len(bad) else "?"
            value = bad.iloc[0] if len(bad) else x[col].dtype
            raise SurveyDataError(
                f"column {col} row {row}: value {value!r} is not numeric; "
                "recode text answers to scale codes (load_survey does this from the codebook)"
            )
    x = x.astype(float)
    for col in x.columns:
        observed = x[col].dropna()
        if observed.empty:
            raise EstimationError(f"item {col} has no observed value: drop it from the model or fix the data")
        if observed.nunique() < 2:
            raise EstimationError(
                f"item {col} is constant (every answer is {observed.iloc[0]:g}): it carries no information; "
                "drop it from the model"
            )
    if missing == "listwise":
        x = x.dropna()
    elif missing == "mean":
        x = x.fillna(x.mean())
    elif missing != "pairwise":
        raise ValueError(f"missing must be 'listwise', 'mean' or 'pairwise', not {missing!r}")
    if len(x) < min_rows:
        raise EstimationError(
            f"only {len(x)} complete respondents remain ({missing} deletion); at least {min_rows} are needed"
        )
    return x


def column_sd(x: np.ndarray) -> np.ndarray:
    """Sample standard deviations (N − 1), the convention of plspm and semTools."""
    return np.std(x, axis=0, ddof=1)
