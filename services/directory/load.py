"""Reading and validating a directory file.

Every problem is collected (not just the first), each naming the file, the
entry (with its line) and the field, so an operator fixes a file in one go.
"""

import itertools
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ValidationError

from services.auth.pins import pin_policy_violation
from services.directory.model import DeviceEntry, Directory, UserEntry
from services.kernel.tenants import TenantConfig

M = TypeVar("M", bound=BaseModel)
_LINE = "__line__"


class DirectoryError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping[_LINE] = node.start_mark.line + 1
        return mapping


def _without_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_lines(v) for k, v in value.items() if k != _LINE}
    if isinstance(value, list):
        return [_without_lines(v) for v in value]
    return value


def _label(section: str, index: int, raw: Any, name: Callable[[dict[str, Any]], str]) -> str:
    if not isinstance(raw, dict):
        return f"{section}[{index}]"
    return f"{section}[{index}] ({name(raw)}, line {raw.get(_LINE, '?')})"


def _entries(
    file: str,
    section: str,
    items: Any,
    model: type[M],
    name: Callable[[dict[str, Any]], str],
    problems: list[str],
) -> list[tuple[str, M]]:
    if items is None:
        return []
    if not isinstance(items, list):
        problems.append(f"{file}: {section}: must be a list")
        return []
    valid: list[tuple[str, M]] = []
    for index, raw in enumerate(items):
        label = _label(section, index, raw, name)
        if not isinstance(raw, dict):
            problems.append(f"{file}: {label}: must be a mapping")
            continue
        try:
            valid.append((label, model.model_validate(_without_lines(raw))))
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(p) for p in err["loc"]) or "(entry)"
                problems.append(f"{file}: {label}: {where}: {err['msg']}")
    return valid


def _duplicates(values: Iterable[str]) -> set[str]:
    return {v for v, n in Counter(values).items() if n > 1}


def _check_tenants(file: str, tenants: list[tuple[str, TenantConfig]], problems: list[str]) -> None:
    ids = {t.id for _, t in tenants}
    for dup in sorted(_duplicates(t.id for _, t in tenants)):
        problems.append(f"{file}: tenants: id: {dup!r} is declared more than once")
    for dup in sorted(_duplicates(t.domain for _, t in tenants)):
        problems.append(f"{file}: tenants: domain: {dup!r} is used by more than one tenant")
    for label, t in tenants:
        try:
            ZoneInfo(t.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"{file}: {label}: timezone: unknown time zone {t.timezone!r}")
        if t.cross_tenant_group and t.cross_tenant_group in ids - {t.id}:
            problems.append(
                f"{file}: {label}: cross_tenant_group: {t.cross_tenant_group!r} is another "
                "tenant's id; pick a name no tenant uses"
            )
        codes = t.feature_codes.model_dump()
        for (a, code_a), (b, code_b) in itertools.permutations(codes.items(), 2):
            if code_b.startswith(code_a):
                problems.append(
                    f"{file}: {label}: feature_codes: {a} {code_a!r} is a prefix of "
                    f"{b} {code_b!r}; a phone would dial {code_a!r} before the caller "
                    "finishes"
                )
        for number in t.emergency_numbers:
            for name, code in codes.items():
                if number.startswith(code) or code.startswith(number):
                    problems.append(
                        f"{file}: {label}: emergency_numbers: {number!r} collides with "
                        f"feature code {name} {code!r}"
                    )


def _check_users(
    file: str, users: list[tuple[str, UserEntry]], tenant_ids: set[str], problems: list[str]
) -> None:
    for dup in sorted(_duplicates(u.ref for _, u in users)):
        problems.append(f"{file}: users: {dup} is declared more than once")
    for dup in sorted(_duplicates(u.hotdesk_id for _, u in users if u.hotdesk_id)):
        problems.append(f"{file}: users: hotdesk_id: {dup!r} is used by more than one user")
    for label, u in users:
        if u.tenant not in tenant_ids:
            problems.append(f"{file}: {label}: tenant: no tenant {u.tenant!r} in this file")
        if u.pin is not None:
            violation = pin_policy_violation(u.pin, u.extension)
            if violation:
                problems.append(f"{file}: {label}: pin: {violation}")


def _check_devices(
    file: str,
    devices: list[tuple[str, DeviceEntry]],
    tenant_ids: set[str],
    extensions: set[tuple[str, str]],
    problems: list[str],
) -> None:
    for dup in sorted(_duplicates(d.id for _, d in devices)):
        problems.append(f"{file}: devices: id: {dup!r} is declared more than once")
    for dup in sorted(_duplicates(d.mac for _, d in devices)):
        problems.append(f"{file}: devices: mac: {dup} is used by more than one device")
    for label, d in devices:
        if d.tenant not in tenant_ids:
            problems.append(f"{file}: {label}: tenant: no tenant {d.tenant!r} in this file")
        if (d.tenant, d.id) in extensions:
            problems.append(
                f"{file}: {label}: id: {d.id!r} is also an extension of tenant {d.tenant!r}; "
                "devices and users share the SIP user namespace"
            )


def parse_directory(text: str, file: str) -> Directory:
    """Validate a directory document; raises DirectoryError with every problem."""
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}" if mark is not None else file
        problem = getattr(exc, "problem", None) or str(exc)
        raise DirectoryError([f"{where}: YAML syntax error: {problem}"]) from exc
    if not isinstance(doc, dict):
        raise DirectoryError([f"{file}: must be a mapping with tenants, users and devices"])
    problems = [
        f"{file}: {key}: unknown section (expected tenants, users, devices)"
        for key in doc
        if key not in ("tenants", "users", "devices", _LINE)
    ]
    tenants = _entries(
        file, "tenants", doc.get("tenants"), TenantConfig, lambda r: str(r.get("id", "?")), problems
    )
    users = _entries(
        file,
        "users",
        doc.get("users"),
        UserEntry,
        lambda r: f"{r.get('tenant', '?')}/{r.get('extension', '?')}",
        problems,
    )
    devices = _entries(
        file, "devices", doc.get("devices"), DeviceEntry, lambda r: str(r.get("id", "?")), problems
    )
    tenant_ids = {t.id for _, t in tenants}
    _check_tenants(file, tenants, problems)
    _check_users(file, users, tenant_ids, problems)
    _check_devices(file, devices, tenant_ids, {(u.tenant, u.extension) for _, u in users}, problems)
    if problems:
        raise DirectoryError(problems)
    return Directory(
        tenants=tuple(t for _, t in tenants),
        users=tuple(u for _, u in users),
        devices=tuple(d for _, d in devices),
    )


def load_directory(path: Path) -> Directory:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DirectoryError([f"{path}: cannot read: {exc.strerror}"]) from exc
    return parse_directory(text, str(path))
