"""The binding core: every rule of who may be on which device, over Redis.

Transport-agnostic: the gRPC and HTTP layers only translate. Every change is
one Lua script (see ``lua/``), so concurrent logins, logouts, takeovers and
expiries cannot interleave half-way.
"""

import logging
import time
from collections.abc import Sequence
from typing import Any

from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.binding import metrics
from services.binding.dialplan import classify
from services.binding.policy import session_expiry_ms
from services.binding.scripts import BindingScripts
from services.kernel import keys
from services.kernel.clock import Clock, now_ms
from services.kernel.logs import fields
from services.kernel.lookup import DirectoryLookup, IncompleteUserRef, UserName
from services.kernel.tenants import TenantCache, TenantConfig

log = logging.getLogger(__name__)

_REASONS = {
    "login": pb.CHANGE_REASON_LOGIN,
    "logout": pb.CHANGE_REASON_LOGOUT,
    "takeover": pb.CHANGE_REASON_TAKEOVER,
    "moved": pb.CHANGE_REASON_MOVED,
    "expired": pb.CHANGE_REASON_EXPIRED,
    "operator": pb.CHANGE_REASON_OPERATOR,
    "directory": pb.CHANGE_REASON_DIRECTORY,
}
_REASON_NAMES: dict[int, str] = {int(value): name for name, value in _REASONS.items()}
_LOGIN_RESULTS = {
    "logged_in": pb.LOGIN_RESULT_LOGGED_IN,
    "already_logged_in": pb.LOGIN_RESULT_ALREADY_LOGGED_IN,
    "device_occupied": pb.LOGIN_RESULT_DEVICE_OCCUPIED,
    "active_elsewhere": pb.LOGIN_RESULT_ACTIVE_ELSEWHERE,
    "unknown_user": pb.LOGIN_RESULT_UNKNOWN_USER,
    "unknown_device": pb.LOGIN_RESULT_UNKNOWN_DEVICE,
    "not_hotdesk_user": pb.LOGIN_RESULT_NOT_HOTDESK_USER,
    "not_hotdesk_device": pb.LOGIN_RESULT_NOT_HOTDESK_DEVICE,
}
_ENDED_WIDTH = 7  # device, tenant, ext, since, expires, start_gen, reason
_EXPIRE_BATCH = 500


class InvalidRequest(ValueError):
    """The request itself is malformed (maps to INVALID_ARGUMENT)."""


def reason_name(reason: int) -> str:
    """The lowercase name used in events and logs ("takeover")."""
    return _REASON_NAMES.get(reason, "logout")


def _ended(flat: Sequence[Any]) -> list[pb.Binding]:
    out = []
    for i in range(0, len(flat), _ENDED_WIDTH):
        device, tenant, ext, since, expires, gen, reason = flat[i : i + _ENDED_WIDTH]
        metrics.SESSIONS_ENDED.labels(reason).inc()
        out.append(
            pb.Binding(
                device_id=device,
                tenant=tenant,
                extension=ext,
                since_unix_ms=int(since),
                expires_unix_ms=int(expires),
                generation=int(gen),
            )
        )
    return out


def _occupant(flat: Sequence[Any]) -> pb.Binding:
    device, tenant, ext, since, expires, gen = flat[:6]
    return pb.Binding(
        device_id=device,
        tenant=tenant,
        extension=ext,
        since_unix_ms=int(since),
        expires_unix_ms=int(expires),
        generation=int(gen or 0),
    )


