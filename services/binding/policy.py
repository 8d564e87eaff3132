"""Tenant session policy: when a session that starts now must end."""

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.kernel.logs import fields
from services.kernel.tenants import TenantConfig

log = logging.getLogger(__name__)
_UTC = ZoneInfo("UTC")


def _zone(tenant: TenantConfig) -> ZoneInfo:
    """The tenant's timezone; UTC (with a warning) for a name the tz database
    does not know, so a bad directory entry cannot block every login."""
    try:
        return ZoneInfo(tenant.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown_timezone", extra=fields(tenant=tenant.id, timezone=tenant.timezone))
        return _UTC


def _at(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    hour, minute = (int(part) for part in hhmm.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def session_expiry_ms(tenant: TenantConfig, now_ms: int) -> int:
    """The earlier of now + max_login_seconds and the next daily logout time
    (wall clock, in the tenant's timezone); 0 when the tenant sets neither."""
    candidates: list[int] = []
    if tenant.max_login_seconds:
        candidates.append(now_ms + tenant.max_login_seconds * 1000)
    if tenant.daily_logout:
        zone = _zone(tenant)
        now = datetime.fromtimestamp(now_ms / 1000, zone)
        at = _at(now.date(), tenant.daily_logout, zone)
        if at <= now:
            at = _at(now.date() + timedelta(days=1), tenant.daily_logout, zone)
        candidates.append(int(at.timestamp() * 1000))
    return min(candidates) if candidates else 0
