"""The questionnaire as data: answer scales, items, respondent attributes, sub-indicators.

A :class:`Codebook` is what turns a raw survey file into a checked frame: it says which
columns exist, which codes are valid answers, which codes mean "don't know", which items are
reverse-coded and where each item sits in the four-level indicator system (CSI → construct →
sub-indicator → item). The built-in power-supply questionnaire lives in
``resources/codebook_default.yaml``; users edit a copy for their own questionnaire.

Sub-indicators also say what a company can do about them: ``actionable`` marks the service
aspects a company can change (supply quality, channels, fees, complaint handling …) as opposed
to context (image, expectation) and outcomes (satisfaction, loyalty); only actionable aspects are
ranked as weak links (:mod:`csi_research.ipma`). ``measures`` are bilingual improvement measures
(改进措施), optionally limited to some of the sub-indicator's items, and ``kpis`` name internal
indicators (``resources/internal_indicators.yaml``) that track them. A sub-indicator without an
``actionable`` mark is assumed actionable when its construct is one of
:data:`FALLBACK_ACTIONABLE_CONSTRUCTS` (the IPMA result says so in a diagnostic).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import yaml

from csi_research.errors import ModelSpecError
from csi_research.model import DEFAULT_PATHS, CSIModel
from csi_research.yamlfile import read_yaml

# Constructs of the standard CSI model whose aspects a company changes directly; the assumption for
# a sub-indicator that carries no ``actionable`` mark (Image, Expectation, Satisfaction and Loyalty
# are context or outcomes: they move when the service does, not by themselves).
FALLBACK_ACTIONABLE_CONSTRUCTS = ("Quality", "Value", "Complaints")


@dataclass(frozen=True)
class Scale:
    """An answer scale: its valid codes, their bilingual labels and their grade scores (0–100).

    ``to_100`` is the ACSI-style linear rescale; ``grade_score`` uses the scale's own scores,
    which for the power-industry semantic scale are deliberately uneven (0/40/60/80/100).
    """

    name: str
    codes: tuple[int, ...]
    labels_zh: tuple[str, ...]
    labels_en: tuple[str, ...]
    grade_scores: tuple[float, ...]

    def __post_init__(self) -> None:
        self.validate()

    @property
    def min(self) -> int:
        return self.codes[0]

    @property
    def max(self) -> int:
        return self.codes[-1]

    @property
    def span(self) -> str:
        """``"1–10"`` as used in messages."""
        return f"{self.min}–{self.max}"

    def validate(self) -> None:
        """Check the scale is self-consistent (raises ModelSpecError naming the problem)."""
        where = f"scale {self.name}"
        if len(self.codes) < 2 or list(self.codes) != sorted(set(self.codes)):
            raise ModelSpecError(
                f"{where}: codes {list(self.codes)} must be at least two increasing integers"
            )
        for field_name in ("labels_zh", "labels_en", "grade_scores"):
            if len(getattr(self, field_name)) != len(self.codes):
                raise ModelSpecError(
                    f"{where}: {field_name} has {len(getattr(self, field_name))} entries "
                    f"for {len(self.codes)} codes"
                )
        scores = np.asarray(self.grade_scores, dtype=float)
        if np.any(scores < 0) or np.any(scores > 100) or np.any(np.diff(scores) <= 0):
            raise ModelSpecError(
                f"{where}: grade_scores {list(self.grade_scores)} must increase within 0–100"
            )

    def is_code(self, values: Any) -> np.ndarray:
        """Boolean mask: which values are valid codes of this scale (NaN is not)."""
        return np.isin(np.asarray(values, dtype=float), self.codes)

    def to_100(self, values: Any) -> np.ndarray:
        """Linear rescale of raw codes from [min, max] to [0, 100]; NaN stays NaN."""
        x = np.asarray(values, dtype=float)
        return (x - self.min) / (self.max - self.min) * 100.0

    def grade_score(self, values: Any) -> np.ndarray:
        """Each code's grade score; NaN stays NaN; a value that is not a code is an error."""
        x = np.asarray(values, dtype=float)
        observed = ~np.isnan(x)
        bad = observed & ~self.is_code(x)
        if bad.any():
            raise ValueError(f"value {x[bad][0]:g} is not a code of the {self.span} scale {self.name}")
        out = np.full(x.shape, np.nan)
        out[observed] = np.asarray(self.grade_scores)[np.searchsorted(self.codes, x[observed])]
        return out

    @classmethod
    def linear(cls, name: str, codes: Sequence[int], labels_zh: Sequence[str] | None = None,
               labels_en: Sequence[str] | None = None) -> Scale:
        """A scale whose grade scores are the linear 0–100 rescale (ACSI/ECSI numeric scales)."""
        codes = tuple(int(c) for c in codes)
        lo, hi = codes[0], codes[-1]
        return cls(
            name,
            codes,
            tuple(labels_zh or (str(c) for c in codes)),
            tuple(labels_en or (str(c) for c in codes)),
            tuple((c - lo) / (hi - lo) * 100.0 for c in codes),
        )


