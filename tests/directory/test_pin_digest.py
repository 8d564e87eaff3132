"""PIN digests: an unchanged re-import runs no argon2, and a digest never
hides a PIN that changed (in the file, through the auth service, or under
a new key). Against a real redis-server; argon2 calls are counted."""

import logging
import os
from pathlib import Path

import pytest
from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.auth.core import AuthCore
from services.auth.pins import PinHasher
from services.directory.digest import PinDigester
from services.directory.importer import DirectoryImporter, ImportReport
from services.directory.load import load_directory, parse_directory
from services.kernel import keys
from services.kernel.errors import MissingConfiguration
from services.kernel.tenants import TenantCache
from tests.directory.support import EXAMPLE, GROUP, PINS, CountingHasher, dump, edited
from tests.support.redis_server import RedisServer
from tests.support.secrets import pin_digester, sealing_box
from tests.support.services import auth_settings


async def imported(
    redis: Redis,
    hasher: PinHasher,
    digester: PinDigester | None,
    text: str | None = None,
    *,
    dry_run: bool = False,
) -> ImportReport:
    d = load_directory(EXAMPLE) if text is None else parse_directory(text, "d.yaml")
    importer = DirectoryImporter(redis, hasher, box=sealing_box(), digester=digester)
    return await importer.apply(d, dry_run=dry_run)


async def stored_pins(redis: Redis) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    return {
        (t, e): (
            await redis.get(keys.pin(GROUP, t, e)),
            await redis.get(keys.pin_digest(GROUP, t, e)),
        )
        for t, e in PINS
    }


def other_digester() -> PinDigester:
    return PinDigester(os.urandom(32))


async def test_an_unchanged_reimport_runs_no_argon2(redis: Redis) -> None:
    hasher, digester = CountingHasher(), pin_digester()
    first = await imported(redis, hasher, digester)
    assert hasher.verifies == 0 and first.pin_verifies == 0
    for (t, e), (pin_hash, digest) in (await stored_pins(redis)).items():
        assert pin_hash is not None and hasher.verify(pin_hash, PINS[(t, e)])
        assert digest == digester.digest(t, e, PINS[(t, e)], pin_hash)
    hasher.verifies = 0
    before = await dump(redis)

    again = await imported(redis, hasher, digester)
    assert hasher.verifies == 0
    assert (again.pin_verifies, again.pin_digest_matches) == (0, len(PINS))
    assert again.unchanged and again.version == 1
    assert again.lines() == ["0 added, 0 changed, 0 removed (directory version 1)"]
    assert await dump(redis) == before


async def test_a_pin_changed_in_the_file_is_found_despite_its_digest(redis: Redis) -> None:
    hasher, digester = CountingHasher(), pin_digester()
    await imported(redis, hasher, digester)
    old_hash, old_digest = (await stored_pins(redis))[("acme", "1002")]

    report = await imported(redis, hasher, digester, edited(('pin: "8264"', 'pin: "9462"')))
    assert report.lines() == [
        "~ user acme/1002: pin changed",
        "0 added, 1 changed, 0 removed (directory version 2)",
    ]
    assert hasher.verifies == 1  # its digest differed: argon2 said "not this PIN"
    new_hash, new_digest = (await stored_pins(redis))[("acme", "1002")]
    assert new_hash is not None and new_hash != old_hash and hasher.verify(new_hash, "9462")
    assert new_digest == digester.digest("acme", "1002", "9462", new_hash) != old_digest

    hasher.verifies = 0
    assert (
        await imported(redis, hasher, digester, edited(('pin: "8264"', 'pin: "9462"')))
    ).unchanged
    assert hasher.verifies == 0


