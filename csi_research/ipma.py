"""Importance–performance map analysis (IPMA): where improving service moves satisfaction most.

Follows the SmartPLS IPMA procedure (Ringle & Sarstedt 2016):

1. every item is rescaled linearly from its answer scale to 0–100;
2. each construct's index score per respondent is the rescaled items weighted by the PLS raw
   outer weights (converted to the rescaled items and normalised per block) — its mean is the
   construct's **performance**, the ACSI index;
3. each endogenous index score is regressed (OLS) on its predictors' index scores, giving
   unstandardised paths B; total effects are (I − B)⁻¹ − I. A construct's **importance** is its
   unstandardised total effect on the target: index points of the target gained per index
   point of the construct;
4. an item's importance is its share of the block's rescaled weights × its construct's importance,
   its performance the item's mean on 0–100.

Priorities are ranked by the **potential gain** importance × (100 − performance): how many
target index points would follow from lifting the construct (or item) to the top of the scale.
It is high exactly for high importance and low performance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from csi_research.diagnostics import public
from csi_research.errors import ModelSpecError
from csi_research.indices import (
    acsi_index_from_arrays,
    block_positions,
    membership,
    negative_weight_messages,
    raw_weight_vector,
    rescaled_weights,
)
from csi_research.model import CSIModel

QUADRANTS = {  # (high importance, high performance) -> Martilla & James (1977) quadrant
    (True, False): "concentrate here",
    (True, True): "keep up the good work",
    (False, False): "low priority",
    (False, True): "possible overkill",
}
QUADRANTS_ZH = {
    "concentrate here": "重点改进区",
    "keep up the good work": "优势保持区",
    "low priority": "次要改进区",
    "possible overkill": "过度投入区",
}


@dataclass(frozen=True)
class IPMAResult:
    """Importance (unstandardised total effect on ``target``) and performance (0–100) per construct and item.

    ``priorities`` lists the items ranked by potential gain, with their construct,
    sub-indicator and bilingual texts; ``total_effects`` holds the unstandardised total
    effects among the constructs' index scores.
    """

    target: str
    target_labels: tuple[str, str]  # (zh, en)
    constructs: pd.DataFrame
    items: pd.DataFrame
    priorities: pd.DataFrame
    total_effects: pd.DataFrame
    n: int
    diagnostics: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, pd.DataFrame]:
        """Readable tables: constructs and the top item priorities."""
        cols = ["importance", "performance", "quadrant", "potential_gain"]
        return {
            "constructs": self.constructs.set_index("construct")[["label_en", *cols]].round(3),
            "priorities": self.priorities.set_index("rank")[["item", "construct", "label_en", *cols]]
            .round(3),
        }


@public
def ipma(pls: Any, target: str | None = None) -> IPMAResult:
    """Importance–performance map of the drivers of ``target`` (default: the model's target).

    Everything comes from the fit and its sample — the same respondents, imputations and survey
    weights as the indices — so a construct's performance *is* its ACSI index. The regressions of
    step 3 are computed from the sample's (weighted) moments, which equals OLS (WLS) on the
    respondents' index scores. Item texts come from the sample's codebook when it has one.
    """
    sample = pls.sample
    model: CSIModel = sample.model
    target = target or model.require_target()
    if target not in model.constructs:
        raise ModelSpecError(f"target {target} is not a construct of the model: {', '.join(model.names)}")
    drivers = model.ancestors(target)
    if not drivers:
        raise ModelSpecError(f"no construct has a path to {target}: choose an endogenous target")
    items = model.items
    lo, hi = sample.bounds()
    raw = raw_weight_vector(pls, items)
    blocks = block_positions(model, items)
    w = rescaled_weights(raw, blocks, lo, hi)
    to_scores = (100.0 / (hi - lo) * w)[:, None] * membership(blocks, len(items))  # raw items → index scores
    score_cov = to_scores.T @ sample.cov.to_numpy() @ to_scores
    total = model.total_effects(_unstandardised_paths(model, score_cov))
    performance = acsi_index_from_arrays(raw, sample.mean.to_numpy(), blocks, lo, hi)
    item_performance = (sample.mean.to_numpy() - lo) / (hi - lo) * 100.0
    k_target = model.names.index(target)

    book = sample.codebook
    construct_rows = []
    item_rows = []
    for k, name in enumerate(model.names):
        if name not in drivers:
            continue
        importance = total[k, k_target]
        construct_rows.append({
            "construct": name,
            "label_zh": model.labels[name][0],
            "label_en": model.labels[name][1],
            "importance": importance,
            "performance": performance[k],
            "items": ", ".join(model.constructs[name]),
        })
        for i in blocks[k]:
            item_rows.append({
                "item": items[i],
                "construct": name,
                **_item_texts(book, items[i]),
                "importance": w[i] * importance,
                "performance": item_performance[i],
            })
    constructs = _classify(pd.DataFrame(construct_rows))
    item_table = _classify(pd.DataFrame(item_rows))
    priorities = item_table.sort_values("potential_gain", ascending=False, kind="stable")
    priorities = priorities.reset_index(drop=True)
    priorities.insert(0, "rank", np.arange(1, len(priorities) + 1))
    effects = pd.DataFrame(
        [(s, t, total[a, b]) for a, s in enumerate(model.names) for b, t in enumerate(model.names)
         if total[a, b] != 0.0],
        columns=["source", "target", "total"],
    )
    labels = (model.labels[target][0], model.labels[target][1])
    diagnostics = negative_weight_messages(model, items, raw)
    return IPMAResult(target, labels, constructs, item_table, priorities, effects, sample.n, diagnostics)


def _unstandardised_paths(model: CSIModel, cov: np.ndarray) -> np.ndarray:
    """B[source, target]: regression of each endogenous construct's index score on its predictors."""
    index = {n: j for j, n in enumerate(model.names)}
    b = np.zeros_like(cov)
    for target in model.endogenous:
        preds = [index[p] for p in model.predecessors(target)]
        b[preds, index[target]] = np.linalg.solve(cov[np.ix_(preds, preds)], cov[preds, index[target]])
    return b


def _item_texts(book: Any, item: str) -> dict[str, str]:
    """Item wording (the label) and its sub-indicator in both languages; the id when unknown."""
    try:
        entry = book.item(item) if book is not None else None
    except KeyError:
        entry = None
    if entry is None:
        return dict(subindicator="", label_zh=item, label_en=item, subindicator_zh="", subindicator_en="")
    sub = book.subindicators.get(entry.subindicator)
    return {
        "subindicator": entry.subindicator,
        "label_zh": entry.text_zh or (sub.label_zh if sub else item),
        "label_en": entry.text_en or (sub.label_en if sub else item),
        "subindicator_zh": sub.label_zh if sub else "",
        "subindicator_en": sub.label_en if sub else "",
    }


def _classify(table: pd.DataFrame) -> pd.DataFrame:
    """Quadrant against the mean importance and mean performance, and the potential gain."""
    high_imp = table["importance"] >= table["importance"].mean()
    high_perf = table["performance"] >= table["performance"].mean()
    table["quadrant"] = [QUADRANTS[(a, b)] for a, b in zip(high_imp, high_perf, strict=True)]
    table["potential_gain"] = table["importance"] * (100.0 - table["performance"])
    return table


def describe_priorities(result: IPMAResult, language: str = "en", top: int = 3) -> list[str]:
    """Plain sentences for a report: the leading driver construct, then the ``top`` item priorities."""
    if language not in ("en", "zh"):
        raise ValueError(f"language must be 'en' or 'zh', not {language!r}")
    zh = language == "zh"
    label = "label_zh" if zh else "label_en"
    target = result.target_labels[1 if not zh else 0]
    lines = []
    c = result.constructs.sort_values("potential_gain", ascending=False).iloc[0]
    if zh:
        lines.append(
            f"在影响{target}的因素中，{c[label]}的提升空间最大：重要性{c['importance']:.3f}，"
            f"表现{c['performance']:.1f}分，提升到100分约可使{target}提高{c['potential_gain']:.1f}分。"
        )
    else:
        lines.append(
            f"Among the drivers of {target}, {c[label]} offers the largest gain: importance "
            f"{c['importance']:.3f}, performance {c['performance']:.1f}; lifting it to 100 would raise "
            f"{target} by about {c['potential_gain']:.1f} points."
        )
    items = result.items
    m = len(items)
    imp_rank = items["importance"].rank(ascending=False, method="min").astype(int)
    perf_rank = items["performance"].rank(ascending=True, method="min").astype(int)
    for _, row in result.priorities.head(top).iterrows():
        k = items.index[items["item"] == row["item"]][0]
        name = row[label] if row[label] == row["item"] else (
            f"{row[label]}（{row['item']}）" if zh else f"{row[label]} ({row['item']})"
        )
        extreme = _extremes(imp_rank[k], perf_rank[k], zh)
        quadrant = QUADRANTS_ZH[row["quadrant"]] if zh else row["quadrant"]
        if zh:
            lines.append(
                f"第{row['rank']}优先：{name}{extreme}，重要性{row['importance']:.3f}（第{imp_rank[k]}/{m}位），"
                f"表现{row['performance']:.1f}分（由低到高第{perf_rank[k]}/{m}位），属于“{quadrant}”；"
                f"提升到100分约可使{target}提高{row['potential_gain']:.1f}分。"
            )
        else:
            lines.append(
                f"Priority {row['rank']}: {name}{extreme} — importance {row['importance']:.3f} "
                f"(rank {imp_rank[k]} of {m}), performance {row['performance']:.1f} "
                f"(rank {perf_rank[k]} of {m} from the bottom), quadrant '{quadrant}'; lifting it to 100 "
                f"would raise {target} by about {row['potential_gain']:.1f} points."
            )
    return lines


def _extremes(imp_rank: int, perf_rank: int, zh: bool) -> str:
    parts = []
    if imp_rank == 1:
        parts.append("重要性最高" if zh else "the highest importance")
    if perf_rank == 1:
        parts.append("表现最低" if zh else "the lowest performance")
    if not parts:
        return ""
    return "（" + "且".join(parts) + "）" if zh else " has " + " and ".join(parts)
