"""One correlation id per call or request, in every component's log lines.

A SIP call's id is its Call-ID: Kamailio logs it (its JSON log engine's
``callid``), sends it to the binding service's lookup as
``X-Correlation-ID``, and the voice menu takes it for everything it does in
the call. gRPC carries it as metadata ``x-correlation-id`` from service to
service; a request that comes without one gets a new id. Log lines show it
as ``correlation_id`` (``services.kernel.logs``).
"""

import contextvars
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

METADATA_KEY = "x-correlation-id"
HTTP_HEADER = "X-Correlation-ID"
# What is taken from outside: printable, no spaces, bounded.
_VALID = re.compile(r"^[!-~]{1,128}$")

current: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")


def adopt(given: str | None) -> str:
    """Make ``given`` (if it is a valid id), or a new id, the current one
    for the rest of this task; returns it."""
    value = given if given is not None and _VALID.match(given) else secrets.token_hex(8)
    current.set(value)
    return value


def from_metadata(metadata: Any) -> str | None:
    for key, value in metadata or ():
        if key == METADATA_KEY:
            return str(value)
    return None


class ClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    """Adds the current correlation id to every outgoing unary call."""

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        value = current.get()
        if value:
            metadata = grpc.aio.Metadata(*(client_call_details.metadata or ()))
            metadata.add(METADATA_KEY, value)
            client_call_details = grpc.aio.ClientCallDetails(
                client_call_details.method,
                client_call_details.timeout,
                metadata,
                client_call_details.credentials,
                client_call_details.wait_for_ready,
            )
        return await continuation(client_call_details, request)
