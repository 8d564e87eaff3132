"""The tests' keys for sealed secrets and PIN digests (one file each per
session, as a service process or the CLI reads them)."""

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from services.directory.digest import PinDigester
from services.kernel.secretbox import SecretBox


@cache
def _folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="hotdesk-test-secrets-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


@cache
def secrets_key_file() -> Path:
    path = _folder() / "sip-secrets.key"
    SecretBox.new_key_file(path)
    return path


@cache
def webhook_key_file() -> Path:
    path = _folder() / "webhook.key"
    SecretBox.new_key_file(path)
    return path


def sealing_box() -> SecretBox:
    return SecretBox.from_file(secrets_key_file(), "tests")


@cache
def pin_digest_key_file() -> Path:
    path = _folder() / "pin-digest.key"
    PinDigester.new_key_file(path)
    return path


def pin_digester() -> PinDigester:
    return PinDigester.from_file(pin_digest_key_file(), "tests")
