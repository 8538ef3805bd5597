"""``medaug cluster run``: bring the pipeline up to date with its changed stages run on Dask.

Without ``--address`` (nor ``cluster.address`` in params.yaml, nor ``MEDAUG_CLUSTER_ADDRESS``) a
local cluster of ``--workers`` processes is started for the run and stopped after it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys


def _cmd_run(args: argparse.Namespace) -> int:
    from medaug.cluster.runner import ClusterRunError, run_on_cluster
    from medaug.cluster.settings import ClusterSettings

    settings = ClusterSettings.from_params(args.params)
    overrides = {key: value for key, value in (("address", args.address), ("workers", args.workers),
                                               ("threads_per_task", args.threads)) if value is not None}
    settings = dataclasses.replace(settings, **overrides)
    where = settings.address or f"a local cluster of {settings.workers} workers"
    print(f"cluster: running changed stages on {where}", flush=True)
    try:
        report = run_on_cluster(".", args.targets or None, settings, keep_going=args.keep_going,
                          log=lambda line: print(line, flush=True))
    except ClusterRunError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"cluster: {len(report.ran)} stage(s) run, {len(report.up_to_date)} up to date, {report.seconds:.1f} s")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``cluster`` (with its ``run`` subcommand) on the ``medaug`` command line."""
    cluster = sub.add_parser("cluster", help="run the pipeline's changed stages on a Dask cluster (DVC decides what is stale)",
                             description=__doc__.replace("``", "").splitlines()[0])
    cluster_sub = cluster.add_subparsers(dest="cluster_command", required=True, metavar="COMMAND")
    run = cluster_sub.add_parser("run", help="run changed stages of TARGETS (default: the whole dvc.yaml) on Dask",
                                 description=__doc__.replace("``", ""))
    run.add_argument("targets", nargs="*", help="stages as for dvc repro, e.g. train_classifier (every real "
                                                "training set) or train_classifier@real (every run of one set)")
    run.add_argument("--address", default=None, help="Dask scheduler, e.g. tcp://node:8786 (default: $MEDAUG_CLUSTER_ADDRESS, "
                                                     "then cluster.address in params.yaml, else a local cluster)")
    run.add_argument("--workers", type=int, default=None, help="local cluster only: worker processes (default: "
                                                               "cluster.workers, else the number of CPUs)")
    run.add_argument("--threads", type=int, default=None, help="OMP/MKL/ITK threads per stage (default: "
                                                               "cluster.threads_per_task, else 1)")
    run.add_argument("--params", default="params.yaml", help="file with the optional 'cluster' section")
    run.add_argument("--keep-going", action="store_true", help="after a failure, run every stage that does not depend on it")
    run.set_defaults(func=_cmd_run)


def main(argv: list[str] | None = None) -> int:
    """``python -m medaug.cluster ARGS`` is ``medaug cluster ARGS``."""
    parser = argparse.ArgumentParser(prog="medaug")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["cluster", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
