"""FIML on a survey with 220 missing-data patterns against R lavaan 0.6-14 (``missing = "ml"``).

Data: tests/data/fiml_patterns.csv, the bundled Donggang 2025 survey (600 respondents, default CSI
model, 30 items) with extra holes punched by tests/reference_scripts/fiml_patterns_data.py (seed
2025): 3 % of answers missing completely at random, and loyalty/complaint answers skipped more often
by respondents who rate IMG4 low (missing at random given an always-answered item). Reference
numbers: tests/reference_scripts/fiml_patterns.R (lavaan 0.6-14, default ML settings, observed
information), printed to 10 significant digits. lavaan reported converged = TRUE after 114 iterations.

Tolerances. Both programs reach the same optimum: −2 log L evaluated respondent by respondent is
43248.477560790874 at our estimates and 43248.477560809682 at lavaan's (lavaan's own figure:
43248.477560809712), i.e. lavaan stops 1.9e-8 above the minimum (its stopping rule is a relative
change of 1e-10 in the objective). Moving one parameter by δ from the optimum raises −2 log L by at
least (δ / SE)² (the likelihood-ratio statistic equals z² to second order), so lavaan's estimates can
sit up to sqrt(1.9e-8) ≈ 1.4e-4 standard errors from the optimum; the estimates are compared at
2e-4 × lavaan's SE (observed: 7.8e-5 SE at most, on Satisfaction ~ Quality, 3.8e-5 relative).
Standardised estimates are smooth functions of the estimates, compared at 1e-4 relative. Standard
errors come from numerically differentiated gradients in both programs at points 1e-4 SE apart, and
agree to 1e-5 (observed 9.5e-6): 5e-5 relative. Fit indices depend on −2 log L differences
(ours vs. lavaan: 1.5e-10 relative in χ²) and on the saturated moments (SRMR: 7.5e-7): 1e-5
relative. Any mistake in a pattern's sub-matrix, its mean or its count moves χ² in the first or
second digit.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from csi_research import CSIModel, CSIWarning
from csi_research.stats import fiml
from csi_research.stats.cbsem import fit_cbsem

DATA = Path(__file__).parent / "data" / "fiml_patterns.csv"
MODEL = CSIModel.default()

# lavaan 0.6-14: -2 * logLik(fit) at its estimates
LAVAAN_MINUS2LL = 43248.477560809712
LAVAAN_FIT = {
    "chi2": 425.6063315,
    "df": 393,
    "cfi": 0.994610995,
    "tli": 0.9940350708,
    "rmsea": 0.01175923501,
    "rmsea_ci_lower": 0,
    "rmsea_ci_upper": 0.01916600402,
    "srmr": 0.02881268406,
    "aic": 43452.47756,
    "bic": 43900.96439,
}
LAVAAN_PARAMS = [  # lhs, op, rhs, est, se, std.all
    ("Image", "=~", "IMG1", 1, 0, 0.6264102419),
    ("Image", "=~", "IMG2", 1.101343126, 0.08329189736, 0.6844888153),
    ("Image", "=~", "IMG3", 1.174560131, 0.0842344956, 0.7260468832),
    ("Image", "=~", "IMG4", 1.245162337, 0.08722182014, 0.7540443829),
    ("Image", "=~", "IMG5", 1.279740627, 0.08620426628, 0.7959915351),
    ("Expectation", "=~", "EXP1", 1, 0, 0.6716691598),
    ("Expectation", "=~", "EXP2", 1.123111076, 0.08488525499, 0.7598913592),
    ("Expectation", "=~", "EXP3", 0.9054397438, 0.07751771411, 0.6210896931),
    ("Quality", "=~", "QUA1", 1, 0, 0.5660096601),
    ("Quality", "=~", "QUA2", 1.118314169, 0.09847951557, 0.6057404817),
    ("Quality", "=~", "QUA3", 1.12959136, 0.1001341647, 0.5965302196),
    ("Quality", "=~", "QUA4", 1.338915535, 0.1071674236, 0.6982581196),
    ("Quality", "=~", "QUA5", 1.071949636, 0.09897018646, 0.5772614241),
    ("Quality", "=~", "QUA6", 1.256462274, 0.1063241981, 0.6630457607),
    ("Quality", "=~", "QUA7", 1.188437809, 0.09963930369, 0.650179511),
    ("Quality", "=~", "QUA8", 1.10387025, 0.0966730791, 0.6061905492),
    ("Quality", "=~", "QUA9", 1.353434976, 0.1062653506, 0.7208943543),
    ("Quality", "=~", "QUA10", 1.267278817, 0.1011795308, 0.69919798),
    ("Value", "=~", "VAL1", 1, 0, 0.7312801083),
    ("Value", "=~", "VAL2", 1.06354061, 0.07471390335, 0.763443144),
    ("Value", "=~", "VAL3", 0.9483764068, 0.07163506383, 0.6752774058),
    ("Satisfaction", "=~", "SAT1", 1, 0, 0.8041836401),
    ("Satisfaction", "=~", "SAT2", 0.9100574301, 0.05151101317, 0.7483428701),
    ("Satisfaction", "=~", "SAT3", 0.9031880811, 0.05192175979, 0.7358884347),
    ("Complaints", "=~", "CMP1", 1, 0, 0.7798165259),
    ("Complaints", "=~", "CMP2", 0.6598757449, 0.1314592399, 0.5314464137),
    ("Loyalty", "=~", "LOY1", 1, 0, 0.8142950994),
    ("Loyalty", "=~", "LOY2", 1.013388407, 0.05529194453, 0.7911740562),
    ("Loyalty", "=~", "LOY3", 0.7909846931, 0.05295778793, 0.6596414731),
    ("Loyalty", "=~", "LOY4", 0.9216782043, 0.05516101095, 0.7130393302),
    ("Expectation", "~", "Image", 0.5839577996, 0.06741471799, 0.5264722935),
    ("Quality", "~", "Expectation", 0.4259379799, 0.04893903518, 0.5568930851),
    ("Value", "~", "Expectation", 0.2429909997, 0.07191251151, 0.2201850002),
    ("Value", "~", "Quality", 0.5412641145, 0.09516326136, 0.3751295864),
    ("Satisfaction", "~", "Image", 0.480392973, 0.07326068785, 0.371542561),
    ("Satisfaction", "~", "Expectation", 0.2704942427, 0.08080971719, 0.2320469652),
    ("Satisfaction", "~", "Quality", 0.1774398371, 0.08538395672, 0.1164242741),
    ("Satisfaction", "~", "Value", 0.188926121, 0.05599739811, 0.178859632),
    ("Complaints", "~", "Satisfaction", 0.4246579616, 0.0618047641, 0.4093901412),
    ("Loyalty", "~", "Image", 0.1378110433, 0.06729814902, 0.1067784018),
    ("Loyalty", "~", "Satisfaction", 0.6288911218, 0.06388771328, 0.6300324747),
    ("Loyalty", "~", "Complaints", 0.07026479492, 0.05186175278, 0.07301753134),
    ("IMG1", "~~", "IMG1", 0.6115189844, 0.04036144919, 0.6076102088),
    ("IMG2", "~~", "IMG2", 0.5433729967, 0.03752600663, 0.5314750617),
    ("IMG3", "~~", "IMG3", 0.4887115412, 0.03542980569, 0.4728559235),
    ("IMG4", "~~", "IMG4", 0.4645773572, 0.03468406794, 0.4314170686),
    ("IMG5", "~~", "IMG5", 0.374009016, 0.03109272706, 0.366397476),
    ("EXP1", "~~", "EXP1", 0.5911063985, 0.0458331145, 0.5488605398),
    ("EXP2", "~~", "EXP2", 0.4484876868, 0.04388924602, 0.4225651222),
    ("EXP3", "~~", "EXP3", 0.6342615637, 0.04588840149, 0.6142475931),
    ("QUA1", "~~", "QUA1", 0.602962584, 0.03815819821, 0.6796330647),
    ("QUA2", "~~", "QUA2", 0.6133036532, 0.03896735043, 0.6330784689),
    ("QUA3", "~~", "QUA3", 0.6564921406, 0.04172321356, 0.6441516971),
    ("QUA4", "~~", "QUA4", 0.5355218739, 0.03598919151, 0.5124355984),
    ("QUA5", "~~", "QUA5", 0.653495802, 0.0415758738, 0.6667692482),
    ("QUA6", "~~", "QUA6", 0.5719401381, 0.03856654226, 0.5603703192),
    ("QUA7", "~~", "QUA7", 0.5481839861, 0.03578617469, 0.5772666034),
    ("QUA8", "~~", "QUA8", 0.5961622692, 0.03799319978, 0.632533018),
    ("QUA9", "~~", "QUA9", 0.4811914745, 0.03309235825, 0.4803113299),
    ("QUA10", "~~", "QUA10", 0.477235018, 0.03234075634, 0.5111221848),
    ("VAL1", "~~", "VAL1", 0.5147768617, 0.04545745536, 0.4652294032),
    ("VAL2", "~~", "VAL2", 0.4790392972, 0.0471128542, 0.4171545659),
    ("VAL3", "~~", "VAL3", 0.6349151167, 0.04908260689, 0.5440004252),
    ("SAT1", "~~", "SAT1", 0.3606600009, 0.0318595649, 0.353288673),
    ("SAT2", "~~", "SAT2", 0.4295868002, 0.03286147953, 0.4399829487),
    ("SAT3", "~~", "SAT3", 0.4559533413, 0.03405287412, 0.4584682117),
    ("CMP1", "~~", "CMP1", 0.4577808287, 0.1398116878, 0.391886186),
    ("CMP2", "~~", "CMP2", 0.7858668255, 0.07625051912, 0.7175647094),
    ("LOY1", "~~", "LOY1", 0.3342500184, 0.03070184769, 0.3369234912),
    ("LOY2", "~~", "LOY2", 0.4036768287, 0.0348683596, 0.3740436129),
    ("LOY3", "~~", "LOY3", 0.5342874301, 0.03719931966, 0.564873127),
    ("LOY4", "~~", "LOY4", 0.5402878054, 0.03979429055, 0.4915749136),
    ("Image", "~~", "Image", 0.3949140471, 0.0502753079, 1),
    ("Expectation", "~~", "Expectation", 0.3511953755, 0.04610133339, 0.7228269242),
    ("Quality", "~~", "Quality", 0.1960789027, 0.02934229912, 0.6898700918),
    ("Value", "~~", "Value", 0.4253313774, 0.05059340395, 0.7187999515),
    ("Satisfaction", "~~", "Satisfaction", 0.3498808636, 0.03723030444, 0.5299580048),
    ("Complaints", "~~", "Complaints", 0.5913089284, 0.1416368203, 0.8323997123),
    ("Loyalty", "~~", "Loyalty", 0.3082357394, 0.0347585033, 0.4685750963),
    ("IMG1", "~1", "", 4.137852035, 0.04147619229, 4.124606442),
    ("IMG2", "~1", "", 4.120471255, 0.04173338007, 4.075109738),
    ("IMG3", "~1", "", 4.173497649, 0.04188494244, 4.105237548),
    ("IMG4", "~1", "", 4.121666922, 0.04236475826, 3.971847224),
    ("IMG5", "~1", "", 4.142944085, 0.04155649443, 4.100570404),
    ("EXP1", "~1", "", 4.1112441, 0.04278129532, 3.961607427),
    ("EXP2", "~1", "", 4.08474609, 0.04253855355, 3.964940075),
    ("EXP3", "~1", "", 4.079283937, 0.04217820079, 4.014407636),
    ("QUA1", "~1", "", 4.163215198, 0.03915077521, 4.419986351),
    ("QUA2", "~1", "", 4.080210257, 0.04055614838, 4.145467733),
    ("QUA3", "~1", "", 4.141529724, 0.04175275371, 4.102419754),
    ("QUA4", "~1", "", 4.078617626, 0.04206431619, 3.989734815),
    ("QUA5", "~1", "", 4.154384957, 0.04116901227, 4.196363654),
    ("QUA6", "~1", "", 4.143974997, 0.04236352835, 4.101846466),
    ("QUA7", "~1", "", 4.125072044, 0.04021582117, 4.233081033),
    ("QUA8", "~1", "", 4.048922274, 0.04004881451, 4.170602478),
    ("QUA9", "~1", "", 4.123986447, 0.04120916485, 4.12021314),
    ("QUA10", "~1", "", 4.126103629, 0.03996277832, 4.270083282),
    ("VAL1", "~1", "", 4.027214025, 0.04337624346, 3.828501127),
    ("VAL2", "~1", "", 4.003162751, 0.04426478024, 3.735649977),
    ("VAL3", "~1", "", 3.996322975, 0.04437667451, 3.699153606),
    ("SAT1", "~1", "", 4.167365145, 0.04150610625, 4.124558066),
    ("SAT2", "~1", "", 4.169831439, 0.04064104396, 4.219985495),
    ("SAT3", "~1", "", 4.181479366, 0.04096282682, 4.192995257),
    ("CMP1", "~1", "", 4.013515046, 0.04570973616, 3.713437102),
    ("CMP2", "~1", "", 4.06138457, 0.04469778489, 3.880879626),
    ("LOY1", "~1", "", 4.14387128, 0.0413651521, 4.16041049),
    ("LOY2", "~1", "", 4.139405986, 0.04342117057, 3.984577097),
    ("LOY3", "~1", "", 4.135063051, 0.04068168461, 4.251773441),
    ("LOY4", "~1", "", 4.096291488, 0.04385095124, 3.907267331),
    ("Image", "~1", "", 0, 0, 0),
    ("Expectation", "~1", "", 0, 0, 0),
    ("Quality", "~1", "", 0, 0, 0),
    ("Value", "~1", "", 0, 0, 0),
    ("Satisfaction", "~1", "", 0, 0, 0),
    ("Complaints", "~1", "", 0, 0, 0),
    ("Loyalty", "~1", "", 0, 0, 0),
]


@pytest.fixture(scope="module")
def items() -> pd.DataFrame:
    return pd.read_csv(DATA)[MODEL.items].astype(float)


@pytest.fixture(scope="module")
def fitted(items: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        return fit_cbsem(MODEL, items, estimator="FIML")


def _key(lhs: str, op: str, rhs: str) -> tuple[str, str, str]:
    return (*sorted((lhs, rhs)), op) if op == "~~" else (lhs, rhs, op)


def _naive_minus2ll(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> float:
    """−2 log L one respondent at a time with scipy's normal density (no grouping by pattern)."""
    from scipy import stats

    total = 0.0
    for row in x:
        o = np.isfinite(row)
        total -= 2.0 * stats.multivariate_normal(mu[o], sigma[np.ix_(o, o)]).logpdf(row[o])
    return total