async def test_records_without_digests_are_verified_once_then_digested(redis: Redis) -> None:
    """What an import before digests wrote (or one without a key)."""
    hasher, digester = CountingHasher(), pin_digester()
    await imported(redis, hasher, None)
    assert all(digest is None for _, digest in (await stored_pins(redis)).values())
    hashes = {user: h for user, (h, _) in (await stored_pins(redis)).items()}

    dry = await imported(redis, hasher, digester, dry_run=True)
    assert dry.lines() == [
        f"would record the PIN digest of {len(PINS)} unchanged PIN(s)",
        "dry run, nothing written: 0 added, 0 changed, 0 removed",
    ]
    assert all(digest is None for _, digest in (await stored_pins(redis)).values())

    hasher.verifies = 0
    report = await imported(redis, hasher, digester)
    assert hasher.verifies == len(PINS)
    assert report.unchanged and report.version == 1  # the directory is the same
    assert report.lines() == [
        f"recorded the PIN digest of {len(PINS)} unchanged PIN(s): the next import checks "
        "them without argon2",
        "0 added, 0 changed, 0 removed (directory version 1)",
    ]
    for user, (pin_hash, digest) in (await stored_pins(redis)).items():
        assert pin_hash is not None and pin_hash == hashes[user]  # verified, not re-salted
        assert digest == digester.digest(*user, PINS[user], pin_hash)

    hasher.verifies = 0
    again = await imported(redis, hasher, digester)
    assert hasher.verifies == 0 and again.lines() == [
        "0 added, 0 changed, 0 removed (directory version 1)"
    ]


async def test_a_new_key_costs_one_verifying_import(redis: Redis) -> None:
    hasher, old_key, new_key = CountingHasher(), pin_digester(), other_digester()
    await imported(redis, hasher, old_key)
    report = await imported(redis, hasher, new_key)
    assert hasher.verifies == len(PINS) and report.unchanged
    assert len(report.plan.pin_digests) == len(PINS)
    for user, (pin_hash, digest) in (await stored_pins(redis)).items():
        assert pin_hash is not None and digest == new_key.digest(*user, PINS[user], pin_hash)
    hasher.verifies = 0
    await imported(redis, hasher, new_key)
    assert hasher.verifies == 0


async def test_without_a_key_every_pin_is_verified_and_nothing_written(redis: Redis) -> None:
    hasher = CountingHasher()
    await imported(redis, hasher, pin_digester())
    before = await dump(redis)
    report = await imported(redis, hasher, None)
    assert hasher.verifies == len(PINS) and report.unchanged
    assert await dump(redis) == before


async def test_a_pin_set_through_the_auth_service_is_not_hidden_by_the_old_digest(
    redis: Redis, redis_server: RedisServer
) -> None:
    """The file is the truth for the PINs it lists: an operator sets
    acme/1001's PIN with the auth service, and the next import of the file
    (still 4711) says it changes the PIN and puts back 4711, as it does
    without digests; the digest written for the first hash never vouches for
    the new one."""
    hasher, digester = CountingHasher(), pin_digester()
    await imported(redis, hasher, digester)
    _, old_digest = (await stored_pins(redis))[("acme", "1001")]
    tenants = TenantCache(redis)
    await tenants.refresh()

    async def no_login(req: pb.LoginRequest) -> pb.LoginResponse:
        raise AssertionError("not used")

    auth = AuthCore(redis, tenants, auth_settings(redis_server.url), no_login)
    alice = pb.UserRef(tenant="acme", extension="1001")
    await auth.set_pin(alice, "3958", "operator:test")
    set_hash, digest = (await stored_pins(redis))[("acme", "1001")]
    assert hasher.verify(set_hash or "", "3958") and digest == old_digest  # stale now
    hasher.verifies = 0

    dry = await imported(redis, hasher, digester, dry_run=True)
    assert dry.lines()[0] == "~ user acme/1001: pin changed"
    report = await imported(redis, hasher, digester)
    assert [str(s) for s in report.changed] == ["~ user acme/1001: pin changed"]
    pin_hash, digest = (await stored_pins(redis))[("acme", "1001")]
    assert pin_hash is not None and hasher.verify(pin_hash, "4711")
    assert not hasher.verify(pin_hash, "3958")
    assert digest == digester.digest("acme", "1001", "4711", pin_hash)

    # The operator sets the file's PIN again: one verification finds it
    # unchanged, and its digest is recorded.
    await auth.set_pin(alice, "4711", "operator:test")
    hasher.verifies = 0
    again = await imported(redis, hasher, digester)
    assert hasher.verifies == 1 and again.unchanged and len(again.plan.pin_digests) == 1


