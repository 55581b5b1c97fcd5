"""The `quadreg` command line: train, evaluate, explain, export and compare.

Building the parser loads neither TensorFlow nor Keras (the command modules
import them in the functions that run commands, and take the library's names
from `choices`), so that `quadreg --help` is instant.
"""

import argparse
import pathlib
import sys

from keras_quadreg import recipes
from keras_quadreg.cli import bounds


def parser():
    return _parsers()[0]


def _parsers():
    """The root parser and its subcommands' parsers, by name."""
    from keras_quadreg.cli import compare, evaluate, explain, export, train

    root = argparse.ArgumentParser(
        prog="quadreg",
        description="Train, evaluate, explain and export adversarially robust Keras models.",
        epilog="TensorFlow's C++ log lines are hidden: TF_CPP_MIN_LOG_LEVEL is 3 unless set "
        "(TF_CPP_MIN_LOG_LEVEL=0 quadreg ... shows them all).",
    )
    subparsers = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (train, evaluate, explain, export, compare):
        module.add_parser(subparsers)
    return root, subparsers.choices


# The library's data errors speak of its `data_dir` argument.
_DATA_DIR_HINT = "On the command line, `data_dir` is the --data-dir flag."


def data_dir(value):
    """The --data-dir flag as an absolute path (so that errors show where
    files were looked for), once checked to be a folder; None stays None."""
    if value is None:
        return None
    path = pathlib.Path(value).expanduser().resolve()
    if not path.is_dir():
        raise FileNotFoundError(
            f"Data directory not found: expected --data-dir to be an existing folder holding one "
            f"folder of raw files per dataset; looked in {path}. Received: --data-dir={value}"
        )
    return str(path)


def parse(argv=None):
    """The parsed and range-checked flags of a command line (`sys.argv` by default).

    With `--recipe`, the recipe's values become the defaults of the flags
    they name and the line is parsed again, so flags given explicitly win.
    """
    root, commands = _parsers()
    args = root.parse_args(argv)
    if getattr(args, "recipe", None):
        options = recipes.get(args.recipe).options
        commands[args.command].set_defaults(**{k: options[k] for k in options if k in vars(args)})
        args = root.parse_args(argv)
    bounds.check_flags(commands[args.command], args)
    return args


def run(args):
    """Runs the command that `parse` returned."""
    try:
        if hasattr(args, "data_dir"):
            args.data_dir = data_dir(args.data_dir)
        args.handler(args)
    except FileNotFoundError as error:
        hint = f" {_DATA_DIR_HINT}" if "`data_dir`" in str(error) else ""
        sys.exit(f"quadreg {args.command}: {error}{hint}")
    except ValueError as error:
        sys.exit(f"quadreg {args.command}: {error}")
    return 0


def main(argv=None):
    return run(parse(argv))
