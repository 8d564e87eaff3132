"""The provision service's operations, transport-agnostic: profiles,
the provisioning state of devices, and a resync on demand."""

from __future__ import annotations

import logging

from hotdesk.v1 import binding_pb2 as bpb
from hotdesk.v1 import provision_pb2 as pb
from pydantic import ValidationError
from redis.asyncio import Redis

from services.kernel import keys, sessions
from services.kernel.clock import Clock
from services.kernel.errors import InvalidArgument, NotFound
from services.kernel.logs import fields
from services.kernel.lookup import DirectoryLookup, UserName
from services.kernel.tenants import TenantCache, TenantConfig
from services.provision import metrics
from services.provision.pacing import TokenBucket
from services.provision.profiles import Profile, ProfileStore
from services.provision.resync import SendPush
from services.provision.vendors import VENDORS

log = logging.getLogger(__name__)

_KINDS = {pb.PROFILE_KEY_KIND_BLF: "blf", pb.PROFILE_KEY_KIND_SPEED_DIAL: "speed_dial"}
_KIND_ENUMS = {name: kind for kind, name in _KINDS.items()}
_RESULTS = {
    "delivered": pb.PUSH_RESULT_DELIVERED,
    "not_registered": pb.PUSH_RESULT_NOT_REGISTERED,
    "rejected": pb.PUSH_RESULT_REJECTED,
    "timeout": pb.PUSH_RESULT_TIMEOUT,
    "sent": pb.PUSH_RESULT_SENT,
}


def push_result_enum(name: str) -> pb.PushResult.ValueType:
    return _RESULTS.get(name, pb.PUSH_RESULT_UNSPECIFIED)


