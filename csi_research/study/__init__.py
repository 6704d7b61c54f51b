"""One regional study: its configuration, the pipeline, the results bundle and its earlier waves."""
