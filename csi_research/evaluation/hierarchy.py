"""The four-level indicator system (指标体系) as a weighted tree.

Level 1 is the overall index, level 2 the constructs, level 3 sub-indicators, level 4 the
questionnaire items (any depth works). Each inner node carries its children's local
weights — from a judgement matrix, a panel of experts, or given numbers — and the global
weight of a node is the product of local weights on the way down from the root.

Spec layout (a mapping node → definition, e.g. a YAML section)::

    CSI:       {children: [Image, Quality], upper: [[3]]}          # a judgement matrix
    Quality:   {children: [QUA1, QUA2, QUA3], matrix: [[1, 2, 4], [1/2, 1, 2], [1/4, 1/2, 1]]}
    Image:     {children: [IMG1, IMG2], weights: equal}            # or {IMG1: 0.6, IMG2: 0.4}
    Value:     {children: [VAL1, VAL2], experts: [[[3]], [[2]]], aggregate: AIJ}

Keys per node: ``children`` (required), exactly one of ``matrix`` / ``upper`` / ``experts`` /
``weights``, optional ``aggregate`` (AIJ | AIP, with ``experts``), ``expert_weights``,
``method`` (eigen | geometric), ``label_zh``, ``label_en``. The root is the node nobody
lists as a child; leaves are children without a definition of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.diagnostics import collect, public
from csi_research.core.errors import ModelSpecError
from csi_research.evaluation.ahp import AHPResult, GroupAHPResult, ahp_weights, group_ahp, judgement_matrix

NODE_KEYS = frozenset({"children", "matrix", "upper", "experts", "weights", "aggregate", "expert_weights",
                       "method", "label_zh", "label_en"})
JUDGEMENT_KEYS = ("matrix", "upper", "experts", "weights")


@dataclass(frozen=True)
class Hierarchy:
    """The tree shape and each inner node's weighting spec (validated, immutable)."""

    root: str
    children: Mapping[str, tuple[str, ...]]
    specs: Mapping[str, Mapping[str, Any]]

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], source: str = "hierarchy") -> Hierarchy:
        if not isinstance(spec, Mapping) or not spec:
            raise ModelSpecError(f"{source}: expected a mapping node → {{children: [...], matrix: ...}}")
        children: dict[str, tuple[str, ...]] = {}
        for node, body in spec.items():
            if not isinstance(body, Mapping):
                raise ModelSpecError(f"{source}: node '{node}' must be a mapping with 'children'")
            unknown = set(body) - NODE_KEYS
            if unknown:
                raise ModelSpecError(
                    f"{source}: node '{node}': unknown key(s) {sorted(unknown)}; allowed: {sorted(NODE_KEYS)}"
                )
            kids = body.get("children")
            if not kids or isinstance(kids, str):
                raise ModelSpecError(f"{source}: node '{node}' needs a list of 'children'")
            given = [k for k in JUDGEMENT_KEYS if k in body]
            if len(given) != 1:
                raise ModelSpecError(
                    f"{source}: node '{node}' needs exactly one of {', '.join(JUDGEMENT_KEYS)}, "
                    f"got {given or 'none'}"
                )
            kids = tuple(str(k) for k in kids)
            if len(set(kids)) != len(kids):
                raise ModelSpecError(f"{source}: node '{node}' lists a child twice: {list(kids)}")
            children[str(node)] = kids
        parent: dict[str, str] = {}
        for node, kids in children.items():
            for k in kids:
                if k in parent:
                    raise ModelSpecError(
                        f"{source}: '{k}' is a child of both '{parent[k]}' and '{node}'; "
                        "a tree has one parent"
                    )
                parent[k] = node
        roots = [n for n in children if n not in parent]
        if len(roots) != 1:
            raise ModelSpecError(
                f"{source}: the hierarchy needs exactly one root (a node nobody lists as a child), "
                f"found {roots}"
            )
        tree = cls(roots[0], MappingProxyType(children),
                   MappingProxyType({str(n): MappingProxyType(dict(b)) for n, b in spec.items()}))
        reached = set(tree.postorder())
        unreached = [n for n in children if n not in reached]
        if unreached:
            raise ModelSpecError(f"{source}: node(s) {unreached} are in a cycle, not below the root")
        return tree

    def postorder(self) -> list[str]:
        """Inner nodes, children before parents (the order to compute bottom-up)."""
        order: list[str] = []
        seen: set[str] = set()

        def visit(node: str) -> None:
            seen.add(node)
            for k in self.children[node]:
                if k in self.children and k not in seen:
                    visit(k)
            order.append(node)

        visit(self.root)
        return order

    def leaves_under(self, node: str) -> list[str]:
        if node not in self.children:
            return [node]
        return [leaf for k in self.children[node] for leaf in self.leaves_under(k)]

    @property
    def leaves(self) -> list[str]:
        return self.leaves_under(self.root)


