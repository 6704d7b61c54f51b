"""Diagnostics are data: results carry them; warnings are raised only at the public boundary.

A computation returns its problems in its result (``.diagnostics``, or ``.attrs["diagnostics"]``
on a pandas result). :func:`public` wraps it so that a user calling it directly also sees each
problem as a :class:`CSIWarning`; pipelines such as ``run_study`` call ``function.quiet`` and
collect the diagnostics from the results, so nothing is caught, re-raised or lost on the way.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from csi_research.core.errors import CSIWarning

F = TypeVar("F", bound=Callable[..., Any])


def diagnostics_of(result: Any) -> tuple[str, ...]:
    """The diagnostics a result carries (none when it carries none)."""
    attrs = getattr(result, "attrs", None)
    if isinstance(attrs, dict) and "diagnostics" in attrs:
        return tuple(attrs["diagnostics"])
    return tuple(getattr(result, "diagnostics", None) or ())


def public(function: F) -> F:
    """The public form of ``function``: its result's diagnostics are also raised as CSIWarnings."""

    @functools.wraps(function)
    def warned(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        for message in diagnostics_of(result):
            warnings.warn(message, CSIWarning, stacklevel=2)
        return result

    warned.quiet = function  # type: ignore[attr-defined]
    return warned  # type: ignore[return-value]


def collect(*results: Any, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Every diagnostic of ``results`` (and ``extra``) once, in order."""
    found = [m for r in results if r is not None for m in diagnostics_of(r)]
    return tuple(dict.fromkeys([*found, *extra]))
