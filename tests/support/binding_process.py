"""The binding service as its own process, so a test can stop and restart
it under a running Kamailio."""

import os
import subprocess
import sys
from pathlib import Path

from tests.support.processes import wait_until_serving
from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]


class BindingProcess:
    def __init__(self, redis_url: str, log_file: Path) -> None:
        self.redis_url = redis_url
        self.log_file = log_file
        self.grpc_port, self.http_port, self.ops_port = free_port(), free_port(), free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def route_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/v1/route"

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def start(self) -> None:
        env = os.environ | {
            "HOTDESK_BINDING_REDIS_URL": self.redis_url,
            "HOTDESK_BINDING_GRPC_PORT": str(self.grpc_port),
            "HOTDESK_BINDING_HTTP_PORT": str(self.http_port),
            "HOTDESK_BINDING_OPS_PORT": str(self.ops_port),
            "HOTDESK_BINDING_SHUTDOWN_GRACE_SECONDS": "1",
        }
        log = self.log_file.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.binding"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until_serving(
            self.proc,
            f"http://127.0.0.1:{self.ops_port}/readyz",
            within=20,
            what="binding service",
            log=self.log_file.read_text,
        )

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        self.proc.wait(timeout=15)
        self.proc = None
