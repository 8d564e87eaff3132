"""Applying a plan to Redis.

Users and devices that leave lose their session first, through the binding
core (so the event stream records the logout with reason ``directory``);
then every write is recorded per slot (``services.directory.slots``) and
goes out in MULTI/EXEC as ``services.directory.importer`` says.

Which keys an entry owns is its *footprint*; what an import deletes is the
old footprint minus the new one, so a user who changes a field keeps the
keys it has (and its session fields and PIN), and a device moving to a
tenant of another group or domain loses exactly the keys under the old one.
"""

from collections import defaultdict
from dataclasses import dataclass
from fnmatch import fnmatchcase

from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.auth.credentials import (
    credential_fields,
    peer_credential_fields,
    previous_credential_fields,
)
from services.binding.core import STREAM_MAXLEN, BindingCore
from services.directory.plan import DeviceStep, Plan, peer_sources_digest
from services.directory.slots import SlotBatches, slot_of
from services.kernel import keys, sessions
from services.kernel.secretbox import SecretBox
from services.kernel.tenants import TenantConfig

ACTOR = "directory-import"

# A device's credentials changed: a new generation and an event, which the
# provision service turns into a check-sync push (the phone fetches the
# file with its new secret). KEYS: the device hash, the group's stream.
_CREDENTIALS_EVENT = """
local gen = redis.call('HINCRBY', KEYS[1], 'gen', 1)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 'type', 'credentials',
  'device', ARGV[2], 'device_tenant', ARGV[3], 'actor', ARGV[4], 'gen', gen, 'ts_ms', ARGV[5])
return gen
"""


@dataclass(frozen=True)
class SecretRotation:
    """When a device's SIP secret changes, the old one stays valid until
    ``until_s`` (Unix seconds) and its phone is told to fetch its file;
    ``now_ms`` stamps the event."""

    until_s: int
    now_ms: int


@dataclass(frozen=True)
class _Footprint:
    keys: frozenset[str] = frozenset()  # owned outright
    members: frozenset[tuple[str, str]] = frozenset()  # (set, member)
    fields: frozenset[tuple[str, str]] = frozenset()  # (hash, field) in an index

    def __or__(self, other: "_Footprint") -> "_Footprint":
        return _Footprint(
            self.keys | other.keys, self.members | other.members, self.fields | other.fields
        )

    def __sub__(self, other: "_Footprint") -> "_Footprint":
        return _Footprint(
            self.keys - other.keys, self.members - other.members, self.fields - other.fields
        )


def _tenant_footprint(t: TenantConfig) -> _Footprint:
    return _Footprint(fields=frozenset({(keys.DIR_TENANTS, t.id), (keys.DIR_DOMAINS, t.domain)}))


def _user_footprint(
    t: TenantConfig, extension: str, hotdesk_id: str, dids: tuple[str, ...]
) -> _Footprint:
    g = t.group
    return _Footprint(
        keys=frozenset(
            {
                keys.user(g, t.id, extension),
                keys.pin(g, t.id, extension),
                keys.pin_digest(g, t.id, extension),
                keys.profiles(g, t.id, extension),
            }
        ),
        members=frozenset({(keys.tenant_users(g, t.id), extension)}),
        fields=frozenset(
            {(keys.DIR_NUMBERS, number) for number in dids}
            | ({(keys.DIR_HOTDESK_IDS, hotdesk_id)} if hotdesk_id else set())
            | {(keys.route_generations(g), keys.route_generation_of_user(t.id, extension))}
        ),
    )


def _peer_footprint(name: str, credentials_domain: str, username: str | None) -> _Footprint:
    return _Footprint(
        keys=frozenset({keys.sip_credentials(credentials_domain, username)} if username else ()),
        fields=frozenset({(keys.DIR_PEERS, name)}),
    )


def _device_footprint(t: TenantConfig, device_id: str, mac: str) -> _Footprint:
    g = t.group
    return _Footprint(
        keys=frozenset(
            {
                keys.device(g, device_id),
                keys.sip_credentials(t.domain, device_id),
                keys.pin_failures_device(g, device_id),
                keys.provision_status(g, device_id),
            }
        ),
        members=frozenset({(keys.tenant_devices(g, t.id), device_id)}),
        fields=frozenset(
            {
                (keys.DIR_DEVICES, device_id),
                (keys.DIR_MACS, mac),
                (keys.route_generations(g), keys.route_generation_of_device(device_id)),
            }
        ),
    )