async def test_neither_pins_nor_digests_reach_logs_or_reports(
    redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    hasher, digester = CountingHasher(), pin_digester()
    caplog.set_level(logging.DEBUG)
    reports = [await imported(redis, hasher, None)]
    reports.append(await imported(redis, hasher, digester))
    reports.append(await imported(redis, hasher, digester, edited(('pin: "8264"', 'pin: "9462"'))))
    digests = [d for _, d in (await stored_pins(redis)).values() if d]
    assert len(digests) == len(PINS)
    # Each record as a log line shows it: its message and its fields.
    logged = [
        f"{r.getMessage()} {getattr(r, 'fields', {})}"
        for r in caplog.records
        if r.name.startswith("services.")
    ]
    shown = logged + [line for r in reports for line in r.lines()]
    assert any("directory_imported" in text for text in logged)
    for secret in (*PINS.values(), "9462", *digests, *(d.removeprefix("v1:") for d in digests)):
        assert not [text for text in shown if secret in text], secret


def test_the_digest_encodes_each_part_apart() -> None:
    """A part's end is never another's start, and each part counts."""
    d = PinDigester(bytes(range(32)))
    base = d.digest("acme", "1001", "4711", "$argon2id$x")
    assert d.digest("acm", "e1001", "4711", "$argon2id$x") != base
    assert d.digest("acme", "10014", "711", "$argon2id$x") != base
    for changed in (
        ("globex", "1001", "4711", "$argon2id$x"),
        ("acme", "1002", "4711", "$argon2id$x"),
        ("acme", "1001", "4712", "$argon2id$x"),
        ("acme", "1001", "4711", "$argon2id$y"),
    ):
        assert d.digest(*changed) != base
    assert PinDigester(bytes(32)).digest("acme", "1001", "4711", "$argon2id$x") != base
    assert "32" not in repr(d) and repr(d) == "PinDigester(key=***)"


def test_a_missing_or_malformed_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(MissingConfiguration, match="cannot read the PIN digest key"):
        PinDigester.from_file(tmp_path / "absent.key", "test")
    bad = tmp_path / "bad.key"
    bad.write_text("not hex, and secret-looking")
    with pytest.raises(MissingConfiguration, match="must be 64 hex characters") as exc:
        PinDigester.from_file(bad, "test")
    assert "secret-looking" not in str(exc.value)
    made = tmp_path / "made.key"
    PinDigester.new_key_file(made)
    assert made.stat().st_mode & 0o777 == 0o600
    assert PinDigester.from_file(made, "test").digest("a", "1", "2", "h").startswith("v1:")


GINA = """  - tenant: globex
    extension: "3002"
    name: Gina Globex
    caller_id: "+442071234002"
"""


def with_gina(*replacements: tuple[str, str]) -> str:
    """The example with a second globex user (no PIN of her own)."""
    return edited(("\ndevices:\n", "\n" + GINA + "\ndevices:\n"), *replacements)


async def test_a_company_pin_is_one_hash_its_users_share_and_its_digests_skip_argon2(
    redis: Redis, redis_server: RedisServer
) -> None:
    hasher, digester = CountingHasher(), pin_digester()
    await imported(redis, hasher, digester, with_gina())
    gus, gina = await redis.mget([keys.pin(GROUP, "globex", e) for e in ("3001", "3002")])
    assert gus is not None and gus == gina and hasher.verify(gus, "2580")
    assert await redis.get(keys.pin_digest(GROUP, "globex", "3002")) == digester.digest(
        "globex", "3002", "2580", gus
    )
    hasher.verifies = 0
    assert (await imported(redis, hasher, digester, with_gina())).unchanged
    assert hasher.verifies == 0

    # A new company PIN: every user's PIN changes, hashed once.
    report = await imported(
        redis, hasher, digester, with_gina(('company_pin: "2580"', 'company_pin: "3692"'))
    )
    assert [str(s) for s in report.changed] == [
        "~ user globex/3001: pin changed",
        "~ user globex/3002: pin changed",
    ]
    gus, gina = await redis.mget([keys.pin(GROUP, "globex", e) for e in ("3001", "3002")])
    assert gus is not None and gus == gina and hasher.verify(gus, "3692")

    # Each user logs in with it, and her wrong attempts count for her alone.
    tenants = TenantCache(redis)
    await tenants.refresh()

    async def no_login(req: pb.LoginRequest) -> pb.LoginResponse:
        raise AssertionError("not used")

    auth = AuthCore(redis, tenants, auth_settings(redis_server.url), no_login)
    ref = {e: pb.UserRef(tenant="globex", extension=e) for e in ("3001", "3002")}
    wrong = await auth.verify_pin(ref["3001"], "gx4001", "2580", "test")
    assert wrong.result == apb.PIN_RESULT_WRONG_PIN
    ok = await auth.verify_pin(ref["3002"], "gx4001", "3692", "test")
    assert ok.result == apb.PIN_RESULT_OK
    assert ok.attempts_left > wrong.attempts_left
