"""Users: the list, one user, forced logout wherever they are, unlock
(PIN lockouts), and a PIN reset under the PIN policy."""

import itertools

from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import binding_pb2 as bpb

from services.admin.actions import audited, remote
from services.admin.device_api import logout_outcome
from services.admin.errors import not_found
from services.admin.models import (
    LogoutOutcome,
    PinBody,
    UnlockBody,
    UnlockOutcome,
    UserPage,
    UserPath,
    UserQuery,
    UserRow,
)
from services.admin.operators import Action
from services.admin.routes import Call, Route
from services.kernel import keys


async def _hotdesk_user(call: Call, q: UserQuery, hotdesk_id: str) -> UserPage:
    """The one user of a global hot-desk id, if one of the operator's (and
    of ``tenant`` if given)."""
    ref = await call.context.redis.hget(keys.DIR_HOTDESK_IDS, hotdesk_id)
    tenant, _, extension = (ref or "").partition("/")
    mine = call.context.directory.has_user(call.who, tenant, extension)
    if not mine or q.tenant not in (None, tenant):
        return UserPage(items=[], next_cursor=None)
    return UserPage(items=await call.context.directory.user_rows([ref]), next_cursor=None)


async def list_users(call: Call) -> UserPage:
    q = call.query_as(UserQuery)
    if q.hotdesk_id is not None:
        return await _hotdesk_user(call, q, q.hotdesk_id)
    d = call.context.directory
    tenants = d.tenants_of(call.who, q.tenant)
    ids = d.user_ids(tenants, q.cursor, "")
    if q.extension:
        wanted = q.extension
        ids = (u for u in ids if u.split("/", 1)[1].startswith(wanted))
    page = list(itertools.islice(ids, q.limit))
    rows = await d.user_rows(page)
    cursor = page[-1] if len(page) == q.limit else None
    return UserPage(items=rows, next_cursor=cursor)


def _user(call: Call) -> UserPath:
    """The user named in the path; 404 if not one of the operator's."""
    return checked_user(call, call.path_as(UserPath))


def checked_user(call: Call, user: UserPath) -> UserPath:
    """``user``; 404 if not one of the operator's."""
    if not call.context.directory.has_user(call.who, user.tenant, user.extension):
        raise not_found(f"user {user.tenant}/{user.extension}")
    return user


def _ref(user: UserPath) -> bpb.UserRef:
    return bpb.UserRef(tenant=user.tenant, extension=user.extension)


async def get_user(call: Call) -> UserRow:
    user = _user(call)
    (row,) = await call.context.directory.user_rows([f"{user.tenant}/{user.extension}"])
    return row


async def logout_user(call: Call) -> LogoutOutcome:
    user = _user(call)
    reply = await remote(
        "binding",
        call.context.binding.Logout(
            bpb.LogoutRequest(
                user=_ref(user), reason=bpb.CHANGE_REASON_OPERATOR, actor=call.who.name
            ),
            timeout=call.context.rpc_timeout,
        ),
    )
    return await logout_outcome(call, reply, user.tenant, user=f"{user.tenant}/{user.extension}")


async def unlock_user(call: Call) -> UnlockOutcome:
    user = _user(call)
    device_id = call.body_as(UnlockBody).device_id or ""
    if device_id and call.context.directory.device_tenant(call.who, device_id) is None:
        raise not_found(f"device {device_id}")
    reply = await remote(
        "auth",
        call.context.auth.Unlock(
            apb.UnlockRequest(user=_ref(user), device_id=device_id, actor=call.who.name),
            timeout=call.context.rpc_timeout,
        ),
    )
    await audited(
        call.context,
        call.who,
        "admin_unlock",
        user.tenant,
        user=f"{user.tenant}/{user.extension}",
        device=device_id,
        cleared=reply.cleared,
    )
    return UnlockOutcome(cleared=reply.cleared)


async def set_pin(call: Call) -> None:
    user = _user(call)
    pin = call.body_as(PinBody).pin
    await remote(
        "auth",
        call.context.auth.SetPin(
            apb.SetPinRequest(user=_ref(user), pin=pin, actor=call.who.name),
            timeout=call.context.rpc_timeout,
        ),
    )
    await audited(
        call.context,
        call.who,
        "admin_pin_reset",
        user.tenant,
        user=f"{user.tenant}/{user.extension}",
    )


ROUTES = [
    Route(
        "GET",
        "/users",
        list_users,
        "Users and the device each is on",
        "users",
        Action.READ,
        UserPage,
        query=UserQuery,
    ),
    Route(
        "GET",
        "/users/{tenant}/{extension}",
        get_user,
        "A user",
        "users",
        Action.READ,
        UserRow,
        path_model=UserPath,
    ),
    Route(
        "POST",
        "/users/{tenant}/{extension}/logout",
        logout_user,
        "Force the user out wherever they are",
        "users",
        Action.LOGOUT,
        LogoutOutcome,
        path_model=UserPath,
        remote=True,
    ),
    Route(
        "POST",
        "/users/{tenant}/{extension}/unlock",
        unlock_user,
        "Clear the user's PIN lockouts (on one device, or everywhere)",
        "users",
        Action.UNLOCK,
        UnlockOutcome,
        path_model=UserPath,
        body=UnlockBody,
        remote=True,
    ),
    Route(
        "PUT",
        "/users/{tenant}/{extension}/pin",
        set_pin,
        "Set the user's PIN (the PIN policy applies)",
        "users",
        Action.SET_PIN,
        path_model=UserPath,
        body=PinBody,
        remote=True,
    ),
]
