"""The one exception type the CLI turns into a clean one-line error, and that one line."""


class LabError(Exception):
    """Raise for a failure the user can act on; the message says what to do."""


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (PostgreSQL's are several), or its repr if empty."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else repr(exc)
