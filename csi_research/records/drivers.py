"""What is critical to satisfaction (CTS): which service events go with dissatisfaction, and the
"vital few" that account for 80% of it (Pareto), for all customers and for high-value customers.

Two views, both per segment ("all", "high_value"):

* **ranking**: a logistic regression of *dissatisfied* (satisfaction index below ``threshold``) on the
  standardised event features, with seeded permutation importance (drop in log-likelihood when a
  feature is shuffled). The coefficient is the change in log-odds of dissatisfaction per standard
  deviation of the feature; features are ranked by importance. The regression adjusts each event for
  the others (a complaint often follows an outage).
* **pareto**: per event type, the dissatisfied customers it accounts for. With ``basis="excess"``
  (default) the contribution is the number of customers who had the event times the excess rate of
  dissatisfaction among them over those who did not (the dissatisfied customers beyond what the
  unaffected rate predicts; negative excess counts as 0); with ``basis="count"`` it is the number of
  dissatisfied customers who had the event. Types are sorted by contribution with their share and
  cumulative share; the *vital few* are the leading types up to the one at which the cumulative
  share first reaches ``share`` (80%).

High-value customers: the top 20% by consumption when the survey has a consumption column
(:data:`~csi_research.records.customers.CONSUMPTION_COLUMNS`), else customer classes
:data:`~csi_research.records.customers.HIGH_VALUE_CLASSES` (commercial and
industrial customers in the built-in codebook). The definition used is stated in the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from csi_research.core import fonts, options
from csi_research.core.diagnostics import public
from csi_research.core.errors import ModelSpecError
from csi_research.records.customers import high_value_customers, satisfaction_scores
from csi_research.records.features import CustomerFeatures
from csi_research.records.format import EVENT_TYPES

DEFAULT_THRESHOLD = 80.0  # practice reads an index of 80 as "satisfied"; below it a customer is not
PARETO_SHARE = 0.8
MIN_DISSATISFIED = 5  # a segment with fewer dissatisfied (or satisfied) customers is not modelled
BASES = ("excess", "count")


@dataclass(frozen=True)
class DriverAnalysis:
    """Result of :func:`driver_analysis`: ``ranking`` and ``pareto`` (tidy, one block per segment),
    ``segments`` (segment, customers, dissatisfied, share_dissatisfied), ``definitions`` (what
    dissatisfied and high-value mean here, the features used, the Pareto basis) and diagnostics."""

    ranking: pd.DataFrame
    pareto: pd.DataFrame
    segments: pd.DataFrame
    definitions: dict[str, str]
    diagnostics: list[str] = field(default_factory=list)

    def top(self, k: int, segment: str = "all") -> list[str]:
        """The ``k`` highest-ranked features of a segment."""
        part = self.ranking[self.ranking["segment"] == segment].sort_values("rank")
        return list(part["feature"].head(k))

    def vital_few(self, segment: str = "all") -> list[str]:
        part = self.pareto[(self.pareto["segment"] == segment) & self.pareto["vital_few"]]
        return list(part.sort_values("rank")["event_type"])


@public
def driver_analysis(
    features: CustomerFeatures,
    survey: Any,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    use: list[str] | None = None,
    high_value: Any = "default",
    basis: str = "excess",
    share: float = PARETO_SHARE,
    n_repeats: int = 20,
    seed: int | np.random.Generator = 0,
) -> DriverAnalysis:
    """Rank event features by their effect on dissatisfaction and build the CTS Pareto table.

    ``features`` must come from :func:`customer_features` on the same ``survey`` (rows in survey
    order). ``use`` lists the features of the model (default: the count of each event type that
    occurs). ``threshold``: a respondent is dissatisfied when the satisfaction index (0–100) is below
    it; respondents without a satisfaction answer are left out. ``high_value``: see
    :func:`high_value_customers`, or None for the overall analysis only.
    """
    options.choice(basis, BASES, "basis")
    if not 0 < share <= 1:
        raise ModelSpecError(f"share must be in (0, 1], e.g. 0.8 for the 80/20 rule, not {share!r}")
    frame = features.frame
    if len(frame) != len(getattr(survey, "frame", survey)):
        raise ModelSpecError(
            "features and survey have different numbers of respondents; build the features "
            "with customer_features(records, survey) on this survey"
        )
    rng = np.random.default_rng(seed)
    counts = [f"{t}_count" for t in EVENT_TYPES if f"{t}_count" in frame.columns]
    if use is None:
        use = [c for c in counts if frame[c].to_numpy().any()]
    unknown = [u for u in use if u not in frame.columns]
    if unknown:
        raise ModelSpecError(
            f"feature(s) {', '.join(unknown)} are not in the features; use some of "
            f"{', '.join(features.features)}"
        )
    score = satisfaction_scores(survey).to_numpy()
    answered = ~np.isnan(score)
    dissatisfied = score < threshold
    segments = {"all": np.ones(len(frame), dtype=bool)}
    definitions = {
        "dissatisfied": "satisfaction index (mean grade score of the Satisfaction items, 0-100) "
        f"below {threshold:g}",
        "features": ", ".join(use),
        "pareto_basis": basis,
        "pareto_share": f"{share:.0%}",
    }
    if high_value is not None:
        mask, text = high_value_customers(survey, high_value)
        segments["high_value"] = mask
        definitions["high_value"] = text
    catalog = features.catalog.set_index("feature")
    ranking, pareto, sizes, notes = [], [], [], []
    for segment, mask in segments.items():
        keep = mask & answered
        y = dissatisfied[keep]
        x = frame.loc[keep, use].to_numpy(dtype=float)
        sizes.append(
            {
                "segment": segment,
                "customers": int(keep.sum()),
                "dissatisfied": int(y.sum()),
                "share_dissatisfied": float(y.mean()) if keep.any() else np.nan,
            }
        )
        exposed = frame.loc[keep, counts].to_numpy(dtype=float) > 0
        pareto.append(_pareto(segment, exposed, counts, y, basis, share))
        if min(y.sum(), (~y).sum()) < MIN_DISSATISFIED:
            notes.append(
                f"segment {segment}: {int(y.sum())} dissatisfied and {int((~y).sum())} other customers; "
                f"at least {MIN_DISSATISFIED} of each are needed to rank drivers, so none are ranked"
            )
            continue
        ranking.append(_rank(segment, x, y, use, catalog, n_repeats, rng))
    columns = [
        "segment",
        "rank",
        "feature",
        "event_type",
        "label_zh",
        "label_en",
        "coefficient",
        "odds_ratio_per_sd",
        "importance_mean",
        "importance_sd",
        "direction",
    ]
    table = pd.concat(ranking, ignore_index=True) if ranking else pd.DataFrame(columns=columns)
    return DriverAnalysis(
        table[columns], pd.concat(pareto, ignore_index=True), pd.DataFrame(sizes), definitions, notes
    )


def _rank(
    segment: str,
    x: np.ndarray,
    y: np.ndarray,
    use: list[str],
    catalog: pd.DataFrame,
    n_repeats: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    model.fit(x, y)
    coef = model[-1].coef_[0]
    state = int(rng.integers(2**31 - 1))
    result = permutation_importance(
        model, x, y, scoring="neg_log_loss", n_repeats=n_repeats, random_state=state
    )
    out = pd.DataFrame(
        {
            "segment": segment,
            "feature": use,
            "event_type": [catalog.at[u, "event_type"] if u in catalog.index else "" for u in use],
            "label_zh": [catalog.at[u, "label_zh"] if u in catalog.index else u for u in use],
            "label_en": [catalog.at[u, "label_en"] if u in catalog.index else u for u in use],
            "coefficient": coef,
            "odds_ratio_per_sd": np.exp(coef),
            "importance_mean": result.importances_mean,
            "importance_sd": result.importances_std,
            "direction": np.where(coef > 0, "raises", "lowers"),
        }
    )
    out = out.sort_values(["importance_mean", "coefficient"], ascending=False, kind="stable")
    out.insert(1, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)


def _pareto(
    segment: str, exposed: np.ndarray, counts: list[str], y: np.ndarray, basis: str, share: float
) -> pd.DataFrame:
    n_exposed = exposed.sum(axis=0)
    hit = (exposed & y[:, None]).sum(axis=0)
    n_other = len(y) - n_exposed
    with np.errstate(all="ignore"):
        rate_exposed = np.where(n_exposed > 0, hit / n_exposed, np.nan)
        rate_other = np.where(n_other > 0, (y.sum() - hit) / n_other, np.nan)
    excess = rate_exposed - rate_other
    if basis == "excess":
        contribution = np.nan_to_num(np.clip(excess, 0, None) * n_exposed)
    else:
        contribution = hit.astype(float)
    types = [c.removesuffix("_count") for c in counts]
    out = pd.DataFrame(
        {
            "segment": segment,
            "event_type": types,
            "label_zh": [EVENT_TYPES[t][0] for t in types],
            "label_en": [EVENT_TYPES[t][1] for t in types],
            "customers_affected": n_exposed.astype(int),
            "dissatisfied_affected": hit.astype(int),
            "dissatisfied_rate_affected": rate_exposed,
            "dissatisfied_rate_unaffected": rate_other,
            "excess_rate": excess,
            "contribution": contribution,
        }
    )
    out = out.sort_values(["contribution", "dissatisfied_affected"], ascending=False, kind="stable")
    total = out["contribution"].sum()
    out["share"] = out["contribution"] / total if total > 0 else np.nan
    out["cumulative_share"] = out["share"].cumsum()
    reached = (out["cumulative_share"] >= share - 1e-12).to_numpy()
    upto = int(np.argmax(reached)) if reached.any() else -1
    positive = (out["contribution"] > 0).to_numpy()
    out["vital_few"] = (np.arange(len(out)) <= upto) & positive
    out.insert(1, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)


def pareto_chart_data(
    analysis: DriverAnalysis | pd.DataFrame, segment: str = "all", language: str = "en"
) -> pd.DataFrame:
    """Bars and cumulative line of a Pareto chart: label, contribution, share, cumulative_share, vital_few.

    Only event types with a positive contribution are drawn (the others account for nothing).
    """
    language = options.language(language)
    table = analysis.pareto if isinstance(analysis, DriverAnalysis) else analysis
    part = table[(table["segment"] == segment) & (table["contribution"] > 0)].sort_values("rank")
    return pd.DataFrame(
        {
            "event_type": part["event_type"].to_numpy(),
            "label": part["label_zh" if language == "zh" else "label_en"].to_numpy(),
            "contribution": part["contribution"].to_numpy(),
            "share": part["share"].to_numpy(),
            "cumulative_share": part["cumulative_share"].to_numpy(),
            "vital_few": part["vital_few"].to_numpy(),
        }
    )


def plot_pareto(
    analysis: DriverAnalysis | pd.DataFrame,
    segment: str = "all",
    language: str = "zh",
    ax: Any = None,
    share: float = PARETO_SHARE,
) -> Any:
    """A Pareto chart (bars: contribution; line: cumulative share; vital few in a darker colour)."""
    from matplotlib.figure import Figure


    data = pareto_chart_data(analysis, segment, language)
    zh = options.language(language) == "zh"
    if ax is None:
        fig = Figure(figsize=(7, 4), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    colours = np.where(data["vital_few"], "#c0392b", "#95a5a6")
    positions = np.arange(len(data))
    ax.bar(positions, data["contribution"], color=colours)
    ax.set_xticks(positions, data["label"], rotation=30, ha="right")
    ax.set_ylabel("不满意客户贡献（人）" if zh else "Dissatisfied customers accounted for")
    line = ax.twinx()
    line.plot(positions, 100 * data["cumulative_share"], color="#2c3e50", marker="o")
    line.axhline(100 * share, color="#2c3e50", linestyle=":", linewidth=1)
    line.set_ylim(0, 105)
    line.set_ylabel("累计占比（%）" if zh else "Cumulative share (%)")
    names = {"all": ("全部客户", "All customers"), "high_value": ("高价值客户", "High-value customers")}
    title = names.get(segment, (segment, segment))
    ax.set_title(
        f"关键满意因素帕累托图：{title[0]}" if zh else f"Critical-to-satisfaction Pareto chart: {title[1]}"
    )
    fonts.apply(ax, line)
    return fig
