"""The binding core: every rule of who may be on which device, over Redis.

Transport-agnostic: the gRPC and HTTP layers only translate. Every change is
one Lua script (see ``lua/``), so concurrent logins, logouts, takeovers and
expiries cannot interleave half-way. Which tenant's policy applies: the
user's tenant decides ``second_login`` (it is about the user), the device's
tenant decides when a session expires (it is about the desk).
"""

import logging
import time
from collections.abc import Sequence
from typing import TypeAlias

from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.binding import metrics
from services.binding.names import CHANGE_REASONS, LOGIN_RESULT_BY_NAME, LOGIN_RESULTS
from services.binding.policy import session_expiry_ms
from services.binding.routing import RouteLookup, RoutingIndex
from services.binding.scripts import (
    EXPIRE_REPLY,
    LOGIN_REPLY,
    LOGOUT_REPLY,
    BindingScripts,
    Ended,
    decode_binding,
    decode_ended,
    login_args,
)
from services.binding.session_location import SessionLocations
from services.kernel import keys, sessions
from services.kernel.audit import AuditTrail
from services.kernel.clock import Clock, now_ms
from services.kernel.errors import InvalidArgument
from services.kernel.logs import fields
from services.kernel.lookup import DirectoryLookup, IncompleteUserRef, UserName
from services.kernel.lua import named, unnamed
from services.kernel.replication import ReplicatedScripts
from services.kernel.tenants import TenantCache, TenantConfig

log = logging.getLogger(__name__)

ChangeReason: TypeAlias = pb.ChangeReason.ValueType
_EXPIRE_BATCH = 500
_REFUSED_WITH_OCCUPANT = (pb.LOGIN_RESULT_DEVICE_OCCUPIED, pb.LOGIN_RESULT_ACTIVE_ELSEWHERE)
_WITH_SESSION = (pb.LOGIN_RESULT_LOGGED_IN, pb.LOGIN_RESULT_ALREADY_LOGGED_IN)


def _user_label(ref: pb.UserRef) -> str:
    return ref.hotdesk_id or f"{ref.tenant}/{ref.extension}"


# Entries a group's event stream and audit stream keep (approximately: MAXLEN ~).
STREAM_MAXLEN = 1_000_000
AUDIT_MAXLEN = 100_000


