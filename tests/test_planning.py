"""Sample planning: the formulas against hand-worked values, allocation, files never overwritten,
the command, and — on simulated surveys fitted as a study fits them — half-widths at the target."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from small_study import small_study

import csi_research as csi
from csi_research.core.errors import CSIWarning, ModelSpecError
from csi_research.data.sample import prepare
from csi_research.data.simulate import simulate_survey
from csi_research.programme import planning
from csi_research.run.cli import main
from csi_research.stats.bootstrap import bootstrap
from csi_research.stats.pls import fit_pls
from csi_research.study.pipeline import run_study


def test_kish_design_effect_by_hand():
    assert planning.kish_deff([1, 1, 2, 4]) == pytest.approx(4 * 22 / 64)  # n Σw² / (Σw)²
    assert planning.kish_deff(np.full(50, 3.0)) == pytest.approx(1.0)


def test_interviews_needed_by_hand():
    a = planning.PlanAssumptions(region="x", sd=20, deff=1.5, response_rate=0.4, item_nonresponse=0.1)
    # (1.959964 · 20 / 2)² = 384.15; × 1.5 / 0.9 = 640.24 → 641 completes, 641 / 0.4 → 1603 contacts
    table = planning.plan_sample([a], half_width=2.0)
    assert table.loc[0, "completes"] == 641 and table.loc[0, "contacts"] == 1603
    assert planning.expected_half_width(a, 641) <= 2.0 < planning.expected_half_width(a, 640)
    with pytest.raises(ModelSpecError, match="response_rate"):
        planning.PlanAssumptions(region="x", sd=20, response_rate=1.5)
    assert csi.plan_sample is planning.plan_sample and csi.allocate_sample is planning.allocate_sample


def test_allocation_sums_to_the_budget_and_neyman_is_most_precise():
    regions = [planning.PlanAssumptions(region=r, sd=s, deff=d, population=p)
               for r, s, d, p in (("a", 18, 1.0, 100_000), ("b", 30, 1.4, 300_000), ("c", 22, 1.1, 600_000))]
    out = {m: planning.allocate_sample(regions, 2000, m) for m in planning.ALLOCATIONS}
    assert all(t["completes"].sum() == 2000 for t in out.values())
    assert list(out["equal"]["completes"]) in ([667, 667, 666], [667, 666, 667], [666, 667, 667])
    prop = out["proportional"]["completes"].to_numpy()
    assert prop == pytest.approx([200, 600, 1200], abs=1)
    # Neyman: n_h ∝ N_h S_h √deff_h, worked by hand
    share = np.array([1e5 * 18, 3e5 * 30 * math.sqrt(1.4), 6e5 * 22 * math.sqrt(1.1)])
    assert out["neyman"]["completes"].to_numpy() == pytest.approx(2000 * share / share.sum(), abs=1)
    widths = {m: t["province_half_width"].iloc[0] for m, t in out.items()}
    assert widths["neyman"] <= min(widths["proportional"], widths["equal"])
    with pytest.raises(ModelSpecError, match="customers"):
        planning.allocate_sample([planning.PlanAssumptions(region="z", sd=20)] * 2, 100, "neyman")


def test_a_plan_file_is_never_overwritten(tmp_path, capsys):
    out = tmp_path / "plan.csv"
    argv = ["plan", "--sd", "20", "--deff", "1.2", "--region", "a", "b", "--customers", "1000", "3000",
            "--half-width", "2", "--response-rate", "0.5", "--total", "900", "--out", str(out)]
    assert main(argv) == 0
    written = out.read_bytes()
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert set(table["table"]) == {"requirement", "allocation"}
    assert "Interviews for a CSI interval" in capsys.readouterr().out
    assert main(argv) == 2
    assert "exists already" in capsys.readouterr().err
    assert out.read_bytes() == written
    with pytest.raises(FileExistsError):
        planning.write_plan(table, out)


def test_a_previous_wave_bundle_plans_back_its_own_precision(tmp_path, capsys):
    """At the previous wave's own half-width (same deff, missing share) the plan asks for about its n."""
    result = run_study.quiet(small_study(tmp_path / "s", "segments", "[customer_class]"), quick=True)
    bundle = result.save(tmp_path / "bundle")
    a = planning.assumptions_from_bundle(bundle, response_rate=0.5)
    assert a.previous_n == result.sample.n and a.segments
    n = planning.needed(a, a.previous_half_width)
    assert n == pytest.approx(a.previous_n, rel=0.15)
    assert main(["plan", str(bundle), "--half-width", "3", "--response-rate", "0.5"]) == 0
    assert "customer_class" in capsys.readouterr().out


