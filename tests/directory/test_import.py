"""Importing directories into a real redis-server."""

import asyncio
import hashlib
import json
import time
from typing import Any

import pytest
import redis as sync_redis
from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.auth.credentials import sip_ha1, sip_ha1b
from services.auth.pins import PinHasher
from services.binding.core import BindingCore
from services.directory.emergency import EMERGENCY_FIELDS
from services.directory.importer import DirectoryImporter, ImportReport
from services.directory.load import load_directory, parse_directory
from services.directory.lock import ImportConflict
from services.directory.model import Directory
from services.directory.plan import PlanRefused
from services.kernel import keys
from services.kernel.peers import PeerConfig
from services.kernel.secretbox import sip_secret_context
from services.kernel.tenants import TenantCache
from tests.directory.support import (
    CHEAP,
    EXAMPLE,
    GROUP,
    dump,
    edited,
    mentions,
    without_entry,
)
from tests.support.redis_server import RedisServer
from tests.support.secrets import sealing_box

SESSION_FIELDS = {
    "device": ("user_tenant", "user_ext", "since_ms", "expires_ms", "gen"),
    "user": ("device", "since_ms"),
}


def directory(text: str) -> Directory:
    return parse_directory(text, "d.yaml")


async def core_of(redis: Redis) -> BindingCore:
    return BindingCore(redis, TenantCache(redis))


async def login(core: BindingCore, device: str, ext: str, tenant: str = "acme") -> None:
    r = await core.login(
        device, pb.UserRef(tenant=tenant, extension=ext), allow_takeover=False, actor="test"
    )
    assert r.result == pb.LOGIN_RESULT_LOGGED_IN


async def imported(redis: Redis, text: str | None = None, **kw: Any) -> ImportReport:
    d = load_directory(EXAMPLE) if text is None else directory(text)
    return await DirectoryImporter(redis, CHEAP, **kw, box=sealing_box()).apply(d)


