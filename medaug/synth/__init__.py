"""Generator of the embedded demo cohort: synthetic BIDS raw datasets built from the MNI152 template.

Public API::

    config = CohortConfig.from_dict(params["cohort"])   # validated; raises SynthConfigError
    generate_cohort(config, cohort_index, out_root)     # one BIDS dataset, written atomically
    generate_cohorts(config, out_dir, montage_dir)      # all of them, plus montages
"""

from medaug.synth.config import CohortConfig, SynthConfigError
from medaug.synth.generate import generate_cohort, generate_cohorts, render_image
from medaug.synth.montage import cohort_montage

__all__ = ["CohortConfig", "SynthConfigError", "cohort_montage", "generate_cohort", "generate_cohorts", "render_image"]
