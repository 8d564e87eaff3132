"""The PIN policy's error (the auth core raises the kernel's error types
otherwise; the interceptor chain answers each with its gRPC status)."""

from services.kernel.errors import InvalidArgument


class PinPolicyError(InvalidArgument):
    """The new PIN breaks the PIN policy (the message says which rule)."""
