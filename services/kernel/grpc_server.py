"""gRPC server bootstrap: mutual TLS only, the interceptor chain (who may
call what, one error model, metrics), health checking, reflection when a
debugging switch asks for it, and a stop that first reports NOT_SERVING,
then drains in-flight calls."""

from collections.abc import Callable, Mapping

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer  # = grpc_health.v1.health.aio
from grpc_reflection.v1alpha import reflection

from services.kernel.identity import TlsMaterial, server_credentials
from services.kernel.rpc import Policy, ServerChain


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
    address: tuple[str, int],
    tls: TlsMaterial,
    register: Callable[[grpc.aio.Server], None],
    policies: Mapping[str, Policy],
    *,
    reflection_on: bool = False,
) -> GrpcServer:
    """Start a grpc.aio server; ``register`` adds the service's servicers,
    ``policies`` (full service name -> Policy) say who may call them.

    Port 0 picks a free port (tests); the bound port is ``.port``.
    """
    server = grpc.aio.server(interceptors=[ServerChain(policies)])
    register(server)
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = list(policies)
    if reflection_on:
        reflection.enable_server_reflection(
            [
                *names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            server,
        )
    host, port = address
    bound = server.add_secure_port(f"{host}:{port}", server_credentials(tls))
    await server.start()
    wrapper = GrpcServer(server, health_servicer, names, bound)
    await wrapper.set_serving(True)
    return wrapper
