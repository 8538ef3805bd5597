"""t1-linear preprocessing: N4 + affine-only registration to MNI152 2009a + crop, QC, model-ready stacks.

Modules: :mod:`template` (target and crop box), :mod:`validate` (input checks), :mod:`fov` (neck
crop and cranium centre of whole-head scans), :mod:`t1_linear` (one image), :mod:`caps` (clinica
CAPS names), :mod:`qc` (NCC, montage), :mod:`head_qc` (registration-independent head-fit QC), :mod:`model_ready`
(down-sampling, rescaling, stacks), :mod:`run` / :mod:`jobs` / :mod:`cohort` (many images).
Nothing here imports ants at module import time.
"""

from medaug.preprocess.cohort import preprocess_cohort
from medaug.preprocess.model_ready import load_stack
from medaug.preprocess.run import ImageJob, PreprocessSettings
from medaug.preprocess.t1_linear import T1LinearConfig
from medaug.preprocess.template import TEMPLATE_SPACE

__all__ = ["ImageJob", "PreprocessSettings", "T1LinearConfig", "TEMPLATE_SPACE", "load_stack", "preprocess_cohort"]
