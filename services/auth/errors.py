"""What the auth core raises: the kernel's error types (the interceptor
chain answers each with its gRPC status), and the PIN policy's own."""

from services.kernel.errors import InvalidArgument, NotFound, Unavailable

__all__ = ["InvalidArgument", "InvalidRequest", "NotFound", "PinPolicyError", "Unavailable"]

InvalidRequest = InvalidArgument


class PinPolicyError(InvalidArgument):
    """The new PIN breaks the PIN policy (the message says which rule)."""
