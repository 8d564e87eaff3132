"""The console's files as the admin service serves them: the security
headers on the page, script as script, nothing inline and nothing from
elsewhere."""

import re

from services.admin.app import STATIC
from tests.support.admin import AdminStack, browser

TYPES = {".html": "text/html", ".js": "javascript", ".css": "text/css", ".svg": "image/svg+xml"}


async def test_the_page_has_a_csp_without_inline_script(admin: AdminStack) -> None:
    async with browser(admin.url) as http, http.get("/") as page:
        assert page.status == 200 and page.content_type == "text/html"
        csp = page.headers["Content-Security-Policy"]
        html = await page.text()
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp and "script-src" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert re.findall(r"<script\b[^>]*>", html) == ['<script type="module" src="/static/app.js">']


async def test_every_static_file_is_served_as_what_it_is_and_names_nothing_elsewhere(
    admin: AdminStack,
) -> None:
    files = sorted(p for p in STATIC.iterdir() if p.is_file())
    assert {p.suffix for p in files} == set(TYPES)
    async with browser(admin.url) as http:
        for path in files:
            async with http.get(f"/static/{path.name}") as r:
                assert r.status == 200 and TYPES[path.suffix] in r.content_type, path.name
                text = await r.text()
            # No CDN, no inline event handlers, no inline styles.
            assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), path.name
            assert not re.search(r"<[^>]+\s(on[a-z]+|style)=", text), path.name
