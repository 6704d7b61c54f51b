"""Importance–performance map analysis (IPMA): which service aspects to improve first (薄弱环节).

Two levels, both from the fit and its sample (same respondents, imputations and survey weights as
the indices):

**Constructs (context).** Following SmartPLS's IPMA (Ringle & Sarstedt 2016): each construct's
index score per respondent is its items rescaled linearly to 0–100 and weighted by the PLS raw
outer weights normalised per block; its mean is the construct's **performance** (the ACSI index).
Each endogenous index score is regressed on its predictors' index scores (from the weighted
moments, which equals WLS on the respondents' scores), giving unstandardised paths B; the total
effects are (I − B)⁻¹ − I, and a construct's **importance** is its total effect on the target:
target index points per index point of the construct.

**Service aspects (the priorities).** Only *actionable* items are ranked — those of sub-indicators
a company can change (``actionable: true`` in the codebook: supply quality, channels, service
items, staff, price and fees, complaint handling). Image and Expectation items are context, shown
with their performance but never proposed as actions; the target's own items and outcomes are not
ranked either. For every item

* **performance** = the item's (weighted) mean rescaled linearly from its answer scale to 0–100;
* **importance** = the (weighted) correlation between the item and the target construct's PLS
  score (equivalently its 0–100 index score), from the sample's moments ``sample.cov`` and the
  target block's raw outer weights: how strongly customers' answers on the aspect move with their
  satisfaction;
* **potential gain** = importance × (100 − performance), the ranking key: the gap to the top of
  the scale weighted by how closely the aspect moves with the target. It is a priority score,
  not a forecast of index points.

Why not the SmartPLS item importance (the item's share of its block's rescaled outer weights ×
the construct's total effect)? The shares of a block sum to one, so an aspect's importance
shrinks with the number of items in its block: each of ten Quality items gets a tenth of
Quality's effect while each of five Image items gets a fifth of Image's, and a weak link in a
large block cannot rank (see ``docs/weak-links.md``). A correlation does not depend on how many
other items the block has. It also lets aspects outside the target's causal ancestry rank:
complaint handling sits downstream of Satisfaction in the standard model (total effect 0) but
still moves with it. The price is that importance is association, not causation — a high
correlation says customers who rate the aspect low are less satisfied, not that fixing it will
raise satisfaction by a known amount. ``docs/weak-links.md`` reports the validation on planted
weak links.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.diagnostics import public
from csi_research.core.errors import ModelSpecError
from csi_research.data.codebook import FALLBACK_ACTIONABLE_CONSTRUCTS
from csi_research.model import CSIModel
from csi_research.stats.indices import (
    acsi_index_from_arrays,
    block_positions,
    membership,
    negative_weight_messages,
    raw_weight_vector,
    rescaled_weights,
)

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
PRIORITY_COLUMNS = [
    "rank", "item", "construct", "subindicator", "subindicator_zh", "subindicator_en", "label_zh", "label_en",
    "importance", "performance", "potential_gain", "quadrant", "measures_zh", "measures_en", "kpis",
]
CONTEXT_COLUMNS = ["item", "construct", "label_zh", "label_en", "performance", "importance"]
ITEM_COLUMNS = [
    "item", "construct", "subindicator", "subindicator_zh", "subindicator_en", "label_zh", "label_en",
    "actionable", "importance", "performance", "potential_gain", "quadrant",
]


@dataclass(frozen=True)
class IPMAResult:
    """Importance and performance (0–100) of the drivers of ``target``.

    ``priorities``: the actionable items ranked by potential gain, with sub-indicator, bilingual
    texts, quadrant (among the actionable items), improvement measures and tracking KPIs.
    ``context``: the non-actionable driver items (Image, Expectation, …) with their performance.
    ``items``: every driver item, ``actionable`` saying which table it is in. ``constructs``: the
    construct-level IPMA (importance = unstandardised total effect on the target);
    ``total_effects`` the total effects among the constructs' index scores.
    """

    target: str
    target_labels: tuple[str, str]  # (zh, en)
    constructs: pd.DataFrame
    items: pd.DataFrame
    priorities: pd.DataFrame
    context: pd.DataFrame
    total_effects: pd.DataFrame
    n: int
    diagnostics: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, pd.DataFrame]:
        """Readable tables: constructs (context), the ranked priorities and the context items."""
        cols = ["importance", "performance", "quadrant", "potential_gain"]
        return {
            "constructs": self.constructs.set_index("construct")[["label_en", *cols]].round(3),
            "priorities": self.priorities.set_index("rank")[["item", "subindicator_en", "label_en", *cols]]
            .round(3),
            "context": self.context.set_index("item")[["construct", "label_en", "performance", "importance"]]
            .round(3),
        }


@public
def ipma(pls: Any, target: str | None = None) -> IPMAResult:
    """Importance–performance map of the drivers of ``target`` (default: the model's target).

    Constructs get the model-based IPMA (total effects); items of actionable sub-indicators are
    ranked by potential gain = correlation with the target's score × (100 − performance); see the
    module documentation. Item texts, sub-indicators, actionability and measures come from the
    sample's codebook; without one (or for items it lacks) the constructs named in
    ``FALLBACK_ACTIONABLE_CONSTRUCTS`` are assumed actionable, and a diagnostic says so.
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
    cov = sample.cov.to_numpy()
    total = model.total_effects(_unstandardised_paths(model, to_scores.T @ cov @ to_scores))
    performance = acsi_index_from_arrays(raw, sample.mean.to_numpy(), blocks, lo, hi)
    item_performance = (sample.mean.to_numpy() - lo) / (hi - lo) * 100.0
    k_target = model.names.index(target)
    importance = _correlation_with_score(cov, raw, blocks[k_target])

    book = sample.codebook
    construct_rows = []
    for k, name in enumerate(model.names):
        if name in drivers:
            construct_rows.append({
                "construct": name,
                "label_zh": model.labels[name][0],
                "label_en": model.labels[name][1],
                "importance": total[k, k_target],
                "performance": performance[k],
                "items": ", ".join(model.constructs[name]),
            })
    actionable, notes = _actionability(model, book, target, drivers)
    item_rows = []
    for k, name in enumerate(model.names):
        for i in blocks[k]:
            item = items[i]
            if item not in actionable:  # the target's own block and non-driver outcomes
                continue
            item_rows.append({
                "item": item,
                "construct": name,
                **_item_texts(book, item),
                "actionable": actionable[item],
                "importance": float(importance[i]),
                "performance": float(item_performance[i]),
            })
    constructs = _classify(pd.DataFrame(construct_rows))
    item_table = pd.DataFrame(item_rows, columns=ITEM_COLUMNS[:-2])
    item_table["potential_gain"] = item_table["importance"] * (100.0 - item_table["performance"])
    item_table["quadrant"] = ""
    acting = item_table["actionable"].to_numpy(dtype=bool)
    if acting.any():
        item_table.loc[acting, "quadrant"] = _quadrants(item_table[acting])
    priorities = _priorities(item_table[acting], book)
    context = item_table.loc[~acting, CONTEXT_COLUMNS].reset_index(drop=True)
    effects = pd.DataFrame(
        [(s, t, total[a, b]) for a, s in enumerate(model.names) for b, t in enumerate(model.names)
         if total[a, b] != 0.0],
        columns=["source", "target", "total"],
    )
    labels = (model.labels[target][0], model.labels[target][1])
    diagnostics = negative_weight_messages(model, items, raw) + notes
    if priorities.empty:
        diagnostics.append(
            f"no actionable item outside {target} to rank: mark the sub-indicators a company can change "
            "with 'actionable: true' in the codebook"
        )
    negative = item_table.loc[item_table["importance"] < 0, "item"].tolist()
    if negative:
        diagnostics.append(
            f"item(s) {', '.join(negative)} correlate negatively with {target}: their importance is below 0 "
            "and they rank last; check for a reverse-coded item that was not recoded"
        )
    return IPMAResult(target, labels, constructs, item_table, priorities, context, effects, sample.n,
                      diagnostics)


def _correlation_with_score(cov: np.ndarray, raw: np.ndarray, target_block: np.ndarray) -> np.ndarray:
    """Correlation of every item with the target's score ``Σ raw_j x_j`` (j in its block).

    cov(x_i, score) = (C w)_i and var(score) = wᵀ C w for the weighted item covariance C, so the
    correlation uses the same respondents, imputations and weights as everything else; it is the
    same for the 0–100 index score, a positive linear transform of the PLS score.
    """
    w = np.zeros(len(raw))
    w[target_block] = raw[target_block]
    c = cov @ w
    return c / np.sqrt(np.diag(cov) * float(w @ c))


def _actionability(
    model: CSIModel, book: Any, target: str, drivers: list[str]
) -> tuple[dict[str, bool], list[str]]:
    """item → actionable for the items shown (the drivers' items and actionable items elsewhere,
    never the target's own), and diagnostics saying what was assumed."""
    marks: dict[str, bool | None] = {}  # the codebook's mark; None: not marked (or no codebook)
    unmarked: list[str] = []  # sub-indicators (or items missing from the codebook) without a mark
    for name, block in model.constructs.items():
        if name == target:
            continue
        for item in block:
            sub = _subindicator(book, item)
            marks[item] = None if sub is None else sub.actionable
            if marks[item] is None:
                unmarked.append(item if sub is None else sub.id)
    acting = {i: (model.construct_of(i) in FALLBACK_ACTIONABLE_CONSTRUCTS if m is None else m)
              for i, m in marks.items()}
    notes = []
    standard = ", ".join(FALLBACK_ACTIONABLE_CONSTRUCTS)
    how = ("mark each sub-indicator 'actionable: true' (an aspect the company can change) or "
           "'actionable: false' (context, outcome) in the codebook")
    if not any(acting.values()) and all(m is None for m in marks.values()):
        # a custom model without marks whose construct names say nothing: rank every driver's items
        acting = {i: model.construct_of(i) in drivers for i in marks}
        notes.append(
            f"no item is marked actionable and the model has none of the constructs {standard}: every item "
            f"of a construct with a path to {target} was ranked as a possible action; {how}"
        )
    elif unmarked:
        what = "the sample has no codebook" if book is None else (
            f"the codebook has no 'actionable' mark for {', '.join(dict.fromkeys(unmarked))}"
        )
        notes.append(
            f"{what}: items of {standard} were assumed actionable and the others context; {how}"
        )
    shown = {i: a for i, a in acting.items() if a or model.construct_of(i) in drivers}
    return shown, notes


def _subindicator(book: Any, item: str) -> Any:
    """The item's sub-indicator in the codebook, or None (no codebook, or the item is not in it)."""
    if book is None:
        return None
    try:
        return book.subindicators.get(book.item(item).subindicator)
    except KeyError:
        return None


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
        return dict(subindicator="", subindicator_zh="", subindicator_en="", label_zh=item, label_en=item)
    sub = book.subindicators.get(entry.subindicator)
    return {
        "subindicator": entry.subindicator,
        "subindicator_zh": sub.label_zh if sub else "",
        "subindicator_en": sub.label_en if sub else "",
        "label_zh": entry.text_zh or (sub.label_zh if sub else item),
        "label_en": entry.text_en or (sub.label_en if sub else item),
    }


def _priorities(actionable: pd.DataFrame, book: Any) -> pd.DataFrame:
    """The actionable items by potential gain (ties keep model order), with measures and KPIs."""
    table = actionable.sort_values("potential_gain", ascending=False, kind="stable").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    measures = [_measures(book, item) for item in table["item"]]
    table["measures_zh"] = ["；".join(m.zh for m in ms) for ms in measures]
    table["measures_en"] = ["; ".join(m.en for m in ms) for ms in measures]
    table["kpis"] = [",".join(_kpis(book, item)) for item in table["item"]]
    return table[PRIORITY_COLUMNS]


def _measures(book: Any, item: str) -> list[Any]:
    try:
        return book.measures_for(item) if book is not None else []
    except (KeyError, AttributeError):
        return []


def _kpis(book: Any, item: str) -> list[str]:
    try:
        return book.kpis_for(item) if book is not None else []
    except (KeyError, AttributeError):
        return []


def _quadrants(table: pd.DataFrame) -> list[str]:
    """Martilla–James quadrant against the mean importance and mean performance of ``table``."""
    high_imp = table["importance"] >= table["importance"].mean()
    high_perf = table["performance"] >= table["performance"].mean()
    return [QUADRANTS[(a, b)] for a, b in zip(high_imp, high_perf, strict=True)]


def _classify(table: pd.DataFrame) -> pd.DataFrame:
    """Quadrant against the mean importance and mean performance, and the potential gain."""
    table["quadrant"] = _quadrants(table)
    table["potential_gain"] = table["importance"] * (100.0 - table["performance"])
    return table


# ---------------------------------------------------------------------------- sentences
def _check_language(language: str) -> bool:
    if language not in ("en", "zh"):
        raise ValueError(f"language must be 'en' or 'zh', not {language!r}")
    return language == "zh"


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def _aspect(row: Any, zh: bool, extra: str = "") -> str:
    """服务项目中的“故障抢修速度”（QUA9） / “Speed of fault repair” (Service items, QUA9), with ``extra``
    added inside the brackets."""
    sub = row["subindicator_zh" if zh else "subindicator_en"]
    text, item = row["label_zh" if zh else "label_en"], row["item"]
    if zh:
        named = item if text == item else f"“{text}”"
        return f"{sub}中的{named}（{item}{'，' + extra if extra else ''}）" if sub else (
            f"{named}（{item}{'，' + extra if extra else ''}）" if text != item else
            f"{item}{'（' + extra + '）' if extra else ''}"
        )
    named = item if text == item else f"“{text}”"
    inside = [x for x in (sub, item if text != item else "") if x]
    where = ", ".join(inside) + (f"; {extra}" if extra and inside else extra)
    return f"{named} ({where})" if where else named


def describe_priorities(result: IPMAResult, language: str = "en", top: int = 3) -> list[str]:
    """One sentence per top-``top`` priority: aspect, item, performance, importance, potential gain."""
    zh = _check_language(language)
    target = result.target_labels[0 if zh else 1]
    table = result.priorities
    if table.empty:
        return [
            f"没有可排序的改进方面：问卷编码表未将影响{target}的任何服务方面标为可改进（actionable）。" if zh
            else f"No actionable aspect to rank: the codebook marks no service aspect behind {target} as "
                 "actionable."
        ]
    m = len(table)
    perf_rank = table["performance"].rank(method="min").astype(int)
    imp_rank = table["importance"].rank(ascending=False, method="min").astype(int)
    lines = []
    for k, row in table.head(top).iterrows():
        p, i = int(perf_rank[k]), int(imp_rank[k])
        if zh:
            where = f"在{m}个可改进方面中最低" if p == 1 else f"在{m}个可改进方面中由低到高排第{p}"
            strength = "相关最强" if i == 1 else f"相关程度排第{i}"
            lines.append(
                f"第{row['rank']}优先：{_aspect(row, zh)}。表现{row['performance']:.1f}分，{where}；"
                f"重要性{row['importance']:.2f}（即与{target}的相关系数，{strength}）；"
                f"提升潜力{row['potential_gain']:.1f}。"
            )
        else:
            where = "the lowest" if p == 1 else f"the {_ordinal(p)} lowest"
            strength = "the strongest" if i == 1 else f"the {_ordinal(i)} strongest"
            lines.append(
                f"Priority {row['rank']}: {_aspect(row, zh)}. Performance {row['performance']:.1f}, "
                f"{where} of {m} actionable aspects; importance {row['importance']:.2f} (its correlation "
                f"with {target}, {strength}); potential gain {row['potential_gain']:.1f}."
            )
    return lines


def lowest_performers_note(result: IPMAResult, language: str = "en", top: int = 3) -> str:
    """Whether the lowest-rated actionable aspects are among the top-``top`` priorities, and why not.

    Names the lowest-performing actionable item and any within one point of it (at most three).
    One that is not among the top priorities has a gap to 100 at least as large as every top
    priority rated better than it, so it must move less with the target than they do — the note
    says so with the numbers. When the lowest item overall is a context item (Image,
    Expectation), the note says it is context, not an action.
    """
    zh = _check_language(language)
    target = result.target_labels[0 if zh else 1]
    table = result.priorities
    parts = []
    if not table.empty:
        floor = table["performance"].min()
        lowest = table[table["performance"] <= floor + 1.0].sort_values("performance", kind="stable").head(3)
        parts.append(_lowest_sentence(lowest, table, target, top, zh))
    everything = result.items
    if not everything.empty:
        worst = everything.loc[everything["performance"].idxmin()]
        if not bool(worst["actionable"]):
            construct = _construct_label(result, worst["construct"], zh)
            text = worst["label_zh" if zh else "label_en"]
            if zh:
                parts.append(
                    f"全部题项中得分最低的是{construct}题项“{text}”（{worst['item']}，{worst['performance']:.1f}分）。"
                    f"{construct}等题项只作为解读结果的背景，不作为改进措施的对象，它会随服务的改进而变化。"
                )
            else:
                parts.append(
                    f"The lowest score of all items is for the {construct} item “{text}” ({worst['item']}, "
                    f"{worst['performance']:.1f}). Such items are context for reading the results, not "
                    "actions: they follow from the service rather than being changed directly."
                )
    return "".join(parts) if zh else " ".join(parts)


def _join(names: list[str], zh: bool) -> str:
    if zh:
        return names[0] if len(names) == 1 else "、".join(names[:-1]) + "和" + names[-1]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _lowest_sentence(lowest: pd.DataFrame, table: pd.DataFrame, target: str, top: int, zh: bool) -> str:
    """The lowest actionable aspects with their priority ranks, and why those outside the top are."""
    names = [
        _aspect(r, zh, f"{r['performance']:.1f}分，第{r['rank']}优先" if zh
                else f"performance {r['performance']:.1f}, priority {r['rank']}")
        for _, r in lowest.iterrows()
    ]
    outside = lowest[lowest["rank"] > top]
    one = len(lowest) == 1
    if zh:
        text = f"可改进方面中表现最低的是{_join(names, zh)}。"
    else:
        subject = "aspect is" if one else "aspects are"
        text = f"The lowest-rated actionable {subject} {_join(names, zh)}."
    if outside.empty:
        if zh:
            return text[:-1] + f"，{'它' if one else '均'}在前{top}项优先改进之列。"
        return text[:-1] + f", {'among' if one else 'all among'} the top {top} priorities."
    ids = _join(list(outside["item"]), zh)
    single = len(outside) == 1
    # every top priority rated at least as well has a smaller gap but a larger gain: it must move
    # more with the target (gain = importance × gap); say so with the numbers
    leaders = table[(table["rank"] <= top) & (table["performance"] >= outside["performance"].max())]
    if leaders.empty:
        if zh:
            return text + f"{ids}未进入前{top}项优先改进，因为前{top}项的表现更低。"
        verb = "is" if single else "are"
        return text + f" {ids} {verb} not among the top {top} priorities: those are rated even lower."
    mine, theirs = _span(outside["importance"], zh), _span(leaders["importance"], zh)
    if zh:
        return text + (
            f"{ids}未进入前{top}项优先改进：{'它' if single else '它们'}与{target}的关联弱于前{top}项中"
            f"表现更好的方面（重要性{mine}，而后者为{theirs}），同样的提升对{target}的带动可能不如后者。"
        )
    return text + (
        f" {ids} {'is' if single else 'are'} not among the top {top} priorities: "
        f"{'it moves' if single else 'they move'} less with {target} than the better-rated top priorities "
        f"(importance {mine} against {theirs}), so lifting {'it' if single else 'them'} is likely to do less "
        f"for {target} than closing their smaller gaps."
    )


def _span(values: pd.Series, zh: bool) -> str:
    lo, hi = f"{values.min():.2f}", f"{values.max():.2f}"
    return lo if lo == hi else f"{lo}{'～' if zh else '–'}{hi}"


def _construct_label(result: IPMAResult, construct: str, zh: bool) -> str:
    rows = result.constructs[result.constructs["construct"] == construct]
    if rows.empty:
        return construct
    return str(rows.iloc[0]["label_zh" if zh else "label_en"])
