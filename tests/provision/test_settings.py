"""Provision settings that must agree with each other."""

import pytest
from pydantic import ValidationError

from services.provision.settings import ProvisionSettings


def test_screen_links_must_outlive_the_periodic_resync() -> None:
    assert ProvisionSettings().screen_token_seconds > ProvisionSettings().phone_resync_seconds
    with pytest.raises(ValidationError, match="screen_token_seconds must be longer"):
        ProvisionSettings(phone_resync_seconds=86_400, screen_token_seconds=86_400)


def test_digest_failure_limits_have_documented_defaults() -> None:
    s = ProvisionSettings()
    assert (s.digest_failures_per_mac, s.digest_failures_per_address) == (10, 50)
    assert s.digest_failure_window_seconds == 300