class BindingCore:
    def __init__(
        self,
        redis: Redis,
        tenants: TenantCache,
        *,
        clock: Clock = now_ms,
        stream_maxlen: int = 1_000_000,
    ) -> None:
        self._redis = redis
        self._tenants = tenants
        self._lookup = DirectoryLookup(redis, tenants)
        self._scripts = BindingScripts.register(redis)
        self._clock = clock
        self._maxlen = stream_maxlen

    async def _user(self, ref: pb.UserRef) -> UserName | None:
        try:
            return await self._lookup.user(ref.tenant, ref.extension, ref.hotdesk_id)
        except IncompleteUserRef as exc:
            raise InvalidRequest(str(exc)) from exc

    # -- changes ------------------------------------------------------------

    async def login(
        self, device_id: str, user: pb.UserRef, *, allow_takeover: bool, actor: str
    ) -> pb.LoginResponse:
        if not device_id:
            raise InvalidRequest("device_id is required")
        response = await self._login(device_id, user, allow_takeover, actor or "unknown")
        result_name = pb.LoginResult.Name(response.result)
        metrics.LOGINS.labels(result_name.removeprefix("LOGIN_RESULT_").lower()).inc()
        log.info(
            "login",
            extra=fields(
                device=device_id,
                user=f"{user.tenant}/{user.extension}" if user.extension else user.hotdesk_id,
                result=result_name,
                actor=actor,
                ended=[f"{b.device_id}:{b.tenant}/{b.extension}" for b in response.ended],
            ),
        )
        return response

    async def _login(
        self, device_id: str, ref: pb.UserRef, allow_takeover: bool, actor: str
    ) -> pb.LoginResponse:
        device_tenant = await self._lookup.device_tenant(device_id)
        if device_tenant is None:
            return pb.LoginResponse(result=pb.LOGIN_RESULT_UNKNOWN_DEVICE)
        user = await self._user(ref)
        if user is None:
            return pb.LoginResponse(result=pb.LOGIN_RESULT_UNKNOWN_USER)
        if user.tenant.id != device_tenant.id and not (
            user.tenant.cross_tenant_group
            and user.tenant.cross_tenant_group == device_tenant.cross_tenant_group
        ):
            return pb.LoginResponse(result=pb.LOGIN_RESULT_CROSS_TENANT_DENIED)
        now = self._clock()
        group = device_tenant.group
        reply = await self._scripts.login(
            keys=[keys.device(group, device_id), user.key],
            args=[
                keys.prefix(group),
                device_id,
                user.tenant.id,
                user.extension,
                int(allow_takeover),
                int(user.tenant.second_login == "deny"),
                now,
                session_expiry_ms(device_tenant, now),
                actor,
                self._maxlen,
            ],
        )
        result = _LOGIN_RESULTS[reply[0]]
        if result in (pb.LOGIN_RESULT_DEVICE_OCCUPIED, pb.LOGIN_RESULT_ACTIVE_ELSEWHERE):
            return pb.LoginResponse(result=result, occupant=_occupant(reply[1:]))
        if result not in (pb.LOGIN_RESULT_LOGGED_IN, pb.LOGIN_RESULT_ALREADY_LOGGED_IN):
            return pb.LoginResponse(result=result)
        gen, since, expires, name, caller_id = reply[1:6]
        binding = pb.Binding(
            device_id=device_id,
            device_tenant=device_tenant.id,
            tenant=user.tenant.id,
            extension=user.extension,
            display_name=name,
            caller_id=caller_id,
            since_unix_ms=int(since),
            expires_unix_ms=int(expires),
            generation=int(gen),
        )
        return pb.LoginResponse(result=result, binding=binding, ended=_ended(reply[6:]))

    async def logout_device(
        self, device_id: str, *, reason: int, actor: str, expected_user: str = ""
    ) -> pb.LogoutResponse:
        """End the session on a device. ``expected_user`` ("tenant/ext")
        makes it a no-op unless that user is the one on it."""
        if not device_id:
            raise InvalidRequest("device_id is required")
        tenant = await self._lookup.device_tenant(device_id)
        if tenant is None:
            return pb.LogoutResponse(result=pb.LOGOUT_RESULT_UNKNOWN)
        group = tenant.group
        reply = await self._scripts.logout(
            keys=[keys.device(group, device_id)],
            args=[
                keys.prefix(group),
                device_id,
                reason_name(reason or pb.CHANGE_REASON_LOGOUT),
                actor or "unknown",
                self._clock(),
                self._maxlen,
                expected_user,
            ],
        )
        if reply[0] == "unknown":
            return pb.LogoutResponse(result=pb.LOGOUT_RESULT_UNKNOWN)
        if reply[0] == "not_logged_in":
            return pb.LogoutResponse(result=pb.LOGOUT_RESULT_NOT_LOGGED_IN)
        (ended,) = _ended(reply[1:])
        ended.device_tenant = tenant.id
        log.info(
            "logout",
            extra=fields(
                device=device_id,
                user=f"{ended.tenant}/{ended.extension}",
                reason=reason_name(reason),
                actor=actor,
            ),
        )
        return pb.LogoutResponse(result=pb.LOGOUT_RESULT_LOGGED_OUT, ended=ended)

    async def logout_user(self, user: pb.UserRef, *, reason: int, actor: str) -> pb.LogoutResponse:
        resolved = await self._user(user)
        if resolved is None or not await self._redis.exists(resolved.key):
            return pb.LogoutResponse(result=pb.LOGOUT_RESULT_UNKNOWN)
        device_id = await self._redis.hget(resolved.key, "device")
        if device_id is None:
            return pb.LogoutResponse(result=pb.LOGOUT_RESULT_NOT_LOGGED_IN)
        return await self.logout_device(
            device_id,
            reason=reason,
            actor=actor,
            expected_user=f"{resolved.tenant.id}/{resolved.extension}",
        )

    async def expire_due(self) -> list[pb.Binding]:
        """End every session whose expiry has passed, in every group."""
        ended: list[pb.Binding] = []
        now = self._clock()
        for group in {t.group for t in self._tenants.by_id.values()}:
            while True:
                flat = await self._scripts.expire(
                    keys=[keys.expiry(group)],
                    args=[keys.prefix(group), now, self._maxlen, _EXPIRE_BATCH],
                )
                batch = _ended(flat)
                ended.extend(batch)
                if len(batch) < _EXPIRE_BATCH:
                    break
        for b in ended:
            log.info(
                "logout",
                extra=fields(
                    device=b.device_id,
                    user=f"{b.tenant}/{b.extension}",
                    reason="expired",
                    actor="system",
                ),
            )
        return ended

    # -- reads --------------------------------------------------------------

    def _live(self, h: dict[str, str], now: int) -> bool:
        expires = int(h.get("expires_ms") or 0)
        return "user_ext" in h and not (0 < expires <= now)

    async def _device_state(
        self, device_id: str, tenant: TenantConfig, h: dict[str, str], now: int
    ) -> pb.DeviceState:
        state = pb.DeviceState(
            device_id=device_id,
            tenant=tenant.id,
            vendor=h.get("vendor", ""),
            model=h.get("model", ""),
            generation=int(h.get("gen") or 0),
        )
        if self._live(h, now):
            user_key = keys.user(tenant.group, h["user_tenant"], h["user_ext"])
            name, caller_id = await self._redis.hmget(user_key, "name", "caller_id")
            state.binding.CopyFrom(
                pb.Binding(
                    device_id=device_id,
                    device_tenant=tenant.id,
                    tenant=h["user_tenant"],
                    extension=h["user_ext"],
                    display_name=name or "",
                    caller_id=caller_id or "",
                    since_unix_ms=int(h.get("since_ms") or 0),
                    expires_unix_ms=int(h.get("expires_ms") or 0),
                    generation=state.generation,
                )
            )
        return state

    async def get_by_device(self, device_id: str) -> pb.DeviceState | None:
        if not device_id:
            raise InvalidRequest("device_id is required")
        tenant = await self._lookup.device_tenant(device_id)
        if tenant is None:
            return None
        h = await self._redis.hgetall(keys.device(tenant.group, device_id))
        if not h:
            return None
        return await self._device_state(device_id, tenant, h, self._clock())

    async def get_by_user(self, user: pb.UserRef) -> pb.GetByUserResponse:
        resolved = await self._user(user)
        if resolved is None or not await self._redis.exists(resolved.key):
            return pb.GetByUserResponse(known=False)
        device_id = await self._redis.hget(resolved.key, "device")
        if device_id is None:
            return pb.GetByUserResponse(known=True)
        state = await self.get_by_device(device_id)
        if (
            state is None
            or not state.HasField("binding")
            or (state.binding.tenant, state.binding.extension)
            != (resolved.tenant.id, resolved.extension)
        ):
            return pb.GetByUserResponse(known=True)
        return pb.GetByUserResponse(known=True, binding=state.binding)

    async def list(self, tenant_id: str | None, include_idle: bool) -> pb.ListResponse:
        await self._tenants.refresh()
        if tenant_id:
            tenant = self._tenants.by_id.get(tenant_id)
            tenants = [tenant] if tenant else []
        else:
            tenants = sorted(self._tenants.by_id.values(), key=lambda t: t.id)
        now = self._clock()
        response = pb.ListResponse()
        for tenant in tenants:
            device_ids = sorted(
                await self._redis.smembers(keys.tenant_devices(tenant.group, tenant.id))
            )
            async with self._redis.pipeline(transaction=False) as pipe:
                for device_id in device_ids:
                    pipe.hgetall(keys.device(tenant.group, device_id))
                hashes = await pipe.execute()
            for device_id, h in zip(device_ids, hashes, strict=True):
                if not h or (not include_idle and not self._live(h, now)):
                    continue
                response.devices.append(await self._device_state(device_id, tenant, h, now))
        return response

    async def active_sessions(self) -> int:
        total = 0
        for group in {t.group for t in self._tenants.by_id.values()}:
            total += await self._redis.scard(keys.bound(group))
        return int(total)

    async def route(self, req: pb.RouteRequest) -> pb.RouteResponse:
        started = time.perf_counter()
        response = await self._route(req)
        metrics.ROUTE_LOOKUP_SECONDS.observe(time.perf_counter() - started)
        metrics.route_lookups(response.caller_kind, response.callee_kind).inc()
        return response

    async def _route(self, req: pb.RouteRequest) -> pb.RouteResponse:
        by_domain = self._tenants.by_domain
        caller_tenant = by_domain.get(req.caller_domain)
        callee_tenant = by_domain.get(req.callee_domain)
        response = pb.RouteResponse(
            caller_kind=pb.CALLER_KIND_OTHER, callee_kind=pb.CALLEE_KIND_OTHER
        )
        dialplan_tenant = caller_tenant or callee_tenant
        if dialplan_tenant is not None:
            kind, feature = classify(dialplan_tenant, req.callee_user)
            if kind:
                response.callee_kind = kind
                response.feature = feature
                callee_tenant = None  # nothing to look up for the callee
        caller_key = (
            keys.device(caller_tenant.group, req.caller_user)
            if caller_tenant and req.caller_user
            else None
        )
        callee_key = (
            keys.user(callee_tenant.group, callee_tenant.id, req.callee_user)
            if callee_tenant and req.callee_user
            else None
        )
        now = self._clock()
        caller: Sequence[Any] = ()
        callee: Sequence[Any] = ()
        if caller_tenant and callee_tenant and caller_key and callee_key:
            if caller_tenant.group == callee_tenant.group:
                reply = await self._scripts.route(
                    keys=[caller_key, callee_key],
                    args=["cu", keys.prefix(caller_tenant.group), now],
                )
                caller, callee = reply[:6], reply[6:]
            else:
                async with self._redis.pipeline(transaction=False) as pipe:
                    await self._scripts.route(
                        keys=[caller_key],
                        args=["c", keys.prefix(caller_tenant.group), now],
                        client=pipe,
                    )
                    await self._scripts.route(
                        keys=[callee_key],
                        args=["u", keys.prefix(callee_tenant.group), now],
                        client=pipe,
                    )
                    caller, callee = await pipe.execute()
        elif caller_tenant and caller_key:
            caller = await self._scripts.route(
                keys=[caller_key], args=["c", keys.prefix(caller_tenant.group), now]
            )
        elif callee_tenant and callee_key:
            callee = await self._scripts.route(
                keys=[callee_key], args=["u", keys.prefix(callee_tenant.group), now]
            )
        if caller and caller_tenant is not None:
            self._fill_caller(response, caller_tenant, caller)
        if callee:
            self._fill_callee(response, callee)
        return response

    @staticmethod
    def _fill_caller(response: pb.RouteResponse, tenant: TenantConfig, c: Sequence[Any]) -> None:
        exists, hotdesk, emergency_cid, user, name, caller_id = c
        if exists != "1" or hotdesk != "1":
            return
        response.emergency_caller_id = emergency_cid
        if not user:
            response.caller_kind = pb.CALLER_KIND_DEVICE_IDLE
            return
        user_tenant, extension = user.split("/", 1)
        response.caller_kind = pb.CALLER_KIND_DEVICE_BOUND
        response.caller_tenant = user_tenant
        response.caller_extension = extension
        response.caller_display_name = name
        response.caller_id = caller_id

    def _fill_callee(self, response: pb.RouteResponse, c: Sequence[Any]) -> None:
        hotdesk, device, device_tenant = c
        if hotdesk != "1":
            return
        tenant = self._tenants.by_id.get(device_tenant)
        if device and tenant is not None:
            response.callee_kind = pb.CALLEE_KIND_USER_BOUND
            response.callee_device = device
            response.callee_device_domain = tenant.domain
        else:
            response.callee_kind = pb.CALLEE_KIND_USER_LOGGED_OUT
