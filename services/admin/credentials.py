"""How a request proves which operator sent it: a web session (a cookie,
with a CSRF token for every state-changing request) or an API token
(``Authorization: Bearer``). Only SHA-256 digests of either are stored:
a copy of Redis lets nobody in."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

from services.kernel import keys
from services.kernel.clock import Clock, now_ms

TOKEN_PREFIX = "hdt_"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class WebSession:
    operator: str
    csrf: str


class WebSessions:
    def __init__(self, redis: Redis, seconds: int) -> None:
        self._redis = redis
        self.seconds = seconds

    async def start(self, operator: str) -> tuple[str, WebSession]:
        """A new session: the cookie's value (given once) and the session."""
        cookie = secrets.token_urlsafe(32)
        session = WebSession(operator, secrets.token_urlsafe(32))
        key = keys.admin_session(_digest(cookie))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"operator": operator, "csrf": session.csrf})
            pipe.expire(key, self.seconds)
            await pipe.execute()
        return cookie, session

    async def get(self, cookie: str) -> WebSession | None:
        operator, csrf = await self._redis.hmget(
            keys.admin_session(_digest(cookie)), "operator", "csrf"
        )
        return WebSession(operator, csrf) if operator and csrf else None

    async def end(self, cookie: str) -> None:
        await self._redis.delete(keys.admin_session(_digest(cookie)))


@dataclass(frozen=True)
class ApiToken:
    id: str
    operator: str
    label: str
    created_ms: int


class ApiTokens:
    """Tokens are ``hdt_<id>_<secret>``; the id names the stored record
    (listed and revoked by it), the secret is kept only as its digest."""

    def __init__(self, redis: Redis, clock: Clock = now_ms) -> None:
        self._redis = redis
        self._clock = clock

    async def create(self, operator: str, label: str) -> tuple[str, ApiToken]:
        """A new token: its full text (given once) and its record."""
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        record = ApiToken(token_id, operator, label, self._clock())
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                keys.admin_token(token_id),
                mapping={
                    "operator": operator,
                    "label": label,
                    "digest": _digest(secret),
                    "created_ms": record.created_ms,
                },
            )
            pipe.sadd(keys.ADMIN_TOKENS, token_id)
            await pipe.execute()
        return f"{TOKEN_PREFIX}{token_id}_{secret}", record

    async def operator_of(self, token: str) -> str | None:
        """Whose token this is, None if it is not a live one."""
        token_id, _, secret = token.removeprefix(TOKEN_PREFIX).partition("_")
        if not token.startswith(TOKEN_PREFIX) or not secret or not token_id.isalnum():
            return None
        operator, digest = await self._redis.hmget(keys.admin_token(token_id), "operator", "digest")
        if not operator or not digest or not hmac.compare_digest(digest, _digest(secret)):
            return None
        return str(operator)

    async def get(self, token_id: str) -> ApiToken | None:
        fields = await self._redis.hgetall(keys.admin_token(token_id)) if token_id.isalnum() else {}
        if not fields:
            return None
        return ApiToken(token_id, fields["operator"], fields["label"], int(fields["created_ms"]))

    async def list(self) -> list[ApiToken]:
        ids = sorted(await self._redis.smembers(keys.ADMIN_TOKENS))
        found = [await self.get(token_id) for token_id in ids]
        return [t for t in found if t is not None]

    async def revoke(self, token_id: str) -> bool:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.admin_token(token_id))
            pipe.srem(keys.ADMIN_TOKENS, token_id)
            deleted, _ = await pipe.execute()
        return bool(deleted)
