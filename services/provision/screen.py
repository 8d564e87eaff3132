"""Logging in and out from the phone's own screen (XML browser).

The idle phone's Login key opens ``/screen/<device>/<token>/login`` (GET): a
form for the user's name and PIN, posted back to the same URL. The name is
what ``DirectoryLookup.login_name`` resolves: the extension, a DID or
caller-ID number, or a hot-desk id (a user of another tenant of the group);
a name that fits two users is refused with a screen saying so; the PIN goes to the
auth service (lockout and audit live there, channel "phone-screen"). The PIN
is taken only from a POST's body: a PIN in a query string (kept by proxies
and logs) is refused. The person at the phone has the PIN, so a login there
takes the phone over if someone else is still on it. The logged-in phone's
Logout key opens the logout page, which asks for the user's PIN when the
device's tenant says ``logout_asks_pin`` (else only to confirm).

The token (``services.provision.links``) must be this service's, for this
device, of the device's current binding generation and not expired; a stale
or expired one gets a screen saying so (the phone's next file brings a
fresh one).
"""

import logging
import re
from dataclasses import dataclass

import grpc
from aiohttp import web
from hotdesk.v1 import auth_pb2, binding_pb2

from services.kernel.logs import fields
from services.kernel.lookup import AmbiguousLoginName
from services.provision import metrics
from services.provision.context import CONTEXT, ProvisionContext
from services.provision.devices import DeviceRecord
from services.provision.phone import LoggedInUser
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
# What may be typed as the user: digits, "+" and the characters of a
# hot-desk id (the directory's rule for ids is stricter).
_LOGIN_NAME = re.compile(r"[A-Za-z0-9+._-]{1,64}")
_WRONG_PIN = (
    auth_pb2.PIN_RESULT_WRONG_PIN,
    auth_pb2.PIN_RESULT_UNKNOWN_USER,
    auth_pb2.PIN_RESULT_NO_PIN,
)
_TOO_MANY = (auth_pb2.PIN_RESULT_BACKOFF, auth_pb2.PIN_RESULT_LOCKED)


@dataclass(frozen=True)
class _Screen:
    """A checked phone-screen request: its device and that device's vendor."""

    ctx: ProvisionContext
    device: DeviceRecord
    vendor: Vendor

    def url(self, page: str) -> str:
        """This page's URL with a fresh token (the device's generation now)."""
        return self.ctx.links.page(self.device.id, self.device.generation, self.ctx.clock(), page)


def _reply(page: Rendered, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=page.body,
        headers={"Content-Type": page.content_type, "Cache-Control": "no-store"},
    )


def _minutes(seconds: int) -> str:
    if seconds <= 0:
        return "until an administrator unlocks it"
    if seconds < 90:
        return f"in {seconds} seconds"
    return f"in {(seconds + 59) // 60} minutes"


def _outcome(action: str, outcome: str, device: DeviceRecord, **extra: object) -> None:
    metrics.SCREEN_ACTIONS.labels(action, outcome).inc()
    log.info(f"screen_{action}", extra=fields(device=device.id, outcome=outcome, **extra))


async def _screen(request: web.Request, action: str) -> _Screen | web.Response:
    """The device of a genuine, current token; else the answer to give."""
    ctx = request.app[CONTEXT]
    device_id, token = request.match_info["device"], request.match_info["token"]
    claims = ctx.links.verify(device_id, token)
    if claims is None:
        log.warning("screen_bad_token", extra=fields(device=device_id, peer=request.remote))
        raise web.HTTPNotFound(text="not found\n")
    device = await ctx.devices.read(device_id, ctx.clock())
    if device is None:
        raise web.HTTPNotFound(text="not found\n")
    vendor = vendor_named(device.vendor)
    if "pin" in request.query:
        # It travelled in a URL: nothing is done with it.
        _outcome(action, "pin_in_query", device)
        return _reply(
            vendor.message_page("Not done", "The PIN must not be sent in the address."),
            status=400,
        )
    if not vendor.screen_forms:  # a link from before its files stopped naming these pages
        _outcome(action, "no_forms", device)
        return _reply(
            vendor.message_page("Please wait", "The phone updates its Login and Logout keys now.")
        )
    # A page shows only with a 200 on the phones' browsers: refusals are
    # screens that say what to do.
    if claims.expires_s * 1000 <= ctx.clock():
        _outcome(action, "expired_token", device)
        return _reply(
            vendor.message_page("Please wait", "This key has expired. The phone updates it soon.")
        )
    if claims.generation != device.generation:
        _outcome(action, "stale_token", device, token_generation=claims.generation)
        return _reply(
            vendor.message_page(
                "Please wait", "Someone logged in or out here since. The phone updates now."
            )
        )
    return _Screen(ctx, device, vendor)


