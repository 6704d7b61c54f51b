"""Analytic network process (网络层次分析法, ANP) and ANP-weighted fuzzy comprehensive evaluation.

AHP assumes the indicators do not influence one another; in power-supply satisfaction they do
(supply reliability shapes how the repair service is judged, the service channels shape the
perceived value). ANP keeps AHP's pairwise judgements but lets every element be compared
*with respect to* any other element, inside its own cluster (inner dependence, 内部依存) or
in another cluster (outer dependence, 外部依存), and derives the weights from the long-run
behaviour of the resulting network.

Steps (Saaty's supermatrix method):

1. **Unweighted supermatrix** W. Column j holds, for each cluster I, the priority vector of
   I's elements with respect to element j (from a judgement matrix, checked for consistency
   with CR exactly as in :mod:`csi_research.evaluation.ahp`); blocks without a comparison are
   zero, so each nonzero block column sums to 1. ``loops`` gives every element of a cluster an
   identity loop (weight 1 on itself), the usual treatment of the bottom of a hierarchy.
2. **Cluster matrix** C. C[I, J] is the priority of cluster I among the clusters that influence
   cluster J (a judgement matrix "with respect to cluster J"; 1 when only one cluster does).
3. **Weighted supermatrix**: block (I, J) of W times C[I, J], each column then renormalised to
   sum 1 (a column that lacks one of its cluster's blocks would otherwise lose mass), so the
   matrix is column-stochastic.
4. **Limit supermatrix**: the powers of the weighted supermatrix until they stop changing. When
   they cycle (a periodic network, e.g. two clusters that only influence each other), the
   limit is the Cesàro average of one full cycle of consecutive powers, which is the long-run
   average of the powers and still solves W x = x.

The global weights are a column of the limit: all columns agree for an irreducible network;
otherwise (a hierarchy with a goal, or any network that is not strongly connected) the column
of the ``goal`` element is read, and without a goal the result is an error. The weights of the
elements of the ``evaluate`` clusters, renormalised, feed the fuzzy comprehensive evaluation of
:mod:`csi_research.evaluation.fuzzy` (:func:`anp_fuzzy`).

Spec layout (a mapping, e.g. a YAML section)::

    clusters:
      Goal: [CSI]
      Criteria: [Quality, Service, Price]
      Items: [QUA1, QUA2, SRV1, PRC1]
    goal: CSI                   # optional: the column to read when the limit columns differ
    evaluate: [Items]           # clusters whose elements are weighted (default: all but the goal's)
    loops: [Items]              # optional: identity loops for these clusters' elements
    comparisons:
      - {wrt: CSI, compare: Criteria, upper: [[2, 3], [2]]}            # outer dependence
      - {wrt: Quality, compare: Criteria, elements: [Service, Price], upper: [[3]]}   # inner
      - {wrt: Quality, compare: Items, elements: [QUA1, QUA2], upper: [[2]]}
      - {wrt: Service, compare: Items, elements: [SRV1], weights: equal}
      - {wrt: Price, compare: Items, elements: [PRC1], weights: equal}
      - {wrt_cluster: Criteria, clusters: [Criteria, Items], upper: [[1/2]]}          # clusters
    # Quality's column: Criteria (1/3) and Items (2/3); Service and Price: Items only

A comparison names what it is *with respect to* (``wrt`` an element, or ``wrt_cluster`` a
cluster), what it compares (``compare`` a cluster, optionally only some of its ``elements``; or
``clusters``), and exactly one of ``matrix`` / ``upper`` / ``experts`` (with ``aggregate``,
``expert_weights``) / ``weights``, with an optional ``method`` (eigen | geometric), as a node of
:mod:`csi_research.evaluation.hierarchy`. Matrices are named "<compared> wrt <element>" and
"clusters wrt <cluster>" in messages.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.diagnostics import collect, public
from csi_research.core.errors import EstimationError, ModelSpecError
from csi_research.evaluation.ahp import CR_THRESHOLD, AHPResult, GroupAHPResult
from csi_research.evaluation.fuzzy import FuzzyEvaluation, Operator, fuzzy_evaluation
from csi_research.evaluation.hierarchy import Hierarchy, node_weights

SPEC_KEYS = frozenset({"clusters", "comparisons", "goal", "evaluate", "loops"})
JUDGEMENT_KEYS = frozenset({"matrix", "upper", "experts", "weights", "aggregate", "expert_weights", "method"})
ELEMENT_KEYS = frozenset({"wrt", "compare", "elements"}) | JUDGEMENT_KEYS
CLUSTER_KEYS = frozenset({"wrt_cluster", "clusters"}) | JUDGEMENT_KEYS
LIMIT_TOL = 1e-12   # largest entry change between powers accepted as converged
MAX_POWER = 20_000  # powers tried before the limit is declared not found
COLUMN_TOL = 1e-9   # limit columns closer than this are "all equal" (irreducible network)


@dataclass(frozen=True)
class Comparison:
    """One judgement: ``compared`` labels (rows) with respect to ``wrt`` (an element or cluster)."""

    name: str
    kind: str  # "inner", "outer" or "cluster"
    wrt: str
    wrt_cluster: str
    compared_cluster: str  # "" for a cluster comparison
    labels: tuple[str, ...]
    spec: Mapping[str, Any]


@dataclass(frozen=True)
class Network:
    """Clusters, their elements and the judgements between them (validated, immutable)."""

    clusters: Mapping[str, tuple[str, ...]]
    comparisons: tuple[Comparison, ...]
    goal: str | None
    evaluate: tuple[str, ...]
    loops: tuple[str, ...]

    @property
    def elements(self) -> list[str]:
        return [e for els in self.clusters.values() for e in els]

    @property
    def cluster_of(self) -> dict[str, str]:
        return {e: c for c, els in self.clusters.items() for e in els}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], source: str = "anp") -> Network:
        if not isinstance(spec, Mapping):
            raise ModelSpecError(f"{source}: expected a mapping with 'clusters' and 'comparisons'")
        unknown = set(spec) - SPEC_KEYS
        if unknown:
            raise ModelSpecError(f"{source}: unknown key(s) {sorted(unknown)}; allowed: {sorted(SPEC_KEYS)}")
        clusters = _clusters(spec.get("clusters"), source)
        cluster_of = {e: c for c, els in clusters.items() for e in els}
        goal = spec.get("goal")
        if goal is not None:
            goal = str(goal)
            if goal not in cluster_of:
                raise ModelSpecError(f"{source}: goal '{goal}' is not an element of any cluster")
        loops = tuple(str(c) for c in spec.get("loops") or ())
        evaluate = spec.get("evaluate")
        if evaluate is None:
            evaluate = [c for c in clusters if goal is None or c != cluster_of[goal]]
        elif isinstance(evaluate, str):
            evaluate = [evaluate]
        evaluate = tuple(str(c) for c in evaluate)
        for key, names in (("loops", loops), ("evaluate", evaluate)):
            bad = [c for c in names if c not in clusters]
            if bad:
                raise ModelSpecError(
                    f"{source}: {key} names unknown cluster(s) {bad}; clusters: {list(clusters)}"
                )
        if not evaluate:
            raise ModelSpecError(f"{source}: 'evaluate' must name at least one cluster")
        raw = spec.get("comparisons")
        if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
            raise ModelSpecError(f"{source}: 'comparisons' must be a non-empty list of judgements")
        comparisons = tuple(_comparison(c, k, clusters, cluster_of, source) for k, c in enumerate(raw))
        seen: dict[tuple[str, str], str] = {}
        for c in comparisons:
            key = (c.wrt if c.kind != "cluster" else "cluster " + c.wrt, c.compared_cluster)
            if key in seen:
                raise ModelSpecError(f"{source}: '{c.name}' is given twice; give one judgement per pair")
            seen[key] = c.name
        for c in comparisons:
            if c.kind != "cluster" and c.compared_cluster in loops and c.wrt in clusters[c.compared_cluster]:
                raise ModelSpecError(
                    f"{source}: '{c.name}' compares cluster {c.compared_cluster}, which has identity loops "
                    "(loops:); remove one of the two"
                )
        return cls(MappingProxyType(clusters), comparisons, goal, evaluate, loops)


def _clusters(raw: Any, source: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping) or not raw:
        raise ModelSpecError(f"{source}: 'clusters' must map each cluster to a list of its elements")
    out: dict[str, tuple[str, ...]] = {}
    where: dict[str, str] = {}
    for name, els in raw.items():
        if not els or isinstance(els, str) or not isinstance(els, Sequence):
            raise ModelSpecError(f"{source}: cluster '{name}' needs a list of elements, got {els!r}")
        els = tuple(str(e) for e in els)
        for e in els:
            if e in where:
                raise ModelSpecError(
                    f"{source}: element '{e}' is in both cluster '{where[e]}' and '{name}'; "
                    "an element belongs to one cluster"
                )
            where[e] = str(name)
        out[str(name)] = els
    return out


def _comparison(raw: Any, k: int, clusters: Mapping[str, tuple[str, ...]], cluster_of: Mapping[str, str],
                source: str) -> Comparison:
    where = f"{source}: comparison {k + 1}"
    if not isinstance(raw, Mapping):
        raise ModelSpecError(f"{where} must be a mapping with 'wrt' or 'wrt_cluster'")
    judgement = {key: raw[key] for key in JUDGEMENT_KEYS if key in raw}
    if ("wrt" in raw) == ("wrt_cluster" in raw):
        raise ModelSpecError(f"{where}: give exactly one of 'wrt' (an element) or 'wrt_cluster' (a cluster)")
    if "wrt" in raw:
        unknown = set(raw) - ELEMENT_KEYS
        if unknown:
            raise ModelSpecError(
                f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(ELEMENT_KEYS)}"
            )
        wrt = str(raw["wrt"])
        if wrt not in cluster_of:
            raise ModelSpecError(f"{where}: wrt '{wrt}' is not an element of any cluster")
        compare = str(raw.get("compare", ""))
        if compare not in clusters:
            raise ModelSpecError(
                f"{where} (wrt {wrt}): 'compare' must name the cluster whose elements are compared; "
                f"got {raw.get('compare')!r}, clusters: {list(clusters)}"
            )
        labels = tuple(str(e) for e in raw.get("elements") or clusters[compare])
        bad = [e for e in labels if e not in clusters[compare]]
        if bad:
            raise ModelSpecError(f"{where} (wrt {wrt}): element(s) {bad} are not in cluster '{compare}'")
        kind = "inner" if cluster_of[wrt] == compare else "outer"
        name = f"{compare} wrt {wrt}"
        wrt_cluster = cluster_of[wrt]
    else:
        unknown = set(raw) - CLUSTER_KEYS
        if unknown:
            raise ModelSpecError(
                f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(CLUSTER_KEYS)}"
            )
        wrt = wrt_cluster = str(raw["wrt_cluster"])
        if wrt not in clusters:
            raise ModelSpecError(f"{where}: wrt_cluster '{wrt}' is not a cluster; clusters: {list(clusters)}")
        listed = raw.get("clusters")
        if not listed or isinstance(listed, str):
            raise ModelSpecError(f"{where} (wrt cluster {wrt}): 'clusters' must list the compared clusters")
        labels = tuple(str(c) for c in listed)
        bad = [c for c in labels if c not in clusters]
        if bad:
            raise ModelSpecError(f"{where} (wrt cluster {wrt}): unknown cluster(s) {bad}")
        kind, compare, name = "cluster", "", f"clusters wrt {wrt}"
    if len(set(labels)) != len(labels):
        raise ModelSpecError(f"{where} ('{name}'): {list(labels)} lists an entry twice")
    if len([key for key in ("matrix", "upper", "experts", "weights") if key in judgement]) != 1:
        raise ModelSpecError(f"{where} ('{name}'): give exactly one of matrix, upper, experts or weights")
    return Comparison(name, kind, wrt, wrt_cluster, compare, labels, MappingProxyType(judgement))


@dataclass(frozen=True, eq=False)
class ANPResult:
    """Supermatrices, cluster matrix and weights of a network.

    ``unweighted``, ``weighted``, ``limit``: element × element frames (rows influenced-by order:
    row i, column j is element i's priority with respect to element j), labelled by element;
    ``cluster_matrix``: cluster × cluster priorities (columns sum to 1). ``weights`` columns:
    cluster, element, limit_weight (the read column of the limit), cluster_weight (normalised
    within the element's cluster), evaluated, weight (normalised over the evaluated clusters'
    elements; NaN elsewhere). ``comparisons``: name, kind, wrt, compared, n, lambda_max, cr.
    ``period``: number of consecutive powers averaged (1 = the powers converged);
    ``power``: the highest power computed.
    """

    network: Network
    unweighted: pd.DataFrame
    cluster_matrix: pd.DataFrame
    weighted: pd.DataFrame
    limit: pd.DataFrame
    weights: pd.DataFrame
    comparisons: pd.DataFrame
    results: Mapping[str, AHPResult | GroupAHPResult | None]
    period: int
    power: int
    read_from: str  # "all columns" or the goal element
    diagnostics: list[str] = field(default_factory=list)

    @property
    def evaluated_weights(self) -> pd.Series:
        """Weights of the evaluated elements (sum 1), element → weight."""
        rows = self.weights[self.weights["evaluated"]]
        return pd.Series(rows["weight"].to_numpy(), index=rows["element"].to_numpy(), name="weight")

    def supermatrix_table(self) -> pd.DataFrame:
        """The three supermatrices in long form: matrix, row_cluster, row, column_cluster, column, value."""
        of = self.network.cluster_of
        frames = []
        for label, m in (("unweighted", self.unweighted), ("weighted", self.weighted), ("limit", self.limit)):
            long = m.rename_axis(index="row", columns="column").stack().rename("value").reset_index()
            long.insert(0, "matrix", label)
            long.insert(1, "row_cluster", long["row"].map(of))
            long.insert(3, "column_cluster", long["column"].map(of))
            frames.append(long)
        return pd.concat(frames, ignore_index=True)

    def summary(self) -> dict[str, pd.DataFrame]:
        out = {
            "weights": self.weights,
            "comparisons": self.comparisons,
            "cluster_matrix": self.cluster_matrix.rename_axis("cluster").reset_index(),
            "supermatrices": self.supermatrix_table(),
        }
        if self.diagnostics:
            out["diagnostics"] = pd.DataFrame({"diagnostic": self.diagnostics})
        return out


def _weights_of(c: Comparison) -> tuple[pd.Series, AHPResult | GroupAHPResult | None]:
    """Priorities of one comparison through the hierarchy's node machinery (matrix/upper/experts/weights)."""
    tree = Hierarchy(c.name, MappingProxyType({c.name: c.labels}),
                     MappingProxyType({c.name: MappingProxyType({"children": list(c.labels), **c.spec})}))
    return node_weights(tree, c.name)


@public
def anp_weights(spec: Mapping[str, Any] | Network, strict: bool = False, source: str = "anp",
                tol: float = LIMIT_TOL, max_power: int = MAX_POWER) -> ANPResult:
    """Supermatrices and global weights of an ANP network (see the module doc for the spec).

    Every judgement matrix is checked like an AHP matrix: CR ≥ 0.10 goes into diagnostics with
    the matrix's name and the judgements to revisit, or, with ``strict``, raises ModelSpecError.
    """
    net = spec if isinstance(spec, Network) else Network.from_spec(spec, source)
    elements = net.elements
    of = net.cluster_of
    pos = {e: k for k, e in enumerate(elements)}
    names = list(net.clusters)
    n = len(elements)
    w = np.zeros((n, n))
    results: dict[str, AHPResult | GroupAHPResult | None] = {}
    rows = []
    cluster_specs: dict[str, Comparison] = {}
    for c in net.comparisons:
        weights, result = _weights_of(c)
        results[c.name] = result
        cr = float(result.cr) if result is not None else np.nan
        if strict and result is not None and cr >= CR_THRESHOLD:
            raise ModelSpecError(
                f"{source}: judgement matrix '{c.name}' has CR = {cr:.3f} ≥ {CR_THRESHOLD}; revise its "
                f"judgements ({'; '.join(result.diagnostics)})"
            )
        rows.append({"name": c.name, "kind": c.kind, "wrt": c.wrt,
                     "compared": ", ".join(c.labels), "n": len(c.labels),
                     "lambda_max": getattr(result, "lambda_max", np.nan) if result is not None else np.nan,
                     "cr": cr})
        if c.kind == "cluster":
            cluster_specs[c.wrt] = c
            continue
        for label, value in weights.items():
            w[pos[label], pos[c.wrt]] = value
    for cl in net.loops:
        for e in net.clusters[cl]:
            w[pos[e], pos[e]] = 1.0
    for e in elements:
        if not w[:, pos[e]].any():
            raise ModelSpecError(
                f"{source}: element '{e}' (cluster {of[e]}) has an empty supermatrix column: nothing is "
                f"compared with respect to it; add a comparison with wrt: {e}, or list cluster {of[e]} "
                "under loops: to give its elements identity loops"
            )
    idx = {cl: [pos[e] for e in net.clusters[cl]] for cl in names}
    cmat = np.zeros((len(names), len(names)))
    for j, cj in enumerate(names):
        feeding = [ci for ci in names if w[np.ix_(idx[ci], idx[cj])].any()]
        given = cluster_specs.get(cj)
        if given is not None:
            if set(given.labels) != set(feeding):
                raise ModelSpecError(
                    f"{source}: '{given.name}' compares clusters {list(given.labels)}, but the clusters "
                    f"influencing {cj} (with a comparison into them with respect to an element of {cj}) "
                    f"are {feeding}; compare exactly those"
                )
            cw, _ = _weights_of(given)
            for ci, value in cw.items():
                cmat[names.index(ci), j] = value
        elif len(feeding) == 1:
            cmat[names.index(feeding[0]), j] = 1.0
        else:
            raise ModelSpecError(
                f"{source}: cluster {cj} is influenced by clusters {feeding}; add a comparison "
                f"{{wrt_cluster: {cj}, clusters: {feeding}, ...}} (or weights: equal)"
            )
    cluster_pos = np.array([names.index(of[e]) for e in elements])
    weighted = cmat[np.ix_(cluster_pos, cluster_pos)] * w
    sums = weighted.sum(axis=0)
    if np.any(sums <= 0):
        e = elements[int(np.argmin(sums))]
        raise ModelSpecError(
            f"{source}: element '{e}' gets no weight in the weighted supermatrix: the cluster comparison "
            f"'clusters wrt {of[e]}' gives zero weight to every cluster that influences it; give them "
            "positive weights"
        )
    weighted = weighted / sums
    limit, period, power = limit_supermatrix(weighted, tol=tol, max_power=max_power)
    spread = np.abs(limit - limit.mean(axis=1, keepdims=True)).max()
    if spread < COLUMN_TOL:
        vector, read_from = limit.mean(axis=1), "all columns"
    elif net.goal is not None:
        vector, read_from = limit[:, pos[net.goal]], net.goal
    else:
        raise EstimationError(
            f"{source}: the columns of the limit supermatrix differ (by up to {spread:.3g}): the network is "
            "reducible (not every element reaches every other), so there is no single set of global weights; "
            "name the element whose column to read with goal: (the goal of the hierarchy)"
        )
    frame = pd.DataFrame({"cluster": [of[e] for e in elements], "element": elements, "limit_weight": vector})
    totals = frame.groupby("cluster", sort=False)["limit_weight"].transform("sum")
    safe = totals.where(totals > 0, 1.0)
    frame["cluster_weight"] = np.where(totals > 0, frame["limit_weight"] / safe, np.nan)
    frame["evaluated"] = frame["cluster"].isin(net.evaluate)
    total = frame.loc[frame["evaluated"], "limit_weight"].sum()
    if total <= 0:
        raise EstimationError(
            f"{source}: the evaluated cluster(s) {list(net.evaluate)} get no weight in the limit "
            "supermatrix (in a hierarchy only the bottom level, with loops, keeps weight); evaluate "
            "clusters that the network reaches in the long run"
        )
    frame["weight"] = np.where(frame["evaluated"], frame["limit_weight"] / total, np.nan)
    label = pd.Index(elements, name="element")
    diagnostics = list(collect(*results.values()))
    return ANPResult(
        net,
        pd.DataFrame(w, index=label, columns=label),
        pd.DataFrame(cmat, index=pd.Index(names, name="cluster"), columns=names),
        pd.DataFrame(weighted, index=label, columns=label),
        pd.DataFrame(limit, index=label, columns=label),
        frame,
        pd.DataFrame(rows),
        MappingProxyType(results),
        period,
        power,
        read_from,
        diagnostics,
    )


def limit_supermatrix(w: Any, tol: float = LIMIT_TOL, max_power: int = MAX_POWER,
                      max_period: int | None = None) -> tuple[np.ndarray, int, int]:
    """The limit of the powers of a column-stochastic matrix: (limit, period, highest power).

    Powers W^k are computed until W^k agrees with W^(k−p) within ``tol`` for the smallest p ≤
    ``max_period`` (default n); the limit is then the mean of the p consecutive powers
    W^(k−p+1), ..., W^k, the Cesàro average of one cycle (for p = 1 simply W^k). This is the
    long-run average lim (1/N) Σ W^k, which exists for every stochastic matrix, periodic or not;
    the reported period is 1 when the averaged powers are equal anyway.
    """
    w = np.asarray(w, dtype=float)
    n = w.shape[0]
    if w.ndim != 2 or w.shape != (n, n):
        raise ModelSpecError(f"supermatrix must be square, got shape {w.shape}")
    sums = w.sum(axis=0)
    if np.any(w < 0) or np.any(np.abs(sums - 1) > 1e-9):
        bad = int(np.argmax(np.abs(sums - 1)))
        raise ModelSpecError(
            f"supermatrix column {bad + 1} sums to {sums[bad]:.6g}; the weighted supermatrix must be "
            "non-negative with every column summing to 1"
        )
    max_period = n if max_period is None else max_period
    history: deque[np.ndarray] = deque([w.copy()], maxlen=max_period)
    power = w.copy()
    for k in range(2, max_power + 1):
        power = w @ power
        past = list(history)  # past[-p] is W^(k−p)
        for p in range(1, min(max_period, len(past)) + 1):
            if np.abs(power - past[-p]).max() < tol:
                cycle = [*past[len(past) - p + 1:], power]
                limit = np.mean(cycle, axis=0)
                same = max(np.abs(m - limit).max() for m in cycle) < COLUMN_TOL
                return limit, 1 if same else p, k
        history.append(power)
    raise EstimationError(
        f"the supermatrix powers did not settle within {max_power} powers (tolerance {tol:g}); the "
        "network may be nearly decomposable: check the judgements that link its clusters"
    )


# ---------------------------------------------------------------------- ANP-fuzzy
@dataclass(frozen=True, eq=False)
class ANPFuzzyResult:
    """The ANP weights and the fuzzy comprehensive evaluation they drive."""

    anp: ANPResult
    fuzzy: FuzzyEvaluation
    diagnostics: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return self.fuzzy.score

    def summary(self) -> dict[str, pd.DataFrame]:
        fuzzy = self.fuzzy.summary("both")["evaluation"].reset_index()
        out = {**self.anp.summary(), "fuzzy_evaluation": fuzzy}
        out.pop("diagnostics", None)
        if self.diagnostics:
            out["diagnostics"] = pd.DataFrame({"diagnostic": self.diagnostics})
        return out


@public
def anp_fuzzy(
    data: Any,
    network: ANPResult | Network | Mapping[str, Any],
    items: Mapping[str, Sequence[str]] | None = None,
    scale: Any = None,
    codebook: Any = None,
    operator: Operator = "weighted",
    survey_weights: np.ndarray | None = None,
    root: str = "overall",
) -> ANPFuzzyResult:
    """Fuzzy comprehensive evaluation of ``data`` with the ANP weights of the evaluated elements.

    The evaluated elements are survey items, or, with ``items`` (element → its items, equally
    weighted), indicators measured by several items (element and item names must then differ).
    The evaluation itself is
    :func:`csi_research.evaluation.fuzzy.fuzzy_evaluation` with the tree ``root`` → elements →
    items; ``data``, ``scale``, ``codebook``, ``operator`` and ``survey_weights`` are passed on.
    """
    result = network if isinstance(network, ANPResult) else anp_weights.quiet(network)
    weights = result.evaluated_weights
    if items is None:
        fuzzy = fuzzy_evaluation.quiet(data, weights, scale=scale, codebook=codebook, operator=operator,
                                       survey_weights=survey_weights)
    else:
        missing = [e for e in weights.index if e not in items]
        extra = [e for e in items if e not in weights.index]
        if missing or extra:
            raise ModelSpecError(
                "ANP-fuzzy: 'items' must give the items of exactly the evaluated elements "
                f"{list(weights.index)}; missing {missing}, not evaluated {extra}"
            )
        clash = [e for e in weights.index if any(e in list(items[x]) for x in weights.index)]
        if clash:
            raise ModelSpecError(
                f"ANP-fuzzy: element '{clash[0]}' is also an item of an element; without 'items' the "
                "elements are the items themselves, otherwise give the elements names of their own"
            )
        if root in weights.index:
            raise ModelSpecError(f"ANP-fuzzy: root name '{root}' is also an element; pass another root=")
        spec = {root: {"children": list(weights.index), "weights": dict(weights)}}
        spec.update({e: {"children": list(items[e]), "weights": "equal"} for e in weights.index})
        tree = Hierarchy.from_spec(spec, "ANP-fuzzy")
        local = {node: node_weights(tree, node)[0] for node in tree.postorder()}
        fuzzy = fuzzy_evaluation.quiet(data, (tree, local), scale=scale, codebook=codebook, operator=operator,
                                       survey_weights=survey_weights)
    return ANPFuzzyResult(result, fuzzy, list(collect(result, fuzzy)))
