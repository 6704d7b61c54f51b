"""The CSI structural model as data: constructs, their items, and the paths between them.

A :class:`CSIModel` is an immutable value. It knows nothing about data; estimators read
``constructs``, ``modes`` and ``paths`` and nothing else. Users add, drop and rewire paths
by building a new model (``model.with_paths(...)``) or by editing a YAML file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import yaml

from csi_research.errors import ModelSpecError
from csi_research.yamlfile import read_yaml

MODES = ("A", "B")  # A = reflective (Mode A), B = formative (Mode B)

# The seven constructs of the national evaluation method, with the labels users expect.
DEFAULT_LABELS: dict[str, tuple[str, str]] = {
    "Image": ("企业形象", "Image"),
    "Expectation": ("客户期望", "Expectation"),
    "Quality": ("感知质量", "Perceived quality"),
    "Value": ("感知价值", "Perceived value"),
    "Satisfaction": ("客户满意度", "Satisfaction"),
    "Complaints": ("客户抱怨", "Complaints"),
    "Loyalty": ("客户忠诚", "Loyalty"),
}

# Item ids of the built-in questionnaire (csi_research/resources/codebook_default.yaml).
DEFAULT_ITEMS: dict[str, list[str]] = {
    "Image": ["IMG1", "IMG2", "IMG3", "IMG4", "IMG5"],
    "Expectation": ["EXP1", "EXP2", "EXP3"],
    "Quality": [f"QUA{i}" for i in range(1, 11)],
    "Value": ["VAL1", "VAL2", "VAL3"],
    "Satisfaction": ["SAT1", "SAT2", "SAT3"],
    "Complaints": ["CMP1", "CMP2"],
    "Loyalty": ["LOY1", "LOY2", "LOY3", "LOY4"],
}

DEFAULT_PATHS: list[tuple[str, str]] = [
    ("Image", "Expectation"),
    ("Image", "Satisfaction"),
    ("Image", "Loyalty"),
    ("Expectation", "Quality"),
    ("Expectation", "Value"),
    ("Expectation", "Satisfaction"),
    ("Quality", "Value"),
    ("Quality", "Satisfaction"),
    ("Value", "Satisfaction"),
    ("Satisfaction", "Complaints"),
    ("Satisfaction", "Loyalty"),
    ("Complaints", "Loyalty"),
]


@dataclass(frozen=True)
class CSIModel:
    """Constructs → items (measurement model) and source → target paths (structural model).

    Parameters
    ----------
    constructs:
        Ordered mapping construct name → item column names.
    paths:
        ``(source, target)`` pairs; the structural model must be recursive (acyclic).
    modes:
        Optional construct → ``"A"`` (reflective, default) or ``"B"`` (formative).
    labels:
        Optional construct → ``(chinese, english)`` labels for reports.
    target:
        The construct whose index is the overall CSI and whose drivers IPMA ranks. Default: the
        construct named ``Satisfaction``, else the one construct labelled as satisfaction
        (满意 / satisf…); ``None`` when neither exists (a measurement-only model).
    """

    constructs: Mapping[str, tuple[str, ...]]
    paths: tuple[tuple[str, str], ...]
    modes: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    target: str | None = None

    def __init__(
        self,
        constructs: Mapping[str, Sequence[str]],
        paths: Iterable[Sequence[str]],
        modes: Mapping[str, str] | None = None,
        labels: Mapping[str, Sequence[str]] | None = None,
        target: str | None = None,
    ) -> None:
        blocks = {str(name): tuple(str(i) for i in items) for name, items in constructs.items()}
        edges = tuple(_as_path(p) for p in paths)
        modes = {name: str((modes or {}).get(name, "A")).upper() for name in blocks}
        labels = {
            name: tuple((labels or {}).get(name, DEFAULT_LABELS.get(name, (name, name))))
            for name in blocks
        }
        _validate(blocks, edges, modes, labels)
        object.__setattr__(self, "constructs", MappingProxyType(blocks))
        object.__setattr__(self, "paths", edges)
        object.__setattr__(self, "modes", MappingProxyType(modes))
        object.__setattr__(self, "labels", MappingProxyType(labels))
        object.__setattr__(self, "target", _target(blocks, labels, target))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def default(cls) -> CSIModel:
        """The 7-construct power-supply CSI model with the 12 standard paths."""
        return cls(DEFAULT_ITEMS, DEFAULT_PATHS)

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], source: str = "model") -> CSIModel:
        """Build from the YAML layout written by :meth:`to_dict`."""
        if not isinstance(spec, Mapping) or "constructs" not in spec or "paths" not in spec:
            raise ModelSpecError(f"{source}: a model needs the keys 'constructs' and 'paths'")
        unknown = set(spec) - {"constructs", "paths", "target"}
        if unknown:
            raise ModelSpecError(
                f"{source}: unknown key(s) {sorted(unknown)}; allowed: constructs, paths, target"
            )
        if not isinstance(spec["constructs"], Mapping):
            raise ModelSpecError(f"{source}: 'constructs' must map each construct name to its items")
        constructs, modes, labels = {}, {}, {}
        for name, block in spec["constructs"].items():
            if isinstance(block, Mapping):
                extra = set(block) - {"items", "mode", "label_zh", "label_en"}
                if extra:
                    raise ModelSpecError(f"{source}: construct {name}: unknown key(s) {sorted(extra)}")
                constructs[name] = list(block.get("items") or [])
                modes[name] = block.get("mode", "A")
                if "label_zh" in block or "label_en" in block:  # otherwise the standard labels apply
                    labels[name] = (block.get("label_zh", name), block.get("label_en", name))
            else:
                constructs[name] = list(block or [])
        try:
            paths = [_as_path(p) for p in spec["paths"]]
            return cls(constructs, paths, modes, labels or None, spec.get("target"))
        except ModelSpecError as exc:
            raise ModelSpecError(f"{source}: {exc}") from None

    @classmethod
    def from_yaml(cls, path: str | Path) -> CSIModel:
        return cls.from_dict(read_yaml(path, "model file"), source=str(path))

    def to_dict(self) -> dict[str, Any]:
        return {
            "constructs": {
                name: {
                    "items": list(items),
                    "mode": self.modes[name],
                    "label_zh": self.labels[name][0],
                    "label_en": self.labels[name][1],
                }
                for name, items in self.constructs.items()
            },
            "paths": [f"{s} -> {t}" for s, t in self.paths],
            **({"target": self.target} if self.target else {}),
        }

    def to_yaml(self, path: str | Path | None = None) -> str:
        """Serialise to YAML; write to ``path`` too when given."""
        text = yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    # ------------------------------------------------------------------ derived views
    @property
    def names(self) -> list[str]:
        return list(self.constructs)

    @property
    def items(self) -> list[str]:
        """All item columns, block by block."""
        return [i for items in self.constructs.values() for i in items]

    def construct_of(self, item: str) -> str:
        for name, items in self.constructs.items():
            if item in items:
                return name
        raise KeyError(item)

    def predecessors(self, target: str) -> list[str]:
        return [s for s, t in self.paths if t == target]

    @property
    def endogenous(self) -> list[str]:
        targets = {t for _, t in self.paths}
        return [n for n in self.constructs if n in targets]

    @property
    def exogenous(self) -> list[str]:
        targets = {t for _, t in self.paths}
        return [n for n in self.constructs if n not in targets]

    def adjacency(self) -> np.ndarray:
        """``A[i, j] = 1`` when construct i points at construct j (order of ``names``)."""
        index = {n: k for k, n in enumerate(self.constructs)}
        a = np.zeros((len(index), len(index)))
        for s, t in self.paths:
            a[index[s], index[t]] = 1.0
        return a

    def require_target(self) -> str:
        """The target construct, or an error saying how to name it."""
        if self.target is None:
            raise ModelSpecError(
                "the model has no target construct (the overall CSI): add 'target: <construct>' to the "
                f"model file or pass target= to CSIModel; constructs: {', '.join(self.names)}"
            )
        return self.target

    # ------------------------------------------------------------------ structural algebra
    @property
    def order(self) -> list[str]:
        """Constructs in topological order: every construct after all of its predecessors."""
        done: list[str] = []
        while len(done) < len(self.constructs):
            done += [n for n in self.names if n not in done and all(p in done for p in self.predecessors(n))]
        return done

    def reach(self) -> np.ndarray:
        """``R[i, j]`` True when a directed path leads from construct i to construct j."""
        a = self.adjacency() > 0
        reach = a.copy()
        for _ in range(len(a)):
            reach = reach | ((reach.astype(int) @ a.astype(int)) > 0)
        return reach

    def ancestors(self, construct: str) -> list[str]:
        """Constructs with a directed path to ``construct`` (in model order)."""
        column = self.reach()[:, self.names.index(construct)]
        return [n for n, r in zip(self.names, column, strict=True) if r]

    def effect_pairs(self) -> list[tuple[str, str]]:
        """Every (source, target) joined by a directed path: the rows of an effects table."""
        reach = self.reach()
        return [(s, t) for i, s in enumerate(self.names) for j, t in enumerate(self.names) if reach[i, j]]

    def total_effects(self, direct: np.ndarray) -> np.ndarray:
        """Total effects ``(I − B)⁻¹ − I`` from direct effects ``B[..., source, target]``.

        Computed as B + B² + … + B^(k−1), exact for a recursive model (B is nilpotent), batched
        over leading axes and NaN-safe for resamples that failed.
        """
        direct = np.asarray(direct, dtype=float)
        total, power = direct.copy(), direct.copy()
        for _ in range(len(self.constructs) - 2):
            power = power @ direct
            total = total + power
        return total

    def label(self, construct: str, language: str = "en") -> str:
        zh, en = self.labels[construct]
        return zh if language == "zh" else en

    def __reduce__(self) -> tuple:  # the mapping proxies do not pickle; the constructor arguments do
        args = (dict(self.constructs), self.paths, dict(self.modes), dict(self.labels), self.target)
        return (CSIModel, args)

    def with_paths(self, paths: Iterable[Sequence[str]]) -> CSIModel:
        """The same measurement model with another structural model."""
        return CSIModel(self.constructs, paths, self.modes, self.labels, self.target)

    def lavaan_syntax(self) -> str:
        """lavaan/semopy model description (``=~`` for every block, ``~`` per target).

        Formative blocks are written as reflective: covariance-based SEM through semopy
        has no composite specification, and the estimator says so in its diagnostics.
        """
        lines = [f"{name} =~ {' + '.join(items)}" for name, items in self.constructs.items()]
        lines += [
            f"{target} ~ {' + '.join(self.predecessors(target))}" for target in self.endogenous
        ]
        return "\n".join(lines) + "\n"


def _target(blocks: Mapping[str, tuple[str, ...]], labels: Mapping[str, tuple], given: Any) -> str | None:
    if given is not None:
        if str(given) not in blocks:
            raise ModelSpecError(f"target {given!r} is not a construct; constructs: {', '.join(blocks)}")
        return str(given)
    if "Satisfaction" in blocks:
        return "Satisfaction"
    named = [n for n, (zh, en) in labels.items() if "满意" in zh or "satisf" in en.lower()]
    return named[0] if len(named) == 1 else None


def _as_path(p: Sequence[str] | str) -> tuple[str, str]:
    if isinstance(p, str):
        parts = [s.strip() for s in p.split("->")]
    else:
        parts = [str(s).strip() for s in p]
    if len(parts) != 2 or not all(parts):
        raise ModelSpecError(f"path {p!r} must name a source and a target, e.g. 'Image -> Satisfaction'")
    return parts[0], parts[1]


def _validate(
    blocks: Mapping[str, tuple[str, ...]],
    paths: tuple[tuple[str, str], ...],
    modes: Mapping[str, str],
    labels: Mapping[str, tuple],
) -> None:
    if not blocks:
        raise ModelSpecError("the model has no constructs")
    owner: dict[str, str] = {}
    for name, items in blocks.items():
        if not items:
            raise ModelSpecError(f"construct {name} has no items: list at least one indicator column")
        if modes[name] not in MODES:
            raise ModelSpecError(
                f"construct {name}: mode {modes[name]!r} is not 'A' (reflective) or 'B' (formative)"
            )
        if len(labels[name]) != 2:
            raise ModelSpecError(f"construct {name}: labels must be (chinese, english)")
        for item in items:
            if item in owner:
                raise ModelSpecError(
                    f"item {item} is in two constructs ({owner[item]} and {name}): "
                    "each item measures one construct"
                )
            owner[item] = name
    seen: set[tuple[str, str]] = set()
    for s, t in paths:
        for end in (s, t):
            if end not in blocks:
                raise ModelSpecError(
                    f"path {s} -> {t}: unknown construct {end}; known constructs: {', '.join(blocks)}"
                )
        if s == t:
            raise ModelSpecError(f"path {s} -> {t} is a self-loop: a construct cannot cause itself")
        if (s, t) in seen:
            raise ModelSpecError(f"path {s} -> {t} is listed twice")
        seen.add((s, t))
    if len(blocks) > 1:
        linked = {s for s, _ in paths} | {t for _, t in paths}
        isolated = [n for n in blocks if n not in linked]
        if isolated:
            raise ModelSpecError(
                f"construct(s) {', '.join(isolated)} have no path to or from any other construct: "
                "add a path or remove the construct"
            )
    cycle = _find_cycle(list(blocks), paths)
    if cycle:
        raise ModelSpecError(
            f"the structural model has a cycle {' -> '.join(cycle)}: the CSI model must be recursive"
        )


def _find_cycle(nodes: list[str], paths: tuple[tuple[str, str], ...]) -> list[str] | None:
    children: dict[str, list[str]] = {n: [] for n in nodes}
    for s, t in paths:
        children[s].append(t)
    state: dict[str, int] = dict.fromkeys(nodes, 0)  # 0 new, 1 on stack, 2 done
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for c in children[n]:
            if state[c] == 1:
                return [*stack[stack.index(c):], c]
            if state[c] == 0 and (found := visit(c)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in nodes:
        if state[n] == 0 and (found := visit(n)):
            return found
    return None
