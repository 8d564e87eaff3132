"""Tenant configuration as the directory stores it, and a cache of it that
services refresh whenever an import bumps the directory version."""

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from prometheus_client import Gauge
from pydantic import Field, ValidationInfo, field_validator, model_validator
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.kernel import keys
from services.kernel.location import COUNTRY, Location
from services.kernel.logs import fields
from services.kernel.records import Record, stored

log = logging.getLogger(__name__)

DIRECTORY_VERSION = Gauge(
    "hotdesk_directory_version",
    "The directory version this process has loaded (every import that changes anything "
    "increments it)",
)

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True)
class FeatureCode:
    """A dialled feature code: ``login`` (with the extension when the code
    carried it, ``*77*1001*``: feature ``login_ext``), ``logout`` (of the
    phone dialling), or ``logout_anywhere`` (of a user, wherever she is)."""

    feature: Literal["login", "logout", "login_ext", "logout_anywhere"]
    extension: str = ""


class FeatureCodes(Record):
    login: str = "*45"
    logout: str = "*46"
    # 3CX style: <prefix><extension>* logs in with the extension filled in.
    login_with_extension_prefix: str = "*77*"
    # FusionPBX *073 style: from any phone, extension and PIN end that
    # user's session wherever it is.
    logout_anywhere: str = "*47"

    def in_extension_namespace(self, code: str) -> bool:
        """Whether ``code`` lies in the login prefix's namespace (3CX's
        ``*77*5*`` beside ``*77*<extension>*``): it then matches as itself,
        and must not be ``<prefix><extension>*`` of any extension, or a
        prefix of one, or start with one."""
        prefix = self.login_with_extension_prefix
        return len(code) > len(prefix) and code.startswith(prefix)

    def mistaken_extension(self, code: str, extension: str) -> bool:
        """Whether ``code`` in the login prefix's namespace can be mistaken
        for logging in as ``extension`` (either dialled string is the start
        of the other)."""
        typed = code[len(self.login_with_extension_prefix) :]
        spelled = extension + "*"
        return typed.startswith(spelled) or spelled.startswith(typed)

    def match(self, number: str) -> FeatureCode | None:
        """Which code ``number`` is (the edge routes it to the voice menu,
        the menu runs its flow), or None."""
        if number == self.login:
            return FeatureCode("login")
        if number == self.logout:
            return FeatureCode("logout")
        if number == self.logout_anywhere:
            return FeatureCode("logout_anywhere")
        prefix = self.login_with_extension_prefix
        middle = number[len(prefix) : -1]
        if number.startswith(prefix) and number.endswith("*") and middle.isdigit():
            return FeatureCode("login_ext", middle)
        return None


class ProfileKey(Record):
    """One key of a user's phone profile: busy lamp field on an extension,
    or a speed dial."""

    kind: Literal["blf", "speed_dial"]
    value: str = Field(pattern=r"^\+?[0-9*#]{1,32}$")
    # Shown on the phone's key: no quotes, backslashes or control characters.
    label: str = Field(min_length=1, max_length=32, pattern=r'^[^"\\\x00-\x1f\x7f]+$')


# The phone makes the provision service has a module for.
PhoneVendor = Literal["yealink", "polycom", "snom"]


class PhoneSettings(Record):
    """Settings a tenant may give every phone of one make and model, in no
    vendor's terms: a closed set of typed values (never free text), which
    each vendor module writes under its own names. Unset: the phone's own
    default."""

    call_waiting: bool | None = None
    clock_24h: bool | None = None
    # Seconds until the display's backlight dims (0: always on), from the
    # values the phone's menu offers.
    backlight_seconds: Literal[0, 15, 30, 60, 120, 300, 600, 1800] | None = None


# Which settings each vendor's files can carry (the others have no
# documented parameter there): a profile may set only these.
VENDOR_SETTINGS: dict[str, frozenset[str]] = {
    "yealink": frozenset({"call_waiting", "clock_24h", "backlight_seconds"}),
    "polycom": frozenset({"call_waiting", "clock_24h"}),
    "snom": frozenset({"call_waiting", "clock_24h"}),
}