async def test_import_of_the_example_writes_the_schema(redis: Redis) -> None:
    report = await imported(redis)
    assert [str(s) for s in report.added] == [
        "+ tenant acme",
        "+ tenant globex",
        "+ user acme/1001",
        "+ user acme/1002",
        "+ user acme/1003",
        "+ user acme/2001",
        "+ user globex/3001",
        "+ device gx4001",
        "+ device hd3001",
        "+ device hd3002",
        "+ device hd3003",
        "+ peer demo-emergency",
        "+ peer demo-pstn",
    ]
    assert report.lines()[-1] == "13 added, 0 changed, 0 removed (directory version 1)"
    assert await redis.get(keys.DIR_VERSION) == "1"

    assert await redis.hgetall(keys.user(GROUP, "acme", "1001")) == {
        "name": "Alice Example",
        "caller_id": "+4930123451001",
        "hotdesk": "1",
        "hotdesk_id": "alice",
        "dids": "+4930123451001",
        "unavailable": "",
    }
    carol_rule = await redis.hget(keys.user(GROUP, "acme", "1003"), "unavailable")
    assert json.loads(carol_rule) == {
        "action": "forward",
        "target": "+4917612345003",
        "ring_seconds": 20,
    }
    assert await redis.hget(keys.user(GROUP, "acme", "2001"), "hotdesk") == "0"
    hd3003 = await redis.hgetall(keys.device(GROUP, "hd3003"))
    # The desk's own fields over its tenant's location.
    assert json.loads(hd3003.pop("location")) == {
        "country": "DE",
        "a1": "Berlin",
        "a3": "Berlin",
        "street": "Friedrichstraße",
        "number": "123",
        "postal_code": "10117",
        "name": "Acme GmbH",
        "floor": "2",
        "room": "2.01",
        "latitude": 52.5074,
        "longitude": 13.3904,
    }
    assert hd3003 == {
        "tenant": "acme",
        "mac": "0004f2aa3003",
        "vendor": "polycom",
        "model": "VVX450",
        "emergency_cid": "+4930123450100",
        "hotdesk": "1",
    }
    pin_hash = await redis.get(keys.pin(GROUP, "acme", "1001"))
    assert pin_hash.startswith("$argon2id$") and CHEAP.verify(pin_hash, "4711")
    assert await redis.get(keys.pin(GROUP, "acme", "2001")) is None

    creds = await redis.hgetall(keys.sip_credentials("hotdesk.local", "hd3001"))
    sealed = creds.pop("secret_sealed")
    emergency = {name: creds.pop(name) for name in EMERGENCY_FIELDS}
    assert emergency["ecid"] == "+4930123450100"
    assert "<ca:FLR>3</ca:FLR><ca:NAM>Acme GmbH</ca:NAM>" in emergency["pidf"]
    assert emergency["eroutes"] == "sip:127.0.0.1:5091"  # demo-emergency
    assert emergency["enums"] == "112|911"
    assert emergency["cb_s"] == "3600"
    assert emergency["cb_peers"] == "demo-pstn"  # the inbound peer serving acme
    assert emergency["n_msg"] == "sip:security@127.0.0.1:5093"
    assert emergency["n_hook"] == "http://127.0.0.1:5094/emergency"
    # The webhook key only where Kamailio reads a desk's emergency data.
    assert emergency["n_key"] == "demo-webhook-key-0123456789abcdef"
    assert "demo-webhook-key" not in await redis.hget(keys.DIR_TENANTS, "acme")
    assert creds == {
        "ha1": sip_ha1("hd3001", "hotdesk.local", "demo-secret-hd3001"),
        "ha1b": sip_ha1b("hd3001", "hotdesk.local", "hotdesk.local", "demo-secret-hd3001"),
    }
    # The secret is in Redis only sealed (its phone's file needs it back).
    context = sip_secret_context("hotdesk.local", "hd3001")
    assert sealing_box().open(sealed, context) == "demo-secret-hd3001"
    assert "demo-secret" not in str(await dump(redis))
    assert await redis.hget(keys.sip_credentials("globex.local", "gx4001"), "ha1") == sip_ha1(
        "gx4001", "globex.local", "demo-secret-gx4001"
    )

    tenants = await redis.hgetall(keys.DIR_TENANTS)
    assert tenants.keys() == {"acme", "globex"}
    assert load_directory(EXAMPLE).tenants[0].model_dump_json() == tenants["acme"]
    assert await redis.hgetall(keys.DIR_DOMAINS) == {
        "hotdesk.local": "acme",
        "globex.local": "globex",
    }
    assert await redis.hgetall(keys.DIR_HOTDESK_IDS) == {"alice": "acme/1001", "gus": "globex/3001"}
    assert await redis.hgetall(keys.DIR_DEVICES) == {
        "hd3001": "acme",
        "hd3002": "acme",
        "hd3003": "acme",
        "gx4001": "globex",
    }
    assert await redis.hgetall(keys.DIR_MACS) == {
        "001565aa3001": "hd3001",
        "001565aa3002": "hd3002",
        "0004f2aa3003": "hd3003",
        "001565bb4001": "gx4001",
    }
    assert await redis.smembers(keys.tenant_users(GROUP, "acme")) == {
        "1001",
        "1002",
        "1003",
        "2001",
    }
    assert await redis.smembers(keys.tenant_devices(GROUP, "globex")) == {"gx4001"}

    assert await redis.hgetall(keys.DIR_NUMBERS) == {
        "+4930123451001": "acme/1001",
        "+4930123451002": "acme/1002",
        "+4930123451003": "acme/1003",
        "+4930123452001": "acme/2001",
        "+442071234001": "globex/3001",
    }
    peers = await redis.hgetall(keys.DIR_PEERS)
    assert PeerConfig.model_validate_json(peers["demo-pstn"]) == PeerConfig(
        name="demo-pstn",
        tenants=("acme", "globex"),
        direction="both",
        addresses=("127.0.0.1:5092",),
        destination="sip:127.0.0.1:5092",
        numbers=("+4930123451", "+4930123452", "+442071234"),
    )
    sources = await redis.hgetall(keys.DIR_PEER_SOURCES)
    assert sources["file"].splitlines()[1:] == ["1 127.0.0.1 32 5092 demo-pstn"]
    assert sources["digest"] == hashlib.sha256(sources["file"].encode()).hexdigest()


async def test_reimport_changes_nothing(redis: Redis) -> None:
    await imported(redis)
    before = await dump(redis)
    again = await imported(redis)
    assert again.unchanged and again.version == 1
    assert again.lines() == ["0 added, 0 changed, 0 removed (directory version 1)"]
    assert await dump(redis) == before  # PIN hashes too: verified, not re-salted


