"""The admin service runs as its own Redis ACL user (as in make run): it
serves everything with it, and it can change no state another service
owns nor read a secret."""

from pathlib import Path

import pytest
import redis
from redis.exceptions import NoPermissionError

from services.devstack.redis_acl import ADMIN_USER
from services.kernel import keys
from tests.support.admin import admin_stack
from tests.support.redis_server import RedisServer
from tests.support.webhook_receiver import receiver

GROUP = "acme-group"


async def test_the_api_works_as_the_admin_user_and_nothing_else_is_writable(
    tmp_path: Path,
) -> None:
    server = RedisServer(tmp_path / "redis", acl=True)
    server.start()
    try:
        async with (
            admin_stack(
                server.url,
                server.url_as(ADMIN_USER),
                redis_password_file=server.password_file(ADMIN_USER),
            ) as s,
            receiver("/hook") as hook,
        ):
            async with s.with_token("acme-admin") as script:
                # Webhooks are fed and delivered as this user too.
                await script.call(
                    "POST", "/api/v1/webhooks", 201, {"url": hook.url, "tenant": "acme"}
                )
                await s.stack.login("hd3001", "1001")
                board = await script.call("GET", "/api/v1/devices?state=bound", 200)
                await script.call("POST", "/api/v1/devices/hd3001/logout", 200)
                await script.call("POST", "/api/v1/users/acme/1003/unlock", 200, {})
                trail = await script.call("GET", "/api/v1/audit", 200)
            await hook.next(2)
        assert [(d.event["type"], d.event["device"]) for d in hook.in_order()] == [
            ("login", "hd3001"),
            ("logout", "hd3001"),
        ]
        assert [d["device_id"] for d in board["items"]] == ["hd3001"]
        assert {"admin_logout", "admin_unlock", "unlock"} <= {e["event"] for e in trail["items"]}
        password = server.password_file(ADMIN_USER).read_text().strip()
        with redis.Redis(port=server.port, username=ADMIN_USER, password=password) as c:
            c.hgetall(keys.device(GROUP, "hd3001"))  # reads sessions
            with pytest.raises(NoPermissionError):
                c.hset(keys.device(GROUP, "hd3001"), "user_ext", "1002")
            with pytest.raises(NoPermissionError):
                c.get(keys.pin(GROUP, "acme", "1001"))
            with pytest.raises(NoPermissionError):
                c.xadd(keys.events(GROUP), {"type": "login"})
            with pytest.raises(NoPermissionError):
                c.hgetall(keys.sip_credentials("hotdesk.local", "hd3001"))
    finally:
        server.stop()
