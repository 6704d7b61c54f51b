"""Comparability of regions in the comparison: planted truth for MICOM step 2 and MGA, read from bundles.

Each region is a bundle holding a prepared sample drawn from a small common-factor population; the
population is the same everywhere unless a test plants a difference: an item that measures
another thing in one region (compositional invariance fails for its construct), or a structural
path that is stronger in one region (the MGA finds it, the others do not differ).
"""

from __future__ import annotations

import gc
import warnings

import numpy as np
import pandas as pd
import pytest

from csi_research.model import CSIModel
from csi_research.programme.comparability import COMPUTED, comparability
from csi_research.programme.compare import compare
from csi_research.study.bundle import load_bundles, write_bundle

MODEL = CSIModel(
    {"Quality": ["q1", "q2", "q3"], "Satisfaction": ["s1", "s2", "s3"], "Loyalty": ["l1", "l2", "l3"]},
    [("Quality", "Satisfaction"), ("Satisfaction", "Loyalty")],
)
LOADINGS = np.array([0.85, 0.8, 0.75])


def survey(n: int, seed: int, path_qs: float = 0.5, item_noise: str | None = None) -> pd.DataFrame:
    """Items λ·η + e for η: Q → S (``path_qs``) → L (0.5); ``item_noise`` is replaced by pure noise."""
    rng = np.random.default_rng(seed)
    q = rng.standard_normal(n)
    s = path_qs * q + np.sqrt(1 - path_qs**2) * rng.standard_normal(n)
    loyal = 0.5 * s + np.sqrt(0.75) * rng.standard_normal(n)
    items = {}
    for prefix, eta in (("q", q), ("s", s), ("l", loyal)):
        for k, lam in enumerate(LOADINGS, start=1):
            items[f"{prefix}{k}"] = lam * eta + np.sqrt(1 - lam**2) * rng.standard_normal(n)
    frame = pd.DataFrame(items)
    if item_noise:
        frame[item_noise] = rng.standard_normal(n)
    return frame.assign(weight=1.0)


def bundle(folder, region: str, wave: str, sample: pd.DataFrame) -> str:
    results = {
        "study": {"region_id": region, "region_zh": f"{region}区", "region_en": region.title(), "wave": wave,
                  "estimation": {"scheme": "path", "scaled": True}},
        "ci": 0.95, "synthetic": True, "values": {"n": len(sample), "target": "Satisfaction"},
        "tables": {"indices": [{"construct": "Satisfaction", "index": 70.0, "ci_lower": 68.0,
                                "ci_upper": 72.0}]},
    }
    draws = pd.DataFrame({"Satisfaction": np.random.default_rng(0).normal(70, 1, 200)})
    return str(write_bundle(folder / f"{region}-{wave}", results, draws, {}, sample=sample,
                            model=MODEL.to_yaml()))


def test_alike_regions_are_comparable_and_no_driver_differs(tmp_path):
    paths = [bundle(tmp_path, r, "2025", survey(400, seed)) for seed, r in enumerate(("a", "b", "c"))]
    tested = comparability(load_bundles(paths), n_perm=500, seed=1)
    assert len(tested.verdicts) == 3 and (tested.verdicts["not_comparable"] == "").all()
    assert not tested.mga["significant"].any()
    assert tested.mga["p_adjusted"].min() > 0.05


def test_an_item_measuring_something_else_makes_its_construct_not_comparable(tmp_path):
    """In region b, s1 is noise: b's Satisfaction composite is built differently (MICOM step 2)."""
    paths = [bundle(tmp_path, "a", "2025", survey(500, 1)),
             bundle(tmp_path, "b", "2025", survey(500, 2, item_noise="s1"))]
    tested = comparability(load_bundles(paths), n_perm=500, seed=1)
    row = tested.verdicts.iloc[0]
    assert row["invariance"] == "no" and row["not_comparable"] == "Satisfaction"
    assert list(tested.not_comparable()["group_a"]) == ["A"]


def test_a_planted_path_difference_is_found_and_only_it(tmp_path):
    paths = [bundle(tmp_path, "a", "2025", survey(500, 3, path_qs=0.2)),
             bundle(tmp_path, "b", "2025", survey(500, 4, path_qs=0.7))]
    tested = comparability(load_bundles(paths), n_perm=500, seed=1)
    found = tested.differing_paths()
    assert list(zip(found["source"], found["target"], strict=True)) == [("Quality", "Satisfaction")]
    assert found["difference"].iloc[0] == pytest.approx(0.2 - 0.7, abs=0.12)  # a − b, sampling error ~0.05


