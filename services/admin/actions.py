"""What every operator action shares: the gRPC call made for the operator
(refusals mapped to the API's errors) and its line in the audit trail."""

from collections.abc import Awaitable
from typing import TypeVar

import grpc

from services.admin.context import AdminContext
from services.admin.errors import from_grpc
from services.admin.operators import Operator
from services.kernel import keys
from services.kernel.identity import ADMIN

T = TypeVar("T")


def actor(operator: Operator) -> str:
    """Who acted, as the services behind record it (``kernel.identity.actor``)."""
    return f"{ADMIN}/{operator.name}"


async def remote(service: str, call: Awaitable[T]) -> T:
    """A call to a service behind; its refusal as the API's error."""
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        raise from_grpc(service, exc) from None


async def audited(
    context: AdminContext,
    operator: Operator,
    event: str,
    tenant: str | None,
    **details: str | int,
) -> None:
    """Record an action in the tenant's audit stream (the admin service's
    own for actions about no tenant: sign-ins, tokens)."""
    group = keys.ADMIN_GROUP
    if tenant is not None:
        config = context.tenants.by_id.get(tenant)
        group = config.group if config is not None else keys.ADMIN_GROUP
    await context.audit.record(group, event, actor=actor(operator), tenant=tenant or "", **details)
