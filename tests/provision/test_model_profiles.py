"""Business-group phone profiles: the demo tenant acme has its own profile
for the Yealink T46U (hd3002), with settings, and none for the T54W
(hd3001), whose users start from the default keys. Files fetched over HTTP
and read back as the phones read them."""

import dataclasses
import json
from typing import Any

import pytest
from hotdesk.v1 import binding_pb2 as bpb
from hotdesk.v1 import provision_pb2 as pb
from pydantic import ValidationError

from services.kernel.records import stored
from services.kernel.tenants import PhoneSettings, TenantConfig
from services.provision.vendors import VENDORS
from tests.provision.test_vendors import POLYCOM_MAC, make_view
from tests.support.phone_files import polycom_values, snom_values, yealink_values
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


# What the demo gives acme's T46U (examples/directory.yaml), as the file says it.
T46U_SETTINGS = {
    "call_waiting.enable": "0",
    "local_time.time_format": "1",
    "phone_setting.backlight_time": "60",
}


async def yealink_file(stack: Stack, device: str, path: str, user_agent: str) -> dict[str, str]:
    async with (
        phone_session(user_agent, device) as session,
        session.get(f"{stack.url}/{path}") as r,
    ):
        assert r.status == 200
        return yealink_values(await r.text())


async def test_two_models_get_their_own_settings_idle_and_logged_in(stack: Stack) -> None:
    for logged_in in (False, True):
        if logged_in:
            await stack.login("hd3001", "1001")
            await stack.login("hd3002", "1002")
        t46u = await yealink_file(stack, "hd3002", "001565aa3002.cfg", YEALINK_T46U_UA)
        t54w = await yealink_file(stack, "hd3001", "001565aa3001.cfg", YEALINK_T54W_UA)
        assert {name: t46u.get(name) for name in T46U_SETTINGS} == T46U_SETTINGS, logged_in
        assert not set(T46U_SETTINGS) & set(t54w), logged_in


def _profile(vendor: str, settings: dict[str, Any]) -> dict[str, Any]:
    return {"vendor": vendor, "model": "M1", "settings": settings}


@pytest.mark.parametrize(
    ("vendor", "settings", "error"),
    [
        # Only the vendor's own whitelist: a VVX has no backlight setting.
        ("polycom", {"backlight_seconds": 60}, "polycom phones have no setting backlight_seconds"),
        ("snom", {"backlight_seconds": 60}, "snom phones have no setting backlight_seconds"),
        # No free-form names or values: nothing a directory writes reaches a
        # file as text.
        ("yealink", {"static.auto_provision.server.url": "http://x"}, "Extra inputs"),
        ("yealink", {"call_waiting": "0\nstatic.security.user_password = admin:x"}, "bool"),
        ("yealink", {"backlight_seconds": 45}, "backlight_seconds"),
        ("yealink", {"clock_24h": "yes please"}, "bool"),
    ],
)
def test_settings_are_a_validated_whitelist_per_vendor(
    vendor: str, settings: dict[str, Any], error: str
) -> None:
    with pytest.raises(ValidationError, match=error):
        TenantConfig.model_validate(
            {"id": "t", "domain": "t.local", "phone_profiles": [_profile(vendor, settings)]}
        )


def test_a_setting_a_later_version_allows_is_kept_when_read_back() -> None:
    """Stored by a version whose Snom files carry a backlight setting (and
    with a setting this one does not know): read, not refused."""
    doc = {
        "id": "t",
        "domain": "t.local",
        "phone_profiles": [_profile("snom", {"backlight_seconds": 60, "wallpaper": "x"})],
    }
    tenant = stored(TenantConfig, json.dumps(doc))
    assert tenant.model_settings("snom", "M1") == PhoneSettings(backlight_seconds=60)


def test_each_vendor_writes_the_settings_under_its_own_names() -> None:
    settings = PhoneSettings(call_waiting=True, clock_24h=False)
    polycom = VENDORS["polycom"]
    request = polycom.parse_path(f"{POLYCOM_MAC}-hotdesk.cfg")
    assert request is not None
    view = make_view("polycom", "VVX450", POLYCOM_MAC, logged_in=True, key_count=12)
    with_settings = polycom_values(
        polycom.render(request, dataclasses.replace(view, settings=settings)).body.decode()
    )
    assert with_settings["call.callWaiting.enable"] == "1"
    assert with_settings["lcl.datetime.time.24HourClock"] == "0"
    plain = polycom_values(polycom.render(request, view).body.decode())
    assert "call.callWaiting.enable" not in plain and "lcl.datetime.time.24HourClock" not in plain

    snom = VENDORS["snom"]
    mac = "000413aa3004"
    snom_request = snom.parse_path(f"snom-{mac}.xml")
    assert snom_request is not None
    snom_view = make_view("snom", "D785", mac, logged_in=False, key_count=24)
    values = snom_values(
        snom.render(snom_request, dataclasses.replace(snom_view, settings=settings)).body.decode()
    )
    assert (values["call_waiting"], values["time_24_format"]) == ("on", "off")
    plain_snom = snom_values(snom.render(snom_request, snom_view).body.decode())
    assert "call_waiting" not in plain_snom and "time_24_format" not in plain_snom