@dataclass(frozen=True, eq=False)
class HierarchyResult:
    """Local and global weights of every node.

    ``table`` columns: level (root = 1), node, parent, local_weight, global_weight and cr
    (the consistency ratio of the matrix that weighted the node among its siblings; NaN for
    given weights).
    """

    hierarchy: Hierarchy
    table: pd.DataFrame
    nodes: Mapping[str, AHPResult | GroupAHPResult | None]
    diagnostics: list[str] = field(default_factory=list)

    @property
    def leaf_weights(self) -> pd.Series:
        leaves = self.table[~self.table["node"].isin(list(self.hierarchy.children))]
        return pd.Series(leaves["global_weight"].to_numpy(), index=leaves["node"].to_numpy(), name="weight")

    def local_weights(self, node: str) -> pd.Series:
        rows = self.table[self.table["parent"] == node]
        return pd.Series(rows["local_weight"].to_numpy(), index=rows["node"].to_numpy(), name="weight")

    def summary(self) -> dict[str, pd.DataFrame]:
        out = {"weights": self.table}
        if self.diagnostics:
            out["diagnostics"] = pd.DataFrame({"diagnostic": self.diagnostics})
        return out


def node_weights(hierarchy: Hierarchy, node: str) -> tuple[pd.Series, AHPResult | GroupAHPResult | None]:
    """Local weights of ``node``'s children from its spec, and the AHP result behind them."""
    spec, kids = hierarchy.specs[node], list(hierarchy.children[node])
    method = spec.get("method", "eigen")
    if "weights" in spec:
        return given_weights(spec["weights"], kids, node), None
    if "experts" in spec:
        result = group_ahp.quiet(spec["experts"], spec.get("aggregate", "AIJ"), spec.get("expert_weights"),
                           name=node, labels=kids, weighting=method)
        return result.weights, result
    if "aggregate" in spec or "expert_weights" in spec:
        raise ModelSpecError(f"node '{node}': 'aggregate' and 'expert_weights' go with 'experts'")
    form = "full" if "matrix" in spec else "upper"
    matrix = judgement_matrix(spec["matrix" if form == "full" else "upper"], kids, node, form=form)
    result = ahp_weights.quiet(matrix, method, node)
    return result.weights, result


def given_weights(weights: Any, labels: list[str], node: str) -> pd.Series:
    """Weights given directly ("equal", a list, or a mapping label → weight), normalised to sum 1."""
    if isinstance(weights, str):
        if weights != "equal":
            raise ModelSpecError(f"node '{node}': weights {weights!r}: use 'equal', a list or a mapping")
        w = np.ones(len(labels))
    elif isinstance(weights, Mapping):
        missing, extra = set(labels) - set(weights), set(weights) - set(labels)
        if missing or extra:
            raise ModelSpecError(
                f"node '{node}': weights must name exactly the children {labels}; "
                f"missing {sorted(missing)}, unknown {sorted(extra)}"
            )
        w = np.array([weights[k] for k in labels], dtype=float)
    else:
        w = np.asarray(weights, dtype=float)
        if w.shape != (len(labels),):
            raise ModelSpecError(f"node '{node}': {len(w)} weights for {len(labels)} children {labels}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ModelSpecError(f"node '{node}': weights {list(w)} must be non-negative with a positive sum")
    return pd.Series(w / w.sum(), index=labels, name="weight")


def weight_table(
    hierarchy: Hierarchy, local: Mapping[str, pd.Series], cr: Mapping[str, float]
) -> pd.DataFrame:
    """The tidy (level, node, parent, local_weight, global_weight, cr) frame, global = product down."""
    rows = [{"level": 1, "node": hierarchy.root, "parent": None, "local_weight": 1.0, "global_weight": 1.0,
             "cr": np.nan}]

    def descend(node: str, level: int, weight: float) -> None:
        for child in hierarchy.children[node]:
            lw = float(local[node][child])
            rows.append({"level": level + 1, "node": child, "parent": node, "local_weight": lw,
                         "global_weight": weight * lw, "cr": cr.get(node, np.nan)})
            if child in hierarchy.children:
                descend(child, level + 1, weight * lw)

    descend(hierarchy.root, 1, 1.0)
    return pd.DataFrame(rows)


@public
def ahp_hierarchy(spec: Mapping[str, Any] | Hierarchy, source: str = "hierarchy") -> HierarchyResult:
    """Global weights of a judgement hierarchy (one matrix or given weights per inner node)."""
    tree = spec if isinstance(spec, Hierarchy) else Hierarchy.from_spec(spec, source)
    local, results, crs = {}, {}, {}
    for node in tree.postorder():
        local[node], results[node] = node_weights(tree, node)
        if results[node] is not None:
            crs[node] = results[node].cr
    diagnostics = list(collect(*results.values()))
    return HierarchyResult(tree, weight_table(tree, local, crs), MappingProxyType(results), diagnostics)
