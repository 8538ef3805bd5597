"""Studies: the experiments behind statements in the docs (calibration, registration, generators, classifier protocols)."""
