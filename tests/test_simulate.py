"""Synthetic surveys: determinism, bundled data, population truth, and samples that match it.

Tolerances are three standard errors of the sample statistic at the n used, so a failure means a
real disagreement between the sampler and the population it claims to draw from.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from csi_research.core.errors import CSIWarning, ModelSpecError
from csi_research.data.codebook import Codebook
from csi_research.data.simulate import (
    DEFAULT_PATH_COEFFICIENTS,
    RegionProfile,
    load_regions,
    region_seed,
    simulate_survey,
)
from csi_research.model import DEFAULT_PATHS
from csi_research.run.cli import main
from csi_research.study.bundled_data import write_bundled_data

DATA = Path(__file__).resolve().parents[1] / "data"
REGIONS = load_regions()
BOOK = Codebook.default()


def clean_profile(**changes) -> RegionProfile:
    """No segment shifts, no contamination: the population is one normal factor model."""
    base = RegionProfile("test", "测试（虚构）", "Test (fictional)", mcar_rate=0.0, mar_rural_rate=0.0,
                         straight_liner_share=0.0)
    return dataclasses.replace(base, **changes)


def implied_correlation(paths: dict[tuple[str, str], float], names: list[str]) -> np.ndarray:
    """Σ = (I − B)⁻¹ Ψ (I − B)⁻ᵀ with Ψ chosen so that diag Σ = 1 (fixed-point iteration)."""
    index = {n: k for k, n in enumerate(names)}
    b = np.zeros((len(names), len(names)))  # b[target, source]
    for (s, t), beta in paths.items():
        b[index[t], index[s]] = beta
    inv = np.linalg.inv(np.eye(len(names)) - b)
    psi = np.eye(len(names))
    for _ in range(50):
        sigma = inv @ psi @ inv.T
        psi = np.diag(np.diag(psi) + 1 - np.diag(sigma))
    return inv @ psi @ inv.T


def code_moments(mean: float, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds (documented rule) and code probabilities of a unit-variance normal response."""
    cut = stats.norm.ppf((np.arange(1, k) / k) ** 2.2)
    cdf = np.concatenate([[0.0], stats.norm.cdf(cut - mean), [1.0]])
    return cut, np.diff(cdf)


