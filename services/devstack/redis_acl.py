"""Redis ACL users, one per component, each reaching only the keys it
owns or reads (``services.kernel.keys``), with no dangerous or admin
commands. Kamailio is the ``default`` user: its ndb_redis (5.6) can only
``AUTH <password>``; it reads device credentials and the peers' address
list, and nothing else.

``make run`` and the tests write the ACL file with this; for a production
Redis: ``python -m services.devstack.redis_acl DIR`` prints the file for the
passwords in ``DIR/redis-<user>`` (one file per user, as the Secrets hold
them).
"""

import hashlib
import secrets
import sys
from pathlib import Path

# Everything but what can read or wipe the whole server, or reconfigure it.
_COMMANDS = "+@all -@dangerous -@admin"
# Per component: its key patterns (``%R~``: read only), then extra command
# rules. Group keys are ``hd:{<group>}:<kind>...``; the directory's are
# ``hd:{dir}:...``; device credentials ``hd:sip:{<domain>}:<id>``.
RULES: dict[str, tuple[str, ...]] = {
    "default": (
        "%R~hd:sip:*",
        "%R~hd:{dir}:peer_sources",
        "-@all +hget +hmget +ping +select +quit",
    ),
    "binding": (
        "%R~hd:{dir}:*",
        *(f"~hd:{{*}}:{kind}" for kind in ("dev:*", "usr:*", "bound", "expiry", "events")),
        "%R~hd:{*}:devices:*",
        "%R~hd:{*}:users:*",
        _COMMANDS,
    ),
    "auth": (
        "%R~hd:{dir}:*",
        *(f"~hd:{{*}}:{kind}" for kind in ("pin:*", "pinfail:*", "audit")),
        "%R~hd:{*}:dev:*",
        "%R~hd:{*}:usr:*",
        _COMMANDS,
    ),
    "provision": (
        "%R~hd:{dir}:*",
        "~hd:{dir}:provision:key",
        "%R~hd:sip:*",
        *(f"~hd:{{*}}:{kind}" for kind in ("profiles:*", "prov:*", "events")),
        "%R~hd:{*}:dev:*",
        "%R~hd:{*}:usr:*",
        "%R~hd:{*}:devices:*",
        "%R~hd:{*}:users:*",
        "~hd:provfail:*",
        _COMMANDS,
    ),
    # The directory import writes everything the directory owns, ends
    # sessions through the binding scripts, and scans for stale counters.
    "directory": ("~hd:*", _COMMANDS),
}
USERS = tuple(RULES)


def password_file(folder: Path, user: str) -> Path:
    """``redis-<component>``: Kamailio's is ``redis-kamailio`` (its user is
    ``default``), as the Secrets are named."""
    return folder / f"redis-{'kamailio' if user == 'default' else user}"


def ensure_passwords(folder: Path) -> dict[str, str]:
    """A random password per user in ``folder`` (mode 600), kept if there."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    passwords = {}
    for user in USERS:
        path = password_file(folder, user)
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(24))
        passwords[user] = path.read_text().strip()
    return passwords


def acl_text(passwords: dict[str, str]) -> str:
    """The ACL file: each user on, with its password's SHA-256 only."""
    lines = []
    for user, rules in RULES.items():
        digest = hashlib.sha256(passwords[user].encode()).hexdigest()
        lines.append(f"user {user} on #{digest} resetkeys resetchannels {' '.join(rules)}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m services.devstack.redis_acl PASSWORD_DIR", file=sys.stderr)
        return 2
    folder = Path(argv[0])
    passwords = {u: password_file(folder, u).read_text().strip() for u in USERS}
    sys.stdout.write(acl_text(passwords))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
