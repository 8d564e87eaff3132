"""Business-group phone profiles: the demo tenant acme has its own profile
for the Yealink T46U (hd3002) and none for the T54W (hd3001), whose users
start from the default keys. Files fetched over HTTP and read back as the
phones read them."""

import pytest
from hotdesk.v1 import binding_pb2 as bpb
from hotdesk.v1 import provision_pb2 as pb
from pydantic import ValidationError

from services.kernel.tenants import TenantConfig
from tests.support.phone_files import yealink_values
from tests.support.provision import YEALINK_T46U_UA, YEALINK_T54W_UA, Stack, phone_session

ALICE = bpb.UserRef(tenant="acme", extension="1001")


async def keys_at(stack: Stack, device: str, path: str, user_agent: str) -> list[tuple[str, str]]:
    """(value, label) of line keys 2.. that are set, and the ring tone last."""
    async with (
        phone_session(user_agent, device) as session,
        session.get(f"{stack.url}/{path}") as r,
    ):
        assert r.status == 200
        settings = yealink_values(await r.text())
    found = []
    for n in range(2, 100):
        value = settings.get(f"linekey.{n}.value")
        if value in (None, "%NULL%"):
            break
        found.append((value, settings[f"linekey.{n}.label"]))
    return [*found, ("ring", settings["phone_setting.ring_type"])]


async def test_two_models_of_one_tenant_start_from_different_profiles(stack: Stack) -> None:
    await stack.login("hd3001", "1001")
    await stack.login("hd3002", "1002")
    assert await keys_at(stack, "hd3001", "001565aa3001.cfg", YEALINK_T54W_UA) == [
        ("1001", "Alice"),
        ("1002", "Bob"),
        ("+4930123450000", "Reception"),
        ("ring", "Ring1.wav"),
    ]
    assert await keys_at(stack, "hd3002", "001565aa3002.cfg", YEALINK_T46U_UA) == [
        ("1003", "Carol"),
        ("+4930123450000", "Reception"),
        ("ring", "Ring2.wav"),
    ]


async def test_a_user_with_her_own_profile_keeps_it(stack: Stack) -> None:
    mine = [pb.ProfileKey(kind=pb.PROFILE_KEY_KIND_BLF, value="1002", label="Bobby")]
    await stack.provision_stub().PutProfile(
        pb.PutProfileRequest(
            profile=pb.Profile(user=ALICE, vendor="yealink", model="T46U", keys=mine, ringer=5),
            actor="test",
        )
    )
    await stack.login("hd3002", "1001")
    assert await keys_at(stack, "hd3002", "001565aa3002.cfg", YEALINK_T46U_UA) == [
        ("1002", "Bobby"),
        ("ring", "Ring5.wav"),
    ]


def test_one_profile_per_make_and_model() -> None:
    twice = {"vendor": "yealink", "model": "T46U"}
    with pytest.raises(ValidationError, match="two profiles for yealink T46U"):
        TenantConfig.model_validate({"id": "t", "domain": "t.local", "phone_profiles": [twice] * 2})
