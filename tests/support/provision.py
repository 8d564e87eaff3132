"""The provisioning stack in-process for tests: binding, auth and provision
services on one real Redis holding the demo directory; and a phone's HTTP
client (its User-Agent, digest credentials)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from hotdesk.v1 import binding_pb2 as bpb
from hotdesk.v1 import binding_pb2_grpc, provision_pb2_grpc
from prometheus_client import REGISTRY

from services.auth.pins import PinHasher
from services.auth.service import AuthService, start_auth_service
from services.binding.service import BindingService, start_binding_service
from services.directory.importer import DirectoryImporter
from services.directory.load import load_directory
from services.kernel.redis_conn import connect
from services.provision.service import ProvisionService, start_provision_service
from services.provision.settings import ProvisionSettings
from tests.support import pki
from tests.support.demo import DIRECTORY, secret
from tests.support.kamailio import free_udp_port
from tests.support.secrets import sealing_box, secrets_key_file
from tests.support.services import auth_settings, binding_settings

YEALINK_T54W_UA = "Yealink SIP-T54W 96.86.0.100 00:15:65:aa:30:01"
YEALINK_T46U_UA = "Yealink SIP-T46U 108.86.0.45 00:15:65:aa:30:02"
POLYCOM_VVX450_UA = (
    "FileTransport PolycomVVX-VVX_450-UA/6.4.3.1234 (SN:0004f2aa3003) Type/Application"
)


async def import_demo(redis_url: str) -> None:
    redis = connect(redis_url)
    try:
        await DirectoryImporter(redis, PinHasher(1, 8, 1), box=sealing_box()).apply(
            load_directory(DIRECTORY)
        )
    finally:
        await redis.aclose()


def provision_settings(
    redis_url: str, binding_port: int, auth_port: int, **overrides: object
) -> ProvisionSettings:
    return ProvisionSettings.model_validate(
        {
            **pki.tls_settings("service:provision"),
            "secrets_key_file": secrets_key_file(),
            "redis_url": redis_url,
            "grpc_port": 0,
            "ops_port": 0,
            "http_port": 0,
            "binding_address": f"127.0.0.1:{binding_port}",
            "auth_address": f"127.0.0.1:{auth_port}",
            "shutdown_grace_seconds": 1,
            # Nobody listens there unless a test says otherwise.
            "push_edge_port": free_udp_port(),
            "push_timeout_seconds": 1.0,
            "consumer_name": "test",
            **overrides,
        }
    )


@dataclass
class Stack:
    binding: BindingService
    auth: AuthService
    provision: ProvisionService

    @property
    def url(self) -> str:
        return self.provision.base_url

    def binding_stub(self) -> binding_pb2_grpc.BindingServiceAsyncStub:
        channel = pki.aio_channel(f"127.0.0.1:{self.binding.grpc_port}")
        return binding_pb2_grpc.BindingServiceStub(channel)

    def provision_stub(self) -> provision_pb2_grpc.ProvisionServiceAsyncStub:
        channel = pki.aio_channel(f"127.0.0.1:{self.provision.grpc_port}")
        return provision_pb2_grpc.ProvisionServiceStub(channel)

    async def login(self, device: str, ext: str, tenant: str = "acme") -> bpb.LoginResponse:
        r: bpb.LoginResponse = await self.binding.core.login(
            device, bpb.UserRef(tenant=tenant, extension=ext), allow_takeover=True, actor="test"
        )
        return r

    async def logout(self, device: str) -> None:
        await self.binding.core.logout_device(device, reason=bpb.CHANGE_REASON_LOGOUT, actor="test")


@asynccontextmanager
async def provision_stack(redis_url: str, **overrides: object) -> AsyncIterator[Stack]:
    await import_demo(redis_url)
    binding = await start_binding_service(binding_settings(redis_url))
    auth = await start_auth_service(auth_settings(redis_url, binding.grpc_port))
    provision = await start_provision_service(
        provision_settings(redis_url, binding.grpc_port, auth.grpc_port, **overrides)
    )
    try:
        yield Stack(binding, auth, provision)
    finally:
        await provision.stop()
        await auth.stop()
        await binding.stop()


def phone_session(
    user_agent: str, device: str | None = None, password: str | None = None
) -> aiohttp.ClientSession:
    """A phone's HTTP client: its User-Agent, and digest credentials when
    ``device`` is given (the device's SIP secret unless ``password``)."""
    middlewares: tuple[aiohttp.DigestAuthMiddleware, ...] = ()
    if device is not None:
        middlewares = (aiohttp.DigestAuthMiddleware(device, password or secret(device)),)
    return aiohttp.ClientSession(headers={"User-Agent": user_agent}, middlewares=middlewares)


# The phone-screen pages, as hd3003 (a Polycom VVX 450, the demo's device with
# a browser that posts) opens them.
SCREEN_DEVICE_FILE = "0004f2aa3003-hotdesk.cfg"


async def screen_url(stack: Stack, page: str) -> str:
    """The page URL as hd3003's own file names it."""
    return await screen_url_at(stack.url, page)


async def screen_url_at(base_url: str, page: str) -> str:
    """The page URL as hd3003's own file, served at ``base_url``, names it."""
    async with (
        phone_session(POLYCOM_VVX450_UA, "hd3003") as session,
        session.get(f"{base_url}/{SCREEN_DEVICE_FILE}") as r,
    ):
        body = await r.text()
    found = re.search(rf"(http://[^\s<\"]+/screen/hd3003/[0-9a-f.]+/{page})", body)
    assert found, f"no {page} URL in the file:\n{body}"
    return found.group(1)


async def screen_get(url: str) -> tuple[int, str]:
    async with phone_session(POLYCOM_VVX450_UA) as session, session.get(url) as r:
        return r.status, await r.text()


async def screen_post(url: str, **form: str) -> tuple[int, str]:
    async with phone_session(POLYCOM_VVX450_UA) as session, session.post(url, data=form) as r:
        return r.status, await r.text()


async def who_is_on(stack: Stack, device: str) -> str:
    """The extension logged in at ``device`` ("" if idle)."""
    state = await stack.binding_stub().GetByDevice(bpb.GetByDeviceRequest(device_id=device))
    return state.binding.extension if state.HasField("binding") else ""


def device_cache(result: str) -> float:
    """Device file reads so far (in this process) that came from ``result``
    (hit, miss, off)."""
    sample = REGISTRY.get_sample_value("hotdesk_provision_device_cache_total", {"result": result})
    return sample or 0.0
