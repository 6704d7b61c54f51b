# Reference values for tests/test_cbsem_higher_order.py: a second-order factor over three first-order
# factors (lavaan's cfa(), ML, complete Holzinger-Swineford data).
# Run from the project root: Rscript tests/reference_scripts/cbsem_higher_order.R
library(lavaan)
options(digits = 12, width = 200)
hs <- read.csv("tests/data/holzinger_swineford_1939.csv")
model <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\ng =~ visual + textual + speed"
fm <- c("npar", "chisq", "df", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "srmr",
        "aic", "bic")
fit <- cfa(model, data = hs)
cat("# lavaan", as.character(packageVersion("lavaan")), "\n")
pe <- parameterEstimates(fit, standardized = TRUE)
for (i in seq_len(nrow(pe))) {
  cat(sprintf('    ("%s", "%s", "%s", %.10g, %.10g, %.10g, %.10g),\n', pe$lhs[i], pe$op[i], pe$rhs[i],
              pe$est[i], pe$se[i], pe$std.lv[i], pe$std.all[i]))
}
f <- fitMeasures(fit, fm)
cat(paste0('    "', names(f), '": ', sprintf("%.10g", f), ",\n"), sep = "")
