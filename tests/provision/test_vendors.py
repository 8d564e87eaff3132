"""The vendor modules: rendered files parsed back and checked setting by
setting, file names, User-Agents, XML-browser pages and model specs."""

import xml.etree.ElementTree as ET
from typing import get_args

import pytest

from services.kernel.tenants import PhoneVendor, TenantConfig
from services.provision.devices import DeviceRecord
from services.provision.identify import Identified, Refused, identify_device, labels
from services.provision.phone import Key, LoggedInUser, PhoneView, SipAccount
from services.provision.vendors import VENDORS, identify_path, vendor
from services.provision.vendors.base import FileRequest, ModelSpec, Vendor
from tests.support.phone_files import YEALINK_RESET, polycom_values, yealink_values

YEALINK = VENDORS["yealink"]
POLYCOM = VENDORS["polycom"]

YEALINK_MAC = "001565aa3001"
POLYCOM_MAC = "0004f2aa3003"
SECRET = 'S3cret-<pw>&"x'
ADMIN_PASSWORD = "k2pq7x4mzvb5n3c6yt2a"
LOGIN_URL = "https://prov.example/hd/login?device=hd3001"
LOGOUT_URL = "https://prov.example/hd/logout?device=hd3001&g=7"
YEALINK_UA = "Yealink SIP-T54W 96.86.0.100 00:15:65:aa:30:01"
POLYCOM_UA = "FileTransport PolycomVVX-VVX_450-UA/6.4.0.12345 (SN:0004f2aa3003) Type/Application"

ACCOUNT = SipAccount(
    user="hd3001",
    password=SECRET,
    domain="hotdesk.local",
    proxy_host="edge.hotdesk.example",
    proxy_port=5070,
    transport="tcp",
)
ALICE = LoggedInUser(tenant="acme", extension="1001", name="Alice Example", caller_id="+4930123")
USER_KEYS = (
    Key("logout", LOGOUT_URL, "Logout"),
    Key("blf", "1002", "Bob"),
    Key("speed_dial", "*97", "Voicemail"),
    Key("blf", "1003", "Carol"),
)


def make_view(
    vendor_name: str,
    model: str,
    mac: str,
    *,
    logged_in: bool,
    key_count: int,
    keys: tuple[Key, ...] | None = None,
    label: str | None = None,
    resync_seconds: int = 900,
) -> PhoneView:
    if keys is None:
        keys = USER_KEYS if logged_in else (Key("login", LOGIN_URL, "Login"),)
    default_label = "1001 Alice Example" if logged_in else "HD hd3001"
    return PhoneView(
        device_id="hd3001",
        mac=mac,
        vendor=vendor_name,
        model=model,
        account=ACCOUNT,
        user=ALICE if logged_in else None,
        label=default_label if label is None else label,
        display_name="Alice Example" if logged_in else "hd3001",
        keys=keys,
        key_count=key_count,
        emergency_numbers=("112", "911"),
        ringer=3,
        provisioning_url="https://prov.example/p",
        resync_seconds=resync_seconds,
        generation=7,
        admin_password=ADMIN_PASSWORD,
    )


def yealink_settings(body: bytes) -> dict[str, str]:
    return yealink_values(body.decode())


def polycom_settings(body: bytes) -> dict[str, str]:
    return polycom_values(body.decode())


def render_yealink(view: PhoneView) -> dict[str, str]:
    request = YEALINK.parse_path(f"{view.mac}.cfg")
    assert request is not None
    return yealink_settings(YEALINK.render(request, view).body)


def render_polycom(view: PhoneView) -> dict[str, str]:
    request = POLYCOM.parse_path(f"{view.mac}-hotdesk.cfg")
    assert request is not None
    return polycom_settings(POLYCOM.render(request, view).body)


YEALINK_POLICY = {
    "sip.notify_reboot_enable": "0",
    "static.auto_provision.user_agent_mac.enable": "1",
    "static.auto_provision.custom.protect": "0",
    "static.auto_provision.custom.sync": "0",
    "static.auto_provision.local_contact.backup.enable": "0",
    "static.auto_provision.local_calllog.backup.enable": "0",
    "features.save_call_history": "0",
    "local_contact.data.delete": "*",
}


