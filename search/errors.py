"""Errors a user can fix.

Everything raised as a :class:`CnnSearchError` is the user's to fix (a bad
value, a missing file), so the CLI prints it as one line and exits with
status 2 instead of showing a traceback. Anything else is a bug in us.
"""


#: The exit status of a worker that stopped a trial at its time limit: its process is to be replaced.
EXIT_HUNG = 3


class CnnSearchError(Exception):
    """A problem with the user's input; its message is shown as one line."""


class DataError(CnnSearchError):
    """The dataset files are missing, corrupted or cannot be fetched."""


class ConfigError(CnnSearchError):
    """A variant, hyperparameter, option or search-space value is not allowed."""


class StorageError(CnnSearchError):
    """The study's storage cannot be written or reached (a full disk, a read-only directory, a database
    that stayed down): the operator's to fix, after which the same command resumes."""
