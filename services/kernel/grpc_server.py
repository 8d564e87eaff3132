"""gRPC server bootstrap: health checking and reflection on every server,
and a stop that first reports NOT_SERVING, then drains in-flight calls."""

from collections.abc import Callable, Iterable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer  # = grpc_health.v1.health.aio
from grpc_reflection.v1alpha import reflection


class GrpcServer:
    def __init__(
        self,
        server: grpc.aio.Server,
        health_servicer: HealthServicer,
        service_names: list[str],
        port: int,
    ) -> None:
        self.server = server
        self.port = port
        self._health = health_servicer
        self._names = service_names

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in [*self._names, ""]:
            await self._health.set(name, status)

    async def stop(self, grace: float) -> None:
        await self.set_serving(False)
        await self.server.stop(grace)


async def start_grpc_server(
    host: str,
    port: int,
    register: Callable[[grpc.aio.Server], None],
    service_names: Iterable[str],
) -> GrpcServer:
    """Start a grpc.aio server; ``register`` adds the service's servicers.

    ``port`` 0 picks a free port (tests); the bound port is ``.port``.
    """
    server = grpc.aio.server()
    register(server)
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = list(service_names)
    reflection.enable_server_reflection(
        [
            *names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    wrapper = GrpcServer(server, health_servicer, names, bound)
    await wrapper.set_serving(True)
    return wrapper
