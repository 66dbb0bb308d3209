"""The one exception type for mistakes a user can fix (bad paths, bad arguments, bad files).

Front ends print its message as one line and exit with status 2, without a traceback.
"""

__all__ = ["UserError"]


class UserError(Exception):
    """A problem with the user's input: the message says what was wrong and what was expected."""
