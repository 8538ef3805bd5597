"""The 2D quick check: the 3D pipeline's models, trainer and samplers run on one slice of each
volume (thesis ch. 2-3 study the samplers on 2D images), so a change can be judged in seconds.

:mod:`slices` cuts the slices; :mod:`check` trains, samples and measures diversity
(:func:`medaug.slicecheck.check.run_slice_check`, the ``medaug slices`` command).
"""
