"""The ``evaluate`` stage: every trained classifier on every test cohort (:mod:`medaug.evaluate.stage`)."""
