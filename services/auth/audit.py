"""PIN attempts in the audit trail (and counted)."""

from services.auth import metrics
from services.kernel.audit import AuditTrail


class Audit(AuditTrail):
    """PIN attempts, counted as well as recorded."""

    async def pin_attempt(
        self,
        group: str | None,
        *,
        tenant: str,
        extension: str,
        device: str,
        channel: str,
        result: str,
        retry_after: int,
    ) -> None:
        metrics.PIN_ATTEMPTS.labels(result, metrics.channel_label(channel)).inc()
        await self.record(
            group,
            "pin_attempt",
            tenant=tenant,
            extension=extension,
            device=device,
            channel=channel,
            result=result,
            retry_after=retry_after,
        )
