"""The binding service as its own process."""

from pathlib import Path

from tests.support.service_process import ServiceProcess


class BindingProcess(ServiceProcess):
    def __init__(self, redis_url: str, log_file: Path) -> None:
        super().__init__("binding", redis_url, log_file, ("grpc", "http"))

    @property
    def route_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['http']}/v1/route"