# Yealink files


def test_yealink_logged_in_device_file() -> None:
    settings = render_yealink(
        make_view("yealink", "T54W", YEALINK_MAC, logged_in=True, key_count=27)
    )

    assert {key: settings[key] for key in YEALINK_POLICY} == YEALINK_POLICY
    assert settings["account.1.enable"] == "1"
    assert settings["account.1.label"] == "1001 Alice Example"
    assert settings["account.1.display_name"] == "Alice Example"
    assert settings["account.1.auth_name"] == "hd3001"
    assert settings["account.1.user_name"] == "hd3001"
    assert settings["account.1.password"] == SECRET
    assert settings["static.security.user_password"] == f"admin:{ADMIN_PASSWORD}"
    assert settings["account.1.sip_server.1.address"] == "hotdesk.local"
    assert settings["account.1.sip_server.1.port"] == "5070"
    assert settings["account.1.sip_server.1.transport_type"] == "1"  # TCP
    assert settings["account.1.outbound_proxy_enable"] == "1"
    assert settings["account.1.outbound_proxy.1.address"] == "edge.hotdesk.example"
    assert settings["account.1.outbound_proxy.1.port"] == "5070"
    assert settings["static.auto_provision.server.url"] == "https://prov.example/p"
    assert settings["static.auto_provision.repeat.enable"] == "1"
    assert settings["static.auto_provision.repeat.minutes"] == "15"
    assert settings["phone_setting.ring_type"] == "Ring3.wav"
    assert settings["phone_setting.emergency.number"] == "112,911"
    assert settings["dialplan.emergency.enable"] == "1"
    assert settings["dialplan.emergency.1.value"] == "112"
    assert settings["dialplan.emergency.2.value"] == "911"

    def key(n: int) -> tuple[str, str, str, str]:
        prefix = f"linekey.{n}"
        return (
            settings[f"{prefix}.type"],
            settings[f"{prefix}.value"],
            settings[f"{prefix}.label"],
            settings[f"{prefix}.line"],
        )

    assert key(1) == ("27", LOGOUT_URL, "Logout", "1")
    assert key(2) == ("16", "1002", "Bob", "1")
    assert key(3) == ("13", "*97", "Voicemail", "1")
    assert key(4) == ("16", "1003", "Carol", "1")
    for n in range(5, 28):
        assert key(n) == ("0", "%NULL%", "%NULL%", "%NULL%")
    assert "linekey.28.type" not in settings


def test_yealink_idle_device_file() -> None:
    settings = render_yealink(
        make_view("yealink", "T46U", YEALINK_MAC, logged_in=False, key_count=27)
    )

    assert settings["account.1.label"] == "HD hd3001"
    assert settings["account.1.display_name"] == "hd3001"
    assert settings["account.1.password"] == SECRET
    assert settings["linekey.1.type"] == "27"
    assert settings["linekey.1.value"] == LOGIN_URL
    assert settings["linekey.1.label"] == "Login"
    for n in range(2, 28):
        assert settings[f"linekey.{n}.type"] == "0"
        assert settings[f"linekey.{n}.value"] == "%NULL%"
        assert settings[f"linekey.{n}.label"] == "%NULL%"
    assert "linekey.28.type" not in settings
    assert {key: settings[key] for key in YEALINK_POLICY} == YEALINK_POLICY


@pytest.mark.parametrize("model", ["T41S", "T46U", "T48U", "T53W", "T54W", "T57W", "T58W"])
def test_yealink_every_key_of_the_model_is_written(model: str) -> None:
    spec = YEALINK.model(model)
    settings = render_yealink(
        make_view("yealink", model, YEALINK_MAC, logged_in=True, key_count=spec.line_keys)
    )

    assert settings["linekey.1.value"] == LOGOUT_URL
    assert settings[f"linekey.{spec.line_keys}.type"] == "0"
    assert f"linekey.{spec.line_keys + 1}.type" not in settings