async def test_changes_are_reported_and_applied_and_sessions_kept(redis: Redis) -> None:
    await imported(redis)
    core = await core_of(redis)
    await login(core, "hd3001", "1001")
    device_key, user_key = keys.device(GROUP, "hd3001"), keys.user(GROUP, "acme", "1001")
    session_before = (
        await redis.hmget(device_key, *SESSION_FIELDS["device"]),
        await redis.hmget(user_key, *SESSION_FIELDS["user"]),
    )
    old_pin_hash = await redis.get(keys.pin(GROUP, "acme", "1002"))

    report = await imported(
        redis,
        edited(
            ("name: Alice Example", "name: Alice Renamed"),
            ("hotdesk_id: alice ", "hotdesk_id: alice2 "),
            ("model: T54W\n    tenant: acme", "model: T57W\n    tenant: acme"),
            ("sip_secret: demo-secret-hd3001", "sip_secret: new-secret-hd3001"),
            ('pin: "8264"', 'pin: "9462"'),
            ('daily_logout: "23:30"', 'daily_logout: "22:00"'),
            ('login: "*45"', 'login: "*44"'),
        ),
    )
    assert report.lines() == [
        "~ tenant acme: feature_codes.login *45 -> *44; daily_logout 23:30 -> 22:00",
        "~ user acme/1001: name Alice Example -> Alice Renamed; hotdesk_id alice -> alice2",
        "~ user acme/1002: pin changed",
        "~ device hd3001: model T54W -> T57W; sip_secret changed",
        "0 added, 4 changed, 0 removed (directory version 2)",
    ]
    session_after = (
        await redis.hmget(device_key, *SESSION_FIELDS["device"]),
        await redis.hmget(user_key, *SESSION_FIELDS["user"]),
    )
    # The session stays; the new secret is a new generation (its phone is
    # told to fetch the file that carries it).
    gen = SESSION_FIELDS["device"].index("gen")
    assert int(session_after[0][gen]) == int(session_before[0][gen]) + 1
    session_after[0][gen] = session_before[0][gen]
    assert session_after == session_before and session_before[0][1] == "1001"
    state = await core.get_by_device("hd3001")
    assert state is not None and state.model == "T57W"
    assert state.binding.display_name == "Alice Renamed"

    assert await redis.hgetall(keys.DIR_HOTDESK_IDS) == {
        "alice2": "acme/1001",
        "gus": "globex/3001",
    }
    creds = await redis.hgetall(keys.sip_credentials("hotdesk.local", "hd3001"))
    assert creds["ha1"] == sip_ha1("hd3001", "hotdesk.local", "new-secret-hd3001")
    new_pin_hash = await redis.get(keys.pin(GROUP, "acme", "1002"))
    assert new_pin_hash != old_pin_hash and CHEAP.verify(new_pin_hash, "9462")
    tenant = TenantCache(redis)
    await tenant.refresh()
    assert tenant.by_id["acme"].feature_codes.login == "*44"


async def test_a_replaced_sip_secret_stays_valid_for_the_grace_and_the_phone_is_told(
    redis: Redis,
) -> None:
    await imported(redis)
    name = keys.sip_credentials("hotdesk.local", "hd3001")
    old = await redis.hgetall(name)
    events_before = await redis.xlen(keys.events(GROUP))
    gen_before = int(await redis.hget(keys.device(GROUP, "hd3001"), "gen") or 0)
    started = int(time.time())
    await imported(
        redis,
        edited(("sip_secret: demo-secret-hd3001", "sip_secret: new-secret-hd3001")),
        secret_grace_seconds=3600,
    )
    creds = await redis.hgetall(name)
    assert creds["ha1"] == sip_ha1("hd3001", "hotdesk.local", "new-secret-hd3001")
    assert creds["ha1_prev"] == old["ha1"]
    assert creds["secret_prev_sealed"] == old["secret_sealed"]
    assert started + 3600 <= int(creds["prev_until"]) <= int(time.time()) + 3600
    box, context = sealing_box(), sip_secret_context("hotdesk.local", "hd3001")
    assert box.open(creds["secret_prev_sealed"], context) == "demo-secret-hd3001"
    assert box.open(creds["secret_sealed"], context) == "new-secret-hd3001"
    # A new generation, and the event the provision service pushes from.
    assert int(await redis.hget(keys.device(GROUP, "hd3001"), "gen")) == gen_before + 1
    assert await redis.xlen(keys.events(GROUP)) == events_before + 1
    ((_, event),) = await redis.xrevrange(keys.events(GROUP), count=1)
    assert (event["type"], event["device"], event["gen"]) == (
        "credentials",
        "hd3001",
        str(gen_before + 1),
    )
    # An import that leaves the secret alone changes none of it.
    await imported(
        redis, edited(("sip_secret: demo-secret-hd3001", "sip_secret: new-secret-hd3001"))
    )
    assert await redis.hgetall(name) == creds
    assert await redis.xlen(keys.events(GROUP)) == events_before + 1


