"""The survey programme's headline figures, on the index's respondents and weights.

Besides the ACSI-type index, grid companies publish a handful of plain figures. Each one here is a
ratio of survey-weighted sums over the fit's prepared :class:`~csi_research.data.sample.Sample`
(the same respondents and weights as the index), so the index bootstrap can redraw it on its own
resamples (:func:`csi_research.stats.bootstrap.bootstrap`, ``extra=``) and give it the same
percentile and BCa intervals:

``satisfaction_rate`` (%)
    weighted share of the respondents who answered the overall-satisfaction item with one of its
    top grades: the top 2 of a scale of up to 7 points, the top 3 of a longer (10- or 11-point)
    scale; reverse-keyed items count as recoded by the codebook (higher = better), as in the index.
``recommendation_index`` (−100..100)
    % promoters − % detractors on the recommendation item: on a 5-point scale the top grade
    promotes and the bottom three detract; on 0–10 or 1–10 answers 9–10 promote, ≤ 6 detract.
``complaints_per_10k``, ``repeat_complainants_per_10k``
    complaints in the service records' reference period, and respondents with at least two of
    them, per 10,000 respondents (weighted). The records cover the surveyed customers only, so the
    denominator is the respondents, not the company's customer base.

A respondent who left an item unanswered (or said "don't know") is left out of that item's
figure: numerator and denominator alike, in every resample. The figures use the answers as given,
never the index's imputations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.diagnostics import public
from csi_research.core.errors import ModelSpecError

FIGURES = ("satisfaction_rate", "recommendation_index", "complaints_per_10k", "repeat_complainants_per_10k")
UNITS = {"satisfaction_rate": "%", "recommendation_index": "points", "complaints_per_10k": "per 10,000",
         "repeat_complainants_per_10k": "per 10,000"}
PER = 10_000.0  # complaints are counted per 10,000 respondents
REPEAT = 2  # complaints that make a repeat complainant
RECORDS = "service_records"  # the "item" of the complaint figures
KEYS = {"satisfaction_rate": "satisfaction_item", "recommendation_index": "recommendation_item"}
SHORT_SCALE = 7  # scales of up to this many points count their top 2 grades, longer ones their top 3

HEADLINE_COLUMNS = ["figure", "item", "counted", "value", "ci_lower", "ci_upper", "level", "se", "n", "unit"]


# ---------------------------------------------------------------------------- one figure
@dataclass(frozen=True, eq=False)
class Ratio:
    """Σ a_i·num_i / Σ a_i·den_i for respondent weights a (survey weight × times drawn).

    A weighted share has ``den`` the answered indicator and ``num`` the counted answers; a rate per
    respondent has ``den`` all ones. Called on (B, n) resample weights it gives (B,) values.
    """

    numerator: np.ndarray  # (n,)
    denominator: np.ndarray  # (n,)

    def __call__(self, a: np.ndarray) -> np.ndarray:
        a = np.atleast_2d(np.asarray(a, dtype=float))
        with np.errstate(divide="ignore", invalid="ignore"):
            return (a @ self.numerator) / (a @ self.denominator)

    def value(self, weights: np.ndarray) -> float:
        return float(self(weights[None])[0])

    def jackknife(self, weights: np.ndarray) -> np.ndarray:
        """Leave-one-out values (n,) in closed form: both sums less respondent i's terms."""
        w = np.asarray(weights, dtype=float)
        top, bottom = w @ self.numerator, w @ self.denominator
        with np.errstate(divide="ignore", invalid="ignore"):
            return (top - w * self.numerator) / (bottom - w * self.denominator)


# ---------------------------------------------------------------------------- grade rules
def top_codes(codes: Sequence[int], top_grades: int | None = None) -> tuple[int, ...]:
    """The codes a satisfaction rate counts: the top 2 of up to 7 points, else the top 3."""
    k = top_grades if top_grades is not None else (2 if len(codes) <= SHORT_SCALE else 3)
    if not 1 <= k < len(codes):
        raise ModelSpecError(f"top_grades {k} must be at least 1 and below the scale's {len(codes)} grades")
    return tuple(codes[-k:])


