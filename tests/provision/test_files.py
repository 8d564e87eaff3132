"""Phone files over HTTP: which phone gets which file, and only with its own
credentials. Real Redis with the demo directory, the services in-process,
aiohttp's digest client as the phone."""

import logging
import ssl
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import aiohttp
import pytest
from hotdesk.v1 import provision_pb2 as pb
from redis.asyncio import Redis

from services.auth.pins import PinHasher
from services.directory.importer import DirectoryImporter
from services.directory.load import parse_directory
from services.kernel import keys
from tests.support.demo import DIRECTORY, secret
from tests.support.phone_files import polycom_values
from tests.support.provision import (
    POLYCOM_VVX450_UA,
    YEALINK_T46U_UA,
    YEALINK_T54W_UA,
    Stack,
    phone_session,
    provision_stack,
)
from tests.support.redis_server import RedisServer
from tests.support.secrets import sealing_box

HD3001 = "001565aa3001.cfg"


async def fetch(
    stack: Stack, path: str, user_agent: str, device: str | None = None, password: str | None = None
) -> tuple[int, str, dict[str, str]]:
    async with (
        phone_session(user_agent, device, password) as session,
        session.get(f"{stack.url}/{path}") as r,
    ):
        return r.status, await r.text(), dict(r.headers)


async def test_device_file_needs_credentials(stack: Stack) -> None:
    status, body, headers = await fetch(stack, HD3001, YEALINK_T54W_UA)
    assert status == 401
    assert "demo-secret" not in body
    assert headers["WWW-Authenticate"].startswith('Digest realm="hotdesk-provisioning"')


async def test_device_file_with_own_credentials(stack: Stack) -> None:
    status, body, headers = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
    assert status == 200, body
    assert secret("hd3001") in body
    assert "HD hd3001" in body
    assert headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("device", "password", "status"),
    [
        # Another device's valid credentials prove that device: the file is not its own.
        ("hd3002", None, 404),
        ("hd3001", "demo-secret-wrong", 401),
        ("nobody", "demo-secret-hd3001", 401),
    ],
)
async def test_other_credentials_never_get_the_file(
    stack: Stack, device: str, password: str | None, status: int
) -> None:
    answer, body, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, device, password)
    assert answer == status
    assert secret("hd3001") not in body


