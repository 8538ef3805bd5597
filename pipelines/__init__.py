"""Thin DVC stage scripts: read ``params.yaml``, call :mod:`medaug`, write outputs and metrics."""
