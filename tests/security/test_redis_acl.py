"""Redis: nobody in without a password, each component only at its own
keys, Kamailio read-only on a replica, and no secret in the clear."""

import asyncio
import socket

import pytest
import redis
import redis.asyncio
from redis.exceptions import AuthenticationError, NoPermissionError

from services.kernel import keys
from services.kernel.secretbox import SecretBox
from services.kernel.tenants import TenantCache
from services.kernel.tracking import Tracking
from services.provision.devices import DeviceDirectory
from tests.support.edge import Edge
from tests.support.redis_server import RedisServer
from tests.support.secrets import secrets_key_file

GROUP = "acme-group"
CREDENTIALS = keys.sip_credentials("hotdesk.local", "hd3001")
PIN = keys.pin(GROUP, "acme", "1001")
# Only the directory import reaches the PIN digests (not even the auth
# service: with the digest key they are guessable at HMAC speed).
PIN_DIGEST = keys.pin_digest(GROUP, "acme", "1001")


def client(server: RedisServer, user: str | None, holder: str | None = None) -> redis.Redis:
    """``user`` logged in with ``holder``'s password (no user: ``default``)."""
    password = server.password_file(holder or user or "").read_text().strip()
    return redis.Redis(port=server.port, username=user, password=password, decode_responses=True)


def test_without_a_password_nothing_answers(edge: Edge) -> None:
    """What `redis-cli ping` sends and gets."""
    for server in (edge.redis, edge.replica):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            assert s.recv(200).startswith(b"-NOAUTH")


@pytest.mark.parametrize(
    ("user", "readable", "forbidden"),
    [
        ("binding", [keys.device(GROUP, "hd3001")], [CREDENTIALS, PIN, PIN_DIGEST]),
        ("auth", [PIN], [CREDENTIALS, PIN_DIGEST]),
        ("provision", [CREDENTIALS], [PIN, PIN_DIGEST]),
    ],
)
def test_each_service_reaches_only_its_own_keys(
    edge: Edge, user: str, readable: list[str], forbidden: list[str]
) -> None:
    with client(edge.redis, user) as c:
        for key in readable:
            c.type(key)
        for key in forbidden:
            with pytest.raises(NoPermissionError):
                c.type(key)
        with pytest.raises(NoPermissionError):
            c.keys("*")  # nobody lists the keyspace
        with pytest.raises(NoPermissionError):
            c.flushall()


def as_provision(edge: Edge) -> redis.asyncio.Redis:
    password = edge.redis.password_file("provision").read_text().strip()
    return redis.asyncio.Redis(
        port=edge.redis.port, username="provision", password=password, decode_responses=True
    )


async def provision_reads(r: redis.asyncio.Redis) -> tuple[TenantCache, SecretBox]:
    """What the provision service's device reads need besides Redis."""
    tenants = TenantCache(r)
    await tenants.refresh()
    return tenants, SecretBox.from_file(secrets_key_file(), "provision")


def test_the_provision_service_reads_a_device_file_as_its_own_user(edge: Edge) -> None:
    """Its read-only script on the device keys (EVALSHA would need write
    access to them and be refused), as the service's own user."""

    async def read() -> str | None:
        async with as_provision(edge) as r:
            tenants, box = await provision_reads(r)
            made = await DeviceDirectory(r, tenants, box).for_file(
                tenants.by_id["acme"], "hd3001", 0
            )
            return made.device.vendor if made.device else None

    assert asyncio.run(read()) == "yealink"


def test_the_provision_service_keeps_device_files_as_its_own_user(edge: Edge) -> None:
    """Its user may have Redis track what it reads and push what changed
    (CLIENT ID, CLIENT TRACKING): both connections come up, the barrier
    passes."""

    async def kept() -> bool:
        async with as_provision(edge) as r:
            tenants, box = await provision_reads(r)
            tracking = Tracking(r)
            tracking.start()
            devices = DeviceDirectory(r, tenants, box, tracking=tracking, kept=10)
            try:
                for _ in range(100):  # until both connections are up (~5 s at most)
                    await devices.for_file(tenants.by_id["acme"], "hd3001", 0)
                    if await tracking.fresh():
                        return True
                    await asyncio.sleep(0.05)
                return False
            finally:
                await tracking.stop()

    assert asyncio.run(kept())


def test_the_menu_reads_the_directory_it_needs_and_writes_nothing(edge: Edge) -> None:
    with client(edge.redis, "menu") as menu:
        assert menu.hget(keys.DIR_DEVICES, "hd3001") == "acme"
        assert "acme" in menu.hgetall(keys.DIR_TENANTS)
        assert menu.get(keys.DIR_VERSION)
        # Who a typed login names: hot-desk ids, DIDs, a tenant's users'
        # caller IDs.
        assert menu.hget(keys.DIR_HOTDESK_IDS, "gus") == "globex/3001"
        assert menu.hget(keys.DIR_NUMBERS, "+4930123451001") == "acme/1001"
        assert menu.sismember(keys.tenant_users(GROUP, "acme"), "1001")
        assert menu.hget(keys.user(GROUP, "acme", "1001"), "caller_id") == "+4930123451001"
        session = keys.device(GROUP, "hd3001")
        for command in (
            ("GET", PIN),
            ("HGETALL", session),
            ("HGET", CREDENTIALS, "ha1"),
            ("HSET", keys.DIR_HOTDESK_IDS, "x", "acme/1001"),
            ("HSET", keys.user(GROUP, "acme", "1001"), "caller_id", "+1"),
            ("HSET", keys.DIR_DEVICES, "hd3001", "other"),
            ("XADD", keys.audit(GROUP), "*", "event", "forged"),
            ("HSET", session, "user", "1001"),
        ):
            with pytest.raises(NoPermissionError):
                menu.execute_command(*command)


def test_kamailio_reads_credentials_on_the_replica_and_nothing_else(edge: Edge) -> None:
    with client(edge.replica, None, "kamailio") as kamailio:
        assert kamailio.hget(CREDENTIALS, "ha1")
        assert kamailio.hget(keys.DIR_PEER_SOURCES, "digest")
        with pytest.raises(NoPermissionError):
            kamailio.get(PIN)
        with pytest.raises(NoPermissionError):
            kamailio.hset(CREDENTIALS, "ha1", "0" * 32)
    # Its password is nobody's on the primary.
    with pytest.raises(AuthenticationError):
        client(edge.redis, None, "kamailio").ping()


def test_no_sip_secret_in_the_clear(edge: Edge) -> None:
    with redis.Redis.from_url(edge.redis.url, decode_responses=True) as admin:
        for name in admin.scan_iter("hd:sip:*"):
            stored = admin.hgetall(name)
            assert "secret" not in stored
            assert not any("demo-secret" in value for value in stored.values())
