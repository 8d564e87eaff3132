"""The directory file's entries: users and devices (tenants are
``services.kernel.tenants.TenantConfig``, the same model the services read)."""

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.kernel.tenants import TenantConfig

_MAC_SEPARATORS = re.compile(r"[:.\-]")
CALLER_ID = r"^\+?[0-9]{2,20}$"


class UserEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str
    extension: str = Field(pattern=r"^[0-9]{1,15}$")
    # Goes out quoted in SIP display names: no quotes, backslashes or controls.
    name: str = Field(min_length=1, max_length=64, pattern=r'^[^"\\\x00-\x1f]+$')
    caller_id: str = Field(pattern=CALLER_ID)
    # Plaintext in the file; stored only as an argon2id hash. Absent: the
    # user keeps whatever PIN was set through the API (or has none).
    pin: str | None = None
    hotdesk: bool = True
    # Globally unique, for logging in at another tenant's desk.
    hotdesk_id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")

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
        }


class DeviceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    mac: str
    vendor: Literal["yealink", "polycom"]
    model: str = Field(min_length=1, max_length=32)
    tenant: str
    sip_secret: str = Field(min_length=12, max_length=128)
    emergency_caller_id: str = Field(pattern=CALLER_ID)
    hotdesk: bool = True

    @field_validator("mac")
    @classmethod
    def _normalise_mac(cls, value: str) -> str:
        mac = _MAC_SEPARATORS.sub("", value).lower()
        if not re.fullmatch(r"[0-9a-f]{12}", mac):
            raise ValueError("must be 12 hex digits, optionally separated by : - or .")
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
        }


class Directory(BaseModel):
    """A validated directory: every cross-entry rule holds."""

    model_config = ConfigDict(frozen=True)

    tenants: tuple[TenantConfig, ...]
    users: tuple[UserEntry, ...]
    devices: tuple[DeviceEntry, ...]