@pytest.mark.parametrize(
    ("path", "user_agent", "reason"),
    [
        # With hd3001's credentials: a file named for any other MAC is not its
        # own (the MAC is never looked up).
        ("001565ffffff.cfg", YEALINK_T54W_UA, "other_mac"),
        # <mac>.cfg is a Yealink's file and a Polycom's master file.
        (HD3001, POLYCOM_VVX450_UA, "vendor_mismatch"),
        (HD3001, "curl/8.0", "unknown_file"),
        ("0004f2aa3003-hotdesk.cfg", YEALINK_T54W_UA, "foreign_agent"),
        (
            HD3001,
            YEALINK_T46U_UA.replace("00:15:65:aa:30:02", "00:15:65:aa:30:01"),
            "model_mismatch",
        ),
        (HD3001, YEALINK_T54W_UA.replace("30:01", "30:09"), "mac_mismatch"),
        ("0004f2aa3003-hotdesk.cfg", POLYCOM_VVX450_UA.replace("aa3003", "aa3001"), "other_mac"),
        (
            "001565aa3001-hotdesk.cfg",
            POLYCOM_VVX450_UA.replace("aa3003", "aa3001"),
            "vendor_mismatch",
        ),
        ("secrets.txt", YEALINK_T54W_UA, "unknown_file"),
    ],
)
async def test_unknown_or_mismatched_phones_get_404(
    stack: Stack, path: str, user_agent: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    status, body, _ = await fetch(stack, path, user_agent, "hd3001")
    assert status == 404
    assert "demo-secret" not in body
    refused = [r for r in caplog.records if r.getMessage() == "fetch_refused"]
    assert [r.fields["reason"] for r in refused] == [reason]  # type: ignore[attr-defined]


async def test_polycom_masters_and_device_file(stack: Stack) -> None:
    # The default master names no MAC: open. A master named for a MAC is
    # answered like every file named for a MAC: to that device's credentials.
    status, default, _ = await fetch(stack, "000000000000.cfg", POLYCOM_VVX450_UA)
    assert status == 200
    assert ET.fromstring(default).attrib["CONFIG_FILES"] == "[PHONE_MAC_ADDRESS]-hotdesk.cfg"
    status, _, _ = await fetch(stack, "0004f2aa3003.cfg", POLYCOM_VVX450_UA)
    assert status == 401
    status, master, _ = await fetch(stack, "0004f2aa3003.cfg", POLYCOM_VVX450_UA, "hd3003")
    assert status == 200
    application = ET.fromstring(master)
    assert application.attrib["CONFIG_FILES"] == "0004f2aa3003-hotdesk.cfg"
    assert secret("hd3003") not in master
    status, _, _ = await fetch(stack, "0004f2aa3003-hotdesk.cfg", POLYCOM_VVX450_UA)
    assert status == 401
    await stack.login("hd3003", "1003")
    status, body, _ = await fetch(stack, "0004f2aa3003-hotdesk.cfg", POLYCOM_VVX450_UA, "hd3003")
    assert status == 200, body
    values = polycom_values(body)
    assert values["reg.1.auth.userId"] == "hd3003"
    assert values["reg.1.auth.password"] == secret("hd3003")
    assert values["reg.1.label"] == "1003 Carol Example"
    assert values["feature.callList.enabled"] == "0"


async def test_uploads_are_refused(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="services.provision.files")
    async with (
        phone_session(POLYCOM_VVX450_UA) as session,
        session.put(f"{stack.url}/0004f2aa3003-phone.cfg", data=b"<x/>") as r,
    ):
        assert r.status == 403
    (refused,) = [r for r in caplog.records if r.getMessage() == "upload_refused"]
    assert refused.fields["vendor"] == "polycom"  # type: ignore[attr-defined]


async def test_fetch_marks_the_device_provisioned(stack: Stack, redis: Redis) -> None:
    rpc = stack.provision_stub()

    async def state() -> pb.DeviceProvisioning:
        r = await rpc.GetDeviceProvisioning(pb.DeviceProvisioningRequest(device_id="hd3001"))
        return r.devices[0]

    assert not (await state()).provisioned  # never fetched
    await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
    first = await state()
    assert first.provisioned and first.fetched_generation == first.generation == 0
    await stack.login("hd3001", "1001")
    pending = await state()
    assert not pending.provisioned and pending.generation == 1 and pending.user == "acme/1001"
    status, body, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
    assert status == 200 and "Alice Example" in body
    done = await state()
    assert done.provisioned and done.fetched_generation == 1
    assert await redis.hget(keys.provision_status("acme-group", "hd3001"), "fetched_gen") == "1"
    await stack.logout("hd3001")
    _, idle, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
    assert "Alice" not in idle and "HD hd3001" in idle


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_https_when_a_certificate_is_configured(
    redis: Redis, redis_server: RedisServer, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    trust = ssl.create_default_context(cafile=str(cert))
    async with provision_stack(
        redis_server.url, tls_cert_file=str(cert), tls_key_file=str(key)
    ) as stack:
        assert stack.url.startswith("https://127.0.0.1:")
        async with (
            phone_session(YEALINK_T54W_UA, "hd3001") as session,
            session.get(f"{stack.url}/{HD3001}", ssl=trust) as r,
        ):
            assert r.status == 200
            assert secret("hd3001") in await r.text()
        plain = stack.url.replace("https://", "http://")
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientError):
                async with session.get(f"{plain}/{HD3001}") as r:
                    await r.read()


async def test_a_replaced_secret_fetches_the_file_during_its_grace(
    stack: Stack, redis: Redis
) -> None:
    """After an import changes hd3001's secret, the phone (which knows only
    the old one) still fetches its file, which carries the new one; once
    the grace has passed the old secret is refused."""
    text = DIRECTORY.read_text().replace(secret("hd3001"), "rotated-secret-hd3001")
    await DirectoryImporter(
        redis, PinHasher(1, 8, 1), box=sealing_box(), secret_grace_seconds=3600
    ).apply(parse_directory(text, "rotated.yaml"))
    for password in (secret("hd3001"), "rotated-secret-hd3001"):
        status, body, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001", password)
        assert status == 200, body
        assert "rotated-secret-hd3001" in body and secret("hd3001") not in body
    await redis.hset(keys.sip_credentials("hotdesk.local", "hd3001"), "prev_until", "1")
    status, _, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001", secret("hd3001"))
    assert status == 401
    status, _, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001", "rotated-secret-hd3001")
    assert status == 200
