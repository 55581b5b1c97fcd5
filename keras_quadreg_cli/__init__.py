"""The `quadreg` command (`python -m keras_quadreg_cli`).

It lives outside `keras_quadreg` because a package's `__init__` runs before
any of its modules, and `keras_quadreg`'s imports TensorFlow: from here,
TensorFlow's start-up log lines are filtered while the library loads (see
`tf_logs`). The commands themselves are `keras_quadreg.cli`.
"""

import importlib

from keras_quadreg_cli import tf_logs


def main(argv=None):
    cli = tf_logs.import_quietly(lambda: importlib.import_module("keras_quadreg.cli"))
    return cli.main(argv)