async def test_removal_ends_sessions_and_removes_every_key(redis: Redis) -> None:
    await imported(redis)
    core = await core_of(redis)
    await login(core, "hd3002", "1001")  # a user who leaves, on a device that stays
    await login(core, "hd3001", "1003")  # a user who stays, on a device that leaves
    await redis.hset(keys.pin_failures_user_device(GROUP, "acme", "1001", "hd3003"), "fails", 2)
    await redis.hset(keys.pin_failures_user_device(GROUP, "acme", "1002", "hd3001"), "fails", 1)
    await redis.hset(keys.pin_failures_device(GROUP, "hd3001"), "fails", 5)
    kept_counter = keys.pin_failures_user_device(GROUP, "acme", "1002", "hd3003")
    await redis.hset(kept_counter, "fails", 1)
    # What the provision service keeps goes with the user and the device.
    await redis.hset(keys.profiles(GROUP, "acme", "1001"), "yealink/T54W", "{}")
    await redis.hset(keys.provision_status(GROUP, "hd3001"), "fetched_gen", 3)

    text = without_entry(EXAMPLE.read_text(), '  - tenant: acme\n    extension: "1001"')
    text = without_entry(text, "  - id: hd3001")
    report = await imported(redis, text)

    assert report.lines() == [
        "- user acme/1001",
        "- device hd3001",
        "  logged out acme/1001 on hd3002",
        "  logged out acme/1003 on hd3001",
        "0 added, 0 changed, 2 removed (directory version 2)",
    ]
    state = await dump(redis)
    assert mentions(state, "hd3001") == []
    assert mentions(state, "1001") == []
    assert "alice" not in state[keys.DIR_HOTDESK_IDS][1]
    assert kept_counter in state
    events = [e for _, e in await redis.xrange(keys.events(GROUP))][-2:]
    assert [(e["device"], e["reason"], e["actor"]) for e in events] == [
        ("hd3002", "directory", "directory-import"),
        ("hd3001", "directory", "directory-import"),
    ]
    idle = await core.get_by_device("hd3002")
    assert idle is not None and not idle.HasField("binding")
    assert (await core.get_by_user(pb.UserRef(tenant="acme", extension="1003"))).known
    # What stays is exactly what importing the smaller file anew gives.
    assert (await imported(redis, text)).unchanged


async def test_removing_a_tenant_removes_its_users_and_devices(redis: Redis) -> None:
    await imported(redis)
    await login(await core_of(redis), "gx4001", "1002")  # a cross-tenant session
    text = EXAMPLE.read_text().replace("tenants: [acme, globex]", "tenants: [acme]")
    text = without_entry(text, "  - id: globex")
    text = without_entry(text, '  - tenant: globex\n    extension: "3001"')
    text = without_entry(text, "  - id: gx4001")
    report = await imported(redis, text)
    assert [str(s) for s in report.removed] == [
        "- tenant globex",
        "- user globex/3001",
        "- device gx4001",
    ]
    assert [f"{b.tenant}/{b.extension}@{b.device_id}" for b in report.sessions_ended] == [
        "acme/1002@gx4001"
    ]
    state = await dump(redis)
    assert mentions(state, "globex") == []
    assert mentions(state, "gx4001") == []
    assert await redis.hgetall(keys.DIR_DOMAINS) == {"hotdesk.local": "acme"}


