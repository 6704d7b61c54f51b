# Reference values for tests/test_cbsem_outcomes.py: lavaan's sem() with two terminal outcomes.
# Run from the project root: Rscript tests/reference_scripts/cbsem_outcomes.R
# lavaan frees the covariance of the disturbances of endogenous latent variables that predict
# nothing (auto.cov.y = TRUE); the second fit fixes it to zero, the alternative convention.
library(lavaan)
options(digits = 12, width = 200)
hs <- read.csv("tests/data/holzinger_swineford_1939.csv")
base <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\ntextual ~ visual\nspeed ~ visual"
fm <- c("npar", "chisq", "df", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "srmr",
        "aic", "bic")
show <- function(title, fit) {
  cat("\n##", title, "\n")
  pe <- parameterEstimates(fit, standardized = TRUE)
  pe <- pe[!(pe$op == "~~" & pe$lhs != pe$rhs & pe$se == 0), ]  # a covariance fixed to 0 is no parameter
  for (i in seq_len(nrow(pe))) {
    cat(sprintf('    ("%s", "%s", "%s", %.10g, %.10g, %.10g, %.10g),\n', pe$lhs[i], pe$op[i], pe$rhs[i],
                pe$est[i], pe$se[i], pe$std.lv[i], pe$std.all[i]))
  }
  f <- fitMeasures(fit, fm)
  cat(paste0('    "', names(f), '": ', sprintf("%.10g", f), ",\n"), sep = "")
}
cat("# lavaan", as.character(packageVersion("lavaan")), "\n")
show("sem(), outcomes' disturbances free (lavaan default)", sem(base, data = hs))
show("outcomes' disturbances uncorrelated", sem(paste(base, "\ntextual ~~ 0*speed"), data = hs))
