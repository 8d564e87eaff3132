"""The digest credentials of a file request: the device they prove, or why
they prove none.

Whatever the username names (a device with a secret, one without, nobody),
checking it costs the same: the same Redis round trips (the caller reads
the passwords, ``devices.DeviceDirectory``) and one digest computed, against
a random password when there is none. The outcome is for logs,
metrics and the failure counters; the answer to every unauthenticated
request is the same challenge (``stale=true`` only for right credentials
with an old nonce).
"""

import secrets
from dataclasses import dataclass

from aiohttp import web

from services.provision.digest import DigestAuth, DigestResponse, parse_authorization

# Checked against when the username has no password: never matches.
_NO_PASSWORD = secrets.token_hex(32)


@dataclass(frozen=True)
class Authenticated:
    device_id: str


@dataclass(frozen=True)
class NotAuthenticated:
    # unauthorized: no credentials (a phone's first request); stale_nonce:
    # right credentials, old nonce; denied: wrong credentials; no_secret:
    # the username is a device without a SIP secret (a directory mistake).
    outcome: str
    username: str  # as the request claims it ("" without credentials)

    @property
    def failed(self) -> bool:
        """Whether this counts as a failed digest (toward the rate limits)."""
        return self.outcome in ("denied", "no_secret")


def credentials(request: web.Request) -> DigestResponse | NotAuthenticated:
    """The request's digest answer, before anything is looked up."""
    header = request.headers.get("Authorization")
    if header is None:
        return NotAuthenticated("unauthorized", "")
    answer = parse_authorization(header)
    return NotAuthenticated("denied", "") if answer is None else answer


def authenticate(
    request: web.Request, digest: DigestAuth, answer: DigestResponse, passwords: list[str] | None
) -> Authenticated | NotAuthenticated:
    """Whether ``answer`` proves its username, whose file ``passwords`` are
    these (None: no such device)."""
    # The current secret first; a replaced one while its grace lasts.
    verdicts = [digest.verify(answer, request.method, p) for p in passwords or [_NO_PASSWORD]]
    verdict = "ok" if "ok" in verdicts else "stale" if "stale" in verdicts else "denied"
    if passwords == []:
        return NotAuthenticated("no_secret", answer.username)
    # The credentials must be for this very request.
    if passwords is None or verdict == "denied" or answer.uri != request.raw_path:
        return NotAuthenticated("denied", answer.username)
    if verdict == "stale":
        return NotAuthenticated("stale_nonce", answer.username)
    return Authenticated(answer.username)
