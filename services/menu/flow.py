"""What a menu call says and does: the login, 3CX-style login, logout and
log-out-from-anywhere flows, as a conversation over a ``Voice`` (prompts
out, digits in)."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Literal, Protocol

from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import binding_pb2 as pb

from services.kernel.tenants import TenantConfig
from services.menu.numbers import in_words, said

Kind = Literal["login", "logout", "logout_anywhere"]


@dataclass(frozen=True)
class Dialled:
    """Which feature code was dialled: login (with the extension when the
    code carried it, ``*77*1001*``), logout (of this phone) or
    logout_anywhere (of a user, wherever she is logged in)."""

    kind: Kind
    extension: str = ""


def dialled(tenant: TenantConfig, number: str) -> Dialled | None:
    code = tenant.feature_codes.match(number)
    if code is None:
        return None
    kind: Kind = "login" if code.feature == "login_ext" else code.feature
    return Dialled(kind, code.extension)


class Voice(Protocol):
    async def say(self, *prompts: str) -> None:
        """Play prompts one after another (a digit cuts them short)."""

    async def ask(self, *prompts: str) -> str | None:
        """Play prompts, then read digits up to ``#``; None on a timeout."""

    async def key(self, *prompts: str) -> str | None:
        """Play prompts, then read one digit; None on a timeout."""


class Actions(Protocol):
    async def ambiguous(self, typed: str) -> bool:
        """Whether what the caller keyed in as her extension is a number of
        more than one user (a DID or caller ID they share)."""

    async def verify_pin(self, extension: str, pin: str) -> apb.VerifyPinResponse: ...
    async def device(self) -> pb.DeviceState: ...
    async def login(self, extension: str, takeover: bool) -> pb.LoginResponse: ...
    async def logout(self) -> pb.LogoutResponse: ...
    async def logout_user(self, extension: str) -> pb.LogoutResponse: ...


_WRONG = (apb.PIN_RESULT_WRONG_PIN, apb.PIN_RESULT_UNKNOWN_USER, apb.PIN_RESULT_NO_PIN)
# Answers that say the extension is a user's (an unknown one gets
# UNKNOWN_USER, and LOCKED may be the device's lock): only then is it kept.
_MATCHED = (apb.PIN_RESULT_OK, apb.PIN_RESULT_WRONG_PIN, apb.PIN_RESULT_BACKOFF)