def recommendation_codes(codes: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """(promoters, detractors) codes of a scale, or None when there is no rule for it.

    5 points: the top grade promotes, the bottom three detract; 0–10 or 1–10: 9–10 promote, ≤ 6 detract.
    """
    codes = tuple(int(c) for c in codes)
    if len(codes) == 5:
        return codes[-1:], codes[:3]
    if codes in (tuple(range(0, 11)), tuple(range(1, 11))):
        return (9, 10), tuple(c for c in codes if c <= 6)
    return None


def _span(codes: Sequence[int]) -> str:
    codes = list(codes)
    return str(codes[0]) if len(codes) == 1 else f"{codes[0]}–{codes[-1]}"


# ---------------------------------------------------------------------------- the figures of a fit
@dataclass(frozen=True)
class HeadlineFigures:
    """The figures of one sample: each a :class:`Ratio`, its item, counting rule and respondents."""

    ratios: Mapping[str, Ratio]
    items: Mapping[str, str]  # figure -> item id (RECORDS for the complaint figures)
    rules: Mapping[str, str]  # figure -> the codes counted, e.g. "4–5" or "5 vs 1–3"
    n: Mapping[str, int]  # figure -> respondents in its denominator
    weights: np.ndarray = field(repr=False)
    diagnostics: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [f for f in FIGURES if f in self.ratios]

    def values(self) -> dict[str, float]:
        return {f: self.ratios[f].value(self.weights) for f in self.names}

    def extra(self) -> dict[str, Ratio]:
        """The figures as the bootstrap's ``extra=`` hook."""
        return {f: self.ratios[f] for f in self.names}

    def table(self, boot: Any) -> pd.DataFrame:
        """One row per figure: value and the bootstrap's percentile interval, level, SE, n, unit."""
        est = boot.estimates.set_index("statistic")
        rows = []
        for f in self.names:
            if f not in est.index:
                raise ModelSpecError(f"the bootstrap has no draws of {f}: run it with extra=figures.extra()")
            row = est.loc[f]
            rows.append([f, self.items[f], self.rules[f], float(row["estimate"]), float(row["ci_lower"]),
                         float(row["ci_upper"]), float(boot.ci), float(row["se"]), int(self.n[f]), UNITS[f]])
        out = pd.DataFrame(rows, columns=HEADLINE_COLUMNS)
        out.attrs["kinds"] = dict.fromkeys(("value", "ci_lower", "ci_upper", "se"), "index")  # one decimal
        return out


def default_items(codebook: Any, target_items: Sequence[str]) -> tuple[str | None, str | None]:
    """The overall-satisfaction item among ``target_items`` (the model's items of its target;
    text "overall"/"总体") and the recommendation item (text "recommend"/"推荐"), as the codebook
    words them; None when there is none. The model, not the codebook, says which items measure the
    target: a model may rename or regroup the codebook's constructs."""
    if codebook is None:
        return None, None
    overall = [i.id for i in codebook.items if i.id in set(target_items)
               and ("overall" in i.text_en.lower() or "总体" in i.text_zh)]
    recommend = [i.id for i in codebook.items if "recommend" in i.text_en.lower() or "推荐" in i.text_zh]
    return (overall[0] if overall else None), (recommend[0] if recommend else None)


@public
def headline_figures(
    fit: Any,
    *,
    satisfaction_item: str | None = None,
    recommendation_item: str | None = None,
    top_grades: int | None = None,
    complaints: np.ndarray | pd.Series | None = None,
) -> HeadlineFigures:
    """The headline figures of a fit's sample (see the module documentation).

    Items default to the target construct's overall-satisfaction item and the item whose text says
    recommend (:func:`default_items`); an item given that the data or codebook lack is an error, a
    default that is not found leaves its figure out with a diagnostic. ``complaints`` is the
    number of complaints of each respondent of the sample, in its order (from the service records);
    without it the complaint figures are left out.
    """
    sample = getattr(fit, "sample", fit)
    frame, w, book = sample.frame, np.asarray(sample.weights, dtype=float), sample.codebook
    target = sample.model.target
    found = default_items(book, sample.model.constructs[target])
    notes: list[str] = []
    ratios: dict[str, Ratio] = {}
    items: dict[str, str] = {}
    rules: dict[str, str] = {}
    n: dict[str, int] = {}
    chosen = {"satisfaction_rate": satisfaction_item, "recommendation_index": recommendation_item}
    for figure, default in zip(chosen, found, strict=True):
        item = chosen[figure] or default
        if item is None:
            key = KEYS[figure]
            notes.append(f"headline figures: the codebook has no default {key} (found by its text); name it "
                         f"in study.yaml (headline: {{{key}: ...}}) to report the figure")
            continue
        if chosen[figure] is None and item not in frame.columns:
            notes.append(f"headline figures: the default {KEYS[figure]} {item} is not a column of the "
                         "survey; the figure is left out")
            continue
        answers, codes = _answers(frame, book, item, figure)
        answered = np.isfinite(answers).astype(float)
        if figure == "satisfaction_rate":
            top = top_codes(codes, top_grades)
            counted = 100.0 * np.isin(answers, top)
            rules[figure] = _span(top)
        else:
            rule = recommendation_codes(codes)
            if rule is None:
                if recommendation_item is not None:
                    raise ModelSpecError(f"headline: recommendation_item {item} has a {_span(codes)} scale; "
                                         "the recommendation index needs a 5-point, 0–10 or 1–10 scale")
                notes.append(f"headline figures: item {item} has a {_span(codes)} scale, for which there is "
                             "no recommendation rule (5-point, 0–10 or 1–10); the recommendation index is "
                             "left out")
                continue
            promoters, detractors = rule
            counted = 100.0 * (np.isin(answers, promoters).astype(float) - np.isin(answers, detractors))
            rules[figure] = f"{_span(promoters)} vs {_span(detractors)}"
        if not (answered * w).sum() > 0:
            raise ModelSpecError(f"headline: item {item} has no answer among the respondents: "
                                 f"choose another {figure} item")
        ratios[figure] = Ratio(counted * answered, answered)
        items[figure], n[figure] = item, int(answered.sum())
    if complaints is not None:
        count = np.asarray(complaints, dtype=float)
        if count.shape != (len(frame),) or not np.all(np.isfinite(count)) or np.any(count < 0):
            raise ModelSpecError(f"complaints must be one non-negative count per respondent of the sample "
                                 f"({len(frame)}), not an array of shape {count.shape}")
        everyone = np.ones(len(frame))
        ratios["complaints_per_10k"] = Ratio(PER * count, everyone)
        ratios["repeat_complainants_per_10k"] = Ratio(PER * (count >= REPEAT), everyone)
        for figure, rule in (("complaints_per_10k", "≥1"), ("repeat_complainants_per_10k", f"≥{REPEAT}")):
            items[figure], rules[figure], n[figure] = RECORDS, rule, len(frame)
    return HeadlineFigures(ratios, items, rules, n, w, notes)


def _answers(frame: pd.DataFrame, book: Any, item: str, figure: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """The item's answers as given (NaN: not answered) and its scale's codes."""
    if item not in frame.columns:
        raise ModelSpecError(f"headline: {figure} item {item!r} is not a column of the survey; "
                             "name an item of the codebook")
    if book is None:
        raise ModelSpecError(f"headline: the {figure} needs the item's answer scale: prepare the sample "
                             "from a Survey (its codebook has the scales)")
    try:
        codes = tuple(int(c) for c in book.scale_of(item).codes)
    except KeyError:
        raise ModelSpecError(f"headline: {figure} item {item!r} is not in the codebook") from None
    return pd.to_numeric(frame[item], errors="coerce").to_numpy(dtype=float), codes


def band_table(rows: Mapping[str, tuple[float, float, float]], grade: Any, scale: Any) -> pd.DataFrame:
    """The grade band of each figure's value and of both interval ends (never blank).

    ``rows`` maps a figure to (value, ci_lower, ci_upper) on 0–100; ``grade`` is the band rule
    (score, grade_scores) → 0-based grade (:func:`csi_research.evaluation.fuzzy.score_grade`), so
    the index and the rate are banded as the industry evaluation bands a score.
    """
    out = []
    for figure, (value, lower, upper) in rows.items():
        g = [int(x) for x in grade(np.array([value, lower, upper]), scale.grade_scores)]
        out.append([figure, value, lower, upper, int(scale.codes[g[0]]), *_labels(scale, g)])
    table = pd.DataFrame(out, columns=["figure", "value", "ci_lower", "ci_upper", "band_code", "band_zh",
                                       "band_en", "lower_band_zh", "lower_band_en", "upper_band_zh",
                                       "upper_band_en"])
    table.attrs["kinds"] = dict.fromkeys(("value", "ci_lower", "ci_upper"), "index")
    return table


def _labels(scale: Any, grades: Sequence[int]) -> list[str]:
    return [label for g in grades for label in (scale.labels_zh[g], scale.labels_en[g])]
