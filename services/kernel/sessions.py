"""A device's session: the one reader of the session fields the binding
scripts write, and the one statement of when a session is live.

The binding's Lua scripts write a session on the device hash
(``keys.device``): ``user_tenant``, ``user_ext``, ``since_ms`` and
``expires_ms`` (0: no expiry), beside ``gen``, which every change
increases; the user hash (``keys.user``) names the ``device``. Python
readers (binding, provision, directory) decode them here; the scripts get
the same names and the same liveness rule as ``LUA``, which
``kernel.lua.register`` puts in front of every script, so neither side can
drift from the other.

A session is live until its expiry has passed: ``expires_ms`` is 0 or
later than now. An expired session still stored (the sweeper has not ended
it yet) counts as no session.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Device hash fields of a session, in the order ``FIELDS`` reads them.
USER_TENANT = "user_tenant"
USER_EXT = "user_ext"
SINCE_MS = "since_ms"
EXPIRES_MS = "expires_ms"
FIELDS = (USER_TENANT, USER_EXT, SINCE_MS, EXPIRES_MS)
GENERATION = "gen"  # device hash: increases on every change, never reset
USER_DEVICE = "device"  # user hash: the device the user is logged in at
NO_EXPIRY = 0


def is_past(expires_ms: int, now_ms: int) -> bool:
    """Whether a session with this expiry has expired at ``now_ms``."""
    return expires_ms != NO_EXPIRY and expires_ms <= now_ms


@dataclass(frozen=True)
class Session:
    """The session stored on a device, expired or not."""

    tenant: str
    extension: str
    since_ms: int
    expires_ms: int

    @property
    def user(self) -> str:
        return f"{self.tenant}/{self.extension}"

    def is_live(self, now_ms: int) -> bool:
        return not is_past(self.expires_ms, now_ms)


def decode(values: Sequence[str | None]) -> Session | None:
    """The session from the device hash's ``FIELDS`` (as HMGET returns them),
    or None when the device has none."""
    tenant, extension, since, expires = values
    if not extension:
        return None
    return Session(tenant or "", extension, int(since or 0), int(expires or NO_EXPIRY))


def of_hash(device: Mapping[str, str]) -> Session | None:
    """The session in a whole device hash (as HGETALL returns it)."""
    return decode([device.get(f) for f in FIELDS])


def live(values: Sequence[str | None], now_ms: int) -> Session | None:
    """The session from ``FIELDS`` if it is live at ``now_ms``."""
    session = decode(values)
    return session if session is not None and session.is_live(now_ms) else None


# The same names and rule for the Lua scripts (generated: one source).
LUA = f"""\
-- Generated from services/kernel/sessions.py: the session fields and rule.
local SESSION_TENANT, SESSION_EXT = '{USER_TENANT}', '{USER_EXT}'
local SESSION_SINCE, SESSION_EXPIRES = '{SINCE_MS}', '{EXPIRES_MS}'
local SESSION_GEN, USER_DEVICE = '{GENERATION}', '{USER_DEVICE}'

-- Whether a session with expiry `expires_ms` (a number) has expired at `now`.
local function is_past(expires_ms, now)
  return expires_ms ~= {NO_EXPIRY} and expires_ms <= now
end

-- The live session among HMGET's replies for {{SESSION_TENANT, SESSION_EXT,
-- SESSION_SINCE, SESSION_EXPIRES}}: {{tenant, ext, since, expires}} or nil.
local function live_session(v, now)
  if not v[2] or v[2] == '' then return nil end
  local s = {{v[1] or '', v[2], tonumber(v[3]) or 0, tonumber(v[4]) or {NO_EXPIRY}}}
  if is_past(s[4], now) then return nil end
  return s
end
"""
