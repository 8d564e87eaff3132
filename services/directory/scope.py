"""One tenant's part of the directory (its tenant entry, users and
devices; no peers, which are the platform's): what a tenant's own admin
imports. The import plans against the stored entries of that tenant only,
so nothing of another tenant is changed or removed; this module checks
that the part takes nothing another tenant holds (a device id, a MAC, a
hot-desk id, a number, a domain) and cuts the stored state down to it."""

from services.directory.model import Directory
from services.directory.plan import PlanRefused
from services.directory.state import Stored


def _refuse(what: str) -> PlanRefused:
    return PlanRefused(f"{what}; nothing was written")


def _check_only(directory: Directory, tenant: str) -> None:
    if [t.id for t in directory.tenants] != [tenant]:
        raise _refuse(f"a tenant's part declares that tenant ({tenant}) and no other")
    if directory.peers:
        raise _refuse("peers are the platform's: a tenant's part declares none")
    for u in directory.users:
        if u.tenant != tenant:
            raise _refuse(f"user {u.ref} is not of tenant {tenant}")
    for d in directory.devices:
        if d.tenant != tenant:
            raise _refuse(f"device {d.id} is not of tenant {tenant}")


def _check_untaken(directory: Directory, stored: Stored, tenant: str) -> None:
    others = [u for (t, _), u in stored.users.items() if t != tenant]
    taken_ids = {u.fields.get("hotdesk_id", "") for u in others} - {""}
    taken_numbers = {n for u in others for n in u.fields.get("dids", "").split(",") if n}
    other_devices = {i: d for i, d in stored.devices.items() if d.tenant.id != tenant}
    taken_macs = {d.fields.get("mac", "") for d in other_devices.values()} - {""}
    for u in directory.users:
        if u.hotdesk_id and u.hotdesk_id in taken_ids:
            raise _refuse(f"user {u.ref}: hot-desk id {u.hotdesk_id!r} is another tenant's")
        for number in u.dids:
            if number in taken_numbers:
                raise _refuse(f"user {u.ref}: number {number} is another tenant's")
    for d in directory.devices:
        if d.id in other_devices:
            raise _refuse(f"device {d.id} is another tenant's")
        if d.mac in taken_macs:
            raise _refuse(f"device {d.id}: MAC {d.mac} is another tenant's")
    (config,) = directory.tenants
    if any(t.domain == config.domain for t in stored.tenants.values() if t.id != tenant):
        raise _refuse(f"tenant {tenant}: domain {config.domain} is another tenant's")


def tenant_part(directory: Directory, stored: Stored, tenant: str) -> Stored:
    """``stored`` as far as ``tenant``'s part may change it: its tenant,
    users and devices (every peer too: routes and emergency data resolve
    against them; the plan leaves them alone). Raises PlanRefused if the
    part is not only that tenant's, or takes what another tenant holds."""
    if tenant not in stored.tenants:
        raise _refuse(f"no tenant {tenant} is stored: a new tenant comes with the full file")
    _check_only(directory, tenant)
    _check_untaken(directory, stored, tenant)
    return Stored(
        tenants={tenant: stored.tenants[tenant]},
        users={k: u for k, u in stored.users.items() if k[0] == tenant},
        devices={i: d for i, d in stored.devices.items() if d.tenant.id == tenant},
        peers=stored.peers,
        peer_sources_digest=stored.peer_sources_digest,
    )
