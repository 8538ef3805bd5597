"""The ``medaug`` command line. Each subcommand has its own ``--help``.

Stage scripts in ``pipelines/`` are what ``dvc repro`` runs; these subcommands run the same library
code outside DVC, on files and folders a researcher names.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from medaug.cluster.cli import add_parser as add_cluster_parser


def _cmd_cohort(args: argparse.Namespace) -> int:
    """The stage's own entry (:func:`medaug.cohort.stage.run`) with the folders of the command line."""
    from medaug.cohort import CohortConfigError
    from medaug.cohort.stage import run

    with open(args.params) as fh:
        params = yaml.safe_load(fh)["cohort"]
    params.update(out_dir=args.out_dir, results_dir=args.montage_dir, metrics_dir=args.metrics_dir)
    params.setdefault("montage_subjects", 3)
    if args.seed is not None:
        params["seed"] = args.seed
    try:
        summary = run(params)
    except CohortConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


def _cmd_align(args: argparse.Namespace) -> int:
    import nibabel as nib
    import numpy as np

    from medaug.cohort.align import resample_to_template

    image = nib.load(args.image)
    truth = json.loads(Path(args.groundtruth).read_text())
    volume, affine = resample_to_template(
        image.get_fdata(dtype=np.float32), image.affine, np.asarray(truth["world_from_mni"]), args.voxel_size
    )
    nib.save(nib.Nifti1Image(volume, affine), args.output)
    print(f"wrote {args.output} {volume.shape} at {args.voxel_size} mm")
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from medaug.convert.run import ClinicaMissingError, ConvertInputError, convert_study

    try:
        bids = convert_study(args.study, args.raw_dir, args.clinical_dir, args.bids_dir, n_procs=args.n_procs,
                             subjects_list=args.subjects_list, modalities=args.modalities)
    except (ClinicaMissingError, ConvertInputError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote BIDS dataset {bids}")
    return 0


def _cmd_slices(args: argparse.Namespace) -> int:
    import logging

    from medaug.runtime import set_threads
    from medaug.sampling.factory import SamplerError
    from medaug.slicecheck.check import run_slice_check
    from medaug.volumes import training_and_validation_volumes

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    with open(args.params) as fh:
        params = yaml.safe_load(fh)
    train_params, sample_params = params["train_vae"], params["sample"]
    set_threads(train_params.get("threads"))
    try:
        train, val = training_and_validation_volumes(train_params, args.label)
        result = run_slice_check(train, args.label, train_params, sample_params, args.out_dir, model_name=args.model,
                                 sampler=args.sampler, axis=args.axis, index=args.index, val_volumes=val,
                                 epochs=args.epochs, n_samples=args.n)
    except (SamplerError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result.figures, indent=2))
    print(f"wrote {result.montage} and {result.summary}")
    return 0


