"""Reading and validating a directory file.

Every problem is collected (not only the first), each naming the file and
line, the entry and the field, so that an operator fixes a file in one go::

    dir.yaml:14: users[3] (acme/1004): pin: PIN must not repeat one digit

Nothing here touches Redis: a file either validates into a ``Directory`` or
raises ``DirectoryError`` with the list of problems.
"""

import gc
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from services.auth.pins import pin_policy_violation
from services.directory.model import (
    PATTERN_HINTS,
    DeviceEntry,
    Directory,
    PeerEntry,
    TenantEntry,
    UserEntry,
)
from services.kernel.location import merged
from services.kernel.peers import PeerAddress, PeerConfig

M = TypeVar("M", bound=BaseModel)

SECTIONS = ("tenants", "users", "devices", "peers")
# Kamailio's permissions module keeps networks (not single addresses) in a
# table of this size (its max_subnets parameter in kamailio.cfg).
MAX_PEER_NETWORKS = 1024


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a directory file."""

    file: str
    line: int | None
    entry: str  # "users[3] (acme/1004)", a section name, or "" for the file
    field: str  # "pin", "feature_codes.login", or "" for the entry itself
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return ": ".join(part for part in (where, self.entry, self.field, self.message) if part)


class DirectoryError(Exception):
    """The file is not a valid directory; ``problems`` lists why, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: p.line or 0)
        super().__init__("\n".join(str(p) for p in self.problems))


class _Mapping(dict[Any, Any]):
    """A YAML mapping that knows its line and the line of each key."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}
        # Keys written twice (plain YAML loading silently keeps the last).
        self.duplicate_keys: list[tuple[int, str]] = []

    def duplicates(self, path: str = "") -> Iterator[tuple[int, str]]:
        """Duplicate keys here and in nested mappings: (line, dotted path)."""
        for line, key in self.duplicate_keys:
            yield line, f"{path}{key}"
        for key, value in self.items():
            values = value if isinstance(value, list) else [value]
            for index, item in enumerate(values):
                if isinstance(item, _Mapping):
                    at = f"[{index}]" if isinstance(value, list) else ""
                    yield from item.duplicates(f"{path}{key}{at}.")


class _Loader(yaml.CSafeLoader):
    """The safe loader on libyaml's parser (PyYAML's own, in Python, takes
    most of an import's time for a large file), building ``_Mapping``s."""

    def construct_located_mapping(self, node: yaml.MappingNode) -> Iterable[_Mapping]:
        data = _Mapping(node.start_mark.line + 1)
        yield data
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    data.duplicate_keys.append((key_node.start_mark.line + 1, key_node.value))
                seen.add(key_node.value)
        data.update(self.construct_mapping(node))
        data.key_lines = {
            self.construct_object(key_node): key_node.start_mark.line + 1
            for key_node, _ in node.value
        }


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Without Python's cycle collector: a large file makes hundreds of
    thousands of objects, none in a cycle, and the collector passes over
    them again and again (a third of loading 10,000 users)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_located_mapping)
_TWICE = "written twice in one mapping (which one was meant?)"


@dataclass(frozen=True)
class _Valid(Generic[M]):
    """An entry that passed its own model, with where it came from."""

    label: str
    raw: _Mapping
    model: M

    def line_of(self, name: str) -> int:
        return self.raw.key_lines.get(name, self.raw.line)


def _line_in(raw: _Mapping, loc: tuple[int | str, ...]) -> int:
    """The line of the deepest part of ``loc`` the file has a line for."""
    line, node = raw.line, raw
    for part in loc:
        if isinstance(node, _Mapping) and part in node:
            line, node = node.key_lines.get(part, line), node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            line = node.line if isinstance(node, _Mapping) else line
        else:
            break
    return line


