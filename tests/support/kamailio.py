"""The project's kamailio.cfg run by the real Kamailio, on free ports."""

import contextlib
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.devstack.kamailio import SHM_MB, EdgeAddresses, kamailio_argv, prepare_run_dir
from services.devstack.redis_cluster import LocalRedisCluster
from tests.support.pki import credentials
from tests.support.ports import free_port
from tests.support.processes import wait_until_serving
from tests.support.redis_server import RedisServer


def free_udp_port() -> int:
    return free_port(tcp=False, udp=True)


def free_sip_port() -> int:
    """A port free for both UDP and TCP (SIP listens on both)."""
    return free_port(tcp=True, udp=True)


def free_tcp_port() -> int:
    return free_port()


def _redis_addresses(redis: RedisServer | LocalRedisCluster) -> dict[str, Any]:
    """Kamailio on a single Redis is the replica's default user (and its
    primary's user ``kamailio`` for the route cache); on a Redis Cluster the
    ACL user ``kamailio`` of every node, with two seeds."""
    if isinstance(redis, LocalRedisCluster):
        return {
            "redis_host": redis.host,
            "redis_port": redis.ports[0],
            "redis_second": f"{redis.host}:{redis.ports[1]}",
            "redis_cluster": True,
            "redis_user": "kamailio",
            "redis_password": redis.password("kamailio"),
        }
    password = redis.password_file("kamailio").read_text().strip() if redis.acl else ""
    # On a replica, the route cache's checks read its primary.
    primary = f"127.0.0.1:{redis.primary.port}" if redis.primary else None
    return {
        "redis_host": "127.0.0.1",
        "redis_port": redis.port,
        "redis_password": password,
        "route_redis": primary,
    }


class KamailioServer:
    def __init__(
        self,
        run_dir: Path,
        *,
        redis: RedisServer | LocalRedisCluster,
        binding_url: str,
        emergency_gw: str,
        pstn_gw: str,
        hotdesk: bool = True,
        timeout_ms: int = 800,
        antiflood: bool = False,
        push_from: str = "127.0.0.0/8",
        voice_menu: str | None = None,
        menu_key: Path | None = None,
        tls: bool = True,
        limits: dict[str, int] | None = None,
        dmq_port: int | None = None,
        dmq_peers: tuple[int, ...] = (),
        advertise_host: str | None = None,
        rtpengine: str | None = None,
        json_logs: bool = False,
        shm_mb: int = SHM_MB,
    ) -> None:
        """``dmq_port``: a cluster node with its DMQ socket there, and the
        other nodes' DMQ sockets on ``dmq_peers`` (all on 127.0.0.1);
        ``advertise_host``: the name its SIP sockets advertise (with their
        port); ``rtpengine``: the media relay's ng socket (udp:127.0.0.1:port)
        for voice-menu calls; ``json_logs``: Kamailio logs JSON lines with
        each message's Call-ID, as in production; ``shm_mb``: its shared
        memory."""
        binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
        if not Path(binary).exists():
            raise RuntimeError("kamailio is not installed; run `make bootstrap`")
        self.binary = binary
        self.run_dir = run_dir
        self.sip_port = free_sip_port()
        self.http_port = free_tcp_port()
        # The provision service's check-sync pushes go to this socket only.
        self.push_port = free_udp_port()
        self.tls_port = free_tcp_port()
        self.addresses = EdgeAddresses(
            sip_listen=f"udp:127.0.0.1:{self.sip_port}",
            push_listen=f"udp:127.0.0.1:{self.push_port}",
            tls_listen=f"tls:127.0.0.1:{self.tls_port}" if tls else None,
            tls=credentials("sip:edge") if tls else None,
            limits=limits or {},
            http_listen=f"tcp:127.0.0.1:{self.http_port}",
            **_redis_addresses(redis),
            binding_url=binding_url,
            emergency_gw=emergency_gw,
            pstn_gw=pstn_gw,
            binding_timeout_ms=timeout_ms,
            hotdesk=hotdesk,
            antiflood=antiflood,
            push_from=push_from,
            voice_menu=voice_menu,
            menu_key=str(menu_key) if menu_key else None,
            dmq_listen=f"udp:127.0.0.1:{dmq_port}" if dmq_port else None,
            dmq_peers=tuple(f"127.0.0.1:{p}" for p in dmq_peers),
            advertise=f"{advertise_host}:{self.sip_port}" if advertise_host else None,
            rtpengine=rtpengine,
            media_relay_ip="127.0.0.1" if rtpengine else None,
        )
        self.json_logs = json_logs
        self.shm_mb = shm_mb
        self.proc: subprocess.Popen[bytes] | None = None

    def rpc(self, *command: str) -> str:
        """An operator's RPC through the control socket (kamcmd); its
        output. kamcmd exits 0 even on an error answer: read the text."""
        socket_path = (self.run_dir / "kamailio.ctl").resolve()
        done = subprocess.run(
            ["kamcmd", "-s", f"unix:{socket_path}", *command],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return done.stdout + done.stderr

    @property
    def log(self) -> str:
        return (self.run_dir / "kamailio.log").read_text(errors="replace")

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=5) as r:
            text: str = r.read().decode()
            return text

    def _sample(self, matches: Callable[[str], bool]) -> float | None:
        """The value of the first exposed sample whose name ``matches``."""
        for line in self.metrics().splitlines():
            fields = line.split()
            if len(fields) >= 2 and matches(fields[0]):
                return float(fields[1])
        return None

    def counter(self, name: str) -> float:
        """One of kamailio.cfg's statistics (``hotdesk_..._total``)."""
        value = self._sample(lambda sample: sample.endswith(name))
        if value is None:
            raise AssertionError(f"{name} not in Kamailio's metrics")
        return value

    def gauge(self, name: str) -> float:
        """One of kamailio.cfg's gauges (``kamailio_<name>``; 0 before it is set)."""
        value = self._sample(lambda sample: sample.split("{")[0] == f"kamailio_{name}")
        return 0.0 if value is None else value

    def wait_for_peer_reload(self, after: float = 0, within: float = 10) -> None:
        """Until Kamailio has reloaded the peers' address list more than
        ``after`` times (it looks every second)."""
        deadline = time.monotonic() + within
        while self.counter("hotdesk_peer_reloads_total") <= after:
            if time.monotonic() > deadline:
                raise AssertionError(f"Kamailio did not reload the peers:\n{self.log[-3000:]}")
            time.sleep(0.1)

    def start(self) -> None:
        prepare_run_dir(self.run_dir, self.addresses)
        log = (self.run_dir / "kamailio.log").open("wb")
        # Its own process group: stop() ends every Kamailio process, also
        # when the main one hangs in its teardown and has to be killed.
        self.proc = subprocess.Popen(
            kamailio_argv(self.binary, self.run_dir, json_logs=self.json_logs, shm_mb=self.shm_mb),
            cwd=self.run_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until_serving(
            self.proc,
            f"http://127.0.0.1:{self.http_port}/metrics",
            within=15,
            what="kamailio",
            log=lambda: self.log,
        )

    def kill(self) -> None:
        """The node dies at once (SIGKILL to every Kamailio process)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        # Workers that outlive the main process.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None
