"""A real redis-server for tests, on a free port, with AOF on."""

import shutil
import subprocess
import time
from pathlib import Path

import redis

from services.devstack import redis_acl
from tests.support.ports import free_port


class RedisServer:
    """Start, stop, kill and restart a redis-server keeping its data dir.

    With ``acl``: the users `make run` has (``services.devstack.redis_acl``,
    passwords in ``secrets``); ``url`` is then the administrator's (what a
    test itself connects with). ``replica()`` makes the read-only replica
    Kamailio reads, whose ``url`` is Kamailio's.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        fsync: str = "always",
        *,
        acl: bool = False,
        replica_of: "RedisServer | None" = None,
    ) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed; run `make bootstrap`")
        self.binary = binary
        self.data_dir = data_dir
        self.port = port or free_port()
        self.fsync = fsync
        self.primary = replica_of
        self.acl = acl or replica_of is not None
        self.secrets: Path = replica_of.secrets if replica_of else data_dir / "secrets"
        self.proc: subprocess.Popen[bytes] | None = None

    def replica(self, data_dir: Path) -> "RedisServer":
        assert self.acl, "a replica is Kamailio's view of an ACL-protected primary"
        return RedisServer(data_dir, replica_of=self)

    @property
    def url(self) -> str:
        if not self.acl:
            return f"redis://127.0.0.1:{self.port}/0"
        holder = "kamailio" if self.primary else "admin"
        return f"redis://:{self._password(holder)}@127.0.0.1:{self.port}/0"

    def url_as(self, user: str) -> str:
        """A component's URL (its ACL user; the password in ``password_file``)."""
        return f"redis://{user}@127.0.0.1:{self.port}/0"

    def password_file(self, holder: str) -> Path:
        return redis_acl.password_file(self.secrets, holder)

    def _password(self, holder: str) -> str:
        return self.password_file(holder).read_text().strip()

    def _role_args(self) -> list[str]:
        if not self.acl:
            return ["--appendonly", "yes", "--appendfsync", self.fsync]
        passwords = redis_acl.ensure_passwords(self.secrets)
        acl = self.data_dir / "users.acl"
        if self.primary is None:
            acl.write_text(redis_acl.acl_text("primary", passwords))
            return ["--appendonly", "yes", "--appendfsync", self.fsync, "--aclfile", str(acl)]
        acl.write_text(redis_acl.acl_text("replica", passwords))
        link = redis_acl.replica_link("127.0.0.1", self.primary.port)
        auth = redis_acl.replica_auth(passwords)
        return ["--aclfile", str(acl), *redis_acl.as_arguments([*link, auth])]

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                self.binary,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--dir", str(self.data_dir), "--save", "", "--daemonize", "no"),
                *("--logfile", str(self.data_dir / "redis.log")),
                *self._role_args(),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        while True:
            try:
                if client.ping():
                    break
            except (redis.ConnectionError, redis.BusyLoadingError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on {self.port}") from None
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        """Graceful shutdown (redis flushes the AOF)."""
        if self.proc is None:
            return
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc = None

    def kill(self) -> None:
        """Hard kill: only what the AOF already has survives."""
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc = None

    def restart(self, hard: bool = False) -> None:
        if hard:
            self.kill()
        else:
            self.stop()
        self.start()
