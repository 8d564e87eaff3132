"""The API's request and response bodies, query strings and path
parameters. The route table (``routes``) names them; the same classes
validate requests, shape responses and make the OpenAPI document."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.admin.operators import NAME_PATTERN, Role
from services.directory.model import DEVICE_ID, EXTENSION, HOTDESK_ID, TENANT_ID

TenantId = Annotated[str, Field(pattern=TENANT_ID)]
Extension = Annotated[str, Field(pattern=EXTENSION)]
DeviceId = Annotated[str, Field(pattern=DEVICE_ID)]
OperatorName = Annotated[str, Field(pattern=NAME_PATTERN)]
# "tenant/extension"
UserKey = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}/[0-9]{1,15}$")]
Cursor = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[!-~]+$")]
Limit = Annotated[int, Field(ge=1, le=500)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Query(BaseModel):
    """Query strings: parameters this version does not know are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class ErrorBody(Model):
    error: str


# Sign-in and tokens


class SignIn(Model):
    name: OperatorName
    password: str = Field(min_length=1, max_length=1024)


class OperatorView(Model):
    name: str
    role: Role
    tenants: list[str] = Field(description="the tenants the role covers (all: platform_admin)")


class SessionStarted(Model):
    operator: OperatorView
    csrf_token: str = Field(
        description="send as X-CSRF-Token with every state-changing request of this session"
    )


class TokenCreate(Model):
    label: str = Field(min_length=1, max_length=64, pattern=r"^[ -~]+$")


class TokenView(Model):
    id: str
    operator: str
    label: str
    created_unix_ms: int


class TokenCreated(Model):
    token: str = Field(description="the bearer token; shown once, stored only hashed")
    info: TokenView


class TokenList(Model):
    items: list[TokenView]


class TokenPath(Model):
    token_id: str = Field(pattern=r"^[0-9a-f]{16}$")


# Devices


class SessionView(Model):
    """Who is logged in at a device."""

    tenant: str
    extension: str
    name: str
    since_unix_ms: int
    expires_unix_ms: int = Field(description="0: no expiry")


class DeviceRow(Model):
    device_id: str
    tenant: str
    vendor: str
    model: str
    hotdesk: bool
    session: SessionView | None


class DevicePage(Model):
    items: list[DeviceRow]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: last")


class DeviceQuery(Query):
    tenant: TenantId | None = None
    device: str | None = Field(default=None, max_length=64, description="device id prefix")
    user: UserKey | None = Field(default=None, description="the device this user is on")
    state: Literal["bound", "idle"] | None = None
    limit: Limit = 50
    cursor: Cursor | None = None


class DevicePath(Model):
    device_id: DeviceId


class Provisioning(Model):
    provisioned: bool = Field(description="the device fetched the file of its current state")
    generation: int
    fetched_generation: int
    fetched_unix_ms: int
    pushed_generation: int
    pushed_unix_ms: int
    push_result: str


class DeviceDetail(Model):
    device: DeviceRow
    provisioning: Provisioning | None = Field(description="null: the device has no file state")


class ProvisioningQuery(Query):
    tenant: TenantId | None = None
    device: str | None = Field(default=None, max_length=64, description="device id prefix")
    limit: Annotated[int, Field(ge=1, le=100)] = 25
    cursor: Cursor | None = None


class ProvisioningPage(Model):
    items: list[DeviceDetail]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: last")


class LoginBody(Model):
    tenant: TenantId
    extension: Extension
    takeover: bool = Field(default=False, description="end whoever is on the device")


class LoginOutcome(Model):
    result: str = Field(description="logged_in, already_logged_in, device_occupied, ...")
    session: SessionView | None


class LogoutOutcome(Model):
    result: Literal["logged_out", "not_logged_in"]
    ended: SessionView | None
    device: str | None = Field(default=None, description="the device the session ended on")


class ResyncOutcome(Model):
    result: str = Field(description="the check-sync push: delivered, not_registered, ...")


# Users


class UserRow(Model):
    tenant: str
    extension: str
    name: str
    hotdesk: bool
    device: str | None = Field(description="the device the user is logged in at")


class UserPage(Model):
    items: list[UserRow]
    next_cursor: str | None


class UserQuery(Query):
    tenant: TenantId | None = None
    extension: str | None = Field(default=None, max_length=15, description="extension prefix")
    hotdesk_id: Annotated[str, Field(pattern=HOTDESK_ID)] | None = Field(
        default=None, description="the user of this global hot-desk id"
    )
    limit: Limit = 50
    cursor: Cursor | None = None


class UserPath(Model):
    tenant: TenantId
    extension: Extension


class UnlockBody(Model):
    device_id: DeviceId | None = Field(
        default=None, description="clear the user's lock on this device only"
    )


class UnlockOutcome(Model):
    cleared: int


class PinBody(Model):
    pin: str = Field(min_length=1, max_length=32, description="checked against the PIN policy")