def _message(err: ErrorDetails, model: type[BaseModel]) -> str:
    """pydantic's message, reworded where it would puzzle an operator."""
    kind, value, ctx = err["type"], err["input"], err.get("ctx", {})
    if kind == "string_pattern_mismatch":
        return PATTERN_HINTS.get(ctx.get("pattern", ""), err["msg"])
    if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        # Never echo the value: it may be a PIN. 0711 unquoted is even octal.
        return "must be in quotes: unquoted, YAML reads it as a number"
    if kind == "extra_forbidden":
        if len(err["loc"]) == 1:
            return "unknown field (expected one of: " + ", ".join(model.model_fields) + ")"
        return "unknown field"
    if kind == "missing":
        return "is required"
    if kind == "bool_parsing" or kind == "bool_type":
        return "must be true or false"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return err["msg"]


@dataclass
class _Checker:
    """Collects the problems of one file."""

    file: str
    problems: list[Problem] = field(default_factory=list)

    def add(self, line: int | None, entry: str, name: str, message: str) -> None:
        self.problems.append(Problem(self.file, line, entry, name, message))

    def section(self, doc: _Mapping, name: str) -> list[Any]:
        items = doc.get(name)
        if items is None:
            if name == "tenants":
                self.add(doc.line, "", name, "required section missing")
            return []
        if not isinstance(items, list):
            self.add(doc.key_lines.get(name), "", name, "must be a list of entries")
            return []
        return items

    def entries(
        self,
        doc: _Mapping,
        section: str,
        model: type[M],
        name: Callable[[_Mapping], str],
    ) -> list[_Valid[M]]:
        valid: list[_Valid[M]] = []
        for index, raw in enumerate(self.section(doc, section)):
            if not isinstance(raw, _Mapping):
                line = doc.key_lines.get(section)
                self.add(line, f"{section}[{index}]", "", "must be a mapping of fields")
                continue
            label = f"{section}[{index}] ({name(raw)})"
            for line, key in raw.duplicates():
                self.add(line, label, key, _TWICE)
            try:
                valid.append(_Valid(label, raw, model.model_validate(raw)))
            except ValidationError as exc:
                for err in exc.errors():
                    where = ".".join(str(p) for p in err["loc"])
                    self.add(_line_in(raw, err["loc"]), label, where, _message(err, model))
        return valid

    def unique(
        self,
        entries: list[_Valid[M]],
        name: str,
        key: Callable[[M], Hashable | None],
        shown: Callable[[M], str],
    ) -> None:
        """Each entry's ``key`` (None: no key) differs from the others'."""
        first: dict[Hashable, _Valid[M]] = {}
        for e in entries:
            k = key(e.model)
            if k is None:
                continue
            if k in first:
                owner = first[k]
                self.add(
                    e.line_of(name),
                    e.label,
                    name,
                    f"{shown(e.model)} is already used by {owner.label}, line {owner.raw.line}",
                )
            else:
                first[k] = e

    def refers(self, entries: Iterable[_Valid[Any]], declared: set[Any]) -> None:
        for e in entries:
            if e.model.tenant not in declared:
                self.add(
                    e.line_of("tenant"), e.label, "tenant", f"no tenant {e.model.tenant!r} declared"
                )


def _check_device_names(
    c: _Checker, devices: list[_Valid[DeviceEntry]], extensions: set[tuple[str, str]]
) -> None:
    """A device registers with its id as SIP user name, in its tenant's
    domain, where the users' extensions are SIP user names too."""
    for e in devices:
        d = e.model
        if (d.tenant, d.id) in extensions:
            c.add(
                e.line_of("id"),
                e.label,
                "id",
                f"{d.id!r} is also an extension of tenant {d.tenant!r}; devices and users "
                "share the tenant's SIP user names",
            )


