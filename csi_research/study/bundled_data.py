"""The bundled synthetic data: every fictional region's surveys and service records, written under data/.

It stands above both the survey simulation and the synthetic records it combines.
"""

from __future__ import annotations

from pathlib import Path

from csi_research.data.simulate import load_regions, region_seed, simulate_survey, write_new
from csi_research.data.survey import load_survey
from csi_research.records import synthetic_records


def write_bundled_data(out_dir: str | Path) -> list[Path]:
    """Write every bundled region and wave as ``<region>_<wave>.csv`` plus a README; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written, rows = [], []
    for region in load_regions().values():
        for wave in region.waves:
            seed = region_seed(region.id, wave)
            sim = simulate_survey(region, seed=seed, wave=wave)
            path = out / f"{region.id}_{wave}.csv"
            sim.to_csv(path)
            records = out / f"{region.id}_{wave}_records.csv"
            write_new(records, _records_csv(path, seed))
            written += [path, records]
            rows.append(f"| `{path.name}`, `{records.name}` | {region.name_zh} {region.name_en} | "
                        f"{len(sim.frame)} | {seed} |")
    readme = out / "README.md"
    write_new(readme, _README.format(table="\n".join(rows)).encode("utf-8"))
    return [*written, readme]


def _records_csv(survey_file: Path, seed: int) -> bytes:
    """Synthetic service records of a bundled survey's respondents, with the default planted drivers."""
    survey = load_survey.quiet(survey_file)
    frame = synthetic_records(survey, seed=seed).records.frame
    return frame.to_csv(index=False, float_format="%.4f", lineterminator="\n").encode("utf-8")


_README = """# Bundled survey data — SYNTHETIC

Every file here is **synthetic**: drawn by `csi_research.data.simulate` from the fictional region
profiles in `csi_research/resources/regions.yaml`. The regions, their names and all answers are
invented; no real customer, company or place is described.

Regenerate (byte-identical for the same code) with

    csi-research simulate --all --out data/

`<region>_<wave>_records.csv` are synthetic service records (95598 work orders) of the same
respondents, one row per event (`csi_research.records`): outages, repairs, complaints, hotline
contacts... over the survey year, generated with known drivers of dissatisfaction
(`csi_research.records.synthetic`), so the driver analysis of a report can be checked against them.

Each survey file is one region and survey wave, UTF-8 CSV, one row per respondent: `respondent_id`,
`region`, `wave`, `customer_class`, `area`, `voltage` and the 30 items of the built-in
questionnaire (`csi_research/resources/codebook_default.yaml`) as raw codes of the 5-level semantic
scale (1 很不满意 … 5 很满意), `9` = don't know. `CMP2` is stored reverse-coded, as asked.
The seed of each file is the first 4 bytes of sha256("<region>/<wave>") (big-endian), so it is
stable across machines and Python versions.

| file | region | respondents | seed |
|---|---|---|---|
{table}
"""
