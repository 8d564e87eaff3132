"""The auth core: PIN checks with backoff and lockout, PIN changes, unlocks,
and login with a PIN (verify, then ask the binding service).

Transport-agnostic; argon2 work runs in a thread so the event loop keeps
serving while a PIN is hashed or verified.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable

from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.auth import metrics
from services.auth.audit import Audit
from services.auth.lockout import Gate, Lockout
from services.auth.pins import PinHasher, pin_policy_violation
from services.auth.settings import AuthSettings
from services.kernel import keys
from services.kernel.clock import Clock, now_ms
from services.kernel.lookup import DirectoryLookup, IncompleteUserRef, UserName
from services.kernel.tenants import TenantCache

BindingLogin = Callable[[pb.LoginRequest], Awaitable[pb.LoginResponse]]


class InvalidRequest(ValueError):
    """Malformed request (INVALID_ARGUMENT)."""


class NotFound(LookupError):
    """No such user or device (NOT_FOUND)."""


class PinPolicyError(ValueError):
    """The new PIN breaks the PIN policy (INVALID_ARGUMENT, with the reason)."""


def _result_name(result: apb.PinResult.ValueType) -> str:
    return apb.PinResult.Name(result).removeprefix("PIN_RESULT_").lower()


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
        self._redis = redis
        self._settings = settings
        self._lookup = DirectoryLookup(redis, tenants)
        self._lockout = Lockout(redis, settings, clock)
        self._audit = Audit(redis, settings.audit_maxlen, clock)
        self._binding_login = binding_login
        self._hasher = PinHasher(
            settings.argon2_time_cost, settings.argon2_memory_cost_kib, settings.argon2_parallelism
        )
        # Verified against when the user is unknown or has no PIN, so that
        # those answers take as long as a wrong PIN.
        self._decoy_hash = self._hasher.hash("decoy-not-a-pin")

    async def _user(self, ref: pb.UserRef) -> UserName | None:
        try:
            return await self._lookup.user(ref.tenant, ref.extension, ref.hotdesk_id)
        except IncompleteUserRef as exc:
            raise InvalidRequest(str(exc)) from exc

    async def _existing_user(self, ref: pb.UserRef) -> UserName:
        user = await self._user(ref)
        if user is None or not await self._redis.exists(user.key):
            raise NotFound(f"no user {ref.tenant}/{ref.extension or ref.hotdesk_id}")
        return user

    async def _verify(self, pin_hash: str, pin: str) -> bool:
        started = time.perf_counter()
        ok = await asyncio.to_thread(self._hasher.verify, pin_hash, pin)
        metrics.PIN_VERIFY_SECONDS.observe(time.perf_counter() - started)
        return ok

    async def verify_pin(
        self, ref: pb.UserRef, device_id: str, pin: str, channel: str
    ) -> apb.VerifyPinResponse:
        if not device_id:
            raise InvalidRequest("device_id is required")
        if not pin:
            raise InvalidRequest("pin is required")
        channel = channel or "api"
        user = await self._user(ref)
        device_tenant = await self._lookup.device_tenant(device_id)
        if device_tenant is None:
            metrics.PIN_ATTEMPTS.labels("unknown_device", channel).inc()
            return apb.VerifyPinResponse(result=apb.PIN_RESULT_UNKNOWN_DEVICE)
        user_device_key = (
            keys.pin_failures_user_device(
                user.tenant.group, user.tenant.id, user.extension, device_id
            )
            if user
            else None
        )
        device_key = keys.pin_failures_device(device_tenant.group, device_id)
        gate = await self._lockout.gate(user_device_key, device_key)
        if gate.state != "open":
            result = apb.PIN_RESULT_LOCKED if gate.state == "locked" else apb.PIN_RESULT_BACKOFF
            response = apb.VerifyPinResponse(
                result=result, retry_after_seconds=gate.retry_after_seconds
            )
        else:
            response = await self._check(user, device_id, pin, user_device_key, device_key)
        metrics.PIN_ATTEMPTS.labels(_result_name(response.result), channel).inc()
        await self._audit.record(
            device_tenant.group,
            "pin_attempt",
            tenant=user.tenant.id if user else ref.tenant,
            extension=user.extension if user else (ref.extension or ref.hotdesk_id),
            device=device_id,
            channel=channel,
            result=_result_name(response.result),
            retry_after=response.retry_after_seconds,
        )
        return response

    async def _check(
        self,
        user: UserName | None,
        device_id: str,
        pin: str,
        user_device_key: str | None,
        device_key: str,
    ) -> apb.VerifyPinResponse:
        known = user is not None and bool(await self._redis.exists(user.key))
        pin_hash = (
            await self._redis.get(keys.pin(user.tenant.group, user.tenant.id, user.extension))
            if user is not None and known
            else None
        )
        if pin_hash is None:
            await self._verify(self._decoy_hash, pin)
            await self._lockout.failure(None, device_key)
            return apb.VerifyPinResponse(
                result=apb.PIN_RESULT_NO_PIN if known else apb.PIN_RESULT_UNKNOWN_USER
            )
        assert user is not None and user_device_key is not None
        if await self._verify(pin_hash, pin):
            await self._lockout.success(user_device_key)
            if self._hasher.needs_rehash(pin_hash):
                await self._store_pin(user, pin)
            return apb.VerifyPinResponse(
                result=apb.PIN_RESULT_OK, attempts_left=self._settings.free_attempts
            )
        gate: Gate = await self._lockout.failure(user_device_key, device_key)
        return apb.VerifyPinResponse(
            result=apb.PIN_RESULT_LOCKED if gate.state == "locked" else apb.PIN_RESULT_WRONG_PIN,
            retry_after_seconds=gate.retry_after_seconds,
            attempts_left=max(0, self._settings.free_attempts - gate.fails),
        )

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

    async def _store_pin(self, user: UserName, pin: str) -> None:
        pin_hash = await asyncio.to_thread(self._hasher.hash, pin)
        await self._redis.set(keys.pin(user.tenant.group, user.tenant.id, user.extension), pin_hash)

    async def set_pin(self, ref: pb.UserRef, pin: str, actor: str) -> None:
        user = await self._existing_user(ref)
        violation = pin_policy_violation(pin, user.extension)
        if violation:
            raise PinPolicyError(violation)
        await self._store_pin(user, pin)
        await self._audit.record(
            user.tenant.group,
            "pin_set",
            tenant=user.tenant.id,
            extension=user.extension,
            actor=actor or "unknown",
        )

    async def unlock(self, ref: pb.UserRef | None, device_id: str, actor: str) -> int:
        if ref is not None:
            user = await self._existing_user(ref)
            group, tenant, extension = user.tenant.group, user.tenant.id, user.extension
        elif device_id:
            device_tenant = await self._lookup.device_tenant(device_id)
            if device_tenant is None:
                raise NotFound(f"no device {device_id}")
            group, tenant, extension = device_tenant.group, "", ""
        else:
            raise InvalidRequest("unlock needs a user or a device")
        cleared = await self._lockout.unlock(group, tenant, extension, device_id or None)
        await self._audit.record(
            group,
            "unlock",
            tenant=tenant,
            extension=extension,
            device=device_id,
            actor=actor or "unknown",
            cleared=cleared,
        )
        return cleared