def _resolved_devices(
    c: _Checker, devices: list[_Valid[DeviceEntry]], tenants: list[_Valid[TenantEntry]]
) -> list[DeviceEntry]:
    """Each device with its location merged from its tenant's, its site's
    and its own; a site must exist, and a merged location must be one a
    responder can be sent to."""
    by_id = {e.model.id: e.model for e in tenants}
    resolved = []
    for e in devices:
        d = e.model
        tenant = by_id.get(d.tenant)
        if tenant is None:  # reported by refers()
            resolved.append(d)
            continue
        site = None
        if d.site is not None:
            site = tenant.sites.get(d.site)
            if site is None:
                known = ", ".join(sorted(tenant.sites)) or "none"
                c.add(
                    e.line_of("site"),
                    e.label,
                    "site",
                    f"tenant {d.tenant!r} has no site {d.site!r} (its sites: {known})",
                )
        location = merged(tenant.location, site, d.location)
        why = location.incomplete() if location is not None else None
        if why:
            where = "location" if d.location is not None else "site" if site else "tenant"
            c.add(
                e.line_of(where),
                e.label,
                "location",
                f"the desk's location (its own fields over its site's and tenant's) {why}",
            )
        resolved.append(d.model_copy(update={"location": location}))
    return resolved


def _check_groups(c: _Checker, tenants: list[_Valid[TenantEntry]], ids: set[Any]) -> None:
    """A group named like another tenant would share that tenant's keys
    (an ungrouped tenant's group is its id) without it having a say."""
    for e in tenants:
        group = e.model.cross_tenant_group
        if group in ids - {e.model.id}:
            c.add(
                e.line_of("cross_tenant_group"),
                e.label,
                "cross_tenant_group",
                f"{group!r} is another tenant's id; pick a name no tenant uses",
            )


def _check_peer_addresses(c: _Checker, peers: list[_Valid[PeerEntry]]) -> None:
    """No source may match two peers: Kamailio would pick one by table order."""
    seen: list[tuple[PeerAddress, _Valid[PeerEntry]]] = []
    networks = 0
    for e in peers:
        for text in e.model.addresses:
            a = PeerAddress.parse(text)
            networks += a.network.prefixlen < a.network.max_prefixlen
            for other, owner in seen:
                if owner is not e and a.overlaps(other):
                    c.add(
                        e.line_of("addresses"),
                        e.label,
                        "addresses",
                        f"{a} overlaps {other} of {owner.label}, line {owner.raw.line}; a "
                        "request from there could not be told apart",
                    )
            seen.append((a, e))
    if networks > MAX_PEER_NETWORKS:
        c.add(
            None,
            "",
            "peers",
            f"{networks} networks (not single addresses); at most {MAX_PEER_NETWORKS}",
        )


def _check_peer_tenants(
    c: _Checker,
    peers: list[_Valid[PeerEntry]],
    declared: set[Any],
    names: set[tuple[str, str]],
) -> None:
    """Peers name declared tenants; a registering peer's user name is free
    in the domain it registers in (its first tenant's): ``names`` holds
    every (tenant, SIP user name) of users and devices."""
    for e in peers:
        p = e.model
        unknown = [t for t in p.tenants if t not in declared]
        if unknown:
            shown = ", ".join(map(repr, unknown))
            c.add(e.line_of("tenants"), e.label, "tenants", f"no tenant {shown} declared")
        if p.credentials and (p.tenants[0], p.credentials.username) in names:
            c.add(
                e.line_of("credentials"),
                e.label,
                "credentials.username",
                f"{p.credentials.username!r} is already a user or device name in tenant "
                f"{p.tenants[0]!r}, where this peer registers",
            )


def _check_routes(
    c: _Checker,
    tenants: list[_Valid[TenantEntry]],
    peers: list[_Valid[PeerEntry]],
    known_peers: Iterable[PeerConfig],
) -> None:
    """A tenant's outbound and emergency routes name outbound peers that
    serve it (of the file, or ``known_peers``)."""
    by_name: dict[str, PeerConfig] = {p.name: p for p in known_peers}
    by_name |= {e.model.name: e.model for e in peers}
    for e in tenants:
        t = e.model
        route = [("outbound_peer", t.outbound_peer)] if t.outbound_peer else []
        route += [("emergency_route", name) for name in t.emergency_route]
        route += [
            ("emergency_routes", name) for names in t.emergency_routes.values() for name in names
        ]
        for field_name, name in route:
            peer = by_name.get(name)
            if peer is None:
                problem = f"no peer {name!r} declared"
            elif not peer.outbound:
                problem = f"peer {name!r} is {peer.direction} only: calls cannot go out to it"
            elif t.id not in peer.tenants:
                problem = f"peer {name!r} does not serve tenant {t.id!r} (its tenants)"
            else:
                continue
            c.add(e.line_of(field_name), e.label, field_name, problem)


