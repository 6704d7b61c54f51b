"""Execute the committed notebooks and keep only the outputs nbval compares.

Cells marked ``# NBVAL_CHECK_OUTPUT`` are the reproducibility contract (rounded indices for a
fixed seed in quick mode); every other output is dropped so the notebooks stay small and
reviewable. Run after changing a notebook or an estimator on purpose: ``make notebooks``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

MARK = "# NBVAL_CHECK_OUTPUT"


def refresh(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    resources = {"metadata": {"path": str(path.parent)}}  # run where nbval runs it: beside the notebook
    NotebookClient(nb, timeout=900, kernel_name="python3", resources=resources).execute()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if not cell.source.lstrip().startswith(MARK):
            cell.outputs = []
            cell.execution_count = None  # nbval wants a count only where it compares outputs
        cell.metadata.pop("execution", None)
    nb.metadata.pop("papermill", None)
    nbformat.write(nb, path)


if __name__ == "__main__":
    for name in sys.argv[1:] or sorted(str(p) for p in Path("notebooks").glob("*.ipynb")):
        refresh(Path(name))
        print(f"refreshed {name}")
