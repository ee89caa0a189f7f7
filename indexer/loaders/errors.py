"""The one error a loader raises: a readable reason to skip a file."""


class LoadError(Exception):
    """A file that cannot be indexed; the message is shown to the user as the skip reason."""