def test_yealink_without_browser_login_is_a_speed_dial() -> None:
    keys = (Key("speed_dial", "*77*", "Login"),)
    settings = render_yealink(
        make_view("yealink", "T99X", YEALINK_MAC, logged_in=False, key_count=29, keys=keys)
    )

    assert (settings["linekey.1.type"], settings["linekey.1.value"]) == ("13", "*77*")


def test_yealink_a_line_break_in_a_value_starts_no_setting() -> None:
    hostile = "Alice\naccount.1.password = stolen\r\nx"
    view = make_view("yealink", "T54W", YEALINK_MAC, logged_in=True, key_count=27, label=hostile)
    settings = render_yealink(view)

    assert settings["account.1.label"] == "Alice account.1.password = stolen  x"
    assert settings["account.1.password"] == SECRET


@pytest.mark.parametrize(("seconds", "minutes"), [(30, "1"), (60, "1"), (61, "2"), (3600, "60")])
def test_yealink_resync_is_rounded_up_to_minutes(seconds: int, minutes: str) -> None:
    view = make_view(
        "yealink", "T54W", YEALINK_MAC, logged_in=False, key_count=27, resync_seconds=seconds
    )

    assert render_yealink(view)["static.auto_provision.repeat.minutes"] == minutes


@pytest.mark.parametrize("filename", ["y000000000096.cfg", "y000000000108.cfg"])
def test_yealink_common_file_has_the_policy_and_no_secret(filename: str) -> None:
    request = YEALINK.parse_path(filename)
    assert request == FileRequest("common", filename, None)
    body = YEALINK.render(request, None).body

    assert SECRET.encode() not in body
    assert b"hd3001" not in body
    assert yealink_settings(body) == YEALINK_POLICY | YEALINK_RESET


def test_device_files_refuse_a_missing_or_foreign_view() -> None:
    view = make_view("yealink", "T54W", YEALINK_MAC, logged_in=True, key_count=27)
    other = FileRequest("device", "001565aa9999.cfg", "001565aa9999")
    with pytest.raises(ValueError):
        YEALINK.render(other, view)
    with pytest.raises(ValueError):
        YEALINK.render(FileRequest("device", f"{YEALINK_MAC}.cfg", YEALINK_MAC), None)
    polycom_view = make_view("polycom", "VVX450", POLYCOM_MAC, logged_in=True, key_count=12)
    with pytest.raises(ValueError):
        POLYCOM.render(FileRequest("device", "x", "0004f2aa9999"), polycom_view)


@pytest.mark.parametrize("vendor_name", ["yealink", "polycom"])
def test_more_keys_than_the_phone_has_is_an_error(vendor_name: str) -> None:
    mac = YEALINK_MAC if vendor_name == "yealink" else POLYCOM_MAC
    view = make_view(vendor_name, "X", mac, logged_in=True, key_count=3)
    each = vendor(vendor_name)
    request = FileRequest("device", "x", mac)
    with pytest.raises(ValueError, match="4 keys for a phone with 3"):
        each.render(request, view)


# Polycom files


