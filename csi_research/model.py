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

from csi_research.core.errors import ModelSpecError
from csi_research.core.yamlfile import find_todo, load_yaml, names, short

MODES = ("A", "B")  # A = reflective (Mode A), B = formative (Mode B)
MODEL_KEYS = ("constructs", "paths", "target")
BLOCK_KEYS = ("items", "components", "method", "mode", "label_zh", "label_en")
# How a higher-order construct is estimated (Sarstedt et al. 2019): the disjoint two-stage approach
# (stage 1: its components in its place; stage 2: their scores as its indicators), or repeated
# indicators (all of its components' items once more, as its own block, in a single stage).
HOC_METHODS = ("two-stage", "repeated")


@dataclass(frozen=True)
class HigherOrder:
    """A higher-order construct's declaration: its first-order components and how it is estimated."""

    components: tuple[str, ...]
    method: str = "two-stage"

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
    higher_order: Mapping[str, HigherOrder] = field(default_factory=dict)

    def __init__(
        self,
        constructs: Mapping[str, Sequence[str]],
        paths: Iterable[Sequence[str]],
        modes: Mapping[str, str] | None = None,
        labels: Mapping[str, Sequence[str]] | None = None,
        target: str | None = None,
        higher_order: Mapping[str, HigherOrder | Sequence[str]] | None = None,
    ) -> None:
        hoc = {str(name): _as_higher_order(name, spec) for name, spec in (higher_order or {}).items()}
        blocks = {str(name): tuple(str(i) for i in items) for name, items in constructs.items()}
        for name, spec in hoc.items():  # a higher-order block: its components' items, in their order
            blocks = _with_higher_order(name, spec, blocks)
        edges = tuple(_as_path(p) for p in paths)
        modes = {name: str((modes or {}).get(name, "A")).upper() for name in blocks}
        labels = {
            name: tuple((labels or {}).get(name, DEFAULT_LABELS.get(name, (name, name))))
            for name in blocks
        }
        _validate(blocks, edges, modes, labels, hoc)
        object.__setattr__(self, "constructs", MappingProxyType(blocks))
        object.__setattr__(self, "paths", edges)
        object.__setattr__(self, "modes", MappingProxyType(modes))
        object.__setattr__(self, "labels", MappingProxyType(labels))
        object.__setattr__(self, "target", _target(blocks, labels, target))
        object.__setattr__(self, "higher_order", MappingProxyType(hoc))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def default(cls) -> CSIModel:
        """The 7-construct power-supply CSI model with the 12 standard paths."""
        return cls(DEFAULT_ITEMS, DEFAULT_PATHS)

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], source: str = "model") -> CSIModel:
        """Build from the YAML layout written by :meth:`to_dict`.

        Every error is a :class:`ModelSpecError` starting with ``source`` (the file) and naming the
        key, the bad value and what is allowed.
        """
        if spec is None:
            raise ModelSpecError(
                f"{source}: the model is empty; it needs constructs: (each construct with its items) and "
                "paths: (a list such as - Image -> Satisfaction)"
            )
        if not isinstance(spec, Mapping):
            raise ModelSpecError(
                f"{source}: a model must be a mapping with the keys constructs and paths, "
                f"not {_kind(spec)} {short(spec)}"
            )
        missing = [k for k in ("constructs", "paths") if k not in spec]
        if missing:
            raise ModelSpecError(
                f"{source}: a model needs the keys 'constructs' and 'paths'; missing: {', '.join(missing)}"
            )
        unknown = [str(k) for k in spec if k not in MODEL_KEYS]
        if unknown:
            raise ModelSpecError(
                f"{source}: unknown key(s) {unknown}; allowed: {', '.join(MODEL_KEYS)}"
            )
        try:
            constructs, modes, labels, hoc = _blocks_from(spec["constructs"])
            paths = _paths_from(spec["paths"])
            target = spec.get("target")
            if target is not None and not isinstance(target, str):
                raise ModelSpecError(f"target must be a construct name, not {short(target)}")
            return cls(constructs, paths, modes, labels or None, target, hoc)
        except ModelSpecError as exc:
            raise ModelSpecError(f"{source}: {exc}") from None

    @classmethod
    def from_yaml(cls, path: str | Path) -> CSIModel:
        """Read a model file; every error names the file (see :meth:`from_dict`)."""
        spec, text = load_yaml(path, "model file")
        todo = find_todo(text)
        if todo:
            line, key, value = todo
            raise ModelSpecError(f"{path}: line {line}: {key} is still {short(value)}; fill it in")
        return cls.from_dict(spec, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        def block(name: str) -> dict[str, Any]:
            hoc = self.higher_order.get(name)
            measured = ({"components": list(hoc.components), "method": hoc.method} if hoc
                        else {"items": list(self.constructs[name])})
            return {**measured, "mode": self.modes[name], "label_zh": self.labels[name][0],
                    "label_en": self.labels[name][1]}

        return {
            "constructs": {name: block(name) for name in self.constructs},
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
        """All item columns, block by block (a higher-order block repeats its components' items: once)."""
        return list(dict.fromkeys(i for items in self.constructs.values() for i in items))

    def construct_of(self, item: str) -> str:
        """The first-order construct an item measures."""
        for name, items in self.constructs.items():
            if item in items and name not in self.higher_order:
                return name
        raise KeyError(item)

    @property
    def components(self) -> dict[str, str]:
        """Each component (lower-order construct) → the higher-order construct it forms."""
        return {c: hoc for hoc, spec in self.higher_order.items() for c in spec.components}

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

    def require_paths(self, method: str) -> None:
        """Refuse a measurement-only model (several constructs, no path) for ``method``, which needs paths."""
        if len(self.constructs) > 1 and not self.paths:
            raise ModelSpecError(
                f"{method} needs a structural model, but this model has {len(self.constructs)} constructs "
                "and no path between them (a measurement-only model): add the paths, or fit the measurement "
                "model by CB-SEM (fit_cbsem), which estimates it as a CFA with correlated constructs"
            )

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
        args = (dict(self.constructs), self.paths, dict(self.modes), dict(self.labels), self.target,
                dict(self.higher_order))
        return (CSIModel, args)

    def with_paths(self, paths: Iterable[Sequence[str]]) -> CSIModel:
        """The same measurement model with another structural model."""
        return CSIModel(self.constructs, paths, self.modes, self.labels, self.target, self.higher_order)

    def with_higher_order(
        self,
        construct: str,
        components: Mapping[str, Sequence[str]],
        method: str = "two-stage",
        mode: str | None = None,
        labels: Mapping[str, Sequence[str]] | None = None,
    ) -> CSIModel:
        """The model with ``construct`` made higher-order: its items split into ``components``.

        ``components`` maps each new first-order construct to its items, which must be the
        construct's items, each in one component; the construct keeps its paths, label and (unless
        ``mode`` is given) its mode; ``labels`` gives components their (chinese, english) labels.
        """
        if construct not in self.constructs or construct in self.higher_order:
            raise ModelSpecError(
                f"construct {short(construct)} is not a first-order construct of the model; constructs: "
                f"{names([n for n in self.constructs if n not in self.higher_order])}"
            )
        own = self.constructs[construct]
        placed: dict[str, str] = {}
        for name, items in components.items():
            if name in self.constructs:
                raise ModelSpecError(f"component {short(name)} is already a construct of the model")
            for item in items:
                if item not in own:
                    raise ModelSpecError(
                        f"component {short(name)}: item {short(item)} is not an item of {construct} "
                        f"({', '.join(own)})"
                    )
                if item in placed:
                    raise ModelSpecError(f"item {item} is in two components ({placed[item]} and {name})")
                placed[item] = name
        left = [i for i in own if i not in placed]
        if left:
            raise ModelSpecError(f"item(s) {', '.join(left)} of {construct} are in no component")
        blocks: dict[str, Sequence[str]] = {}
        for name, items in self.constructs.items():
            if name == construct:
                blocks |= {c: list(i) for c, i in components.items()}
            blocks[name] = () if name == construct else items
        hoc = {**self.higher_order, construct: HigherOrder(tuple(components), method)}
        modes = dict(self.modes) | ({construct: mode} if mode else {})
        return CSIModel(blocks, self.paths, modes, dict(self.labels) | dict(labels or {}), self.target, hoc)

    def lavaan_syntax(self) -> str:
        """lavaan/semopy model description (``=~`` for every block, ``~`` per target).

        Formative blocks are written as reflective: covariance-based SEM through semopy
        has no composite specification, and the estimator says so in its diagnostics.
        """
        measured = {n: self.higher_order[n].components if n in self.higher_order else items
                    for n, items in self.constructs.items()}  # a second-order factor over its components
        lines = [f"{name} =~ {' + '.join(parts)}" for name, parts in measured.items()]
        lines += [
            f"{target} ~ {' + '.join(self.predecessors(target))}" for target in self.endogenous
        ]
        return "\n".join(lines) + "\n"


def _kind(value: Any) -> str:
    """"a list", "a text" …: what a YAML value turned out to be, for messages."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, bool):
        return "true/false"
    return "a number" if isinstance(value, int | float) else type(value).__name__


def _blocks_from(spec: Any) -> tuple[dict[str, list[str]], dict[str, Any], dict[str, tuple[str, str]],
                                     dict[str, HigherOrder]]:
    """``constructs:`` of a model file: name → items (short form) or → {items, mode, label_zh, label_en};
    a higher-order construct gives ``components`` (and optionally ``method``) instead of ``items``."""
    if not isinstance(spec, Mapping) or not spec:
        raise ModelSpecError(
            "'constructs' must map each construct name to its items, e.g. "
            f"{{Image: [IMG1, IMG2], Satisfaction: [SAT1, SAT2]}}, not {short(spec)}"
        )
    constructs: dict[str, list[str]] = {}
    modes: dict[str, Any] = {}
    labels: dict[str, tuple[str, str]] = {}
    hoc: dict[str, HigherOrder] = {}
    for name, block in spec.items():
        if not isinstance(name, str) or not name.strip():
            raise ModelSpecError(f"construct name {short(name)} must be a text such as Image")
        where = f"construct {_cut(name)}"
        items = block
        if isinstance(block, Mapping):
            extra = [str(k) for k in block if k not in BLOCK_KEYS]
            if extra:
                raise ModelSpecError(f"{where}: unknown key(s) {extra}; allowed: {', '.join(BLOCK_KEYS)}")
            items = block.get("items")
            if "components" in block:
                if "items" in block:
                    raise ModelSpecError(
                        f"{where}: give either items (a first-order construct) or components (a "
                        "higher-order construct over other constructs), not both"
                    )
                declared = {k: v for k, v in block.items() if k in ("components", "method")}
                hoc[name] = _as_higher_order(name, declared)
            elif "method" in block:
                raise ModelSpecError(f"{where}: method applies to a higher-order construct (with components)")
            mode = block.get("mode", "A")
            if not isinstance(mode, str):
                raise ModelSpecError(
                    f"{where}: mode must be 'A' (reflective) or 'B' (formative), not {short(mode)}"
                )
            modes[name] = mode
            for key in ("label_zh", "label_en"):
                if key in block and not (isinstance(block[key], str) and block[key].strip()):
                    raise ModelSpecError(f"{where}: {key} must be a non-empty text, not {short(block[key])}")
            if "label_zh" in block or "label_en" in block:  # otherwise the standard labels apply
                labels[name] = (block.get("label_zh", name), block.get("label_en", name))
        constructs[name] = [] if name in hoc else _item_list(where, items)
    return constructs, modes, labels, hoc


def _as_higher_order(name: Any, spec: Any) -> HigherOrder:
    """A higher-order declaration: a HigherOrder, a list of components, or {components, method}."""
    where = f"higher-order construct {_cut(name)}"
    if isinstance(spec, HigherOrder):
        spec = {"components": list(spec.components), "method": spec.method}
    if not isinstance(spec, Mapping):
        spec = {"components": spec}
    components, method = spec.get("components"), spec.get("method", "two-stage")
    if not isinstance(components, list | tuple) or len(components) < 2 or not all(
            isinstance(c, str) and c.strip() for c in components):
        raise ModelSpecError(
            f"{where}: components must list at least two first-order constructs, e.g. [Supply, Repair], "
            f"not {short(components)}"
        )
    if method not in HOC_METHODS:
        raise ModelSpecError(f"{where}: method {short(method)} is not one of {', '.join(HOC_METHODS)}")
    return HigherOrder(tuple(str(c).strip() for c in components), str(method))


def _with_higher_order(name: str, spec: HigherOrder, blocks: dict[str, tuple[str, ...]]) -> dict:
    """The blocks with the higher-order construct's own: its components' items (placed after them)."""
    where = f"higher-order construct {_cut(name)}"
    for c in spec.components:
        if c not in blocks or c == name:
            raise ModelSpecError(
                f"{where}: component {_cut(c)} is not a first-order construct of the model; "
                f"constructs: {names([b for b in blocks if b != name])}"
            )
    if len(set(spec.components)) < len(spec.components):
        raise ModelSpecError(f"{where} lists a component twice")
    union = tuple(i for c in spec.components for i in blocks[c])
    if blocks.get(name) and tuple(blocks[name]) != union:
        raise ModelSpecError(
            f"{where}: its items are those of its components; list items only under the components"
        )
    if name in blocks:
        return {**blocks, name: union}
    last = max(list(blocks).index(c) for c in spec.components)
    order = list(blocks)
    order.insert(last + 1, name)
    return {n: union if n == name else blocks[n] for n in order}


def _item_list(where: str, items: Any) -> list[str]:
    """A block's item columns: a list of names (a text "IMG1, IMG2" is one name, not two)."""
    if items is None or (isinstance(items, list) and not items):
        raise ModelSpecError(f"{where} has no items: list at least one indicator column")
    if not isinstance(items, list):
        raise ModelSpecError(
            f"{where}: items must be a list of column names such as [IMG1, IMG2], not {short(items)}"
        )
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int) or not str(item).strip():
            raise ModelSpecError(
                f"{where}: item {short(item)} is not a column name; items are listed as [IMG1, IMG2]"
            )
    return [str(i).strip() for i in items]


def _paths_from(spec: Any) -> list[tuple[str, str]]:
    """``paths:`` of a model file: a non-empty list of 'Source -> Target' (or [source, target])."""
    if spec is None or (isinstance(spec, list) and not spec):
        raise ModelSpecError(
            "paths is empty: a CSI model needs paths between its constructs, one per line such as "
            "- Image -> Satisfaction; a measurement-only model (CFA without paths) is not supported yet"
        )
    if not isinstance(spec, list):
        raise ModelSpecError(
            "paths must be a list of 'Source -> Target' entries, one per line such as "
            f"- Image -> Satisfaction, not {_kind(spec)} {short(spec)}"
        )
    return [_as_path(p) for p in spec]


def _cut(name: Any, limit: int = 40) -> str:
    """A name as given, cut when it is absurdly long (messages stay readable)."""
    text = str(name)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _target(blocks: Mapping[str, tuple[str, ...]], labels: Mapping[str, tuple], given: Any) -> str | None:
    if given is not None:
        if str(given) not in blocks:
            raise ModelSpecError(
                f"target {short(given)} is not a construct; constructs: {names(blocks)}"
            )
        return str(given)
    if "Satisfaction" in blocks:
        return "Satisfaction"
    named = [n for n, (zh, en) in labels.items() if "满意" in zh or "satisf" in en.lower()]
    return named[0] if len(named) == 1 else None


def _as_path(p: Sequence[str] | str) -> tuple[str, str]:
    if isinstance(p, str):
        parts = [s.strip() for s in p.replace("→", "->").split("->")]
    elif isinstance(p, list | tuple):
        parts = [str(s).strip() if isinstance(s, str | int) and not isinstance(s, bool) else "" for s in p]
    else:
        parts = []
    if len(parts) != 2 or not all(parts):
        raise ModelSpecError(
            f"path {short(p)} must name a source and a target, e.g. 'Image -> Satisfaction'"
        )
    return parts[0], parts[1]


def _validate(
    blocks: Mapping[str, tuple[str, ...]],
    paths: tuple[tuple[str, str], ...],
    modes: Mapping[str, str],
    labels: Mapping[str, tuple],
    hoc: Mapping[str, HigherOrder],
) -> None:
    if not blocks:
        raise ModelSpecError("the model has no constructs")
    part_of: dict[str, str] = {}
    for name, spec in hoc.items():
        for c in spec.components:
            if c in hoc:
                raise ModelSpecError(
                    f"higher-order construct {_cut(name)}: component {_cut(c)} is itself higher-order; "
                    "only second-order constructs are supported"
                )
            if c in part_of:
                raise ModelSpecError(
                    f"construct {_cut(c)} is a component of two higher-order constructs ({part_of[c]} and "
                    f"{_cut(name)})"
                )
            part_of[c] = name
    owner: dict[str, str] = {}
    for name, items in blocks.items():
        if name in hoc:  # its items are its components' (checked there)
            continue
        if not items:
            raise ModelSpecError(f"construct {_cut(name)} has no items: list at least one indicator column")
        if modes[name] not in MODES:
            raise ModelSpecError(
                f"construct {_cut(name)}: mode {short(modes[name])} is not 'A' (reflective) "
                "or 'B' (formative)"
            )
        if len(labels[name]) != 2:
            raise ModelSpecError(f"construct {_cut(name)}: labels must be (chinese, english)")
        for item in items:
            if owner.get(item) == name:
                raise ModelSpecError(
                    f"construct {_cut(name)} lists item {_cut(item)} twice: list each item once"
                )
            if item in owner:
                raise ModelSpecError(
                    f"item {_cut(item)} is in two constructs ({owner[item]} and {_cut(name)}): "
                    "each item measures one construct"
                )
            owner[item] = name
    seen: set[tuple[str, str]] = set()
    for s, t in paths:
        for end in (s, t):
            if end not in blocks:
                raise ModelSpecError(
                    f"path {_cut(s)} -> {_cut(t)}: unknown construct {_cut(end)}; "
                    f"known constructs: {names(blocks)}"
                )
        if s == t:
            raise ModelSpecError(f"path {s} -> {t} is a self-loop: a construct cannot cause itself")
        for end in (s, t):
            if end in part_of:
                raise ModelSpecError(
                    f"path {s} -> {t}: {end} is a component of the higher-order construct {part_of[end]}; "
                    f"draw the path to or from {part_of[end]} (its components are linked through it)"
                )
        if (s, t) in seen:
            raise ModelSpecError(f"path {s} -> {t} is listed twice")
        seen.add((s, t))
    if len(blocks) > 1 and paths:  # no paths at all: a measurement-only (CFA) model, for CB-SEM
        linked = {s for s, _ in paths} | {t for _, t in paths}
        isolated = [n for n in blocks if n not in linked and n not in part_of]
        if isolated:
            raise ModelSpecError(
                f"construct(s) {names(isolated, 6)} have no path to or from any other construct: "
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
