"""Webhooks: endpoints that other systems (a desk-booking tool, a CRM)
register to be told of every login and logout of a tenant, or of every
tenant (a platform admin's). Kept in the admin's own keys
(``keys.admin_webhook``); the secret that signs the deliveries is shown
once at registration and stored only sealed (``kernel.secretbox``) under
the admin's webhook key.

The signature (``X-Hotdesk-Signature: v1=<hex>``) is HMAC-SHA256 with the
secret over ``<X-Hotdesk-Timestamp>.<body>``: the timestamp (Unix seconds)
as ASCII, a full stop, then the body's bytes exactly as sent.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

from services.kernel import keys
from services.kernel.clock import Clock, now_ms
from services.kernel.secretbox import SecretBox

SECRET_PREFIX = "whsec_"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Hotdesk-Signature`` value of a delivery."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def _context(webhook_id: str) -> str:
    return f"webhook:{webhook_id}"


@dataclass(frozen=True)
class Webhook:
    id: str
    url: str
    tenant: str  # "": every tenant
    operator: str  # who registered it
    created_ms: int
    last_status: int  # HTTP status of the last attempt; 0: no answer (or none yet)
    last_error: str
    last_event: str
    last_attempt_ms: int
    delivered: int
    failed: int  # events for which every attempt failed

    def wants(self, tenants: set[str]) -> bool:
        return not self.tenant or self.tenant in tenants


def _webhook(webhook_id: str, f: dict[str, str]) -> Webhook:
    return Webhook(
        id=webhook_id,
        url=f["url"],
        tenant=f.get("tenant", ""),
        operator=f.get("operator", ""),
        created_ms=int(f.get("created_ms", 0)),
        last_status=int(f.get("last_status", 0)),
        last_error=f.get("last_error", ""),
        last_event=f.get("last_event", ""),
        last_attempt_ms=int(f.get("last_attempt_ms", 0)),
        delivered=int(f.get("delivered", 0)),
        failed=int(f.get("failed", 0)),
    )


class WebhookStore:
    def __init__(self, redis: Redis, box: SecretBox | None, clock: Clock = now_ms) -> None:
        self._redis = redis
        self._box = box
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return self._box is not None

    async def create(self, url: str, tenant: str, operator: str) -> tuple[str, Webhook]:
        """A new webhook: its secret (given once) and its record."""
        assert self._box is not None, "no webhook key"
        webhook_id = secrets.token_hex(8)
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        fields = {
            "url": url,
            "tenant": tenant,
            "operator": operator,
            "created_ms": str(self._clock()),
            "secret": self._box.seal(secret, _context(webhook_id)),
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.admin_webhook(webhook_id), mapping=fields)
            pipe.sadd(keys.ADMIN_WEBHOOKS, webhook_id)
            await pipe.execute()
        return secret, _webhook(webhook_id, fields)

    async def get(self, webhook_id: str) -> Webhook | None:
        fields = await self._redis.hgetall(keys.admin_webhook(webhook_id))
        return _webhook(webhook_id, fields) if fields.get("url") else None

    async def all(self) -> list[Webhook]:
        ids = sorted(await self._redis.smembers(keys.ADMIN_WEBHOOKS))
        async with self._redis.pipeline(transaction=False) as pipe:
            for webhook_id in ids:
                pipe.hgetall(keys.admin_webhook(webhook_id))
            replies = await pipe.execute()
        return [_webhook(i, f) for i, f in zip(ids, replies, strict=True) if f.get("url")]

    async def secret(self, webhook_id: str) -> str | None:
        assert self._box is not None, "no webhook key"
        sealed = await self._redis.hget(keys.admin_webhook(webhook_id), "secret")
        return self._box.open(sealed, _context(webhook_id)) if sealed else None

    async def delete(self, webhook_id: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.admin_webhook(webhook_id))
            pipe.srem(keys.ADMIN_WEBHOOKS, webhook_id)
            await pipe.execute()

    async def record(
        self, webhook_id: str, event_id: str, status: int, error: str, *, outcome: str | None
    ) -> None:
        """An attempt's outcome; ``outcome`` ("delivered" or "failed") ends
        the event's deliveries and is counted. A removed webhook stays gone."""
        key = keys.admin_webhook(webhook_id)
        if not await self._redis.exists(key):
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "last_status": str(status),
                    "last_error": error,
                    "last_event": event_id,
                    "last_attempt_ms": str(self._clock()),
                },
            )
            if outcome is not None:
                pipe.hincrby(key, outcome, 1)
            await pipe.execute()
