"""What Redis holds of the directory, read in two round trips: the tenants
and their member sets, then every user's and device's hash."""

from dataclasses import dataclass

from redis.asyncio import Redis

from services.directory.emergency import EMERGENCY_FIELDS
from services.kernel import keys, sessions
from services.kernel.peers import PeerConfig
from services.kernel.records import stored
from services.kernel.tenants import TenantConfig

USER_FIELDS = ("name", "caller_id", "hotdesk", "hotdesk_id", "dids", "unavailable")
DEVICE_FIELDS = ("tenant", "mac", "vendor", "model", "emergency_cid", "hotdesk", "location")


@dataclass(frozen=True)
class StoredUser:
    tenant: TenantConfig
    extension: str
    fields: dict[str, str]  # the static fields (USER_FIELDS), "" where unset
    pin_hash: str | None
    pin_digest: str | None  # written with pin_hash by an import (directory.digest)
    device: str  # where the user is logged in, "" if nowhere

    @property
    def ref(self) -> str:
        return f"{self.tenant.id}/{self.extension}"


@dataclass(frozen=True)
class StoredDevice:
    id: str
    tenant: TenantConfig
    fields: dict[str, str]  # the static fields (DEVICE_FIELDS), "" where unset
    ha1: str  # of the SIP credentials, "" if there are none
    sealed: bool  # the SIP secret is stored sealed only (not by an older import)
    secret_sealed: str  # the stored sealed copy ("" if none)
    user: str  # "tenant/extension" of who is logged in, "" if idle
    mac_indexed: bool  # the MAC index names this device for its MAC
    emergency: dict[str, str]  # Kamailio's emergency data (EMERGENCY_FIELDS), "" where unset


@dataclass(frozen=True)
class StoredPeer:
    config: PeerConfig
    # Where its credentials are (the domain of its first tenant when it
    # was imported) and their HA1; "" for a peer without credentials.
    credentials_domain: str
    ha1: str

    @property
    def name(self) -> str:
        return self.config.name


@dataclass(frozen=True)
class Stored:
    tenants: dict[str, TenantConfig]
    users: dict[tuple[str, str], StoredUser]  # by (tenant, extension)
    devices: dict[str, StoredDevice]
    peers: dict[str, StoredPeer]
    peer_sources_digest: str  # of the address list Kamailio loads, "" if none


async def read_stored(redis: Redis) -> Stored:
    tenants = {
        tid: stored(TenantConfig, doc)
        for tid, doc in (await redis.hgetall(keys.DIR_TENANTS)).items()
    }
    peer_configs = [
        stored(PeerConfig, doc) for doc in (await redis.hgetall(keys.DIR_PEERS)).values()
    ]
    order = sorted(tenants.values(), key=lambda t: t.id)
    async with redis.pipeline(transaction=False) as pipe:
        for t in order:
            pipe.smembers(keys.tenant_users(t.group, t.id))
            pipe.smembers(keys.tenant_devices(t.group, t.id))
        members = await pipe.execute()
    user_names = [(t, ext) for i, t in enumerate(order) for ext in sorted(members[2 * i])]
    device_names = [(t, d) for i, t in enumerate(order) for d in sorted(members[2 * i + 1])]

    async with redis.pipeline(transaction=False) as pipe:
        for t, ext in user_names:
            pipe.hmget(keys.user(t.group, t.id, ext), *USER_FIELDS, sessions.USER_DEVICE)
            pipe.get(keys.pin(t.group, t.id, ext))
            pipe.get(keys.pin_digest(t.group, t.id, ext))
        for t, device_id in device_names:
            pipe.hmget(keys.device(t.group, device_id), *DEVICE_FIELDS, *sessions.FIELDS)
            pipe.hmget(
                keys.sip_credentials(t.domain, device_id),
                "ha1",
                "secret_sealed",
                "secret",
                *EMERGENCY_FIELDS,
            )
        peer_domains = [_credentials_domain(p, tenants) for p in peer_configs]
        for p, domain in zip(peer_configs, peer_domains, strict=True):
            pipe.hget(keys.sip_credentials(domain, p.username or ""), "ha1")
        pipe.hget(keys.DIR_PEER_SOURCES, "digest")
        pipe.hgetall(keys.DIR_MACS)
        *replies, sources_digest, macs = await pipe.execute()
    split = len(replies) - len(peer_configs)
    replies, peer_ha1s = replies[:split], replies[split:]
    peers = {
        p.name: StoredPeer(p, domain, (ha1 or "") if p.username else "")
        for p, domain, ha1 in zip(peer_configs, peer_domains, peer_ha1s, strict=True)
    }

    offset = 3 * len(user_names)
    user_replies, device_replies = replies[:offset], replies[offset:]
    users = {}
    for (t, ext), values, pin_hash, pin_digest in zip(
        user_names, user_replies[0::3], user_replies[1::3], user_replies[2::3], strict=True
    ):
        *static, device = values
        fields = dict(zip(USER_FIELDS, (v or "" for v in static), strict=True))
        users[(t.id, ext)] = StoredUser(t, ext, fields, pin_hash, pin_digest, device or "")
    devices = {}
    for (t, device_id), values, (ha1, sealed, clear, *emergency) in zip(
        device_names, device_replies[0::2], device_replies[1::2], strict=True
    ):
        static, session_fields = values[: len(DEVICE_FIELDS)], values[len(DEVICE_FIELDS) :]
        fields = dict(zip(DEVICE_FIELDS, (v or "" for v in static), strict=True))
        session = sessions.decode(session_fields)
        user = session.user if session is not None else ""
        indexed = macs.get(fields["mac"]) == device_id
        devices[device_id] = StoredDevice(
            device_id,
            t,
            fields,
            ha1 or "",
            bool(sealed) and clear is None,
            sealed or "",
            user,
            indexed,
            dict(zip(EMERGENCY_FIELDS, (v or "" for v in emergency), strict=True)),
        )
    return Stored(tenants, users, devices, peers, sources_digest or "")


def _credentials_domain(peer: PeerConfig, tenants: dict[str, TenantConfig]) -> str:
    """Where a registering peer's credentials are: its first tenant's domain
    ("" for a peer without credentials, or whose tenant is gone)."""
    tenant = tenants.get(peer.tenants[0])
    return tenant.domain if tenant is not None and peer.username else ""
