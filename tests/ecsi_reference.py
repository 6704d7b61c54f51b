"""The ECSI survey of R plspm and its reference results, shared by the estimator tests.

The folder sits beside the project (``../shared/reference``), which only CI and developers have, so every
loader skips the test, rather than failing it, where the folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from csi_research.model import CSIModel

REF = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "satisfaction"
SKIP_REASON = "../shared/reference is not beside the project (only CI and developers have it)"

BLOCKS = {
    "IMAG": [f"imag{i}" for i in range(1, 6)],
    "EXPE": [f"expe{i}" for i in range(1, 6)],
    "QUAL": [f"qual{i}" for i in range(1, 6)],
    "VAL": [f"val{i}" for i in range(1, 5)],
    "SAT": [f"sat{i}" for i in range(1, 5)],
    "LOY": [f"loy{i}" for i in range(1, 5)],
}
PATHS = [
    ("IMAG", "EXPE"), ("IMAG", "SAT"), ("IMAG", "LOY"), ("EXPE", "QUAL"), ("EXPE", "VAL"),
    ("EXPE", "SAT"), ("QUAL", "VAL"), ("QUAL", "SAT"), ("VAL", "SAT"), ("SAT", "LOY"),
]


def ecsi_model() -> CSIModel:
    """The ECSI model as R plspm's ``satisfaction`` example specifies it (6 blocks, 10 paths)."""
    return CSIModel(BLOCKS, PATHS)


def reference_csv(name: str, **read_csv_kwargs) -> pd.DataFrame:
    """One file of the reference folder, or skip the calling test where the folder is absent."""
    if not REF.is_dir():
        pytest.skip(SKIP_REASON)
    return pd.read_csv(REF / name, **read_csv_kwargs)


def satisfaction_data() -> pd.DataFrame:
    """The 250 ECSI answers on 0-10 scales, indexed by respondent as plspm's scores are."""
    return reference_csv("satisfaction.csv", index_col=0)
