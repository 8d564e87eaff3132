"""The binding service as its own process."""

from pathlib import Path

from tests.support.service_process import ServiceProcess


class BindingProcess(ServiceProcess):
    def __init__(
        self,
        redis_url: str,
        log_file: Path,
        redis_password_file: Path | None = None,
        *,
        sharing_with: "BindingProcess | None" = None,
    ) -> None:
        """``sharing_with``: a replica of that process, on its lookup and
        gRPC ports (its own ops port)."""
        super().__init__(
            "binding",
            redis_url,
            log_file,
            ("grpc", "http"),
            {"HOTDESK_BINDING_SHARED_PORTS": "true"} if sharing_with else None,
            redis_password_file=redis_password_file,
        )
        if sharing_with is not None:
            sharing_with.env["HOTDESK_BINDING_SHARED_PORTS"] = "true"
            self.ports["grpc"] = sharing_with.ports["grpc"]
            self.ports["http"] = sharing_with.ports["http"]

    @property
    def route_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['http']}/v1/route"
