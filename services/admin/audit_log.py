"""Reading the audit trail: the tenants' audit streams (PIN attempts,
unlocks, PIN changes, operator actions) and, for a platform admin, the
admin service's own (sign-ins, tokens), newest first, scoped to the
operator's tenants and filtered. The cursor is the last entry's stream id.
"""

from collections.abc import Mapping

from redis.asyncio import Redis

from services.admin.models import AuditEntry, AuditPage, AuditQuery
from services.admin.operators import Operator, Role
from services.kernel import keys
from services.kernel.tenants import TenantCache

# Entries read from each stream per round, and rounds per page: a filter
# that matches little ends a page early (with a cursor to go on from)
# rather than reading a whole stream.
_BATCH = 200
_ROUNDS = 10
_MAX_SEQ = 2**64 - 1


def _tenant_of(entry: Mapping[str, str], device_tenants: Mapping[str, str]) -> str:
    """The tenant an entry is about: named, or the user's, or the device's."""
    if entry.get("tenant"):
        return entry["tenant"]
    if "/" in entry.get("user", ""):
        return entry["user"].split("/", 1)[0]
    return device_tenants.get(entry.get("device", ""), "")


def _matches(entry: AuditEntry, q: AuditQuery) -> bool:
    d = entry.details
    user = d.get("user") or (f"{entry.tenant}/{d['extension']}" if d.get("extension") else "")
    return (
        (q.tenant is None or entry.tenant == q.tenant)
        and (q.user is None or user == q.user)
        and (q.device is None or d.get("device") == q.device)
        and (q.event is None or entry.event == q.event)
        and (q.actor is None or q.actor in entry.actor)
    )


class AuditLog:
    def __init__(self, redis: Redis, tenants: TenantCache) -> None:
        self._redis = redis
        self._tenants = tenants

    def _streams(self, operator: Operator, tenant: str | None) -> list[str]:
        groups = {
            t.group
            for t in self._tenants.by_id.values()
            if operator.sees(t.id) and (tenant is None or t.id == tenant)
        }
        streams = [keys.audit(g) for g in sorted(groups)]
        if operator.role is Role.PLATFORM_ADMIN and tenant is None:
            streams.append(keys.audit(keys.ADMIN_GROUP))
        return streams

    async def page(
        self, operator: Operator, q: AuditQuery, device_tenants: Mapping[str, str]
    ) -> AuditPage:
        streams = self._streams(operator, q.tenant)
        items: list[AuditEntry] = []
        cursor = q.cursor
        for _ in range(_ROUNDS):
            batch = await self._older(streams, cursor)
            for entry_id, entry in batch:
                cursor = entry_id
                view = _entry(entry_id, entry, device_tenants)
                if operator.sees(view.tenant) and _matches(view, q):
                    items.append(view)
                    if len(items) == q.limit:
                        return AuditPage(items=items, next_cursor=entry_id)
            if len(batch) < _BATCH:
                return AuditPage(items=items, next_cursor=None)
        return AuditPage(items=items, next_cursor=cursor)

    async def _older(
        self, streams: list[str], cursor: str | None
    ) -> list[tuple[str, dict[str, str]]]:
        """The newest _BATCH entries older than ``cursor`` over all ``streams``."""
        top = _before(cursor) if cursor else "+"
        if top is None:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for stream in streams:
                pipe.xrevrange(stream, top, "-", count=_BATCH)
            replies: list[list[tuple[str, dict[str, str]]]] = await pipe.execute()
        merged = sorted(
            (entry for reply in replies for entry in reply),
            key=lambda e: tuple(int(p) for p in e[0].split("-")),
            reverse=True,
        )
        return merged[:_BATCH]


def _before(cursor: str) -> str | None:
    """The greatest stream id older than ``cursor`` (None: there is none)."""
    ms, seq = (int(part) for part in cursor.split("-"))
    if seq > 0:
        return f"{ms}-{seq - 1}"
    return f"{ms - 1}-{_MAX_SEQ}" if ms > 0 else None


def _entry(entry_id: str, entry: dict[str, str], device_tenants: Mapping[str, str]) -> AuditEntry:
    details = {k: v for k, v in entry.items() if k not in ("ts_ms", "event", "actor", "tenant")}
    return AuditEntry(
        id=entry_id,
        ts_unix_ms=int(entry.get("ts_ms") or entry_id.split("-")[0]),
        event=entry.get("event", ""),
        tenant=_tenant_of(entry, device_tenants),
        actor=entry.get("actor", ""),
        details=details,
    )
