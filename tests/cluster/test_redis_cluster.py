"""The services on a real Redis Cluster (three masters, a replica each,
each component as its own ACL user): the directory import in per-slot
transactions, logins answered once a replica holds them, the provision
consumer reading each group's stream and serving a device file, and a
master killed under logins."""

import asyncio
import contextlib
import copy
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
import yaml
from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis
from redis.crc import key_slot
from redis.exceptions import RedisError

from services.admin.events import EventHub
from services.admin.operators import Operator, Role
from services.admin.webhook_delivery import Retry, WebhookDispatcher
from services.admin.webhook_feed import WebhookFeed
from services.admin.webhooks import WebhookStore
from services.auth.pins import PinHasher
from services.auth.service import start_auth_service
from services.binding import metrics
from services.binding.core import BindingCore
from services.binding.service import start_binding_service
from services.devstack.redis_acl import ADMIN_USER
from services.devstack.redis_cluster import LocalRedisCluster
from services.directory.importer import DirectoryImporter
from services.directory.load import load_directory
from services.directory.lock import ImportConflict
from services.kernel import keys
from services.kernel.lifecycle import cancel_and_wait
from services.kernel.redis_conn import connect
from services.kernel.secretbox import SecretBox
from services.kernel.tenants import TenantCache
from services.kernel.tracking import Tracking
from services.provision.devices import DeviceDirectory, DeviceFile
from services.provision.failures import DigestFailures
from services.provision.service import start_provision_service
from tests.directory.support import CHEAP, PINS, CountingHasher
from tests.support.demo import DIRECTORY, secret
from tests.support.provision import YEALINK_T46U_UA, device_cache, phone_session, provision_settings
from tests.support.secrets import pin_digester, sealing_box, webhook_key_file
from tests.support.services import auth_settings, binding_settings
from tests.support.webhook_receiver import receiver

T = TypeVar("T")

GROUP = "acme-group"
DEVICES = ("hd3001", "hd3002", "hd3003")
USERS = ("1001", "1002", "1003")


def as_user(cluster: LocalRedisCluster, user: str) -> Redis:
    return connect(cluster.url_as(user), cluster=True, password_file=cluster.password_file(user))


def service_redis(cluster: LocalRedisCluster, user: str) -> dict[str, object]:
    """A service's Redis settings besides its URL."""
    return {"redis_password_file": cluster.password_file(user), "redis_cluster": True}


async def import_demo(cluster: LocalRedisCluster, hasher: PinHasher = CHEAP) -> int:
    redis = as_user(cluster, "directory")
    try:
        importer = DirectoryImporter(redis, hasher, box=sealing_box(), digester=pin_digester())
        return (await importer.apply(load_directory(DIRECTORY))).version
    finally:
        await redis.aclose()


@pytest.fixture
async def binding_core(redis_cluster: LocalRedisCluster) -> AsyncIterator[BindingCore]:
    """A binding core as the binding service's user, answering logins once
    one replica holds them."""
    await import_demo(redis_cluster)
    redis = as_user(redis_cluster, "binding")
    tenants = TenantCache(redis)
    await tenants.refresh()
    core = BindingCore(redis, tenants, replica_acks=1)
    yield core
    await core.aclose()
    await redis.aclose()


def keys_per_master(cluster: LocalRedisCluster) -> dict[int, int]:
    counts = {}
    for port in cluster.running():
        with cluster.admin(port) as node:
            if node.info("replication")["role"] == "master":
                counts[port] = node.dbsize()
    return counts


async def test_the_import_writes_every_master_and_a_second_run_changes_nothing(
    redis_cluster: LocalRedisCluster,
) -> None:
    version = await import_demo(redis_cluster)
    assert version >= 1
    counts = keys_per_master(redis_cluster)
    assert len(counts) == 3
    assert sum(1 for n in counts.values() if n) >= 2, counts
    assert await import_demo(redis_cluster) == version

    admin = as_user(redis_cluster, "directory")
    try:
        assert await admin.hget(keys.DIR_DEVICES, "hd3001") == "acme"
        assert await admin.hget(keys.device(GROUP, "hd3001"), "tenant") == "acme"
        assert await admin.hget(keys.sip_credentials("hotdesk.local", "hd3001"), "ha1")
    finally:
        await admin.aclose()


