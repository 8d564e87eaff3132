"""The tests' key for sealed secrets (one file per session, as a service
process reads it)."""

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from services.kernel.secretbox import SecretBox


@cache
def secrets_key_file() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="hotdesk-test-secrets-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "sip-secrets.key"
    SecretBox.new_key_file(path)
    return path


def sealing_box() -> SecretBox:
    return SecretBox.from_file(secrets_key_file(), "tests")
