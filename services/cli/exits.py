"""Exit codes of ``hotdesk``, and the exception a command stops with."""

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    REFUSED = 1  # the request was understood and the answer was no
    INVALID = 2  # bad usage, an invalid file, or a name that names nothing
    UNAVAILABLE = 3  # a service or Redis did not answer


class Failure(Exception):
    """Stops a command: ``main`` prints the message and exits with ``code``."""

    def __init__(self, message: str, code: Exit) -> None:
        super().__init__(message)
        self.code = code
