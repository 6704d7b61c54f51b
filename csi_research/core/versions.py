"""The versions of what a study's numbers depend on, recorded in every bundle (``results.json``).

"Same inputs, same bytes" holds for one set of resolved versions (``requirements.lock``); a
bundle says which set made it, so a number that moved between two runs can be traced to a
package that changed rather than guessed at.
"""

from __future__ import annotations

import functools
import platform
from importlib.metadata import PackageNotFoundError, version

# Distributions whose releases can move a number, a table or a figure of a study: the numerical
# stack, the estimators, the readers of survey files and what draws and typesets the figures.
NUMERIC = (
    "numpy", "scipy", "pandas", "semopy", "scikit-learn",
    "pyarrow", "openpyxl", "pyreadstat", "PyYAML",
    "matplotlib", "seaborn", "noto-cjk-sans-otc", "python-docx",
)


def package_versions(names: tuple[str, ...] = NUMERIC) -> dict[str, str]:
    """``{"python": "3.11.7", "numpy": "2.4.6", ..., "blas": "scipy-openblas 0.3.31"}``.

    A distribution that is not installed is recorded as ``"not installed"`` (an optional reader,
    say), never left out, so two bundles' records always have the same keys. ``blas`` is the
    linear-algebra library numpy was built with, when numpy reports it.
    """
    return dict(_versions(names))  # a copy: the caller may change it


@functools.cache
def _versions(names: tuple[str, ...]) -> dict[str, str]:
    """Looked up once per process (reading every distribution's metadata takes a few ms per bundle)."""
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    blas = _numpy_blas()
    if blas:
        found["blas"] = blas
    return found


def _numpy_blas() -> str | None:
    """numpy's BLAS as ``"<name> <version>"`` from its build configuration (numpy >= 2), else None."""
    try:
        import numpy as np

        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{info['name']} {info['version']}".strip()
    except Exception:  # an older numpy or another build layout: the numpy version still says much
        return None
