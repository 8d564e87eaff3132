"""The difference between a validated directory and what Redis holds: the
steps an import applies, each also a line an operator reads
(``+ user acme/1001``, ``~ device hd3001: model T54W -> T57W``,
``- device hd3009``). Secrets never appear, only that they changed.

Planning writes nothing. Its one part that can be expensive is checking
the file's PINs against the stored argon2id hashes (a salted hash cannot be
compared as text): a PIN whose keyed digest matches costs no argon2 work,
others are verified (``services.directory.hashing``). An unchanged PIN
keeps its hash, so re-importing a file changes nothing but, where missing
or stale, the digests.
"""

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from services.auth.credentials import sip_ha1
from services.directory.emergency import emergency_fields
from services.directory.hashing import PinWork
from services.directory.model import DeviceEntry, Directory, PeerEntry, UserEntry
from services.directory.state import Stored, StoredDevice, StoredPeer, StoredUser
from services.kernel.location import Location
from services.kernel.peers import address_list
from services.kernel.records import stored
from services.kernel.tenants import TenantConfig

Action = Literal["add", "change", "remove"]
Old = TypeVar("Old")
New = TypeVar("New")

_SIGNS: dict[Action, str] = {"add": "+", "change": "~", "remove": "-"}
# Redis field names shown as the file names them.
_FILE_NAMES = {"emergency_cid": "emergency_caller_id"}
_FLAGS = {"1": "true", "0": "false"}


class PlanRefused(Exception):
    """The file cannot be applied to what Redis holds (nothing was written)."""


@dataclass(frozen=True)
class FieldChange:
    name: str
    old: str = ""
    new: str = ""
    secret: bool = False

    def __str__(self) -> str:
        if self.secret:
            return f"{self.name} changed"
        return f"{self.name} {self.old or '(none)'} -> {self.new or '(none)'}"


@dataclass(frozen=True)
class Step(Generic[Old, New]):
    """One entry added (no ``old``), removed (no ``new``) or changed."""

    kind: Literal["tenant", "user", "device", "peer"]
    name: str
    old: Old | None
    new: New | None
    changes: tuple[FieldChange, ...] = ()

    @property
    def action(self) -> Action:
        return "add" if self.old is None else "remove" if self.new is None else "change"

    def __str__(self) -> str:
        line = f"{_SIGNS[self.action]} {self.kind} {self.name}"
        return line + (": " + "; ".join(map(str, self.changes)) if self.changes else "")


TenantStep = Step[TenantConfig, TenantConfig]
UserStep = Step[StoredUser, UserEntry]
DeviceStep = Step[StoredDevice, DeviceEntry]
PeerStep = Step[StoredPeer, PeerEntry]


@dataclass(frozen=True)
class Plan:
    tenants: tuple[TenantStep, ...]
    users: tuple[UserStep, ...]
    devices: tuple[DeviceStep, ...]
    peers: tuple[PeerStep, ...]
    # Users whose PIN hash is written (new ones with a PIN, changed PINs),
    # with the PIN.
    new_pins: tuple[tuple[UserEntry, str], ...]
    # Users whose PIN is unchanged but whose stored digest is missing or
    # stale, with the digest to store (nothing else of theirs changes).
    pin_digests: tuple[tuple[UserEntry, str], ...]
    # The file's tenants by id (where new and changed entries go).
    file_tenants: dict[str, TenantConfig]
    # The peers' source addresses for Kamailio (``address_list``) when they
    # differ from what Redis holds, else None.
    peer_sources: str | None = None
    # Every file device's emergency data for Kamailio (EMERGENCY_FIELDS).
    emergency: dict[str, dict[str, str]] = field(default_factory=dict)
    # Tenants with a company PIN (Directory.company_pin_tenants).
    company_pin_tenants: frozenset[str] = frozenset()

    def pin_owner(self, user: UserEntry) -> str:
        """Whose hash a new PIN hash is: the tenant's for a company PIN (one
        hash, shared by its users), else the user's own (equal PINs of two
        users must not show as equal hashes)."""
        company = user.hotdesk and user.tenant in self.company_pin_tenants
        return f"tenant:{user.tenant}" if company else user.ref

    @property
    def steps(self) -> tuple[Step[Any, Any], ...]:
        return (*self.tenants, *self.users, *self.devices, *self.peers)

    @property
    def changes_directory(self) -> bool:
        """Whether Redis would hold another directory (steps, or a peer
        address list Redis lacks): a new directory version."""
        return bool(self.steps) or self.peer_sources is not None

    @property
    def writes(self) -> bool:
        """Whether applying it writes anything (PIN digests too)."""
        return self.changes_directory or bool(self.pin_digests)

    def leaving_users(self) -> list[StoredUser]:
        """Users whose keys go: their sessions end first."""
        return [s.old for s in self.users if s.old is not None and s.new is None]

    def leaving_devices(self) -> list[StoredDevice]:
        """Devices whose keys go (removed, or moving to another tenant):
        their sessions end first."""
        return [
            s.old
            for s in self.devices
            if s.old is not None and (s.new is None or s.new.tenant != s.old.tenant.id)
        ]

    def sessions_ending(self) -> list[str]:
        """The sessions this plan ends, as Redis held them when planned."""
        ending = {f"{u.ref} on {u.device}" for u in self.leaving_users() if u.device}
        ending |= {f"{d.user} on {d.id}" for d in self.leaving_devices() if d.user}
        return sorted(ending)


