"""Write tests/data/fiml_patterns.csv: data/donggang_2025.csv with extra holes, > 200 missing patterns.

Run from the project root: .venv/bin/python tests/reference_scripts/fiml_patterns_data.py
The answers are those of the bundled (synthetic) Donggang 2025 survey as ``load_survey`` reads them
("don't know" = missing, CMP2 reversed). On top of its own "don't know" answers:

* MCAR: every answer except IMG4 is blanked with probability 3 %;
* MAR: respondents who rate IMG4 (always answered) 3 or lower also skip each complaint and loyalty
  item with probability 15 % (dissatisfied customers leaving the loyalty block).

With seed 2025 this gives 600 respondents, 777 missing answers and 220 distinct missing patterns.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from csi_research import CSIModel, CSIWarning
from csi_research.data.survey import load_survey

ROOT = Path(__file__).resolve().parents[2]
SEED = 2025


def holed() -> pd.DataFrame:
    """The survey's item answers (plus respondent_id) with the extra holes; NaN = not answered."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        survey = load_survey(ROOT / "data" / "donggang_2025.csv")
    items = CSIModel.default().items
    x = survey.frame[items].to_numpy(dtype=float, copy=True)
    rng = np.random.default_rng(SEED)
    mcar = rng.random(x.shape) < 0.03
    driver = items.index("IMG4")
    mcar[:, driver] = False
    low = x[:, driver] <= 3
    block = [items.index(i) for i in items if i.startswith(("CMP", "LOY"))]
    mar = np.zeros_like(mcar)
    mar[:, block] = (rng.random((len(x), len(block))) < 0.15) & low[:, None]
    x[mcar | mar] = np.nan
    out = pd.DataFrame(x, columns=items).astype("Int64")
    out.insert(0, "respondent_id", survey.frame["respondent_id"].to_numpy())
    return out


if __name__ == "__main__":
    data = holed()
    path = ROOT / "tests" / "data" / "fiml_patterns.csv"
    data.to_csv(path, index=False)
    na = data.iloc[:, 1:].isna().to_numpy()
    print(f"{path}: {len(data)} respondents, {na.sum()} missing answers, "
          f"{len({tuple(r) for r in na})} missing patterns, {(~na.any(axis=1)).sum()} complete")
