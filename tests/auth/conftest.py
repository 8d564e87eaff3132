"""A small directory for the auth tests: tenant acme (users 1001-1003 with
PINs, 1004 without; desks hd3001-hd3005) and tenant globex in another group
(user 2001, desk hd4001). Cheap argon2 unless a test asks otherwise."""

from collections.abc import Awaitable, Callable

import pytest
from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.auth.core import AuthCore
from services.auth.pins import PinHasher
from services.auth.settings import AuthSettings
from services.binding.core import BindingCore
from services.kernel import keys
from services.kernel.tenants import TenantCache, TenantConfig
from tests.support import seed
from tests.support.clock import FakeClock
from tests.support.services import CHEAP_ARGON2

PINS = {"1001": "4711", "1002": "8264", "1003": "5173"}
CHEAP_HASHER = PinHasher(time_cost=1, memory_cost_kib=8, parallelism=1)


def cheap_settings(**overrides: object) -> AuthSettings:
    return AuthSettings.model_validate({**CHEAP_ARGON2, **overrides})


@pytest.fixture
async def acme(redis: Redis) -> TenantConfig:
    t = await seed.tenant(redis, TenantConfig(id="acme", domain="acme.example"))
    for ext, pin in PINS.items():
        await seed.user(redis, t, ext, hotdesk_id="alice" if ext == "1001" else "")
        await redis.set(keys.pin(t.group, t.id, ext), CHEAP_HASHER.hash(pin))
    await seed.user(redis, t, "1004")  # no PIN
    for i in range(1, 6):
        await seed.device(redis, t, f"hd300{i}")
    globex = await seed.tenant(redis, TenantConfig(id="globex", domain="globex.example"))
    await seed.user(redis, globex, "2001")
    await redis.set(keys.pin(globex.group, globex.id, "2001"), CHEAP_HASHER.hash("6047"))
    await seed.device(redis, globex, "hd4001")
    return t


MakeCore = Callable[..., Awaitable[AuthCore]]


@pytest.fixture
def make_core(redis: Redis, acme: TenantConfig, clock: FakeClock) -> MakeCore:
    """``await make_core(**settings)``: an AuthCore on the controlled clock,
    logging in through an in-process BindingCore."""

    async def make(**overrides: object) -> AuthCore:
        tenants = TenantCache(redis)
        await tenants.refresh()
        binding = BindingCore(redis, tenants, clock=clock)

        async def login(req: pb.LoginRequest) -> pb.LoginResponse:
            return await binding.login(
                req.device_id, req.user, allow_takeover=req.allow_takeover, actor=req.actor
            )

        return AuthCore(redis, tenants, cheap_settings(**overrides), login, clock=clock)

    return make
