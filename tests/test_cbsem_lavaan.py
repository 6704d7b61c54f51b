"""CB-SEM (ML and FIML) against R lavaan 0.6-14 on public data, with items in non-alphabetical order.

Reference numbers come from ``tests/reference_scripts/cbsem_lavaan.R`` (lavaan 0.6-14, printed to
10 significant digits). Data: lavaan's HolzingerSwineford1939 and PoliticalDemocracy, exported with
``write.csv`` to ``tests/data/``. Missing answers are punched by the same deterministic rule here
and in the R script, so both programs see identical incomplete data.

Tolerances: lavaan stops its optimiser at a relative change of ~1e-10 in the objective, which leaves
the estimates accurate to ~1e-6; standard errors from the observed information are second
derivatives (lavaan differentiates its gradient numerically), good to ~1e-6 relative. 1e-5 relative
(absolute 1e-6 for values near zero) is therefore a strict test that any ordering, information or
baseline mistake (which move numbers in the second or first digit) cannot pass.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from csi_research import CSIModel, CSIWarning, EstimationError, ModelSpecError
from csi_research.stats.cbsem import fit_cbsem

DATA = Path(__file__).parent / "data"
RTOL, ATOL = 1e-5, 1e-6
FIT_KEYS = {"chisq": "chi2", "df": "df", "cfi": "cfi", "tli": "tli", "rmsea": "rmsea",
            "rmsea.ci.lower": "rmsea_ci_lower", "rmsea.ci.upper": "rmsea_ci_upper", "srmr": "srmr",
            "aic": "aic", "bic": "bic"}

# HS CFA, ML, complete
HS_ML_PARAMS = [  # lhs, op, rhs, est, se, std.lv, std.all
    ("speed", "=~", "x7", 1, 0, 0.6194736873, 0.569514684),
    ("speed", "=~", "x8", 1.179950839, 0.164986572, 0.7309484974, 0.7230444328),
    ("speed", "=~", "x9", 1.081530157, 0.1511674381, 0.6699794742, 0.6650092188),
    ("textual", "=~", "x4", 1, 0, 0.9896925648, 0.8515822224),
    ("textual", "=~", "x5", 1.113076578, 0.06542010861, 1.101603613, 0.8550654464),
    ("textual", "=~", "x6", 0.9261462366, 0.05544885624, 0.9166000443, 0.8380100739),
    ("visual", "=~", "x1", 1, 0, 0.8996199092, 0.7718804204),
    ("visual", "=~", "x2", 0.5535002938, 0.09966511877, 0.497939884, 0.423600992),
    ("visual", "=~", "x3", 0.7293702098, 0.1091097031, 0.6561559619, 0.5811323239),
    ("x7", "~~", "x7", 0.7993916383, 0.08138155906, 0.7993916383, 0.6756530247),
    ("x8", "~~", "x8", 0.4876970838, 0.07419409125, 0.4876970838, 0.4772067482),
    ("x9", "~~", "x9", 0.5661312936, 0.0707369371, 0.5661312936, 0.5577627389),
    ("x4", "~~", "x4", 0.3711729928, 0.04771779099, 0.3711729928, 0.2748077185),
    ("x5", "~~", "x5", 0.4462550703, 0.05839277548, 0.4462550703, 0.2688630824),
    ("x6", "~~", "x6", 0.3562026643, 0.04303496787, 0.3562026643, 0.297739116),
    ("x1", "~~", "x1", 0.5490539732, 0.1136009233, 0.5490539732, 0.4042006167),
    ("x2", "~~", "x2", 1.133839016, 0.101723371, 1.133839016, 0.8205621996),
    ("x3", "~~", "x3", 0.8443240457, 0.09062318354, 0.8443240457, 0.6622852221),
    ("speed", "~~", "speed", 0.3837476493, 0.08620919443, 1, 1),
    ("textual", "~~", "textual", 0.9794913729, 0.1121058493, 1, 1),
    ("visual", "~~", "visual", 0.8093159811, 0.1454624074, 1, 1),
    ("speed", "~~", "textual", 0.1734946846, 0.04931466045, 0.2829847304, 0.2829847304),
    ("speed", "~~", "visual", 0.262224602, 0.0562763995, 0.4705345445, 0.4705345445),
    ("textual", "~~", "visual", 0.4082324421, 0.0735238822, 0.4585093004, 0.4585093004),
]
HS_ML_FIT = {
    "npar": 21,
    "chisq": 85.30552177,
    "df": 24,
    "cfi": 0.9305596518,
    "tli": 0.8958394777,
    "rmsea": 0.09212148451,
    "rmsea.ci.lower": 0.07141849044,
    "rmsea.ci.upper": 0.1136780168,
    "srmr": 0.06520505718,
    "aic": 7517.489853,
    "bic": 7595.339169,
    "baseline.chisq": 918.8515893,
    "baseline.df": 36,
}

# HS CFA, FIML (observed information), holes
HS_FIML_PARAMS = [  # lhs, op, rhs, est, se, std.lv, std.all
    ("speed", "=~", "x7", 1, 0, 0.6058957532, 0.5570315679),
    ("speed", "=~", "x8", 1.185297576, 0.1663207983, 0.7181667676, 0.7042144692),
    ("speed", "=~", "x9", 1.105796163, 0.2655014232, 0.6699971992, 0.6657026102),
    ("textual", "=~", "x4", 1, 0, 0.9800987461, 0.853354835),
    ("textual", "=~", "x5", 1.11552451, 0.06821812965, 1.093324173, 0.8486391275),
    ("textual", "=~", "x6", 0.944906708, 0.06016018794, 0.9261018797, 0.8466973717),
    ("visual", "=~", "x1", 1, 0, 0.9253878633, 0.8002195325),
    ("visual", "=~", "x2", 0.5349559113, 0.1108635101, 0.4950417077, 0.4211354319),
    ("visual", "=~", "x3", 0.6962833856, 0.1205677922, 0.6443321945, 0.570660465),
    ("x7", "~~", "x7", 0.8160305093, 0.1027067659, 0.8160305093, 0.6897158324),
    ("x8", "~~", "x8", 0.5242541716, 0.1160741176, 0.5242541716, 0.5040819813),
    ("x9", "~~", "x9", 0.5640477964, 0.1148448834, 0.5640477964, 0.5568400348),
    ("x4", "~~", "x4", 0.3585144659, 0.04979695945, 0.3585144659, 0.2717855255),
    ("x5", "~~", "x5", 0.4644271081, 0.0613796963, 0.4644271081, 0.2798116313),
    ("x6", "~~", "x6", 0.3386931708, 0.04529713011, 0.3386931708, 0.2831035608),
    ("x1", "~~", "x1", 0.4809587138, 0.1340330986, 0.4809587138, 0.3596486998),
    ("x2", "~~", "x2", 1.136717252, 0.1056733631, 1.136717252, 0.822644948),
    ("x3", "~~", "x3", 0.8597007101, 0.09923956472, 0.8597007101, 0.6743466337),
    ("speed", "~~", "speed", 0.3671096638, 0.1048836072, 1, 1),
    ("textual", "~~", "textual", 0.9605935522, 0.1151513555, 1, 1),
    ("visual", "~~", "visual", 0.8563426975, 0.1715458871, 1, 1),
    ("speed", "~~", "textual", 0.1624554165, 0.04950579736, 0.2735687297, 0.2735687297),
    ("speed", "~~", "visual", 0.2720332857, 0.05941963112, 0.4851771503, 0.4851771503),
    ("textual", "~~", "visual", 0.411325043, 0.08560605679, 0.4535148569, 0.4535148569),
    ("x7", "~1", "", 4.185901901, 0.06269528091, 4.185901901, 3.848317944),
    ("x8", "~1", "", 5.509674728, 0.06277610634, 5.509674728, 5.402634651),
    ("x9", "~1", "", 5.359982049, 0.05988123538, 5.359982049, 5.325625308),
    ("x4", "~1", "", 3.069846255, 0.06819546316, 3.069846255, 2.672861438),
    ("x5", "~1", "", 4.340531485, 0.07425789789, 4.340531485, 3.369124129),
    ("x6", "~1", "", 2.185571971, 0.06304451473, 2.185571971, 1.998179773),
    ("x1", "~1", "", 4.989861714, 0.07205594137, 4.989861714, 4.314931032),
    ("x2", "~1", "", 6.088039725, 0.06775428402, 6.088039725, 5.179137837),
    ("x3", "~1", "", 2.250415144, 0.06508018787, 2.250415144, 1.993106915),
    ("speed", "~1", "", 0, 0, 0, 0),
    ("textual", "~1", "", 0, 0, 0, 0),
    ("visual", "~1", "", 0, 0, 0, 0),
]
HS_FIML_FIT = {
    "npar": 30,
    "chisq": 84.66716858,
    "df": 24,
    "cfi": 0.9233164098,
    "tli": 0.8849746148,
    "rmsea": 0.09164061488,
    "rmsea.ci.lower": 0.07091765647,
    "rmsea.ci.upper": 0.1132142352,
    "srmr": 0.06356551259,
    "aic": 7090.430581,
    "bic": 7201.643889,
    "baseline.chisq": 827.1362581,
    "baseline.df": 36,
}

# HS CFA, FIML (expected information), holes
HS_FIML_EXPECTED_PARAMS = [  # lhs, op, rhs, est, se, std.lv, std.all
    ("speed", "=~", "x7", 1, 0, 0.6058957532, 0.5570315679),
    ("speed", "=~", "x8", 1.185297576, 0.1845221773, 0.7181667676, 0.7042144692),
    ("speed", "=~", "x9", 1.105796163, 0.1722433745, 0.6699971992, 0.6657026102),
    ("textual", "=~", "x4", 1, 0, 0.9800987461, 0.853354835),
    ("textual", "=~", "x5", 1.11552451, 0.06919664559, 1.093324173, 0.8486391275),
    ("textual", "=~", "x6", 0.944906708, 0.05871426956, 0.9261018797, 0.8466973717),
    ("visual", "=~", "x1", 1, 0, 0.9253878633, 0.8002195325),
    ("visual", "=~", "x2", 0.5349559113, 0.09989500973, 0.4950417077, 0.4211354319),
    ("visual", "=~", "x3", 0.6962833856, 0.1096795798, 0.6443321945, 0.570660465),
    ("x7", "~~", "x7", 0.8160305093, 0.08552109989, 0.8160305093, 0.6897158324),
    ("x8", "~~", "x8", 0.5242541716, 0.08482418307, 0.5242541716, 0.5040819813),
    ("x9", "~~", "x9", 0.5640477964, 0.07854410466, 0.5640477964, 0.5568400348),
    ("x4", "~~", "x4", 0.3585144659, 0.04948087262, 0.3585144659, 0.2717855255),
    ("x5", "~~", "x5", 0.4644271081, 0.06089639444, 0.4644271081, 0.2798116313),
    ("x6", "~~", "x6", 0.3386931708, 0.04398287432, 0.3386931708, 0.2831035608),
    ("x1", "~~", "x1", 0.4809587138, 0.1250922995, 0.4809587138, 0.3596486998),
    ("x2", "~~", "x2", 1.136717252, 0.1029279828, 1.136717252, 0.822644948),
    ("x3", "~~", "x3", 0.8597007101, 0.09290667667, 0.8597007101, 0.6743466337),
    ("speed", "~~", "speed", 0.3671096638, 0.08812347096, 1, 1),
    ("textual", "~~", "textual", 0.9605935522, 0.114984784, 1, 1),
    ("visual", "~~", "visual", 0.8563426975, 0.1639510945, 1, 1),
    ("speed", "~~", "textual", 0.1624554165, 0.04931288899, 0.2735687297, 0.2735687297),
    ("speed", "~~", "visual", 0.2720332857, 0.06053056557, 0.4851771503, 0.4851771503),
    ("textual", "~~", "visual", 0.411325043, 0.07739606159, 0.4535148569, 0.4535148569),
    ("x7", "~1", "", 4.185901901, 0.06269528092, 4.185901901, 3.848317944),
    ("x8", "~1", "", 5.509674728, 0.06269545391, 5.509674728, 5.402634651),
    ("x9", "~1", "", 5.359982049, 0.05980761276, 5.359982049, 5.325625308),
    ("x4", "~1", "", 3.069846255, 0.06819363364, 3.069846255, 2.672861438),
    ("x5", "~1", "", 4.340531485, 0.0742578979, 4.340531485, 3.369124129),
    ("x6", "~1", "", 2.185571971, 0.06304451474, 2.185571971, 1.998179773),
    ("x1", "~1", "", 4.989861714, 0.07197489465, 4.989861714, 4.314931032),
    ("x2", "~1", "", 6.088039725, 0.06775428402, 6.088039725, 5.179137837),
    ("x3", "~1", "", 2.250415144, 0.06508018787, 2.250415144, 1.993106915),
    ("speed", "~1", "", 0, 0, 0, 0),
    ("textual", "~1", "", 0, 0, 0, 0),
    ("visual", "~1", "", 0, 0, 0, 0),
]
HS_FIML_EXPECTED_FIT = {
    "npar": 30,
    "chisq": 84.66716858,
    "df": 24,
    "cfi": 0.9233164098,
    "tli": 0.8849746148,
    "rmsea": 0.09164061488,
    "rmsea.ci.lower": 0.07091765647,
    "rmsea.ci.upper": 0.1132142352,
    "srmr": 0.06356551259,
    "aic": 7090.430581,
    "bic": 7201.643889,
    "baseline.chisq": 827.1362581,
    "baseline.df": 36,
}

# PD SEM, ML, complete
PD_ML_PARAMS = [  # lhs, op, rhs, est, se, std.lv, std.all
    ("dem65", "=~", "y5", 1, 0, 2.102869121, 0.808017517),
    ("dem65", "=~", "y6", 1.185696299, 0.1688104247, 2.493364134, 0.7460070625),
    ("dem65", "=~", "y7", 1.279512177, 0.1599016255, 2.690646647, 0.8236734315),
    ("dem65", "=~", "y8", 1.265946981, 0.1581111285, 2.662120815, 0.827841273),
    ("ind60", "=~", "x1", 1, 0, 0.6696545012, 0.9198529177),
    ("ind60", "=~", "x2", 2.180367731, 0.1385092758, 1.460093065, 0.9730325601),
    ("ind60", "=~", "x3", 1.818511304, 0.1519581234, 1.21777428, 0.8721385594),
    ("dem60", "=~", "y1", 1, 0, 2.22312319, 0.8504258573),
    ("dem60", "=~", "y2", 1.256746498, 0.1824396251, 2.793902284, 0.7171220674),
    ("dem60", "=~", "y3", 1.05771677, 0.1513831679, 2.351434681, 0.7223496271),
    ("dem60", "=~", "y4", 1.264786536, 0.1450062165, 2.81177628, 0.8457095144),
    ("dem60", "~", "ind60", 1.48300054, 0.3991486087, 0.4467129808, 0.4467129808),
    ("dem65", "~", "ind60", 0.5723361948, 0.221313792, 0.1822593261, 0.1822593261),
    ("dem65", "~", "dem60", 0.8373448112, 0.09835095767, 0.8852289709, 0.8852289709),
    ("y5", "~~", "y1", 0.623671074, 0.3583202274, 0.623671074, 0.2957609529),
    ("y2", "~~", "y4", 1.313112577, 0.7019832684, 1.313112577, 0.2725667784),
    ("y6", "~~", "y2", 2.152861266, 0.733775933, 2.152861266, 0.3562223885),
    ("y7", "~~", "y3", 0.7949602764, 0.6076980475, 0.7949602764, 0.1906409309),
    ("y8", "~~", "y4", 0.3482260391, 0.4422400635, 0.3482260391, 0.1088017801),
    ("y6", "~~", "y8", 1.356167121, 0.568286089, 1.356167121, 0.3377708572),
    ("y5", "~~", "y5", 2.35097047, 0.4802386055, 2.35097047, 0.3471076923),
    ("y6", "~~", "y6", 4.95396775, 0.9142467604, 4.95396775, 0.4434734627),
    ("y7", "~~", "y7", 3.431373921, 0.7128434048, 3.431373921, 0.3215620783),
    ("y8", "~~", "y8", 3.254085015, 0.6946041972, 3.254085015, 0.3146788268),
    ("x1", "~~", "x1", 0.0815493454, 0.01948973899, 0.0815493454, 0.1538706098),
    ("x2", "~~", "x2", 0.1198064782, 0.06972064046, 0.1198064782, 0.05320763696),
    ("x3", "~~", "x3", 0.4667025782, 0.09015649505, 0.4667025782, 0.2393743332),
    ("y1", "~~", "y1", 1.89139552, 0.444423793, 1.89139552, 0.2767758613),
    ("y2", "~~", "y2", 7.37286854, 1.373892672, 7.37286854, 0.4857359404),
    ("y3", "~~", "y3", 5.0674621, 0.9517270825, 5.0674621, 0.4782110162),
    ("y4", "~~", "y4", 3.147904797, 0.7387841206, 3.147904797, 0.2847754172),
    ("dem65", "~~", "dem65", 0.1724813255, 0.214804592, 0.0390047585, 0.0390047585),
    ("ind60", "~~", "ind60", 0.448437151, 0.08669170926, 1, 1),
    ("dem60", "~~", "dem60", 3.956033108, 0.9211847061, 0.8004475128, 0.8004475128),
]
PD_ML_FIT = {
    "npar": 31,
    "chisq": 38.12521823,
    "df": 35,
    "cfi": 0.9953745292,
    "tli": 0.9927314031,
    "rmsea": 0.03450448268,
    "rmsea.ci.lower": 0,
    "rmsea.ci.upper": 0.09223267569,
    "srmr": 0.0444175458,
    "aic": 3157.581887,
    "bic": 3229.424018,
    "baseline.chisq": 730.6540854,
    "baseline.df": 55,
}

# PD SEM, FIML (observed information), holes
PD_FIML_PARAMS = [  # lhs, op, rhs, est, se, std.lv, std.all
    ("dem65", "=~", "y5", 1, 0, 2.096678067, 0.8077377111),
    ("dem65", "=~", "y6", 1.159513184, 0.1817741888, 2.431125861, 0.7155898134),
    ("dem65", "=~", "y7", 1.295134065, 0.1596341475, 2.715479188, 0.831737772),
    ("dem65", "=~", "y8", 1.228983515, 0.1628985071, 2.576782782, 0.8200299894),
    ("ind60", "=~", "x1", 1, 0, 0.6563780314, 0.9016164867),
    ("ind60", "=~", "x2", 2.251090385, 0.1615945676, 1.477566275, 0.9792883371),
    ("ind60", "=~", "x3", 1.877511128, 0.1617521686, 1.232357058, 0.8825827494),
    ("dem60", "=~", "y1", 1, 0, 2.423207912, 0.9119516263),
    ("dem60", "=~", "y2", 1.137300898, 0.1659824376, 2.755916535, 0.707889672),
    ("dem60", "=~", "y3", 1.001580511, 0.1318063702, 2.427037818, 0.7453317258),
    ("dem60", "=~", "y4", 1.121248658, 0.1349321508, 2.71701862, 0.8175274556),
    ("dem60", "~", "ind60", 1.666529248, 0.4442178758, 0.4514153249, 0.4514153249),
    ("dem65", "~", "ind60", 0.6032390254, 0.245208745, 0.1888477063, 0.1888477063),
    ("dem65", "~", "dem60", 0.7740746039, 0.09840611769, 0.894626473, 0.894626473),
    ("y5", "~~", "y1", 0.05212621164, 0.3573150919, 0.05212621164, 0.0312436678),
    ("y2", "~~", "y4", 1.613574579, 0.7330347185, 1.613574579, 0.3065883686),
    ("y6", "~~", "y2", 2.173305075, 0.7933223514, 2.173305075, 0.3330383536),
    ("y7", "~~", "y3", 0.4076619225, 0.5831462222, 0.4076619225, 0.1036004821),
    ("y8", "~~", "y4", 0.4137100041, 0.471270741, 0.4137100041, 0.1201929746),
    ("y6", "~~", "y8", 1.450714507, 0.6289597805, 1.450714507, 0.33991626),
    ("y5", "~~", "y5", 2.341813535, 0.4787707559, 2.341813535, 0.34755979),
    ("y6", "~~", "y6", 5.63177367, 1.064272598, 5.63177367, 0.4879312189),
    ("y7", "~~", "y7", 3.285262256, 0.6920918148, 3.285262256, 0.3082122787),
    ("y8", "~~", "y8", 3.234259298, 0.6746116677, 3.234259298, 0.3275508164),
    ("x1", "~~", "x1", 0.09915386466, 0.02347115935, 0.09915386466, 0.1870877108),
    ("x2", "~~", "x2", 0.0933247444, 0.07710023601, 0.0933247444, 0.04099435275),
    ("x3", "~~", "x3", 0.430971177, 0.08814162732, 0.430971177, 0.2210476905),
    ("y1", "~~", "y1", 1.188600726, 0.4326178575, 1.188600726, 0.1683442313),
    ("y2", "~~", "y2", 7.561495422, 1.329702204, 7.561495422, 0.4988922123),
    ("y3", "~~", "y3", 4.713100493, 0.9091371308, 4.713100493, 0.4444806185),
    ("y4", "~~", "y4", 3.663186616, 0.7793140676, 3.663186616, 0.3316488594),
    ("dem65", "~~", "dem65", 0.05032802903, 0.2285723133, 0.01144844279, 0.01144844279),
    ("ind60", "~~", "ind60", 0.4308321201, 0.08669944548, 1, 1),
    ("dem60", "~~", "dem60", 4.675378034, 1.074318923, 0.7962242044, 0.7962242044),
    ("y5", "~1", "", 5.136253138, 0.2997303778, 5.136253138, 1.978723113),
    ("y6", "~1", "", 2.874924241, 0.4055853502, 2.874924241, 0.8462196608),
    ("y7", "~1", "", 6.196265543, 0.3769896457, 6.196265543, 1.897885324),
    ("y8", "~1", "", 4.040629882, 0.3699924327, 4.040629882, 1.285881644),
    ("x1", "~1", "", 5.054384001, 0.08406235659, 5.054384001, 6.942822166),
    ("x2", "~1", "", 4.72615246, 0.1771044679, 4.72615246, 3.132357622),
    ("x3", "~1", "", 3.557690155, 0.1612317212, 3.557690155, 2.547927111),
    ("y1", "~1", "", 5.353441631, 0.3176500968, 5.353441631, 2.014717672),
    ("y2", "~1", "", 4.256444137, 0.4495415645, 4.256444137, 1.093317887),
    ("y3", "~1", "", 6.563111699, 0.3760073237, 6.563111699, 2.015500266),
    ("y4", "~1", "", 4.452534646, 0.3837599388, 4.452534646, 1.339729251),
    ("dem65", "~1", "", 0, 0, 0, 0),
    ("ind60", "~1", "", 0, 0, 0, 0),
    ("dem60", "~1", "", 0, 0, 0, 0),
]
PD_FIML_FIT = {
    "npar": 42,
    "chisq": 38.40740099,
    "df": 35,
    "cfi": 0.9944078338,
    "tli": 0.9912123103,
    "rmsea": 0.03602856536,
    "rmsea.ci.lower": 0,
    "rmsea.ci.upper": 0.09301075711,
    "srmr": 0.04533218116,
    "aic": 3026.817407,
    "bic": 3124.151908,
    "baseline.chisq": 664.3168362,
    "baseline.df": 55,
}


def _hs(holes: bool) -> pd.DataFrame:
    d = pd.read_csv(DATA / "holzinger_swineford_1939.csv")
    if holes:  # the rule of holes_hs() in the R script
        d.loc[d["id"] % 5 == 0, "x1"] = np.nan
        d.loc[d["id"] % 7 == 3, "x4"] = np.nan
        d.loc[d["id"] % 6 == 1, "x8"] = np.nan
        d.loc[(d["ageyr"] >= 14) & (d["id"] % 4 == 2), "x9"] = np.nan
    return d[[f"x{i}" for i in range(1, 10)]]


def _pd(holes: bool) -> pd.DataFrame:
    d = pd.read_csv(DATA / "political_democracy.csv")
    if holes:  # the rule of holes_pd() in the R script (R's row numbers start at 1)
        i = np.arange(1, len(d) + 1)
        x1 = d["x1"].to_numpy()
        d.loc[i % 5 == 0, "y1"] = np.nan
        d.loc[i % 7 == 3, "y6"] = np.nan
        d.loc[i % 6 == 1, "x2"] = np.nan
        d.loc[(x1 > 5.5) & (i % 3 == 0), "y8"] = np.nan
    return d


# constructs (and so items) deliberately not in alphabetical order
HS_MODEL = CSIModel(
    {"speed": ["x7", "x8", "x9"], "textual": ["x4", "x5", "x6"], "visual": ["x1", "x2", "x3"]}, []
)
PD_MODEL = CSIModel(
    {"dem65": ["y5", "y6", "y7", "y8"], "ind60": ["x1", "x2", "x3"], "dem60": ["y1", "y2", "y3", "y4"]},
    [("ind60", "dem60"), ("ind60", "dem65"), ("dem60", "dem65")],
)
PD_COVARIANCES = [("y1", "y5"), ("y2", "y4"), ("y2", "y6"), ("y3", "y7"), ("y4", "y8"), ("y6", "y8")]


def _key(lhs: str, op: str, rhs: str) -> tuple[str, str, str]:
    return (*sorted((lhs, rhs)), op) if op == "~~" else (lhs, rhs, op)


def _compare(fit, params: list[tuple], fit_ref: dict[str, float], se: bool = True,
             rtol: float = RTOL) -> None:
    ref = pd.DataFrame(params, columns=["lhs", "op", "rhs", "est", "se", "std_lv", "std_all"])
    ref.index = [_key(*k) for k in zip(ref["lhs"], ref["op"], ref["rhs"], strict=True)]
    got = fit.estimates.copy()
    got.index = [_key(*k) for k in zip(got["lhs"], got["op"], got["rhs"], strict=True)]
    assert set(got.index) <= set(ref.index)
    missing = ref.index.difference(got.index)  # only lavaan's fixed latent means (0) may be absent
    assert (ref.loc[missing, "op"] == "~1").all() and (ref.loc[missing, "est"] == 0).all()
    ref = ref.loc[got.index]
    np.testing.assert_allclose(got["est"], ref["est"], rtol=rtol, atol=ATOL)
    np.testing.assert_allclose(got["std_all"], ref["std_all"], rtol=rtol, atol=ATOL)
    if se:
        free = ref["se"] > 0
        assert got["se"].isna().to_numpy().tolist() == (~free).to_numpy().tolist()
        np.testing.assert_allclose(got.loc[free, "se"], ref.loc[free, "se"], rtol=rtol, atol=ATOL)
    for name, ours in FIT_KEYS.items():
        assert fit.fit_indices[ours] == pytest.approx(fit_ref[name], rel=RTOL, abs=ATOL), name


def _fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        return fit_cbsem(*args, **kwargs)


# ----------------------------------------------------------------------------- measurement-only models
def test_cfa_without_paths_matches_lavaan_cfa():
    fit = _fit(HS_MODEL, _hs(holes=False))
    assert fit.converged and fit.admissible
    assert fit.paths.empty and fit.r2.empty
    _compare(fit, HS_ML_PARAMS, HS_ML_FIT)


def test_pls_refuses_a_model_without_paths():
    from csi_research import fit_pls

    with pytest.raises((ModelSpecError, EstimationError), match="path"):
        fit_pls(HS_MODEL, _hs(holes=False))


def test_constructs_without_paths_in_a_structural_model_are_still_refused():
    with pytest.raises(ModelSpecError, match="no path to or from"):
        CSIModel(HS_MODEL.constructs, [("speed", "textual")])


# ----------------------------------------------------------------------------- FIML
def test_fiml_cfa_with_unsorted_items_matches_lavaan():
    fit = _fit(HS_MODEL, _hs(holes=True), estimator="FIML")
    assert fit.converged and fit.admissible
    _compare(fit, HS_FIML_PARAMS, HS_FIML_FIT)


def test_fiml_expected_information_matches_lavaan():
    fit = _fit(HS_MODEL, _hs(holes=True), estimator="FIML", information="expected")
    _compare(fit, HS_FIML_EXPECTED_PARAMS, HS_FIML_EXPECTED_FIT)


def test_fiml_structural_model_with_unsorted_items_matches_lavaan():
    fit = _fit(PD_MODEL, _pd(holes=True), estimator="FIML", covariances=PD_COVARIANCES)
    assert fit.converged
    # 75 respondents and a near-zero disturbance variance make the likelihood flat: χ² agrees to 1e-9,
    # but lavaan's stopping rule (relative change 1e-10 of the objective) leaves its estimates of the
    # weakly determined parameters ~1e-4 (relative) from the optimum, so they are compared at 5e-4
    _compare(fit, PD_FIML_PARAMS, PD_FIML_FIT, rtol=5e-4)
    assert fit.fit_indices["chi2"] == pytest.approx(PD_FIML_FIT["chisq"], rel=1e-7)


def test_ml_refuses_observed_information():
    with pytest.raises(ValueError, match="observed"):
        fit_cbsem(HS_MODEL, _hs(holes=False), information="observed")


# ----------------------------------------------------------------------------- standardised residual cov.
def test_residual_covariances_are_standardised_by_residual_variances():
    fit = _fit(PD_MODEL, _pd(holes=False), covariances=PD_COVARIANCES)
    _compare(fit, PD_ML_PARAMS, PD_ML_FIT)
    row = fit.estimates.query("op == '~~' and lhs in ('y6', 'y8') and rhs in ('y6', 'y8') and lhs != rhs")
    assert row["std_all"].item() == pytest.approx(0.3377708572, abs=1e-6)  # lavaan std.all of y6 ~~ y8


# ----------------------------------------------------------------------------- bootstrap admissibility
def test_bootstrap_leaves_out_resamples_with_negative_disturbance_variance():
    """Political democracy (ML): dem65's disturbance variance is 0.172 with SE 0.215 (lavaan), so many
    resamples estimate it below zero, which would give R² > 1; those must not enter any interval."""
    from csi_research.stats.bootstrap import bootstrap

    model = CSIModel({"ind60": ["x1", "x2", "x3"], "dem60": ["y1", "y2", "y3", "y4"],
                      "dem65": ["y5", "y6", "y7", "y8"]},
                     [("ind60", "dem60"), ("ind60", "dem65"), ("dem60", "dem65")])
    fit = _fit(model, _pd(holes=False), covariances=PD_COVARIANCES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)  # the diagnostic is checked below
        boot = bootstrap(fit, n_boot=40, seed=3, workers=1, progress=False)
    r2 = boot.draws["r2"]
    excluded = np.isnan(r2).all(axis=1)
    assert excluded.any(), "this data set always yields some inadmissible resamples"
    assert np.all(np.isnan(r2).any(axis=1) == excluded)  # whole resamples go, consistently
    assert np.nanmax(r2) <= 1.0
    assert np.isnan(boot.draws["path"][excluded]).all()
    assert boot.n_failed == excluded.sum()
    assert any(f"{excluded.sum()} of 40 CB-SEM resamples" in d for d in boot.diagnostics)
    used = boot.estimates.query("statistic == 'r2'")["n_used"]
    assert (used == 40 - excluded.sum()).all()


# ----------------------------------------------------------------------------- two terminal outcomes
# Rscript tests/reference_scripts/cbsem_outcomes.R (lavaan 0.6-14): textual ~ visual, speed ~ visual.
# lavaan sem() default: the outcomes' disturbances covary (auto.cov.y)
HS_OUTCOMES_FREE_PARAMS = [
    ("visual", "=~", "x1", 1, 0, 0.8996196053, 0.7718803841),
    ("visual", "=~", "x2", 0.5535007135, 0.09966524104, 0.4979400934, 0.4236009435),
    ("visual", "=~", "x3", 0.7293698457, 0.1091097609, 0.6561554127, 0.5811316192),
    ("textual", "=~", "x4", 1, 0, 0.9896927263, 0.8515823715),
    ("textual", "=~", "x5", 1.113076716, 0.06542008138, 1.101603929, 0.855065465),
    ("textual", "=~", "x6", 0.9261460719, 0.05544880969, 0.9166000309, 0.8380102304),
    ("speed", "=~", "x7", 1, 0, 0.6194735315, 0.569514528),
    ("speed", "=~", "x8", 1.179951049, 0.1649866319, 0.7309484433, 0.7230443385),
    ("speed", "=~", "x9", 1.081530553, 0.1511675228, 0.6699795511, 0.6650093091),
    ("textual", "~", "visual", 0.5044171752, 0.09306135468, 0.4585095636, 0.4585095636),
    ("speed", "~", "visual", 0.324007909, 0.07073367913, 0.470534821, 0.470534821),
    ("x1", "~~", "x1", 0.5490537299, 0.1136009298, 0.5490537299, 0.4042006727),
    ("x2", "~~", "x2", 1.133840286, 0.101723491, 1.133840286, 0.8205622406),
    ("x3", "~~", "x3", 0.8443257244, 0.09062326952, 0.8443257244, 0.6622860412),
    ("x4", "~~", "x4", 0.3711726408, 0.04771775569, 0.3711726408, 0.2748074645),
    ("x5", "~~", "x5", 0.446255254, 0.05839277331, 0.446255254, 0.2688630506),
    ("x6", "~~", "x6", 0.3562022072, 0.04303492033, 0.3562022072, 0.2977388538),
    ("x7", "~~", "x7", 0.7993918844, 0.08138156779, 0.7993918844, 0.6756532024),
    ("x8", "~~", "x8", 0.4876972781, 0.07419409568, 0.4876972781, 0.4772068845),
    ("x9", "~~", "x9", 0.5661311478, 0.07073693968, 0.5661311478, 0.5577626188),
    ("visual", "~~", "visual", 0.8093154342, 0.1454623757, 1, 1),
    ("textual", "~~", "textual", 0.773572155, 0.0974896257, 0.7897689801, 0.7897689801),
    ("speed", "~~", "speed", 0.2987846114, 0.07051717923, 0.7785969822, 0.7785969822),
    ("textual", "~~", "speed", 0.04122429633, 0.04200218609, 0.08574794565, 0.08574794565),
]
HS_OUTCOMES_FREE_FIT = {
    "npar": 21,
    "chisq": 85.30552177,
    "df": 24,
    "cfi": 0.9305596518,
    "tli": 0.8958394777,
    "rmsea": 0.09212148451,
    "rmsea.ci.lower": 0.07141849044,
    "rmsea.ci.upper": 0.1136780168,
    "srmr": 0.06520505413,
    "aic": 7517.489853,
    "bic": 7595.339169,
}

# textual ~~ 0*speed: the disturbances uncorrelated
HS_OUTCOMES_ZERO_PARAMS = [
    ("visual", "=~", "x1", 1, 0, 0.8941925112, 0.7672236334),
    ("visual", "=~", "x2", 0.555131011, 0.09889351114, 0.4963939927, 0.4222857369),
    ("visual", "=~", "x3", 0.731023782, 0.106834412, 0.6536759914, 0.578935887),
    ("textual", "=~", "x4", 1, 0, 0.9901644178, 0.851988097),
    ("textual", "=~", "x5", 1.111688705, 0.06537467683, 1.1007546, 0.8544063768),
    ("textual", "=~", "x6", 0.9259606829, 0.05541476501, 0.9168533205, 0.8382416087),
    ("speed", "=~", "x7", 1, 0, 0.6147510833, 0.565172741),
    ("speed", "=~", "x8", 1.190163376, 0.1673446323, 0.7316542245, 0.7237424832),
    ("speed", "=~", "x9", 1.093292164, 0.1535074703, 0.672102542, 0.6671165205),
    ("textual", "~", "visual", 0.5212717153, 0.09124504859, 0.4707473382, 0.4707473382),
    ("speed", "~", "visual", 0.3352743577, 0.06975337386, 0.4876767655, 0.4876767655),
    ("x1", "~~", "x1", 0.5587898489, 0.1082427489, 0.5587898489, 0.4113678964),
    ("x2", "~~", "x2", 1.135377159, 0.1016356936, 1.135377159, 0.8216747564),
    ("x3", "~~", "x3", 0.8475724854, 0.08976061891, 0.8475724854, 0.6648332388),
    ("x4", "~~", "x4", 0.3702392096, 0.04771876893, 0.3702392096, 0.2741162826),
    ("x5", "~~", "x5", 0.4481251535, 0.05846975286, 0.4481251535, 0.2699897434),
    ("x6", "~~", "x6", 0.3557383666, 0.04303926282, 0.3557383666, 0.2973510055),
    ("x7", "~~", "x7", 0.8052212521, 0.08151648406, 0.8052212521, 0.6805797728),
    ("x8", "~~", "x8", 0.4866650135, 0.07448295141, 0.4866650135, 0.476196818),
    ("x9", "~~", "x9", 0.5632820115, 0.07097727055, 0.5632820115, 0.5549555481),
    ("visual", "~~", "visual", 0.799580247, 0.1408094605, 1, 1),
    ("textual", "~~", "textual", 0.7631602704, 0.09606341313, 0.7783969436, 0.7783969436),
    ("speed", "~~", "speed", 0.2880389624, 0.06860290346, 0.7621713724, 0.7621713724),
]
HS_OUTCOMES_ZERO_FIT = {
    "npar": 20,
    "chisq": 86.31008647,
    "df": 25,
    "cfi": 0.9305544814,
    "tli": 0.8999984532,
    "rmsea": 0.0902636128,
    "rmsea.ci.lower": 0.06989159321,
    "rmsea.ci.upper": 0.1114432541,
    "srmr": 0.06699177169,
    "aic": 7516.494418,
    "bic": 7590.636623,
}
HS_OUTCOMES = CSIModel({"visual": ["x1", "x2", "x3"], "textual": ["x4", "x5", "x6"],
                        "speed": ["x7", "x8", "x9"]}, [("visual", "textual"), ("visual", "speed")])


@pytest.mark.parametrize(("free", "params", "fit_ref"), [
    (True, HS_OUTCOMES_FREE_PARAMS, HS_OUTCOMES_FREE_FIT),
    (False, HS_OUTCOMES_ZERO_PARAMS, HS_OUTCOMES_ZERO_FIT),
])
def test_two_terminal_outcomes_follow_either_convention_as_lavaan(free, params, fit_ref):
    fit = _fit(HS_OUTCOMES, _hs(False), outcome_covariances=free)
    _compare(fit, params, fit_ref)
    assert fit.options["outcome_covariances"] is free
    covaries = (fit.estimates["op"] == "~~") & (fit.estimates["lhs"] != fit.estimates["rhs"])
    assert bool(covaries.any()) is free


def test_the_lavaan_convention_is_the_default_and_changes_nothing_with_one_outcome():
    assert _fit(HS_OUTCOMES, _hs(False)).options["outcome_covariances"] is True
    one = CSIModel(HS_OUTCOMES.constructs, [("visual", "textual"), ("textual", "speed")])
    a, b = _fit(one, _hs(False)), _fit(one, _hs(False), outcome_covariances=False)
    pd.testing.assert_frame_equal(a.estimates, b.estimates)
