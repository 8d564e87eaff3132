import pytest
from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.binding.core import BindingCore
from services.kernel import keys
from services.kernel.tenants import TenantCache, TenantConfig
from tests.support import seed
from tests.support.clock import FakeClock


def ref(ext: str, tenant: str = "acme") -> pb.UserRef:
    return pb.UserRef(tenant=tenant, extension=ext)


async def login(
    core: BindingCore, device: str, ext: str, takeover: bool = False, tenant: str = "acme"
) -> pb.LoginResponse:
    return await core.login(device, ref(ext, tenant), allow_takeover=takeover, actor="test")


async def events(redis: Redis, group: str = "acme") -> list[dict[str, str]]:
    return [entry for _, entry in await redis.xrange(keys.events(group))]


async def fresh_core(redis: Redis, clock: FakeClock) -> BindingCore:
    """A core over whatever the test has seeded (a fresh tenant cache, like a
    freshly started service)."""
    tenants = TenantCache(redis)
    core = BindingCore(redis, tenants, clock=clock)
    await tenants.refresh()
    return core


@pytest.fixture
async def acme(redis: Redis) -> TenantConfig:
    t = await seed.tenant(redis, TenantConfig(id="acme", domain="acme.example"))
    for ext, name in (("1001", "Alice Example"), ("1002", "Bob Example"), ("1003", "Carol")):
        await seed.user(redis, t, ext, name)
    await seed.user(redis, t, "2001", "Desk Owner", hotdesk=False)
    for device_id in ("hd3001", "hd3002", "hd3003"):
        await seed.device(redis, t, device_id)
    await seed.device(redis, t, "ph2001", hotdesk=False)
    return t


@pytest.fixture
async def core(redis: Redis, acme: TenantConfig, clock: FakeClock) -> BindingCore:
    return await fresh_core(redis, clock)
