"""The questionnaire as data: answer scales, items, respondent attributes, sub-indicators.

A :class:`Codebook` is what turns a raw survey file into a checked frame: it says which
columns exist, which codes are valid answers, which codes mean "don't know", which items are
reverse-coded and where each item sits in the four-level indicator system (CSI → construct →
sub-indicator → item). The built-in power-supply questionnaire lives in
``resources/codebook_default.yaml``; users edit a copy for their own questionnaire.
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
class Subindicator:
    """A level-3 indicator (e.g. fault repair) grouping items of one construct."""

    id: str
    construct: str
    label_zh: str
    label_en: str


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
            subs = {
                sid: Subindicator(sid, s["construct"], s["label_zh"], s["label_en"])
                for sid, s in spec["subindicators"].items()
            }
            items = tuple(
                Item(
                    id=str(i["id"]), construct=i["construct"], subindicator=i["subindicator"],
                    text_zh=i.get("text_zh", ""), text_en=i.get("text_en", ""), scale=i["scale"],
                    reverse=bool(i.get("reverse", False)),
                    missing_codes=tuple(int(c) for c in i.get("missing_codes") or ()),
                )
                for i in spec["items"]
            )
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
            "subindicators": {
                s.id: {"construct": s.construct, "label_zh": s.label_zh, "label_en": s.label_en}
                for s in self.subindicators.values()
            },
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
    names = [book.id_column, *book.attribute_ids]
    overlap = (set(names) & seen) | {n for n in names if names.count(n) > 1}
    if overlap:
        raise ModelSpecError(f"column name(s) {sorted(overlap)} are used twice (items/attributes/id column)")
