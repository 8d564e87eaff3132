"""The directory file's entries. A tenant entry is the kernel's
``TenantConfig`` (what Redis stores and the services read) with the checks
of a well-formed file added; users and devices are the directory's own.

Only the rules of one entry live here; rules across entries (uniqueness,
references) are in ``services.directory.load``.
"""

import itertools
import re
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from services.auth.pins import pin_policy_violation
from services.kernel.location import COUNTRY, TEXT, Location, location_json
from services.kernel.peers import NUMBER_PREFIX, PEER_NAME, PeerAddress, PeerConfig
from services.kernel.tenants import (
    E164,
    FORWARD_TARGET,
    SITE_NAME,
    WEBHOOK_URL,
    FeatureCodes,
    PhoneVendor,
    TenantConfig,
    Unavailable,
)

EXTENSION = r"^[0-9]{1,15}$"
CALLER_ID = r"^\+?[0-9]{2,20}$"
# Goes out quoted in SIP display names: no quotes, backslashes or controls.
DISPLAY_NAME = r'^[^"\\\x00-\x1f\x7f]+$'
HOTDESK_ID = r"^[a-z0-9][a-z0-9._-]{0,63}$"
DEVICE_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
TENANT_ID = TenantConfig.model_fields["id"].metadata[0].pattern

# What a pattern means, for error messages an operator can act on (pydantic
# would print the regular expression).
PATTERN_HINTS = {
    EXTENSION: "must be 1 to 15 digits",
    CALLER_ID: "must be 2 to 20 digits, optionally after a +",
    DISPLAY_NAME: "must not contain double quotes, backslashes or control characters",
    HOTDESK_ID: "must be lowercase letters, digits, '.', '_' or '-' (at most 64, "
    "starting with a letter or digit)",
    DEVICE_ID: "must be letters, digits, '.', '_' or '-' (at most 64, starting with a "
    "letter or digit)",
    TENANT_ID: "must be lowercase letters, digits, '_' or '-' (at most 32, starting with a "
    "letter or digit)",
    FORWARD_TARGET: "must be a SIP URI (sip:user@host) or an E.164 number (+ and digits)",
    E164: "must be an E.164 number: + and 2 to 15 digits, not starting with 0",
    NUMBER_PREFIX: "must be an E.164 prefix: + and 1 to 15 digits, not starting with 0",
    WEBHOOK_URL: "must be an http:// or https:// URL without spaces",
    COUNTRY: "must be an ISO 3166-1 country code: two capital letters",
    TEXT: "must be one line of text (no control characters)",
    # Peer and site names (SITE_NAME is the same pattern).
    PEER_NAME: "must be lowercase letters, digits, '.', '_' or '-' (at most 64, starting with "
    "a letter or digit)",
}

_MAC_SEPARATORS = re.compile(r"[:.\-]")
# A SIP domain is matched as written: lowercase host names (or IPv4 addresses).
_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_DIALABLE = re.compile(r"^[0-9*#]+$")


