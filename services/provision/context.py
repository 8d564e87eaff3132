"""What the phone-facing handlers share, held on the aiohttp app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from hotdesk.v1 import auth_pb2_grpc, binding_pb2_grpc

from services.kernel.clock import Clock
from services.kernel.lookup import DirectoryLookup
from services.provision.devices import DeviceDirectory
from services.provision.digest import DigestAuth
from services.provision.failures import DigestFailures
from services.provision.links import ScreenLinks
from services.provision.profiles import ProfileStore
from services.provision.rendercache import RenderCache
from services.provision.status import StatusBook
from services.provision.view import PhoneSite


@dataclass(frozen=True)
class ProvisionContext:
    devices: DeviceDirectory
    lookup: DirectoryLookup  # who a login typed at the screen names
    profiles: ProfileStore
    renders: RenderCache
    status: StatusBook
    digest: DigestAuth
    failures: DigestFailures
    links: ScreenLinks
    admin_password: Callable[[str], str]  # device id -> the phone's admin password
    site: PhoneSite
    clock: Clock
    auth: auth_pb2_grpc.AuthServiceAsyncStub
    binding: binding_pb2_grpc.BindingServiceAsyncStub
    rpc_timeout: float


CONTEXT = web.AppKey("provision_context", ProvisionContext)
