"""Synthetic regional surveys drawn from a population model with known parameters.

The population model, per respondent:

* segment: customer class, area (urban/rural) and voltage level drawn independently from the
  profile's mix; each segment value shifts every latent mean by ``segment_shifts[value]``;
* latent variables: ``eta = mean + shift + xi`` with ``xi`` from the standardised recursive
  structural model (exogenous variance 1, disturbance variances ``1 − R²`` so every ``xi`` has
  variance 1; a path set implying R² ≥ 1 is a ModelSpecError);
* item response: ``y* = loading · eta + item_effect + sqrt(1 − loading²) · e`` (unit variance
  within a segment), cut into the scale's codes at thresholds ``Φ⁻¹((m / k) ** 2.2)``, which at
  a latent mean of 0 gives the top-skewed answers of real surveys (about 68 % in the two best
  grades on a 5-level scale);
* contamination: a share of straight-liners answering one code to every item, "don't know"
  answers (missing code) completely at random, more often for rural respondents (missing at
  random given area) and per item (e.g. few customers used the new-connection service);
* reverse-coded items (CMP2) are stored reversed, as a real questionnaire records them.

``truth`` is computed from the population (segment mixture, exact normal probabilities), not
from the sample, and describes genuine respondents (before straight-lining and missingness).
Truth paths and loadings are those of the pooled population, which includes the small extra
latent variance the segment shifts add.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy import stats

from csi_research.core.errors import ModelSpecError, OutputError
from csi_research.data.codebook import Codebook
from csi_research.model import CSIModel

THRESHOLD_POWER = 2.2  # cumulative share below code m+1 at latent mean 0 is (m / k) ** THRESHOLD_POWER
SEGMENTS = {
    "customer_class": ("residential", "commercial", "industrial"),
    "area": ("urban", "rural"),
    "voltage": ("low", "high"),
}

# A plausible standardised power-industry profile: Satisfaction drives Loyalty strongly and Image
# matters more for Satisfaction than Quality (DOMAIN.md), scaled down so that R² stays below 1.
DEFAULT_PATH_COEFFICIENTS: dict[tuple[str, str], float] = {
    ("Image", "Expectation"): 0.55,
    ("Image", "Satisfaction"): 0.40,
    ("Image", "Loyalty"): 0.20,
    ("Expectation", "Quality"): 0.60,
    ("Expectation", "Value"): 0.20,
    ("Expectation", "Satisfaction"): 0.10,
    ("Quality", "Value"): 0.50,
    ("Quality", "Satisfaction"): 0.20,
    ("Value", "Satisfaction"): 0.25,
    ("Satisfaction", "Complaints"): 0.45,
    ("Satisfaction", "Loyalty"): 0.55,
    ("Complaints", "Loyalty"): 0.10,
}

DEFAULT_LOADINGS: dict[str, float] = {
    "IMG1": 0.75, "IMG2": 0.70, "IMG3": 0.80, "IMG4": 0.78, "IMG5": 0.82,
    "EXP1": 0.72, "EXP2": 0.80, "EXP3": 0.68,
    "QUA1": 0.70, "QUA2": 0.68, "QUA3": 0.72, "QUA4": 0.74, "QUA5": 0.66,
    "QUA6": 0.70, "QUA7": 0.73, "QUA8": 0.71, "QUA9": 0.76, "QUA10": 0.80,
    "VAL1": 0.82, "VAL2": 0.85, "VAL3": 0.75,
    "SAT1": 0.88, "SAT2": 0.84, "SAT3": 0.80,
    "CMP1": 0.80, "CMP2": 0.65,
    "LOY1": 0.85, "LOY2": 0.82, "LOY3": 0.75, "LOY4": 0.78,
}


def _frozen(mapping: Mapping | None = None) -> MappingProxyType:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class RegionProfile:
    """One region's population: who answers, how they feel, how they answer."""

    id: str
    name_zh: str
    name_en: str
    description: str = ""
    n: int = 500
    waves: tuple[int, ...] = (2025,)
    latent_means: Mapping[str, float] = field(default_factory=_frozen)
    paths: Mapping[tuple[str, str], float] = field(default_factory=lambda: _frozen(DEFAULT_PATH_COEFFICIENTS))
    loadings: Mapping[str, float] = field(default_factory=lambda: _frozen(DEFAULT_LOADINGS))
    item_effects: Mapping[str, float] = field(default_factory=_frozen)
    customer_mix: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"residential": 0.80, "commercial": 0.12, "industrial": 0.08})
    )
    urban_share: float = 0.6
    high_voltage_share: float = 0.05
    segment_shifts: Mapping[str, float] = field(default_factory=_frozen)
    wave_shifts: Mapping[int, Mapping[str, float]] = field(default_factory=_frozen)
    mcar_rate: float = 0.003
    mar_rural_rate: float = 0.006
    item_missing: Mapping[str, float] = field(default_factory=_frozen)
    straight_liner_share: float = 0.02

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> RegionProfile:
        """Build from a ``regions.yaml`` entry; paths are written ``"Source -> Target": beta``."""
        spec = dict(spec)
        where = f"region {spec.get('id', '?')}"
        try:
            if "paths" in spec:
                paths = dict(DEFAULT_PATH_COEFFICIENTS)
                for key, beta in spec["paths"].items():
                    source, target = (s.strip() for s in key.split("->"))
                    paths[(source, target)] = float(beta)
                spec["paths"] = paths
            if "loadings" in spec:
                spec["loadings"] = {**DEFAULT_LOADINGS, **spec["loadings"]}
            if "waves" in spec:
                spec["waves"] = tuple(int(w) for w in spec["waves"])
            if "wave_shifts" in spec:
                spec["wave_shifts"] = {int(w): _frozen(s) for w, s in spec["wave_shifts"].items()}
            for key in ("latent_means", "paths", "loadings", "item_effects", "customer_mix",
                        "segment_shifts", "wave_shifts", "item_missing"):
                if key in spec:
                    spec[key] = _frozen(spec[key])
            return cls(**spec)
        except (TypeError, ValueError, AttributeError) as exc:
            raise ModelSpecError(f"{where}: malformed profile ({exc})") from None


