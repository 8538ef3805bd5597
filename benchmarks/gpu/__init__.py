"""The GPU check (``gpu_check.sh``) and the table it prints (:mod:`benchmarks.gpu.gpu_check_summary`)."""
