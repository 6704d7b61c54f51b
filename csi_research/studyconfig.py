"""``study.yaml``: what one regional study is, validated strictly.

Unknown keys are errors (a typo must not silently fall back to a default) and every path is
resolved relative to the study file, so a study folder can be moved or shared as a whole.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from csi_research.errors import ModelSpecError
from csi_research.yamlfile import read_yaml

SCHEMES = ("path", "centroid", "factorial")
MISSING = ("listwise", "mean", "pairwise")

# section -> key -> default; REQUIRED keys must be given a value
REQUIRED = object()
SCHEMA: dict[str, Any] = {
    "region": {"id": REQUIRED, "name_zh": REQUIRED, "name_en": REQUIRED},
    "wave": REQUIRED,
    "synthetic": False,
    "data": REQUIRED,
    "codebook": "default",
    "model": "default",
    "estimation": {"scheme": "path", "scaled": True, "missing": "listwise", "cbsem": True,
                   "cbsem_estimator": "ML"},
    "bootstrap": {"n_boot": 2000, "quick_n_boot": 200, "ci": 0.95},
    "seed": REQUIRED,
    "segments": [],
    "index_target": 80.0,
    "weighting": None,
    "industry_evaluation": None,
    "internal_indicators": None,
    "description": "",
}


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
    description: str = ""
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

        _check(spec, path)
        est, boot = spec["estimation"], spec["bootstrap"]
        internal = spec["internal_indicators"]
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
            weighting=spec["weighting"],
            industry_evaluation=spec["industry_evaluation"],
            internal_indicators=internal if internal in (None, "default") else resolve("internal_indicators"),
            description=str(spec["description"] or ""),
            raw=raw,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view with paths relative to the study folder (stable across machines)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("raw", "path")}
        for key, value in out.items():
            if isinstance(value, Path):
                out[key] = _relative(value, self.path.parent)
        out["segments"] = list(self.segments)
        return out


def _check(spec: Mapping[str, Any], path: Path) -> None:
    """Value checks after the key checks of ``_merge``: each error names the key and the bad value."""
    est, boot = spec["estimation"], spec["bootstrap"]
    if est["scheme"] not in SCHEMES:
        raise ModelSpecError(f"{path}: estimation.scheme {est['scheme']!r} is not one of {SCHEMES}")
    if est["missing"] not in MISSING:
        raise ModelSpecError(f"{path}: estimation.missing {est['missing']!r} is not one of {MISSING}")
    for key in ("n_boot", "quick_n_boot"):
        if not _is_int(boot[key]) or boot[key] < 0:
            raise ModelSpecError(f"{path}: bootstrap.{key} must be a non-negative integer, not {boot[key]!r}")
    if not _is_number(boot["ci"]) or not 0 < boot["ci"] < 1:
        raise ModelSpecError(
            f"{path}: bootstrap.ci must be a number between 0 and 1, e.g. 0.95, not {boot['ci']!r}"
        )
    if not _is_int(spec["seed"]):
        raise ModelSpecError(f"{path}: seed must be an integer, not {spec['seed']!r}")
    if not _is_number(spec["index_target"]):
        raise ModelSpecError(
            f"{path}: index_target must be a number on the 0-100 scale, not {spec['index_target']!r}"
        )
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