class ProvisionCore:
    def __init__(
        self,
        redis: Redis,
        tenants: TenantCache,
        profiles: ProfileStore,
        send: SendPush,
        bucket: TokenBucket,
        clock: Clock,
    ) -> None:
        self._redis = redis
        self._tenants = tenants
        self._profiles = profiles
        self._send = send
        self._bucket = bucket
        self._clock = clock
        self._lookup = DirectoryLookup(redis, tenants)

    async def _user(self, ref: bpb.UserRef) -> UserName:
        tenant = await self._lookup.tenant(ref.tenant)
        if tenant is None:
            raise NotFound(f"no tenant {ref.tenant!r}")
        user = UserName(tenant, ref.extension)
        if not await self._redis.exists(user.key):
            raise NotFound(f"no user {user}")
        return user

    @staticmethod
    def _model(vendor: str, model: str) -> None:
        if vendor not in VENDORS:
            raise InvalidArgument(f"vendor must be one of {', '.join(sorted(VENDORS))}")
        if not model:
            raise InvalidArgument("model is required")

    @staticmethod
    def _message(u: UserName, vendor: str, model: str, p: Profile) -> pb.Profile:
        return pb.Profile(
            user=bpb.UserRef(tenant=u.tenant.id, extension=u.extension),
            vendor=vendor,
            model=model,
            keys=[
                pb.ProfileKey(kind=_KIND_ENUMS[k.kind], value=k.value, label=k.label)
                for k in p.keys
            ],
            ringer=p.ringer,
            updated_unix_ms=p.updated_ms,
        )

    async def get_profile(self, request: pb.GetProfileRequest) -> pb.Profile:
        self._model(request.vendor, request.model)
        u = await self._user(request.user)
        stored = await self._profiles.all(u.tenant, u.extension)
        found = stored.get((request.vendor, request.model))
        if found is None:
            raise NotFound(
                f"{u.tenant.id}/{u.extension} has no profile for {request.vendor} "
                f"{request.model} yet (made from the tenant's default at the first login)"
            )
        return self._message(u, request.vendor, request.model, found)

    async def put_profile(self, request: pb.PutProfileRequest) -> pb.Profile:
        p = request.profile
        self._model(p.vendor, p.model)
        u = await self._user(p.user)
        try:
            profile = Profile.model_validate(
                {
                    "keys": [
                        {
                            "kind": _KINDS.get(k.kind, "unspecified"),
                            "value": k.value,
                            "label": k.label,
                        }
                        for k in p.keys
                    ],
                    "ringer": p.ringer or 1,
                    "updated_ms": self._clock(),
                }
            )
        except ValidationError as exc:
            raise InvalidArgument(_validation_text(exc)) from None
        await self._profiles.put(u.tenant, u.extension, p.vendor, p.model, profile)
        log.info(
            "profile_saved",
            extra=fields(
                user=f"{u.tenant.id}/{u.extension}",
                model=f"{p.vendor}/{p.model}",
                keys=len(profile.keys),
                actor=request.actor,
            ),
        )
        await self._resync_user_on_model(u, p.vendor, p.model, request.actor)
        return self._message(u, p.vendor, p.model, profile)

    async def _resync_user_on_model(self, u: UserName, vendor: str, model: str, actor: str) -> None:
        """A changed profile shows at once where the user is logged in on
        that model."""
        device = await self._redis.hget(
            keys.user(u.tenant.group, u.tenant.id, u.extension), "device"
        )
        if not device:
            return
        got = await self._redis.hmget(keys.device(u.tenant.group, device), "vendor", "model")
        if got == [vendor, model]:
            await self.resync(device, actor)

    async def delete_profile(self, request: pb.DeleteProfileRequest) -> bool:
        self._model(request.vendor, request.model)
        u = await self._user(request.user)
        deleted = await self._profiles.delete(u.tenant, u.extension, request.vendor, request.model)
        log.info(
            "profile_deleted",
            extra=fields(
                user=f"{u.tenant.id}/{u.extension}",
                model=f"{request.vendor}/{request.model}",
                deleted=deleted,
                actor=request.actor,
            ),
        )
        return deleted

    async def list_profiles(self, ref: bpb.UserRef) -> list[pb.Profile]:
        u = await self._user(ref)
        stored = await self._profiles.all(u.tenant, u.extension)
        return [self._message(u, v, m, p) for (v, m), p in stored.items()]

    async def device_provisioning(
        self, tenant_id: str, device_id: str
    ) -> list[pb.DeviceProvisioning]:
        names: list[tuple[TenantConfig, str]] = []
        if device_id:
            tenant = await self._lookup.device_tenant(device_id)
            if tenant is None:
                raise NotFound(f"no device {device_id!r}")
            names = [(tenant, device_id)]
        else:
            if tenant_id and tenant_id not in self._tenants.by_id:
                raise NotFound(f"no tenant {tenant_id!r}")
            chosen = [self._tenants.by_id[tenant_id]] if tenant_id else self._tenants.by_id.values()
            for t in sorted(chosen, key=lambda t: t.id):
                members = await self._redis.smembers(keys.tenant_devices(t.group, t.id))
                names += [(t, d) for d in sorted(members)]
        async with self._redis.pipeline(transaction=False) as pipe:
            for t, d in names:
                pipe.hmget(
                    keys.device(t.group, d),
                    "vendor",
                    "model",
                    sessions.GENERATION,
                    *sessions.FIELDS,
                )
                pipe.hgetall(keys.provision_status(t.group, d))
            replies = await pipe.execute()
        out = []
        for (t, d), device, status in zip(names, replies[0::2], replies[1::2], strict=True):
            vendor, model, gen, *session_fields = device
            session = sessions.decode(session_fields)
            generation, fetched = int(gen or 0), int(status.get("fetched_gen", 0))
            out.append(
                pb.DeviceProvisioning(
                    device_id=d,
                    tenant=t.id,
                    vendor=vendor or "",
                    model=model or "",
                    generation=generation,
                    fetched_generation=fetched,
                    fetched_unix_ms=int(status.get("fetched_ms", 0)),
                    pushed_generation=int(status.get("pushed_gen", 0)),
                    pushed_unix_ms=int(status.get("pushed_ms", 0)),
                    push_result=push_result_enum(status.get("push_result", "")),
                    # Never fetched is pending, even before the first change.
                    provisioned=bool(status.get("fetched_ms")) and fetched >= generation,
                    user=session.user if session is not None else "",
                )
            )
        return out

    async def resync(self, device_id: str, actor: str) -> str:
        """Push a check-sync now; the outcome (delivered, not_registered, ...)."""
        tenant = await self._lookup.device_tenant(device_id)
        if tenant is None:
            raise NotFound(f"no device {device_id!r}")
        vendor = VENDORS.get(
            await self._redis.hget(keys.device(tenant.group, device_id), "vendor") or ""
        )
        if vendor is None:
            raise NotFound(f"device {device_id!r} has no known vendor")
        await self._bucket.take()
        sent = await self._send(device_id, tenant.domain, vendor.check_sync_event)
        outcome = await sent.outcome()
        metrics.PUSHES.labels(outcome).inc()
        log.info("resync", extra=fields(device=device_id, outcome=outcome, actor=actor))
        return outcome


def _validation_text(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
