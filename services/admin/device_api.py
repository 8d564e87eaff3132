"""Devices and who is on each: the board, one device with its
provisioning state, forced logout, login on a user's behalf, resync."""

import itertools

from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import binding_pb2 as bpb
from hotdesk.v1 import provision_pb2 as ppb

from services.admin.actions import audited, remote
from services.admin.errors import not_found
from services.admin.models import (
    DeviceDetail,
    DevicePage,
    DevicePath,
    DeviceQuery,
    DeviceRow,
    LoginBody,
    LoginOutcome,
    LogoutOutcome,
    Provisioning,
    ResyncOutcome,
    SessionView,
    UnlockOutcome,
)
from services.admin.operators import Action
from services.admin.routes import Call, Route

# Ids read per round when a filter (state) may drop rows.
_SCAN = 200


def enum_name(value: str, prefix: str) -> str:
    """``LOGIN_RESULT_LOGGED_IN`` -> ``logged_in``."""
    return value.removeprefix(prefix).lower()


def session_view(b: bpb.Binding) -> SessionView:
    return SessionView(
        tenant=b.tenant,
        extension=b.extension,
        name=b.display_name,
        since_unix_ms=b.since_unix_ms,
        expires_unix_ms=b.expires_unix_ms,
    )


def _state_matches(row: DeviceRow, state: str | None) -> bool:
    return state is None or (row.session is not None) == (state == "bound")


async def _one_users_device(call: Call, q: DeviceQuery) -> DevicePage:
    d = call.context.directory
    assert q.user is not None
    tenant, extension = q.user.split("/", 1)
    device = (
        await d.device_of_user(tenant, extension)
        if d.has_user(call.who, tenant, extension)
        else None
    )
    if device is None or d.device_tenant(call.who, device) is None:
        return DevicePage(items=[], next_cursor=None)
    wanted = (
        (q.tenant is None or d.device_tenants[device] == q.tenant)
        and device.startswith(q.device or "")
        and (q.cursor is None or device > q.cursor)
    )
    rows = await d.device_rows([device]) if wanted else []
    return DevicePage(items=[r for r in rows if _state_matches(r, q.state)], next_cursor=None)


async def list_devices(call: Call) -> DevicePage:
    q = call.query_as(DeviceQuery)
    if q.user is not None:
        return await _one_users_device(call, q)
    d = call.context.directory
    ids = d.device_ids(d.tenants_of(call.who, q.tenant), q.cursor, q.device or "")
    items: list[DeviceRow] = []
    while chunk := list(itertools.islice(ids, q.limit if q.state is None else _SCAN)):
        for row in await d.device_rows(chunk):
            if _state_matches(row, q.state):
                items.append(row)
                if len(items) == q.limit:
                    return DevicePage(items=items, next_cursor=row.device_id)
    return DevicePage(items=items, next_cursor=None)


def _device(call: Call) -> tuple[str, str]:
    """The device named in the path and its tenant; 404 if not the operator's."""
    device_id = call.path_as(DevicePath).device_id
    tenant = call.context.directory.device_tenant(call.who, device_id)
    if tenant is None:
        raise not_found(f"device {device_id}")
    return device_id, tenant


async def get_device(call: Call) -> DeviceDetail:
    device_id, _ = _device(call)
    rows = await call.context.directory.device_rows([device_id])
    if not rows:
        raise not_found(f"device {device_id}")
    return DeviceDetail(device=rows[0], provisioning=await provisioning_of(call, device_id))


async def provisioning_of(call: Call, device_id: str) -> Provisioning | None:
    """What the provision service knows of the device's files (None: nothing yet)."""
    reply = await remote(
        "provision",
        call.context.provision.GetDeviceProvisioning(
            ppb.DeviceProvisioningRequest(device_id=device_id), timeout=call.context.rpc_timeout
        ),
    )
    provisioning = None
    for p in reply.devices:
        provisioning = Provisioning(
            provisioned=p.provisioned,
            generation=p.generation,
            fetched_generation=p.fetched_generation,
            fetched_unix_ms=p.fetched_unix_ms,
            pushed_generation=p.pushed_generation,
            pushed_unix_ms=p.pushed_unix_ms,
            push_result=enum_name(ppb.PushResult.Name(p.push_result), "PUSH_RESULT_"),
        )
    return provisioning