def _stale(plan: Plan) -> _Footprint:
    """What the stored entries own that their new versions (if any) do not."""
    stale = _Footprint()
    for ts in plan.tenants:
        if ts.old is not None:
            new = _tenant_footprint(ts.new) if ts.new else _Footprint()
            stale |= _tenant_footprint(ts.old) - new
    for us in plan.users:
        if us.old is not None:
            f = us.old.fields
            old_dids = tuple(filter(None, f["dids"].split(",")))
            old = _user_footprint(us.old.tenant, us.old.extension, f["hotdesk_id"], old_dids)
            u = us.new
            new = (
                _user_footprint(
                    plan.file_tenants[u.tenant], u.extension, u.hotdesk_id or "", u.dids
                )
                if u
                else _Footprint()
            )
            stale |= old - new
    for ps in plan.peers:
        if ps.old is not None:
            p = ps.new
            new = _Footprint()
            if p is not None:
                creds = p.credentials
                domain = plan.file_tenants[p.tenants[0]].domain
                new = _peer_footprint(p.name, domain, creds.username if creds else None)
            old_peer = ps.old
            stale |= (
                _peer_footprint(
                    old_peer.name, old_peer.credentials_domain, old_peer.config.username
                )
                - new
            )
    for ds in plan.devices:
        if ds.old is not None:
            d = ds.new
            new = _device_footprint(plan.file_tenants[d.tenant], d.id, d.mac) if d else _Footprint()
            stale |= _device_footprint(ds.old.tenant, ds.old.id, ds.old.fields["mac"]) - new
    return stale


async def end_sessions(core: BindingCore, plan: Plan) -> list[pb.Binding]:
    """Log out every leaving user and device (whether or not the snapshot
    showed a session: one may have started since)."""
    ended: list[pb.Binding] = []
    reason = pb.CHANGE_REASON_DIRECTORY
    for u in plan.leaving_users():
        ref = pb.UserRef(tenant=u.tenant.id, extension=u.extension)
        r = await core.logout_user(ref, reason=reason, actor=ACTOR)
        if r.result == pb.LOGOUT_RESULT_LOGGED_OUT:
            ended.append(r.ended)
    for d in plan.leaving_devices():
        r = await core.logout_device(d.id, reason=reason, actor=ACTOR)
        if r.result == pb.LOGOUT_RESULT_LOGGED_OUT:
            ended.append(r.ended)
    return ended


@dataclass(frozen=True)
class Leaving:
    """The hashes of leaving users and devices (those of one slot, with
    ``in_slot``), which a transaction writing them WATCHes."""

    users: tuple[str, ...]
    devices: tuple[str, ...]

    @classmethod
    def of(cls, plan: Plan) -> "Leaving":
        return cls(
            tuple(
                keys.user(u.tenant.group, u.tenant.id, u.extension) for u in plan.leaving_users()
            ),
            tuple(keys.device(d.tenant.group, d.id) for d in plan.leaving_devices()),
        )

    def in_slot(self, slot: int) -> "Leaving":
        return Leaving(
            tuple(k for k in self.users if slot_of(k) == slot),
            tuple(k for k in self.devices if slot_of(k) == slot),
        )


async def watch_leaving(tx: Redis, redis: Redis, leaving: Leaving) -> bool:
    """WATCH the hashes of ``leaving`` on ``tx``; whether none of them has a
    session now. A login after ``end_sessions`` either shows here (False:
    end the sessions again) or fails the transaction."""
    if not leaving.users and not leaving.devices:
        return True
    await tx.watch(*leaving.users, *leaving.devices)
    async with redis.pipeline(transaction=False) as pipe:
        for name in leaving.users:
            pipe.hget(name, sessions.USER_DEVICE)
        for name in leaving.devices:
            pipe.hget(name, sessions.USER_EXT)
        return not any(await pipe.execute())


async def stale_lockout_counters(redis: Redis, plan: Plan) -> list[str]:
    """The auth service's PIN failure counters of users who leave (on any
    device) and of anyone on devices that leave their group, so that an
    entry added back later does not inherit a lockout. Found by one SCAN per
    group concerned (the device-wide counter is in the device footprint)."""
    patterns: dict[str, list[str]] = defaultdict(list)
    for u in plan.leaving_users():
        g = u.tenant.group
        patterns[g].append(keys.pin_failures_user_device(g, u.tenant.id, u.extension, "*"))
    for ds in plan.devices:
        if ds.old is None:
            continue
        g = ds.old.tenant.group
        if ds.new is None or plan.file_tenants[ds.new.tenant].group != g:
            patterns[g].append(keys.pin_failures_user_device(g, "*", "*", ds.old.id))
    found = []
    for g, wanted in patterns.items():
        every = keys.pin_failures_user_device(g, "*", "*", "*")
        async for name in redis.scan_iter(match=every, count=1000):
            if any(fnmatchcase(name, pattern) for pattern in wanted):
                found.append(name)
    return found