def _shown(name: str, value: str) -> str:
    if name == "location" and value:
        return stored(Location, value).summary()
    return _FLAGS.get(value, value) if name == "hotdesk" else value


def _field_changes(old: dict[str, str], new: dict[str, str]) -> list[FieldChange]:
    changes = []
    for name, value in new.items():
        before = old.get(name, "")
        if before != value:
            shown = _FILE_NAMES.get(name, name)
            changes.append(FieldChange(shown, _shown(name, before), _shown(name, value)))
    return changes


def _flat(doc: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """A tenant's JSON as ``feature_codes.login``-style names and text values."""
    out: dict[str, str] = {}
    for name, value in doc.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{name}.")
        elif isinstance(value, list):
            out[prefix + name] = ",".join(
                v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for v in value
            )
        elif isinstance(value, bool):
            out[prefix + name] = str(value).lower()
        else:
            out[prefix + name] = "" if value is None else str(value)
    return out


def _tenant_steps(file_tenants: dict[str, TenantConfig], stored: Stored) -> list[TenantStep]:
    steps = []
    for tid in sorted(file_tenants.keys() | stored.tenants.keys()):
        old, new = stored.tenants.get(tid), file_tenants.get(tid)
        if old is not None and new is not None:
            if old.group != new.group:
                raise PlanRefused(
                    f"tenant {tid}: cross_tenant_group cannot change from "
                    f"{old.cross_tenant_group or '(none)'} to {new.cross_tenant_group or '(none)'} "
                    "while the tenant exists (its users, devices and sessions live under the "
                    "group's Redis keys): remove the tenant first (import the file without it), "
                    "then import it with the new group"
                )
            if old == new:
                continue
            before, after = _flat(old.model_dump(mode="json")), _flat(new.model_dump(mode="json"))
            changes = tuple(_field_changes(before, after))
        else:
            changes = ()
        steps.append(TenantStep("tenant", tid, old, new, changes))
    return steps


def _user_steps(directory: Directory, stored: Stored, pin_changed: set[str]) -> list[UserStep]:
    steps = []
    file_users = {(u.tenant, u.extension): u for u in directory.users}
    for key in sorted(file_users.keys() | stored.users.keys()):
        old, new = stored.users.get(key), file_users.get(key)
        changes: list[FieldChange] = []
        if old is not None and new is not None:
            changes = _field_changes(old.fields, new.static_fields())
            if new.ref in pin_changed:
                changes.append(FieldChange("pin", secret=True))
            if not changes:
                continue
        steps.append(UserStep("user", "/".join(key), old, new, tuple(changes)))
    return steps


def _device_steps(
    directory: Directory,
    stored: Stored,
    file_tenants: dict[str, TenantConfig],
    emergency: dict[str, dict[str, str]],
) -> list[DeviceStep]:
    steps = []
    file_devices = {d.id: d for d in directory.devices}
    for device_id in sorted(file_devices.keys() | stored.devices.keys()):
        old, new = stored.devices.get(device_id), file_devices.get(device_id)
        changes: list[FieldChange] = []
        if old is not None and new is not None:
            changes = _field_changes(old.fields, new.static_fields())
            if old.ha1 != sip_ha1(new.id, old.tenant.domain, new.sip_secret):
                changes.append(FieldChange("sip_secret", secret=True))
            elif not old.sealed:  # written in the clear by an import before sealing
                changes.append(FieldChange("sip_secret storage", "clear", "sealed"))
            domain = file_tenants[new.tenant].domain
            if old.tenant.domain != domain:
                changes.append(FieldChange("sip realm", old.tenant.domain, domain))
            if not old.mac_indexed:  # written by an import before the index existed
                changes.append(FieldChange("mac index", "", "written"))
            if old.emergency != emergency[device_id]:
                # Its tenant's routes, notifications or location changed.
                changes.append(FieldChange("emergency data", secret=True))
            if not changes:
                continue
        steps.append(DeviceStep("device", device_id, old, new, tuple(changes)))
    return steps


def _peer_steps(
    directory: Directory, stored: Stored, file_tenants: dict[str, TenantConfig]
) -> list[PeerStep]:
    steps = []
    file_peers = {p.name: p for p in directory.peers}
    for name in sorted(file_peers.keys() | stored.peers.keys()):
        old, new = stored.peers.get(name), file_peers.get(name)
        changes: list[FieldChange] = []
        if old is not None and new is not None:
            before = _flat(old.config.model_dump(mode="json"))
            changes = _field_changes(before, _flat(new.config().model_dump(mode="json")))
            creds = new.credentials
            domain = file_tenants[new.tenants[0]].domain if creds else ""
            ha1 = sip_ha1(creds.username, domain, creds.password) if creds else ""
            if (old.ha1, old.credentials_domain) != (ha1, domain):
                changes.append(FieldChange("credentials", secret=True))
            if not changes:
                continue
        steps.append(PeerStep("peer", name, old, new, tuple(changes)))
    return steps


def peer_sources_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def make_plan(
    directory: Directory, stored: Stored, pins: PinWork, *, tenant_part: bool = False
) -> Plan:
    """The steps that make Redis hold exactly ``directory``; raises
    PlanRefused if it cannot get there by an import. With ``tenant_part``,
    ``directory`` is one tenant's part and ``stored`` that tenant's entries
    (``services.directory.scope``): the stored peers stay as they are."""
    file_tenants = {t.id: t for t in directory.tenants}
    tenants = _tenant_steps(file_tenants, stored)

    def stored_pin(u: UserEntry) -> tuple[str | None, str | None]:
        old = stored.users.get((u.tenant, u.extension))
        return (None, None) if old is None else (old.pin_hash, old.pin_digest)

    with_pin = [(u, u.pin) for u in directory.users if u.pin is not None]
    checks = await asyncio.gather(
        *(pins.check(u.tenant, u.extension, pin, *stored_pin(u)) for u, pin in with_pin)
    )
    new_pins = tuple(p for p, c in zip(with_pin, checks, strict=True) if not c.unchanged)
    digests = tuple((u, c.digest) for (u, _), c in zip(with_pin, checks, strict=True) if c.digest)
    if tenant_part:
        peers = {name: p.config for name, p in stored.peers.items()}
    else:
        peers = {p.name: p.config() for p in directory.peers}
    sources = address_list(list(peers.values()))
    domains = {t.id: t.domain for t in directory.tenants}
    emergency = {
        d.id: emergency_fields(
            d,
            file_tenants[d.tenant],
            peers,
            domains,
            directory.webhook_secrets.get(d.tenant, ""),
        )
        for d in directory.devices
    }
    return Plan(
        tenants=tuple(tenants),
        users=tuple(_user_steps(directory, stored, {u.ref for u, _ in new_pins})),
        devices=tuple(_device_steps(directory, stored, file_tenants, emergency)),
        peers=() if tenant_part else tuple(_peer_steps(directory, stored, file_tenants)),
        new_pins=new_pins,
        pin_digests=digests,
        file_tenants=file_tenants,
        peer_sources=None
        if tenant_part or peer_sources_digest(sources) == stored.peer_sources_digest
        else sources,
        emergency=emergency,
        company_pin_tenants=directory.company_pin_tenants,
    )