async def test_a_device_moving_tenant_moves_its_keys(redis: Redis) -> None:
    await imported(redis)
    await login(await core_of(redis), "hd3003", "1003")
    report = await imported(
        redis,
        edited(("model: VVX450\n    tenant: acme", "model: VVX450\n    tenant: globex")),
    )
    assert report.lines() == [
        "~ device hd3003: tenant acme -> globex; location Friedrichstraße 123, 10117 Berlin, "
        "DE, floor 2, room 2.01, 52.507400,13.390400 -> floor 2, room 2.01, "
        "52.507400,13.390400; sip realm hotdesk.local -> globex.local; emergency data changed",
        "  logged out acme/1003 on hd3003",
        "0 added, 1 changed, 0 removed (directory version 2)",
    ]
    assert not await redis.exists(keys.sip_credentials("hotdesk.local", "hd3003"))
    assert await redis.hget(keys.sip_credentials("globex.local", "hd3003"), "ha1") == sip_ha1(
        "hd3003", "globex.local", "demo-secret-hd3003"
    )
    assert await redis.hget(keys.DIR_DEVICES, "hd3003") == "globex"
    assert not await redis.sismember(keys.tenant_devices(GROUP, "acme"), "hd3003")
    assert await redis.sismember(keys.tenant_devices(GROUP, "globex"), "hd3003")
    device = await redis.hgetall(keys.device(GROUP, "hd3003"))
    assert device["tenant"] == "globex" and "user_ext" not in device


async def test_a_tenant_changing_domain_moves_credentials_and_index(redis: Redis) -> None:
    await imported(redis)
    report = await imported(redis, edited(("domain: globex.local", "domain: globex.example")))
    assert [str(s) for s in report.changed] == [
        "~ tenant globex: domain globex.local -> globex.example",
        # The PIDF-LO names the device in its tenant's domain.
        "~ device gx4001: sip realm globex.local -> globex.example; emergency data changed",
    ]
    assert await redis.hget(keys.DIR_DOMAINS, "globex.example") == "globex"
    assert await redis.hget(keys.DIR_DOMAINS, "globex.local") is None
    assert not await redis.exists(keys.sip_credentials("globex.local", "gx4001"))
    creds = await redis.hgetall(keys.sip_credentials("globex.example", "gx4001"))
    assert creds["ha1"] == sip_ha1("gx4001", "globex.example", "demo-secret-gx4001")


async def test_a_pin_set_through_the_api_survives_a_file_without_one(redis: Redis) -> None:
    await imported(redis)
    await redis.set(keys.pin(GROUP, "acme", "2001"), CHEAP.hash("2468"))
    text = edited(('    pin: "5173"\n', ""))  # 1003 no longer has a PIN in the file
    report = await imported(redis, text)
    assert report.unchanged
    assert CHEAP.verify(await redis.get(keys.pin(GROUP, "acme", "2001")), "2468")
    assert CHEAP.verify(await redis.get(keys.pin(GROUP, "acme", "1003")), "5173")


async def test_a_group_change_is_refused_and_nothing_written(redis: Redis) -> None:
    await imported(redis)
    before = await dump(redis)
    text = edited(
        ("London\n    cross_tenant_group: acme-group", "London\n    cross_tenant_group: other")
    )
    with pytest.raises(PlanRefused, match="remove the tenant first"):
        await imported(redis, text)
    assert await dump(redis) == before


async def test_a_missing_mac_index_is_written_by_the_next_import(redis: Redis) -> None:
    """Devices imported before the MAC index existed get it on re-import."""
    await imported(redis)
    await redis.hdel(keys.DIR_MACS, "001565aa3002")
    report = await imported(redis)
    assert [str(s) for s in report.changed] == ["~ device hd3002: mac index (none) -> written"]
    assert await redis.hget(keys.DIR_MACS, "001565aa3002") == "hd3002"
    assert (await imported(redis)).unchanged


async def test_dry_run_reports_and_writes_nothing(redis: Redis) -> None:
    await imported(redis)
    await login(await core_of(redis), "hd3002", "1001")
    before = await dump(redis)
    text = without_entry(EXAMPLE.read_text(), '  - tenant: acme\n    extension: "1001"')
    d = directory(text.replace("name: Bob Example", "name: Bob B"))
    report = await DirectoryImporter(redis, CHEAP, box=sealing_box()).apply(d, dry_run=True)
    assert report.lines() == [
        "- user acme/1001",
        "~ user acme/1002: name Bob Example -> Bob B",
        "  would log out acme/1001 on hd3002",
        "dry run, nothing written: 0 added, 1 changed, 1 removed",
    ]
    assert await dump(redis) == before


