"""A Redis Cluster on one machine: masters with one replica each, AOF on
every node and the project's ACL users on every node (``redis_acl`` role
``cluster``). `make cluster` and the tests run it; a production cluster
uses the same per-node configuration (``node_config``).

The cluster is created once (``redis-cli --cluster create``, the
administrator's password through ``REDISCLI_AUTH``, never on a command
line); later starts reuse each node's ``nodes.conf``.
"""

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from services.devstack import redis_acl

SLOTS = 16384


def node_config(
    host: str,
    port: int,
    where: Path,
    passwords: dict[str, str],
    *,
    node_timeout_ms: int,
    maxmemory: str,
) -> str:
    """One node's redis.conf (it holds the replication link's password)."""
    lines = [
        f"port {port}",
        f"bind {host}",
        f"dir {where}",
        f"aclfile {where / 'users.acl'}",
        "cluster-enabled yes",
        "cluster-config-file nodes.conf",
        # How long a master may be silent before its replica takes over.
        f"cluster-node-timeout {node_timeout_ms}",
        "appendonly yes",
        "appendfsync everysec",
        'save ""',
        # A replica links as ACL user ``replica`` once it is made one.
        "masteruser replica",
        redis_acl.replica_auth(passwords),
        f"maxmemory {maxmemory}",
        "maxmemory-policy noeviction",
    ]
    return "\n".join(lines) + "\n"


def _private(path: Path, text: str) -> None:
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)


@dataclass
class LocalRedisCluster(redis_acl.LocalSecrets):
    """``len(ports)`` nodes; the first third become masters when the
    cluster is created, each of the others a replica."""

    host: str
    ports: tuple[int, ...]
    data_dir: Path
    node_timeout_ms: int = 3000
    maxmemory: str = "256mb"
    _procs: dict[int, "subprocess.Popen[bytes]"] = field(default_factory=dict)

    def url_as(self, user: str, port: int | None = None) -> str:
        """A component's seed URL (its password in ``password_file``)."""
        return f"redis://{user}@{self.host}:{port or self.ports[0]}/0"

    def node_dir(self, port: int) -> Path:
        return (self.data_dir / f"redis-{port}").resolve()

    def prepare(self) -> list[Path]:
        """Passwords, ACL and configuration files; the config paths."""
        passwords = redis_acl.ensure_passwords(self.secrets)
        configs = []
        for port in self.ports:
            where = self.node_dir(port)
            where.mkdir(parents=True, exist_ok=True)
            _private(where / "users.acl", redis_acl.acl_text("cluster", passwords))
            config = where / "redis.conf"
            _private(
                config,
                node_config(
                    self.host,
                    port,
                    where,
                    passwords,
                    node_timeout_ms=self.node_timeout_ms,
                    maxmemory=self.maxmemory,
                ),
            )
            configs.append(config)
        return configs

    def admin(self, port: int) -> "redis.Redis":
        """A plain (non-cluster) client of one node, as the administrator."""
        return redis.Redis(
            host=self.host,
            port=port,
            password=self.password("admin"),
            decode_responses=True,
            socket_timeout=2,
            socket_connect_timeout=0.5,
        )

    def start_node(self, port: int) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed; run `make bootstrap`")
        where = self.node_dir(port)
        self._procs[port] = subprocess.Popen(
            [binary, str(where / "redis.conf"), "--logfile", str(where / "redis.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        with self.admin(port) as client:
            while True:
                try:
                    client.ping()
                    return
                except (redis.ConnectionError, redis.BusyLoadingError):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"redis node {port} did not start") from None
                    time.sleep(0.05)

    def start(self, timeout: float = 30.0) -> None:
        """Start every node; create the cluster the first time; wait until
        every slot is served."""
        self.prepare()
        for port in self.ports:
            self.start_node(port)
        with self.admin(self.ports[0]) as client:
            fresh = int(client.cluster("info")["cluster_known_nodes"]) == 1
        if fresh:
            self._create()
        self.wait_ok(timeout)

    def _create(self) -> None:
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("redis-cli is not installed; run `make bootstrap`")
        nodes = [f"{self.host}:{p}" for p in self.ports]
        env = dict(os.environ, REDISCLI_AUTH=self.password("admin"))
        subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", "1", "--cluster-yes"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def running(self) -> list[int]:
        return [p for p, proc in self._procs.items() if proc.poll() is None]

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Until every running node says the cluster is ok with every slot
        served and each master has its replica linked."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if all(self._node_ok(p) for p in self.running()):
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not become ok")
            time.sleep(0.1)

    def _node_ok(self, port: int) -> bool:
        with self.admin(port) as client:
            info = client.cluster("info")
            if info["cluster_state"] != "ok" or int(info["cluster_slots_ok"]) != SLOTS:
                return False
            role = client.info("replication")
            if role["role"] == "slave":
                return bool(role["master_link_status"] == "up")
            return True

    def master_of(self, key: str, running: tuple[int, ...] = ()) -> int:
        """The port of the master serving ``key``'s slot now, as the first of
        the nodes this object started (or of ``running``) that answers."""
        for port in running or tuple(self.running()):
            try:
                return self._master_of(key, port)
            except redis.ConnectionError:
                continue
        raise RuntimeError("no node of the Redis Cluster answers")

    def _master_of(self, key: str, port: int) -> int:
        with self.admin(port) as client:
            slot = int(client.cluster("keyslot", key))
            for start, end, master, *_ in client.execute_command("CLUSTER SLOTS"):
                if start <= slot <= end:
                    return int(master[1])
        raise RuntimeError(f"no master serves slot {slot}")

    def replica_of(self, master_port: int) -> int:
        with self.admin(master_port) as client:
            info = client.info("replication")
        return int(info["slave0"]["port"])

    def process(self, port: int) -> "subprocess.Popen[bytes]":
        return self._procs[port]

    def kill(self, port: int) -> None:
        """A node dies (SIGKILL)."""
        proc = self._procs.pop(port)
        proc.kill()
        proc.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """Every node shuts down (each flushes its AOF). A node refuses a
        SIGTERM while it writes its first AOF ("can't exit"): it is asked
        again until the deadline, then killed."""
        procs = list(self._procs.values())
        self._procs.clear()
        deadline = time.monotonic() + timeout
        while procs and time.monotonic() < deadline:
            for proc in procs:
                proc.terminate()
            time.sleep(0.2)
            procs = [p for p in procs if p.poll() is None]
        for proc in procs:
            proc.kill()
            proc.wait(timeout=5)