@dataclass(frozen=True)
class Truth:
    """Population values a study should recover (see the module docstring for definitions)."""

    paths: pd.DataFrame  # source, target, estimate (standardised, pooled population)
    effects: pd.DataFrame  # source, target, direct, indirect, total
    r2: pd.Series  # endogenous construct → R²
    loadings: pd.DataFrame  # construct, item, loading (of the continuous response)
    latent_means: pd.Series  # construct → population mean of eta
    latent_correlation: pd.DataFrame  # pooled population correlation of eta
    item_means: pd.DataFrame  # item, construct, mean_code, index_0_100, grade_score
    indices: pd.DataFrame  # construct, index_0_100, grade_score (equal item weights)


@dataclass(frozen=True)
class SimulatedSurvey:
    """A synthetic survey (raw codes as a questionnaire records them) and its population truth."""

    profile: RegionProfile
    wave: int
    seed: int | None
    frame: pd.DataFrame
    truth: Truth
    codebook: Codebook
    straight_liners: tuple[str, ...]

    def survey(self):
        """The frame validated and cleaned like a loaded file (a :class:`~.survey.Survey`)."""
        from csi_research.data.survey import Survey

        return Survey.from_frame(self.frame, self.codebook, source=f"{self.profile.id}_{self.wave}")

    def to_csv(self, path: str | Path) -> bool:
        """UTF-8 CSV, ``\\n`` line ends: byte-identical for the same profile, n, wave and seed.

        Never overwrites: an existing file with the same bytes is left alone (False), one with
        other bytes is an error; True when the file was written.
        """
        text = self.frame.to_csv(index=False, lineterminator="\n")
        return write_new(path, text.encode("utf-8"))


