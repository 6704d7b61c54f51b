# Reference values for tests/test_fiml_bundled.py: FIML (lavaan 0.6, missing = "ml") on the bundled
# incomplete surveys, as the regional studies fit them by default (estimator auto = FIML).
# Run from the project root: Rscript tests/reference_scripts/bundled_fiml.R
# Data: tests/data/bundled_<study>.csv (tests/reference_scripts/bundled_fiml_data.py). Model:
# CSIModel.default().lavaan_syntax(), pasted below. Writes tests/data/lavaan/bundled_fiml_fit.csv and
# bundled_fiml_estimates.csv (17 significant digits).
suppressPackageStartupMessages(library(lavaan))
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
measures <- c("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper",
              "srmr", "aic", "bic", "baseline.chisq", "baseline.df", "logl", "unrestricted.logl")
fits <- list()
ests <- list()
for (study in c("beiling_2025", "yunchuan_2025")) {
  d <- read.csv(file.path("tests", "data", paste0("bundled_", study, ".csv")))
  fit <- sem(model, data = d, missing = "ml", estimator = "ML")
  stopifnot(lavInspect(fit, "converged"))
  cat(study, ": ", nrow(d), " respondents, ", sum(is.na(d[-1])), " missing answers, ",
      lavInspect(fit, "iterations"), " iterations\n", sep = "")
  f <- fitMeasures(fit, measures)
  fits[[study]] <- data.frame(study = study, measure = names(f), value = as.numeric(f))
  pe <- parameterEstimates(fit, standardized = TRUE)
  ests[[study]] <- data.frame(study = study, lhs = pe$lhs, op = pe$op, rhs = pe$rhs, est = pe$est,
                              se = pe$se, std_all = pe$std.all)
}
options(digits = 17)
write.csv(do.call(rbind, fits), "tests/data/lavaan/bundled_fiml_fit.csv", row.names = FALSE)
write.csv(do.call(rbind, ests), "tests/data/lavaan/bundled_fiml_estimates.csv", row.names = FALSE)
cat("lavaan", as.character(packageVersion("lavaan")), "\n")
