"""Logging in at the phone's screen by phone number or hot-desk id: what is
typed is resolved by the directory (extension, DID, caller ID, hot-desk id),
posted over HTTP to the Polycom screen of hd3003 through the real auth
service; a name that fits two users is refused."""

from redis.asyncio import Redis

from services.auth.pins import PinHasher
from services.directory.importer import DirectoryImporter
from services.directory.load import parse_directory
from tests.support.demo import DIRECTORY
from tests.support.provision import Stack, screen_get, screen_post, screen_url, who_is_on
from tests.support.secrets import sealing_box

CAROL_CALLER_ID = 'caller_id: "+4930123451003"'


async def _carol_presents(stack: Stack, redis: Redis, caller_id: str) -> None:
    """Import the demo directory with Carol (1003) presenting ``caller_id``."""
    text = DIRECTORY.read_text()
    assert text.count(CAROL_CALLER_ID) == 1
    changed = text.replace(CAROL_CALLER_ID, f'caller_id: "{caller_id}"')
    directory = parse_directory(changed, str(DIRECTORY))
    await DirectoryImporter(redis, PinHasher(1, 8, 1), box=sealing_box()).apply(directory)
    await stack.provision.tenants.refresh()


async def test_gus_logs_in_by_his_hotdesk_id(stack: Stack) -> None:
    login = await screen_url(stack, "login")
    _, form = await screen_get(login)
    assert 'type="text" name="ext"' in form  # letters can be typed
    _, done = await screen_post(login, ext="gus", pin="2580")
    assert "Gus Globex (3001) is logged in" in done
    assert await who_is_on(stack, "hd3003") == "3001"


async def test_a_did_logs_its_user_in_in_every_form(stack: Stack) -> None:
    for typed in ("4930123451002", "+4930123451002", "004930123451002"):
        await stack.logout("hd3003")
        login = await screen_url(stack, "login")
        _, done = await screen_post(login, ext=typed, pin="8264")
        assert "Bob Example (1002) is logged in" in done, typed
        assert await who_is_on(stack, "hd3003") == "1002"


async def test_a_caller_id_that_is_no_did_logs_its_user_in(stack: Stack, redis: Redis) -> None:
    await _carol_presents(stack, redis, "+4930123450000")
    login = await screen_url(stack, "login")
    _, done = await screen_post(login, ext="4930123450000", pin="5173")
    assert "Carol Example (1003) is logged in" in done
    assert await who_is_on(stack, "hd3003") == "1003"


async def test_a_number_of_two_users_is_refused(stack: Stack, redis: Redis) -> None:
    # Bob's DID is Carol's caller ID too: the number names both.
    await _carol_presents(stack, redis, "+4930123451002")
    login = await screen_url(stack, "login")
    _, refused = await screen_post(login, ext="4930123451002", pin="8264")
    assert "belongs to more than one user" in refused
    assert await who_is_on(stack, "hd3003") == ""
    _, done = await screen_post(login, ext="1002", pin="8264")
    assert "Bob Example (1002) is logged in" in done


async def test_a_name_of_nobody_is_a_wrong_extension(stack: Stack) -> None:
    login = await screen_url(stack, "login")
    for typed in ("nobody", "4930999999999", "9999"):
        _, wrong = await screen_post(login, ext=typed, pin="4711")
        assert "Wrong extension or PIN" in wrong, typed
    _, odd = await screen_post(login, ext="gus; drop", pin="9731")
    assert "Enter your extension, number or ID" in odd
    assert await who_is_on(stack, "hd3003") == ""