@dataclass(frozen=True)
class Item:
    """One questionnaire item (level 4 of the indicator system)."""

    id: str
    construct: str
    subindicator: str
    text_zh: str
    text_en: str
    scale: str
    reverse: bool = False
    missing_codes: tuple[int, ...] = ()


@dataclass(frozen=True)
class Attribute:
    """A respondent attribute (segment). Empty ``categories`` means any value is accepted."""

    id: str
    label_zh: str
    label_en: str
    categories: Mapping[str, tuple[str, str]] = field(default_factory=lambda: MappingProxyType({}))

    def lookup(self) -> dict[str, str]:
        """Accepted spellings → category code: the code itself and its zh/en labels."""
        table: dict[str, str] = {}
        for code, (zh, en) in self.categories.items():
            table.update({code: code, zh: code, en: code})
        return table


@dataclass(frozen=True)
class Measure:
    """One improvement measure (改进措施) in both languages.

    ``items`` limits it to some items of its sub-indicator (empty: all of them); ``kpis`` are ids of
    internal indicators that track whether it works.
    """

    zh: str
    en: str
    items: tuple[str, ...] = ()
    kpis: tuple[str, ...] = ()

    def applies_to(self, item_id: str) -> bool:
        return not self.items or item_id in self.items


@dataclass(frozen=True)
class Subindicator:
    """A level-3 indicator (e.g. fault repair) grouping items of one construct.

    ``actionable`` is True for a service aspect the company can change, False for context or an
    outcome, None when the codebook does not say (then :data:`FALLBACK_ACTIONABLE_CONSTRUCTS`
    decides). ``kpis`` track every item of the sub-indicator; measures may add their own.
    """

    id: str
    construct: str
    label_zh: str
    label_en: str
    actionable: bool | None = None
    measures: tuple[Measure, ...] = ()
    kpis: tuple[str, ...] = ()


