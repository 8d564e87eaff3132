"""Process lifecycle: run a service's main coroutine until SIGTERM/SIGINT."""

import asyncio
import signal
from collections.abc import Awaitable, Callable


def run_until_signal(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``main(stop)``; ``stop`` is set by SIGTERM or SIGINT, after which
    ``main`` is expected to report not-ready, drain and return."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())