class Conversation:
    """Runs one flow; ``outcome`` says how it ended (a metric label)."""

    def __init__(self, voice: Voice, actions: Actions, tenant: TenantConfig, tries: int) -> None:
        self._voice = voice
        self._actions = actions
        self._tenant = tenant
        self._tries = tries
        self.outcome = "abandoned"
        # The extension the call was about, once it is known to be a user's
        # (what a caller types may be a PIN by mistake: never kept).
        self.extension = ""

    def _extension(self, extension: str) -> list[str]:
        """An extension as the tenant says it: as a number or digit by digit."""
        as_number = self._tenant.extensions_spoken == "number"
        return ["extension", *said(extension, self._tenant.language, as_number)]

    async def run(self, what: Dialled) -> None:
        if what.kind == "login":
            await self._login(what.extension)
        elif what.kind == "logout":
            await self._logout()
        else:
            await self._logout_anywhere()

    async def _checked_pin(self, extension: str, ask_extension: bool) -> str | None:
        """Up to ``tries`` rounds of (extension,) PIN; the extension whose
        PIN was right, or None (the outcome and what was said are set).

        A number of more than one user is not a wrong PIN: no PIN is asked
        for it (nothing reaches the auth service, so no attempt is counted)
        and the caller hears why and is asked for her extension; it still
        uses up a round, so the rounds stay bounded."""
        asking: tuple[str, ...] = ("enter_extension",)
        for _ in range(self._tries):
            if ask_extension:
                extension = await self._voice.ask(*asking) or ""
                if not extension:
                    self.outcome = "timeout"
                    return None
                if await self._actions.ambiguous(extension):
                    self.outcome = "ambiguous"
                    asking = ("ambiguous_number", "enter_extension")
                    continue
                asking = ("enter_extension",)
            pin = await self._voice.ask("enter_pin")
            if not pin:
                self.outcome = "timeout"
                return None
            checked = await self._actions.verify_pin(extension, pin)
            if checked.result in _MATCHED:
                self.extension = extension
            if checked.result == apb.PIN_RESULT_OK:
                return extension
            if checked.result == apb.PIN_RESULT_LOCKED:
                self.outcome = "locked"
                await self._voice.say("locked", "goodbye")
                return None
            if checked.result == apb.PIN_RESULT_BACKOFF or (
                checked.result in _WRONG and checked.retry_after_seconds > 0
            ):
                self.outcome = "locked"
                minutes = max(1, math.ceil(checked.retry_after_seconds / 60))
                await self._voice.say(
                    "too_many_attempts",
                    "try_again_in",
                    *in_words(min(minutes, 999_999), self._tenant.language),
                    "minute" if minutes == 1 else "minutes",
                    "goodbye",
                )
                return None
            self.outcome = "wrong_pin"
            await self._voice.say("wrong_pin")
        await self._voice.say("too_many_attempts", "goodbye")
        return None

    async def _login(self, extension: str) -> None:
        extension = await self._checked_pin(extension, ask_extension=not extension) or ""
        if not extension:
            if self.outcome == "timeout":
                await self._voice.say("no_input", "goodbye")
            return
        result = await self._actions.login(extension, takeover=False)
        if result.result == pb.LOGIN_RESULT_DEVICE_OCCUPIED:
            occupant = result.occupant.extension
            choice = await self._voice.key("in_use", *self._extension(occupant), "take_over")
            if choice != "2":
                self.outcome = "timeout" if choice is None else "abandoned"
                await self._voice.say("goodbye")
                return
            result = await self._actions.login(extension, takeover=True)
        if result.result in (pb.LOGIN_RESULT_LOGGED_IN, pb.LOGIN_RESULT_ALREADY_LOGGED_IN):
            self.outcome = "logged_in"
            await self._voice.say(*self._extension(extension), "now_logged_in", "goodbye")
            return
        self.outcome = "refused"
        if result.result == pb.LOGIN_RESULT_ACTIVE_ELSEWHERE:
            await self._voice.say("elsewhere", "goodbye")
        else:
            await self._voice.say("not_allowed", "goodbye")

    async def _logout(self) -> None:
        state = await self._actions.device()
        if not state.HasField("binding"):
            self.outcome = "refused"
            await self._voice.say("nobody_logged_in", "goodbye")
            return
        extension = state.binding.extension
        self.extension = extension
        if self._tenant.logout_asks_pin and not await self._checked_pin(
            extension, ask_extension=False
        ):
            if self.outcome == "timeout":
                await self._voice.say("no_input", "goodbye")
            return
        await self._actions.logout()
        self.outcome = "logged_out"
        await self._voice.say(*self._extension(extension), "now_logged_out", "goodbye")

    async def _logout_anywhere(self) -> None:
        """Any phone, also one nobody is logged in at: the user's extension
        and PIN (always: whoever dials may be anyone) end her session
        wherever it is."""
        extension = await self._checked_pin("", ask_extension=True) or ""
        if not extension:
            if self.outcome == "timeout":
                await self._voice.say("no_input", "goodbye")
            return
        result = await self._actions.logout_user(extension)
        if result.result != pb.LOGOUT_RESULT_LOGGED_OUT:
            self.outcome = "refused"
            await self._voice.say(*self._extension(extension), "not_logged_in", "goodbye")
            return
        self.outcome = "logged_out"
        await self._voice.say(*self._extension(extension), "now_logged_out", "goodbye")


async def converse(conversation: Conversation, what: Dialled, limit: float) -> None:
    """The flow within the call's time limit (outcome "timeout" past it)."""
    try:
        async with asyncio.timeout(limit):
            await conversation.run(what)
    except TimeoutError:
        conversation.outcome = "timeout"
