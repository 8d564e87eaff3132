"""`make run`'s Redis: the primary every service uses (AOF, one ACL user
per component) and the read-only replica Kamailio reads (see
``redis_acl`` for why there are two). Their configuration files are
private (mode 600): the replica's holds the link's password."""

from dataclasses import dataclass
from pathlib import Path

from services.devstack import redis_acl


def _private(path: Path, text: str) -> None:
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)


@dataclass(frozen=True)
class RedisPair(redis_acl.LocalSecrets):
    host: str
    port: int
    replica_port: int
    data_dir: Path  # primary in redis/, replica in redis-replica/, passwords in secrets/

    def url_as(self, user: str) -> str:
        return f"redis://{user}@{self.host}:{self.port}/0"

    def prepare(self) -> tuple[Path, Path]:
        """Passwords, ACL and configuration files; the two config paths."""
        passwords = redis_acl.ensure_passwords(self.secrets)
        configs = []
        for role, folder, port, extra in (
            (
                "primary",
                "redis",
                self.port,
                [
                    "appendonly yes",
                    "appendfsync everysec",
                    'save ""',
                    # When full, writes fail loudly instead of evicting sessions.
                    "maxmemory 256mb",
                    "maxmemory-policy noeviction",
                ],
            ),
            (
                "replica",
                "redis-replica",
                self.replica_port,
                [
                    *redis_acl.replica_link(self.host, self.port),
                    redis_acl.replica_auth(passwords),
                ],
            ),
        ):
            where = (self.data_dir / folder).resolve()
            where.mkdir(parents=True, exist_ok=True)
            acl = where / "users.acl"
            _private(acl, redis_acl.acl_text(role, passwords))
            config = where / "redis.conf"
            lines = [
                f"port {port}",
                f"bind {self.host}",
                f"dir {where}",
                f"aclfile {acl}",
                *extra,
            ]
            _private(config, "\n".join(lines) + "\n")
            configs.append(config)
        return configs[0], configs[1]
