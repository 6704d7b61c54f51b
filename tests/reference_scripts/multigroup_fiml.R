# Reference values for tests/test_multigroup_fiml.py: multi-group FIML (lavaan 0.6, missing = "ml").
# Run from the project root: Rscript tests/reference_scripts/multigroup_fiml.R
# Writes tests/data/hs_holes_mar.csv (HolzingerSwineford1939 with answers removed at random given other
# answers, seeded) and, per case and invariance step, lavaan's fit measures and parameter estimates to
# tests/data/lavaan/multigroup_fiml_fit.csv and multigroup_fiml_estimates.csv.
suppressPackageStartupMessages(library(lavaan))
set.seed(20261206)
hs <- HolzingerSwineford1939
hs$age3 <- ifelse(hs$ageyr <= 12, "young", ifelse(hs$ageyr == 13, "mid", "old"))
n <- nrow(hs)
drop_if <- function(driver, scale) runif(n) < plogis(scale * as.numeric(scale(driver)) - 1.6)
# MAR: whether x2, x3 are answered depends on x1; x5 on x4; x8, x9 on x7; x6 completely at random
hs$x2[drop_if(hs$x1, 1.2)] <- NA
hs$x3[drop_if(hs$x1, -0.8)] <- NA
hs$x5[drop_if(hs$x4, 1.0)] <- NA
hs$x6[runif(n) < 0.10] <- NA
hs$x8[drop_if(hs$x7, 1.1)] <- NA
hs$x9[drop_if(hs$x7, 0.7)] <- NA
write.csv(hs[, c("id", "school", "age3", paste0("x", 1:9))], "tests/data/hs_holes_mar.csv",
          row.names = FALSE, na = "")
hs <- read.csv("tests/data/hs_holes_mar.csv")  # fit what the tests read (write.csv rounds to 15 digits)
measures <- c("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper",
              "srmr", "aic", "bic", "baseline.chisq", "baseline.df", "logl", "unrestricted.logl")
cfa_model <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
sem_model <- paste(cfa_model, "\n textual ~ visual\n speed ~ visual")
steps <- list(configural = "", metric = "loadings", scalar = c("loadings", "intercepts"),
              strict = c("loadings", "intercepts", "residuals"),
              structural = c("loadings", "intercepts", "residuals", "regressions"))
cases <- list(
  list(case = "school", model = cfa_model, group = "school", fun = cfa, steps = names(steps)[1:4]),
  list(case = "age3", model = cfa_model, group = "age3", fun = cfa, steps = names(steps)[1:4]),
  list(case = "school_paths", model = sem_model, group = "school", fun = sem, steps = names(steps)),
  list(case = "school_partial", model = cfa_model, group = "school", fun = cfa, steps = "scalar",
       partial = c("visual =~ x2", "x3 ~ 1", "x7 ~ 1"))
)
fits <- list()
ests <- list()
for (cs in cases) {
  for (s in cs$steps) {
    partial <- if (is.null(cs$partial)) "" else cs$partial
    fit <- cs$fun(cs$model, hs, group = cs$group, group.equal = steps[[s]], group.partial = partial,
                  missing = "ml")
    fm <- fitMeasures(fit, measures)
    fits[[length(fits) + 1]] <- data.frame(case = cs$case, step = s, as.list(setNames(as.numeric(fm), measures)), check.names = FALSE)
    pe <- parameterEstimates(fit)
    pe <- pe[pe$op %in% c("=~", "~", "~~", "~1"), c("lhs", "op", "rhs", "group", "est", "se")]
    pe$group <- lavInspect(fit, "group.label")[pe$group]
    ests[[length(ests) + 1]] <- data.frame(case = cs$case, step = s, pe)
  }
}
write.csv(do.call(rbind, fits), "tests/data/lavaan/multigroup_fiml_fit.csv", row.names = FALSE)
options(digits = 15)
write.csv(do.call(rbind, ests), "tests/data/lavaan/multigroup_fiml_estimates.csv", row.names = FALSE)
cat("lavaan", as.character(packageVersion("lavaan")), "\n")
print(do.call(rbind, fits)[, c("case", "step", "chisq", "df", "cfi", "srmr")])
