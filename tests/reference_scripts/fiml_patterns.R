# Reference values for tests/test_fiml_patterns.py, computed with R lavaan 0.6-14.
# Run from the project root: Rscript tests/reference_scripts/fiml_patterns.R
# Data: tests/data/fiml_patterns.csv (written by tests/reference_scripts/fiml_patterns_data.py:
# the bundled Donggang 2025 survey with extra MCAR and MAR holes; 600 respondents, 220 missing
# patterns). Model: CSIModel.default().lavaan_syntax(), pasted below.
library(lavaan)
options(digits = 12, width = 200)
d <- read.csv("tests/data/fiml_patterns.csv")
model <- "
Image =~ IMG1 + IMG2 + IMG3 + IMG4 + IMG5
Expectation =~ EXP1 + EXP2 + EXP3
Quality =~ QUA1 + QUA2 + QUA3 + QUA4 + QUA5 + QUA6 + QUA7 + QUA8 + QUA9 + QUA10
Value =~ VAL1 + VAL2 + VAL3
Satisfaction =~ SAT1 + SAT2 + SAT3
Complaints =~ CMP1 + CMP2
Loyalty =~ LOY1 + LOY2 + LOY3 + LOY4
Expectation ~ Image
Quality ~ Expectation
Value ~ Expectation + Quality
Satisfaction ~ Image + Expectation + Quality + Value
Complaints ~ Satisfaction
Loyalty ~ Image + Satisfaction + Complaints
"
items <- names(d)[-1]
cat("respondents:", nrow(d), " missing answers:", sum(is.na(d[items])),
    " patterns:", nrow(unique(is.na(d[items]))), "\n")
took <- system.time(fit <- sem(model, data = d, missing = "ml", estimator = "ML"))
cat("lavaan", as.character(packageVersion("lavaan")), "elapsed (s):", took[["elapsed"]],
    " CPU (s):", took[["user.self"]] + took[["sys.self"]],
    " converged:", lavInspect(fit, "converged"), " iterations:", lavInspect(fit, "iterations"), "\n")
cat("-2logL:", sprintf("%.12f", -2 * as.numeric(logLik(fit))), " max abs gradient:", max(abs(lavInspect(fit, "gradient"))), "\n")
fm <- c("npar", "chisq", "df", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "srmr",
        "aic", "bic", "baseline.chisq", "baseline.df")
f <- fitMeasures(fit, fm)
cat(paste0('    "', names(f), '": ', sprintf("%.10g", f), ",\n"), sep = "")
pe <- parameterEstimates(fit, standardized = TRUE)
for (i in seq_len(nrow(pe))) {
  cat(sprintf('    ("%s", "%s", "%s", %.10g, %.10g, %.10g),\n', pe$lhs[i], pe$op[i], pe$rhs[i],
              pe$est[i], pe$se[i], pe$std.all[i]))
}