def _queue_rotation(
    tx: SlotBatches, ds: DeviceStep, t: TenantConfig, rotation: SecretRotation
) -> None:
    """A device that keeps its realm and gets a new SIP secret: the old one
    stays valid for a while, and its phone is told."""
    old = ds.old
    if old is None or not old.ha1 or old.tenant.domain != t.domain:
        return
    if not any(c.name == "sip_secret" for c in ds.changes):
        return
    name = keys.sip_credentials(t.domain, old.id)
    tx.hset(name, mapping=previous_credential_fields(old.ha1, old.secret_sealed, rotation.until_s))
    tx.eval(
        _CREDENTIALS_EVENT,
        2,
        keys.device(t.group, old.id),
        keys.events(t.group),
        STREAM_MAXLEN,
        old.id,
        t.id,
        ACTOR,
        rotation.now_ms,
    )


def queue_writes(
    tx: SlotBatches,
    plan: Plan,
    new_pins: dict[str, tuple[str, str]],
    extra_deletes: list[str],
    box: SecretBox,
    rotation: SecretRotation,
) -> None:
    """Record the plan's writes on ``tx``: first what goes, then what the
    file says, so that an index entry moving from one entry to another
    (a hot-desk id, a domain) ends up with the new owner. ``new_pins``
    holds the hash and digest ("" without a digest key) of each user of
    ``plan.new_pins``, by user."""
    stale = _stale(plan)
    if stale.keys or extra_deletes:
        tx.delete(*sorted(stale.keys), *extra_deletes)
    members: dict[str, list[str]] = defaultdict(list)
    for name, member in sorted(stale.members):
        members[name].append(member)
    for name, gone in members.items():
        tx.srem(name, *gone)
    fields: dict[str, list[str]] = defaultdict(list)
    for name, field in sorted(stale.fields):
        fields[name].append(field)
    for name, gone in fields.items():
        tx.hdel(name, *gone)

    for ts in plan.tenants:
        if ts.new is not None:
            tx.hset(keys.DIR_TENANTS, ts.new.id, ts.new.model_dump_json())
            tx.hset(keys.DIR_DOMAINS, ts.new.domain, ts.new.id)
    for us in plan.users:
        if us.new is not None:
            u, t = us.new, plan.file_tenants[us.new.tenant]
            tx.hset(keys.user(t.group, t.id, u.extension), mapping=u.static_fields())
            tx.sadd(keys.tenant_users(t.group, t.id), u.extension)
            if u.hotdesk_id:
                tx.hset(keys.DIR_HOTDESK_IDS, u.hotdesk_id, u.ref)
    for u, _ in plan.new_pins:
        t = plan.file_tenants[u.tenant]
        pin_hash, digest = new_pins[u.ref]
        tx.set(keys.pin(t.group, t.id, u.extension), pin_hash)
        if digest:
            tx.set(keys.pin_digest(t.group, t.id, u.extension), digest)
        else:
            tx.delete(keys.pin_digest(t.group, t.id, u.extension))
    for u, digest in plan.pin_digests:
        t = plan.file_tenants[u.tenant]
        tx.set(keys.pin_digest(t.group, t.id, u.extension), digest)
    for ds in plan.devices:
        if ds.new is not None:
            d, t = ds.new, plan.file_tenants[ds.new.tenant]
            tx.hset(keys.device(t.group, d.id), mapping=d.static_fields())
            tx.sadd(keys.tenant_devices(t.group, t.id), d.id)
            tx.hset(keys.DIR_DEVICES, d.id, t.id)
            tx.hset(keys.DIR_MACS, d.mac, d.id)
            creds = credential_fields(d.id, t.domain, d.sip_secret, box)
            name = keys.sip_credentials(t.domain, d.id)
            # What an import before sealing wrote in the clear goes.
            tx.hdel(name, "secret")
            tx.hset(name, mapping=creds | plan.emergency[d.id])
            _queue_rotation(tx, ds, t, rotation)
    for us in plan.users:
        if us.new is not None:
            for number in us.new.dids:
                tx.hset(keys.DIR_NUMBERS, number, us.new.ref)
    for ps in plan.peers:
        if ps.new is not None:
            p = ps.new
            tx.hset(keys.DIR_PEERS, p.name, p.config().model_dump_json())
            if p.credentials is not None:
                domain = plan.file_tenants[p.tenants[0]].domain
                creds = peer_credential_fields(
                    p.name, p.credentials.username, domain, p.credentials.password
                )
                tx.hset(keys.sip_credentials(domain, p.credentials.username), mapping=creds)
    if plan.peer_sources is not None:
        digest = peer_sources_digest(plan.peer_sources)
        tx.hset(keys.DIR_PEER_SOURCES, mapping={"file": plan.peer_sources, "digest": digest})
