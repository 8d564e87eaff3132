"""The auth core: PIN checks with backoff and lockout, PIN changes, unlocks,
and login with a PIN (verify, then ask the binding service). Transport-
agnostic: the gRPC layer maps its errors (``services.auth.errors``).

An attempt goes: resolve the device and the user; ``Lockout.admit`` (a
refused attempt never reaches argon2); verify; refund the attempt on
success. Unknown users and users without a PIN are verified against a decoy
hash and count against the device, so that they cost the same time and the
same budget as a wrong PIN; an unknown device costs the same verify.

Every kind of unknown (no such user, a user without a PIN, no such device)
gets one and the same answer (``UNKNOWN``): the caller cannot tell them
apart. The audit trail keeps the precise reason, but names an extension
only when it is an existing user's: what was typed at an extension prompt
may be a PIN.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.auth.audit import Audit
from services.auth.lockout import Gate, Lockout
from services.auth.settings import AuthSettings
from services.auth.store import PinStore
from services.kernel.clock import Clock, now_ms
from services.kernel.errors import InvalidArgument, NotFound
from services.kernel.lookup import UserName
from services.kernel.tenants import TenantCache

BindingLogin = Callable[[pb.LoginRequest], Awaitable[pb.LoginResponse]]

_REFUSED = {"locked": apb.PIN_RESULT_LOCKED, "backoff": apb.PIN_RESULT_BACKOFF}
# The one answer for every kind of unknown (see the module's docstring).
UNKNOWN = apb.VerifyPinResponse(result=apb.PIN_RESULT_UNKNOWN_USER)
UNKNOWN_EXTENSION = "unknown"  # in the audit trail, for an extension matching no user


@dataclass(frozen=True)
class _Checked:
    response: apb.VerifyPinResponse
    result: str  # the precise result, for the audit trail and the metric
    user: UserName | None  # the existing user the attempt was for


def _result_name(result: apb.PinResult.ValueType) -> str:
    return apb.PinResult.Name(result).removeprefix("PIN_RESULT_").lower()


def _after_wrong_pin(gate: Gate, attempts_left: int) -> apb.VerifyPinResponse:
    """A wrong PIN's answer: LOCKED if it locked, else WRONG_PIN (with the
    backoff it started, if any)."""
    return apb.VerifyPinResponse(
        result=apb.PIN_RESULT_LOCKED if gate.state == "locked" else apb.PIN_RESULT_WRONG_PIN,
        retry_after_seconds=gate.retry_after_seconds,
        attempts_left=attempts_left,
    )


class AuthCore:
    def __init__(
        self,
        redis: Redis,
        tenants: TenantCache,
        settings: AuthSettings,
        binding_login: BindingLogin,
        *,
        clock: Clock = now_ms,
    ) -> None:
        self._settings = settings
        self._store = PinStore(redis, tenants, settings)
        self._lockout = Lockout(redis, settings, clock)
        self._audit = Audit(redis, settings.audit_maxlen, clock)
        self._binding_login = binding_login

    async def verify_pin(
        self, ref: pb.UserRef, device_id: str, pin: str, channel: str
    ) -> apb.VerifyPinResponse:
        if not device_id:
            raise InvalidArgument("device_id is required")
        if not pin:
            raise InvalidArgument("pin is required")
        channel = channel or "api"
        user = await self._store.user(ref)
        device_tenant = await self._store.device_tenant(device_id)
        if device_tenant is None:
            await self._store.verify(None, pin)  # as slow as any other answer
            checked = _Checked(UNKNOWN, "unknown_device", None)
        else:
            if user is not None and user.tenant.group != device_tenant.group:
                user = None  # no login is possible across groups: unknown here
            checked = await self._attempt(device_tenant.group, device_id, user, pin)
        await self._audit.pin_attempt(
            device_tenant.group if device_tenant else None,
            tenant=checked.user.tenant.id if checked.user else ref.tenant,
            extension=checked.user.extension if checked.user else UNKNOWN_EXTENSION,
            device=device_id,
            channel=channel,
            result=checked.result,
            retry_after=checked.response.retry_after_seconds,
        )
        return checked.response

    async def _attempt(
        self, group: str, device_id: str, user: UserName | None, pin: str
    ) -> _Checked:
        known, pin_hash = await self._store.pin_hash(user) if user else (False, None)
        existing = user if known else None
        admission = await self._lockout.admit(group, device_id, user if pin_hash else None)
        if not admission.admitted:
            refused = apb.VerifyPinResponse(
                result=_REFUSED[admission.gate.state],
                retry_after_seconds=admission.gate.retry_after_seconds,
            )
            return _Checked(refused, _result_name(refused.result), existing)
        if await self._store.verify(pin_hash, pin):
            assert user is not None and pin_hash is not None
            await self._lockout.succeeded(admission)
            await self._store.rehash_if_needed(user, pin_hash, pin)
            ok = apb.VerifyPinResponse(
                result=apb.PIN_RESULT_OK, attempts_left=self._settings.free_attempts
            )
            return _Checked(ok, "ok", user)
        gate = self._lockout.failed(admission)
        for scope in admission.starts:
            await self._audit.record(
                group,
                "pin_lockout",
                scope=scope,
                tenant=existing.tenant.id if existing else "",
                extension=existing.extension if existing else "",
                device=device_id,
                retry_after=gate.retry_after_seconds,
            )
        if pin_hash is None:
            return _Checked(UNKNOWN, "no_pin" if known else "unknown_user", existing)
        wrong = _after_wrong_pin(gate, max(0, self._settings.free_attempts - admission.fails))
        return _Checked(wrong, _result_name(wrong.result), existing)

    async def login_with_pin(self, req: apb.LoginWithPinRequest) -> apb.LoginWithPinResponse:
        checked = await self.verify_pin(req.user, req.device_id, req.pin, req.channel)
        if checked.result != apb.PIN_RESULT_OK:
            return apb.LoginWithPinResponse(pin=checked)
        login = await self._binding_login(
            pb.LoginRequest(
                device_id=req.device_id,
                user=req.user,
                allow_takeover=req.allow_takeover,
                actor=f"user:{req.channel or 'api'}",
            )
        )
        return apb.LoginWithPinResponse(pin=checked, login=login)

    async def set_pin(self, ref: pb.UserRef, pin: str, actor: str) -> None:
        user = await self._store.existing_user(ref)
        await self._store.set_pin(user, pin)
        await self._audit.record(
            user.tenant.group,
            "pin_set",
            tenant=user.tenant.id,
            extension=user.extension,
            actor=actor or "unknown",
        )

    async def unlock(self, ref: pb.UserRef | None, device_id: str, actor: str) -> int:
        """Clear the user's counters (on ``device_id``, or on every device),
        or with no user the device's device-wide counter; audited."""
        user: UserName | None = None
        if ref is not None:
            user = await self._store.existing_user(ref)
            group = user.tenant.group
        elif device_id:
            device_tenant = await self._store.device_tenant(device_id)
            if device_tenant is None:
                raise NotFound(f"no device {device_id}")
            group = device_tenant.group
        else:
            raise InvalidArgument("unlock needs a user or a device")
        cleared = await self._lockout.unlock(group, device_id or None, user)
        await self._audit.record(
            group,
            "unlock",
            tenant=user.tenant.id if user else "",
            extension=user.extension if user else "",
            device=device_id,
            actor=actor or "unknown",
            cleared=cleared,
        )
        return cleared
