# Reference values for tests/test_cbsem_lavaan.py, computed with R lavaan 0.6-14.
# Run from the project root: Rscript tests/reference_scripts/cbsem_lavaan.R
# Data: tests/data/holzinger_swineford_1939.csv and tests/data/political_democracy.csv were written
# from lavaan's HolzingerSwineford1939 and PoliticalDemocracy data sets with write.csv.
library(lavaan)
options(digits = 12, width = 200)
hs <- read.csv("tests/data/holzinger_swineford_1939.csv")
pd <- read.csv("tests/data/political_democracy.csv")

# deterministic holes (same rule in the Python tests)
holes_hs <- function(d) {
  d$x1[d$id %% 5 == 0] <- NA
  d$x4[d$id %% 7 == 3] <- NA
  d$x8[d$id %% 6 == 1] <- NA
  d$x9[d$ageyr >= 14 & d$id %% 4 == 2] <- NA
  d
}
holes_pd <- function(d) {
  i <- seq_len(nrow(d))
  d$y1[i %% 5 == 0] <- NA
  d$y6[i %% 7 == 3] <- NA
  d$x2[i %% 6 == 1] <- NA
  d$y8[d$x1 > 5.5 & i %% 3 == 0] <- NA
  d
}
fm <- c("npar", "chisq", "df", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "srmr",
        "aic", "bic", "baseline.chisq", "baseline.df")
show <- function(title, fit) {
  cat("\n##", title, "\n")
  pe <- parameterEstimates(fit, standardized = TRUE)
  for (i in seq_len(nrow(pe))) {
    cat(sprintf('    ("%s", "%s", "%s", %.10g, %.10g, %.10g, %.10g),\n', pe$lhs[i], pe$op[i], pe$rhs[i],
                pe$est[i], pe$se[i], pe$std.lv[i], pe$std.all[i]))
  }
  f <- fitMeasures(fit, fm)
  cat(paste0('    "', names(f), '": ', sprintf("%.10g", f), ",\n"), sep = "")
}
hs_model <- "speed =~ x7 + x8 + x9\ntextual =~ x4 + x5 + x6\nvisual =~ x1 + x2 + x3"
show("HS CFA, ML, complete", cfa(hs_model, data = hs))
show("HS CFA, FIML (observed information), holes", cfa(hs_model, data = holes_hs(hs), missing = "ml"))
show("HS CFA, FIML (expected information), holes",
     cfa(hs_model, data = holes_hs(hs), missing = "ml", information = "expected"))
pd_model <- "
dem65 =~ y5 + y6 + y7 + y8
ind60 =~ x1 + x2 + x3
dem60 =~ y1 + y2 + y3 + y4
dem60 ~ ind60
dem65 ~ ind60 + dem60
y1 ~~ y5
y2 ~~ y4 + y6
y3 ~~ y7
y4 ~~ y8
y6 ~~ y8
"
show("PD SEM, ML, complete", sem(pd_model, data = pd))
show("PD SEM, FIML (observed information), holes", sem(pd_model, data = holes_pd(pd), missing = "ml"))
