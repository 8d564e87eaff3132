"""Calling a service over gRPC, with gRPC errors turned into ``Failure``s
that say which service, at which address, and what exit code they mean."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import grpc

from services.cli.exits import Exit, Failure
from services.cli.settings import CliSettings
from services.kernel.identity import MissingIdentity, secure_channel

_INVALID = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)


@dataclass(frozen=True)
class Service:
    name: str  # "binding service"
    address: str
    timeout: float  # deadline of each call, seconds
    settings: CliSettings  # the operator's certificate


def binding(settings: CliSettings) -> Service:
    return Service("binding service", settings.binding_address, settings.timeout_seconds, settings)


def auth(settings: CliSettings) -> Service:
    return Service("auth service", settings.auth_address, settings.timeout_seconds, settings)


def provision(settings: CliSettings) -> Service:
    return Service(
        "provision service", settings.provision_address, settings.timeout_seconds, settings
    )


def failure(service: Service, exc: grpc.aio.AioRpcError) -> Failure:
    code, details = exc.code(), exc.details() or ""
    if code == grpc.StatusCode.UNAVAILABLE:
        return Failure(
            f"the {service.name} at {service.address} is unavailable: {details}", Exit.UNAVAILABLE
        )
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return Failure(
            f"the {service.name} at {service.address} did not answer within {service.timeout:g} s",
            Exit.UNAVAILABLE,
        )
    if code in _INVALID:
        return Failure(f"{service.name}: {details}", Exit.INVALID)
    if code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED):
        return Failure(f"{service.name} refused: {details}", Exit.REFUSED)
    return Failure(f"{service.name}: {code.name.lower()}: {details}", Exit.REFUSED)


@asynccontextmanager
async def channel(service: Service) -> AsyncIterator[grpc.aio.Channel]:
    """A channel to the service with the operator's certificate."""
    try:
        secure = secure_channel(service.address, service.settings, "hotdesk")
    except (MissingIdentity, OSError) as exc:
        raise Failure(f"no operator certificate: {exc}", Exit.INVALID) from exc
    async with secure as ch:
        try:
            yield ch
        except grpc.aio.AioRpcError as exc:
            raise failure(service, exc) from exc
