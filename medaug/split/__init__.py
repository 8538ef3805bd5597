"""The ``split`` stage: diagnostic labels, participant-level splits and the leakage guard.

- :func:`read_labels` labels the baseline image of every participant of a BIDS dataset
  (stable CN / stable AD by default) and says why the others were left out.
- :class:`CohortSplitter` splits a labelled cohort into test / train / validation / train-50 with
  age, sex and site balanced between sets.
- :func:`check_no_leakage` (and :func:`check_split_directories` for split files on disk) fails,
  naming the participants, if anyone is in two splits or in training and an external test set.
- :mod:`stage`: the whole stage (every cohort labelled, the training cohort split, tables written).
"""

from medaug.split.balance import BalanceCriteria, balance_pvalues, chi2_pvalue, ttest_pvalue
from medaug.split.labels import (
    EXCLUSIONS,
    LabelError,
    LabelRule,
    labelled_images,
    read_labels,
    summarize_labels,
)
from medaug.split.leakage import (
    LeakageError,
    check_no_leakage,
    check_split_directories,
    read_split_directory,
)
from medaug.split.splits import CohortSplitter, SplitError

__all__ = [
    "EXCLUSIONS",
    "BalanceCriteria",
    "CohortSplitter",
    "LabelError",
    "LabelRule",
    "LeakageError",
    "SplitError",
    "balance_pvalues",
    "check_no_leakage",
    "check_split_directories",
    "chi2_pvalue",
    "labelled_images",
    "read_labels",
    "read_split_directory",
    "summarize_labels",
    "ttest_pvalue",
]
