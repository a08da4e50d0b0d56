"""The one exception type the CLI turns into a clean one-line error."""


class LabError(Exception):
    """Raise for a failure the user can act on; the message says what to do."""