def test_polycom_logged_in_device_file() -> None:
    settings = render_polycom(
        make_view("polycom", "VVX450", POLYCOM_MAC, logged_in=True, key_count=12)
    )

    assert settings["reg.1.address"] == "hd3001@hotdesk.local"
    assert settings["reg.1.auth.userId"] == "hd3001"
    assert settings["reg.1.auth.password"] == SECRET
    assert settings["device.set"] == "1"
    assert settings["device.auth.localAdminPassword.set"] == "1"
    assert settings["device.auth.localAdminPassword"] == ADMIN_PASSWORD
    assert settings["reg.1.label"] == "1001 Alice Example"
    assert settings["reg.1.displayName"] == "Alice Example"
    assert settings["reg.1.server.1.address"] == "hotdesk.local"
    assert settings["reg.1.server.1.port"] == "5070"
    assert settings["reg.1.server.1.transport"] == "TCPOnly"
    assert settings["reg.1.outboundProxy.address"] == "edge.hotdesk.example"
    assert settings["reg.1.outboundProxy.port"] == "5070"
    assert settings["reg.1.ringType"] == "ringer4"
    assert settings["np.normal.ringing.calls.tonePattern"] == "ringer4"
    assert settings["voIpProt.SIP.specialEvent.checkSync.alwaysReboot"] == "0"
    assert settings["prov.polling.enabled"] == "1"
    assert settings["prov.polling.mode"] == "rel"
    assert settings["prov.polling.period"] == "3600"
    assert settings["dialplan.routing.emergency.1.value"] == "112,911"
    assert settings["dialplan.routing.emergency.1.server.1"] == "1"
    assert settings["feature.callList.enabled"] == "0"
    assert settings["dir.local.readonly"] == "1"
    assert settings["feature.enhancedFeatureKeys.enabled"] == "1"
    assert settings["lineKey.reassignment.enabled"] == "1"

    def efk(n: int) -> tuple[str, str, str, str, str]:
        return (
            settings[f"lineKey.{n}.category"],
            settings[f"lineKey.{n}.index"],
            settings[f"efk.efklist.{n}.status"],
            settings[f"efk.efklist.{n}.label"],
            settings[f"efk.efklist.{n}.action.string"],
        )

    def resource(n: int) -> tuple[str, str]:
        prefix = f"attendant.resourceList.{n}"
        return settings[f"{prefix}.address"], settings[f"{prefix}.label"]

    assert efk(1) == ("EFK", "1", "1", "Logout", LOGOUT_URL)
    assert settings["lineKey.2.category"] == "BLF"
    assert resource(1) == ("1002", "Bob")
    assert efk(3) == ("EFK", "3", "1", "Voicemail", "*97$Tinvite$")
    assert settings["lineKey.4.category"] == "BLF"
    assert resource(2) == ("1003", "Carol")
    for n in (2, 4):
        assert settings[f"efk.efklist.{n}.status"] == "0"
    for n in range(5, 13):
        assert efk(n) == ("Unassigned", "0", "0", "", "")
    for n in range(3, 13):
        assert resource(n) == ("", "")
    assert "lineKey.13.category" not in settings
    assert "attendant.resourceList.13.address" not in settings


def test_polycom_idle_device_file() -> None:
    settings = render_polycom(
        make_view("polycom", "VVX250", POLYCOM_MAC, logged_in=False, key_count=4)
    )

    assert settings["reg.1.label"] == "HD hd3001"
    assert settings["reg.1.displayName"] == "hd3001"
    assert settings["lineKey.1.category"] == "EFK"
    assert settings["efk.efklist.1.label"] == "Login"
    assert settings["efk.efklist.1.action.string"] == LOGIN_URL
    for n in range(2, 5):
        assert settings[f"lineKey.{n}.category"] == "Unassigned"
        assert settings[f"efk.efklist.{n}.status"] == "0"
    for n in range(1, 5):
        assert settings[f"attendant.resourceList.{n}.address"] == ""
    assert "lineKey.5.category" not in settings


@pytest.mark.parametrize(("seconds", "period"), [(900, "3600"), (3600, "3600"), (7200, "7200")])
def test_polycom_polling_period_is_at_least_an_hour(seconds: int, period: str) -> None:
    view = make_view(
        "polycom", "VVX450", POLYCOM_MAC, logged_in=False, key_count=12, resync_seconds=seconds
    )

    assert render_polycom(view)["prov.polling.period"] == period


@pytest.mark.parametrize(
    "key",
    [
        Key("speed_dial", "123$Changup$", "Evil"),
        Key("speed_dial", "!macro", "Evil"),
        Key("logout", "https://prov.example/x$Tinvite$", "Evil"),
    ],
)
def test_polycom_keys_cannot_inject_efk_macros(key: Key) -> None:
    view = make_view("polycom", "VVX450", POLYCOM_MAC, logged_in=True, key_count=12, keys=(key,))
    with pytest.raises(ValueError):
        render_polycom(view)


