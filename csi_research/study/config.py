"""``study.yaml``: what one regional study is, validated strictly.

Unknown keys are errors (a typo must not silently fall back to a default) and every path is
resolved relative to the study file, so a study folder can be moved or shared as a whole.
Every value is checked when the file is read, against the same registry (``options``) the
estimators use, so a bad study fails at once, naming the file, the key and what is allowed,
rather than minutes into a run.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from csi_research.core import options
from csi_research.core.errors import ModelSpecError
from csi_research.core.yamlfile import read_yaml
from csi_research.model import HOC_METHODS

# section -> key -> default; REQUIRED keys must be given a value
REQUIRED = object()
SCHEMA: dict[str, Any] = {
    "region": {"id": REQUIRED, "name_zh": REQUIRED, "name_en": REQUIRED},
    "wave": REQUIRED,
    "synthetic": False,
    "data": REQUIRED,
    "sheet": None,
    "missing_codes": [],
    "extra_columns": "keep",
    "codebook": "default",
    "model": "default",
    "estimation": {"scheme": options.SCHEMES[0], "scaled": True, "missing": options.DEFAULT_MISSING,
                   "cbsem": True, "cbsem_estimator": options.ESTIMATORS[0]},
    "bootstrap": {"n_boot": 2000, "quick_n_boot": 200, "ci": options.DEFAULT_CI},
    "seed": REQUIRED,
    "segments": [],
    "moderation": [],  # [{predictor, moderator, target}]: two-stage moderation analyses (stats.moderation)
    "higher_order": [],  # [{construct, components, method, mode}]: higher-order constructs
    "index_target": 80.0,
    # the programme's headline figures (stats.headline): items and top grades; null = the defaults
    "headline": dict.fromkeys(("satisfaction_item", "recommendation_item", "top_grades")),
    "weighting": None,
    "industry_evaluation": None,
    "internal_indicators": None,
    "service_records": None,  # 95598 work orders of the surveyed customers (csi_research.records), or null
    "description": "",
    "language": "zh",
    "place": None,  # the region's position in the province → city → county hierarchy (programme.rollup)
    "customers": None,  # the region's customer count: its weight when regions are aggregated
    "weight": None,  # {customers: N} and/or {sales_gwh: X}, the general form of customers
}
WEIGHTING_SCHEMA: dict[str, Any] = {"by": REQUIRED, "population_shares": REQUIRED}
WEIGHTING_EXAMPLE = "{by: customer_class, population_shares: {residential: 0.85, business: 0.15}}"


@dataclass(frozen=True)
class StudyConfig:
    """A validated regional study definition (see ``studies/*/study.yaml``)."""

    path: Path
    study_id: str
    region_id: str
    region_zh: str
    region_en: str
    wave: str
    synthetic: bool
    data: Path
    codebook: Path | None
    model: Path | None
    scheme: str
    scaled: bool
    missing: str
    cbsem: bool
    cbsem_estimator: str
    n_boot: int
    quick_n_boot: int
    ci: float
    seed: int
    segments: tuple[str, ...]
    index_target: float
    weighting: Mapping[str, Any] | None = None
    industry_evaluation: Mapping[str, Any] | None = None
    internal_indicators: Path | str | None = None
    service_records: Path | None = None
    description: str | Mapping[str, str] = ""  # one text, or {zh: ..., en: ...}
    language: str = "zh"
    sheet: str | int | None = None
    missing_codes: tuple[int, ...] = ()
    extra_columns: str = "keep"
    place: tuple[Mapping[str, str], ...] | None = None  # top to bottom: {level, zh, en}
    weight: Mapping[str, float] | None = None  # {customers: N} and/or {sales_gwh: X}
    moderation: tuple[Mapping[str, str], ...] = ()  # {predictor, moderator, target} construct names
    higher_order: tuple[Mapping[str, Any], ...] = ()  # {construct, components, method, mode}
    headline: Mapping[str, Any] = field(default_factory=lambda: dict(HEADLINE_DEFAULTS))
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_yaml(cls, path: str | Path) -> StudyConfig:
        path = Path(path)
        if path.is_dir():
            path = path / "study.yaml"
        return cls.from_dict(read_yaml(path, "study file"), path)

    @classmethod
    def from_dict(cls, raw: Any, path: str | Path) -> StudyConfig:
        path = Path(path).resolve()
        spec = _merge(raw, SCHEMA, str(path), "")
        base = path.parent

        def resolve(key: str) -> Path | None:
            value = spec[key]
            if value in (None, "default"):
                return None
            p = (base / str(value)).resolve()
            if not p.exists():
                raise ModelSpecError(
                    f"{path}: {key} file {value!r} does not exist (looked for {p}; "
                    "paths are relative to the study file)"
                )
            return p

        _check_filled(raw, path)
        weighting = _check(spec, path)
        est, boot = spec["estimation"], spec["bootstrap"]
        internal = spec["internal_indicators"]
        industry = spec["industry_evaluation"]
        if isinstance(industry, str) and industry != "default":  # the experts' matrices in their own file
            industry = _industry_file(resolve("industry_evaluation"), path)
        if not spec["synthetic"]:
            _check_own_inputs(industry, internal, path)
        return cls(
            path=path,
            study_id=base.name,
            region_id=str(spec["region"]["id"]),
            region_zh=str(spec["region"]["name_zh"]),
            region_en=str(spec["region"]["name_en"]),
            wave=str(spec["wave"]),
            synthetic=spec["synthetic"],
            data=resolve("data"),
            codebook=resolve("codebook"),
            model=resolve("model"),
            scheme=est["scheme"],
            scaled=est["scaled"],
            missing=est["missing"],
            cbsem=est["cbsem"],
            cbsem_estimator=str(est["cbsem_estimator"]),
            n_boot=boot["n_boot"],
            quick_n_boot=boot["quick_n_boot"],
            ci=float(boot["ci"]),
            seed=spec["seed"],
            segments=tuple(spec["segments"] or ()),
            index_target=float(spec["index_target"]),
            weighting=weighting,
            industry_evaluation=industry,
            internal_indicators=internal if internal in (None, "default") else resolve("internal_indicators"),
            service_records=resolve("service_records"),
            description=_description(spec["description"], path),
            language=spec["language"],
            sheet=spec["sheet"],
            missing_codes=tuple(spec["missing_codes"] or ()),
            extra_columns=spec["extra_columns"],
            place=parse_place(spec["place"], str(path)),
            weight=parse_weight(spec["customers"], spec["weight"], str(path)),
            moderation=parse_moderation(spec["moderation"], path),
            higher_order=parse_higher_order(spec["higher_order"], path),
            headline=parse_headline(spec["headline"], path),
            raw=raw,
        )

    def describe(self, language: str) -> str:
        """The study's description in ``language`` (the one text there is when it is not bilingual)."""
        if isinstance(self.description, Mapping):
            return self.description.get(language) or next(iter(self.description.values()), "")
        return self.description

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view with paths relative to the study folder (stable across machines)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("raw", "path")}
        for key, value in out.items():
            if isinstance(value, Path):
                out[key] = _relative(value, self.path.parent)
        out["segments"] = list(self.segments)
        out["missing_codes"] = list(self.missing_codes)
        if isinstance(self.description, Mapping):
            out["description"] = dict(self.description)
        out["place"] = None if self.place is None else [dict(p) for p in self.place]
        out["weight"] = None if self.weight is None else dict(self.weight)
        out["moderation"] = [dict(m) for m in self.moderation]
        out["higher_order"] = [dict(h) for h in self.higher_order]
        out["headline"] = dict(self.headline)
        return out


HEADLINE_DEFAULTS: dict[str, Any] = dict.fromkeys(("satisfaction_item", "recommendation_item", "top_grades"))


def parse_headline(value: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """The headline block: item ids (checked against the codebook when the study runs) and top grades."""
    out = dict(value)
    for key in ("satisfaction_item", "recommendation_item"):
        item = out[key]
        if item is not None and (not isinstance(item, str) or not item.strip()):
            raise ModelSpecError(f"{path}: headline.{key} must be an item id of the codebook (e.g. SAT1), "
                                 f"not {item!r}")
        out[key] = None if item is None else item.strip()
    top = out["top_grades"]
    if top is not None and (not _is_int(top) or top < 1):
        raise ModelSpecError(f"{path}: headline.top_grades must be a whole number of grades of at least 1 "
                             f"(e.g. 2: the top two grades count as satisfied), not {top!r}")
    return out


MODERATION_KEYS = ("predictor", "moderator", "target")
MODERATION_CODING = ("level", "above")  # an observed moderator: a category against the rest, or a threshold
MODERATION_EXAMPLE = "[{predictor: Quality, moderator: Image, target: Satisfaction}]"


def parse_moderation(value: Any, path: Path) -> tuple[dict[str, str], ...]:
    """The declared moderation analyses: construct names by role (checked against the model later)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ModelSpecError(f"{path}: moderation must be a list such as {MODERATION_EXAMPLE}, not {value!r}")
    out = []
    for i, entry in enumerate(value):
        where = f"{path}: moderation[{i}]"
        if not isinstance(entry, Mapping):
            example = MODERATION_EXAMPLE[1:-1]
            raise ModelSpecError(f"{where} must be a mapping such as {example}, not {entry!r}")
        unknown = [str(k) for k in entry if k not in (*MODERATION_KEYS, *MODERATION_CODING)]
        if unknown:
            raise ModelSpecError(f"{where}: unknown key(s) {', '.join(unknown)}; the keys are "
                                 f"{', '.join(MODERATION_KEYS)} and optionally level or above")
        for key in MODERATION_KEYS:
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise ModelSpecError(f"{where}.{key} must be a construct name, not {entry.get(key)!r}")
        declared = {key: entry[key].strip() for key in MODERATION_KEYS}
        if "level" in entry and "above" in entry:
            raise ModelSpecError(f"{where}: give level (a category) or above (a threshold), not both")
        if "above" in entry and not _is_number(entry["above"]):
            raise ModelSpecError(f"{where}.above must be a number, not {entry['above']!r}")
        declared |= {k: entry[k] for k in MODERATION_CODING if k in entry}
        if declared in out:
            raise ModelSpecError(f"{where} repeats an earlier moderation analysis")
        out.append(declared)
    return tuple(out)


HIGHER_ORDER_KEYS = ("construct", "components", "method", "mode")
HIGHER_ORDER_EXAMPLE = "[{construct: Quality, components: subindicators, method: two-stage}]"
COMPONENT_KEYS = ("items", "label_zh", "label_en")


def parse_higher_order(value: Any, path: Path) -> tuple[dict[str, Any], ...]:
    """The declared higher-order constructs (applied to the model in :func:`run_study`).

    ``components`` is ``subindicators`` (the codebook's sub-indicators of the construct become its
    components) or a mapping of component → items (a list, or {items, label_zh, label_en}).
    """
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ModelSpecError(
            f"{path}: higher_order must be a list such as {HIGHER_ORDER_EXAMPLE}, not {_short(value)}"
        )
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(value):
        where = f"{path}: higher_order[{i}]"
        if not isinstance(entry, Mapping):
            raise ModelSpecError(f"{where} must be a mapping such as {HIGHER_ORDER_EXAMPLE[1:-1]}, not "
                                 f"{_short(entry)}")
        unknown = [str(k) for k in entry if k not in HIGHER_ORDER_KEYS]
        if unknown:
            raise ModelSpecError(f"{where}: unknown key(s) {', '.join(unknown)}; the keys are "
                                 f"{', '.join(HIGHER_ORDER_KEYS)}")
        construct = entry.get("construct")
        if not isinstance(construct, str) or not construct.strip():
            raise ModelSpecError(f"{where}.construct must be a construct name, not {_short(construct)}")
        method = entry.get("method", "two-stage")
        if method not in HOC_METHODS:
            raise ModelSpecError(f"{where}.method must be one of {', '.join(HOC_METHODS)}, "
                                 f"not {_short(method)}")
        mode = entry.get("mode")
        if mode is not None and mode not in ("A", "B"):
            raise ModelSpecError(f"{where}.mode must be A (reflective) or B (formative), not {_short(mode)}")
        if any(h["construct"] == construct.strip() for h in out):
            raise ModelSpecError(f"{where} declares {construct} a second time")
        out.append({"construct": construct.strip(), "components": _components(entry.get("components"), where),
                    "method": method, **({"mode": mode} if mode else {})})
    return tuple(out)


def _components(value: Any, where: str) -> str | dict[str, dict[str, Any]]:
    if value == "subindicators":
        return value
    example = "subindicators, or {Supply: [QUA1, QUA2], Channels: [QUA3, QUA4, QUA5]}"
    if not isinstance(value, Mapping) or len(value) < 2:
        raise ModelSpecError(f"{where}.components must be {example} (at least two), not {_short(value)}")
    out: dict[str, dict[str, Any]] = {}
    for name, spec in value.items():
        at = f"{where}.components.{name}"
        spec = {"items": spec} if isinstance(spec, list) else spec
        if not isinstance(spec, Mapping) or not isinstance(spec.get("items"), list) or not spec["items"]:
            raise ModelSpecError(f"{at} must list its items, e.g. [QUA1, QUA2], not {_short(spec)}")
        unknown = [str(k) for k in spec if k not in COMPONENT_KEYS]
        if unknown:
            raise ModelSpecError(f"{at}: unknown key(s) {', '.join(unknown)}; the keys are "
                                 f"{', '.join(COMPONENT_KEYS)}")
        out[str(name)] = {"items": [str(i) for i in spec["items"]],
                          **{k: str(spec[k]) for k in ("label_zh", "label_en") if k in spec}}
    return out


def _check(spec: Mapping[str, Any], path: Path) -> dict[str, Any] | None:
    """Value checks after the key checks of ``_merge``; returns the validated weighting.

    Each error names the file, the dotted key, the bad value and what is allowed.
    """
    where = str(path)
    est, boot = spec["estimation"], spec["bootstrap"]
    options.language(spec["language"], "language", where)
    options.choice(est["scheme"], options.SCHEMES, "estimation.scheme", where)
    options.choice(est["missing"], options.MISSING, "estimation.missing", where)
    try:
        options.choice(est["cbsem_estimator"], options.ESTIMATORS, "estimation.cbsem_estimator", where)
    except ModelSpecError as exc:
        if not isinstance(est["cbsem_estimator"], str):
            raise
        # DWLS/WLSMV are asked for most often; the estimator's module says why they are left out
        raise ModelSpecError(
            f"{exc} ({est['cbsem_estimator']!r} is not offered; csi_research.stats.cbsem explains why)"
        ) from None
    for key in ("n_boot", "quick_n_boot"):
        if not _is_int(boot[key]) or boot[key] < options.MIN_N_BOOT:
            raise ModelSpecError(
                f"{path}: bootstrap.{key} must be an integer of at least {options.MIN_N_BOOT} "
                f"(a bootstrap needs at least two resamples), not {boot[key]!r}"
            )
    try:
        options.ci_level(boot["ci"], "bootstrap.ci", where)
    except ModelSpecError as exc:
        if _is_number(boot["ci"]) and 1 < boot["ci"] < 100:  # 95 meant as a percentage
            raise ModelSpecError(
                f"{exc}; {boot['ci']:g} looks like a percentage: write {boot['ci'] / 100:g}"
            ) from None
        raise
    if not _is_int(spec["seed"]):
        raise ModelSpecError(f"{path}: seed must be an integer, not {spec['seed']!r}")
    _check_index_target(spec["index_target"], path)
    flags = {"synthetic": spec["synthetic"], "estimation.scaled": est["scaled"],
             "estimation.cbsem": est["cbsem"]}
    for key, value in flags.items():
        if not isinstance(value, bool):  # bool("false") is True: a quoted flag must not flip silently
            raise ModelSpecError(f"{path}: {key} must be true or false, not {value!r}")
    segments = spec["segments"] or []
    if not isinstance(segments, list) or not all(isinstance(s, str) for s in segments):
        raise ModelSpecError(
            f"{path}: segments must be a list of column names, e.g. [customer_class, area], not {segments!r}"
        )
    if not isinstance(spec["data"], str) or spec["data"] == "default":
        raise ModelSpecError(f"{path}: data must be the survey file's path, not {spec['data']!r}")
    _check_data_options(spec, path)
    return _weighting(spec["weighting"], path)


TODO = "TODO"  # what `csi-research new-study` writes where only the researcher knows the answer


def _check_filled(raw: Any, path: Path, where: str = "") -> None:
    """Refuse a study with a TODO left in it: a scaffolded study runs only once it is filled in."""
    if isinstance(raw, Mapping):
        entries = [(f"{where}.{key}" if where else str(key), value) for key, value in raw.items()]
    elif isinstance(raw, list):
        entries = [(f"{where}[{k}]", value) for k, value in enumerate(raw)]
    else:
        entries = []
    for key, value in entries:
        if isinstance(value, str) and re.match(rf"\s*{TODO}\b", value):
            raise ModelSpecError(
                f"{path}: {key} is still {_short(value.strip())}; fill it in before running the study"
            )
        _check_filled(value, path, key)


def _check_data_options(spec: Mapping[str, Any], path: Path) -> None:
    """sheet, missing_codes and extra_columns: how the survey file is read."""
    options.choice(spec["extra_columns"], options.EXTRA_COLUMNS, "extra_columns", str(path))
    codes = spec["missing_codes"] or []
    if not isinstance(codes, list) or not all(_is_int(c) for c in codes):
        raise ModelSpecError(
            f"{path}: missing_codes must be a list of integer codes meaning \"don't know\" for every item, "
            f"e.g. [9, 99], not {_short(codes)}"
        )
    sheet = spec["sheet"]
    if sheet is not None and not (isinstance(sheet, str) and sheet.strip()) and not _is_int(sheet):
        raise ModelSpecError(
            f"{path}: sheet must be an Excel sheet's name or its number, not {_short(sheet)}"
        )


# The bundled fictional inputs of the synthetic regions, refused for a study of real data by name.
BUNDLED_EXPERTS = "resources/industry_evaluation_default.yaml"
BUNDLED_KPIS = "resources/internal_indicators.csv"


def _check_own_inputs(industry: Any, internal: Any, path: Path) -> None:
    """A study of real data (synthetic: false) must not borrow the bundled fictional inputs.

    The bundled expert matrices are illustrative and the bundled KPIs belong to fictional regions:
    in a real study's report they would pass as its experts' judgements and its company's figures.
    """
    if industry == "default" or (isinstance(industry, Mapping) and "hierarchy" not in industry):
        raise ModelSpecError(
            f"{path}: synthetic is false, but industry_evaluation would use the bundled illustrative "
            f"expert judgement matrices ({BUNDLED_EXPERTS}), which are not your experts'; give your "
            "panel's matrices under industry_evaluation.hierarchy (or a file: industry_evaluation: "
            "experts.yaml), or leave the section out with industry_evaluation: null"
        )
    bundled = Path(__file__).resolve().parents[1] / BUNDLED_KPIS  # relative to the package
    named = isinstance(internal, str) and (path.parent / internal).resolve() == bundled
    if internal == "default" or named:
        raise ModelSpecError(
            f"{path}: synthetic is false, but internal_indicators would use the bundled KPIs of the "
            f"fictional regions ({BUNDLED_KPIS}); give your company's indicator file "
            "(internal_indicators: kpis.csv, one row per region and year) or internal_indicators: null"
        )


def _industry_file(file: Path | None, path: Path) -> dict[str, Any]:
    spec = read_yaml(file, "industry evaluation file")
    if not isinstance(spec, Mapping):
        raise ModelSpecError(
            f"{file}: the industry evaluation file must be a mapping of keys (weighting, hierarchy, ...) "
            f"as in study.yaml's industry_evaluation section (named by {path})"
        )
    return dict(spec)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _description(value: Any, path: Path) -> str | dict[str, str]:
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, Mapping) and value and set(value) <= set(options.LANGUAGES) and all(
            isinstance(v, str) for v in value.values()):
        return {str(k): v for k, v in value.items()}
    raise ModelSpecError(
        f"{path}: description must be a text or a mapping {{zh: ..., en: ...}}, not {value!r}"
    )


def _check_index_target(value: Any, path: Path) -> None:
    """0 < target <= 100: indices are on the 0-100 scale, so 0.8 is almost surely a share."""
    if _is_number(value) and 1 < value <= 100:
        return
    message = (f"{path}: index_target must be a number on the 0-100 scale (0 < index_target <= 100), "
               f"not {value!r}")
    if _is_number(value) and 0 < value <= 1:
        message += f"; {value:g} looks like a share: write it on the 0-100 scale, e.g. {value * 100:g}"
    raise ModelSpecError(message)


def _weighting(value: Any, path: Path) -> dict[str, Any] | None:
    """The post-stratification spec as a plain dict, or None.

    Only its shape is checked here; whether the ``by`` columns and cells occur in the data is
    checked when the sample is prepared.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ModelSpecError(
            f"{path}: weighting must be null or a mapping with the keys by and population_shares, "
            f"e.g. {WEIGHTING_EXAMPLE}, not {value!r}"
        )
    spec = _merge(value, WEIGHTING_SCHEMA, str(path), "weighting.")
    by, shares = spec["by"], spec["population_shares"]
    columns = [by] if isinstance(by, str) else by
    if (not isinstance(columns, list) or not columns
            or not all(isinstance(c, str) and c.strip() for c in columns)):
        raise ModelSpecError(
            f"{path}: weighting.by must be a column name or a non-empty list of column names, "
            f"e.g. customer_class or [customer_class, area], not {by!r}"
        )
    if not isinstance(shares, Mapping) or not shares:
        raise ModelSpecError(
            f"{path}: weighting.population_shares must be a non-empty mapping from each cell of "
            f"weighting.by to its population share or count, e.g. {{residential: 0.85, business: 0.15}}, "
            f"not {shares!r}"
        )
    for cell, share in shares.items():
        # inf would normalise every other cell to 0; NaN is excluded by _is_number
        if not _is_number(share) or share < 0 or math.isinf(share):
            raise ModelSpecError(
                f"{path}: weighting.population_shares.{cell} must be a non-negative number "
                f"(a share or a count), not {share!r}"
            )
    if not any(share > 0 for share in shares.values()):
        raise ModelSpecError(
            f"{path}: weighting.population_shares are all 0; give each cell's population share or count"
        )
    return {"by": list(by) if isinstance(by, list) else by, "population_shares": dict(shares)}


PLACE_LEVELS = ("province", "city", "county")  # top to bottom
PLACE_EXAMPLE = ("{province: 云岭省, city: 青州市} or [云岭省, 青州市] "
                 "or {province: {zh: 云岭省, en: Yunling}}")
WEIGHT_KEYS = ("customers", "sales_gwh")


def parse_place(value: Any, where: str = "place") -> tuple[dict[str, str], ...] | None:
    """A region's place in the hierarchy as records ``{level, zh, en}`` from the top down, or None.

    Accepts a mapping from levels (a prefix of province, city, county: a city needs its province)
    to names, a list of names from the top down, or the saved list of records. A name is one text
    (both languages) or ``{zh: ..., en: ...}``. Records keep the order when JSON sorts keys.
    """
    if value is None:
        return None
    bad = ModelSpecError(f"{where}: place must be {PLACE_EXAMPLE}, not {_short(value)}")
    if isinstance(value, Mapping):
        depth = {level: k for k, level in enumerate(PLACE_LEVELS)}
        levels = sorted(value, key=lambda k: depth.get(k, len(PLACE_LEVELS)))
        if not levels or levels != list(PLACE_LEVELS[: len(levels)]):
            raise ModelSpecError(
                f"{where}: place must name levels from the top down ({', '.join(PLACE_LEVELS)}; a city "
                f"needs its province), e.g. {PLACE_EXAMPLE}, not {_short(value)}"
            )
        names = [value[level] for level in levels]
    elif isinstance(value, list | tuple) and 0 < len(value) <= len(PLACE_LEVELS):
        if all(isinstance(v, Mapping) and "level" in v for v in value):  # saved records
            if [v["level"] for v in value] != list(PLACE_LEVELS[: len(value)]):
                raise bad
            names = [{k: v for k, v in record.items() if k != "level"} for record in value]
        else:
            names = list(value)
    else:
        raise bad
    return tuple({"level": level, **_place_name(name, level, where)}
                 for level, name in zip(PLACE_LEVELS, names, strict=False))


def _place_name(name: Any, level: str, where: str) -> dict[str, str]:
    if isinstance(name, str | int) and not isinstance(name, bool) and str(name).strip():
        return {"zh": str(name).strip(), "en": str(name).strip()}
    if (isinstance(name, Mapping) and name and set(name) <= set(options.LANGUAGES)
            and all(isinstance(v, str) and v.strip() for v in name.values())):
        zh = name.get("zh", name.get("en")).strip()
        return {"zh": zh, "en": name.get("en", zh).strip()}
    raise ModelSpecError(
        f"{where}: place.{level} must be a name or {{zh: ..., en: ...}}, not {_short(name)}"
    )


def parse_weight(customers: Any, weight: Any, where: str = "weight") -> dict[str, float] | None:
    """The region's size for aggregation: ``customers: N`` or ``weight: {customers: N, sales_gwh: X}``."""
    out: dict[str, float] = {}
    if weight is not None:
        if not isinstance(weight, Mapping) or not weight or not set(weight) <= set(WEIGHT_KEYS):
            raise ModelSpecError(
                f"{where}: weight must be a mapping with customers and/or sales_gwh, e.g. "
                f"{{customers: 182000}} or {{sales_gwh: 1350.5}}, not {_short(weight)}"
            )
        out.update(weight)
    if customers is not None:
        if "customers" in out:
            raise ModelSpecError(f"{where}: customers is given twice (customers and weight.customers); "
                                 "keep one")
        out["customers"] = customers
    for key, number in out.items():
        if not _is_number(number) or not 0 < number < math.inf:
            name = key if key == "customers" and customers is not None else f"weight.{key}"
            raise ModelSpecError(f"{where}: {name} must be a positive number, not {_short(number)}")
    return {k: float(v) for k, v in out.items()} or None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # YAML's true is not a size or a seed


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _relative(p: Path, base: Path) -> str:
    return Path(os.path.relpath(p, base)).as_posix()


def _merge(raw: Any, schema: Mapping[str, Any], source: str, prefix: str) -> dict[str, Any]:
    """Fill defaults from ``schema``; unknown or missing required keys are errors."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ModelSpecError(f"{source}: {prefix.rstrip('.') or 'the study'} must be a mapping of keys")
    unknown = sorted(set(raw) - set(schema))
    if unknown:
        raise ModelSpecError(
            f"{source}: unknown key(s) {', '.join(prefix + k for k in unknown)}; "
            f"allowed: {', '.join(prefix + k for k in schema)}"
        )
    out: dict[str, Any] = {}
    for key, default in schema.items():
        if isinstance(default, dict):
            out[key] = _merge(raw.get(key), default, source, f"{prefix}{key}.")
        elif default is REQUIRED and raw.get(key) is None:  # `wave:` with no value is as missing as no key
            raise ModelSpecError(f"{source}: required key {prefix}{key} is missing or empty")
        elif key in raw:
            out[key] = raw[key]
        else:
            out[key] = default
    return out


def discover_studies(
    root: str | Path, only: Sequence[str] | None = None, exclude: Sequence[str] | None = None
) -> list[Path]:
    """Study folders (those with a ``study.yaml``) under ``root``, filtered by folder name.

    ``root`` may also be one study's folder or its ``study.yaml``. A missing folder, a folder
    without studies, or a name in ``only``/``exclude`` that is no study here raise
    ``ModelSpecError`` naming what was looked for and what there is.
    """
    root = Path(root)
    if root.is_file() and root.name == "study.yaml":
        root = root.parent
    if not root.is_dir():
        raise ModelSpecError(f"{root}: no such folder; pass the folder that holds the studies "
                             "(e.g. studies/) or one study's folder")
    if (root / "study.yaml").is_file():
        return [root]
    found = sorted(p.parent for p in root.glob("*/study.yaml"))
    if not found:
        raise ModelSpecError(f"{root}: no study.yaml found in its sub-folders; create one with "
                             "`csi-research new-study SURVEY_FILE`")
    names = sorted(p.name for p in found)
    for name in [*(only or []), *(exclude or [])]:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ModelSpecError(f"{root}: no study named {name!r}{hint}; studies here: {', '.join(names)}")
    if only:
        found = [p for p in found if p.name in set(only)]
    return [p for p in found if p.name not in set(exclude or [])]