def _with_company_pins(
    c: _Checker, users: list[_Valid[UserEntry]], tenants: list[_Valid[TenantEntry]]
) -> list[UserEntry]:
    """The users, each hot-desk user of a tenant with a company PIN given
    it as her PIN: such a user has no PIN of her own, and the company PIN
    must pass the PIN policy for her extension too."""
    company = {e.model.id: e.model.company_pin for e in tenants if e.model.company_pin}
    resolved = []
    for e in users:
        u = e.model
        pin = company.get(u.tenant) if u.hotdesk else None
        if pin is None:
            resolved.append(u)
            continue
        if u.pin is not None:
            c.add(
                e.line_of("pin"),
                e.label,
                "pin",
                f"tenant {u.tenant!r} has a company PIN: its hot-desk users have no PIN of "
                "their own",
            )
        violation = pin_policy_violation(pin, u.extension)
        if violation:
            c.add(e.line_of("extension"), e.label, "extension", f"company PIN: {violation}")
        resolved.append(u.model_copy(update={"pin": pin}))
    return resolved


def _check_codes_beside_extensions(
    c: _Checker, tenants: list[_Valid[TenantEntry]], users: list[_Valid[UserEntry]]
) -> None:
    """A feature code in the login prefix's namespace (``*77*5*`` beside
    ``*77*<extension>*``) must not be mistaken for an extension's code."""
    extensions: dict[str, list[str]] = {}
    for u in users:
        extensions.setdefault(u.model.tenant, []).append(u.model.extension)
    for e in tenants:
        codes = e.model.feature_codes
        prefix = codes.login_with_extension_prefix
        for name, code in codes.model_dump().items():
            if not codes.in_extension_namespace(code):
                continue
            for extension in extensions.get(e.model.id, []):
                if codes.mistaken_extension(code, extension):
                    c.add(
                        e.line_of("feature_codes"),
                        e.label,
                        "feature_codes",
                        f"{name} {code!r} lies where {prefix}{extension}* logs in extension "
                        f"{extension}: one could be taken for the other",
                    )


def _check_numbers(c: _Checker, users: list[_Valid[UserEntry]]) -> None:
    """A DID rings one user, whichever tenant she is in."""
    owners: dict[str, _Valid[UserEntry]] = {}
    for e in users:
        dids = e.model.dids
        for number in sorted({n for n in dids if dids.count(n) > 1}):
            c.add(e.line_of("dids"), e.label, "dids", f"{number} is listed twice")
        for number in dict.fromkeys(dids):
            owner = owners.setdefault(number, e)
            if owner is not e:
                c.add(
                    e.line_of("dids"),
                    e.label,
                    "dids",
                    f"{number} is already a DID of {owner.label}, line {owner.raw.line}",
                )


def _document(c: _Checker, text: str) -> _Mapping:
    """The YAML document, its sections checked; raises on what stops all
    further checks (a syntax error, not a mapping)."""
    loader = _Loader(text)
    try:
        with _no_cycle_collection():
            doc = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        c.add(mark.line + 1 if mark else None, "", "", f"YAML syntax error: {problem}")
        raise DirectoryError(c.problems) from exc
    finally:
        loader.dispose()
    if not isinstance(doc, _Mapping):
        c.add(None, "", "", "must be a mapping with the sections " + ", ".join(SECTIONS))
        raise DirectoryError(c.problems)
    for line, key in doc.duplicate_keys:
        c.add(line, "", key, _TWICE)
    for key in doc:
        if key not in SECTIONS:
            expected = ", ".join(SECTIONS)
            c.add(doc.key_lines.get(key), "", str(key), f"unknown section (expected {expected})")
    return doc


