"""Version folders `<base>/<integer>/`, as TF Serving discovers them.

TF Serving polls the base folder and loads any child whose name is an
integer. A version is therefore written under a hidden, non-integer name
in the same folder and renamed into place in one step: a server never sees
a half-written model, and an interrupted export leaves no version behind.
"""

import contextlib
import errno
import os
import pathlib
import shutil
import uuid

TEMPORARY_PREFIX = ".tmp-export-"


def numbered(base):
    """The entries of `base` named by an integer, folders or not."""
    base = pathlib.Path(base)
    if not base.is_dir():
        return []
    return [p for p in base.iterdir() if p.name.isdigit()]


def versions(base):
    """The integer versions present in `base`, sorted."""
    return sorted(int(p.name) for p in numbered(base) if p.is_dir())


def next_version(base):
    """One more than the largest version in `base`, or 1."""
    existing = versions(base)
    return existing[-1] + 1 if existing else 1


@contextlib.contextmanager
def staging_folder(base):
    """Yields an empty hidden folder inside `base`; removes it on any error,
    including KeyboardInterrupt."""
    base = pathlib.Path(base)
    base.mkdir(parents=True, exist_ok=True)
    folder = base / f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}"
    folder.mkdir()  # default permissions, so a server running as another user can read it
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def publish(folder, base, version=None):
    """Renames the finished `folder` to `base/<version>` and returns that path.

    With `version=None` the next free version is taken; if another export
    takes it first, the one after that.
    """
    base = pathlib.Path(base)
    while True:
        number = next_version(base) if version is None else version
        target = base / str(number)
        try:
            os.rename(folder, target)
            return target
        except OSError as error:
            # Renaming onto a non-empty folder fails: someone else got there first.
            if version is not None or error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
