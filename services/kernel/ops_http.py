"""The ops HTTP server every service runs: /metrics, /healthz, /readyz."""

from collections.abc import Callable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    disable_created_metrics,
    generate_latest,
)

# The *_created series only add noise to every counter in Grafana.
disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated upstream


class Readiness:
    """``ready`` is set once a service is started and cleared on shutdown;
    ``checks`` must all hold too (say, the tenant cache has loaded)."""

    def __init__(self) -> None:
        self.ready = False
        self.checks: list[Callable[[], bool]] = []

    def __bool__(self) -> bool:
        return self.ready and all(check() for check in self.checks)


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(REGISTRY)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def ops_app(readiness: Readiness) -> web.Application:
    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        if readiness:
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "not ready"}, status=503)

    app = web.Application()
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def start_site(
    app: web.Application, host: str, port: int, *, shared: bool = False
) -> web.AppRunner:
    """Start an aiohttp app on host:port; the caller cleans the runner up.
    ``shared``: other processes may listen on the same port (SO_REUSEPORT;
    the kernel spreads new connections over them)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_address=True, reuse_port=shared).start()
    return runner
