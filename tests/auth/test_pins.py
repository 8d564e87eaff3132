import hashlib

import pytest

from services.auth.credentials import credential_fields, sip_ha1
from services.auth.pins import PinHasher, pin_policy_violation
from services.kernel.secretbox import SealError, sip_secret_context
from tests.support.secrets import sealing_box


@pytest.mark.parametrize(
    ("pin", "why"),
    [
        ("123", "4 to 12 digits"),
        ("1234567890123", "4 to 12 digits"),
        ("12a4", "digits only"),
        ("\uff11\uff12\uff13\uff14", "digits only"),
        ("7777", "repeat"),
        ("1234", "consecutive"),
        ("9876", "consecutive"),
        ("8901", "consecutive"),
        ("2001", "own extension"),
    ],
)
def test_policy_rejects(pin: str, why: str) -> None:
    violation = pin_policy_violation(pin, extension="2001")
    assert violation is not None and why in violation


@pytest.mark.parametrize("pin", ["4711", "1357", "90210", "314159265358"])
def test_policy_accepts(pin: str) -> None:
    assert pin_policy_violation(pin, extension="2001") is None


def test_hash_is_argon2id_and_verifies() -> None:
    hasher = PinHasher(time_cost=1, memory_cost_kib=8192, parallelism=1)
    stored = hasher.hash("4711")
    assert stored.startswith("$argon2id$")
    assert "4711" not in stored
    assert hasher.verify(stored, "4711")
    assert not hasher.verify(stored, "4712")
    assert not hasher.verify("not-a-hash", "4711")


def test_ha1_matches_rfc2617_example() -> None:
    # RFC 2617 section 3.5: Mufasa / testrealm@host.com / Circle Of Life
    assert sip_ha1("Mufasa", "testrealm@host.com", "Circle Of Life") == (
        "939e7578ed9e3c518a452acee763bce9"
    )


def test_credential_fields_use_the_domain_as_realm_and_seal_the_secret() -> None:
    box = sealing_box()
    fields = credential_fields("hd3001", "acme.example", "s3cret", box)

    def md5(text: str) -> str:
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

    sealed = fields.pop("secret_sealed")
    assert fields == {
        "ha1": md5("hd3001:acme.example:s3cret"),
        "ha1b": md5("hd3001@acme.example:acme.example:s3cret"),
    }
    assert "s3cret" not in sealed
    assert box.open(sealed, sip_secret_context("acme.example", "hd3001")) == "s3cret"
    # Bound to its device: a copy under another device's name does not open.
    with pytest.raises(SealError):
        box.open(sealed, sip_secret_context("acme.example", "hd3002"))