async def logout_device(call: Call) -> LogoutOutcome:
    device_id, tenant = _device(call)
    reply = await remote(
        "binding",
        call.context.binding.Logout(
            bpb.LogoutRequest(
                device_id=device_id, reason=bpb.CHANGE_REASON_OPERATOR, actor=call.who.name
            ),
            timeout=call.context.rpc_timeout,
        ),
    )
    return await logout_outcome(call, reply, tenant, device=device_id)


async def logout_outcome(
    call: Call, reply: bpb.LogoutResponse, tenant: str, **details: str
) -> LogoutOutcome:
    """A Logout's answer, audited."""
    if reply.result == bpb.LOGOUT_RESULT_LOGGED_OUT:
        ended = reply.ended
        outcome = LogoutOutcome(
            result="logged_out", ended=session_view(ended), device=ended.device_id
        )
    else:
        outcome = LogoutOutcome(result="not_logged_in", ended=None)
    await audited(call.context, call.who, "admin_logout", tenant, result=outcome.result, **details)
    return outcome


async def login_user(call: Call) -> LoginOutcome:
    device_id, tenant = _device(call)
    body = call.body_as(LoginBody)
    if not call.context.directory.has_user(call.who, body.tenant, body.extension):
        raise not_found(f"user {body.tenant}/{body.extension}")
    reply = await remote(
        "binding",
        call.context.binding.Login(
            bpb.LoginRequest(
                device_id=device_id,
                user=bpb.UserRef(tenant=body.tenant, extension=body.extension),
                allow_takeover=body.takeover,
                actor=call.who.name,
            ),
            timeout=call.context.rpc_timeout,
        ),
    )
    result = enum_name(bpb.LoginResult.Name(reply.result), "LOGIN_RESULT_")
    await audited(
        call.context,
        call.who,
        "admin_login",
        tenant,
        device=device_id,
        user=f"{body.tenant}/{body.extension}",
        result=result,
    )
    session = session_view(reply.binding) if reply.HasField("binding") else None
    return LoginOutcome(result=result, session=session)


async def unlock_device(call: Call) -> UnlockOutcome:
    """Clears the device's own PIN lockout counters (every user's on it)."""
    device_id, tenant = _device(call)
    reply = await remote(
        "auth",
        call.context.auth.Unlock(
            apb.UnlockRequest(device_id=device_id, actor=call.who.name),
            timeout=call.context.rpc_timeout,
        ),
    )
    await audited(
        call.context, call.who, "admin_unlock", tenant, device=device_id, cleared=reply.cleared
    )
    return UnlockOutcome(cleared=reply.cleared)


async def resync_device(call: Call) -> ResyncOutcome:
    device_id, tenant = _device(call)
    reply = await remote(
        "provision",
        call.context.provision.Resync(
            ppb.ResyncRequest(device_id=device_id, actor=call.who.name),
            timeout=call.context.rpc_timeout,
        ),
    )
    result = enum_name(ppb.PushResult.Name(reply.result), "PUSH_RESULT_")
    await audited(call.context, call.who, "admin_resync", tenant, device=device_id, result=result)
    return ResyncOutcome(result=result)


ROUTES = [
    Route(
        "GET",
        "/devices",
        list_devices,
        "Devices and who is on each (the board)",
        "devices",
        Action.READ,
        DevicePage,
        query=DeviceQuery,
    ),
    Route(
        "GET",
        "/devices/{device_id}",
        get_device,
        "A device, who is on it, its provisioning",
        "devices",
        Action.READ,
        DeviceDetail,
        path_model=DevicePath,
        remote=True,
    ),
    Route(
        "POST",
        "/devices/{device_id}/logout",
        logout_device,
        "Force whoever is on it out",
        "devices",
        Action.LOGOUT,
        LogoutOutcome,
        path_model=DevicePath,
        remote=True,
    ),
    Route(
        "POST",
        "/devices/{device_id}/login",
        login_user,
        "Log a user in on their behalf",
        "devices",
        Action.LOGIN,
        LoginOutcome,
        path_model=DevicePath,
        body=LoginBody,
        remote=True,
    ),
    Route(
        "POST",
        "/devices/{device_id}/unlock",
        unlock_device,
        "Clear the device's PIN lockouts",
        "devices",
        Action.UNLOCK,
        UnlockOutcome,
        path_model=DevicePath,
        remote=True,
    ),
    Route(
        "POST",
        "/devices/{device_id}/resync",
        resync_device,
        "Tell the phone to resync",
        "devices",
        Action.RESYNC,
        ResyncOutcome,
        path_model=DevicePath,
        remote=True,
    ),
]