# ---------------------------------------------------------------------------- profiles
def load_regions(path: str | Path | None = None) -> dict[str, RegionProfile]:
    """The region profiles of ``path`` (default: the bundled ``resources/regions.yaml``)."""
    if path is None:
        text = resources.files("csi_research").joinpath("resources", "regions.yaml").read_text("utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    spec = yaml.safe_load(text)
    return {entry["id"]: RegionProfile.from_dict(entry) for entry in spec["regions"]}


def region_seed(region_id: str, wave: int) -> int:
    """A stable seed from the region id and wave (sha256, not Python's salted ``hash``)."""
    return int.from_bytes(hashlib.sha256(f"{region_id}/{wave}".encode()).digest()[:4], "big")


# ---------------------------------------------------------------------------- population
def _standardised_structure(model: CSIModel, paths: Mapping[tuple[str, str], float]) -> np.ndarray:
    """Latent correlation matrix implied by standardised paths, with variance 1 everywhere."""
    names = model.names
    index = {n: k for k, n in enumerate(names)}
    unknown = [p for p in paths if p not in set(model.paths)]
    if unknown:
        raise ModelSpecError(f"path coefficient(s) for {unknown} are not paths of the model")
    order = model.order
    sigma = np.zeros((len(names), len(names)))
    done: list[int] = []
    for name in order:
        j = index[name]
        preds = [index[s] for s in model.predecessors(name)]
        beta = np.array([paths.get((names[i], name), 0.0) for i in preds])
        if preds:
            explained = float(beta @ sigma[np.ix_(preds, preds)] @ beta)
            if explained >= 1.0:
                raise ModelSpecError(
                    f"paths into {name} imply R² = {explained:.3f} ≥ 1: reduce the coefficients "
                    f"{', '.join(f'{names[i]} -> {name}' for i in preds)}"
                )
            for k in done:
                sigma[j, k] = sigma[k, j] = float(beta @ sigma[preds, k])
        sigma[j, j] = 1.0
        done.append(j)
    return sigma


def _thresholds(k: int) -> np.ndarray:
    return stats.norm.ppf((np.arange(1, k) / k) ** THRESHOLD_POWER)


def _segments(profile: RegionProfile) -> tuple[np.ndarray, np.ndarray]:
    """All customer_class × area × voltage combinations: probabilities and latent shifts."""
    mix = np.array([profile.customer_mix.get(c, 0.0) for c in SEGMENTS["customer_class"]])
    if not np.isclose(mix.sum(), 1.0) or np.any(mix < 0):
        raise ModelSpecError(f"region {profile.id}: customer_mix shares must be ≥ 0 and sum to 1, got {mix}")
    area = np.array([profile.urban_share, 1 - profile.urban_share])
    volt = np.array([1 - profile.high_voltage_share, profile.high_voltage_share])
    shift = profile.segment_shifts
    probs, shifts = [], []
    for c, pc in zip(SEGMENTS["customer_class"], mix, strict=True):
        for a, pa in zip(SEGMENTS["area"], area, strict=True):
            for v, pv in zip(SEGMENTS["voltage"], volt, strict=True):
                probs.append(pc * pa * pv)
                shifts.append(shift.get(c, 0.0) + shift.get(a, 0.0) + shift.get(v, 0.0))
    return np.array(probs), np.array(shifts)


def _means(profile: RegionProfile, model: CSIModel, wave: int) -> np.ndarray:
    unknown = set(profile.latent_means) - set(model.names)
    if unknown:
        raise ModelSpecError(f"region {profile.id}: latent_means for unknown construct(s) {sorted(unknown)}")
    extra = profile.wave_shifts.get(wave, {})
    return np.array([profile.latent_means.get(c, 0.0) + extra.get(c, 0.0) for c in model.names])


def _truth(profile: RegionProfile, model: CSIModel, book: Codebook, wave: int, sigma: np.ndarray) -> Truth:
    names = model.names
    index = {n: k for k, n in enumerate(names)}
    probs, shifts = _segments(profile)
    mean_shift = float(probs @ shifts)
    cov = sigma + float(probs @ shifts**2 - mean_shift**2)  # segment shifts move all constructs alike
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    b = np.zeros_like(cov)  # b[source, target], standardised
    r2 = {}
    for target in model.endogenous:
        j, preds = index[target], [index[s] for s in model.predecessors(target)]
        beta = np.linalg.solve(corr[np.ix_(preds, preds)], corr[preds, j])
        b[preds, j] = beta
        r2[target] = float(beta @ corr[preds, j])
    total = model.total_effects(b)
    paths = pd.DataFrame([(s, t, b[index[s], index[t]]) for s, t in model.paths],
                         columns=["source", "target", "estimate"])
    effects = pd.DataFrame(
        [(s, t, b[i, j], total[i, j] - b[i, j], total[i, j])
         for i, s in enumerate(names) for j, t in enumerate(names) if total[i, j] != 0 or b[i, j] != 0],
        columns=["source", "target", "direct", "indirect", "total"],
    )
    means = _means(profile, model, wave)
    item_rows, loading_rows = [], []
    for item in book.items:
        c = index[item.construct]
        lam = profile.loadings[item.id]
        scale = book.scales[item.scale]
        cut = _thresholds(len(scale.codes))
        centre = lam * (means[c] + shifts) + profile.item_effects.get(item.id, 0.0)  # per segment
        cdf = stats.norm.cdf(cut[None, :] - centre[:, None])
        p_code = np.diff(np.column_stack([np.zeros(len(probs)), cdf, np.ones(len(probs))]), axis=1)
        p_code = probs @ p_code
        mean_code = float(p_code @ np.asarray(scale.codes, dtype=float))
        item_rows.append({
            "item": item.id, "construct": item.construct, "mean_code": mean_code,
            "index_0_100": float(scale.to_100(mean_code)),
            "grade_score": float(p_code @ np.asarray(scale.grade_scores)),
        })
        loading_rows.append({"construct": item.construct, "item": item.id,
                             "loading": lam * sd[c] / np.sqrt(lam**2 * cov[c, c] + 1 - lam**2)})
    item_means = pd.DataFrame(item_rows)
    return Truth(
        paths=paths,
        effects=effects,
        r2=pd.Series(r2, name="r2"),
        loadings=pd.DataFrame(loading_rows),
        latent_means=pd.Series(means + mean_shift, index=names, name="mean"),
        latent_correlation=pd.DataFrame(corr, index=names, columns=names),
        item_means=item_means,
        indices=item_means.groupby("construct", sort=False)[["index_0_100", "grade_score"]]
        .mean()
        .reset_index(),
    )


# ---------------------------------------------------------------------------- sampling
def simulate_survey(
    profile: RegionProfile | str,
    n: int | None = None,
    seed: int | np.random.Generator | None = 0,
    wave: int | None = None,
    codebook: Codebook | None = None,
) -> SimulatedSurvey:
    """Draw one survey wave of a region (a profile or a bundled region id) with its truth.

    ``wave`` defaults to the profile's latest wave; ``n`` to the profile's sample size.
    """
    if isinstance(profile, str):
        regions = load_regions()
        if profile not in regions:
            raise ModelSpecError(f"unknown region {profile!r}; bundled regions: {', '.join(regions)}")
        profile = regions[profile]
    book = codebook or Codebook.default()
    model = book.model()
    wave = profile.waves[-1] if wave is None else int(wave)
    if wave not in profile.waves:
        raise ModelSpecError(f"region {profile.id} has waves {list(profile.waves)}, not {wave}")
    n = profile.n if n is None else int(n)
    if n < 1:
        raise ModelSpecError(f"n must be a positive number of respondents, not {n}")
    absent = [i for i in book.item_ids if i not in profile.loadings]
    if absent or any(not 0 < profile.loadings[i] < 1 for i in book.item_ids):
        raise ModelSpecError(
            f"region {profile.id}: every item needs a loading in (0, 1); check {absent or 'the values'}"
        )
    sigma = _standardised_structure(model, profile.paths)
    truth = _truth(profile, model, book, wave, sigma)
    rng = np.random.default_rng(seed)

    probs, shifts = _segments(profile)
    segment = rng.choice(len(probs), size=n, p=probs)
    n_area, n_volt = len(SEGMENTS["area"]), len(SEGMENTS["voltage"])
    klass, area, volt = segment // (n_area * n_volt), (segment // n_volt) % n_area, segment % n_volt
    eta = rng.standard_normal((n, len(model.names))) @ np.linalg.cholesky(sigma).T
    eta += _means(profile, model, wave) + shifts[segment][:, None]

    index = {c: k for k, c in enumerate(model.names)}
    raw = np.empty((n, len(book.items)))
    for k, item in enumerate(book.items):
        lam = profile.loadings[item.id]
        scale = book.scales[item.scale]
        y = lam * eta[:, index[item.construct]] + profile.item_effects.get(item.id, 0.0)
        y += np.sqrt(1 - lam**2) * rng.standard_normal(n)
        code = np.asarray(scale.codes)[np.searchsorted(_thresholds(len(scale.codes)), y)]
        raw[:, k] = scale.min + scale.max - code if item.reverse else code

    liners = rng.random(n) < profile.straight_liner_share
    top = np.asarray(book.scales[book.items[0].scale].codes)[-3:]
    raw[liners] = rng.choice(top, size=int(liners.sum()), p=[0.1, 0.3, 0.6])[:, None]

    rates = np.array([profile.mcar_rate + profile.item_missing.get(i, 0.0) for i in book.item_ids])
    rates = rates[None, :] + profile.mar_rural_rate * (area == 1)[:, None]
    missing = rng.random(raw.shape) < rates
    codes_missing = np.array([i.missing_codes[0] if i.missing_codes else np.nan for i in book.items])
    raw = np.where(missing, codes_missing[None, :], raw)

    width = max(4, len(str(n)))
    ids = [f"{profile.id}-{wave}-{k:0{width}d}" for k in range(1, n + 1)]
    frame = pd.DataFrame({
        book.id_column: ids,
        "region": profile.id,
        "wave": wave,
        "customer_class": np.asarray(SEGMENTS["customer_class"])[klass],
        "area": np.asarray(SEGMENTS["area"])[area],
        "voltage": np.asarray(SEGMENTS["voltage"])[volt],
    })
    items = pd.DataFrame(raw, columns=book.item_ids)
    if not np.isnan(codes_missing).any():
        items = items.astype(np.int64)
    frame = pd.concat([frame, items], axis=1)
    seed_value = seed if isinstance(seed, int) else None
    liner_ids = tuple(np.asarray(ids, dtype=object)[liners])
    return SimulatedSurvey(profile, wave, seed_value, frame, truth, book, liner_ids)


def write_new(path: str | Path, data: bytes) -> bool:
    """Write ``data`` to a new file; an existing file is kept: unchanged when equal, an error otherwise.

    Regenerating the bundled data is idempotent, and a user's file of the same name is never replaced.
    """
    from csi_research.core.output import write_atomic

    path = Path(path)
    if path.exists():
        if path.is_file() and path.read_bytes() == data:
            return False
        raise OutputError(
            f"{path} exists already and differs from what would be written; files are never "
            "overwritten: choose another --out, or move the existing file away"
        )
    try:
        write_atomic(path, data)
    except FileExistsError:
        if not path.is_file():  # a file in the way of the folder, not a file of this name
            raise OutputError(f"{path}: cannot create the folder {path.parent}: a file is in the way") \
                from None
        return write_new(path, data)  # written by someone else in between
    return True