class PhoneProfile(Record):
    """A tenant's (business group's) profile for one make and model: a
    user's first login on that model starts her profile with its keys (after
    the Logout key) and ring tone; its settings go to every phone of that
    model, whoever is logged in."""

    vendor: PhoneVendor
    model: str = Field(min_length=1, max_length=32)
    keys: tuple[ProfileKey, ...] = Field(default=(), max_length=100)
    ringer: int = Field(default=1, ge=1, le=8)  # the vendor's n-th built-in ring tone
    settings: PhoneSettings = PhoneSettings()

    @field_validator("settings")
    @classmethod
    def _settings_the_vendor_has(cls, value: PhoneSettings, info: ValidationInfo) -> PhoneSettings:
        """Checked where the directory is imported; read back, a setting a
        later version allows for this vendor is kept (tolerant reads)."""
        if (info.context or {}).get("stored") or "vendor" not in info.data:
            return value
        vendor = info.data["vendor"]
        given = {name for name, setting in value if setting is not None}
        if extra := given - VENDOR_SETTINGS[vendor]:
            raise ValueError(f"{vendor} phones have no setting {', '.join(sorted(extra))}")
        return value


# Where a forward may go: a SIP URI, or an E.164 number that leaves through
# the tenant's outbound peer.
SIP_URI = r'^sips?:[^\s<>"]{1,200}$'
E164 = r"^\+[1-9][0-9]{1,14}$"
FORWARD_TARGET = f"{SIP_URI}|{E164}"


class Unavailable(Record):
    """What happens to a call for a user who cannot be reached at a desk
    (logged out, the desk not registered, or no answer within
    ``ring_seconds``): ``reject`` answers 480, ``forward`` sends the call to
    ``target`` with History-Info and Diversion."""

    action: Literal["reject", "forward"] = "reject"
    target: str | None = Field(default=None, pattern=FORWARD_TARGET)
    ring_seconds: int = Field(default=30, ge=5, le=600)

    @model_validator(mode="after")
    def _target_with_forward(self) -> "Unavailable":
        if self.action == "forward" and not self.target:
            raise ValueError("action forward needs a target (sip:... or +E.164)")
        if self.action == "reject" and self.target:
            raise ValueError("a target is only for action forward")
        return self


# Where on-site staff hear of an emergency call: http(s) only, no spaces.
WEBHOOK_URL = r"^https?://[^\s<>\"]{1,200}$"
# Sites and peers are named alike (peers.PEER_NAME is this).
NAME = r"^[a-z0-9][a-z0-9._-]{0,63}$"
SITE_NAME = NAME


class EmergencyNotify(Record):
    """Who is told at once when a desk dials an emergency number (Kari's
    Law): SIP URIs that get a MESSAGE, and webhooks that get a JSON POST."""

    messages: tuple[Annotated[str, Field(pattern=SIP_URI)], ...] = Field(default=(), max_length=8)
    webhooks: tuple[Annotated[str, Field(pattern=WEBHOOK_URL)], ...] = Field(
        default=(), max_length=8
    )


