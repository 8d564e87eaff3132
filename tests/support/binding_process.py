"""The binding service as its own process."""

from pathlib import Path

from tests.support.service_process import ServiceProcess


class BindingProcess(ServiceProcess):
    def __init__(
        self, redis_url: str, log_file: Path, redis_password_file: Path | None = None
    ) -> None:
        super().__init__(
            "binding",
            redis_url,
            log_file,
            ("grpc", "http"),
            redis_password_file=redis_password_file,
        )

    @property
    def route_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['http']}/v1/route"
