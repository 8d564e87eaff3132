"""Prompt audio: G.711 files made by scripts/make_prompts.sh, found first in
the tenant's own folder, then in the tenant's language, then in English."""

from pathlib import Path

from services.menu.sdp import CODECS

_SUFFIX = {0: "ul", 8: "al"}


class MissingPrompt(LookupError):
    pass


class PromptLibrary:
    def __init__(self, root: Path) -> None:
        self._root = root
        self._cache: dict[Path, bytes] = {}

    def audio(self, name: str, codec: int, tenant: str, language: str = "en") -> bytes:
        if codec not in CODECS:
            raise ValueError(f"no prompts in payload type {codec}")
        filename = f"{name}.{_SUFFIX[codec]}"
        for folder in (self._root / "tenants" / tenant, self._root / language, self._root / "en"):
            path = folder / filename
            if path in self._cache:
                return self._cache[path]
            if path.is_file():
                self._cache[path] = path.read_bytes()
                return self._cache[path]
        raise MissingPrompt(
            f"no prompt {filename} under {self._root} for tenant {tenant} (the prompts are made "
            "by scripts/make_prompts.sh, which the bootstrap runs; or set PROMPTS_DIR)"
        )

    def check(self) -> None:
        """Fail at start, not in a call, when the English prompts are missing."""
        self.audio("goodbye", 0, "")
