"""Redis ACL users, one per component, each reaching only the keys it
owns or reads (``services.kernel.keys``), with no dangerous or admin
commands.

Two Redis processes, because of two constraints:

* Kamailio's ndb_redis (5.6) can only ``AUTH <password>``, i.e. log in as
  the ``default`` user;
* Redis 7.0 replays the transactions in its AOF (MULTI/EXEC, and every
  script's effects) with the ``default`` user's permissions, and silently
  drops those it forbids (redis/redis#14541, fixed after 7.0): on the
  primary, ``default`` must be allowed everything.

So the primary's ``default`` is an administrator whose password no
component has, and Kamailio reads from a replica (no persistence of its
own: it resyncs from the primary), where ``default`` is Kamailio, read-only
on device credentials and the peers' address list.

``make run`` and the tests write both files with this; for a production
Redis: ``python -m services.devstack.redis_acl primary|replica DIR`` prints
a file for the passwords in ``DIR/redis-<name>`` (as the Secrets hold them),
and ``... replica-auth DIR`` the replica's private config line
(``masterauth``; the rest, ``replica_link``, is not secret).
"""

import hashlib
import secrets
import shlex
import sys
from pathlib import Path

from services.kernel import keys

# The admin service's Redis user.
ADMIN_USER = "admin-api"
# Everything but what can read or wipe the whole server, or reconfigure it.
_COMMANDS = "+@all -@dangerous -@admin"
# What Kamailio's route cache checks (kamailio.cfg route[HOTDESK_CACHED]):
# where the binding scripts write it, never a replica that may lag behind a
# login just answered.
_ROUTE_CHECKS = (f"%R~{keys.DIR_VERSION}", "%R~hd:{*}:routegen")
# What Kamailio reads besides: device credentials and the peers' address list.
_EDGE_READS = ("%R~hd:sip:*", "%R~hd:{dir}:peer_sources")
_EDGE_COMMANDS = ("-@all", "+hget", "+hmget", "+ping", "+select")
# The primary's users: key patterns (``%R~``: read only), then command
# rules. Group keys are ``hd:{<group>}:<kind>...``; the directory's are
# ``hd:{dir}:...``; device credentials ``hd:sip:{<domain>}:<id>``.
PRIMARY: dict[str, tuple[str, ...]] = {
    "default": ("~*", "&*", "+@all"),  # the administrator (see above)
    "binding": (
        "%R~hd:{dir}:*",
        *(
            f"~hd:{{*}}:{kind}"
            for kind in ("dev:*", "usr:*", "bound", "expiry", "events", "audit", "routegen")
        ),
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
    # The voice menu reads which tenant a device is in, the tenants'
    # settings (feature codes, language, logout policy) and who a typed
    # login names (extension, hot-desk id, DID, caller ID), and writes
    # nothing: PINs go through the auth service, sessions through the
    # binding service.
    "menu": (
        *(
            f"%R~{key}"
            for key in (
                keys.DIR_VERSION,
                keys.DIR_TENANTS,
                keys.DIR_DEVICES,
                keys.DIR_HOTDESK_IDS,
                keys.DIR_NUMBERS,
            )
        ),
        "%R~hd:{*}:users:*",
        "%R~hd:{*}:usr:*",
        "-@all",
        "+get",
        "+hget",
        "+hgetall",
        "+sismember",
        "+smembers",
        "+ping",
        "+select",
        # A Redis Cluster's map and its commands' key positions (the
        # cluster client asks for both).
        "+cluster|slots",
        "+cluster|shards",
        "+cluster|nodes",
        "+command",
    ),
    # The admin service (its Redis user is not "admin": that is who holds
    # the administrator's password, see _HOLDER) writes only its own keys
    # (operators, web sessions, API tokens, its audit stream) and appends
    # operator actions to the groups' audit trails; it reads the directory,
    # the sessions on devices and users, and the binding's event streams.
    # Every change of state it makes goes through the services' gRPC APIs.
    ADMIN_USER: (
        f"~{keys.prefix(keys.ADMIN_GROUP)}*",
        "~hd:{*}:audit",
        "%R~hd:{dir}:*",
        *(f"%R~hd:{{*}}:{kind}" for kind in ("dev:*", "usr:*", "devices:*", "users:*", "events")),
        _COMMANDS,
    ),
    # The directory import writes everything the directory owns, ends
    # sessions through the binding scripts, and scans for stale counters.
    "directory": ("~hd:*", _COMMANDS),
    # The replica's link to the primary.
    "replica": ("-@all", "+psync", "+replconf", "+ping"),
    # Kamailio, for its route cache only (it reads the rest from the
    # replica; ndb_redis with the project's patch: ``AUTH <user> <pass>``).
    "kamailio": (*_ROUTE_CHECKS, *_EDGE_COMMANDS, "+get"),
}
# The replica's one user: Kamailio.
REPLICA: dict[str, tuple[str, ...]] = {
    "default": (*_EDGE_READS, *_EDGE_COMMANDS),
}
# Every node of a Redis Cluster: the primary's users, and Kamailio as its
# own user (ndb_redis with the project's patch can ``AUTH <user> <pass>``;
# it reads the masters, since it does not send READONLY to replicas).
CLUSTER: dict[str, tuple[str, ...]] = {
    **PRIMARY,
    "kamailio": (*_ROUTE_CHECKS, *_EDGE_READS, *_EDGE_COMMANDS, "+get"),
}
_ROLES = {"primary": PRIMARY, "replica": REPLICA, "cluster": CLUSTER}
# Password file names: who holds the password.
_HOLDER = {
    ("primary", "default"): "admin",
    ("cluster", "default"): "admin",
    ("replica", "default"): "kamailio",
}
PASSWORDS = (
    "admin",
    "binding",
    "auth",
    "menu",
    "provision",
    ADMIN_USER,
    "directory",
    "replica",
    "kamailio",
)


def password_file(folder: Path, holder: str) -> Path:
    """``redis-<holder>``: a component's (``binding``, ``kamailio``, ...),
    ``admin`` for the primary's default user, ``replica`` for the link."""
    return folder / f"redis-{holder}"


class LocalSecrets:
    """The passwords of `make run`'s and `make cluster`'s Redis users, in
    ``<data_dir>/secrets`` (a class with a ``data_dir`` inherits this)."""

    data_dir: Path

    @property
    def secrets(self) -> Path:
        return self.data_dir / "secrets"

    def password_file(self, holder: str) -> Path:
        return password_file(self.secrets, holder).resolve()

    def password(self, holder: str) -> str:
        return self.password_file(holder).read_text().strip()


def ensure_passwords(folder: Path) -> dict[str, str]:
    """A random password per holder in ``folder`` (mode 600), kept if there."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    passwords = {}
    for holder in PASSWORDS:
        path = password_file(folder, holder)
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(24))
        passwords[holder] = path.read_text().strip()
    return passwords


def acl_text(role: str, passwords: dict[str, str]) -> str:
    """The ACL file of the ``primary``, the ``replica`` or a ``cluster``
    node: each user on, with its password's SHA-256 only."""
    lines = []
    for user, rules in _ROLES[role].items():
        holder = _HOLDER.get((role, user), user)
        digest = hashlib.sha256(passwords[holder].encode()).hexdigest()
        lines.append(f"user {user} on #{digest} resetkeys resetchannels {' '.join(rules)}")
    return "\n".join(lines) + "\n"


def replica_link(primary_host: str, primary_port: int) -> list[str]:
    """The replica's redis.conf lines but its password (``replica_auth``):
    no persistence of its own (it resyncs from the primary), the link as
    ACL user ``replica``, read-only."""
    return [
        "appendonly no",
        'save ""',
        f"replicaof {primary_host} {primary_port}",
        "masteruser replica",
        "replica-read-only yes",
    ]


def replica_auth(passwords: dict[str, str]) -> str:
    """The replica's private line: the link's password."""
    return f"masterauth {passwords['replica']}"


def as_arguments(lines: list[str]) -> list[str]:
    """redis.conf lines as redis-server arguments (``--name value``)."""
    arguments = []
    for line in lines:
        name, *values = shlex.split(line)
        arguments += [f"--{name}", *values]
    return arguments


def main(argv: list[str]) -> int:
    roles = ("primary", "replica", "cluster", "replica-auth")
    if len(argv) != 2 or argv[0] not in roles:
        usage = (
            "usage: python -m services.devstack.redis_acl primary|replica|cluster|replica-auth DIR"
        )
        print(usage, file=sys.stderr)
        return 2
    folder = Path(argv[1])
    passwords = {h: password_file(folder, h).read_text().strip() for h in PASSWORDS}
    if argv[0] == "replica-auth":
        sys.stdout.write(replica_auth(passwords) + "\n")
    else:
        sys.stdout.write(acl_text(argv[0], passwords))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
