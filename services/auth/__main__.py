"""``python -m services.auth``: run the auth service until SIGTERM."""

import asyncio

from services.auth.service import start_auth_service
from services.auth.settings import AuthSettings
from services.kernel.lifecycle import run_until_signal
from services.kernel.logs import configure_logging


async def main(stop: asyncio.Event) -> None:
    settings = AuthSettings()
    configure_logging(settings.log_format, settings.log_level)
    service = await start_auth_service(settings)
    await stop.wait()
    await service.stop()


run_until_signal(main)
