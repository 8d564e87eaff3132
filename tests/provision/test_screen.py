"""Logging in and out from the phone's screen: the Login key's URL from the
phone's own file, extension and PIN through the real auth service."""

import re
from collections.abc import AsyncIterator

import pytest
from hotdesk.v1 import binding_pb2 as bpb
from redis.asyncio import Redis

from tests.support.provision import YEALINK_T54W_UA, Stack, phone_session, provision_stack
from tests.support.redis_server import RedisServer


@pytest.fixture
async def stack(redis: Redis, redis_server: RedisServer) -> AsyncIterator[Stack]:
    async with provision_stack(redis_server.url) as s:
        yield s


async def get(url: str) -> tuple[int, str]:
    async with phone_session(YEALINK_T54W_UA) as session, session.get(url) as r:
        return r.status, await r.text()


async def screen_url(stack: Stack, page: str) -> str:
    """The page URL as hd3001's own file names it."""
    async with (
        phone_session(YEALINK_T54W_UA, "hd3001") as session,
        session.get(f"{stack.url}/001565aa3001.cfg") as r,
    ):
        body = await r.text()
    found = re.search(rf"(http://[^\s<\"]+/screen/hd3001/[0-9a-f]{{32}}/{page})", body)
    assert found, f"no {page} URL in the file:\n{body}"
    return found.group(1)


async def who_is_on(stack: Stack, device: str) -> str:
    state = await stack.binding_stub().GetByDevice(bpb.GetByDeviceRequest(device_id=device))
    return state.binding.extension if state.HasField("binding") else ""


async def test_login_from_the_screen(stack: Stack) -> None:
    login = await screen_url(stack, "login")
    status, form = await get(login)
    assert status == 200 and "ext" in form and "pin" in form
    status, done = await get(f"{login}?ext=1001&pin=4711")
    assert status == 200 and "Alice Example" in done and "logged in" in done.lower()
    assert await who_is_on(stack, "hd3001") == "1001"


async def test_wrong_pin_then_backoff_is_shown(stack: Stack) -> None:
    login = await screen_url(stack, "login")
    _, wrong = await get(f"{login}?ext=1001&pin=1234")
    assert "Wrong extension or PIN" in wrong
    for _ in range(5):
        _, last = await get(f"{login}?ext=1001&pin=1234")
    assert "Too many wrong PINs" in last and "Try again in" in last
    assert await who_is_on(stack, "hd3001") == ""


async def test_user_not_allowed_here(stack: Stack) -> None:
    login = await screen_url(stack, "login")
    await stack.auth.core.set_pin(bpb.UserRef(tenant="acme", extension="2001"), "8642", "test")
    _, refused = await get(f"{login}?ext=2001&pin=8642")
    assert "may not log in at desk phones" in refused
    assert await who_is_on(stack, "hd3001") == ""


async def test_logout_asks_to_confirm(stack: Stack) -> None:
    await stack.login("hd3001", "1002")
    logout = await screen_url(stack, "logout")
    _, ask = await get(logout)
    assert "Bob Example" in ask and "confirm=1" in ask
    assert await who_is_on(stack, "hd3001") == "1002"
    _, done = await get(f"{logout}?confirm=1")
    assert "logged out" in done.lower()
    assert await who_is_on(stack, "hd3001") == ""


async def test_forged_or_other_device_tokens_get_404(stack: Stack) -> None:
    login = await screen_url(stack, "login")
    assert (await get(login.replace("hd3001", "hd3002")))[0] == 404
    assert (await get(re.sub(r"/[0-9a-f]{32}/", "/" + "0" * 32 + "/", login)))[0] == 404
