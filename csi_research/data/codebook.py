"""The questionnaire as data: answer scales, items, respondent attributes, sub-indicators.

A :class:`Codebook` is what turns a raw survey file into a checked frame: it says which
columns exist, which codes are valid answers, which codes mean "don't know", which items are
reverse-coded and where each item sits in the four-level indicator system (CSI → construct →
sub-indicator → item). The built-in power-supply questionnaire lives in
``resources/codebook_default.yaml``; users edit a copy for their own questionnaire.

Sub-indicators also say what a company can do about them: ``actionable`` marks the service
aspects a company can change (supply quality, channels, fees, complaint handling …) as opposed
to context (image, expectation) and outcomes (satisfaction, loyalty); only actionable aspects are
ranked as weak links (:mod:`csi_research.stats.ipma`). ``measures`` are bilingual improvement measures
(改进措施), optionally limited to some of the sub-indicator's items, and ``kpis`` name internal
indicators (``resources/internal_indicators.yaml``) that track them. A sub-indicator without an
``actionable`` mark is assumed actionable when its construct is one of
:data:`FALLBACK_ACTIONABLE_CONSTRUCTS` (the IPMA result says so in a diagnostic).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import yaml

from csi_research.core.errors import ModelSpecError
from csi_research.core.yamlfile import find_todo, find_todo_value, load_yaml, names, parse_yaml, short
from csi_research.model import DEFAULT_PATHS, CSIModel

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
                f"{where}: codes {short(list(self.codes))} must be at least two increasing integers"
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
                f"{where}: grade_scores {short(list(self.grade_scores))} must increase within 0–100"
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
        return cls.from_dict(parse_yaml(text), source="codebook_default.yaml")

    @classmethod
    def from_yaml(cls, path: str | Path) -> Codebook:
        """Read a codebook file; every error names the file (and the line of a TODO left in it)."""
        spec, text = load_yaml(path, "codebook")
        todo = find_todo(text) if isinstance(spec, Mapping) else None
        if todo:
            line, key, value = todo
            raise ModelSpecError(f"{path}: line {line}: {_todo_message(key, value)}")
        return cls.from_dict(spec, source=str(path))

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], source: str = "codebook") -> Codebook:
        """Build from the YAML layout written by :meth:`to_dict`.

        Every error is a :class:`ModelSpecError` starting with ``source`` (the file) and naming the
        entry, the key, the bad value and what is allowed.
        """
        required = ("scales", "constructs", "subindicators", "items")
        if spec is None:
            raise ModelSpecError(
                f"{source}: the codebook is empty; it needs the keys {', '.join(required)} "
                "(copy resources/codebook_default.yaml and edit it)"
            )
        if not isinstance(spec, Mapping):
            raise ModelSpecError(
                f"{source}: a codebook must be a mapping with the keys {', '.join(required)}, "
                f"not {short(spec)}"
            )
        missing = [k for k in required if k not in spec]
        if missing:
            raise ModelSpecError(
                f"{source}: a codebook needs the keys {sorted(required)}; missing: {', '.join(missing)}"
            )
        unknown = [str(k) for k in spec if k not in CODEBOOK_KEYS]
        if unknown:
            raise ModelSpecError(f"{source}: unknown key(s) {unknown}; allowed: {', '.join(CODEBOOK_KEYS)}")
        todo = find_todo_value(spec)
        if todo:
            raise ModelSpecError(f"{source}: {_todo_message(*todo)}")
        try:
            scales = {name: _scale_from(name, s) for name, s in _section(spec, "scales", Mapping).items()}
            constructs = {
                str(n): _construct_from(n, c) for n, c in _section(spec, "constructs", Mapping).items()
            }
            subs = {
                str(sid): _subindicator_from(str(sid), s)
                for sid, s in _section(spec, "subindicators", Mapping).items()
            }
            items = tuple(_item_from(k, i) for k, i in enumerate(_section(spec, "items", list), start=1))
            attributes = tuple(
                _attribute_from(k, a)
                for k, a in enumerate(_section(spec, "attributes", list, required=False) or [], start=1)
            )
            name = _text(spec.get("name", "codebook"), "name")
            id_column = _text(spec.get("id_column", "respondent_id"), "id_column")
            return cls(
                name=name, scales=MappingProxyType(scales),
                constructs=MappingProxyType(constructs), subindicators=MappingProxyType(subs),
                items=items, attributes=attributes, id_column=id_column,
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


CODEBOOK_KEYS = ("name", "id_column", "scales", "constructs", "subindicators", "items", "attributes")
SCALE_KEYS = ("codes", "labels_zh", "labels_en", "grade_scores")
ITEM_KEYS = ("id", "construct", "subindicator", "scale", "reverse", "missing_codes", "text_zh", "text_en")
ATTRIBUTE_KEYS = ("id", "label_zh", "label_en", "categories")
SUBINDICATOR_KEYS = ("construct", "label_zh", "label_en", "actionable", "measures", "kpis")
_SECTIONS = {
    "scales": "a mapping of scale name -> {codes, labels_zh, labels_en, grade_scores}",
    "constructs": "a mapping of construct name -> {label_zh, label_en}",
    "subindicators": "a mapping of sub-indicator id -> {construct, label_zh, label_en, ...}",
    "items": "a list of items, each {id, construct, subindicator, scale, ...}",
    "attributes": "a list of respondent attributes, each {id, label_zh, label_en, categories}",
}


def _todo_message(key: str, value: str) -> str:
    return (
        f"{key} is still {short(value)}: new-study left it for you to fill in (or delete the entry); "
        "the codebook is not used until no TODO is left"
    )


def _section(spec: Mapping[str, Any], key: str, kind: type, required: bool = True) -> Any:
    """A top-level section of the expected kind; empty or missing ones are errors when required."""
    value = spec.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, kind):
        raise ModelSpecError(f"{key} must be {_SECTIONS[key]}, not {short(value)}")
    if not value and required:
        raise ModelSpecError(f"{key} is empty; it must be {_SECTIONS[key]}")
    return value


def _text(value: Any, where: str, required: bool = True) -> str:
    """A non-empty text (a YAML number such as 2025 is taken as its text)."""
    if value is None and not required:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float) or not str(value).strip():
        raise ModelSpecError(f"{where} must be a non-empty text, not {short(value)}")
    return str(value).strip()


def _keys(where: str, spec: Any, allowed: Sequence[str], required: Sequence[str], example: str) -> None:
    """``spec`` is a mapping with every required key and no unknown one."""
    if not isinstance(spec, Mapping):
        raise ModelSpecError(f"{where}: expected a mapping such as {example}, not {short(spec)}")
    unknown = [str(k) for k in spec if k not in allowed]
    if unknown:
        raise ModelSpecError(f"{where}: unknown key(s) {unknown}; allowed: {', '.join(allowed)}")
    missing = [k for k in required if spec.get(k) is None]
    if missing:
        raise ModelSpecError(f"{where}: missing key(s) {', '.join(missing)}; e.g. {example}")


def _integers(where: str, value: Any, example: str) -> list[int]:
    """A list of integer codes (2.0 is 2; true, 2.5 and '1-5' are refused)."""
    ok = isinstance(value, list) and all(
        not isinstance(v, bool) and (isinstance(v, int) or (isinstance(v, float) and v.is_integer()))
        for v in value
    )
    if not ok:
        hint = ""
        if isinstance(value, str) and (m := re.fullmatch(r"\s*(-?\d+)\s*[-–~]\s*(-?\d+)\s*", value)):
            lo, hi = int(m[1]), int(m[2])
            if 0 < hi - lo < 20:
                hint = f" (write {value.strip()} as {list(range(lo, hi + 1))})"
        raise ModelSpecError(
            f"{where} must be a list of integers such as {example}, not {short(value)}{hint}"
        )
    return [int(v) for v in value]


def _labels(where: str, value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(
            isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
        raise ModelSpecError(f"{where} must be a list of texts, one per code, not {short(value)}")
    return [str(v) for v in value]


def _scale_from(name: Any, spec: Any) -> Scale:
    where = f"scale {name}"
    _keys(where, spec, SCALE_KEYS, ("codes",), "{codes: [1, 2, 3, 4, 5]}")
    codes = _integers(f"{where}: codes", spec["codes"], "[1, 2, 3, 4, 5]")
    if len(codes) < 2 or codes != sorted(set(codes)):  # checked here: the linear rescale divides by max-min
        raise ModelSpecError(f"{where}: codes {short(codes)} must be at least two increasing integers")
    labels_zh = _labels(f"{where}: labels_zh", spec.get("labels_zh"))
    labels_en = _labels(f"{where}: labels_en", spec.get("labels_en"))
    if spec.get("grade_scores") is None:
        return Scale.linear(str(name), codes, labels_zh, labels_en)
    scores = spec["grade_scores"]
    if not isinstance(scores, list) or not all(
            isinstance(g, int | float) and not isinstance(g, bool) for g in scores):
        raise ModelSpecError(
            f"{where}: grade_scores must be a list of numbers within 0–100 such as [0, 40, 60, 80, 100], "
            f"not {short(scores)}"
        )
    return Scale(
        str(name), tuple(codes),
        tuple(labels_zh or (str(c) for c in codes)),
        tuple(labels_en or (str(c) for c in codes)),
        tuple(float(g) for g in scores),
    )


def _construct_from(name: Any, spec: Any) -> tuple[str, str]:
    where = f"construct {name}"
    keys = ("label_zh", "label_en")
    _keys(where, spec, keys, keys, "{label_zh: 企业形象, label_en: Image}")
    return _text(spec["label_zh"], f"{where}: label_zh"), _text(spec["label_en"], f"{where}: label_en")


def _item_from(position: int, spec: Any) -> Item:
    where = f"item {spec.get('id')}" if isinstance(spec, Mapping) and spec.get("id") is not None else (
        f"item {position}")
    if isinstance(spec, Mapping):
        # unknown keys are refused: an unquoted comma in a YAML flow mapping ({text_en: a, b}) silently
        # cuts the text and turns the rest into a key
        unknown = [str(k) for k in spec if k not in ITEM_KEYS]
        if unknown:
            raise ModelSpecError(
                f"{where}: unknown key(s) {unknown}; allowed: {', '.join(ITEM_KEYS)} "
                "(quote a text that contains a comma)"
            )
    _keys(where, spec, ITEM_KEYS, ("id", "construct", "subindicator", "scale"),
          "{id: QUA1, construct: Quality, subindicator: supply_quality, scale: semantic5}")
    reverse = spec.get("reverse", False)
    if not isinstance(reverse, bool):  # bool("false") is True: a quoted flag must not flip an item
        raise ModelSpecError(f"{where}: reverse must be true or false, not {short(reverse)}")
    missing = spec.get("missing_codes")
    return Item(
        id=_text(spec["id"], f"{where}: id"),
        construct=_text(spec["construct"], f"{where}: construct"),
        subindicator=_text(spec["subindicator"], f"{where}: subindicator"),
        text_zh=_text(spec.get("text_zh"), f"{where}: text_zh", required=False),
        text_en=_text(spec.get("text_en"), f"{where}: text_en", required=False),
        scale=_text(spec["scale"], f"{where}: scale"),
        reverse=reverse,
        missing_codes=tuple(_integers(f"{where}: missing_codes", missing, "[9, 99]") if missing else ()),
    )


def _attribute_from(position: int, spec: Any) -> Attribute:
    where = f"attribute {spec.get('id')}" if isinstance(spec, Mapping) and spec.get("id") is not None else (
        f"attribute {position}")
    _keys(where, spec, ATTRIBUTE_KEYS, ("id", "label_zh", "label_en"),
          "{id: area, label_zh: 城乡, label_en: Area, categories: {urban: [城市, urban]}}")
    categories = spec.get("categories") or {}
    if not isinstance(categories, Mapping):
        raise ModelSpecError(
            f"{where}: categories must map each code to [chinese, english] labels such as "
            f"{{urban: [城市, urban]}}, not {short(categories)}"
        )
    table = {}
    for code, labels in categories.items():
        if not isinstance(labels, list) or len(labels) != 2 or not all(
                isinstance(v, str | int) and not isinstance(v, bool) and str(v).strip() for v in labels):
            raise ModelSpecError(
                f"{where}: category {code} must have [chinese, english] labels such as [城市, urban], "
                f"not {short(labels)}"
            )
        table[str(code)] = (str(labels[0]), str(labels[1]))
    return Attribute(
        _text(spec["id"], f"{where}: id"), _text(spec["label_zh"], f"{where}: label_zh"),
        _text(spec["label_en"], f"{where}: label_en"), MappingProxyType(table),
    )


def _subindicator_from(sid: str, spec: Mapping[str, Any]) -> Subindicator:
    """One ``subindicators`` entry; errors name the sub-indicator, the key and the bad value."""
    where = f"sub-indicator {sid}"
    if not isinstance(spec, Mapping):
        raise ModelSpecError(
            f"{where}: expected a mapping with construct, label_zh, label_en, not {short(spec)}"
        )
    _keys(where, spec, SUBINDICATOR_KEYS, ("construct", "label_zh", "label_en"),
          "{construct: Quality, label_zh: 供电质量, label_en: Supply quality, actionable: true}")
    actionable = spec.get("actionable")
    if actionable is not None and not isinstance(actionable, bool):
        raise ModelSpecError(f"{where}: actionable must be true or false, not {short(actionable)}")
    measures = spec.get("measures") or []
    if not isinstance(measures, list):
        raise ModelSpecError(
            f"{where}: measures must be a list of {{zh, en, items, kpis}}, not {short(measures)}"
        )
    return Subindicator(
        sid, _text(spec["construct"], f"{where}: construct"), _text(spec["label_zh"], f"{where}: label_zh"),
        _text(spec["label_en"], f"{where}: label_en"), actionable,
        tuple(_measure_from(f"{where}: measure {k + 1}", m) for k, m in enumerate(measures)),
        _ids(f"{where}: kpis", spec.get("kpis")),
    )


def _measure_from(where: str, spec: Any) -> Measure:
    if not isinstance(spec, Mapping):
        raise ModelSpecError(
            f"{where}: a measure is a mapping with zh, en (and items, kpis), not {short(spec)}"
        )
    unknown = set(spec) - {"zh", "en", "items", "kpis"}
    if unknown:
        raise ModelSpecError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: zh, en, items, kpis")
    for key in ("zh", "en"):
        if not isinstance(spec.get(key), str) or not spec[key].strip():
            raise ModelSpecError(f"{where}: {key} must be a non-empty text, not {short(spec.get(key))}")
    return Measure(spec["zh"].strip(), spec["en"].strip(), _ids(f"{where}: items", spec.get("items")),
                   _ids(f"{where}: kpis", spec.get("kpis")))


def _ids(where: str, value: Any) -> tuple[str, ...]:
    """A list of ids (a single id is accepted too); anything else is an error naming ``where``."""
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise ModelSpecError(f"{where} must be a list of ids, not {short(value)}")
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
                f"item {item.id}: unknown construct {item.construct}; known: {names(book.constructs)}"
            )
        sub = book.subindicators.get(item.subindicator)
        if sub is None:
            raise ModelSpecError(
                f"item {item.id}: unknown sub-indicator {item.subindicator}; "
                f"known: {names(book.subindicators)}"
            )
        if sub.construct != item.construct:
            raise ModelSpecError(
                f"item {item.id} measures {item.construct} but its sub-indicator {sub.id} "
                f"belongs to {sub.construct}"
            )
        if item.scale not in book.scales:
            raise ModelSpecError(
                f"item {item.id}: unknown scale {item.scale}; known: {names(book.scales)}"
            )
        clash = set(item.missing_codes) & set(book.scales[item.scale].codes)
        if clash:
            raise ModelSpecError(
                f"item {item.id}: missing code(s) {sorted(clash)} are also answer codes of scale "
                f"{item.scale} ({book.scales[item.scale].span}); a \"don't know\" code must lie outside "
                "the scale, e.g. 9 or 99"
            )
    for sub in book.subindicators.values():
        if sub.construct not in book.constructs:
            raise ModelSpecError(
                f"sub-indicator {sub.id}: unknown construct {sub.construct}; "
                f"known: {names(book.constructs)}"
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
                        f"items: {names(book.item_ids)}"
                    )
                owner = next(i.subindicator for i in book.items if i.id == item_id)
                if owner != sub.id:
                    raise ModelSpecError(
                        f"sub-indicator {sub.id}: measure {k} names item {item_id}, which belongs to "
                        f"sub-indicator {owner}; list the measure under {owner}"
                    )
    columns = [book.id_column, *book.attribute_ids]
    overlap = (set(columns) & seen) | {n for n in columns if columns.count(n) > 1}
    if overlap:
        raise ModelSpecError(f"column name(s) {sorted(overlap)} are used twice (items/attributes/id column)")
