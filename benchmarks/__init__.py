"""Scripts that print speed and study figures (never timed tests).

Run each one as a module from the repository root, e.g. ``python -m benchmarks.speed.rhvae_step --help``:

- :mod:`benchmarks.speed`: the cost of a step or a stage;
- :mod:`benchmarks.studies`: the experiments behind statements in the docs;
- :mod:`benchmarks.gpu`: the GPU check and its summary table;
- :mod:`benchmarks.common`: what they share.
"""
