"""Logging in and out from the phone's screen: the Login key's URL from the
phone's own file (a Polycom VVX: its microbrowser posts forms), extension
and PIN posted through the real auth service."""

import re

from hotdesk.v1 import binding_pb2 as bpb
from redis.asyncio import Redis

from services.auth.pins import PinHasher
from services.directory.importer import DirectoryImporter
from services.directory.load import parse_directory
from tests.support.demo import DIRECTORY
from tests.support.provision import (
    YEALINK_T54W_UA,
    Stack,
    phone_session,
    screen_get,
    screen_post,
    screen_url,
    who_is_on,
)
from tests.support.secrets import sealing_box


async def test_login_from_the_screen(stack: Stack) -> None:
    login = await screen_url(stack, "login")
    status, form = await screen_get(login)
    assert status == 200 and 'method="post"' in form and 'name="pin"' in form
    status, done = await screen_post(login, ext="1001", pin="4711")
    assert status == 200 and "Alice Example" in done and "logged in" in done.lower()
    assert await who_is_on(stack, "hd3003") == "1001"


async def test_wrong_pin_then_backoff_is_shown(stack: Stack) -> None:
    login = await screen_url(stack, "login")
    _, wrong = await screen_post(login, ext="1001", pin="1234")
    assert "Wrong extension or PIN" in wrong
    for _ in range(5):
        _, last = await screen_post(login, ext="1001", pin="1234")
    assert "Too many wrong PINs" in last and "Try again in" in last
    assert await who_is_on(stack, "hd3003") == ""


async def test_user_not_allowed_here(stack: Stack) -> None:
    login = await screen_url(stack, "login")
    await stack.auth.core.set_pin(bpb.UserRef(tenant="acme", extension="2001"), "8642", "test")
    _, refused = await screen_post(login, ext="2001", pin="8642")
    assert "may not log in at desk phones" in refused
    assert await who_is_on(stack, "hd3003") == ""


async def test_logout_asks_to_confirm_when_the_tenant_asks_no_pin(
    stack: Stack, redis: Redis
) -> None:
    text = DIRECTORY.read_text()
    assert text.count("logout_asks_pin: true") == 1
    changed = text.replace("logout_asks_pin: true", "logout_asks_pin: false")
    directory = parse_directory(changed, str(DIRECTORY))
    await DirectoryImporter(redis, PinHasher(1, 8, 1), box=sealing_box()).apply(directory)
    await stack.provision.tenants.refresh()
    await stack.login("hd3003", "1002")
    logout = await screen_url(stack, "logout")
    _, ask = await screen_get(logout)
    assert "Bob Example" in ask and "confirm=1" in ask and 'name="pin"' not in ask
    assert await who_is_on(stack, "hd3003") == "1002"
    found = re.search(r'href="([^"]+)"', ask)
    assert found
    _, done = await screen_get(found.group(1).replace("&amp;", "&"))
    assert "logged out" in done.lower()
    assert await who_is_on(stack, "hd3003") == ""


async def test_forged_or_other_device_tokens_get_404(stack: Stack) -> None:
    login = await screen_url(stack, "login")
    assert (await screen_get(login.replace("hd3003", "hd3002")))[0] == 404
    assert (await screen_get(re.sub(r"\.[0-9a-f]{32}/", "." + "0" * 32 + "/", login)))[0] == 404
    assert (await screen_get(re.sub(r"/screen/hd3003/[^/]+/", "/screen/hd3003/abc/", login)))[
        0
    ] == 404


async def test_yealink_files_name_no_screen_pages(stack: Stack) -> None:
    # Yealink's InputScreen submits by GET: its Login key dials the login code.
    async with (
        phone_session(YEALINK_T54W_UA, "hd3001") as session,
        session.get(f"{stack.url}/001565aa3001.cfg") as r,
    ):
        body = await r.text()
    assert r.status == 200 and "/screen/" not in body
    assert "linekey.1.value = *45" in body
