"""Reference numbers of tests/test_moderation.py: two-stage moderation of the ECSI model by seminr.

Not part of the test suite and not a dependency of the project: run it by hand in a separate
environment that has the peer installed, and paste what it prints into the test.

    python3 -m venv /tmp/peer && /tmp/peer/bin/pip install seminr==0.2.1 pandas
    /tmp/peer/bin/python tests/reference_scripts/moderation_reference.py \
        ../shared/reference/satisfaction/satisfaction.csv

Model: the ECSI blocks as Mode A composites, paths IMAG → SAT, QUAL → SAT, VAL → SAT, EXPE → SAT
(the four antecedents of satisfaction as exogenous constructs) and SAT → LOY; the moderator is
IMAG on the QUAL → SAT path, the interaction ``interaction_term("QUAL", "IMAG", method=two_stage)``
(stage-1 composite scores multiplied, stage 2 re-estimated with the product as a single
indicator). ``estimate_pls(max_it=1000, stop_criterion=12)`` so both stages converge far past the
compared digits. Printed: the stage-2 paths into SAT and SAT's R², for Mode A composites (plain PLS)
and for reflective constructs (PLSc in both stages; seminr then reports the interaction's path
on the standardised product).
"""

from __future__ import annotations

import sys

import pandas as pd
from seminr import (
    composite,
    constructs,
    estimate_pls,
    interaction_term,
    multi_items,
    paths,
    reflective,
    relationships,
    two_stage,
)

BLOCKS = {"IMAG": "imag", "EXPE": "expe", "QUAL": "qual", "VAL": "val", "SAT": "sat", "LOY": "loy"}
SIZES = {"IMAG": 5, "EXPE": 5, "QUAL": 5, "VAL": 4, "SAT": 4, "LOY": 4}


def main(path: str) -> None:
    data = pd.read_csv(path, index_col=0).drop(columns="gender").reset_index(drop=True)
    # composite(): plain PLS; reflective(): PLSc, which seminr applies to both stages
    for prefix, block in (("SAT", composite), ("PLSC_SAT", reflective)):
        mm = constructs(*[block(c, multi_items(BLOCKS[c], range(1, SIZES[c] + 1))) for c in BLOCKS],
                        interaction_term("QUAL", "IMAG", method=two_stage))
        sm = relationships(paths(["IMAG", "EXPE", "QUAL", "VAL", "QUAL*IMAG"], "SAT"), paths("SAT", "LOY"))
        model = estimate_pls(data, mm, sm, max_it=1000, stop_criterion=12)
        coef = model.path_coef
        print(f"{prefix}_PATHS = {{")
        for source in ("IMAG", "EXPE", "QUAL", "VAL", "QUAL*IMAG"):
            print(f'    "{source}": {coef.get(source, "SAT"):.10f},')
        print("}")
        print(f"{prefix}_R2 = {model.r_squared.get('Rsq', 'SAT'):.10f}")

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference/satisfaction/satisfaction.csv")
