"""Tenant session policy: when a session that starts now must end."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.kernel.tenants import TenantConfig


def session_expiry_ms(tenant: TenantConfig, now_ms: int) -> int:
    """The earlier of now + max_login_seconds and the next daily logout
    time in the tenant's timezone; 0 when the tenant sets neither."""
    candidates: list[int] = []
    if tenant.max_login_seconds:
        candidates.append(now_ms + tenant.max_login_seconds * 1000)
    if tenant.daily_logout:
        zone = ZoneInfo(tenant.timezone)
        now = datetime.fromtimestamp(now_ms / 1000, zone)
        hour, minute = (int(part) for part in tenant.daily_logout.split(":"))
        at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if at <= now:
            # Tomorrow at the same wall-clock time (handles DST changes).
            tomorrow = (now + timedelta(days=1)).date()
            at = datetime(tomorrow.year, tomorrow.month, tomorrow.day, hour, minute, tzinfo=zone)
        candidates.append(int(at.timestamp() * 1000))
    return min(candidates) if candidates else 0
