"""A simulated national survey set: hundreds of fictional regions written as survey files and studies.

A national roll-up (:mod:`csi_research.programme.rollup`) and a batch over hundreds of studies need a data
set of that size to be tried on; no real one can be shipped. :func:`write_national_survey` draws
one from :mod:`csi_research.data.simulate`: every region gets its own latent means, item effects,
customer mix and size from one seeded generator, sits in one of a few fictional provinces and
cities (``place:``), and carries a fictional customer count (``customers:``, its roll-up weight).
A share of the regions is surveyed twice, the later wave shifted a little, so wave changes can be
rolled up too.

Everything written is SYNTHETIC and every name FICTIONAL: region names are numbered
("模拟区001（虚构）" / "Sim-001 (fictional)"), provinces are named after the ten heavenly stems
with a "（虚构）"/"(fictional)" mark, each study file says so in its first line, has
``synthetic: true`` and a description saying so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from csi_research.core.errors import ModelSpecError
from csi_research.data.codebook import Codebook
from csi_research.data.simulate import RegionProfile, simulate_survey, write_new

PROVINCES = (("甲", "Jia"), ("乙", "Yi"), ("丙", "Bing"), ("丁", "Ding"), ("戊", "Wu"),
             ("己", "Ji"), ("庚", "Geng"), ("辛", "Xin"), ("壬", "Ren"), ("癸", "Gui"))
CITY_NUMERALS = "一二三四五六七八九十"
WAVES = (2025, 2026)
COLUMNS = ["study", "region", "wave", "province", "city", "customers", "n", "seed", "study_yaml", "data"]


def write_national_survey(
    folder: str | Path,
    n_regions: int = 300,
    *,
    respondents: int = 450,
    provinces: int = 10,
    cities_per_province: int = 3,
    two_wave_share: float = 1 / 3,
    seed: int | np.random.Generator = 0,
) -> pd.DataFrame:
    """Write ``folder/data/<region>_<wave>.csv`` and ``folder/studies/<region>-<wave>/study.yaml``.

    Each region draws its sample size around ``respondents`` (± 10 %), its place among
    ``provinces`` fictional provinces of ``cities_per_province`` cities each, and its latent
    profile; ``two_wave_share`` of the regions have waves 2025 and 2026, the rest 2026 only.
    The same arguments give byte-identical files; existing files are never overwritten (an equal
    one is kept, a different one is an error). Returns one row per study (columns ``COLUMNS``);
    the studies folder is what :func:`csi_research.run.batch.run_batch` takes.
    """
    if not 1 <= provinces <= len(PROVINCES):
        raise ModelSpecError(f"provinces must be between 1 and {len(PROVINCES)}, not {provinces}")
    if not 1 <= cities_per_province <= len(CITY_NUMERALS):
        raise ModelSpecError(f"cities_per_province must be between 1 and {len(CITY_NUMERALS)}, "
                             f"not {cities_per_province}")
    if n_regions < 1 or respondents < 50:
        raise ModelSpecError(f"need at least 1 region of at least 50 respondents, not {n_regions} regions "
                             f"of {respondents}")
    if not 0 <= two_wave_share <= 1:
        raise ModelSpecError(f"two_wave_share must be a share between 0 and 1, not {two_wave_share}")
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    book = Codebook.default()
    constructs = book.model().names
    width = max(3, len(str(n_regions)))
    twice = set(rng.choice(n_regions, size=round(two_wave_share * n_regions), replace=False).tolist())
    rows = []
    for k in range(n_regions):
        number = f"{k + 1:0{width}d}"
        province = PROVINCES[k % provinces]  # round robin: every province gets regions
        city = int(rng.integers(cities_per_province))
        waves = WAVES if k in twice else WAVES[-1:]
        profile = _profile(rng, f"sim{number}", number, constructs, book.item_ids, respondents, waves)
        customers = int(round(np.exp(rng.normal(np.log(300_000), 0.8)), -2)) or 100
        place = {
            "province": {"zh": f"{province[0]}省（虚构）", "en": f"{province[1]} (fictional)"},
            "city": {"zh": f"{province[0]}{CITY_NUMERALS[city]}市（虚构）",
                     "en": f"{province[1]} city {city + 1} (fictional)"},
        }
        for wave in waves:
            survey_seed = int(rng.integers(2**31))
            study_seed = int(rng.integers(2**31))
            sim = simulate_survey(profile, seed=survey_seed, wave=wave, codebook=book)
            data = folder / "data" / f"{profile.id}_{wave}.csv"
            sim.to_csv(data)
            study = folder / "studies" / f"{profile.id}-{wave}"
            write_new(study / "study.yaml", _study_yaml(profile, wave, place, customers, study_seed))
            rows.append({"study": study.name, "region": profile.id, "wave": wave,
                         "province": place["province"]["en"], "city": place["city"]["en"],
                         "customers": customers, "n": len(sim.frame), "seed": survey_seed,
                         "study_yaml": study / "study.yaml", "data": data})
    return pd.DataFrame(rows, columns=COLUMNS)


def _profile(rng: np.random.Generator, region_id: str, number: str, constructs: list[str],
             items: list[str], respondents: int, waves: tuple[int, ...]) -> RegionProfile:
    """A region's population: a common level plus construct deviations, a few weak or strong items."""
    level = rng.normal(0.0, 0.25)
    means = {c: round(float(level + rng.normal(0.0, 0.10)), 3) for c in constructs}
    effects = {i: round(float(rng.normal(0.0, 0.15)), 3) for i in items}
    for item in rng.choice(items, size=2, replace=False):  # a weak link or two, as real regions have
        effects[str(item)] = round(float(rng.normal(-0.5, 0.2)), 3)
    residential = rng.uniform(0.65, 0.9)
    commercial = (1 - residential) * rng.uniform(0.4, 0.8)
    mix = {"residential": residential, "commercial": commercial, "industrial": 1 - residential - commercial}
    shifts = {}
    if len(waves) > 1:
        change = rng.normal(0.05, 0.10)
        shifts = {waves[-1]: {c: round(float(change + rng.normal(0.0, 0.05)), 3) for c in constructs}}
    return RegionProfile(
        id=region_id,
        name_zh=f"模拟区{number}（虚构）",
        name_en=f"Sim-{number} (fictional)",
        description="Synthetic region of a simulated national survey; fictional name, place and size.",
        n=int(rng.integers(round(respondents * 0.9), round(respondents * 1.1) + 1)),
        waves=waves,
        latent_means=means,
        item_effects=effects,
        customer_mix=mix,
        urban_share=float(rng.uniform(0.2, 0.95)),
        high_voltage_share=float(rng.uniform(0.02, 0.10)),
        segment_shifts={"rural": round(float(rng.normal(-0.05, 0.05)), 3)},
        wave_shifts=shifts,
    )


def _study_yaml(profile: RegionProfile, wave: int, place: dict, customers: int, seed: int) -> bytes:
    spec = {
        "description": {"zh": "模拟全国调查中的一个虚构区域；数据为合成数据。",
                        "en": "A fictional region of a simulated national survey; SYNTHETIC data."},
        "language": "zh",
        "region": {"id": profile.id, "name_zh": profile.name_zh, "name_en": profile.name_en},
        "wave": wave,
        "synthetic": True,
        "place": place,
        "customers": customers,
        "data": f"../../data/{profile.id}_{wave}.csv",
        "codebook": "default",
        "model": "default",
        "estimation": {"scheme": "path", "scaled": True, "missing": "em", "cbsem": True,
                       "cbsem_estimator": "auto"},
        "bootstrap": {"n_boot": 2000, "quick_n_boot": 200, "ci": 0.95},
        "seed": seed,
        "segments": ["customer_class", "area", "voltage"],
        "index_target": 80,
    }
    head = (f"# {profile.name_en}, survey wave {wave}. FICTIONAL region, SYNTHETIC survey data "
            "(csi_research.programme.national).\n")
    body = yaml.safe_dump(spec, allow_unicode=True, sort_keys=False, width=110)
    return (head + body).encode("utf-8")
