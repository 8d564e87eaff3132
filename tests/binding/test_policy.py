"""When a session must end: maximum login time and daily logout time."""

import datetime as dt

import pytest

from services.binding.policy import session_expiry_ms
from services.kernel.tenants import TenantConfig


def ms(year: int, month: int, day: int, hour: int, minute: int) -> int:
    """A UTC time in ms."""
    return int(dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC).timestamp() * 1000)


def tenant(**policy: object) -> TenantConfig:
    return TenantConfig.model_validate({"id": "t", "domain": "t.example", **policy})


NOON = ms(2027, 1, 15, 12, 0)


@pytest.mark.parametrize(
    ("policy", "now", "expected"),
    [
        ({}, NOON, 0),
        ({"max_login_seconds": 3600}, NOON, NOON + 3_600_000),
        # Later today (UTC).
        ({"daily_logout": "18:30"}, NOON, ms(2027, 1, 15, 18, 30)),
        # Already passed today, or exactly now: tomorrow.
        ({"daily_logout": "06:00"}, NOON, ms(2027, 1, 16, 6, 0)),
        ({"daily_logout": "12:00"}, NOON, ms(2027, 1, 16, 12, 0)),
        # The earlier of the two.
        ({"daily_logout": "18:30", "max_login_seconds": 3600}, NOON, NOON + 3_600_000),
        ({"daily_logout": "12:30", "max_login_seconds": 3600}, NOON, ms(2027, 1, 15, 12, 30)),
        # 12:00 UTC is 21:00 in Tokyo: 20:00 there is tomorrow 11:00 UTC.
        ({"daily_logout": "20:00", "timezone": "Asia/Tokyo"}, NOON, ms(2027, 1, 16, 11, 0)),
        # Berlin springs forward on 2027-03-28: 23:00 that evening is CEST (UTC+2).
        (
            {"daily_logout": "23:00", "timezone": "Europe/Berlin"},
            ms(2027, 3, 28, 0, 30),
            ms(2027, 3, 28, 21, 0),
        ),
        # A time zone the tz database does not know falls back to UTC.
        ({"daily_logout": "18:30", "timezone": "Mars/Olympus"}, NOON, ms(2027, 1, 15, 18, 30)),
    ],
)
def test_session_expiry(policy: dict[str, object], now: int, expected: int) -> None:
    assert session_expiry_ms(tenant(**policy), now) == expected
