"""The one error type of the HTTP API: a status and a message the caller
reads (``{"error": "..."}``), and how gRPC answers of the services behind
map to it."""

import grpc

_BY_GRPC = {
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 503,
}


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def not_found(what: str) -> ApiError:
    """Also the answer for another tenant's object: its existence is not
    the operator's business (404, never 403)."""
    return ApiError(404, f"no {what}")


def from_grpc(service: str, exc: grpc.aio.AioRpcError) -> ApiError:
    """A service's refusal as the API's answer: unknown names 404, broken
    rules 400 with the service's reason, the service down 503; anything
    else is this deployment's fault (502)."""
    status = _BY_GRPC.get(exc.code(), 502)
    if status == 503:
        return ApiError(503, f"the {service} service is unavailable")
    if status == 502:
        return ApiError(502, f"the {service} service refused: {exc.code().name.lower()}")
    return ApiError(status, exc.details() or exc.code().name.lower())
