"""Logging in and out from the phone's own screen (XML browser).

The idle phone's Login key opens ``/screen/<device>/<token>/login``: a form
for extension and PIN, submitted back to the same URL; the PIN goes to the
auth service (lockout and audit live there, channel "phone-screen"). The
person at the phone has the PIN, so a login there takes the phone over if
someone else is still on it. The logged-in phone's Logout key opens the
logout page, which asks to confirm.
"""

import logging

import grpc
from aiohttp import web
from hotdesk.v1 import auth_pb2, binding_pb2

from services.kernel.logs import fields
from services.provision import metrics
from services.provision.context import CONTEXT, ProvisionContext
from services.provision.devices import DeviceRecord
from services.provision.vendors import vendor as vendor_named
from services.provision.vendors.base import Rendered, Vendor

log = logging.getLogger(__name__)

CHANNEL = "phone-screen"

_LOGIN_REFUSED = {
    binding_pb2.LOGIN_RESULT_UNKNOWN_USER: "Wrong extension or PIN.",
    binding_pb2.LOGIN_RESULT_NOT_HOTDESK_USER: "This extension may not log in at desk phones.",
    binding_pb2.LOGIN_RESULT_NOT_HOTDESK_DEVICE: "This phone is not a hot desk.",
    binding_pb2.LOGIN_RESULT_CROSS_TENANT_DENIED: "You may not log in at this phone.",
    binding_pb2.LOGIN_RESULT_ACTIVE_ELSEWHERE: "You are logged in at another phone. "
    "Log out there first.",
    binding_pb2.LOGIN_RESULT_UNKNOWN_DEVICE: "This phone is not known.",
}


def _reply(page: Rendered) -> web.Response:
    return web.Response(
        body=page.body, headers={"Content-Type": page.content_type, "Cache-Control": "no-store"}
    )


def _minutes(seconds: int) -> str:
    if seconds <= 0:
        return "until an administrator unlocks it"
    if seconds < 90:
        return f"in {seconds} seconds"
    return f"in {(seconds + 59) // 60} minutes"


async def _device_for(request: web.Request) -> tuple[ProvisionContext, DeviceRecord, Vendor]:
    ctx = request.app[CONTEXT]
    device_id, token = request.match_info["device"], request.match_info["token"]
    if not ctx.links.valid(device_id, token):
        log.warning("screen_bad_token", extra=fields(device=device_id, peer=request.remote))
        raise web.HTTPNotFound(text="not found\n")
    device = await ctx.devices.read(device_id, ctx.clock())
    if device is None:
        raise web.HTTPNotFound(text="not found\n")
    return ctx, device, vendor_named(device.vendor)


def _outcome(action: str, outcome: str, device: DeviceRecord, **extra: object) -> None:
    metrics.SCREEN_ACTIONS.labels(action, outcome).inc()
    log.info(f"screen_{action}", extra=fields(device=device.id, outcome=outcome, **extra))


async def login(request: web.Request) -> web.Response:
    ctx, device, vendor = await _device_for(request)
    here = ctx.links.page(device.id, "login")
    extension = request.query.get("ext", "").strip()
    pin = request.query.get("pin", "").strip()
    if not extension or not pin:
        return _reply(vendor.login_page(here, extension, None))
    if not extension.isdigit() or not pin.isdigit():
        return _reply(vendor.login_page(here, "", "Extension and PIN are digits."))
    try:
        answer = await ctx.auth.LoginWithPin(
            auth_pb2.LoginWithPinRequest(
                user=binding_pb2.UserRef(tenant=device.tenant.id, extension=extension),
                device_id=device.id,
                pin=pin,
                allow_takeover=True,
                channel=CHANNEL,
            ),
            timeout=ctx.rpc_timeout,
        )
    except grpc.aio.AioRpcError as exc:
        _outcome("login", "unavailable", device, error=exc.code().name)
        return _reply(vendor.message_page("Try again", "Login is unavailable. Try again."))
    return _reply(_login_result(vendor, here, device, extension, answer))


def _login_result(
    vendor: Vendor,
    here: str,
    device: DeviceRecord,
    extension: str,
    answer: auth_pb2.LoginWithPinResponse,
) -> Rendered:
    pin = answer.pin
    if pin.result in (
        auth_pb2.PIN_RESULT_WRONG_PIN,
        auth_pb2.PIN_RESULT_UNKNOWN_USER,
        auth_pb2.PIN_RESULT_NO_PIN,
    ):
        _outcome("login", "wrong_pin", device, extension=extension)
        return vendor.login_page(here, extension, "Wrong extension or PIN.")
    if pin.result in (auth_pb2.PIN_RESULT_BACKOFF, auth_pb2.PIN_RESULT_LOCKED):
        outcome = "locked" if pin.result == auth_pb2.PIN_RESULT_LOCKED else "backoff"
        _outcome("login", outcome, device, extension=extension)
        return vendor.message_page(
            "Too many attempts",
            f"Too many wrong PINs. Try again {_minutes(pin.retry_after_seconds)}.",
        )
    if pin.result != auth_pb2.PIN_RESULT_OK:
        _outcome("login", "refused", device, extension=extension)
        return vendor.message_page("Not logged in", "This phone cannot log you in.")
    result = answer.login.result
    if result in (binding_pb2.LOGIN_RESULT_LOGGED_IN, binding_pb2.LOGIN_RESULT_ALREADY_LOGGED_IN):
        b = answer.login.binding
        _outcome("login", "logged_in", device, extension=extension)
        return vendor.message_page(
            "Logged in", f"{b.display_name} ({b.extension}) is logged in. The phone updates now."
        )
    _outcome("login", binding_pb2.LoginResult.Name(result).lower(), device, extension=extension)
    return vendor.message_page("Not logged in", _LOGIN_REFUSED.get(result, "Login refused."))


async def logout(request: web.Request) -> web.Response:
    ctx, device, vendor = await _device_for(request)
    if device.user is None:
        return _reply(vendor.message_page("Logged out", "Nobody is logged in at this phone."))
    who = f"{device.user.name} ({device.user.extension})"
    if request.query.get("confirm") != "1":
        confirm = ctx.links.page(device.id, "logout") + "?confirm=1"
        return _reply(vendor.logout_page(confirm, who))
    try:
        answer = await ctx.binding.Logout(
            binding_pb2.LogoutRequest(
                device_id=device.id, reason=binding_pb2.CHANGE_REASON_LOGOUT, actor=CHANNEL
            ),
            timeout=ctx.rpc_timeout,
        )
    except grpc.aio.AioRpcError as exc:
        _outcome("logout", "unavailable", device, error=exc.code().name)
        return _reply(vendor.message_page("Try again", "Logout is unavailable. Try again."))
    _outcome("logout", binding_pb2.LogoutResult.Name(answer.result).lower(), device)
    return _reply(vendor.message_page("Logged out", f"{who} is logged out. The phone updates now."))
