"""`quadreg export`: a run's model as a TF Serving model version."""

import keras_quadreg as kq
from keras_quadreg.cli import help_format
from keras_quadreg.cli.runs import RunFolder


def add_parser(subparsers):
    parser = help_format.command(
        subparsers,
        "export",
        help="export a run's model for TF Serving",
        description="Export the run's model.keras with kq.export_for_serving to "
        "<base>/<next version>/ (default base: <run>/export).",
        run_folder=True,
    )
    parser.add_argument(
        "--base", default=None, help="model base path for TF Serving (default: <run>/export)"
    )
    parser.add_argument(
        "--version", type=int, default=None, help="version number (default: the next one)"
    )
    parser.set_defaults(handler=run)


def run(args):
    folder = RunFolder(args.run)
    model = folder.load_model()
    path = kq.export_for_serving(model, args.base or folder.export, version=args.version)
    print(f"quadreg: exported {folder.model} to {path}")
