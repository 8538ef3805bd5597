"""A researcher's own BIDS dataset as a medaug cohort: survey, staging (stage ``cohort_bids``), ``medaug init``."""
