"""One error model for every service: what a core raises carries the gRPC
status its caller gets (the interceptor chain in ``rpc`` maps it), with a
message for the caller. Redis and OS errors map to UNAVAILABLE there too;
anything else is INTERNAL and logged."""

from typing import ClassVar

import grpc


class ServiceError(Exception):
    """An answer other than success; ``str(error)`` is what the caller reads."""

    status: ClassVar[grpc.StatusCode] = grpc.StatusCode.INTERNAL


class InvalidArgument(ServiceError):
    """The request itself is malformed or breaks a rule."""

    status = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(ServiceError):
    """What the request names does not exist."""

    status = grpc.StatusCode.NOT_FOUND


class Unavailable(ServiceError):
    """Something this service depends on did not answer (worth a retry)."""

    status = grpc.StatusCode.UNAVAILABLE


class PermissionDenied(ServiceError):
    """The caller's identity may not do this."""

    status = grpc.StatusCode.PERMISSION_DENIED


class MissingConfiguration(RuntimeError):
    """A process cannot run as configured (a key or certificate it needs is
    not there): it says which and exits at start, before serving anything."""