def test_polycom_master_files_name_the_device_file_and_hold_no_secret() -> None:
    for filename, config_files in [
        ("0004F2AA3003.cfg", "0004f2aa3003-hotdesk.cfg"),
        ("000000000000.cfg", "[PHONE_MAC_ADDRESS]-hotdesk.cfg"),
    ]:
        request = POLYCOM.parse_path(filename)
        assert request is not None and request.kind == "common"
        body = POLYCOM.render(request, None).body
        root = ET.fromstring(body)

        assert root.tag == "APPLICATION"
        assert root.attrib["CONFIG_FILES"] == config_files
        for directory in ("OVERRIDES_DIRECTORY", "CONTACTS_DIRECTORY", "CALL_LISTS_DIRECTORY"):
            assert root.attrib[directory] == ""
        assert SECRET.encode() not in body
        assert b"reg." not in body


@pytest.mark.parametrize(
    ("filename", "upload"),
    [
        ("0004f2aa3003-phone.cfg", True),
        ("0004f2aa3003-web.cfg", True),
        ("0004F2AA3003-directory.xml", True),
        ("0004f2aa3003-calls.xml", True),
        ("0004f2aa3003-app.log", True),
        ("0004f2aa3003-boot.log", True),
        ("0004f2aa3003-hotdesk.cfg", False),
        ("0004f2aa3003.cfg", False),
        ("../0004f2aa3003-phone.cfg", False),
    ],
)
def test_polycom_uploads_are_recognised_and_never_served(filename: str, upload: bool) -> None:
    assert POLYCOM.is_upload(filename) is upload
    if upload:
        assert POLYCOM.parse_path(filename) is None
        assert identify_path(filename, POLYCOM_UA) is None


@pytest.mark.parametrize(
    ("filename", "upload"),
    [
        ("001565aa3001-local.cfg", True),
        ("001565aa3001-contact.xml", True),
        ("001565aa3001-calllog.xml", True),
        ("001565aa3001.cfg", False),
    ],
)
def test_yealink_uploads_are_recognised(filename: str, upload: bool) -> None:
    assert YEALINK.is_upload(filename) is upload


# File names


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("y000000000096.cfg", FileRequest("common", "y000000000096.cfg", None)),
        ("001565aa3001.cfg", FileRequest("device", "001565aa3001.cfg", "001565aa3001")),
        ("001565AA3001.cfg", FileRequest("device", "001565AA3001.cfg", "001565aa3001")),
        ("000000000000.cfg", None),
        ("y00000000096.cfg", None),
        ("001565aa300.cfg", None),
        ("001565aa30g1.cfg", None),
        ("001565aa3001.cfg.bak", None),
        ("001565aa3001-local.cfg", None),
        ("../x.cfg", None),
        ("../001565aa3001.cfg", None),
        ("dir/001565aa3001.cfg", None),
        ("001565aa3001.cfg\n", None),
        ("", None),
    ],
)
def test_yealink_paths(filename: str, expected: FileRequest | None) -> None:
    assert YEALINK.parse_path(filename) == expected


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("000000000000.cfg", FileRequest("common", "000000000000.cfg", None)),
        ("0004f2aa3003.cfg", FileRequest("common", "0004f2aa3003.cfg", "0004f2aa3003")),
        ("0004F2AA3003.cfg", FileRequest("common", "0004F2AA3003.cfg", "0004f2aa3003")),
        (
            "0004F2AA3003-hotdesk.cfg",
            FileRequest("device", "0004F2AA3003-hotdesk.cfg", "0004f2aa3003"),
        ),
        ("000000000000-hotdesk.cfg", None),
        ("0004f2aa3003-phone.cfg", None),
        ("sip.ld", None),
        ("y000000000096.cfg", None),
        ("../x.cfg", None),
        ("../0004f2aa3003-hotdesk.cfg", None),
        ("", None),
    ],
)
def test_polycom_paths(filename: str, expected: FileRequest | None) -> None:
    assert POLYCOM.parse_path(filename) == expected


