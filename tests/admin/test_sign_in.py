"""Sign-in, sessions, CSRF and API tokens against the real admin service."""

import aiohttp

from tests.support.admin import AdminStack, browser


async def test_sign_in_sets_a_strict_http_only_cookie_and_me_answers(admin: AdminStack) -> None:
    async with browser(admin.url) as http:
        body = {"name": "gx-admin", "password": admin.passwords["gx-admin"]}
        async with http.post("/api/v1/session", json=body) as r:
            assert r.status == 200
            cookie = r.headers["Set-Cookie"]
            started = await r.json()
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "Secure" not in cookie  # plain HTTP here
        assert started["operator"] == {
            "name": "gx-admin",
            "role": "tenant_admin",
            "tenants": ["globex"],
        }
        async with http.get("/api/v1/me") as r:
            assert r.status == 200
            assert (await r.json())["name"] == "gx-admin"


async def test_a_wrong_password_is_refused_and_audited(admin: AdminStack) -> None:
    async with browser(admin.url) as http:
        async with http.post("/api/v1/session", json={"name": "root", "password": "nope"}) as r:
            assert r.status == 401
        async with http.get("/api/v1/me") as r:
            assert r.status == 401
    async with admin.signed_in("root") as root:
        page = await root.call("GET", "/api/v1/audit?event=admin_sign_in_failed", 200)
    assert [e["details"]["name"] for e in page["items"]] == ["root"]


async def test_too_many_failed_sign_ins_lock_the_name_for_the_window(admin: AdminStack) -> None:
    limit = admin.admin.settings.sign_in_failures
    async with browser(admin.url) as http:
        for _ in range(limit):
            async with http.post(
                "/api/v1/session", json={"name": "acme-help", "password": "x"}
            ) as r:
                assert r.status == 401
        body = {"name": "acme-help", "password": admin.passwords["acme-help"]}
        async with http.post("/api/v1/session", json=body) as r:
            assert r.status == 429


async def test_a_session_change_without_its_csrf_token_is_refused(admin: AdminStack) -> None:
    async with admin.signed_in("acme-admin") as console:
        no_csrf = {"X-CSRF-Token": "forged"}
        async with console.http.post("/api/v1/devices/hd3001/logout", headers=no_csrf) as r:
            assert r.status == 403
            assert "X-CSRF-Token" in (await r.json())["error"]
        async with console.http.post("/api/v1/devices/hd3001/logout") as r:
            assert r.status == 403
        # Reads need none; with the token the change goes through.
        await console.call("GET", "/api/v1/devices/hd3001", 200)
        await console.call("POST", "/api/v1/devices/hd3001/logout", 200)


async def test_sign_out_ends_the_session(admin: AdminStack) -> None:
    async with admin.signed_in("root") as console:
        await console.call("DELETE", "/api/v1/session", 204)
        await console.call("GET", "/api/v1/me", 401)


async def test_tokens_are_shown_once_listed_without_secret_and_revocable(
    admin: AdminStack,
) -> None:
    async with admin.signed_in("acme-admin") as console:
        created = await console.call("POST", "/api/v1/tokens", 201, {"label": "nightly report"})
        token, token_id = created["token"], created["info"]["id"]
        listed = await console.call("GET", "/api/v1/tokens", 200)
        assert [t["id"] for t in listed["items"]] == [token_id]
        assert token not in str(listed) and token.split("_", 2)[2] not in str(
            await admin.stack.binding.redis.hgetall(f"hd:{{_admin}}:token:{token_id}")
        )
        async with aiohttp.ClientSession(
            admin.url, headers={"Authorization": f"Bearer {token}"}
        ) as script:
            async with script.get("/api/v1/me") as r:
                assert (await r.json())["name"] == "acme-admin"
            # A token needs no CSRF token: it is not sent by a browser on its own.
            async with script.post("/api/v1/devices/hd3001/logout") as r:
                assert r.status == 200
            await console.call("DELETE", f"/api/v1/tokens/{token_id}", 204)
            async with script.get("/api/v1/me") as r:
                assert r.status == 401
        # Someone else's token is not found, even by id.
    async with admin.signed_in("gx-admin") as other:
        mine = await other.call("POST", "/api/v1/tokens", 201, {"label": "x"})
    async with admin.signed_in("acme-admin") as console:
        await console.call("DELETE", f"/api/v1/tokens/{mine['info']['id']}", 404)
