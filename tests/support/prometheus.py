"""A real Prometheus (Debian's package) for tests, on a free loopback port,
scraping the given targets every second."""

import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from services.devstack.prometheus import prometheus_argv, scrape_config
from services.monitoring.prometheus_api import PrometheusAPI
from tests.support.ports import free_port
from tests.support.processes import wait_until_serving


class PrometheusServer(PrometheusAPI):
    def __init__(self, run_dir: Path, targets: Mapping[str, Sequence[str]]) -> None:
        self.run_dir = run_dir
        self.targets = targets
        self.port = free_port()
        super().__init__(f"http://127.0.0.1:{self.port}")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config = self.run_dir / "prometheus.yml"
        config.write_text(scrape_config(self.targets, interval="1s"))
        argv = prometheus_argv(config, self.run_dir / "data", f"127.0.0.1:{self.port}")
        with (self.run_dir / "prometheus.log").open("wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        wait_until_serving(
            self.proc,
            f"{self.url}/-/ready",
            within=20,
            what="prometheus",
            log=lambda: (self.run_dir / "prometheus.log").read_text(errors="replace"),
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None

    def wait_for_targets(self, within: float = 30) -> None:
        """Until every target is up and its first samples can be queried
        (target discovery alone waits about 5 s)."""
        wanted = sum(len(addresses) for addresses in self.targets.values())
        deadline = time.monotonic() + within
        while True:
            up = self.api("query", query="up == 1")["result"]
            if len(up) == wanted:
                return
            assert time.monotonic() < deadline, f"targets not all up: {self.api('targets')}"
            time.sleep(0.5)