class TenantEntry(TenantConfig):
    """A tenant as the file declares it: ``TenantConfig`` (what Redis
    stores and the services read) plus the rules of a well-formed one, and
    the key its emergency webhooks are signed with (kept apart: only
    Kamailio's copy of each desk's emergency data holds it)."""

    emergency_webhook_secret: str | None = Field(
        default=None, min_length=32, max_length=128, pattern=r"^[!-~]+$", repr=False
    )
    # One PIN for all the tenant's hot-desk users instead of a PIN each
    # (plaintext in the file; each user's PIN is stored as its argon2id hash).
    company_pin: str | None = Field(default=None, repr=False)

    @field_validator("company_pin")
    @classmethod
    def _company_pin_policy(cls, value: str | None) -> str | None:
        violation = value and pin_policy_violation(value, "")
        if violation:
            raise ValueError(violation)
        return value

    @field_validator("domain")
    @classmethod
    def _host_name(cls, value: str) -> str:
        if not _DOMAIN.match(value):
            raise ValueError("must be a lowercase host name or address")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("emergency_numbers")
    @classmethod
    def _digits(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [n for n in value if not n.isdigit()]
        if bad:
            raise ValueError("must be digits only: " + ", ".join(map(repr, bad)))
        return value

    @field_validator("feature_codes")
    @classmethod
    def _distinct_codes(cls, value: FeatureCodes, info: ValidationInfo) -> FeatureCodes:
        """Codes are dialled digit by digit: a code that is a prefix of
        another (or of an emergency number) matches before the caller has
        finished dialling the longer one. The login prefix is no code on its
        own (its codes end with the extension and ``*``): a code may lie in
        its namespace (3CX's ``*77*5*``), where no extension of the tenant
        may be mistaken for it (``services.directory.load``)."""
        codes = value.model_dump()
        prefix = value.login_with_extension_prefix
        problems = [
            f"{name} {code!r} must be digits, * and # only"
            for name, code in codes.items()
            if not _DIALABLE.match(code)
        ]
        for (a, code_a), (b, code_b) in itertools.combinations(codes.items(), 2):
            if code_a == code_b:
                problems.append(f"{a} and {b} are the same code {code_a!r}")
            elif prefix in (code_a, code_b) and value.in_extension_namespace(
                code_b if code_a == prefix else code_a
            ):
                continue  # the other code lies in the prefix's namespace
            elif code_b.startswith(code_a) or code_a.startswith(code_b):
                (short, s), (long, g) = sorted(((a, code_a), (b, code_b)), key=lambda x: len(x[1]))
                problems.append(
                    f"{short} {s!r} is a prefix of {long} {g!r}; the phone would dial {s!r} "
                    "before the caller finishes"
                )
        problems += [
            f"{name} {code!r} collides with emergency number {number!r}"
            for number in info.data.get("emergency_numbers", ())
            for name, code in codes.items()
            if number.startswith(code) or code.startswith(number)
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return value

    def config(self) -> TenantConfig:
        """As Redis stores it (the plain kernel model): no secret, no PIN."""
        return TenantConfig.model_validate(
            self.model_dump(exclude={"emergency_webhook_secret", "company_pin"})
        )


class UserEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str
    extension: str = Field(pattern=EXTENSION)
    name: str = Field(min_length=1, max_length=64, pattern=DISPLAY_NAME)
    caller_id: str = Field(pattern=CALLER_ID)
    # Plaintext in the file; stored only as an argon2id hash. Absent: the
    # user keeps whatever PIN was set through the API (or has none).
    pin: str | None = Field(default=None, repr=False)
    hotdesk: bool = True
    # Globally unique, for logging in at another tenant's desk.
    hotdesk_id: str | None = Field(default=None, pattern=HOTDESK_ID)
    # The numbers that ring the user (unique across all tenants); list the
    # caller ID here too if calls to it should reach her.
    dids: tuple[Annotated[str, Field(pattern=E164)], ...] = Field(default=(), max_length=32)
    # Replaces the tenant's rule for calls the user cannot take at a desk.
    unavailable: Unavailable | None = None

    @field_validator("pin")
    @classmethod
    def _pin_policy(cls, value: str | None, info: ValidationInfo) -> str | None:
        violation = value and pin_policy_violation(value, info.data.get("extension", ""))
        if violation:
            raise ValueError(violation)
        return value

    @property
    def ref(self) -> str:
        return f"{self.tenant}/{self.extension}"

    def static_fields(self) -> dict[str, str]:
        """The user hash fields the directory owns (never the session ones)."""
        return {
            "name": self.name,
            "caller_id": self.caller_id,
            "hotdesk": "1" if self.hotdesk else "0",
            "hotdesk_id": self.hotdesk_id or "",
            "dids": ",".join(self.dids),
            "unavailable": self.unavailable.model_dump_json() if self.unavailable else "",
        }


class DeviceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=DEVICE_ID)
    mac: str
    vendor: PhoneVendor
    model: str = Field(min_length=1, max_length=32)
    tenant: str
    sip_secret: str = Field(min_length=12, max_length=128, repr=False)
    emergency_caller_id: str = Field(pattern=CALLER_ID)
    hotdesk: bool = True
    # Where the desk is: a site of its tenant and/or its own fields (floor,
    # room, ...) over the site's and the tenant's. After loading, the
    # merged result (see services.directory.load).
    site: str | None = Field(default=None, pattern=SITE_NAME)
    location: Location | None = None

    @field_validator("mac")
    @classmethod
    def _normalise_mac(cls, value: str) -> str:
        mac = _MAC_SEPARATORS.sub("", value).lower()
        if not re.fullmatch(r"[0-9a-f]{12}", mac):
            raise ValueError("must be 12 hex digits, optionally separated by ':', '-' or '.'")
        return mac

    def static_fields(self) -> dict[str, str]:
        """The device hash fields the directory owns (never the session ones)."""
        return {
            "tenant": self.tenant,
            "mac": self.mac,
            "vendor": self.vendor,
            "model": self.model,
            "emergency_cid": self.emergency_caller_id,
            "hotdesk": "1" if self.hotdesk else "0",
            "location": location_json(self.location),
        }


class PeerCredentials(BaseModel):
    """Digest credentials of a peer that registers (a PBX without a fixed
    address): it registers as ``username`` in its first tenant's domain."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(pattern=DEVICE_ID)
    password: str = Field(min_length=12, max_length=128, repr=False)


class PeerEntry(PeerConfig):
    """A peer as the file declares it: ``PeerConfig`` plus its credentials
    (stored only as HA1) and the rules of a well-formed one."""

    credentials: PeerCredentials | None = None

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Normalised (``10.0.0.0/24:5060``), so that the file's spelling
        does not matter for comparing or matching."""
        parsed, bad = [], []
        for text in value:
            try:
                parsed.append(str(PeerAddress.parse(text)))
            except ValueError as exc:
                bad.append(str(exc))
        if bad:
            raise ValueError("; ".join(bad))
        return tuple(parsed)

    @field_validator("numbers")
    @classmethod
    def _prefixes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [n for n in value if not re.match(NUMBER_PREFIX, n)]
        if bad:
            raise ValueError(
                "must be E.164 prefixes (+ and 1 to 15 digits): " + ", ".join(map(repr, bad))
            )
        return value

    @field_validator("tenants")
    @classmethod
    def _distinct_tenants(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        twice = sorted({t for t in value if value.count(t) > 1})
        if twice:
            raise ValueError("named twice: " + ", ".join(twice))
        return value

    @model_validator(mode="after")
    def _reachable(self) -> "PeerEntry":
        if self.username is not None:
            raise ValueError("username is set through credentials.username")
        if self.inbound and not (self.addresses or self.credentials):
            raise ValueError(
                f"an {self.direction} peer needs addresses (or credentials to register with): "
                "otherwise its calls cannot be told from anyone else's"
            )
        if self.outbound and not (self.destination or self.credentials):
            raise ValueError(
                f"an {self.direction} peer needs a destination (or credentials to register "
                "with): otherwise calls to it have nowhere to go"
            )
        return self

    def config(self) -> PeerConfig:
        """As Redis stores it: the user name it registers with, no password."""
        stored = self.model_dump(exclude={"credentials"})
        stored["username"] = self.credentials.username if self.credentials else None
        return PeerConfig.model_validate(stored)


class Directory(BaseModel):
    """A validated directory: every cross-entry rule holds (build it with
    ``services.directory.load``)."""

    model_config = ConfigDict(frozen=True)

    tenants: tuple[TenantConfig, ...]
    users: tuple[UserEntry, ...]
    devices: tuple[DeviceEntry, ...]
    peers: tuple[PeerEntry, ...] = ()
    # Tenants' emergency webhook keys by tenant id (only tenants with one).
    webhook_secrets: dict[str, str] = Field(default_factory=dict, repr=False)
    # Tenants with a company PIN: their hot-desk users' ``pin`` is it
    # (see services.directory.load).
    company_pin_tenants: frozenset[str] = frozenset()
