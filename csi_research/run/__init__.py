"""The machinery that runs studies: the batch on Dask, warm worker processes, notebook execution, the CLI."""
