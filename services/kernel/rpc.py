"""The interceptor chain every gRPC server runs, in order: authentication
(the peer's certificate, see ``identity``), authorization (the service's
policy: which roles may call each method; a method the policy does not name
is refused), error mapping (a ``ServiceError`` answers its status, Redis and
OS errors UNAVAILABLE, anything else INTERNAL and a logged traceback), and
one metric and log line per call.

Health checking and reflection have no policy: any caller with a valid
certificate may use them (TLS itself is the gate).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

import grpc
from prometheus_client import Counter, Histogram
from redis.exceptions import RedisError

from services.kernel import correlation
from services.kernel.errors import ServiceError
from services.kernel.identity import has_role, peer_identity
from services.kernel.logs import fields

if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]
    Handler = grpc.RpcMethodHandler[Any, Any]

log = logging.getLogger(__name__)

# Method name (``Login``) -> the roles that may call it.
Policy = Mapping[str, frozenset[str]]

HANDLED = Counter(
    "hotdesk_grpc_server_handled_total",
    "gRPC calls answered, by method and status code",
    ["grpc_service", "grpc_method", "grpc_code"],
)
HANDLING_SECONDS = Histogram(
    "hotdesk_grpc_server_handling_seconds",
    "Time to answer a gRPC call, by method",
    ["grpc_service", "grpc_method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
DENIED = Counter(
    "hotdesk_grpc_server_denied_total",
    "gRPC calls refused because the caller's identity may not make them",
    ["grpc_service", "grpc_method", "caller"],
)

Behaviour = Callable[[Any, "Context"], Awaitable[Any]]


class ServerChain(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """``policies``: full service name (``hotdesk.v1.BindingService``) ->
    its Policy."""

    def __init__(self, policies: Mapping[str, Policy]) -> None:
        self._policies = policies

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        service, _, method = handler_call_details.method.lstrip("/").partition("/")
        policy = self._policies.get(service)
        if handler is None or policy is None or handler.unary_unary is None:
            return handler
        # An async server's handlers are coroutine functions (the stub types
        # them as plain callables).
        inner = cast(Behaviour, handler.unary_unary)
        wrapped = _guarded(service, method, policy.get(method, frozenset()), inner)
        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _guarded(service: str, method: str, roles: frozenset[str], inner: Behaviour) -> Behaviour:
    seconds = HANDLING_SECONDS.labels(service, method)

    async def behaviour(request: Any, context: Context) -> Any:
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        correlation.adopt(correlation.from_metadata(context.invocation_metadata()))
        try:
            identity = peer_identity(context)
            if not any(has_role(identity, role) for role in roles):
                code = grpc.StatusCode.PERMISSION_DENIED
                DENIED.labels(service, method, identity or "anonymous").inc()
                log.warning(
                    "rpc_denied", extra=fields(method=f"{service}/{method}", caller=identity)
                )
                await context.abort(code, f"{identity or 'this caller'} may not call {method}")
            return await inner(request, context)
        except grpc.aio.AbortError:
            if code == grpc.StatusCode.OK:
                code = context.code() or grpc.StatusCode.UNKNOWN
            raise
        except ServiceError as exc:
            code = exc.status
            await context.abort(code, str(exc))
        except (RedisError, OSError) as exc:
            code = grpc.StatusCode.UNAVAILABLE
            await context.abort(code, f"redis: {exc}")
        except Exception:
            code = grpc.StatusCode.INTERNAL
            log.exception("rpc_failed", extra=fields(method=f"{service}/{method}"))
            await context.abort(code, "internal error")
        finally:
            seconds.observe(time.perf_counter() - started)
            HANDLED.labels(service, method, code.name).inc()

    return behaviour