NAMES = [
    "y000000000096.cfg",
    "001565aa3001.cfg",
    "0004f2aa3003.cfg",
    "000000000000.cfg",
    "0004f2aa3003-hotdesk.cfg",
    "001565aa3001-hotdesk.cfg",
    "0004f2aa3003-phone.cfg",
    "001565aa3001-local.cfg",
    "../x.cfg",
    "index.html",
]


def test_only_mac_cfg_is_claimed_by_two_vendors() -> None:
    doubly = {
        name
        for name in NAMES
        if sum(each.parse_path(name) is not None for each in VENDORS.values()) > 1
    }

    assert doubly == {"001565aa3001.cfg", "0004f2aa3003.cfg"}


def test_identify_path() -> None:
    def identified(filename: str, user_agent: str | None = None) -> tuple[str, str] | None:
        found = identify_path(filename, user_agent)
        return None if found is None else (found[0].name, found[1].kind)

    assert identified("y000000000096.cfg") == ("yealink", "common")
    assert identified("000000000000.cfg") == ("polycom", "common")
    assert identified("0004f2aa3003-hotdesk.cfg") == ("polycom", "device")
    assert identified("0004f2aa3003-hotdesk.cfg", YEALINK_UA) == ("polycom", "device")
    # <mac>.cfg: the User-Agent decides, and nothing is guessed without it.
    assert identified("001565aa3001.cfg", YEALINK_UA) == ("yealink", "device")
    assert identified("0004f2aa3003.cfg", POLYCOM_UA) == ("polycom", "common")
    assert identified("001565aa3001.cfg") is None
    assert identified("001565aa3001.cfg", "curl/8.5.0") is None
    assert identified("../x.cfg", YEALINK_UA) is None
    assert identified("index.html") is None


# User-Agents


@pytest.mark.parametrize(
    ("user_agent", "model", "mac"),
    [
        (YEALINK_UA, "T54W", "001565aa3001"),
        ("Yealink SIP-T46U 108.86.0.45 80:5E:C0:12:34:56", "T46U", "805ec0123456"),
        ("Yealink SIP-T48S 66.85.0.5", "T48S", None),
        ("yealink SIP-T57W 96.86.0.70 24:9a:d8:1e:83:fa", "T57W", "249ad81e83fa"),
        ("Yealink SIP VP-T49G 51.80.0.100 00:15:65:11:22:33", "T49G", "001565112233"),
    ],
)
def test_yealink_user_agents(user_agent: str, model: str, mac: str | None) -> None:
    parsed = YEALINK.parse_user_agent(user_agent)

    assert parsed is not None
    assert (parsed.model, parsed.mac) == (model, mac)


@pytest.mark.parametrize(
    ("user_agent", "model", "mac"),
    [
        (POLYCOM_UA, "VVX450", "0004f2aa3003"),
        ("FileTransport PolycomVVX-VVX_411-UA/5.9.5.0614 Type/Application", "VVX411", None),
        ("FileTransport PolycomVVX-VVX_501-UA/6.4.6.0123", "VVX501", None),
        ("FileTransport PolycomVVX-VVX_500-UA/5.9.7.47435 Type/Updater", "VVX500", None),
        ("PolycomVVX-VVX_601-UA/6.4.0", "VVX601", None),
    ],
)
def test_polycom_user_agents(user_agent: str, model: str, mac: str | None) -> None:
    parsed = POLYCOM.parse_user_agent(user_agent)

    assert parsed is not None
    assert (parsed.model, parsed.mac) == (model, mac)


@pytest.mark.parametrize(
    ("each", "user_agent"),
    [
        (YEALINK, POLYCOM_UA),
        (POLYCOM, YEALINK_UA),
        (YEALINK, "Yealink"),
        (YEALINK, "Mozilla/5.0 (X11; Linux x86_64)"),
        (POLYCOM, "Mozilla/5.0 (X11; Linux x86_64)"),
        (YEALINK, ""),
        (POLYCOM, "FileTransport Polycom"),
        (POLYCOM, "Grandstream Model HW GXP2170 SW 1.0.11.3 DevId c074ad123456"),
    ],
)
def test_foreign_and_garbage_user_agents(each: Vendor, user_agent: str) -> None:
    assert each.parse_user_agent(user_agent) is None


