"""Exceptions that snakeyard raises for user mistakes and broken data.

Every error a user can cause derives from :class:`SnakeyardError`; the command line
prints its message as one line and exits non-zero, without a traceback.
"""


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
