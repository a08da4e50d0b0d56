"""The one exception type the CLI turns into a clean one-line error, and that one line."""


class LabError(Exception):
    """Raise for a failure the user can act on; the message says what to do."""


def first_line(problem: BaseException | str) -> str:
    """The first line of an error or its message (PostgreSQL's are several); for an
    exception with an empty message, its repr."""
    text = str(problem).strip()
    if text:
        return text.splitlines()[0]
    return repr(problem) if isinstance(problem, BaseException) else ""
