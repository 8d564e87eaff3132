"""Provisioning findings of issue 10, each against the real provision service
(with the binding and auth services) on a real Redis holding the demo
directory; phones are aiohttp clients with their User-Agents and digest
credentials."""

import logging
import re

import aiohttp
import pytest
from hotdesk.v1 import provision_pb2 as ppb
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from services.kernel import keys
from services.provision.admin import read_admin_password
from services.provision.links import ScreenLinks
from tests.support.phone_files import polycom_values, yealink_values
from tests.support.provision import (
    POLYCOM_VVX450_UA,
    SCREEN_DEVICE_FILE,
    YEALINK_T46U_UA,
    YEALINK_T54W_UA,
    Stack,
    phone_session,
    provision_stack,
    screen_get,
    screen_post,
    screen_url,
    who_is_on,
)
from tests.support.redis_server import RedisServer

# Finding: a known MAC answered 401 and an unknown one 404 (an enumeration oracle).


async def answer(
    stack: Stack, path: str, user_agent: str, password: str | None = None, device: str = "hd3001"
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (Date and the nonce masked) and body of a GET."""
    middlewares: tuple[aiohttp.DigestAuthMiddleware, ...] = ()
    if password is not None:
        middlewares = (aiohttp.DigestAuthMiddleware(device, password),)
    async with (
        aiohttp.ClientSession(headers={"User-Agent": user_agent}, middlewares=middlewares) as s,
        s.get(f"{stack.url}/{path}") as r,
    ):
        headers = {k: v for k, v in r.headers.items() if k != "Date"}
        if "WWW-Authenticate" in headers:
            headers["WWW-Authenticate"] = re.sub(
                r'nonce="[^"]*"', 'nonce="…"', headers["WWW-Authenticate"]
            )
        return r.status, headers, await r.read()


@pytest.mark.parametrize(
    ("known", "unknown", "known_agent", "unknown_agent"),
    [
        (
            "001565aa3001.cfg",
            "001565ffff01.cfg",
            YEALINK_T54W_UA,
            YEALINK_T54W_UA.replace("aa:30:01", "ff:ff:01"),
        ),
        (
            SCREEN_DEVICE_FILE,
            "0004f2ffff03-hotdesk.cfg",
            POLYCOM_VVX450_UA,
            POLYCOM_VVX450_UA.replace("aa3003", "ffff03"),
        ),
        # A Polycom master named for a MAC, and a name with a foreign User-Agent.
        ("0004f2aa3003.cfg", "0004f2ffff03.cfg", POLYCOM_VVX450_UA, POLYCOM_VVX450_UA),
        ("001565aa3001.cfg", "001565ffff01.cfg", "curl/8.0", "curl/8.0"),
    ],
)
async def test_known_and_unknown_macs_get_the_same_401(
    stack: Stack, known: str, unknown: str, known_agent: str, unknown_agent: str
) -> None:
    for password in (None, "wrong-password"):
        known_answer = await answer(stack, known, known_agent, password)
        unknown_answer = await answer(stack, unknown, unknown_agent, password)
        assert known_answer[0] == 401
        assert known_answer == unknown_answer


# Finding: no limit on failed digests.


def fetches(outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "hotdesk_provision_fetches_total",
        {"vendor": "yealink", "kind": "device", "outcome": outcome},
    )
    return value or 0.0


async def fetch_from(
    stack: Stack, source: str, path: str, user_agent: str, device: str, password: str
) -> aiohttp.ClientResponse:
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with (
        aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": user_agent},
            middlewares=(aiohttp.DigestAuthMiddleware(device, password),),
        ) as session,
        session.get(f"{stack.url}/{path}") as r,
    ):
        await r.read()
        return r


async def test_failed_digests_are_limited_per_mac_and_per_address(
    redis: Redis, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with provision_stack(
        redis_server.url,
        digest_failures_per_mac=3,
        digest_failures_per_address=5,
        digest_failure_window_seconds=120,
    ) as stack:
        hd3001 = ("001565aa3001.cfg", YEALINK_T54W_UA, "hd3001")
        hd3002 = ("001565aa3002.cfg", YEALINK_T46U_UA, "hd3002")
        limited_before = fetches("rate_limited_mac")
        address_limited_before = fetches("rate_limited_address")
        for _ in range(3):
            r = await fetch_from(stack, "127.0.0.1", *hd3001, "guess")
            assert r.status == 401
        # hd3001's MAC is now limited, even for its right password...
        r = await fetch_from(stack, "127.0.0.1", *hd3001, "demo-secret-hd3001")
        assert r.status == 429
        assert 1 <= int(r.headers["Retry-After"]) <= 120
        assert fetches("rate_limited_mac") == limited_before + 1
        assert await redis.ttl(keys.provision_digest_failures_mac("001565aa3001")) > 0
        # ... from any address; another MAC is not.
        r = await fetch_from(stack, "127.0.0.2", *hd3001, "demo-secret-hd3001")
        assert r.status == 429
        r = await fetch_from(stack, "127.0.0.1", *hd3002, "demo-secret-hd3002")
        assert r.status == 200
        # Two more failures from 127.0.0.1 (5 in all) limit that address...
        for _ in range(2):
            r = await fetch_from(stack, "127.0.0.1", *hd3002, "guess")
            assert r.status == 401
        r = await fetch_from(stack, "127.0.0.1", *hd3002, "demo-secret-hd3002")
        assert r.status == 429
        assert fetches("rate_limited_address") == address_limited_before + 1
        # ... and no other one.
        r = await fetch_from(stack, "127.0.0.2", *hd3002, "demo-secret-hd3002")
        assert r.status == 200
    limited = [r for r in caplog.records if r.getMessage() == "fetch_rate_limited"]
    assert {r.fields["limit"] for r in limited} == {"mac", "address"}  # type: ignore[attr-defined]


# Finding: the PIN of the phone-screen login travelled in the query string.


async def test_screen_login_takes_the_pin_only_from_a_post(stack: Stack) -> None:
    login = await screen_url(stack, "login")
    status, _ = await screen_get(f"{login}?ext=1001&pin=4711")
    assert status in (400, 405)
    assert await who_is_on(stack, "hd3003") == ""
    status, _ = await screen_post(f"{login}?pin=4711", ext="1001")
    assert status in (400, 405)
    assert await who_is_on(stack, "hd3003") == ""
    status, done = await screen_post(login, ext="1001", pin="4711")
    assert status == 200 and "logged in" in done.lower()
    assert await who_is_on(stack, "hd3003") == "1001"


# Finding: screen tokens never expired.


async def test_screen_links_of_an_older_generation_or_expired_are_refused(
    stack: Stack, redis: Redis
) -> None:
    old = await screen_url(stack, "login")
    await stack.login("hd3003", "1002")
    await stack.logout("hd3003")  # someone logged in and out since the file was fetched
    _, refused = await screen_post(old, ext="1001", pin="4711")
    assert "logged in or out here since" in refused
    assert await who_is_on(stack, "hd3003") == ""

    key = bytes.fromhex(await redis.get(keys.PROVISION_KEY))
    provisioning = await stack.provision_stub().GetDeviceProvisioning(
        ppb.DeviceProvisioningRequest(device_id="hd3003")
    )
    generation = provisioning.devices[0].generation
    expired = ScreenLinks(stack.url, key, lifetime_seconds=-1).page(
        "hd3003", generation, stack.provision.clock(), "login"
    )
    _, refused = await screen_post(expired, ext="1001", pin="4711")
    assert "expired" in refused
    assert await who_is_on(stack, "hd3003") == ""

    fresh = await screen_url(stack, "login")
    _, done = await screen_post(fresh, ext="1001", pin="4711")
    assert "logged in" in done.lower()
    assert await who_is_on(stack, "hd3003") == "1001"


# Finding: screen logout ignored the tenant's logout_asks_pin.


async def test_screen_logout_asks_the_pin_when_the_tenant_says_so(stack: Stack) -> None:
    await stack.login("hd3003", "1002")  # acme: logout_asks_pin: true; 1002's PIN is 8264
    logout = await screen_url(stack, "logout")
    status, ask = await screen_get(logout)
    assert status == 200 and 'name="pin"' in ask and "Bob Example" in ask
    await screen_get(f"{logout}?confirm=1")
    await screen_post(logout, confirm="1")
    assert await who_is_on(stack, "hd3003") == "1002"
    _, wrong = await screen_post(logout, pin="1111")
    assert "Wrong PIN" in wrong
    assert await who_is_on(stack, "hd3003") == "1002"
    _, done = await screen_post(logout, pin="8264")
    assert "logged out" in done.lower()
    assert await who_is_on(stack, "hd3003") == ""


# Finding: phone admin passwords were never provisioned.


async def test_every_device_file_sets_its_own_admin_password_never_logged(
    stack: Stack, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    phones = [
        ("hd3001", "001565aa3001.cfg", YEALINK_T54W_UA),
        ("hd3002", "001565aa3002.cfg", YEALINK_T46U_UA),
        ("hd3003", SCREEN_DEVICE_FILE, POLYCOM_VVX450_UA),
    ]
    passwords: dict[str, str] = {}
    for device, path, user_agent in phones:
        for _ in range(2):  # the same at every fetch
            async with (
                phone_session(user_agent, device) as session,
                session.get(f"{stack.url}/{path}") as r,
            ):
                assert r.status == 200
                body = await r.text()
            if device == "hd3003":
                values = polycom_values(body)
                assert values["device.set"] == values["device.auth.localAdminPassword.set"] == "1"
                password = values["device.auth.localAdminPassword"]
            else:
                account, _, password = yealink_values(body)[
                    "static.security.user_password"
                ].partition(":")
                assert account == "admin"
            assert passwords.setdefault(device, password) == password
        assert passwords[device] == await read_admin_password(redis, device)
    assert len(set(passwords.values())) == len(phones)
    assert all(len(p) >= 16 and p not in ("admin", "456") for p in passwords.values())
    logged = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "fetch_served" in logged
    assert not [p for p in passwords.values() if p in logged]
