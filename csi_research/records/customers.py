"""Who the surveyed customers are, as the service-record analyses see them: each respondent's
satisfaction index from the answers, and which respondents are high-value customers.

Both the driver analysis and the synthetic records (whose planted drivers depend on them) start here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.errors import ModelSpecError

HIGH_VALUE_CLASSES = ("large_industry", "industrial", "commercial")
CONSUMPTION_COLUMNS = ("consumption", "annual_consumption_kwh", "consumption_kwh", "用电量")
HIGH_VALUE_TOP_SHARE = 0.2


def satisfaction_scores(survey: Any, construct: str = "Satisfaction") -> pd.Series:
    """Each respondent's satisfaction index 0–100: mean grade score of the construct's answered items.

    Grade scores follow the item's scale (semantic 5-level: 0/40/60/80/100; other scales linear).
    Respondents without an answer get NaN. Index = the survey frame's index.
    """
    book = getattr(survey, "codebook", None)
    frame = getattr(survey, "frame", survey)
    if book is None:
        from csi_research.data.codebook import Codebook

        book = Codebook.default()
    items = [i for i in book.items_of(construct) if i.id in frame.columns]
    if not items:
        raise ModelSpecError(
            f"the survey has no items of construct {construct}; satisfaction cannot be scored"
        )
    scores = np.column_stack(
        [book.scales[i.scale].grade_score(frame[i.id].to_numpy(dtype=float)) for i in items]
    )
    with np.errstate(all="ignore"):
        answered = ~np.isnan(scores)
        mean = np.where(
            answered.any(axis=1), np.nansum(scores, axis=1) / np.maximum(answered.sum(axis=1), 1), np.nan
        )
    return pd.Series(mean, index=frame.index, name="satisfaction_index")



def high_value_customers(survey: Any, high_value: Any = "default") -> tuple[np.ndarray, str]:
    """A mask of high-value respondents (survey order) and the definition used, in words.

    ``high_value``: "default" (consumption if the survey has it, else customer class), a collection
    of customer classes, or a boolean array/Series aligned with the survey's rows.
    """
    frame = getattr(survey, "frame", survey)
    n = len(frame)
    if isinstance(high_value, str) and high_value == "default":
        extra = getattr(survey, "extra", None)
        for source in (frame, extra):
            if isinstance(source, pd.DataFrame) and len(source) == n:
                for column in CONSUMPTION_COLUMNS:
                    if column in source.columns:
                        use = pd.to_numeric(source[column], errors="coerce").to_numpy(dtype=float)
                        cut = np.nanquantile(use, 1 - HIGH_VALUE_TOP_SHARE)
                        return use >= cut, (
                            f"top {HIGH_VALUE_TOP_SHARE:.0%} of customers by {column} (at least {cut:g})"
                        )
        high_value = HIGH_VALUE_CLASSES
    if (
        isinstance(high_value, pd.Series | np.ndarray | list)
        and len(high_value) == n
        and all(isinstance(v, bool | np.bool_) for v in np.asarray(high_value))
    ):
        return np.asarray(high_value, dtype=bool), "customers marked high-value by the caller"
    classes = [str(c) for c in high_value]
    if "customer_class" not in frame.columns:
        raise ModelSpecError(
            "high-value customers cannot be told: the survey has neither a consumption column "
            f"({', '.join(CONSUMPTION_COLUMNS)}) nor customer_class; pass high_value= a mask"
        )
    present = [c for c in classes if c in set(frame["customer_class"].astype(str))]
    mask = frame["customer_class"].astype(str).isin(classes).to_numpy()
    return mask, f"customer_class in {{{', '.join(present or classes)}}}"