# Audit trail and events


class AuditEntry(Model):
    id: str
    ts_unix_ms: int
    event: str
    tenant: str
    actor: str
    details: dict[str, str]


class AuditPage(Model):
    items: list[AuditEntry]
    next_cursor: str | None


class AuditQuery(Query):
    tenant: TenantId | None = None
    user: UserKey | None = None
    device: DeviceId | None = None
    event: str | None = Field(default=None, max_length=64)
    actor: str | None = Field(default=None, max_length=128, description="actor contains this")
    limit: Limit = 50
    cursor: str | None = Field(default=None, pattern=r"^[0-9]{1,19}-[0-9]{1,19}$")


# Webhooks


class WebhookCreate(Model):
    url: str = Field(
        max_length=2048,
        # Printable ASCII; the authority without "/?#@" (no credentials), no fragment.
        pattern=r'^https?://[!"$-.0->A-~]+(/[!"$-~]*)?$',
        description="http(s) only, no user:password@ (in production: https)",
    )
    tenant: TenantId | None = Field(
        default=None,
        description="the tenant whose logins and logouts it receives; null: every tenant "
        "(platform admin only)",
    )


class WebhookView(Model):
    id: str
    url: str
    tenant: str | None = Field(description="null: every tenant")
    operator: str = Field(description="who registered it")
    created_unix_ms: int
    last_status: int = Field(description="HTTP status of the last attempt; 0: no answer, or none")
    last_error: str
    last_event: str = Field(description="the event id of the last attempt")
    last_attempt_unix_ms: int
    delivered: int = Field(description="events it took (2xx)")
    failed: int = Field(description="events for which every attempt failed")


class WebhookCreated(Model):
    secret: str = Field(description="the signing secret; shown once, stored only sealed")
    webhook: WebhookView


class WebhookList(Model):
    items: list[WebhookView]


class WebhookPath(Model):
    webhook_id: str = Field(pattern=r"^[0-9a-f]{16}$")


# Occupancy report


class OccupancyQuery(Query):
    tenant: TenantId | None = None
    user: UserKey | None = None
    device: DeviceId | None = None
    since_unix_ms: int | None = Field(
        default=None, ge=0, le=2**53, description="intervals that ended after this"
    )
    until_unix_ms: int | None = Field(
        default=None, ge=0, le=2**53, description="intervals that started before this"
    )
    limit: Limit = 50
    cursor: str | None = Field(default=None, max_length=1024, pattern=r"^[ -~]+$")


class OccupancyRow(Model):
    tenant: str = Field(description="the user's tenant")
    extension: str
    device: str
    device_tenant: str
    from_unix_ms: int
    to_unix_ms: int
    ended_by: str = Field(description="logout, takeover, moved, expired, operator, directory")


class OccupancyPage(Model):
    items: list[OccupancyRow]
    next_cursor: str | None = Field(
        description="pass as cursor for the next page (a page may hold fewer than limit "
        "when many intervals were filtered out); null: last"
    )


# A tenant's part of the directory


class TenantPath(Model):
    tenant: TenantId


class ImportQuery(Query):
    dry_run: bool = Field(default=False, description="only say what would change")


class DirectoryPart(Model):
    directory: str = Field(
        min_length=1,
        max_length=4 * 1024 * 1024,
        description="the tenant's part in the directory file's format (YAML, or JSON): "
        "that tenant only, its users and devices, no peers",
    )


class ImportChange(Model):
    action: Literal["add", "change", "remove"]
    kind: str = Field(description="tenant, user or device")
    name: str
    changes: list[str] = Field(description="the fields that change (secrets: only that)")


class ImportOutcome(Model):
    dry_run: bool
    changes: list[ImportChange]
    sessions_ended: list[str] = Field(
        description="tenant/extension on device: sessions ended (in a dry run: that would end)"
    )
    version: int = Field(description="the directory version after the import")


class EventsQuery(Query):
    tenant: TenantId | None = None


class Empty(Model):
    pass


# Phone profiles


class ProfilePath(Model):
    tenant: TenantId
    extension: Extension
    vendor: str = Field(pattern=r"^[a-z]{1,16}$", description="yealink, polycom, snom")
    model: str = Field(pattern=r"^[A-Za-z0-9._-]{1,32}$", description="as the directory names it")


KeyKind = Literal["blf", "speed_dial"]


class ProfileKeyView(Model):
    kind: KeyKind
    value: str = Field(min_length=1, max_length=32, description="extension (blf) or number")
    label: str = Field(min_length=1, max_length=32)


class ProfileBody(Model):
    keys: list[ProfileKeyView] = Field(max_length=100, description="from key 2 on (1: Logout)")
    ringer: int = Field(default=1, ge=1, le=8)


class ProfileView(Model):
    vendor: str
    model: str
    keys: list[ProfileKeyView]
    ringer: int
    updated_unix_ms: int


class ProfileList(Model):
    items: list[ProfileView]
