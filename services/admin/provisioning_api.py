"""The phones' provisioning, a page at a time: each device of the
operator's tenants with who is on it and what the provision service knows
of its files (provisioned or pending, last fetch, last push and outcome)."""

import asyncio
import itertools

from services.admin.device_api import provisioning_of
from services.admin.models import DeviceDetail, ProvisioningPage, ProvisioningQuery
from services.admin.operators import Action
from services.admin.routes import Call, Route


async def list_provisioning(call: Call) -> ProvisioningPage:
    q = call.query_as(ProvisioningQuery)
    d = call.context.directory
    ids = d.device_ids(d.tenants_of(call.who, q.tenant), q.cursor, q.device or "")
    page = list(itertools.islice(ids, q.limit))
    rows = await d.device_rows(page)
    found = await asyncio.gather(*(provisioning_of(call, r.device_id) for r in rows))
    return ProvisioningPage(
        items=[DeviceDetail(device=r, provisioning=p) for r, p in zip(rows, found, strict=True)],
        next_cursor=page[-1] if len(page) == q.limit else None,
    )


ROUTES = [
    Route(
        "GET",
        "/provisioning",
        list_provisioning,
        "Devices with their provisioning (provisioned or pending, fetch, push), paged",
        "devices",
        Action.READ,
        ProvisioningPage,
        query=ProvisioningQuery,
        remote=True,
    ),
]
