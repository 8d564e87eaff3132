"""``python -m services.binding``: run the binding service until SIGTERM."""

import asyncio

from services.binding.service import start_binding_service
from services.binding.settings import BindingSettings
from services.kernel.lifecycle import run_until_signal
from services.kernel.logs import configure_logging


async def main(stop: asyncio.Event) -> None:
    settings = BindingSettings()
    configure_logging(settings.log_format, settings.log_level)
    service = await start_binding_service(settings)
    await stop.wait()
    await service.stop()


run_until_signal(main)