@dataclass(frozen=True)
class Codebook:
    """Scales, items, attributes and sub-indicators of one questionnaire."""

    name: str
    scales: Mapping[str, Scale]
    constructs: Mapping[str, tuple[str, str]]  # construct → (zh, en) label, in model order
    subindicators: Mapping[str, Subindicator]
    items: tuple[Item, ...]
    attributes: tuple[Attribute, ...]
    id_column: str = "respondent_id"

    def __post_init__(self) -> None:
        _check(self)

    # ---------------------------------------------------------------- constructors
    @classmethod
    def default(cls) -> Codebook:
        """The built-in power-supply questionnaire (7 constructs, 30 items, semantic 5-level scale)."""
        text = resources.files("csi_research").joinpath("resources", "codebook_default.yaml").read_text(
            "utf-8"
        )
        return cls.from_dict(yaml.safe_load(text), source="codebook_default.yaml")

    @classmethod
    def from_yaml(cls, path: str | Path) -> Codebook:
        return cls.from_dict(read_yaml(path, "codebook"), source=str(path))

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], source: str = "codebook") -> Codebook:
        """Build from the YAML layout written by :meth:`to_dict`."""
        required = {"scales", "constructs", "subindicators", "items"}
        if not isinstance(spec, Mapping) or not required <= set(spec):
            raise ModelSpecError(f"{source}: a codebook needs the keys {sorted(required)}")
        try:
            scales = {name: _scale_from(name, s) for name, s in spec["scales"].items()}
            constructs = {n: (c["label_zh"], c["label_en"]) for n, c in spec["constructs"].items()}
            subs = {sid: _subindicator_from(str(sid), s) for sid, s in spec["subindicators"].items()}
            items = tuple(_item_from(i) for i in spec["items"])
            attributes = tuple(
                Attribute(
                    a["id"], a["label_zh"], a["label_en"],
                    MappingProxyType({str(k): (v[0], v[1]) for k, v in (a.get("categories") or {}).items()}),
                )
                for a in spec.get("attributes") or ()
            )
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            raise ModelSpecError(
                f"{source}: malformed codebook entry ({type(exc).__name__}: {exc})"
            ) from None
        except ModelSpecError as exc:
            raise ModelSpecError(f"{source}: {exc}") from None
        try:
            return cls(
                name=str(spec.get("name", "codebook")), scales=MappingProxyType(scales),
                constructs=MappingProxyType(constructs), subindicators=MappingProxyType(subs),
                items=items, attributes=attributes, id_column=str(spec.get("id_column", "respondent_id")),
            )
        except ModelSpecError as exc:
            raise ModelSpecError(f"{source}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id_column": self.id_column,
            "scales": {
                n: {"codes": list(s.codes), "labels_zh": list(s.labels_zh), "labels_en": list(s.labels_en),
                    "grade_scores": list(s.grade_scores)}
                for n, s in self.scales.items()
            },
            "constructs": {n: {"label_zh": zh, "label_en": en} for n, (zh, en) in self.constructs.items()},
            "subindicators": {s.id: _subindicator_dict(s) for s in self.subindicators.values()},
            "items": [
                {"id": i.id, "construct": i.construct, "subindicator": i.subindicator, "scale": i.scale,
                 "reverse": i.reverse, "missing_codes": list(i.missing_codes),
                 "text_zh": i.text_zh, "text_en": i.text_en}
                for i in self.items
            ],
            "attributes": [
                {"id": a.id, "label_zh": a.label_zh, "label_en": a.label_en,
                 "categories": {k: list(v) for k, v in a.categories.items()}}
                for a in self.attributes
            ],
        }

    def to_yaml(self, path: str | Path | None = None) -> str:
        """Serialise to YAML; write to ``path`` too when given."""
        text = yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False, width=1000)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    # ---------------------------------------------------------------- look-ups
    @property
    def item_ids(self) -> list[str]:
        return [i.id for i in self.items]

    @property
    def attribute_ids(self) -> list[str]:
        return [a.id for a in self.attributes]

    def item(self, item_id: str) -> Item:
        for i in self.items:
            if i.id == item_id:
                return i
        raise KeyError(f"no item {item_id!r} in codebook {self.name}; items: {', '.join(self.item_ids)}")

    def items_of(self, construct: str) -> list[Item]:
        return [i for i in self.items if i.construct == construct]

    def scale_of(self, item_id: str) -> Scale:
        return self.scales[self.item(item_id).scale]

    def subindicator_of(self, item_id: str) -> Subindicator:
        return self.subindicators[self.item(item_id).subindicator]

    def is_actionable(self, item_id: str) -> bool:
        """Whether the item measures a service aspect the company can change (see the module doc)."""
        sub = self.subindicator_of(item_id)
        if sub.actionable is None:
            return sub.construct in FALLBACK_ACTIONABLE_CONSTRUCTS
        return sub.actionable

    @property
    def unmarked_subindicators(self) -> list[str]:
        """Sub-indicators without an ``actionable`` mark (their actionability is assumed)."""
        return [s.id for s in self.subindicators.values() if s.actionable is None]

    def measures_for(self, item_id: str) -> list[Measure]:
        """The improvement measures of the item's sub-indicator that apply to this item."""
        return [m for m in self.subindicator_of(item_id).measures if m.applies_to(item_id)]

    def kpis_for(self, item_id: str) -> list[str]:
        """Internal indicators tracking the item: its sub-indicator's, then its measures', once each."""
        sub = self.subindicator_of(item_id)
        ids = [*sub.kpis, *(k for m in self.measures_for(item_id) for k in m.kpis)]
        return list(dict.fromkeys(ids))

    def model(self) -> CSIModel:
        """The CSIModel of this questionnaire's constructs with the standard CSI paths among them."""
        blocks = {c: [i.id for i in self.items_of(c)] for c in self.constructs}
        paths = [(s, t) for s, t in DEFAULT_PATHS if s in blocks and t in blocks]
        return CSIModel(blocks, paths, labels=dict(self.constructs))


