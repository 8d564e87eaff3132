"""Nothing of one user stays for the next: every file a phone gets (idle,
after a login, after the logout) sets DND, phone-side forwarding, feature
sync, volumes, contacts and call history back, for each vendor and model
(a Snom desk through a login and logout: tests/provision/test_snom.py).
The files are read back as the phones read them."""

from collections.abc import Callable

import pytest

from services.provision.phone import PhoneView
from services.provision.vendors import VENDORS
from services.provision.vendors.polycom import _MODELS as POLYCOM_MODELS
from services.provision.vendors.snom import _FUNCTION_KEYS as SNOM_MODELS
from services.provision.vendors.yealink import _LINE_KEYS as YEALINK_MODELS
from tests.provision.test_vendors import POLYCOM_MAC, USER_KEYS, YEALINK_MAC, make_view
from tests.support.phone_files import (
    POLYCOM_RESET,
    SNOM_RESET,
    YEALINK_RESET,
    polycom_values,
    snom_values,
    yealink_values,
)
from tests.support.provision import (
    POLYCOM_VVX450_UA,
    YEALINK_T46U_UA,
    YEALINK_T54W_UA,
    Stack,
    phone_session,
)

# The demo's desks: (device, its file, its phone's User-Agent, reader, reset).
DESKS = [
    ("hd3001", "001565aa3001.cfg", YEALINK_T54W_UA, yealink_values, YEALINK_RESET),
    ("hd3002", "001565aa3002.cfg", YEALINK_T46U_UA, yealink_values, YEALINK_RESET),
    ("hd3003", "0004f2aa3003-hotdesk.cfg", POLYCOM_VVX450_UA, polycom_values, POLYCOM_RESET),
]


def _view(vendor: str, model: str, mac: str, logged_in: bool) -> PhoneView:
    """The model's file with as many of a user's keys as it has."""
    key_count = VENDORS[vendor].model(model).line_keys
    keys = USER_KEYS[:key_count] if logged_in else None
    return make_view(vendor, model, mac, logged_in=logged_in, key_count=key_count, keys=keys)


def _missing(settings: dict[str, str], reset: dict[str, str]) -> dict[str, str | None]:
    """The reset settings the file lacks or sets otherwise (with its value)."""
    return {
        name: settings.get(name) for name, value in reset.items() if settings.get(name) != value
    }


@pytest.mark.parametrize(("device", "path", "user_agent", "read", "reset"), DESKS)
async def test_every_file_of_a_login_and_logout_resets_the_phone(
    stack: Stack,
    device: str,
    path: str,
    user_agent: str,
    read: Callable[[str], dict[str, str]],
    reset: dict[str, str],
) -> None:

    async def fetched() -> dict[str, str]:
        async with (
            phone_session(user_agent, device) as session,
            session.get(f"{stack.url}/{path}") as r,
        ):
            assert r.status == 200
            return read(await r.text())

    idle = await fetched()
    await stack.login(device, "1001")
    alice = await fetched()
    assert "Alice Example" in alice.values()
    await stack.logout(device)
    after = await fetched()
    assert "Alice Example" not in after.values()
    for stage, settings in (("idle", idle), ("logged in", alice), ("logged out", after)):
        assert _missing(settings, reset) == {}, stage


@pytest.mark.parametrize("model", [*sorted(YEALINK_MODELS), "T99X"])
@pytest.mark.parametrize("logged_in", [True, False])
def test_every_yealink_model(model: str, logged_in: bool) -> None:
    view = _view("yealink", model, YEALINK_MAC, logged_in)
    yealink = VENDORS["yealink"]
    for path in (f"{YEALINK_MAC}.cfg", "y000000000096.cfg"):
        request = yealink.parse_path(path)
        assert request is not None
        body = yealink.render(request, view if request.kind == "device" else None).body
        assert _missing(yealink_values(body.decode()), YEALINK_RESET) == {}, path


@pytest.mark.parametrize("model", [*sorted(POLYCOM_MODELS), "VVX999"])
@pytest.mark.parametrize("logged_in", [True, False])
def test_every_polycom_model(model: str, logged_in: bool) -> None:
    view = _view("polycom", model, POLYCOM_MAC, logged_in)
    polycom = VENDORS["polycom"]
    request = polycom.parse_path(f"{POLYCOM_MAC}-hotdesk.cfg")
    assert request is not None
    body = polycom.render(request, view).body
    assert _missing(polycom_values(body.decode()), POLYCOM_RESET) == {}


@pytest.mark.parametrize("model", [*sorted(SNOM_MODELS), "D999"])
@pytest.mark.parametrize("logged_in", [True, False])
def test_every_snom_model(model: str, logged_in: bool) -> None:
    mac = "000413aa3004"
    view = _view("snom", model, mac, logged_in)
    snom = VENDORS["snom"]
    request = snom.parse_path(f"snom-{mac}.xml")
    assert request is not None
    body = snom.render(request, view).body
    assert _missing(snom_values(body.decode()), SNOM_RESET) == {}