def _cmd_init(args: argparse.Namespace) -> int:
    from medaug.ingest.init import InitError, format_report, init_profile
    from medaug.bids.layout import BIDSError
    from medaug.io import atomic_path

    with open(args.base) as fh:
        base = yaml.safe_load(fh)
    labels = [v.strip() for v in args.labels.split(",")] if args.labels else None
    try:
        profile = init_profile(args.bids_dir, base, name=args.name, label_column=args.label_column, labels=labels,
                               labels_from=args.labels_from, session=args.session)
    except (InitError, BIDSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_report(profile))
    header = (f"# medaug profile for the BIDS dataset {profile.found.source.path}, written by `medaug init`\n"
              f"# from {args.base}. Run it with `dvc repro` (docs/own-cohort.md).\n")
    with atomic_path(args.output) as tmp:
        Path(tmp).write_text(header + yaml.safe_dump(profile.params, sort_keys=False, width=120))
    print(f"wrote {args.output}: dvc repro runs cohort_bids@{profile.found.source.name} (no demo generator)")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from medaug.derivatives import ExportError, export_training_tsv

    with open(args.params) as fh:
        params = yaml.safe_load(fh)
    try:
        table = export_training_tsv(params, args.output, split=args.split)
    except (ExportError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    counts = table.groupby(["origin", "diagnosis"]).size().to_dict()
    print(f"wrote {args.output or params['derivatives']['export']}: {len(table)} images "
          + ", ".join(f"{o} {d}: {n}" for (o, d), n in sorted(counts.items())))
    return 0


def _add_cohort(sub: argparse._SubParsersAction) -> None:
    """Subcommand ``cohort``: the demo cohort generator."""
    cohort = sub.add_parser("cohort", help="generate the synthetic demo cohorts (BIDS raw datasets)",
                            description="Generate the demo cohorts from nilearn's MNI152 template, as BIDS raw datasets.")
    cohort.add_argument("--params", default="params.yaml", help="YAML file with a 'cohort' section (default: %(default)s)")
    cohort.add_argument("--out-dir", default="data/bids", help="one BIDS root per cohort is written here (default: %(default)s)")
    cohort.add_argument("--montage-dir", default=None, help="write a PNG montage per cohort here")
    cohort.add_argument("--metrics-dir", default="metrics", help="the summary goes to <dir>/cohort.json, as in stage "
                        "cohort@demo (default: %(default)s)")
    cohort.add_argument("--seed", type=int, default=None, help="override the seed of the parameter file")
    cohort.set_defaults(func=_cmd_cohort)


def _add_align(sub: argparse._SubParsersAction) -> None:
    """Subcommand ``align``: resampling a generated image with its ground-truth pose."""
    align = sub.add_parser("align", help="resample a generated image to MNI space with its ground-truth pose",
                           description="Resample a demo image to MNI space using its ground-truth JSON (no registration).")
    align.add_argument("image", help="native T1w NIfTI of the demo cohort")
    align.add_argument("groundtruth", help="its derivatives/synth/..._groundtruth.json")
    align.add_argument("output", help="output NIfTI path")
    align.add_argument("--voxel-size", type=float, default=1.0, help="voxel size in mm (default: %(default)s)")
    align.set_defaults(func=_cmd_align)


def _add_convert(sub: argparse._SubParsersAction) -> None:
    """Subcommand ``convert``: clinica's study converters."""
    convert = sub.add_parser(
        "convert", help="convert an ADNI, AIBL or OASIS-1 download to BIDS with clinica (optional extra)",
        description="Run clinica's adni-to-bids, aibl-to-bids or oasis-to-bids converter on a download. "
                    'Needs clinica: python -m pip install -e ".[clinica]".')
    convert.add_argument("study", choices=["adni", "aibl", "oasis"], help="which converter")
    convert.add_argument("raw_dir", help="the image download (DICOM for ADNI/AIBL, OAS1_*_MR1 folders for OASIS)")
    convert.add_argument("clinical_dir", help="folder of the study's clinical tables (CSV / XLSX)")
    convert.add_argument("bids_dir", help="output BIDS folder, e.g. data/bids/adni")
    convert.add_argument("--n-procs", type=int, default=1, help="worker processes clinica uses (default: %(default)s)")
    convert.add_argument("--subjects-list", default=None, help="ADNI only: text file of subject ids to convert")
    convert.add_argument("--modalities", nargs="+", default=None,
                         help="ADNI only: modalities to convert, e.g. T1 (default: clinica's, every modality)")
    convert.set_defaults(func=_cmd_convert)


def _add_slices(sub: argparse._SubParsersAction) -> None:
    """Subcommand ``slices``: the 2D quick check."""
    slices = sub.add_parser(
        "slices", help="2D quick check: train, sample and measure diversity on one slice of each volume",
        description="Train the configured generative model on one 2D slice of a label's model-ready training volumes "
                    "(same model classes, trainer and samplers as the 3D pipeline, thesis ch. 2-3), sample from it, "
                    "and write a montage (real / reconstructions / synthetic) and diversity.json. "
                    "Run from the repository root.")
    slices.add_argument("--params", default="params.yaml",
                        help="YAML file with 'train_vae' and 'sample' sections (default: %(default)s)")
    slices.add_argument("--label", required=True, help="diagnosis label, e.g. AD or CN")
    slices.add_argument("--out-dir", default="results/slices2d", help="output folder (default: %(default)s)")
    slices.add_argument("--axis", type=int, default=2, choices=[0, 1, 2],
                        help="spatial axis cut across: 0 sagittal, 1 coronal, 2 axial (default: %(default)s)")
    slices.add_argument("--index", type=int, default=None, help="slice index along --axis (default: the middle one)")
    slices.add_argument("--epochs", type=int, default=None, help="override train_vae.training.max_epochs")
    slices.add_argument("--model", default=None, help="override train_vae.model (rhvae, vae, geometric_vae)")
    slices.add_argument("--sampler", default=None,
                        help="override sample.sampler (default: it, if it fits the model, else the model's own sampler)")
    slices.add_argument("--n", type=int, default=None, help="override sample.n, the number of synthetic slices")
    slices.set_defaults(func=_cmd_slices)


def _add_init(sub: argparse._SubParsersAction) -> None:
    """Subcommand ``init``: a profile for your own BIDS dataset."""
    init = sub.add_parser(
        "init", help="write a profile (params.yaml) for your own BIDS dataset and print what it found",
        description="Index a BIDS raw dataset (pybids), choose one T1w per labelled participant, check the labels "
                    "have enough participants for the splits, and write a complete profile whose `dvc repro` reads "
                    "this dataset instead of generating the demo cohorts (docs/own-cohort.md).")
    init.add_argument("bids_dir", help="the BIDS raw dataset (read only)")
    init.add_argument("--label-column", default=None,
                      help="column holding the labels (default: the first of group, diagnosis, dx, ... in participants.tsv)")
    init.add_argument("--labels", default=None,
                      help="comma-separated label values to use, e.g. control,patient (default: every value with "
                           "enough participants); the first two are the classifiers' negative and positive labels "
                           "(classify.labels)")
    init.add_argument("--labels-from", choices=["participants", "sessions"], default="participants",
                      help="where the label column is: participants.tsv or sub-*_sessions.tsv (default: %(default)s)")
    init.add_argument("--session", default="first",
                      help="session whose image is used: first (each participant's earliest) or an id such as ses-01")
    init.add_argument("--name", default=None, help="cohort name (default: the folder name, letters and digits)")
    init.add_argument("--base", default="params.yaml",
                      help="profile whose model, sampler and training settings are kept (default: %(default)s)")
    init.add_argument("--output", default="params.yaml", help="profile to write (default: %(default)s)")
    init.set_defaults(func=_cmd_init)


def _add_export(sub: argparse._SubParsersAction) -> None:
    """Subcommand ``export``: the clinicadl-style training TSV."""
    export = sub.add_parser(
        "export", help="one clinicadl-style TSV of the real and synthetic training images",
        description="Write participant_id, session_id, diagnosis, origin (real / synthetic) and the image path of "
                    "the real training split and the synthetic derivatives dataset, for a classifier of your own.")
    export.add_argument("--params", default="params.yaml", help="profile with a 'derivatives' section")
    export.add_argument("--split", default=None, help="real split to export (default: train_vae.train_split)")
    export.add_argument("--output", default=None, help="TSV to write (default: derivatives.export)")
    export.set_defaults(func=_cmd_export)

def build_parser() -> argparse.ArgumentParser:
    """The ``medaug`` argument parser: one subcommand per tool, each with its own ``--help``."""
    parser = argparse.ArgumentParser(prog="medaug", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"medaug {__import__('medaug').__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_cohort, _add_align, _add_convert, _add_slices, _add_init, _add_export):
        add(sub)
    add_cluster_parser(sub)  # medaug cluster run: the pipeline's changed stages on a Dask cluster
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``medaug`` command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