async def test_pin_digests_share_their_user_slot_and_spare_argon2(
    redis_cluster: LocalRedisCluster,
) -> None:
    """Digests written per slot beside the hashes: a re-import verifies no
    PIN; without them (records of an older import) it verifies each once and
    writes them, in the users' slots, as no new directory version."""
    version = await import_demo(redis_cluster)
    hasher = CountingHasher()
    assert await import_demo(redis_cluster, hasher) == version and hasher.verifies == 0
    admin = as_user(redis_cluster, "directory")
    try:
        digests = [keys.pin_digest(GROUP, t, e) for t, e in PINS]
        for (t, e), digest in zip(PINS, digests, strict=True):
            user_slot = key_slot(keys.user(GROUP, t, e).encode())
            assert (
                key_slot(digest.encode()) == key_slot(keys.pin(GROUP, t, e).encode()) == user_slot
            )
            assert await admin.get(digest)
        for digest in digests:
            await admin.delete(digest)
        assert await import_demo(redis_cluster, hasher) == version
        assert hasher.verifies == len(PINS)
        assert all([await admin.get(digest) for digest in digests])
    finally:
        await admin.aclose()
    hasher.verifies = 0
    await import_demo(redis_cluster, hasher)
    assert hasher.verifies == 0


async def test_a_second_import_is_refused_while_one_holds_the_lock(
    redis_cluster: LocalRedisCluster,
) -> None:
    version = await import_demo(redis_cluster)
    redis = as_user(redis_cluster, "directory")
    try:
        await redis.set(keys.DIR_IMPORT_LOCK, "another import", ex=60)
        changed = load_directory(DIRECTORY).model_copy(
            update={"users": load_directory(DIRECTORY).users[:-1]}
        )
        importer = DirectoryImporter(redis, PinHasher(1, 8, 1), box=sealing_box())
        with pytest.raises(ImportConflict, match="another directory import is running"):
            await importer.apply(changed)
        assert int(await redis.get(keys.DIR_VERSION) or 0) == version
        await redis.delete(keys.DIR_IMPORT_LOCK)
    finally:
        await redis.aclose()


async def test_a_login_reaches_the_lookup_and_the_provision_consumer(
    redis_cluster: LocalRedisCluster,
) -> None:
    await import_demo(redis_cluster)
    binding = await start_binding_service(
        binding_settings(
            redis_cluster.url_as("binding"),
            **service_redis(redis_cluster, "binding"),
            redis_replica_acks=1,
        )
    )
    auth = await start_auth_service(
        auth_settings(
            redis_cluster.url_as("auth"), binding.grpc_port, **service_redis(redis_cluster, "auth")
        )
    )
    provision = await start_provision_service(
        provision_settings(
            redis_cluster.url_as("provision"),
            binding.grpc_port,
            auth.grpc_port,
            **service_redis(redis_cluster, "provision"),
        )
    )
    redis = as_user(redis_cluster, "directory")
    try:
        login = await binding.core.login(
            "hd3002", pb.UserRef(tenant="acme", extension="1002"), allow_takeover=True, actor="t"
        )
        assert login.result == pb.LOGIN_RESULT_LOGGED_IN
        url = f"http://127.0.0.1:{binding.http_port}/v1/route"
        query = {
            "caller_user": "hd3001",
            "caller_domain": "hotdesk.local",
            "callee_user": "1002",
            "callee_domain": "hotdesk.local",
        }
        async with aiohttp.ClientSession() as http, http.get(url, params=query) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["callee_device"] == "hd3002"
        generation = login.binding.generation
        status = keys.provision_status(GROUP, "hd3002")
        deadline = time.monotonic() + 20
        while int(await redis.hget(status, "pushed_gen") or 0) < generation:
            assert time.monotonic() < deadline, "the provision consumer never pushed the login"
            await asyncio.sleep(0.1)
        # The phone fetches its file: one batch across the slots of the
        # failure counters, the directory, the credentials and the group.
        for _ in range(2):
            async with (
                phone_session(YEALINK_T46U_UA, "hd3002") as phone,
                phone.get(f"http://127.0.0.1:{provision.http_port}/001565aa3002.cfg") as r,
            ):
                assert r.status == 200, await r.text()
                assert secret("hd3002") in await r.text()
        assert int(await redis.hget(status, "fetched_gen") or 0) == generation
    finally:
        await redis.aclose()
        await provision.stop()
        await auth.stop()
        await binding.stop()


