"""medaug: reproducible data augmentation for small cohorts of 3D brain MRI.

The library is importable on its own: it has no knowledge of DVC and keeps no global state.
Rooms:

- :mod:`medaug.cohort` generator of the embedded demo cohort (BIDS raw datasets)
- :mod:`medaug.bids`   BIDS paths and tables
- :mod:`medaug.io`     atomic file writes shared by every stage
- :mod:`medaug.figures` orthogonal slices through a point in mm, and every montage of volumes
"""

__version__ = "0.1.0"
