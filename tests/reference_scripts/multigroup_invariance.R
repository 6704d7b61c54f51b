# Reference values for tests/test_multigroup.py (lavaan 0.6-14, R).
# Run from the project root: Rscript tests/reference_scripts/multigroup_invariance.R [path/to/satisfaction.csv]
# Writes tests/data/holzinger_swineford_1939.csv (lavaan's public HolzingerSwineford1939 data) and prints
# the fit measures and estimates pasted into the tests.
suppressPackageStartupMessages(library(lavaan))
measures <- c("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper",
              "srmr", "aic", "bic", "baseline.chisq", "baseline.df")
show <- function(label, fit) {
  cat(label, paste(sprintf("%s=%.12g", measures, fitMeasures(fit, measures)), collapse = ", "), "\n")
}
hs <- HolzingerSwineford1939
write.csv(hs[, c("id", "sex", "ageyr", "school", "grade", paste0("x", 1:9))],
          "tests/data/holzinger_swineford_1939.csv", row.names = FALSE)
cfa_model <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
steps <- list(configural = "", metric = "loadings", scalar = c("loadings", "intercepts"),
              strict = c("loadings", "intercepts", "residuals"))
for (s in names(steps)) show(paste("HS school", s), cfa(cfa_model, hs, group = "school", group.equal = steps[[s]]))
# partial scalar invariance: one loading and two intercepts free
partial <- cfa(cfa_model, hs, group = "school", group.equal = c("loadings", "intercepts"),
               group.partial = c("visual =~ x2", "x3 ~ 1", "x7 ~ 1"))
show("HS partial", partial)
# structural model: visual -> textual, visual -> speed
sem_model <- paste(cfa_model, "\n textual ~ visual\n speed ~ visual")
for (s in c("strict", "structural")) {
  eq <- c("loadings", "intercepts", "residuals", if (s == "structural") "regressions")
  show(paste("HS paths", s), sem(sem_model, hs, group = "school", group.equal = eq))
}
# three groups by age: 11-12, 13, 14-16
hs$age3 <- ifelse(hs$ageyr <= 12, "young", ifelse(hs$ageyr == 13, "mid", "old"))
for (s in c("configural", "metric", "scalar")) show(paste("HS age3", s), cfa(cfa_model, hs, group = "age3", group.equal = steps[[s]]))
scalar <- cfa(cfa_model, hs, group = "school", group.equal = c("loadings", "intercepts"))
est <- parameterEstimates(scalar)[, c("lhs", "op", "rhs", "group", "est", "se")]
est <- est[est$se > 0, ]
cat("HS scalar estimates\n")
cat(sprintf('("%s", "%s", "%s", %d, %.6f, %.6f),', est$lhs, est$op, est$rhs, est$group, est$est, est$se), sep = "\n")
args <- commandArgs(trailingOnly = TRUE)
if (length(args) > 0) {
  sat <- read.csv(args[1], row.names = 1)
  ecsi <- "IMAG =~ imag1 + imag2 + imag3 + imag4 + imag5
    EXPE =~ expe1 + expe2 + expe3 + expe4 + expe5
    QUAL =~ qual1 + qual2 + qual3 + qual4 + qual5
    VAL =~ val1 + val2 + val3 + val4
    SAT =~ sat1 + sat2 + sat3 + sat4
    LOY =~ loy1 + loy2 + loy3 + loy4
    EXPE ~ IMAG
    QUAL ~ EXPE
    VAL ~ EXPE + QUAL
    SAT ~ IMAG + EXPE + QUAL + VAL
    LOY ~ SAT + IMAG"
  eq <- list(configural = "", metric = "loadings", scalar = c("loadings", "intercepts"),
             strict = c("loadings", "intercepts", "residuals"),
             structural = c("loadings", "intercepts", "residuals", "regressions"))
  for (s in names(eq)) show(paste("ECSI gender", s), sem(ecsi, sat, group = "gender", group.equal = eq[[s]]))
}