def _scale_from(name: str, spec: Mapping[str, Any]) -> Scale:
    codes = [int(c) for c in spec["codes"]]
    if "grade_scores" not in spec:
        return Scale.linear(name, codes, spec.get("labels_zh"), spec.get("labels_en"))
    return Scale(
        name, tuple(codes),
        tuple(spec.get("labels_zh") or (str(c) for c in codes)),
        tuple(spec.get("labels_en") or (str(c) for c in codes)),
        tuple(float(g) for g in spec["grade_scores"]),
    )


ITEM_KEYS = ("id", "construct", "subindicator", "scale", "reverse", "missing_codes", "text_zh", "text_en")


def _item_from(spec: Mapping[str, Any]) -> Item:
    # unknown keys are refused: an unquoted comma in a YAML flow mapping ({text_en: a, b}) silently
    # cuts the text and turns the rest into a key
    unknown = [str(k) for k in spec if k not in ITEM_KEYS]
    if unknown:
        raise ModelSpecError(
            f"item {spec.get('id', '?')}: unknown key(s) {unknown}; allowed: {', '.join(ITEM_KEYS)} "
            "(quote a text that contains a comma)"
        )
    return Item(
        id=str(spec["id"]), construct=spec["construct"], subindicator=spec["subindicator"],
        text_zh=spec.get("text_zh", ""), text_en=spec.get("text_en", ""), scale=spec["scale"],
        reverse=bool(spec.get("reverse", False)),
        missing_codes=tuple(int(c) for c in spec.get("missing_codes") or ()),
    )


def _subindicator_from(sid: str, spec: Mapping[str, Any]) -> Subindicator:
    """One ``subindicators`` entry; errors name the sub-indicator, the key and the bad value."""
    where = f"sub-indicator {sid}"
    if not isinstance(spec, Mapping):
        raise ModelSpecError(f"{where}: expected a mapping with construct, label_zh, label_en, not {spec!r}")
    unknown = set(spec) - {"construct", "label_zh", "label_en", "actionable", "measures", "kpis"}
    if unknown:
        raise ModelSpecError(
            f"{where}: unknown key(s) {sorted(unknown)}; allowed: construct, label_zh, label_en, "
            "actionable, measures, kpis"
        )
    actionable = spec.get("actionable")
    if actionable is not None and not isinstance(actionable, bool):
        raise ModelSpecError(f"{where}: actionable must be true or false, not {actionable!r}")
    measures = spec.get("measures") or []
    if not isinstance(measures, list):
        raise ModelSpecError(f"{where}: measures must be a list of {{zh, en, items, kpis}}, not {measures!r}")
    return Subindicator(
        sid, spec["construct"], spec["label_zh"], spec["label_en"], actionable,
        tuple(_measure_from(f"{where}: measure {k + 1}", m) for k, m in enumerate(measures)),
        _ids(f"{where}: kpis", spec.get("kpis")),
    )


