"""The provision service: phone files and phone-screen pages over HTTP(S),
profiles over gRPC, and the resync consumer pushing check-sync NOTIFYs."""

import secrets
import socket
from functools import partial

import grpc
from aiohttp import web
from hotdesk.v1 import auth_pb2_grpc, binding_pb2_grpc, provision_pb2, provision_pb2_grpc

from services.kernel import keys
from services.kernel.clock import Clock, now_ms
from services.kernel.https import server_tls
from services.kernel.lookup import DirectoryLookup
from services.kernel.secretbox import SecretBox
from services.kernel.service import ServiceShell
from services.kernel.tracking import Tracking
from services.provision.admin import admin_password
from services.provision.context import ProvisionContext
from services.provision.core import ProvisionCore
from services.provision.devices import DeviceDirectory
from services.provision.digest import DigestAuth
from services.provision.failures import DigestFailures
from services.provision.grpc_api import POLICY, ProvisionServicer
from services.provision.http_api import phone_app
from services.provision.links import ScreenLinks
from services.provision.notify import CheckSyncNotifier
from services.provision.pacing import TokenBucket
from services.provision.profiles import ProfileStore
from services.provision.rendercache import RenderCache
from services.provision.resync import ConsumerOptions, ResyncConsumer
from services.provision.settings import ProvisionSettings
from services.provision.status import StatusBook
from services.provision.view import PhoneSite


class ProvisionService(ServiceShell):
    grpc_service_name = provision_pb2.DESCRIPTOR.services_by_name["ProvisionService"].full_name
    grpc_policy = POLICY
    settings: ProvisionSettings

    def __init__(self, settings: ProvisionSettings, *, clock: Clock = now_ms) -> None:
        super().__init__(settings)
        # SIP secrets are stored sealed: the files carry them opened.
        self.box = SecretBox.from_file(settings.secrets_key_file, "provision service")
        self.clock = clock
        self.status = StatusBook(self.redis)
        self.profiles = ProfileStore(self.redis)
        self.bucket = TokenBucket(settings.push_rate_per_second, settings.push_burst)
        self.notifier = CheckSyncNotifier(
            edge=(settings.push_edge_host, settings.push_edge_port),
            bind_host=settings.push_bind_host,
            timeout=settings.push_timeout_seconds,
            max_in_flight=settings.push_max_in_flight,
        )
        self.core = ProvisionCore(
            self.redis, self.tenants, self.profiles, self.notifier.send, self.bucket, clock
        )
        self.consumer: ResyncConsumer | None = None
        self._http: web.AppRunner | None = None
        self._bound_port: int | None = None

    @property
    def http_port(self) -> int:
        assert self._bound_port is not None, "not started"
        return self._bound_port

    @property
    def base_url(self) -> str:
        s = self.settings
        if s.public_url:
            return s.public_url.rstrip("/")
        scheme = "https" if s.tls_cert_file else "http"
        return f"{scheme}://{s.http_host}:{self.http_port}"

    def register_grpc(self, server: grpc.aio.Server) -> None:
        provision_pb2_grpc.add_ProvisionServiceServicer_to_server(
            ProvisionServicer(self.core), server
        )

    async def _service_key(self) -> bytes:
        """The key every replica signs nonces and URLs with and derives the
        phones' admin passwords from (made once)."""
        await self.redis.set(keys.PROVISION_KEY, secrets.token_hex(32), nx=True)
        return bytes.fromhex(await self.redis.get(keys.PROVISION_KEY))

    async def start_parts(self) -> None:
        s = self.settings
        key = await self._service_key()
        await self.notifier.start()
        self.parts.push_async_callback(self.notifier.close)
        auth = self.channel(s.auth_address)
        binding = self.channel(s.binding_address)
        # The files name this server's URL, so the port is bound before the
        # app is built (port 0 in tests: the one the socket got).
        listener = socket.create_server((s.http_host, s.http_port))
        self._bound_port = listener.getsockname()[1]
        base = self.base_url
        tracking = Tracking(self.redis) if s.device_cache_entries else None
        if tracking is not None:
            tracking.start()
            self.parts.push_async_callback(tracking.stop)
        context = ProvisionContext(
            devices=DeviceDirectory(
                self.redis, self.tenants, self.box, tracking=tracking, kept=s.device_cache_entries
            ),
            lookup=DirectoryLookup(self.redis, self.tenants),
            profiles=self.profiles,
            renders=RenderCache(s.render_cache_entries, s.render_cache_seconds),
            status=self.status,
            digest=DigestAuth(s.digest_realm, key, s.digest_nonce_seconds),
            failures=DigestFailures(
                self.redis,
                s.digest_failures_per_mac,
                s.digest_failures_per_address,
                s.digest_failure_window_seconds,
            ),
            links=ScreenLinks(base, key, s.screen_token_seconds),
            admin_password=partial(admin_password, key),
            site=PhoneSite(s.sip_proxy_host, s.sip_proxy_port, base, s.phone_resync_seconds),
            clock=self.clock,
            auth=auth_pb2_grpc.AuthServiceStub(auth),
            binding=binding_pb2_grpc.BindingServiceStub(binding),
            rpc_timeout=s.rpc_timeout_seconds,
        )
        self._http = web.AppRunner(phone_app(context), access_log=None)
        await self._http.setup()
        await web.SockSite(
            self._http, listener, ssl_context=server_tls(s.tls_cert_file, s.tls_key_file)
        ).start()
        self.parts.push_async_callback(self._http.cleanup)
        self.consumer = ResyncConsumer(
            self.redis,
            self.tenants,
            self.status,
            self.notifier.send,
            self.bucket,
            ConsumerOptions(
                consumer=s.consumer_name,
                batch=s.consumer_batch,
                claim_idle_ms=int(s.consumer_claim_idle_seconds * 1000),
                workers=s.push_max_in_flight,
            ),
            self.clock,
        )
        self.consumer.start()
        self.parts.push_async_callback(self.consumer.stop)

    def addresses(self) -> dict[str, str]:
        return super().addresses() | {"files": self.base_url}


async def start_provision_service(
    settings: ProvisionSettings, *, clock: Clock = now_ms
) -> ProvisionService:
    service = ProvisionService(settings, clock=clock)
    await service.start()
    return service