async def _form(request: web.Request) -> dict[str, str]:
    """The text fields of a POSTed form ({} for a GET)."""
    if request.method != "POST":
        return {}
    posted = await request.post()
    return {name: value.strip() for name, value in posted.items() if isinstance(value, str)}


async def login(request: web.Request) -> web.Response:
    screen = await _screen(request, "login")
    if isinstance(screen, web.Response):
        return screen
    ctx, device, vendor = screen.ctx, screen.device, screen.vendor
    here = screen.url("login")
    form = await _form(request)
    typed, pin = form.get("ext", ""), form.get("pin", "")
    if not typed or not pin:
        return _reply(vendor.login_page(here, typed, None))
    if not pin.isdigit() or not _LOGIN_NAME.fullmatch(typed):
        return _reply(vendor.login_page(here, "", "Enter your extension, number or ID, and PIN."))
    try:
        user = await ctx.lookup.login_name(device.tenant.id, typed)
    except AmbiguousLoginName:
        _outcome("login", "ambiguous", device)
        return _reply(
            vendor.login_page(
                here, "", "This number belongs to more than one user. Use your extension."
            )
        )
    # A name of nobody goes as typed: the auth service refuses it as an
    # unknown user, as slowly as a wrong PIN.
    ref = (
        binding_pb2.UserRef(tenant=device.tenant.id, extension=typed)
        if user is None
        else binding_pb2.UserRef(tenant=user.tenant.id, extension=user.extension)
    )
    extension = ref.extension
    try:
        answer = await ctx.auth.LoginWithPin(
            auth_pb2.LoginWithPinRequest(
                user=ref,
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


def _too_many(action: str, device: DeviceRecord, pin: auth_pb2.VerifyPinResponse) -> str:
    outcome = "locked" if pin.result == auth_pb2.PIN_RESULT_LOCKED else "backoff"
    _outcome(action, outcome, device)
    return f"Too many wrong PINs. Try again {_minutes(pin.retry_after_seconds)}."


def _login_result(
    vendor: Vendor,
    here: str,
    device: DeviceRecord,
    extension: str,
    answer: auth_pb2.LoginWithPinResponse,
) -> Rendered:
    pin = answer.pin
    if pin.result in _WRONG_PIN:
        _outcome("login", "wrong_pin", device, extension=extension)
        return vendor.login_page(here, extension, "Wrong extension or PIN.")
    if pin.result in _TOO_MANY:
        return vendor.message_page("Too many attempts", _too_many("login", device, pin))
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
    screen = await _screen(request, "logout")
    if isinstance(screen, web.Response):
        return screen
    device, vendor = screen.device, screen.vendor
    if device.user is None:
        return _reply(vendor.message_page("Logged out", "Nobody is logged in at this phone."))
    user = device.user
    who = f"{user.name} ({user.extension})"
    here = screen.url("logout")
    form = await _form(request)
    if device.tenant.logout_asks_pin:
        if request.method != "POST" or not form.get("pin"):
            return _reply(vendor.logout_pin_page(here, who, None))
        refused = await _pin_refused(screen, user, form["pin"], here, who)
        if refused is not None:
            return _reply(refused)
    elif request.method != "POST" and request.query.get("confirm") != "1":
        return _reply(vendor.logout_page(here + "?confirm=1", who))
    return await _logged_out(screen, who)


async def _pin_refused(
    screen: _Screen, user: LoggedInUser, pin: str, here: str, who: str
) -> Rendered | None:
    """None when ``pin`` is the logged-in user's; else the page to show."""
    ctx, device, vendor = screen.ctx, screen.device, screen.vendor
    if not pin.isdigit():
        return vendor.logout_pin_page(here, who, "The PIN is digits.")
    try:
        checked = await ctx.auth.VerifyPin(
            auth_pb2.VerifyPinRequest(
                user=binding_pb2.UserRef(tenant=user.tenant, extension=user.extension),
                device_id=device.id,
                pin=pin,
                channel=CHANNEL,
            ),
            timeout=ctx.rpc_timeout,
        )
    except grpc.aio.AioRpcError as exc:
        _outcome("logout", "unavailable", device, error=exc.code().name)
        return vendor.message_page("Try again", "Logout is unavailable. Try again.")
    if checked.result == auth_pb2.PIN_RESULT_OK:
        return None
    if checked.result in _TOO_MANY or checked.retry_after_seconds > 0:
        return vendor.message_page("Too many attempts", _too_many("logout", device, checked))
    _outcome("logout", "wrong_pin", device, extension=user.extension)
    return vendor.logout_pin_page(here, who, "Wrong PIN.")


async def _logged_out(screen: _Screen, who: str) -> web.Response:
    ctx, device, vendor = screen.ctx, screen.device, screen.vendor
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
