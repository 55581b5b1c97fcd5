"""The `quadreg` command line: train, evaluate, explain, export and compare."""

import argparse
import sys

from keras_quadreg.cli import bounds


def parser():
    return _parsers()[0]


def _parsers():
    """The root parser and its subcommands' parsers, by name."""
    from keras_quadreg.cli import compare
    from keras_quadreg.cli import evaluate
    from keras_quadreg.cli import explain
    from keras_quadreg.cli import export
    from keras_quadreg.cli import train

    root = argparse.ArgumentParser(
        prog="quadreg",
        description="Train, evaluate, explain and export adversarially robust Keras models.",
    )
    subparsers = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (train, evaluate, explain, export, compare):
        module.add_parser(subparsers)
    return root, subparsers.choices


def main(argv=None):
    root, commands = _parsers()
    args = root.parse_args(argv)
    bounds.check_flags(commands[args.command], args)
    try:
        args.handler(args)
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"quadreg {args.command}: {error}")
    return 0