class InterferingHasher(PinHasher):
    """Cheap argon2 that, on the first ``times`` verifications (which run
    inside an import's WATCH window), lets another writer change the
    directory the way a concurrent import would."""

    def __init__(self, url: str, times: int = 1) -> None:
        super().__init__(time_cost=1, memory_cost_kib=8, parallelism=1)
        self._url, self._times = url, times

    def verify(self, pin_hash: str, pin: str) -> bool:
        if self._times > 0:
            self._times -= 1
            with sync_redis.Redis.from_url(self._url, decode_responses=True) as other:
                other.hset(keys.user(GROUP, "acme", "9999"), mapping={"name": "Stray"})
                other.sadd(keys.tenant_users(GROUP, "acme"), "9999")
                other.incr(keys.DIR_VERSION)
        return super().verify(pin_hash, pin)


async def test_a_concurrent_import_makes_the_import_start_over(
    redis: Redis, redis_server: RedisServer
) -> None:
    await imported(redis)
    hasher = InterferingHasher(redis_server.url)
    d = directory(edited(("name: Bob Example", "name: Bob B")))
    report = await DirectoryImporter(redis, hasher, box=sealing_box()).apply(d)
    # Planned again on what the other writer left: its user goes too.
    assert [str(s) for s in report.plan.steps] == [
        "~ user acme/1002: name Bob Example -> Bob B",
        "- user acme/9999",
    ]
    assert report.version == 3  # 1, the other writer's 2, this import's 3
    assert not await redis.sismember(keys.tenant_users(GROUP, "acme"), "9999")
    assert await redis.hget(keys.user(GROUP, "acme", "1002"), "name") == "Bob B"


async def test_two_imports_at_once_do_not_interleave(redis: Redis) -> None:
    await imported(redis)
    a = directory(edited(("name: Bob Example", "name: Bob A"), ('pin: "8264"', 'pin: "9462"')))
    b = directory(edited(("name: Bob Example", "name: Bob B"), ('pin: "4711"', 'pin: "1357"')))
    reports = await asyncio.gather(
        DirectoryImporter(redis, CHEAP, box=sealing_box()).apply(a),
        DirectoryImporter(redis, CHEAP, box=sealing_box()).apply(b),
    )
    assert sorted(r.version for r in reports) == [2, 3]
    last = a if max(reports, key=lambda r: r.version) is reports[0] else b
    # Whichever came last, Redis holds exactly its file.
    assert (await DirectoryImporter(redis, CHEAP, box=sealing_box()).apply(last)).unchanged


class RacingCore(BindingCore):
    """A binding core under which the user being removed logs in again
    (at another desk) right after the import logged them out, ``races``
    times."""

    def __init__(self, redis: Redis, races: int) -> None:
        super().__init__(redis, TenantCache(redis))
        self.races = races

    async def logout_user(
        self, user: pb.UserRef, *, reason: pb.ChangeReason.ValueType, actor: str
    ) -> pb.LogoutResponse:
        response = await super().logout_user(user, reason=reason, actor=actor)
        if self.races > 0:
            self.races -= 1
            await login(self, "hd3003", user.extension)
        return response


async def test_a_login_racing_a_removal_is_ended_too(redis: Redis) -> None:
    await imported(redis)
    core = RacingCore(redis, races=1)
    await login(core, "hd3002", "1001")
    text = without_entry(EXAMPLE.read_text(), '  - tenant: acme\n    extension: "1001"')
    report = await DirectoryImporter(redis, CHEAP, core, box=sealing_box()).apply(directory(text))
    assert core.races == 0
    assert [f"{b.extension}@{b.device_id}" for b in report.sessions_ended] == [
        "1001@hd3002",
        "1001@hd3003",
    ]
    for device_id in ("hd3002", "hd3003"):
        state = await core.get_by_device(device_id)
        assert state is not None and not state.HasField("binding")
    assert not await redis.exists(keys.user(GROUP, "acme", "1001"))


async def test_an_import_that_keeps_meeting_changes_gives_up_cleanly(redis: Redis) -> None:
    await imported(redis)
    core = RacingCore(redis, races=100)
    text = without_entry(EXAMPLE.read_text(), '  - tenant: acme\n    extension: "1001"')
    d = directory(text.replace("name: Bob Example", "name: Bob B"))
    with pytest.raises(ImportConflict, match="run it again"):
        await DirectoryImporter(redis, CHEAP, core, attempts=3, box=sealing_box()).apply(d)
    assert core.races == 97
    assert await redis.get(keys.DIR_VERSION) == "1"
    assert await redis.hget(keys.user(GROUP, "acme", "1002"), "name") == "Bob Example"
    assert await redis.exists(keys.user(GROUP, "acme", "1001"))