# ---------------------------------------------------------------------------- determinism
def test_same_seed_same_survey_and_bytes(tmp_path):
    a = simulate_survey("nanyu", seed=11)
    b = simulate_survey("nanyu", seed=np.random.default_rng(11))
    pd.testing.assert_frame_equal(a.frame, b.frame)
    a.to_csv(tmp_path / "a.csv")
    simulate_survey("nanyu", seed=11).to_csv(tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert not simulate_survey("nanyu", seed=12).frame.equals(a.frame)


def test_bundled_data_regenerates_byte_identically(tmp_path):
    if not DATA.is_dir():
        pytest.skip("data/ is not present in this checkout")
    written = write_bundled_data(tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in DATA.iterdir())
    for path in written:
        assert path.read_bytes() == (DATA / path.name).read_bytes(), path.name
    assert "SYNTHETIC" in (DATA / "README.md").read_text(encoding="utf-8")


def test_region_seed_is_stable():
    assert region_seed("donggang", 2025) == int.from_bytes(
        __import__("hashlib").sha256(b"donggang/2025").digest()[:4], "big")
    assert region_seed("donggang", 2025) != region_seed("donggang", 2026)


# ---------------------------------------------------------------------------- profiles
def test_regions_are_fictional_and_sized():
    assert {"donggang", "beiling", "nanyu", "xiyuan", "yunchuan", "linxi"} <= set(REGIONS)
    for r in REGIONS.values():
        assert "fictional" in r.name_en and "虚构" in r.name_zh
        assert "ynthetic" in r.description
        assert 300 <= r.n <= 800
    assert REGIONS["donggang"].waves == (2025, 2026)
    assert REGIONS["linxi"].n == 300


def test_planted_weak_links_show_in_truth():
    def item_index(region, item, wave=None):
        means = simulate_survey(region, n=1, wave=wave).truth.item_means.set_index("item")
        return means.loc[item, "index_0_100"], means

    for region, weak in [("beiling", "QUA9"), ("nanyu", "QUA1"), ("xiyuan", "QUA2"), ("yunchuan", "QUA4")]:
        _, means = item_index(region, weak)
        quality = means[means.construct == "Quality"]["index_0_100"]
        assert quality.idxmin() == weak, region
    before = simulate_survey("donggang", n=1, wave=2025).truth.indices.set_index("construct")
    after = simulate_survey("donggang", n=1, wave=2026).truth.indices.set_index("construct")
    assert (after.loc[["Quality", "Satisfaction", "Loyalty"], "index_0_100"]
            > before.loc[["Quality", "Satisfaction", "Loyalty"], "index_0_100"] + 3).all()
    linxi = simulate_survey("linxi", n=1).truth.indices.set_index("construct")["index_0_100"]
    others = simulate_survey("yunchuan", n=1).truth.indices.set_index("construct")["index_0_100"]
    assert linxi["Image"] < others["Image"] - 5 and linxi["Expectation"] < others["Expectation"] - 5


def test_paths_implying_r2_of_one_are_rejected():
    paths = dict(DEFAULT_PATH_COEFFICIENTS) | {("Image", "Satisfaction"): 0.8, ("Value", "Satisfaction"): 0.6}
    with pytest.raises(ModelSpecError, match=r"paths into Satisfaction imply R² = 1\.\d+ ≥ 1"):
        simulate_survey(clean_profile(paths=paths), n=10)
    with pytest.raises(ModelSpecError, match="not paths of the model"):
        simulate_survey(clean_profile(paths={("Loyalty", "Image"): 0.3}), n=10)


def test_profile_from_yaml_entry():
    entry = yaml.safe_load("""
        id: demo
        name_zh: 演示（虚构）
        name_en: Demo (fictional)
        paths: {"Satisfaction -> Loyalty": 0.7}
        loadings: {SAT1: 0.9}
        wave_shifts: {2025: {Quality: 0.2}}
    """)
    profile = RegionProfile.from_dict(entry)
    assert profile.paths[("Satisfaction", "Loyalty")] == 0.7
    assert profile.paths[("Image", "Expectation")] == DEFAULT_PATH_COEFFICIENTS[("Image", "Expectation")]
    assert profile.loadings["SAT1"] == 0.9 and profile.loadings["SAT2"] == 0.84
    assert profile.wave_shifts[2025]["Quality"] == 0.2


# ---------------------------------------------------------------------------- truth
def test_truth_without_segments_equals_the_structural_parameters():
    truth = simulate_survey(clean_profile(), n=1).truth
    names = truth.latent_correlation.index.tolist()
    expected = implied_correlation(DEFAULT_PATH_COEFFICIENTS, names)
    assert np.allclose(truth.latent_correlation.to_numpy(), expected, atol=1e-10)
    paths = truth.paths.set_index(["source", "target"])["estimate"]
    for path in DEFAULT_PATHS:
        assert paths[path] == pytest.approx(DEFAULT_PATH_COEFFICIENTS[path], abs=1e-10)
    assert (truth.r2 < 1).all() and (truth.r2 > 0).all()
    loadings = truth.loadings.set_index("item")["loading"]
    assert loadings["SAT1"] == pytest.approx(0.88)


def test_truth_of_a_chain_is_closed_form():
    # a questionnaire with Image, Expectation and Quality only: Image -> Expectation -> Quality
    spec = BOOK.to_dict()
    keep = {"Image", "Expectation", "Quality"}
    spec["items"] = [i for i in spec["items"] if i["construct"] in keep]
    spec["constructs"] = {k: v for k, v in spec["constructs"].items() if k in keep}
    spec["subindicators"] = {k: v for k, v in spec["subindicators"].items() if v["construct"] in keep}
    book = Codebook.from_dict(spec)
    paths = {("Image", "Expectation"): 0.6, ("Expectation", "Quality"): 0.5}
    truth = simulate_survey(clean_profile(paths=paths), n=1, codebook=book).truth
    assert truth.latent_correlation.loc["Image", "Quality"] == pytest.approx(0.3)
    effects = truth.effects.set_index(["source", "target"])
    assert effects.loc[("Image", "Quality"), "total"] == pytest.approx(0.3)
    assert effects.loc[("Image", "Quality"), "direct"] == 0
    assert truth.r2.to_dict() == pytest.approx({"Expectation": 0.36, "Quality": 0.25})


def test_truth_item_mean_is_the_normal_probability_integral():
    profile = clean_profile(latent_means={"Quality": 0.4}, item_effects={"QUA9": -0.5})
    means = simulate_survey(profile, n=1).truth.item_means.set_index("item")
    _, p = code_moments(0.76 * 0.4 - 0.5)  # loading of QUA9 is 0.76
    assert means.loc["QUA9", "mean_code"] == pytest.approx(p @ np.arange(1, 6))
    assert means.loc["QUA9", "grade_score"] == pytest.approx(p @ [0, 40, 60, 80, 100])
    assert means.loc["QUA9", "index_0_100"] == pytest.approx((p @ np.arange(1, 6) - 1) * 25)


# ---------------------------------------------------------------------------- samples
@pytest.fixture(scope="module")
def large_clean():
    return simulate_survey(clean_profile(latent_means={"Image": 0.3}), n=100_000, seed=5)


def test_item_correlations_match_the_population(large_clean):
    """Correlations of the discretised codes against their exact bivariate-normal expectation."""
    names = large_clean.truth.latent_correlation.index.tolist()
    rho = implied_correlation(DEFAULT_PATH_COEFFICIENTS, names)
    loading = large_clean.profile.loadings
    n = len(large_clean.frame)
    for a, b, ca, cb in [("IMG1", "IMG3", "Image", "Image"), ("SAT1", "LOY1", "Satisfaction", "Loyalty"),
                         ("EXP2", "QUA10", "Expectation", "Quality"), ("IMG4", "VAL2", "Image", "Value")]:
        r = loading[a] * loading[b] * rho[names.index(ca), names.index(cb)]
        ma, mb = (loading[i] * (0.3 if c == "Image" else 0.0) for i, c in ((a, ca), (b, cb)))
        cut, pa = code_moments(ma)
        _, pb = code_moments(mb)
        joint = stats.multivariate_normal(mean=[0, 0], cov=[[1, r], [r, 1]])
        # code = 1 + number of thresholds exceeded, so E[xa xb] = 1 + E[Sa] + E[Sb] + sum P(ya>s, yb>t)
        exceed = sum(joint.cdf([ma - s, mb - t]) for s in cut for t in cut)
        ka = np.arange(1, 6)
        mean_a, mean_b = pa @ ka, pb @ ka
        cov = 1 + (mean_a - 1) + (mean_b - 1) + exceed - mean_a * mean_b
        expected = cov / np.sqrt((pa @ ka**2 - mean_a**2) * (pb @ ka**2 - mean_b**2))
        observed = np.corrcoef(large_clean.frame[a], large_clean.frame[b])[0, 1]
        se = (1 - expected**2) / np.sqrt(n)
        assert abs(observed - expected) < 3 * se, (a, b, observed, expected)


def test_item_means_match_truth_within_three_standard_errors():
    profile = dataclasses.replace(REGIONS["beiling"], mar_rural_rate=0.0)  # MCAR only: means unbiased
    sim = simulate_survey(profile, n=60_000, seed=9)
    genuine = sim.frame[~sim.frame["respondent_id"].isin(sim.straight_liners)]
    items = genuine[BOOK.item_ids].where(genuine[BOOK.item_ids] != 9)
    items["CMP2"] = 6 - items["CMP2"]  # truth is on the analysis orientation
    truth = sim.truth.item_means.set_index("item")["mean_code"]
    z = (items.mean() - truth) / (items.std() / np.sqrt(items.count()))
    assert (z.abs() < 3).all(), z[z.abs() >= 3]


def test_segments_reverse_coding_missingness_and_straight_liners():
    profile = REGIONS["xiyuan"]
    n = 40_000
    sim = simulate_survey(profile, n=n, seed=3)
    f = sim.frame
    share = f["customer_class"].value_counts(normalize=True)
    assert abs(share["industrial"] - 0.30) < 3 * np.sqrt(0.3 * 0.7 / n)
    assert abs((f["voltage"] == "high").mean() - 0.30) < 3 * np.sqrt(0.3 * 0.7 / n)
    # CMP2 is recorded reversed: it correlates negatively with CMP1 among genuine answers
    ok = (f["CMP1"] != 9) & (f["CMP2"] != 9) & ~f["respondent_id"].isin(sim.straight_liners)
    assert np.corrcoef(f.loc[ok, "CMP1"], f.loc[ok, "CMP2"])[0, 1] < -0.1
    # missingness: MCAR + item-specific + extra for rural respondents (MAR given area)
    rural = f["area"] == "rural"
    for item, extra in [("QUA6", 0.03), ("IMG1", 0.0)]:
        for mask, rate in [(rural, profile.mcar_rate + extra + profile.mar_rural_rate),
                           (~rural, profile.mcar_rate + extra)]:
            observed = (f.loc[mask, item] == 9).mean()
            assert abs(observed - rate) < 3 * np.sqrt(rate * (1 - rate) / mask.sum()) + 1e-12, (item, rate)
    # straight-liners: the planted share, and the loader finds every one of them
    assert abs(len(sim.straight_liners) / n - 0.02) < 3 * np.sqrt(0.02 * 0.98 / n)
    small = simulate_survey(profile, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        survey = small.survey()
    assert len(small.straight_liners) > 0
    assert set(small.straight_liners) <= set(survey.quality.straight_liners)


def test_answers_are_top_skewed():
    f = simulate_survey("yunchuan", n=5000, seed=1).frame
    codes = f[BOOK.item_ids].to_numpy().ravel()
    codes = codes[codes != 9]
    assert np.mean(codes >= 4) > 0.6 and np.mean(codes <= 2) < 0.2


# ---------------------------------------------------------------------------- CLI
def test_cli_simulate_one_region_and_all(tmp_path, capsys):
    out = tmp_path / "one.csv"
    assert main(["simulate", "--region", "linxi", "--n", "50", "--seed", "4", "--out", str(out)]) == 0
    assert pd.read_csv(out).shape == (50, 36)
    assert main(["simulate", "--all", "--out", str(tmp_path / "all")]) == 0
    assert (tmp_path / "all" / "donggang_2026.csv").is_file()
    assert main(["simulate"]) == 2
    assert "give --all or --region" in capsys.readouterr().err
    assert main(["simulate", "--region", "atlantis", "--out", str(out)]) == 2


def test_cli_validate_and_summary(tmp_path, capsys):
    path = tmp_path / "s.csv"
    simulate_survey("linxi", seed=2).to_csv(path)
    assert main(["validate", str(path)]) == 0
    text = capsys.readouterr().out
    assert "valid (300 respondents" in text and "straight-liners" in text
    assert main(["summary", str(path)]) == 0
    assert "QUA9" in capsys.readouterr().out
    bad = pd.read_csv(path)
    bad.loc[3, "SAT2"] = 7
    bad.to_csv(path, index=False)
    assert main(["validate", str(path)]) == 2
    assert "s.csv: column SAT2 row 5: value 7 is outside the 1–5 scale" in capsys.readouterr().err
    book = tmp_path / "book.yaml"
    BOOK.to_yaml(book)
    assert main(["validate", str(DATA / "linxi_2025.csv"), "--codebook", str(book)]) == 0


def test_cli_help_on_every_subcommand(capsys):
    for command in ([], ["simulate"], ["validate"], ["summary"]):
        assert main([*command, "--help"]) == 0
        assert "usage: csi-research" in capsys.readouterr().out
