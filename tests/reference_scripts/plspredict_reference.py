"""Reference numbers of tests/test_predict.py: PLSpredict of the ECSI model by seminr (Python port).

Not part of the test suite and not a dependency of the project: run it by hand in a separate
environment that has the peer installed, and paste what it prints into the test.

    python3 -m venv /tmp/peer && /tmp/peer/bin/pip install seminr==0.2.1 pandas
    /tmp/peer/bin/python tests/reference_scripts/plspredict_reference.py \
        ../shared/reference/satisfaction/satisfaction.csv

Settings: every block a Mode A composite (``composite(..., weights=mode_A)``, seminr's default), the
10 ECSI paths, ``estimate_pls(max_it=1000, stop_criterion=12)`` so the iterations converge far past
the compared digits, ``predict_pls(technique=predict_EA)`` (earliest antecedents: endogenous
constructs predicted from the exogenous IMAG through the reduced form; the LM benchmark regresses
each endogenous item on the IMAG items). Two designs:

* ``k10``: 10 folds of 25 respondents: ``ordering`` (0-based rows) is
  ``numpy.random.default_rng(2019).permutation(250)`` and seminr cuts the ordered rows into 10
  consecutive blocks, so respondent ``ordering[i]`` is in fold ``i * 10 // 250``;
* ``loo``: leave-one-out (``no_folds=None``), no randomness at all.

seminr reports RMSE and MAE of the out-of-sample PLS and LM predictions (``item_metrics``). It has
no Q²predict in that table, so Q²predict = 1 - SSE / SSE(mean) is computed here from seminr's
out-of-sample predictions and each fold's training mean of the item (plain numpy below).
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import seminr
from seminr import (
    composite,
    constructs,
    estimate_pls,
    multi_items,
    path_factorial,
    path_weighting,
    paths,
    predict_EA,
    predict_pls,
    relationships,
)
from seminr.predict.metrics import item_metrics
from seminr.predict.predict_pls import resolve_predict_plan

BLOCKS = {"IMAG": "imag", "EXPE": "expe", "QUAL": "qual", "VAL": "val", "SAT": "sat", "LOY": "loy"}
SIZES = {"IMAG": 5, "EXPE": 5, "QUAL": 5, "VAL": 4, "SAT": 4, "LOY": 4}


def model_parts():
    mm = constructs(*[composite(c, multi_items(BLOCKS[c], range(1, SIZES[c] + 1))) for c in BLOCKS])
    sm = relationships(
        paths("IMAG", ["EXPE", "SAT", "LOY"]),
        paths("EXPE", ["QUAL", "VAL", "SAT"]),
        paths("QUAL", ["VAL", "SAT"]),
        paths("VAL", "SAT"),
        paths("SAT", "LOY"),
    )
    return mm, sm


def run(data: pd.DataFrame, scheme, no_folds: int | None, ordering) -> pd.DataFrame:
    mm, sm = model_parts()
    model = estimate_pls(data, mm, sm, inner_weights=scheme, max_it=1000, stop_criterion=12)
    prediction = predict_pls(model, technique=predict_EA, no_folds=no_folds, ordering=ordering)
    metrics = item_metrics(prediction).__dict__
    items = list(prediction.items.pls_out_of_sample.cols)
    y = data[items].to_numpy(dtype=float)
    plan = resolve_predict_plan(model, technique=predict_EA, no_folds=no_folds, ordering=ordering)
    base = np.empty_like(y)  # each respondent's benchmark: its fold's training mean
    for spec in plan.fold_specs:
        base[spec.test_rows] = y[spec.train_rows].mean(axis=0)
    sse_mean = ((y - base) ** 2).sum(axis=0)
    out = {"item": items}
    for name, key in (("pls", "pls_out_of_sample"), ("lm", "lm_out_of_sample")):
        table = metrics[key]
        out[f"rmse_{name}"] = table.values[0]
        out[f"mae_{name}"] = table.values[1]
        residuals = getattr(prediction.items, f"{key}_residuals").values
        out[f"q2_{name}"] = 1.0 - (residuals**2).sum(axis=0) / sse_mean
    return pd.DataFrame(out)[["item", "rmse_pls", "mae_pls", "rmse_lm", "mae_lm", "q2_pls", "q2_lm"]]


def main(path: str) -> None:
    data = pd.read_csv(path, index_col=0).drop(columns="gender").reset_index(drop=True)
    n = len(data)
    ordering = [int(i) for i in np.random.default_rng(2019).permutation(n)]
    print(f"# seminr {getattr(seminr, '__version__', 'version unknown')}")
    for label, scheme, folds, order in (("k10_path", path_weighting, 10, ordering),
                                        ("k10_factorial", path_factorial, 10, ordering),
                                        ("loo_path", path_weighting, None, None)):
        table = run(data, scheme, folds, order)
        print(f"{label.upper()} = {{  # item: rmse_pls, mae_pls, rmse_lm, mae_lm, q2_pls, q2_lm")
        for row in table.itertuples(index=False):
            values = ", ".join(f"{v:.10f}" for v in row[1:])
            print(f'    "{row.item}": ({values}),')
        print("}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference/satisfaction/satisfaction.csv")
