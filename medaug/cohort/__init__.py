"""Generator of the embedded demo cohort: synthetic BIDS raw datasets built from the MNI152 template.

Public API::

    config = CohortConfig.from_dict(params["cohort"])   # validated; raises CohortConfigError
    generate_cohort(config, cohort_index, out_root)     # one BIDS dataset, written atomically
    generate_cohorts(config, out_dir, montage_dir)      # all of them, plus montages

:func:`medaug.cohort.stage.run` is the pipeline stage (cohorts, montages, metrics).
"""

from medaug.cohort.config import CohortConfig, CohortConfigError
from medaug.cohort.generate import generate_cohort, generate_cohorts, render_image
from medaug.cohort.montage import cohort_montage

__all__ = ["CohortConfig", "CohortConfigError", "cohort_montage", "generate_cohort", "generate_cohorts", "render_image"]