def _measure_from(where: str, spec: Any) -> Measure:
    if not isinstance(spec, Mapping):
        raise ModelSpecError(f"{where}: a measure is a mapping with zh, en (and items, kpis), not {spec!r}")
    unknown = set(spec) - {"zh", "en", "items", "kpis"}
    if unknown:
        raise ModelSpecError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: zh, en, items, kpis")
    for key in ("zh", "en"):
        if not isinstance(spec.get(key), str) or not spec[key].strip():
            raise ModelSpecError(f"{where}: {key} must be a non-empty text, not {spec.get(key)!r}")
    return Measure(spec["zh"].strip(), spec["en"].strip(), _ids(f"{where}: items", spec.get("items")),
                   _ids(f"{where}: kpis", spec.get("kpis")))


def _ids(where: str, value: Any) -> tuple[str, ...]:
    """A list of ids (a single id is accepted too); anything else is an error naming ``where``."""
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise ModelSpecError(f"{where} must be a list of ids, not {value!r}")
    return tuple(v.strip() for v in values)


def _subindicator_dict(sub: Subindicator) -> dict[str, Any]:
    out: dict[str, Any] = {"construct": sub.construct, "label_zh": sub.label_zh, "label_en": sub.label_en}
    if sub.actionable is not None:
        out["actionable"] = sub.actionable
    if sub.kpis:
        out["kpis"] = list(sub.kpis)
    if sub.measures:
        out["measures"] = [
            {"zh": m.zh, "en": m.en, **({"items": list(m.items)} if m.items else {}),
             **({"kpis": list(m.kpis)} if m.kpis else {})}
            for m in sub.measures
        ]
    return out


def _check(book: Codebook) -> None:
    """Cross-references must resolve: every item names a known construct, sub-indicator and scale."""
    seen: set[str] = set()
    for item in book.items:
        if item.id in seen:
            raise ModelSpecError(f"item {item.id} is listed twice")
        seen.add(item.id)
        if item.construct not in book.constructs:
            raise ModelSpecError(
                f"item {item.id}: unknown construct {item.construct}; known: {', '.join(book.constructs)}"
            )
        sub = book.subindicators.get(item.subindicator)
        if sub is None:
            raise ModelSpecError(
                f"item {item.id}: unknown sub-indicator {item.subindicator}; "
                f"known: {', '.join(book.subindicators)}"
            )
        if sub.construct != item.construct:
            raise ModelSpecError(
                f"item {item.id} measures {item.construct} but its sub-indicator {sub.id} "
                f"belongs to {sub.construct}"
            )
        if item.scale not in book.scales:
            raise ModelSpecError(
                f"item {item.id}: unknown scale {item.scale}; known: {', '.join(book.scales)}"
            )
        clash = set(item.missing_codes) & set(book.scales[item.scale].codes)
        if clash:
            raise ModelSpecError(f"item {item.id}: missing code(s) {sorted(clash)} are also answer codes")
    for sub in book.subindicators.values():
        if sub.construct not in book.constructs:
            raise ModelSpecError(
                f"sub-indicator {sub.id}: unknown construct {sub.construct}; "
                f"known: {', '.join(book.constructs)}"
            )
        if sub.measures and sub.actionable is False:
            raise ModelSpecError(
                f"sub-indicator {sub.id} has measures but actionable: false; mark it actionable: true "
                "or move the measures to an actionable sub-indicator"
            )
        for k, measure in enumerate(sub.measures, start=1):
            for item_id in measure.items:
                if item_id not in seen:
                    raise ModelSpecError(
                        f"sub-indicator {sub.id}: measure {k} names unknown item {item_id}; "
                        f"items: {', '.join(book.item_ids)}"
                    )
                owner = next(i.subindicator for i in book.items if i.id == item_id)
                if owner != sub.id:
                    raise ModelSpecError(
                        f"sub-indicator {sub.id}: measure {k} names item {item_id}, which belongs to "
                        f"sub-indicator {owner}; list the measure under {owner}"
                    )
    names = [book.id_column, *book.attribute_ids]
    overlap = (set(names) & seen) | {n for n in names if names.count(n) > 1}
    if overlap:
        raise ModelSpecError(f"column name(s) {sorted(overlap)} are used twice (items/attributes/id column)")
