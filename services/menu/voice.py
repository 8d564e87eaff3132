"""``Voice`` over a call's media: prompts from the library in the call's
codec and the tenant's language, digits from RFC 4733 or SIP INFO."""

import asyncio
import contextlib

from services.menu.prompts import PromptLibrary
from services.menu.rtp import MediaSession


class CallVoice:
    def __init__(
        self,
        media: MediaSession,
        prompts: PromptLibrary,
        tenant: str,
        language: str,
        first_digit: float,
        inter_digit: float,
    ) -> None:
        self.digits: asyncio.Queue[str] = asyncio.Queue()
        self._media = media
        self._prompts = prompts
        self._tenant = tenant
        self._language = language
        self._first_digit = first_digit
        self._inter_digit = inter_digit

    def digit(self, digit: str) -> None:
        self.digits.put_nowait(digit)

    async def say(self, *prompts: str) -> None:
        codec = self._media.offer.codec if self._media.offer else 0
        for name in prompts:
            audio = self._prompts.audio(name, codec, self._tenant, self._language)
            if not await self._media.play(audio, interrupted=lambda: not self.digits.empty()):
                return

    async def _next(self, within: float) -> str | None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                return await self.digits.get()
        return None

    async def ask(self, *prompts: str) -> str | None:
        await self.say(*prompts)
        typed = ""
        wait = self._first_digit
        while (digit := await self._next(wait)) is not None:
            if digit == "#":
                return typed or None
            typed += digit
            wait = self._inter_digit
        return None

    async def key(self, *prompts: str) -> str | None:
        await self.say(*prompts)
        return await self._next(self._first_digit)