class BindingCore:
    def __init__(
        self,
        redis: Redis,
        tenants: TenantCache,
        clock: Clock = now_ms,
        stream_maxlen: int = STREAM_MAXLEN,
        audit_maxlen: int = AUDIT_MAXLEN,
        replica_acks: int = 0,
        replica_ack_timeout_ms: int = 500,
    ) -> None:
        self._redis = redis
        self._tenants = tenants
        self._lookup = DirectoryLookup(redis, tenants)
        self._scripts = BindingScripts.register(redis)
        # Logins and logouts are answered once replicas hold them.
        self._changes = ReplicatedScripts(
            redis, replica_acks, replica_ack_timeout_ms, metrics.UNREPLICATED_CHANGES.inc
        )
        self._clock = clock
        self._maxlen = stream_maxlen
        index = RoutingIndex(redis)
        tenants.on_reload.append(index.reload)
        self._routes = RouteLookup(redis, tenants, index, self._scripts, clock)
        audit = AuditTrail(redis, audit_maxlen, clock)
        self._locations = SessionLocations(redis, self._lookup, audit)

    async def aclose(self) -> None:
        await self._changes.aclose()

    async def _user(self, ref: pb.UserRef) -> UserName | None:
        try:
            return await self._lookup.user(ref.tenant, ref.extension, ref.hotdesk_id)
        except IncompleteUserRef as exc:
            raise InvalidArgument(str(exc)) from exc

    @staticmethod
    def _record(ended: list[Ended], actor: str) -> list[pb.Binding]:
        """Count and log the sessions a script ended (expiries by "system",
        as in their events)."""
        for e in ended:
            metrics.SESSIONS_ENDED.labels(e.reason).inc()
            log.info(
                "logout",
                extra=fields(
                    device=e.binding.device_id,
                    user=f"{e.binding.tenant}/{e.binding.extension}",
                    reason=e.reason,
                    actor="system" if e.reason == "expired" else actor,
                ),
            )
        return [e.binding for e in ended]

    # -- changes ------------------------------------------------------------

    async def login(
        self, device_id: str, user: pb.UserRef, *, allow_takeover: bool, actor: str
    ) -> pb.LoginResponse:
        if not device_id:
            raise InvalidArgument("device_id is required")
        response = await self._login(device_id, user, allow_takeover, actor or "unknown")
        result = LOGIN_RESULTS[response.result]
        metrics.LOGINS.labels(result).inc()
        log.info(
            "login",
            extra=fields(device=device_id, user=_user_label(user), result=result, actor=actor),
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
        if user.tenant.group != device_tenant.group:
            # Different groups never share a slot: answered without a script.
            exists = await self._redis.exists(user.key)
            return pb.LoginResponse(
                result=pb.LOGIN_RESULT_CROSS_TENANT_DENIED
                if exists
                else pb.LOGIN_RESULT_UNKNOWN_USER
            )
        now = self._clock()
        group = device_tenant.group
        reply = await self._changes.call(
            self._scripts.login,
            [keys.device(group, device_id), user.key],
            login_args(
                keys.prefix(group),
                device_id,
                user.tenant.id,
                user.extension,
                allow_takeover=allow_takeover,
                deny_second=user.tenant.second_login == "deny",
                now_ms=now,
                expires_ms=session_expiry_ms(device_tenant, now),
                actor=actor,
                maxlen=self._maxlen,
            ),
        )
        f = unnamed(reply, LOGIN_REPLY)
        response = pb.LoginResponse(
            result=LOGIN_RESULT_BY_NAME[f["result"]],
            ended=self._record(decode_ended(f["ended"]), actor),
        )
        if response.result in _WITH_SESSION:
            response.binding.CopyFrom(decode_binding(f["session"]))
        elif response.result in _REFUSED_WITH_OCCUPANT:
            response.occupant.CopyFrom(decode_binding(f["session"]))
        return response

    async def _logout(
        self, group: str, key: str, mode: str, device_id: str, reason: ChangeReason, actor: str
    ) -> pb.LogoutResponse:
        reason_name = CHANGE_REASONS.get(reason, "logout")
        actor = actor or "unknown"
        reply = await self._changes.call(
            self._scripts.logout,
            [key],
            named(
                {
                    "prefix": keys.prefix(group),
                    "mode": mode,
                    "device": device_id,
                    "reason": reason_name,
                    "actor": actor,
                    "now_ms": self._clock(),
                    "maxlen": self._maxlen,
                }
            ),
        )
        f = unnamed(reply, LOGOUT_REPLY)
        result = f["result"]
        bindings = self._record(decode_ended(f["ended"]), actor)
        if result == "unknown":
            return pb.LogoutResponse(result=pb.LOGOUT_RESULT_UNKNOWN)
        if result == "not_logged_in":
            return pb.LogoutResponse(result=pb.LOGOUT_RESULT_NOT_LOGGED_IN)
        return pb.LogoutResponse(result=pb.LOGOUT_RESULT_LOGGED_OUT, ended=bindings[0])

    async def logout_device(
        self, device_id: str, *, reason: ChangeReason, actor: str
    ) -> pb.LogoutResponse:
        """End the session on a device (reason UNSPECIFIED counts as LOGOUT)."""
        if not device_id:
            raise InvalidArgument("device_id is required")
        tenant = await self._lookup.device_tenant(device_id)
        if tenant is None:
            return pb.LogoutResponse(result=pb.LOGOUT_RESULT_UNKNOWN)
        key = keys.device(tenant.group, device_id)
        return await self._logout(tenant.group, key, "device", device_id, reason, actor)

    async def logout_user(
        self, user: pb.UserRef, *, reason: ChangeReason, actor: str
    ) -> pb.LogoutResponse:
        """End the user's session, wherever it is."""
        resolved = await self._user(user)
        if resolved is None:
            return pb.LogoutResponse(result=pb.LOGOUT_RESULT_UNKNOWN)
        group = resolved.tenant.group
        return await self._logout(group, resolved.key, "user", "", reason, actor)

    async def expire_due(self) -> list[pb.Binding]:
        """End every session whose expiry has passed, in every group."""
        ended: list[Ended] = []
        now = self._clock()
        for group in {t.group for t in self._tenants.by_id.values()}:
            due = _EXPIRE_BATCH
            while due == _EXPIRE_BATCH:
                reply = await self._scripts.expire(
                    keys=[keys.expiry(group)],
                    args=named(
                        {
                            "prefix": keys.prefix(group),
                            "now_ms": now,
                            "maxlen": self._maxlen,
                            "limit": _EXPIRE_BATCH,
                        }
                    ),
                )
                f = unnamed(reply, EXPIRE_REPLY)
                due = int(f["due"])
                ended += decode_ended(f["ended"])
        return self._record(ended, "system")

    # -- reads --------------------------------------------------------------

    async def _device_states(
        self, tenant: TenantConfig, device_ids: Sequence[str], include_idle: bool
    ) -> list[pb.DeviceState]:
        """The devices' states in two round trips (devices, then their users)."""
        now = self._clock()
        group = tenant.group
        async with self._redis.pipeline(transaction=False) as pipe:
            for device_id in device_ids:
                pipe.hgetall(keys.device(group, device_id))
            hashes: list[dict[str, str]] = await pipe.execute()
        states: list[pb.DeviceState] = []
        live: list[tuple[pb.DeviceState, sessions.Session]] = []
        for device_id, h in zip(device_ids, hashes, strict=True):
            session = sessions.of_hash(h)
            is_live = session is not None and session.is_live(now)
            if not h or not (include_idle or is_live):
                continue
            state = pb.DeviceState(
                device_id=device_id,
                tenant=tenant.id,
                vendor=h.get("vendor", ""),
                model=h.get("model", ""),
                generation=int(h.get(sessions.GENERATION) or 0),
            )
            states.append(state)
            if session is not None and is_live:
                live.append((state, session))
        if live:
            async with self._redis.pipeline(transaction=False) as pipe:
                for _, s in live:
                    pipe.hmget(keys.user(group, s.tenant, s.extension), "name", "caller_id")
                users: list[list[str | None]] = await pipe.execute()
            for (state, s), (name, caller_id) in zip(live, users, strict=True):
                state.binding.CopyFrom(
                    pb.Binding(
                        device_id=state.device_id,
                        device_tenant=tenant.id,
                        tenant=s.tenant,
                        extension=s.extension,
                        display_name=name or "",
                        caller_id=caller_id or "",
                        since_unix_ms=s.since_ms,
                        expires_unix_ms=s.expires_ms,
                        generation=state.generation,
                    )
                )
        return states

    async def get_by_device(self, device_id: str) -> pb.DeviceState | None:
        """The device and its live session; None for a device nobody knows."""
        if not device_id:
            raise InvalidArgument("device_id is required")
        tenant = await self._lookup.device_tenant(device_id)
        if tenant is None:
            return None
        states = await self._device_states(tenant, [device_id], include_idle=True)
        return states[0] if states else None

    async def get_by_user(self, user: pb.UserRef) -> pb.GetByUserResponse:
        resolved = await self._user(user)
        if resolved is None:
            return pb.GetByUserResponse(known=False)
        hotdesk, device_id = await self._redis.hmget(resolved.key, "hotdesk", sessions.USER_DEVICE)
        if hotdesk is None:
            return pb.GetByUserResponse(known=False)
        state = await self.get_by_device(device_id) if device_id else None
        if state is not None and (state.binding.tenant, state.binding.extension) == (
            resolved.tenant.id,
            resolved.extension,
        ):
            return pb.GetByUserResponse(known=True, binding=state.binding)
        return pb.GetByUserResponse(known=True)

    async def list(self, tenant: str | None, include_idle: bool) -> pb.ListResponse:
        """Devices with a live session (all devices with ``include_idle``), of
        one tenant or of every tenant, ordered by tenant and device id."""
        await self._tenants.refresh()
        by_id = self._tenants.by_id
        if tenant:
            selected = [by_id[tenant]] if tenant in by_id else []
        else:
            selected = [by_id[t] for t in sorted(by_id)]
        response = pb.ListResponse()
        for t in selected:
            device_ids = sorted(await self._redis.smembers(keys.tenant_devices(t.group, t.id)))
            response.devices.extend(await self._device_states(t, device_ids, include_idle))
        return response

    async def active_sessions(self) -> int:
        """Devices in the ``bound`` sets (expired ones until the sweeper ends them)."""
        groups = {t.group for t in self._tenants.by_id.values()}
        async with self._redis.pipeline(transaction=False) as pipe:
            for group in groups:
                pipe.scard(keys.bound(group))
            counts: list[int] = await pipe.execute()
        return sum(counts)

    async def set_session_location(
        self, device_id: str, location_json: str, actor: str
    ) -> pb.SetSessionLocationResponse:
        """Where emergency calls from the device say it is, until its
        session ends (see ``session_location``)."""
        if not device_id:
            raise InvalidArgument("device_id is required")
        session = await self.get_by_device(device_id)
        return await self._locations.set(device_id, location_json, actor or "unknown", session)

    # -- Kamailio's lookup -----------------------------------------------------

    async def route(self, req: pb.RouteRequest) -> pb.RouteResponse:
        """Who calls and where the callee rings (see ``routing``)."""
        started = time.perf_counter()
        response = await self._routes.route(req)
        metrics.ROUTE_LOOKUP_SECONDS.observe(time.perf_counter() - started)
        metrics.ROUTE_LOOKUPS_BY_KIND[response.caller_kind, response.callee_kind].inc()
        return response
