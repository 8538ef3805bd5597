"""Run the pipeline's stale stages on a Dask cluster, with DVC still deciding what is up to date.

``medaug cluster run`` (or :func:`run_on_cluster`) asks DVC which stages of the targets' pipeline changed,
submits each changed stage's own command to Dask as one task (stages whose upstream stages re-ran are
checked again once those are recorded, exactly as ``dvc repro`` does), and records every finished stage in
``dvc.lock`` itself, so that a following ``dvc status`` or ``dvc repro`` sees it up to date.

- :mod:`medaug.cluster.settings`: the ``cluster`` section of params.yaml and ``MEDAUG_CLUSTER_ADDRESS``;
- :mod:`medaug.cluster.task`: what a worker runs for one stage (no DVC import on the worker);
- :mod:`medaug.cluster.plan`: the DVC side (which stages, in which order, changed or not, recording);
- :mod:`medaug.cluster.engine`: the Dask client (a running scheduler, or a local cluster);
- :mod:`medaug.cluster.runner`: the loop that ties them together;
- :mod:`medaug.cluster.executor`: one Dask task per item, for stages that fan out (preprocessing).

The package itself imports nothing, so that a stage which only fans its items out (through
:mod:`medaug.cluster.executor`) does not depend on the DVC-side modules; import from the submodules.
"""
