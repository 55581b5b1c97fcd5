"""The help formatter of every `quadreg` command."""

import argparse


class DefaultsOnce(argparse.ArgumentDefaultsHelpFormatter):
    """Appends `(default: ...)` to a flag's help unless the help states its
    default itself (e.g. "(default: the run's)"), so each default shows once."""

    def _get_help_string(self, action):
        if "(default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)
