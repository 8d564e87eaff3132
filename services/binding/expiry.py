"""The background sweeper: ends sessions whose time is up.

Reads already treat an expired session as over; the sweeper makes it so in
Redis (with its logout event) and refreshes the active-sessions gauge.
"""

import asyncio
import logging

from redis.exceptions import RedisError

from services.binding import metrics
from services.binding.core import BindingCore
from services.kernel.logs import fields

log = logging.getLogger(__name__)


async def run_sweeper(core: BindingCore, interval: float) -> None:
    """Sweep every ``interval`` seconds until cancelled; Redis outages are
    logged and ridden out."""
    while True:
        try:
            await core.expire_due()
            metrics.ACTIVE_SESSIONS.set(await core.active_sessions())
        except (RedisError, OSError) as exc:
            log.warning("expiry_sweep_failed", extra=fields(error=str(exc)))
        await asyncio.sleep(interval)
