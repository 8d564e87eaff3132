"""Calling the admin API (``/api/v1``) as an operator: the API token is
read from a file (``HOTDESK_CLI_ADMIN_TOKEN_FILE``, never from the command
line) and sent as ``Authorization: Bearer``; the API's refusals become
``Failure``s with the exit code they mean. What the operator may see and
do is the token's operator's: a tenant admin's token sees its tenants only.
"""

import argparse
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from services.cli.exits import Exit, Failure
from services.cli.settings import CliSettings

# The API's status -> the exit code it means.
_EXITS = {
    400: Exit.INVALID,
    401: Exit.REFUSED,
    403: Exit.REFUSED,
    404: Exit.INVALID,
    429: Exit.REFUSED,
    502: Exit.REFUSED,
    503: Exit.UNAVAILABLE,
}


def segment(value: str) -> str:
    """A value as one path segment."""
    return quote(value, safe="")


@dataclass(frozen=True)
class AdminApi:
    http: aiohttp.ClientSession
    url: str

    async def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """The answer's JSON (None for 204); a Failure for any refusal."""
        try:
            async with self.http.request(
                method, f"{self.url}/api/v1{path}", json=body, params=params
            ) as r:
                if r.status == 204:
                    return None
                data = await r.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise Failure(
                f"the admin API at {self.url} is unavailable: {exc or type(exc).__name__}",
                Exit.UNAVAILABLE,
            ) from exc
        if r.status >= 400:
            message = data.get("error", r.reason) if isinstance(data, dict) else r.reason
            raise Failure(f"admin API: {message}", _EXITS.get(r.status, Exit.REFUSED))
        return data


async def user_path(api: AdminApi, args: argparse.Namespace) -> str:
    """The API path of the user the arguments name (``/users/T/E``); a
    ``--hotdesk-id`` is looked up among the operator's users."""
    if not args.hotdesk_id:
        return f"/users/{segment(args.tenant)}/{segment(args.ext)}"
    page = await api.call("GET", "/users", params={"hotdesk_id": args.hotdesk_id})
    if not page["items"]:
        raise Failure(f"no such user: {args.hotdesk_id}", Exit.INVALID)
    user = page["items"][0]
    return f"/users/{segment(user['tenant'])}/{segment(user['extension'])}"


def _token(settings: CliSettings) -> str:
    path = settings.admin_token_file
    if path is None:
        raise Failure("no admin API token: set HOTDESK_CLI_ADMIN_TOKEN_FILE", Exit.INVALID)
    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise Failure(f"no admin API token: cannot read {path}: {exc}", Exit.INVALID) from exc
    if not token:
        raise Failure(f"no admin API token: {path} is empty", Exit.INVALID)
    return token


@asynccontextmanager
async def admin_api(settings: CliSettings) -> AsyncIterator[AdminApi]:
    headers = {"Authorization": f"Bearer {_token(settings)}"}
    timeout = aiohttp.ClientTimeout(total=settings.timeout_seconds)
    tls = (
        ssl.create_default_context(cafile=str(settings.admin_ca_file))
        if settings.admin_ca_file
        else True
    )
    connector = aiohttp.TCPConnector(ssl=tls)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout, connector=connector) as http:
        yield AdminApi(http, settings.admin_url.rstrip("/"))