def _declared_tenants(doc: _Mapping) -> set[Any]:
    """Every tenant id the file declares, valid entry or not: references go
    to these, so that one bad tenant field does not fail all its users too."""
    raw = doc.get("tenants")
    return {r.get("id") for r in raw if isinstance(r, _Mapping)} if isinstance(raw, list) else set()


def parse_directory(text: str, file: str, known_peers: Iterable[PeerConfig] = ()) -> Directory:
    """Validate a directory document; raises DirectoryError with every
    problem. Routes may name ``known_peers`` too (stored ones, for one
    tenant's part, which declares no peers)."""
    c = _Checker(file)
    doc = _document(c, text)
    tenants = c.entries(doc, "tenants", TenantEntry, lambda r: str(r.get("id", "?")))
    users = c.entries(
        doc, "users", UserEntry, lambda r: f"{r.get('tenant', '?')}/{r.get('extension', '?')}"
    )
    devices = c.entries(doc, "devices", DeviceEntry, lambda r: str(r.get("id", "?")))
    peers = c.entries(doc, "peers", PeerEntry, lambda r: str(r.get("name", "?")))
    declared = _declared_tenants(doc)

    c.unique(tenants, "id", lambda t: t.id, lambda t: repr(t.id))
    c.unique(tenants, "domain", lambda t: t.domain, lambda t: repr(t.domain))
    _check_groups(c, tenants, declared)
    c.refers(users, declared)
    c.unique(users, "extension", lambda u: (u.tenant, u.extension), lambda u: u.ref)
    c.unique(users, "hotdesk_id", lambda u: u.hotdesk_id, lambda u: repr(u.hotdesk_id))
    c.refers(devices, declared)
    c.unique(devices, "id", lambda d: d.id, lambda d: repr(d.id))
    c.unique(devices, "mac", lambda d: d.mac, lambda d: d.mac)
    _check_device_names(c, devices, {(u.model.tenant, u.model.extension) for u in users})
    _check_numbers(c, users)
    _check_codes_beside_extensions(c, tenants, users)
    c.unique(peers, "name", lambda p: p.name, lambda p: repr(p.name))
    c.unique(
        peers,
        "credentials",
        lambda p: p.credentials.username if p.credentials else None,
        lambda p: f"user name {p.credentials.username!r}" if p.credentials else "",
    )
    sip_names = {(u.model.tenant, u.model.extension) for u in users}
    sip_names |= {(d.model.tenant, d.model.id) for d in devices}
    _check_peer_tenants(c, peers, declared, sip_names)
    _check_peer_addresses(c, peers)
    _check_routes(c, tenants, peers, known_peers)
    resolved = _resolved_devices(c, devices, tenants)
    with_pins = _with_company_pins(c, users, tenants)

    if c.problems:
        raise DirectoryError(c.problems)
    return Directory(
        tenants=tuple(e.model.config() for e in tenants),
        users=tuple(with_pins),
        devices=tuple(resolved),
        peers=tuple(e.model for e in peers),
        webhook_secrets={
            e.model.id: e.model.emergency_webhook_secret
            for e in tenants
            if e.model.emergency_webhook_secret
        },
        company_pin_tenants=frozenset(e.model.id for e in tenants if e.model.company_pin),
    )


def load_directory(path: Path) -> Directory:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problem = Problem(str(path), None, "", "", f"cannot read: {exc.strerror}")
        raise DirectoryError([problem]) from exc
    except UnicodeDecodeError as exc:
        problem = Problem(str(path), None, "", "", f"not UTF-8 text (byte {exc.start})")
        raise DirectoryError([problem]) from exc
    return parse_directory(text, str(path))