def test_a_regions_two_waves_are_tested_and_the_result_is_reproducible(tmp_path):
    paths = [bundle(tmp_path, "a", "2025", survey(400, 5)), bundle(tmp_path, "a", "2026", survey(400, 6))]
    first = comparability(load_bundles(paths), n_perm=300, seed=7)
    COMPUTED.clear()  # computed afresh, not reused
    again = comparability(load_bundles(paths), n_perm=300, seed=7)
    assert list(first.verdicts["scope"]) == ["region"] and list(first.verdicts["unit"]) == ["A"]
    pd.testing.assert_frame_equal(first.mga, again.mga)
    pd.testing.assert_frame_equal(first.verdicts, again.verdicts)


def test_every_language_reports_the_same_tests_whatever_the_order_of_the_names(tmp_path):
    """Regions whose Chinese and English names sort in opposite orders: groups are region ids."""
    paths = [bundle(tmp_path, r, "2025", survey(300, seed, path_qs=q))
             for seed, r, q in ((1, "north", 0.3), (2, "south", 0.6), (3, "west", 0.45))]
    names = {"north": ("乙区", "Zeta"), "south": ("甲区", "Alpha"), "west": ("丙区", "Mu")}
    for r, (zh, en) in names.items():
        results = tmp_path / f"{r}-2025" / "results.json"
        results.write_text(results.read_text(encoding="utf-8").replace(f'"{r}区"', f'"{zh}"')
                           .replace(f'"{r.title()}"', f'"{en}"'), encoding="utf-8")
    bundles = load_bundles(paths)
    shown = {}
    for language in ("zh", "en"):
        COMPUTED.clear()  # each language computed on its own, as in two processes
        shown[language] = comparability(bundles, n_perm=200, seed=3, language=language)
    numbers = ["group_a", "group_b", "unit"]
    for table in ("verdicts", "mga"):
        zh, en = getattr(shown["zh"], table), getattr(shown["en"], table)
        pd.testing.assert_frame_equal(zh.drop(columns=numbers), en.drop(columns=numbers))
        ids = {v: k for k, pair in names.items() for v in pair}
        assert [ids[g] for g in zh["group_a"]] == [ids[g] for g in en["group_a"]]
    assert set(shown["zh"].verdicts["group_a"]) <= {"乙区", "甲区", "丙区"}
    assert set(shown["en"].mga["group_b"]) <= {"Zeta", "Alpha", "Mu"}
    again = comparability(bundles, n_perm=200, seed=3, language="zh")  # reused: the same tables
    pd.testing.assert_frame_equal(again.mga, shown["zh"].mga)


def test_bundles_without_samples_or_with_other_models_are_said_not_tested(tmp_path):
    old = bundle(tmp_path, "a", "2025", survey(300, 1))
    (tmp_path / "a-2025" / "sample.csv").unlink()
    other = write_bundle(tmp_path / "b-2025", *_parts("b"), sample=survey(300, 2),
                         model=CSIModel({"Quality": ["q1", "q2", "q3"], "Satisfaction": ["s1", "s2", "s3"]},
                                        [("Quality", "Satisfaction")]).to_yaml())
    third = bundle(tmp_path, "c", "2025", survey(300, 3))
    tested = comparability(load_bundles([old, third]), n_perm=100)
    assert tested.verdicts.empty and "hold no sample.csv" in tested.diagnostics[0]
    tested = comparability(load_bundles([other, third]), n_perm=100)
    assert tested.verdicts.empty and "different models" in tested.diagnostics[0]
    comparison = compare(load_bundles([other, third]), n_perm=100)
    assert any("different models" in d for d in comparison.diagnostics)


def _parts(region: str) -> tuple[dict, pd.DataFrame, dict]:
    results = {
        "study": {"region_id": region, "region_zh": region, "region_en": region.title(), "wave": "2025"},
        "ci": 0.95, "synthetic": True, "values": {"n": 300, "target": "Satisfaction"},
        "tables": {"indices": [{"construct": "Satisfaction", "index": 70.0, "ci_lower": 68.0,
                                "ci_upper": 72.0}]},
    }
    return results, pd.DataFrame({"Satisfaction": np.linspace(68, 72, 200)}), {}


