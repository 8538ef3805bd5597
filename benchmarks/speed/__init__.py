"""Speed benchmarks: the cost of a training step, a sampler, a stage or the Dask grid, printed as medians and ratios."""
