"""The help formatter of every `quadreg` command, and the flags several share."""

import argparse


class DefaultsOnce(argparse.ArgumentDefaultsHelpFormatter):
    """Appends `(default: ...)` to a flag's help unless the help states its
    default itself (e.g. "(default: the run's)"), so each default shows once."""

    def _get_help_string(self, action):
        if "(default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def command(subparsers, name, *, help, description, run_folder=False):
    """The parser of the `quadreg` command `name`, with this formatter and,
    with `run_folder`, the positional run folder it works on."""
    parser = subparsers.add_parser(
        name, help=help, description=description, formatter_class=DefaultsOnce
    )
    if run_folder:
        parser.add_argument("run", help="run folder written by `quadreg train`")
    return parser


def add_test_data_dir(parser):
    """--data-dir of the commands that read a run's test data."""
    parser.add_argument(
        "--data-dir", default=None, help="raw dataset files (default: $KERAS_QUADREG_DATA)"
    )