async def test_a_master_dies_and_no_acknowledged_login_is_lost(
    redis_cluster: LocalRedisCluster, binding_core: BindingCore
) -> None:
    master = redis_cluster.master_of(keys.device(GROUP, "hd3001"))
    acknowledged: dict[str, str] = {}
    killed_at = 0.0
    back_at = 0.0
    failed = 0
    deadline = time.monotonic() + 60
    for n in range(10_000):
        assert time.monotonic() < deadline, "logins did not work again after the fail-over"
        device, ext = DEVICES[n % 3], USERS[(n // 3) % 3]
        try:
            r = await binding_core.login(
                device, pb.UserRef(tenant="acme", extension=ext), allow_takeover=True, actor="t"
            )
        except RedisError:  # the master is gone and no replica has taken over yet
            failed += 1
            await asyncio.sleep(0.05)
            continue
        assert r.result in (pb.LOGIN_RESULT_LOGGED_IN, pb.LOGIN_RESULT_ALREADY_LOGGED_IN), r
        acknowledged = {d: u for d, u in acknowledged.items() if u != ext}
        acknowledged[device] = ext
        if n == 20:
            redis_cluster.kill(master)
            killed_at = time.monotonic()
        elif killed_at and not back_at and n > 20:
            back_at = time.monotonic()
        if back_at and n > 60:
            break
    print(
        f"master {master} killed: logins worked again after {back_at - killed_at:.2f} s "
        f"({failed} attempts failed meanwhile)"
    )
    assert redis_cluster.master_of(keys.device(GROUP, "hd3001")) != master
    for device in DEVICES:
        state = await binding_core.get_by_device(device)
        assert state is not None
        now = state.binding.extension if state.HasField("binding") else None
        assert now == acknowledged.get(device), (device, now, acknowledged)
    redis_cluster.start_node(master)
    redis_cluster.wait_ok()


async def test_a_login_waits_for_the_replica_and_says_when_it_did_not_get_it(
    redis_cluster: LocalRedisCluster, binding_core: BindingCore
) -> None:
    master = redis_cluster.master_of(keys.device(GROUP, "hd3002"))
    replica = redis_cluster.process(redis_cluster.replica_of(master))
    before = metrics.UNREPLICATED_CHANGES._value.get()
    ref = pb.UserRef(tenant="acme", extension="1002")
    r = await binding_core.login("hd3002", ref, allow_takeover=True, actor="t")
    assert r.result in (pb.LOGIN_RESULT_LOGGED_IN, pb.LOGIN_RESULT_ALREADY_LOGGED_IN)
    assert metrics.UNREPLICATED_CHANGES._value.get() == before
    replica.send_signal(signal.SIGSTOP)
    try:
        out = await binding_core.logout_device("hd3002", reason=pb.CHANGE_REASON_LOGOUT, actor="t")
        assert out.result == pb.LOGOUT_RESULT_LOGGED_OUT
        assert metrics.UNREPLICATED_CHANGES._value.get() == before + 1
    finally:
        replica.send_signal(signal.SIGCONT)


async def test_an_import_removing_a_logged_in_user_ends_the_session_first(
    redis_cluster: LocalRedisCluster, binding_core: BindingCore
) -> None:
    ref = pb.UserRef(tenant="acme", extension="1003")
    r = await binding_core.login("hd3003", ref, allow_takeover=True, actor="t")
    assert r.result in (pb.LOGIN_RESULT_LOGGED_IN, pb.LOGIN_RESULT_ALREADY_LOGGED_IN)
    full = load_directory(DIRECTORY)
    without = full.model_copy(
        update={"users": tuple(u for u in full.users if u.ref != "acme/1003")}
    )
    redis = as_user(redis_cluster, "directory")
    try:
        importer = DirectoryImporter(redis, PinHasher(1, 8, 1), box=sealing_box())
        report = await importer.apply(without)
        assert [(b.device_id, b.extension) for b in report.sessions_ended] == [("hd3003", "1003")]
        assert not await redis.exists(keys.user(GROUP, "acme", "1003"))
        assert await redis.hget(keys.device(GROUP, "hd3003"), "user_ext") is None
        assert await importer.apply(full)
    finally:
        await redis.aclose()


async def test_the_admin_event_reader_follows_groups_in_different_slots(
    redis_cluster: LocalRedisCluster, tmp_path: Path
) -> None:
    """The console's live board and the webhooks on a cluster: one XREAD
    cannot span two groups' streams there, so logins in both must still
    reach a viewer, and be fed to a webhook and delivered (the admin's
    deliveries stream and its consumer group on the admin's own slot)."""
    demo = yaml.safe_load(DIRECTORY.read_text())
    # A tenant's group cannot change while it exists: globex leaves, then
    # comes back in its own group ("globex"), then as the demo has it.
    await _import(redis_cluster, _without_globex(demo), tmp_path)
    split = copy.deepcopy(demo)
    for tenant in split["tenants"]:
        if tenant["id"] == "globex":
            del tenant["cross_tenant_group"]
    await _import(redis_cluster, split, tmp_path)
    admin, binding = as_user(redis_cluster, ADMIN_USER), as_user(redis_cluster, "binding")
    admin_tenants, binding_tenants = TenantCache(admin), TenantCache(binding)
    await admin_tenants.refresh()
    await binding_tenants.refresh()
    groups = {t.id: t.group for t in admin_tenants.by_id.values()}
    assert key_slot(keys.events(groups["acme"]).encode()) != key_slot(
        keys.events(groups["globex"]).encode()
    )
    hub = EventHub(admin, admin_tenants, queue_size=100)
    store = WebhookStore(admin, SecretBox.from_file(webhook_key_file(), "admin"))
    feed = WebhookFeed(admin, admin_tenants, store, poll_seconds=0.1)
    await feed.start()
    dispatcher = WebhookDispatcher(admin, store, Retry(3, 0.05, 0.2, 2), in_flight=4)
    readers = [asyncio.create_task(loop) for loop in (hub.run(), feed.run(), dispatcher.run())]
    core = BindingCore(binding, binding_tenants)
    closing = contextlib.AsyncExitStack()
    try:
        hook = await closing.enter_async_context(receiver("/hook"))
        await store.create(hook.url, "", "root")
        async with hub.subscribe(Operator("root", Role.PLATFORM_ADMIN, ()), None) as queue:
            await asyncio.sleep(0.5)  # the reader has taken each stream's last id
            for device, tenant, extension in (
                ("hd3001", "acme", "1001"),
                ("gx4001", "globex", "3001"),
            ):
                login = await core.login(
                    device,
                    pb.UserRef(tenant=tenant, extension=extension),
                    allow_takeover=True,
                    actor="t",
                )
                assert login.result == pb.LOGIN_RESULT_LOGGED_IN
            seen: set[tuple[str, str]] = set()
            async with asyncio.timeout(20):
                while len(seen) < 2:
                    event = await queue.get()
                    assert event is not None
                    seen.add((event.kind, event.data["device"]))
        assert seen == {("login", "hd3001"), ("login", "gx4001")}
        await hook.next(2)
        assert {(d.event["type"], d.event["device"]) for d in hook.got} == seen
    finally:
        await cancel_and_wait(readers)
        await closing.aclose()
        await core.aclose()
        await admin.aclose()
        await binding.aclose()
        await _import(redis_cluster, _without_globex(demo), tmp_path)
        await import_demo(redis_cluster)


def _without_globex(document: dict[str, Any]) -> dict[str, Any]:
    left = copy.deepcopy(document)
    left["tenants"] = [t for t in left["tenants"] if t["id"] != "globex"]
    left["users"] = [u for u in left["users"] if u["tenant"] != "globex"]
    left["devices"] = [d for d in left["devices"] if d["tenant"] != "globex"]
    for peer in left.get("peers", []):
        peer["tenants"] = [t for t in peer["tenants"] if t != "globex"]
    return left


async def _import(cluster: LocalRedisCluster, document: dict[str, Any], folder: Path) -> None:
    path = folder / "directory.yaml"
    path.write_text(yaml.safe_dump(document))
    redis = as_user(cluster, "directory")
    try:
        importer = DirectoryImporter(redis, CHEAP, box=sealing_box(), digester=pin_digester())
        await importer.apply(load_directory(path))
    finally:
        await redis.aclose()


def key_lookups(cluster: LocalRedisCluster) -> int:
    """``COMMAND GETKEYS`` calls so far, over every node."""
    total = 0
    for port in cluster.running():
        with cluster.admin(port) as node:
            stats = node.info("commandstats").get("cmdstat_command|getkeys", {})
            total += int(stats.get("calls", 0))
    return total


async def served(call: Callable[[], Awaitable[T]], what: str) -> T:
    """``call``'s answer, asked again while the cluster has no master for a
    slot it needs (a fail-over under way), for up to a minute."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return await call()
        except RedisError:
            assert time.monotonic() < deadline, f"{what} did not work again after the fail-over"
            await asyncio.sleep(0.05)


@pytest.fixture
async def device_reads(
    redis_cluster: LocalRedisCluster,
) -> AsyncIterator[tuple[Redis, DeviceDirectory]]:
    """The provision service's device reads, as its Redis user."""
    await import_demo(redis_cluster)
    redis = as_user(redis_cluster, "provision")
    tenants = TenantCache(redis)
    await tenants.refresh()
    yield redis, DeviceDirectory(redis, tenants, sealing_box())
    await redis.aclose()


def counting_pipelines(redis: Redis) -> list[int]:
    """How many cluster pipelines ``redis`` opens from now on (one count
    per pipeline, in a list)."""
    opened: list[int] = []
    pipeline = redis.pipeline

    def counted(*args: Any, **kwargs: Any) -> Any:
        opened.append(1)
        return pipeline(*args, **kwargs)

    redis.pipeline = counted
    return opened


async def test_a_device_read_goes_straight_to_its_node(
    redis_cluster: LocalRedisCluster, device_reads: tuple[Redis, DeviceDirectory]
) -> None:
    """The provision service's device read (one batch of a read-only script,
    EVALSHA_RO, and the secrets' HMGET: every device file) goes on a kept
    connection to the master of its keys: no cluster pipeline, and no node
    is first asked which keys the script names (COMMAND GETKEYS, a round
    trip each time)."""
    redis, devices = device_reads
    before = key_lookups(redis_cluster)
    pipelines = counting_pipelines(redis)
    for device in DEVICES * 3:
        record = await devices.read(device, int(time.time() * 1000))
        assert record is not None and record.id == device
    assert key_lookups(redis_cluster) == before
    assert pipelines == []


async def test_device_reads_go_on_once_a_replica_took_over_from_their_master(
    redis_cluster: LocalRedisCluster, device_reads: tuple[Redis, DeviceDirectory]
) -> None:
    """The master of hd3001's device read dies under the kept connection:
    reads fail until a replica has taken over (the cluster pipeline learns
    the new master), then go on, and on a kept connection again once the
    dead node has rested."""
    redis, devices = device_reads
    assert await devices.read("hd3001", int(time.time() * 1000)) is not None
    master = redis_cluster.master_of(keys.device(GROUP, "hd3001"))
    redis_cluster.kill(master)
    record = await served(lambda: devices.read("hd3001", int(time.time() * 1000)), "device reads")
    assert record is not None and record.id == "hd3001"
    assert redis_cluster.master_of(keys.device(GROUP, "hd3001")) != master
    await asyncio.sleep(1.5)  # the dead node's rest (kernel.batch)
    pipelines = counting_pipelines(redis)
    for device in DEVICES * 2:
        again = await devices.read(device, int(time.time() * 1000))
        assert again is not None and again.id == device
    assert pipelines == []
    redis_cluster.start_node(master)
    redis_cluster.wait_ok()


@dataclass
class KeptReads:
    """The provision service's device reads with files kept (as its Redis
    user), and the binding's logins."""

    redis: Redis
    tracking: Tracking
    devices: DeviceDirectory
    failures: DigestFailures
    core: BindingCore

    async def fetch(self, device: str) -> DeviceFile:
        """hd300N's file as its phone's fetch reads it (retried while the
        cluster has no master for a slot)."""
        mac = f"001565aa{device[2:]}"
        _, read = await served(
            lambda: self.devices.for_fetch(
                self.failures, mac, "127.0.0.1", device, int(time.time() * 1000)
            ),
            "device reads",
        )
        assert read is not None
        return read

    async def kept(self, device: str) -> DeviceFile:
        """The device's file once a fetch was answered from memory."""
        for _ in range(200):
            hits = device_cache("hit")
            read = await self.fetch(device)
            if device_cache("hit") > hits:
                return read
            await asyncio.sleep(0.05)
        raise AssertionError(f"{device}'s file was never kept")

    async def login(self, device: str, ext: str) -> None:
        user = pb.UserRef(tenant="acme", extension=ext)
        r = await served(
            lambda: self.core.login(device, user, allow_takeover=True, actor="t"), "logins"
        )
        # Already: an earlier test of the module left it there.
        assert r.result in (pb.LOGIN_RESULT_LOGGED_IN, pb.LOGIN_RESULT_ALREADY_LOGGED_IN), r


@pytest.fixture
async def kept_reads(redis_cluster: LocalRedisCluster) -> AsyncIterator[KeptReads]:
    await import_demo(redis_cluster)
    redis, binding = as_user(redis_cluster, "provision"), as_user(redis_cluster, "binding")
    tenants, binding_tenants = TenantCache(redis), TenantCache(binding)
    await tenants.refresh()
    await binding_tenants.refresh()
    tracking = Tracking(redis)
    tracking.start()
    devices = DeviceDirectory(redis, tenants, sealing_box(), tracking=tracking, kept=100)
    core = BindingCore(binding, binding_tenants)
    try:
        yield KeptReads(redis, tracking, devices, DigestFailures(redis, 10, 50, 300), core)
    finally:
        await tracking.stop()
        await core.aclose()
        await redis.aclose()
        await binding.aclose()


def _user(read: DeviceFile) -> str | None:
    assert read.device is not None
    return None if read.device.user is None else read.device.user.extension


async def test_device_files_are_kept_on_a_cluster_and_a_login_is_seen_at_once(
    kept_reads: KeptReads,
) -> None:
    """Each master the reads reach tracks them; the barrier asks every one:
    a login on the device's master is seen by the next fetch."""
    for device in DEVICES:
        await kept_reads.kept(device)
    for ext in ("1001", "1002", "1003"):
        await kept_reads.login("hd3001", ext)
        assert _user(await kept_reads.fetch("hd3001")) == ext
        assert _user(await kept_reads.kept("hd3001")) == ext


async def test_a_manual_fail_over_ends_what_was_kept_of_the_old_master(
    redis_cluster: LocalRedisCluster, kept_reads: KeptReads
) -> None:
    """The old master lives on as a replica: it would still answer a PING,
    but the barrier's read of one of its slots is redirected, so nothing
    kept of it is served; logins after the fail-over are seen, and files
    are kept again (of the new master)."""
    await kept_reads.kept("hd3001")
    master = redis_cluster.master_of(keys.device(GROUP, "hd3001"))
    replica = redis_cluster.replica_of(master)
    with redis_cluster.admin(replica) as node:
        node.execute_command("CLUSTER", "FAILOVER")
    deadline = time.monotonic() + 30
    while redis_cluster.master_of(keys.device(GROUP, "hd3001"), (master,)) != replica:
        assert time.monotonic() < deadline, "the replica did not take over"
        await asyncio.sleep(0.05)
    assert not await kept_reads.tracking.fresh()
    await kept_reads.login("hd3001", "1002")
    assert _user(await kept_reads.fetch("hd3001")) == "1002"
    assert _user(await kept_reads.kept("hd3001")) == "1002"
    redis_cluster.wait_ok()


async def test_a_killed_master_ends_what_was_kept_and_its_successor_is_tracked(
    redis_cluster: LocalRedisCluster, kept_reads: KeptReads
) -> None:
    await kept_reads.kept("hd3001")
    master = redis_cluster.master_of(keys.device(GROUP, "hd3001"))
    redis_cluster.kill(master)
    await kept_reads.login("hd3001", "1003")
    assert redis_cluster.master_of(keys.device(GROUP, "hd3001")) != master
    assert _user(await kept_reads.fetch("hd3001")) == "1003"
    assert _user(await kept_reads.kept("hd3001")) == "1003"
    redis_cluster.start_node(master)
    redis_cluster.wait_ok()


async def test_a_batch_that_goes_around_the_tracked_connections_keeps_nothing(
    kept_reads: KeptReads,
) -> None:
    """A batch the cluster pipeline runs (here a script without keys, which
    no kept connection can place; else a redirect or a resting master) was
    not read on a tracked connection: nothing read while it ran is kept."""
    await kept_reads.kept("hd3001")  # tracking up at every master read from
    tracking = kept_reads.tracking
    token = tracking.token()
    assert tracking.current(token, [keys.DIR_VERSION])
    script = kept_reads.redis.register_script("return 1")
    assert await tracking.batcher.run([script], lambda batch: batch.evalsha(script.sha, 0)) == [1]
    assert not tracking.current(token, [keys.DIR_VERSION])
