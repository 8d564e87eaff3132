"""HTTP digest authentication (RFC 7616, MD5, qop=auth) of phones fetching
their files: user = device id, password = the device's SIP secret.

Nonces are stateless: a timestamp signed with the service key, so any
replica accepts any replica's nonce until it is ``max_age`` old (then the
phone is told ``stale=true`` and retries without asking anyone).
"""

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from functools import lru_cache

# name=value or name="quoted \" value" (the quoted one as an unrolled loop:
# one step per run of plain characters, not per character).
_PARAM = re.compile(r'(\w+)=(?:"([^"\\]*(?:\\.[^"\\]*)*)"|([^\s,]+))')

# Nonces whose signature was checked, kept (the least recently used go).
_NONCES_REMEMBERED = 4096


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class DigestResponse:
    """The parameters of an ``Authorization: Digest ...`` header."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    qop: str
    nc: str
    cnonce: str


def parse_authorization(header: str) -> DigestResponse | None:
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    # A quoted empty value is "" (never None: every field is a string).
    params = {name.lower(): quoted or plain for name, quoted, plain in _PARAM.findall(rest)}
    try:
        return DigestResponse(
            username=params["username"],
            realm=params["realm"],
            nonce=params["nonce"],
            uri=params["uri"],
            response=params["response"].lower(),
            qop=params.get("qop", ""),
            nc=params.get("nc", ""),
            cnonce=params.get("cnonce", ""),
        )
    except KeyError:
        return None


class DigestAuth:
    def __init__(self, realm: str, key: bytes, max_age: int) -> None:
        self.realm = realm
        self._key = key
        self._max_age = max_age
        self._stamps = lru_cache(maxsize=_NONCES_REMEMBERED)(self._stamp)

    def _sign(self, stamp: str) -> str:
        return hmac.new(self._key, stamp.encode(), hashlib.sha256).hexdigest()[:32]

    def nonce(self, now: float | None = None) -> str:
        stamp = format(int(now if now is not None else time.time()), "x")
        return f"{stamp}.{self._sign(stamp)}"

    def challenge(self, stale: bool = False) -> str:
        header = f'Digest realm="{self.realm}", qop="auth", algorithm=MD5, nonce="{self.nonce()}"'
        return header + (", stale=true" if stale else "")

    def _stamp(self, nonce: str) -> int | None:
        """When this service (or a replica: same key) made ``nonce``; None
        for a nonce it did not sign. Remembered per nonce (``_stamps``): a
        nonce is shared by every challenge of its second."""
        stamp, _, signature = nonce.partition(".")
        if not hmac.compare_digest(signature, self._sign(stamp)):
            return None
        try:
            return int(stamp, 16)
        except ValueError:
            return None

    def _nonce_state(self, nonce: str, now: float) -> str:
        made = self._stamps(nonce)
        if made is None:
            return "invalid"
        age = now - made
        return "fresh" if -5 <= age <= self._max_age else "stale"

    def verify(
        self, d: DigestResponse, method: str, password: str, now: float | None = None
    ) -> str:
        """ "ok", "stale" (right credentials, old nonce) or "denied"."""
        if d.realm != self.realm:
            return "denied"
        state = self._nonce_state(d.nonce, now if now is not None else time.time())
        if state == "invalid":
            return "denied"
        ha1 = _md5(f"{d.username}:{self.realm}:{password}")
        ha2 = _md5(f"{method}:{d.uri}")
        if d.qop == "auth":
            expected = _md5(f"{ha1}:{d.nonce}:{d.nc}:{d.cnonce}:auth:{ha2}")
        elif not d.qop:
            expected = _md5(f"{ha1}:{d.nonce}:{ha2}")
        else:
            return "denied"
        if not hmac.compare_digest(expected, d.response):
            return "denied"
        return "ok" if state == "fresh" else "stale"
