"""The statistics on a prepared sample: PLS, PLSc, CB-SEM, FIML, multi-group, quality, indices, resampling."""