def test_a_wave_of_too_many_regions_is_said_not_tested(tmp_path, monkeypatch):
    import csi_research.programme.comparability as module

    monkeypatch.setattr(module, "MAX_REGIONS", 2)
    paths = [bundle(tmp_path, r, "2025", survey(200, seed)) for seed, r in enumerate(("a", "b", "c"))]
    tested = comparability(load_bundles(paths), n_perm=100)
    assert tested.verdicts.empty and "3 regions make 3 pairs, too many" in tested.diagnostics[0]


def test_a_batch_comparison_tests_once_for_all_its_languages(tmp_path, monkeypatch):
    from csi_research.programme import comparability as module
    from csi_research.run.zygote import compute_once

    monkeypatch.setattr(module, "COMPUTED", {})
    paths = [bundle(tmp_path, r, "2025", survey(300, seed)) for seed, r in enumerate(("a", "b"))]
    compute_once({"bundle_dirs": paths, "quick": True})  # before the languages' notebooks are forked
    assert [tested.n_perm for tested in module.COMPUTED.values()] == [1000]  # the notebook's quick default
    monkeypatch.setattr(module, "_tested", lambda *a: pytest.fail("tested again"))
    for language in ("zh", "en"):
        shown = compare(load_bundles(paths), language=language, n_perm=1000, seed=0).comparability
        assert len(shown.verdicts) == 1


def test_many_families_tested_in_worker_processes_give_the_same_tables(tmp_path, monkeypatch):
    """A programme's tests per region with two waves run on the machine's cores, each in a fresh
    process that reads its bundles: the tables equal those of one process, row for row, with the
    notes of the untestable families (region c's second wave dropped an item) in their place."""
    from csi_research.programme import comparability as module

    paths = [bundle(tmp_path, r, w, survey(250, seed, path_qs=0.3 + 0.1 * (seed % 4)))
             for seed, (r, w) in enumerate((r, w) for r in "abcdef" for w in ("2025", "2026"))]
    (tmp_path / "c-2026" / "model.yaml").write_text(
        CSIModel({"Quality": ["q1", "q2", "q3"], "Satisfaction": ["s1", "s2", "s3"], "Loyalty": ["l1", "l2"]},
                 [("Quality", "Satisfaction"), ("Satisfaction", "Loyalty")]).to_yaml(), encoding="utf-8")
    bundles = load_bundles(paths)
    monkeypatch.setattr(module, "PARALLEL_FROM", 10**9)
    serial = comparability(bundles, n_perm=200, seed=3)
    COMPUTED.clear()
    monkeypatch.setattr(module, "PARALLEL_FROM", 2)
    monkeypatch.setattr(module.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    started = []
    real_start = module._start_worker

    def start(tasks):
        worker = real_start(tasks)
        started.append((len(tasks), worker is not None))
        return worker

    monkeypatch.setattr(module, "_start_worker", start)
    gc.collect()  # earlier tests' garbage (event loops, files) is not this call's to answer for
    with warnings.catch_warnings(record=True) as caught:  # any warning makes a batch compute it twice
        warnings.simplefilter("always")
        parallel = comparability(bundles, n_perm=200, seed=3)
        gc.collect()
    assert [str(w.message) for w in caught] == []
    assert started == [(4, True)]  # 8 testable families: this process takes 4, one worker the others
    COMPUTED.clear()
    monkeypatch.setattr(module.sys, "executable", "/bin/false")  # a worker that dies: its share is done here
    fallback = comparability(bundles, n_perm=200, seed=3)
    for other in (parallel, fallback):
        pd.testing.assert_frame_equal(other.verdicts, serial.verdicts)
        pd.testing.assert_frame_equal(other.mga, serial.mga)
        assert other.diagnostics == serial.diagnostics
    assert len(serial.verdicts) == 15 + 5  # wave 2025's pairs of six regions, five regions' two waves
    untested = [note for note in serial.diagnostics if "different models" in note]
    assert [note.split(":")[0] for note in untested] == ["wave 2026", "region c"]