def _implied_mean(fit) -> np.ndarray:
    est = fit.estimates
    return est[est["op"] == "~1"].set_index("lhs")["est"].reindex(MODEL.items).to_numpy(dtype=float)


def test_the_survey_has_over_200_missing_patterns(items: pd.DataFrame):
    missing = items.isna().to_numpy()
    assert len(items) == 600 and int(missing.sum()) == 777
    patterns = fiml.Patterns.of(items.to_numpy())
    assert patterns.n_patterns == len({tuple(r) for r in missing}) == 220
    assert sum(g[1].sum() for g in patterns.groups) == patterns.n == 600


def test_fiml_converges_to_an_admissible_solution(fitted):
    assert fitted.converged and fitted.admissible
    assert fitted.n == 600


def test_fit_indices_match_lavaan(fitted):
    for name, value in LAVAAN_FIT.items():
        assert fitted.fit_indices[name] == pytest.approx(value, rel=1e-5, abs=1e-9), name


def test_estimates_and_standard_errors_match_lavaan(fitted):
    ref = pd.DataFrame(LAVAAN_PARAMS, columns=["lhs", "op", "rhs", "est", "se", "std_all"])
    ref.index = [_key(*k) for k in zip(ref["lhs"], ref["op"], ref["rhs"], strict=True)]
    got = fitted.estimates.copy()
    got.index = [_key(*k) for k in zip(got["lhs"], got["op"], got["rhs"], strict=True)]
    assert set(got.index) <= set(ref.index)
    absent = ref.index.difference(got.index)  # only lavaan's fixed latent means (0)
    assert (ref.loc[absent, "op"] == "~1").all() and (ref.loc[absent, "est"] == 0).all()
    assert len(got) == len(ref) - 7
    ref = ref.loc[got.index]
    free = (ref["se"] > 0).to_numpy()
    assert got["se"].isna().to_numpy().tolist() == (~free).tolist()
    np.testing.assert_array_equal(got.loc[~free, "est"], ref.loc[~free, "est"])  # fixed loadings
    gap = (got["est"] - ref["est"]).abs()[free] / ref.loc[free, "se"]
    assert gap.max() < 2e-4, gap.idxmax()
    np.testing.assert_allclose(got.loc[free, "se"], ref.loc[free, "se"], rtol=5e-5)
    np.testing.assert_allclose(got["std_all"], ref["std_all"], rtol=1e-4, atol=1e-7)


