"""What every request handler reaches: the admin service's parts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from hotdesk.v1 import auth_pb2_grpc, binding_pb2_grpc, provision_pb2_grpc
from redis.asyncio import Redis

from services.admin.audit_log import AuditLog
from services.admin.credentials import ApiTokens, WebSessions
from services.admin.directory_view import DirectoryView
from services.admin.events import EventHub
from services.admin.oidc import OidcVerifier
from services.admin.operators import OperatorStore
from services.admin.webhooks import WebhookStore
from services.directory.importer import DirectoryImporter
from services.kernel.audit import AuditTrail
from services.kernel.tenants import TenantCache


@dataclass(frozen=True)
class AdminContext:
    redis: Redis  # the admin's own keys, and reads
    tenants: TenantCache
    operators: OperatorStore
    sessions: WebSessions
    tokens: ApiTokens
    oidc: OidcVerifier | None  # None: no identity provider configured
    directory: DirectoryView
    audit: AuditTrail  # writes: every operator action
    audit_log: AuditLog  # reads: the trail, scoped and filtered
    events: EventHub
    webhooks: WebhookStore
    importer: DirectoryImporter | None  # None: no directory import credentials
    binding: binding_pb2_grpc.BindingServiceAsyncStub
    auth: auth_pb2_grpc.AuthServiceAsyncStub
    provision: provision_pb2_grpc.ProvisionServiceAsyncStub
    rpc_timeout: float
    secure_cookies: bool
    sign_in_failures: int
    sign_in_window_seconds: int
    events_keepalive_seconds: float
    in_flight: asyncio.Semaphore  # API requests served at once
