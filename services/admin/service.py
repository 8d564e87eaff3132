"""The admin service: the operators' HTTP API in the shared service shell
(gRPC: health only). It acts through the binding, auth and provision
services' gRPC APIs as ``service:admin`` for the operator it names, and
reads the directory and sessions as they are stored; it writes only its
own keys (operators, sessions, tokens, webhooks, the occupancy report)
and audit entries, and
POSTs logins and logouts to the webhooks operators register."""

import asyncio

import aiohttp
import grpc
from aiohttp import web
from hotdesk.v1 import auth_pb2_grpc, binding_pb2_grpc, provision_pb2_grpc

from services.admin.app import admin_app
from services.admin.audit_log import AuditLog
from services.admin.context import AdminContext
from services.admin.credentials import ApiTokens, WebSessions
from services.admin.directory_view import DirectoryView
from services.admin.events import EventHub
from services.admin.occupancy import OccupancyRecorder
from services.admin.oidc import (
    OidcConfig,
    OidcVerifier,
    SigningKeys,
    jwks_file,
    jwks_url,
)
from services.admin.operators import OperatorStore
from services.admin.settings import AdminSettings
from services.admin.webhook_delivery import Retry, WebhookDispatcher
from services.admin.webhook_feed import WebhookFeed
from services.admin.webhooks import WebhookStore
from services.auth.pins import PinHasher
from services.directory.digest import PinDigester
from services.directory.importer import DirectoryImporter
from services.kernel.audit import AuditTrail
from services.kernel.clock import Clock, now_ms
from services.kernel.https import server_tls
from services.kernel.redis_conn import connect
from services.kernel.secretbox import SecretBox
from services.kernel.service import ServiceShell, port_of


class AdminService(ServiceShell):
    grpc_service_name = ""
    grpc_policy = {}
    settings: AdminSettings

    def __init__(self, settings: AdminSettings, *, clock: Clock = now_ms) -> None:
        super().__init__(settings)
        s = settings
        self.operators = OperatorStore(
            self.redis,
            OperatorStore.hasher(
                s.argon2_time_cost, s.argon2_memory_cost_kib, s.argon2_parallelism
            ),
            clock,
        )
        self.directory = DirectoryView(self.redis, self.tenants, clock)
        self.tenants.on_reload.append(self.directory.reload)
        self.events = EventHub(self.redis, self.tenants, s.events_queue)
        box = SecretBox.from_file(s.webhook_key_file, "admin") if s.webhook_key_file else None
        self.webhooks = WebhookStore(self.redis, box, clock)
        self.feed = WebhookFeed(self.redis, self.tenants, self.webhooks, s.webhook_poll_seconds)
        self.deliveries = WebhookDispatcher(
            self.redis,
            self.webhooks,
            Retry(
                s.webhook_attempts,
                s.webhook_backoff_seconds,
                s.webhook_backoff_max_seconds,
                s.webhook_timeout_seconds,
            ),
            s.webhook_in_flight,
            clock,
        )
        self.occupancy = OccupancyRecorder(
            self.redis,
            self.tenants,
            s.occupancy_retention_days * 86_400_000,
            s.occupancy_poll_seconds,
            clock,
        )
        self._clock = clock
        self._http: web.AppRunner | None = None

    @property
    def http_port(self) -> int:
        assert self._http is not None, "not started"
        return port_of(self._http)

    @property
    def base_url(self) -> str:
        scheme = "https" if self.settings.tls_cert_file else "http"
        return f"{scheme}://{self.settings.http_host}:{self.http_port}"

    def http_routes(self) -> list[web.AbstractRoute]:
        assert self._http is not None, "not started"
        return list(self._http.app.router.routes())

    def register_grpc(self, server: grpc.aio.Server) -> None:
        """Health only."""

    def _importer(self) -> DirectoryImporter | None:
        """The directory import, as its own Redis user, if configured."""
        s = self.settings
        if not s.directory_redis_url:
            return None
        redis = connect(
            s.directory_redis_url,
            cluster=s.redis_cluster,
            password_file=s.directory_redis_password_file,
            ca_file=s.redis_ca_file,
        )
        self.parts.push_async_callback(redis.aclose)
        digester = (
            PinDigester.from_file(s.pin_digest_key_file, "admin") if s.pin_digest_key_file else None
        )
        return DirectoryImporter(
            redis,
            PinHasher(s.argon2_time_cost, s.argon2_memory_cost_kib, s.argon2_parallelism),
            box=SecretBox.from_file(s.secrets_key_file, "admin"),
            digester=digester,
            secret_grace_seconds=s.sip_secret_grace_seconds,
        )

    async def _oidc(self) -> OidcVerifier | None:
        s = self.settings
        if not s.oidc_issuer:
            return None
        config = OidcConfig(
            issuer=s.oidc_issuer,
            audience=s.oidc_audience,
            operator_claim=s.oidc_operator_claim,
            leeway_seconds=s.oidc_leeway_seconds,
            jwks_refresh_seconds=s.oidc_jwks_refresh_seconds,
            jwks_min_refetch_seconds=s.oidc_jwks_min_refetch_seconds,
        )
        if s.oidc_jwks_file:
            source = jwks_file(s.oidc_jwks_file)
        else:
            http = aiohttp.ClientSession()
            self.parts.push_async_callback(http.close)
            source = jwks_url(s.oidc_jwks_url, http)
        keys = SigningKeys(source, config)
        await keys.load()
        return OidcVerifier(config, keys)

    async def start_parts(self) -> None:
        s = self.settings
        context = AdminContext(
            redis=self.redis,
            tenants=self.tenants,
            operators=self.operators,
            sessions=WebSessions(self.redis, s.session_seconds),
            tokens=ApiTokens(self.redis, self._clock),
            oidc=await self._oidc(),
            directory=self.directory,
            audit=AuditTrail(self.redis, s.audit_maxlen, self._clock),
            audit_log=AuditLog(self.redis, self.tenants),
            events=self.events,
            webhooks=self.webhooks,
            importer=self._importer(),
            binding=binding_pb2_grpc.BindingServiceStub(self.channel(s.binding_address)),
            auth=auth_pb2_grpc.AuthServiceStub(self.channel(s.auth_address)),
            provision=provision_pb2_grpc.ProvisionServiceStub(self.channel(s.provision_address)),
            rpc_timeout=s.rpc_timeout_seconds,
            secure_cookies=s.cookie_secure or bool(s.tls_cert_file),
            sign_in_failures=s.sign_in_failures,
            sign_in_window_seconds=s.sign_in_window_seconds,
            events_keepalive_seconds=s.events_keepalive_seconds,
            in_flight=asyncio.Semaphore(s.max_requests_in_flight),
        )
        self.background(self.events.run())
        await self.feed.start()
        self.background(self.feed.run())
        self.background(self.deliveries.run())
        self.background(self.occupancy.run())
        runner = web.AppRunner(admin_app(context), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(
            runner,
            s.http_host,
            s.http_port,
            ssl_context=server_tls(s.tls_cert_file, s.tls_key_file),
            reuse_address=True,
        ).start()
        self._http = runner
        self.parts.push_async_callback(runner.cleanup)

    def addresses(self) -> dict[str, str]:
        return super().addresses() | {"http": self.base_url}


async def start_admin_service(settings: AdminSettings, *, clock: Clock = now_ms) -> AdminService:
    service = AdminService(settings, clock=clock)
    await service.start()
    return service
