"""Exceptions that snakeyard raises for user mistakes and broken data.

Every error a user can cause derives from :class:`SnakeyardError`; the command line
prints its message as one line and exits non-zero, without a traceback.
"""

import errno

# what the user can do about the filesystem errors a stage meets
OS_ERROR_HINTS = {
    errno.ENOSPC: "the disk is full: free space there and run again",
    errno.EDQUOT: "the disk quota is used up: free space there and run again",
    errno.EROFS: "the filesystem is read-only: choose a registry (or datastore) that takes writes",
    errno.EACCES: "no permission: choose a folder this user can write, or ask for access",
    errno.EPERM: "no permission: choose a folder this user can write, or ask for access",
}


class SnakeyardError(Exception):
    """A problem the user can fix: bad input, unknown name, damaged registry."""


class NotFoundError(SnakeyardError, LookupError):
    """A model, data set, environment, run or version that does not exist."""


class InvalidNameError(SnakeyardError, ValueError):
    """A name that cannot be used for a registry entry."""


class IntegrityError(SnakeyardError):
    """Stored bytes whose sha256 no longer matches the one recorded."""


class MetadataError(SnakeyardError, ValueError):
    """A metadata or receipt file that cannot be read as JSON."""


class ConfigError(SnakeyardError, ValueError):
    """A workflow configuration that does not describe a runnable experiment."""


def describe_os_error(error: OSError) -> str:
    """One line for a filesystem error: what happened, to which path, what to do."""
    path = error.filename
    if error.filename2 is not None and error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        path = error.filename2  # a copy (shutil) names its source first: the target is full
    where = f": {path}" if path is not None else ""
    hint = OS_ERROR_HINTS.get(error.errno)
    return f"{error.strerror or error}{where}" + (f" ({hint})" if hint else "")


class FrameworkVersionWarning(UserWarning):
    """A model loaded with another version of its framework than it was trained with."""
