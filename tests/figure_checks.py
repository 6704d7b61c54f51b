"""A check every figure of a report must pass now that PNGs are not cropped to a tight box."""

from __future__ import annotations

from typing import Any


def assert_fits(fig: Any) -> None:
    """Everything drawn lies inside the figure: its layout fits, nothing is cut off at the edges."""
    fig.draw_without_rendering()  # the layout, as saving runs it (a bare Figure's canvas does not)
    drawn = fig.get_tightbbox()  # in inches: what a tight crop would keep
    assert drawn.x0 >= -0.01 and drawn.y0 >= -0.01, drawn
    assert drawn.x1 <= fig.bbox_inches.x1 + 0.01 and drawn.y1 <= fig.bbox_inches.y1 + 0.01, drawn