# XML-browser pages

HOSTILE = 'Wrong <PIN> & "quotes"'


def test_yealink_login_page() -> None:
    page = YEALINK.login_page("https://prov.example/hd/login?t=a&b=<1>", '10"01', HOSTILE)
    root = ET.fromstring(page.body)

    assert page.content_type.startswith("text/xml")
    assert root.tag == "YealinkIPPhoneInputScreen"
    assert root.findtext("Title") == HOSTILE
    assert root.findtext("URL") == "https://prov.example/hd/login"
    fields = [
        (field.findtext("Parameter"), field.findtext("Default"), field.get("password"))
        for field in root.iter("InputField")
    ]
    assert fields == [
        ("t", "a", None),
        ("b", "<1>", None),
        ("ext", '10"01', "no"),
        ("pin", "", "yes"),
    ]


def test_yealink_logout_and_message_pages() -> None:
    logout = ET.fromstring(YEALINK.logout_page(LOGOUT_URL, "1001 <Alice> & Co").body)
    message = ET.fromstring(YEALINK.message_page("Locked <out>", HOSTILE).body)

    assert logout.tag == "YealinkIPPhoneTextScreen"
    assert logout.findtext("Text") == "Log out 1001 <Alice> & Co?"
    uris = [key.findtext("URI") for key in logout.iter("SoftKey")]
    assert uris == [LOGOUT_URL, "SoftKey:Exit"]
    assert message.tag == "YealinkIPPhoneTextScreen"
    assert (message.findtext("Title"), message.findtext("Text")) == ("Locked <out>", HOSTILE)


XHTML = "{http://www.w3.org/1999/xhtml}"


def test_polycom_login_page() -> None:
    page = POLYCOM.login_page("https://prov.example/hd/login?t=a&b=<1>", '10"01', HOSTILE)
    root = ET.fromstring(page.body)

    assert page.content_type.startswith("text/html")
    assert HOSTILE in "".join(root.itertext())
    form = root.find(f".//{XHTML}form")
    assert form is not None
    assert (form.get("method"), form.get("action")) == ("post", "https://prov.example/hd/login")
    inputs = [(i.get("type"), i.get("name"), i.get("value")) for i in form.iter(f"{XHTML}input")]
    assert inputs == [
        ("hidden", "t", "a"),
        ("hidden", "b", "<1>"),
        ("text", "ext", '10"01'),
        ("password", "pin", ""),
        ("submit", None, "Log in"),
    ]


def test_polycom_login_page_without_error_shows_none() -> None:
    root = ET.fromstring(POLYCOM.login_page("https://prov.example/hd/login", "", None).body)

    assert root.find(f".//{XHTML}b") is None


def test_polycom_logout_and_message_pages() -> None:
    logout = ET.fromstring(POLYCOM.logout_page(LOGOUT_URL, "1001 <Alice> & Co").body)
    message = ET.fromstring(POLYCOM.message_page("Locked <out>", HOSTILE).body)

    assert "Log out 1001 <Alice> & Co?" in "".join(logout.itertext())
    link = logout.find(f".//{XHTML}a")
    assert link is not None and link.get("href") == LOGOUT_URL
    assert message.findtext(f"{XHTML}head/{XHTML}title") == "Locked <out>"
    assert HOSTILE in "".join(message.itertext())


