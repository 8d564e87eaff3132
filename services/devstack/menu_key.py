"""The voice menu's signing key for a local run and the tests: 32 random
bytes written as 64 hex characters to a file only its owner can read. The
edge (Kamailio's ``HD_MENU_KEY_FILE``) and the voice menu
(``HOTDESK_MENU_KEY_FILE``) read the same file at start."""

import os
import secrets
from pathlib import Path


def ensure_menu_key(path: Path) -> Path:
    """The key file at ``path``, made if absent (an existing key is kept, so
    a restarted stack and its running parts agree)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
    return path
