"""Reference numbers of tests/test_higher_order.py: a two-stage higher-order composite by seminr.

Not part of the test suite and not a dependency of the project: run it by hand in a separate
environment that has the peer installed, and paste what it prints into the test.

    python3 -m venv /tmp/peer && /tmp/peer/bin/pip install seminr==0.2.1 pandas
    /tmp/peer/bin/python tests/reference_scripts/higher_order_reference.py \
        ../shared/reference/satisfaction/satisfaction.csv

Model: the ECSI blocks IMAG, EXPE, QUAL, VAL, SAT, LOY as Mode A composites; a higher-order
composite PERC ("perceived performance") over the dimensions QUAL and VAL,
``higher_composite("PERC", c("QUAL", "VAL"), method = "two_stage", weights = <A or B>)``; paths
IMAG → EXPE, IMAG → SAT, EXPE → PERC, PERC → SAT, SAT → LOY. ``estimate_pls(max_it=1000,
stop_criterion=12)`` so both stages converge far past the compared digits. Printed for Mode A and
Mode B of the higher-order composite: the paths, R² of the endogenous constructs, and the
higher-order composite's outer weights and loadings on its dimensions.
"""

from __future__ import annotations

import sys

import pandas as pd
from seminr import (
    composite,
    constructs,
    correlation_weights,
    estimate_pls,
    higher_composite,
    multi_items,
    paths,
    regression_weights,
    relationships,
)

BLOCKS = {"IMAG": "imag", "EXPE": "expe", "QUAL": "qual", "VAL": "val", "SAT": "sat", "LOY": "loy"}
SIZES = {"IMAG": 5, "EXPE": 5, "QUAL": 5, "VAL": 4, "SAT": 4, "LOY": 4}
PATHS = [("IMAG", "EXPE"), ("IMAG", "SAT"), ("EXPE", "PERC"), ("PERC", "SAT"), ("SAT", "LOY")]


def main(path: str) -> None:
    data = pd.read_csv(path, index_col=0).drop(columns="gender").reset_index(drop=True)
    for mode, weights in (("A", correlation_weights), ("B", regression_weights)):
        mm = constructs(*[composite(c, multi_items(BLOCKS[c], range(1, SIZES[c] + 1))) for c in BLOCKS],
                        higher_composite("PERC", ["QUAL", "VAL"], method="two_stage", weights=weights))
        sm = relationships(*[paths(s, t) for s, t in PATHS])
        model = estimate_pls(data, mm, sm, max_it=1000, stop_criterion=12)
        print(f"SEMINR_{mode} = {{")
        print('    "paths": {')
        for s, t in PATHS:
            print(f'        ("{s}", "{t}"): {model.path_coef.get(s, t):.10f},')
        print("    },")
        print('    "r2": {')
        for t in ("EXPE", "PERC", "SAT", "LOY"):
            print(f'        "{t}": {model.r_squared.get("Rsq", t):.10f},')
        print("    },")
        for table, matrix in (("weights", model.outer_weights), ("loadings", model.outer_loadings)):
            print(f'    "{table}": {{')
            for dim in ("QUAL", "VAL"):
                print(f'        "{dim}": {matrix.get(dim, "PERC"):.10f},')
            print("    },")
        print("}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference/satisfaction/satisfaction.csv")