def test_minus2ll_at_the_optimum_equals_a_per_respondent_evaluation_and_beats_lavaan(fitted, items):
    x = items.to_numpy()
    mu, sigma = _implied_mean(fitted), fitted.implied_cov.loc[MODEL.items, MODEL.items].to_numpy()
    grouped = fiml.minus2ll(fiml.Patterns.of(x), mu, sigma)
    naive = _naive_minus2ll(x, mu, sigma)
    assert grouped == pytest.approx(naive, rel=1e-12)
    assert fitted.fit_indices["aic"] - 2 * 102 == pytest.approx(naive, rel=1e-12)
    # the same optimum as lavaan's, and not above it: lavaan stops 1.9e-8 higher
    assert naive == pytest.approx(LAVAAN_MINUS2LL, abs=1e-6)
    assert naive <= LAVAAN_MINUS2LL + 1e-9


def test_analytic_gradient_matches_finite_differences_on_many_patterns(items):
    """The chain rule through Λ, B, Ψ, Θ and the intercepts, checked along random directions at a
    point away from the optimum (where every term of the gradient is non-zero)."""
    import semopy

    from csi_research.stats.cbsem import _description

    sem = semopy.ModelMeans(_description(MODEL, items.cov(), None, ()))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        sem.load(items, cov=items.cov())
    structure = fiml.MeanStructure(sem)
    data = fiml.Patterns.of(items[sem.vars["observed"]].to_numpy())
    rng = np.random.default_rng(7)
    theta = np.array(sem.param_vals, dtype=float)
    theta += rng.normal(0.0, 0.02, theta.size)
    mu, sigma = structure.moments(theta)
    _, d_sigma, d_mu = fiml.minus2ll_derivatives(data, mu, sigma)
    gradient = structure.gradient(d_sigma, d_mu)

    def value(t: np.ndarray) -> float:
        return fiml.minus2ll(data, *structure.moments(t))

    for _ in range(3):
        direction = rng.normal(size=theta.size)
        h = 1e-5
        numeric = (value(theta + h * direction) - value(theta - h * direction)) / (2 * h)
        assert gradient @ direction == pytest.approx(numeric, rel=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
def test_hessian_matches_second_differences_of_the_likelihood(items, weighted):
    """The observed information (chain rule: exact moment Hessian plus the curvature of Σ(θ), μ(θ))
    against second differences of −2 log L itself along random pairs of directions, at a point away
    from the optimum where the likelihood's gradient in the moments is far from zero; with survey
    weights each pattern's size and moments are weighted sums, which the formula must carry."""
    import semopy

    from csi_research.stats.cbsem import _description

    sem = semopy.ModelMeans(_description(MODEL, items.cov(), None, ()))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        sem.load(items, cov=items.cov())
    structure = fiml.MeanStructure(sem)
    rng = np.random.default_rng(11)
    weights = rng.uniform(0.3, 2.5, len(items)) if weighted else None
    data = fiml.Patterns.of(items[sem.vars["observed"]].to_numpy(), weights)
    theta = np.array(sem.param_vals, dtype=float) + rng.normal(0.0, 0.02, len(sem.param_vals))
    curvature = fiml.hessian(structure, data, theta)

    def value(t: np.ndarray) -> float:
        return fiml.minus2ll(data, *structure.moments(t))

    def second_difference(u: np.ndarray, v: np.ndarray, h: float) -> float:
        return (value(theta + h * (u + v)) - value(theta + h * (u - v)) - value(theta - h * (u - v))
                + value(theta - h * (u + v))) / (4 * h * h)

    for _ in range(4):  # unit directions; Richardson's step halving cancels the h² error term
        u, v = (w / np.linalg.norm(w) for w in rng.normal(size=(2, theta.size)))
        numeric = (4 * second_difference(u, v, 5e-4) - second_difference(u, v, 1e-3)) / 3
        assert u @ curvature @ v == pytest.approx(numeric, rel=2e-6)
    numeric_gradient = fiml.numerical_hessian(
        lambda t: structure.gradient(*fiml.minus2ll_derivatives(data, *structure.moments(t))[1:]), theta)
    assert np.max(np.abs(curvature - numeric_gradient)) < 1e-6 * np.max(np.abs(numeric_gradient))