def _half_width(n: int, seed: int, n_boot: int) -> tuple[float, float, float]:
    sim = simulate_survey("beiling", n=n, seed=seed)
    model = sim.codebook.model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        survey = sim.survey()
        fit = fit_pls(prepare(model, survey, missing="em"))
        boot = bootstrap(fit, n_boot=n_boot, seed=seed, progress=False)
    est = boot.estimates
    row = est[(est["statistic"] == "index") & (est["construct"] == model.target)].iloc[0]
    missing = float(survey.frame[list(model.constructs[model.target])].isna().mean().mean())
    return float(row["ci_upper"] - row["ci_lower"]) / 2, float(row["se"]), missing


def test_surveys_of_the_planned_size_reach_the_target_half_width():
    """A pilot's SE plans n for ±3 points; 30 surveys of that n, fitted with PLS and bootstrapped,
    give a median half-width within 10 % of the target (the script runs 200 replications)."""
    pilot = 300
    _, se, missing = _half_width(pilot, 7, 150)
    plan = planning.PlanAssumptions(region="beiling", sd=se * math.sqrt(pilot * (1 - missing)),
                                    item_nonresponse=missing)
    n = planning.needed(plan, 3.0)
    assert 150 < n < 600
    widths = [_half_width(n, 500 + r, 150)[0] for r in range(30)]
    assert np.median(widths) == pytest.approx(3.0, rel=0.10)
    # and at a quarter of the n, about twice the half-width: the plan's square-root law
    quarter = [_half_width(n // 4, 900 + r, 150)[0] for r in range(12)]
    assert np.median(quarter) / np.median(widths) == pytest.approx(2.0, rel=0.15)


COSTLY = (("a", 18, 1.0, 100_000, 60.0), ("b", 30, 1.4, 300_000, 240.0), ("c", 22, 1.1, 600_000, 90.0))


def _costly() -> list[planning.PlanAssumptions]:
    return [planning.PlanAssumptions(region=r, sd=s, deff=d, population=p, cost=c)
            for r, s, d, p, c in COSTLY]


def test_a_money_budget_is_spent_where_it_buys_the_most_precision():
    """Neyman with costs against a numerical minimum of the provincial variance at that budget."""
    from scipy.optimize import minimize

    regions, budget = _costly(), 250_000.0
    table = planning.allocate_sample(regions, method="neyman", budget=budget)
    n, costs = table["completes"].to_numpy(), np.array([c for *_, c in COSTLY])
    assert (n * costs).sum() <= budget and budget - (n * costs).sum() < costs.max()  # spent, whole interviews
    assert table["cost"].sum() == pytest.approx((n * costs).sum())
    w = np.array([p for *_, p, _ in COSTLY], dtype=float)
    w /= w.sum()
    s2 = np.array([s**2 * d for _, s, d, _, _ in COSTLY])

    def variance(x):  # the provincial index's sampling variance at x interviews per region
        return float(np.sum(w**2 * s2 / x))

    best = minimize(variance, x0=np.full(3, budget / costs.sum()), method="SLSQP", bounds=[(2, None)] * 3,
                    constraints=[{"type": "eq", "fun": lambda x: budget - costs @ x}],
                    options={"ftol": 1e-14})
    assert best.success
    np.testing.assert_allclose(n, best.x, atol=1.0)  # rounding to whole interviews only
    for method in ("proportional", "equal"):  # the other two spend the same money less precisely
        other = planning.allocate_sample(regions, method=method, budget=budget)
        assert (other["cost"].sum()) <= budget
        assert other["province_half_width"].iloc[0] > table["province_half_width"].iloc[0]
    equal = planning.allocate_sample(regions, method="equal", budget=budget)["completes"]
    assert equal.max() - equal.min() <= 1


def test_with_equal_costs_a_budget_is_a_total_of_interviews():
    regions = [planning.PlanAssumptions(region=r, sd=s, deff=d, population=p, cost=50.0)
               for r, s, d, p, _ in COSTLY]
    for method in planning.ALLOCATIONS:
        by_money = planning.allocate_sample(regions, method=method, budget=100_000)
        by_count = planning.allocate_sample(regions, 2000, method)
        assert by_money["completes"].sum() == 2000
        np.testing.assert_allclose(by_money["completes"], by_count["completes"], atol=1)


def test_a_budget_needs_costs_and_enough_money():
    plain = [planning.PlanAssumptions(region=r, sd=20, population=1000) for r in "xy"]
    with pytest.raises(ModelSpecError, match="cost per completed interview; missing for x, y"):
        planning.allocate_sample(plain, budget=10_000)
    with pytest.raises(ModelSpecError, match="either a total of interviews or a budget"):
        planning.allocate_sample(_costly(), 100, budget=10_000)
    with pytest.raises(ModelSpecError, match="cannot pay for 2 interviews in each of 3 regions"):
        planning.allocate_sample(_costly(), budget=100)
    with pytest.raises(ModelSpecError, match="cost must be a positive amount"):
        planning.PlanAssumptions(region="x", sd=20, cost=0)


def test_the_plan_command_spends_a_money_budget(tmp_path, capsys):
    out = tmp_path / "plan.csv"
    argv = ["plan", "--sd", "20", "--region", "a", "b", "--customers", "1000", "3000", "--half-width", "2",
            "--budget", "50000", "--cost", "40", "100", "--out", str(out)]
    assert main(argv) == 0
    assert "a budget of 50000 across the regions (neyman allocation)" in capsys.readouterr().out
    table = pd.read_csv(out, encoding="utf-8-sig")
    allocation = table[table["table"] == "allocation"]
    assert allocation["cost"].sum() <= 50_000 and list(allocation["cost_per_interview"]) == [40, 100]
    assert main([*argv[:-1], str(tmp_path / "other.csv"), "--total", "900"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["plan", "--sd", "20", "--region", "a", "b", "--half-width", "2", "--budget", "9000",
                 "--cost", "1", "2", "3"]) == 2
    assert "one per region (2)" in capsys.readouterr().err


def test_a_segment_that_varies_more_needs_more_interviews(tmp_path):
    """Segment S = region S × the bundle's sd_ratio: needed n scales with its square, by hand."""
    result = run_study.quiet(small_study(tmp_path / "s", "segments", "[customer_class]"), quick=True)
    bundle = result.save(tmp_path / "bundle")
    a = planning.assumptions_from_bundle(bundle)
    table = planning.plan_sample([a], half_width=3.0)
    region = table[table["segment"] == "all"].iloc[0]
    seg = result.segments[result.segments["construct"] == result.target].set_index("segment")
    z = stats.norm.ppf(0.975)
    rows = table[table["attribute"] == "customer_class"]
    assert len(rows) == len(seg) >= 2
    for row in rows.itertuples():
        ratio = seg.at[row.segment, "sd_ratio"]
        assert row.sd == pytest.approx(a.sd * ratio, rel=1e-12)
        assert row.completes == math.ceil((z * a.sd * ratio / 3.0) ** 2 * a.deff / (1 - a.item_nonresponse))
    assert rows["completes"].nunique() > 1 and region["completes"] == planning.needed(a, 3.0)
    old = dataclasses.replace(a, segments=tuple(s[:3] for s in a.segments))  # a bundle before sd_ratio
    shared = planning.plan_sample([old], 3.0).query("segment != 'all'")["completes"]
    assert (shared == region["completes"]).all()