class TenantConfig(Record):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    domain: str = Field(min_length=1)
    emergency_numbers: tuple[str, ...] = ("112", "911")
    feature_codes: FeatureCodes = FeatureCodes()
    # A second login by a user already on another device: log the other
    # device out ("auto_logout") or refuse ("deny").
    second_login: Literal["auto_logout", "deny"] = "auto_logout"
    logout_asks_pin: bool = True
    max_login_seconds: int | None = Field(default=None, gt=0)
    daily_logout: str | None = None  # "HH:MM" in the tenant's timezone
    timezone: str = "UTC"
    # Tenants naming the same group allow cross-tenant logins among them.
    cross_tenant_group: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    # A user's first login on a phone model starts their profile for that
    # model with these keys (after the Logout key on key 1).
    default_profile_keys: tuple[ProfileKey, ...] = Field(default=(), max_length=100)
    # ... unless the tenant has a profile for that make and model.
    phone_profiles: tuple[PhoneProfile, ...] = Field(default=(), max_length=200)
    # The voice menu's prompt folder (a tenant's own folder overrides it).
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}(-[a-z]{2,3})?$")
    # How the voice menu says extensions: digit by digit ("one zero zero
    # one") or as a number ("one thousand and one"); minutes are always
    # said as a number.
    extensions_spoken: Literal["digits", "number"] = "digits"
    # Peers (by name) that calls to outside numbers leave through, and that
    # emergency calls try in order; unset: the edge's own gateways.
    outbound_peer: str | None = None
    emergency_route: tuple[str, ...] = Field(default=(), max_length=8)
    # Per country of the calling desk's location (ISO 3166 code): replaces
    # emergency_route for desks there.
    emergency_routes: dict[Annotated[str, Field(pattern=COUNTRY)], tuple[str, ...]] = Field(
        default_factory=dict, max_length=64
    )
    # A call from a peer to a desk's emergency caller ID within this long
    # after the desk's emergency call rings that desk (0: never).
    emergency_callback_minutes: int = Field(default=60, ge=0, le=1440)
    emergency_notify: EmergencyNotify = EmergencyNotify()
    # The location of every desk of the tenant, and of named sites that
    # desks may name instead; a desk's own fields win over both.
    location: Location | None = None
    sites: dict[Annotated[str, Field(pattern=SITE_NAME)], Location] = Field(
        default_factory=dict, max_length=1000
    )
    # Calls to a user who is not at a desk (a user's own rule replaces it).
    unavailable: Unavailable = Unavailable()

    @field_validator("daily_logout")
    @classmethod
    def _hhmm(cls, value: str | None) -> str | None:
        if value is not None and not _HHMM.match(value):
            raise ValueError("must be HH:MM (24-hour clock)")
        return value

    @field_validator("phone_profiles")
    @classmethod
    def _one_profile_per_model(cls, value: tuple[PhoneProfile, ...]) -> tuple[PhoneProfile, ...]:
        seen: set[tuple[str, str]] = set()
        for profile in value:
            if (profile.vendor, profile.model) in seen:
                raise ValueError(f"two profiles for {profile.vendor} {profile.model}")
            seen.add((profile.vendor, profile.model))
        return value

    def starting_profile(self, vendor: str, model: str) -> tuple[tuple[ProfileKey, ...], int]:
        """The keys and ring tone a user's first login on this make and model
        starts from: the tenant's profile for it, else the default keys and
        ring tone 1."""
        for profile in self.phone_profiles:
            if (profile.vendor, profile.model) == (vendor, model):
                return profile.keys, profile.ringer
        return self.default_profile_keys, 1

    def model_settings(self, vendor: str, model: str) -> PhoneSettings:
        """The settings of every phone of this make and model."""
        for profile in self.phone_profiles:
            if (profile.vendor, profile.model) == (vendor, model):
                return profile.settings
        return PhoneSettings()

    def emergency_route_for(self, country: str | None) -> tuple[str, ...]:
        """The peers emergency calls from a desk in ``country`` try."""
        return self.emergency_routes.get(country or "", self.emergency_route)

    @property
    def group(self) -> str:
        """The Redis hash-tag group this tenant's keys live in."""
        return self.cross_tenant_group or self.id


class TenantCache:
    """The tenants and the domain index, held in memory.

    ``refresh()`` reloads only when the directory version changed, so it is
    cheap to call often; ``run()`` does so every ``interval`` seconds. Other
    directory data a service keeps in memory reloads with the tenants
    through ``on_reload`` (awaited in order; if one fails, the next refresh
    tries the whole reload again).
    """

    def __init__(self, redis: Redis, interval: float = 1.0) -> None:
        self._redis = redis
        self._interval = interval
        self._version: str | None = None
        self._loaded = False
        self.by_id: dict[str, TenantConfig] = {}
        self.by_domain: dict[str, TenantConfig] = {}
        self.domains: dict[str, str] = {}  # tenant id -> SIP domain
        self.on_reload: list[Callable[[], Awaitable[None]]] = []

    @property
    def version(self) -> str:
        """The directory version loaded ("" before the first load): read
        before the data it names, so data newer than it may be loaded, never
        older."""
        return self._version or ""

    @property
    def loaded(self) -> bool:
        """Whether the directory has been read at least once."""
        return self._loaded

    async def refresh(self) -> bool:
        version = await self._redis.get(keys.DIR_VERSION)
        if version == self._version and self._version is not None:
            return False
        raw = await self._redis.hgetall(keys.DIR_TENANTS)
        by_id = {tid: stored(TenantConfig, doc) for tid, doc in raw.items()}
        self.by_id = by_id
        self.by_domain = {t.domain: t for t in by_id.values()}
        self.domains = {t.id: t.domain for t in by_id.values()}
        for reload in self.on_reload:
            await reload()
        self._version = version
        DIRECTORY_VERSION.set(int(version or 0))
        self._loaded = True
        log.info("tenants_loaded", extra=fields(version=version, tenants=len(by_id)))
        return True

    async def start(self) -> None:
        """First load; a service still starts (not ready) if Redis is down."""
        try:
            await self.refresh()
        except (RedisError, OSError) as exc:
            log.warning("tenants_not_loaded", extra=fields(error=str(exc)))

    async def run(self) -> None:
        while True:
            with contextlib.suppress(RedisError, OSError):
                await self.refresh()
            await asyncio.sleep(self._interval)
