"""TensorFlow's C++ log lines, kept off the terminal unless asked for.

`TF_CPP_MIN_LOG_LEVEL` (0: all, 1: no INFO, 2: no WARNING, 3: no ERROR)
filters TensorFlow's C++ logging once it has started, but the lines written
while its libraries load (oneDNN, the CUDA stub, absl's "All log messages
before absl::InitializeLog()") ignore it. `import_quietly` applies the level
to those lines too.
"""

import os
import re
import sys
import tempfile

LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
DEFAULT_LEVEL = "3"

# An absl log line: severity, date, time (before absl's initialization, its
# seconds count from 1970), thread id, `file:line]`.
_LOG_LINE = re.compile(r"[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] ")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
# Printed before the first log line that precedes absl's initialization.
_BEFORE_INIT = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
)


def level():
    """The `TF_CPP_MIN_LOG_LEVEL` in effect, set to 3 when unset; a value
    that is not a number shows everything, as in TensorFlow."""
    value = os.environ.setdefault(LEVEL_ENV, DEFAULT_LEVEL)
    return int(value) if value.isdigit() else 0


def hidden(line, min_level):
    """Whether `TF_CPP_MIN_LOG_LEVEL=min_level` hides this stderr line."""
    if line.rstrip("\n") == _BEFORE_INIT:
        return min_level >= 1  # it announces INFO lines
    return _LOG_LINE.match(line) is not None and _SEVERITY[line[0]] < min_level


def import_quietly(load):
    """Calls `load` (which imports TensorFlow) under `level()`, with what it
    writes to stderr (file descriptor 2) held back and passed on without the
    lines that level hides; every other line (Python warnings among them)
    is passed on in order.

    Returns:
        What `load` returns.
    """
    min_level = level()
    if min_level == 0:
        return load()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            return load()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            for line in held.read().decode(errors="replace").splitlines(keepends=True):
                if not hidden(line, min_level):
                    sys.stderr.write(line)
            sys.stderr.flush()
