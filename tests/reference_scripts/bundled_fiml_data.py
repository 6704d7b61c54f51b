"""Write tests/data/bundled_<study>.csv: the item answers of the bundled incomplete surveys.

Run from the project root: .venv/bin/python tests/reference_scripts/bundled_fiml_data.py
The answers are those the studies fit, as ``load_survey`` reads them ("don't know" = missing,
reverse-keyed items reversed), with the respondent id first; NaN is written as an empty cell.
tests/reference_scripts/bundled_fiml.R fits them with lavaan (missing = "ml").
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from csi_research import CSIModel, CSIWarning
from csi_research.data.survey import load_survey

ROOT = Path(__file__).resolve().parents[2]
STUDIES = ("beiling_2025", "yunchuan_2025")  # the bundled surveys with unanswered items


def answers(study: str) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        survey = load_survey(ROOT / "data" / f"{study}.csv")
    frame = survey.frame
    return frame[["respondent_id", *CSIModel.default().items]].reset_index(drop=True)


if __name__ == "__main__":
    for name in STUDIES:
        out = ROOT / "tests" / "data" / f"bundled_{name}.csv"
        answers(name).to_csv(out, index=False, float_format="%.15g")
        print(out)
