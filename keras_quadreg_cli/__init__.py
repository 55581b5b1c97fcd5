"""The `quadreg` command (`python -m keras_quadreg_cli`).

It lives outside `keras_quadreg` because a package's `__init__` runs before
any of its modules, and `keras_quadreg`'s imports TensorFlow (and registers
the library's Keras classes, which loading a model needs). From here the
command line is parsed before that `__init__` runs, so that `quadreg --help`
and bad flags answer at once, and TensorFlow's start-up log lines are
filtered while the library loads (see `tf_logs`). The commands themselves
are `keras_quadreg.cli`.
"""

import importlib.util
import sys

from keras_quadreg_cli import tf_logs


def main(argv=None):
    if "keras_quadreg" in sys.modules:  # called from Python, the library loaded
        from keras_quadreg import cli

        return cli.main(argv)
    # The package's module, its `__init__` not yet run: its `cli` modules
    # build the parser without TensorFlow.
    spec = importlib.util.find_spec("keras_quadreg")
    package = importlib.util.module_from_spec(spec)
    sys.modules["keras_quadreg"] = package
    try:
        from keras_quadreg import cli

        args = cli.parse(argv)
        tf_logs.import_quietly(lambda: spec.loader.exec_module(package))
    except BaseException:  # --help and flag errors exit here
        # As after a failed import: no half-initialized package stays behind.
        for name in [
            n for n in sys.modules if n == "keras_quadreg" or n.startswith("keras_quadreg.")
        ]:
            del sys.modules[name]
        raise
    return cli.run(args)
