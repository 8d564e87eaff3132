"""What the auth core raises; the gRPC layer maps each to a status code."""


class InvalidRequest(ValueError):
    """Malformed request (INVALID_ARGUMENT)."""


class PinPolicyError(ValueError):
    """The new PIN breaks the PIN policy (INVALID_ARGUMENT, with the reason)."""


class NotFound(LookupError):
    """No such user or device (NOT_FOUND)."""


class Unavailable(RuntimeError):
    """A service the auth service depends on did not answer (UNAVAILABLE)."""
