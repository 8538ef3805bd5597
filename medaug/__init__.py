"""medaug: reproducible data augmentation for small cohorts of 3D brain MRI.

The library is importable on its own and keeps no global state. Three modules serve the DVC pipeline
and are the only ones that know of DVC: :mod:`medaug.dvc_deps` (the stages' code deps),
:mod:`medaug.dvc_remote` (sharing outputs through a DVC remote) and :mod:`medaug.cluster` (running
changed stages on Dask). No other module imports ``dvc``, :mod:`medaug.dvc_deps` or
:mod:`medaug.dvc_remote`; the preprocessing fans out on :mod:`medaug.cluster.executor`, which uses Dask only.
Rooms:

- :mod:`medaug.cohort` generator of the embedded demo cohort (BIDS raw datasets)
- :mod:`medaug.bids`   BIDS paths and tables
- :mod:`medaug.io`     atomic file writes shared by every stage
- :mod:`medaug.figures` orthogonal slices through a point in mm, and every montage of volumes
"""

__version__ = "0.1.0"
