"""A service as its own process, so a test can stop, kill and restart it
under a running Kamailio."""

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.support.pki import tls_env
from tests.support.ports import free_port
from tests.support.processes import wait_until_serving
from tests.support.secrets import secrets_key_file

ROOT = Path(__file__).resolve().parents[2]


class ServiceProcess:
    """``python -m services.<name>`` with free ports for each of ``ports``
    (``grpc``, ``http``, ``ops``: set as ``<PREFIX><PORT>_PORT``)."""

    def __init__(
        self,
        name: str,
        redis_url: str,
        log_file: Path,
        ports: tuple[str, ...],
        env: dict[str, str] | None = None,
        *,
        redis_password_file: Path | None = None,
    ) -> None:
        self.name = name
        self.prefix = f"HOTDESK_{name.upper()}_"
        self.redis_url = redis_url
        self.log_file = log_file
        self.ports = {p: free_port() for p in (*ports, "ops")}
        self.env = env or {}
        if redis_password_file is not None:
            self.env[f"{self.prefix}REDIS_PASSWORD_FILE"] = str(redis_password_file)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.ports['grpc']}"

    def start(self) -> None:
        env = os.environ | {
            f"{self.prefix}REDIS_URL": self.redis_url,
            f"{self.prefix}SHUTDOWN_GRACE_SECONDS": "1",
            **tls_env(self.prefix, f"service:{self.name}"),
            **self._secrets(),
            **{f"{self.prefix}{p.upper()}_PORT": str(n) for p, n in self.ports.items()},
            **self.env,
        }
        log = self.log_file.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.name}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until_serving(
            self.proc,
            f"http://127.0.0.1:{self.ports['ops']}/readyz",
            within=20,
            what=f"{self.name} service",
            log=self.log_file.read_text,
        )

    def _secrets(self) -> dict[str, str]:
        """The sealed SIP secrets' key, for the one service that opens them."""
        if self.name != "provision":
            return {}
        return {f"{self.prefix}SECRETS_KEY_FILE": str(secrets_key_file())}

    def metrics(self) -> dict[str, float]:
        """The service's /metrics now, sample name (with labels) -> value."""
        url = f"http://127.0.0.1:{self.ports['ops']}/metrics"
        with urllib.request.urlopen(url, timeout=5) as r:
            lines = r.read().decode().splitlines()
        samples = (line.rsplit(" ", 1) for line in lines if line and not line.startswith("#"))
        return {name: float(value) for name, value in samples}

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def stop(self) -> None:
        """SIGTERM: the service drains and stops."""
        if self.proc is None:
            return
        self.proc.terminate()
        self.proc.wait(timeout=15)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: no draining at all."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=15)
        self.proc = None
