"""Stage ``evaluate``: every trained classifier on every test cohort; metrics per run, mean and sd over runs.

    python -m pipelines.evaluate [--params params.yaml]

Reads the ``classify`` section of params.yaml and runs :func:`medaug.classify.run.evaluate_runs`
on the checkpoints ``<out_dir>/<trainset>/run-<k>/``
of every training set and run, and the test cohorts: the ``test`` split of the training cohort
and the ``test`` table of each external cohort (after the leakage guard). Writes::

    <results_dir>/predictions.tsv   trainset, run, cohort, participant_id, session_id, diagnosis,
                                    probability_AD, predicted
    <results_dir>/runs.tsv          trainset, run, cohort, balanced_accuracy, sensitivity,
                                    specificity, roc_auc, n_AD, n_CN, kept_epoch, validation BA,
                                    kept_step, stopped_step, step_cap, kept_in_last_fifth,
                                    stop_reason, selection, optimisation_steps, images_seen (from
                                    the run's summary.json; n/a where a summary lacks one)
    <metrics>                       {trainset: {cohort: {metric: {mean, std}, n_runs},
                                                convergence: {n_runs, selection, step_cap,
                                                kept_step, stopped_step (min / median / max),
                                                kept_in_last_fifth, stopped_early (run counts)}}}
"""

from __future__ import annotations

import argparse
import sys

from medaug.classify.run import evaluate_runs
from pipelines._params import load_params
from pipelines._runner import run_stage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    evaluate_runs(load_params("classify", args.params))
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