def test_polycom_logout_pin_page_posts_the_pin() -> None:
    page = POLYCOM.logout_pin_page("https://prov.example/hd/logout", "1001 <Alice>", HOSTILE)
    root = ET.fromstring(page.body)

    text = "".join(root.itertext())
    assert "Log out 1001 <Alice>?" in text and HOSTILE in text
    form = root.find(f".//{XHTML}form")
    assert form is not None
    assert (form.get("method"), form.get("action")) == ("post", "https://prov.example/hd/logout")
    inputs = [(i.get("type"), i.get("name")) for i in form.iter(f"{XHTML}input")]
    assert inputs == [("password", "pin"), ("submit", None)]


def test_yealink_logout_pin_page() -> None:
    root = ET.fromstring(YEALINK.logout_pin_page(LOGOUT_URL, "1001 <Alice>", None).body)

    assert root.tag == "YealinkIPPhoneInputScreen"
    assert root.findtext("Title") == "Log out 1001 <Alice>?"
    assert [f.findtext("Parameter") for f in root.iter("InputField")] == ["device", "g", "pin"]


def test_only_vendors_whose_forms_post_get_screen_pages() -> None:
    # A PIN must never travel in a URL; Yealink's InputScreen submits by GET.
    assert POLYCOM.screen_forms
    assert not YEALINK.screen_forms


# Model specs and the registry


@pytest.mark.parametrize(
    ("model", "line_keys"),
    [
        ("T41S", 15),
        ("T46S", 27),
        ("T48S", 29),
        ("T46U", 27),
        ("T48U", 29),
        ("T53W", 21),
        ("T54W", 27),
        ("T57W", 29),
        ("T58W", 27),
    ],
)
def test_yealink_models(model: str, line_keys: int) -> None:
    assert YEALINK.model(model) == ModelSpec(model, line_keys, browser=True)


@pytest.mark.parametrize(
    ("model", "line_keys", "browser"),
    [
        ("VVX150", 2, False),
        ("VVX250", 4, True),
        ("VVX350", 6, True),
        ("VVX450", 12, True),
        ("VVX501", 12, True),
        ("VVX601", 16, True),
    ],
)
def test_polycom_models(model: str, line_keys: int, browser: bool) -> None:
    assert POLYCOM.model(model) == ModelSpec(model, line_keys, browser)


def test_unknown_models_get_no_browser_and_the_most_keys() -> None:
    assert YEALINK.model("T99X") == ModelSpec("T99X", 29, browser=False)
    assert POLYCOM.model("VVX999") == ModelSpec("VVX999", 16, browser=False)


def test_vendor_registry() -> None:
    assert vendor("yealink") is YEALINK
    assert vendor("polycom") is POLYCOM
    assert sorted(VENDORS) == ["polycom", "snom", "yealink"]
    # The directory accepts exactly the vendors there is a module for.
    assert sorted(get_args(PhoneVendor)) == sorted(VENDORS)
    assert all(name == each.name for name, each in VENDORS.items())
    with pytest.raises(
        KeyError, match=r"no phone vendor 'cisco' \(known: polycom, snom, yealink\)"
    ):
        vendor("cisco")


def test_check_sync_events() -> None:
    assert YEALINK.check_sync_event == "check-sync;reboot=false"
    assert POLYCOM.check_sync_event == "check-sync"


def _device(mac: str, model: str) -> DeviceRecord:
    tenant = TenantConfig(id="acme", domain="acme.example")
    return DeviceRecord("hd1", tenant, mac, "yealink", model, True, "s", 1, None, None)


def test_what_a_request_says_is_remembered_but_the_device_is_checked_each_time() -> None:
    """The file name and User-Agent are parsed once (``identify``'s caches);
    which device asks is not part of what is remembered."""
    filename, agent = "001565aa3001.cfg", "Yealink SIP-T54W 96.86.0.100 00:15:65:aa:30:01"
    assert labels(filename, agent) == ("yealink", "device")
    own = _device("001565aa3001", "T54W")
    assert isinstance(identify_device(filename, agent, own), Identified)
    for other in (_device("001565aa3002", "T54W"), _device("001565aa3001", "T46U")):
        for _ in range(2):  # the second answer comes from the caches
            assert isinstance(identify_device(filename, agent, other), Refused)
    assert isinstance(identify_device(filename, agent, own), Identified)
