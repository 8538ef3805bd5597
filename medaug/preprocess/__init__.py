"""t1-linear preprocessing: N4 + affine-only registration to MNI152 2009a + crop, QC, model-ready stacks.

Modules: :mod:`template` (target and crop box), :mod:`validate` (input checks), :mod:`fov` (neck
crop and cranium centre of whole-head scans), :mod:`t1_linear` (one image), :mod:`caps` (clinica
CAPS names), :mod:`qc` (NCC, montage), :mod:`head_qc` (registration-independent head-fit QC),
:mod:`model_ready` (down-sampling, rescaling, and the one reader and writer of the model-ready
stack), :mod:`pool` (many images in worker processes), :mod:`jobs`, :mod:`cohort` (one cohort) and
:mod:`stage` (the ``preprocess`` stage).

Import from the modules (``from medaug.preprocess.model_ready import load_stack``). This file
imports nothing, so a stage that only reads model-ready stacks does not depend on the
registration code. Nothing here imports ants at module import time.
"""
